// Copyright 2026 The pmem2 Authors.
//
// Test-only (libpmem_secure_env_test): maps the file named by its argument under whatever environment it was started
// with, and prints "AT_SECURE address is_pmem": whether the kernel ran it as a secure program (set-user-ID,
// set-group-ID), where the mapping went and whether it is persistent memory. The second argument says through what:
//   libpmem  (the default) pmem_map_file (2 MiB, created); PMEM_LOG_LEVEL=3 logs the call, to PMEM_LOG_FILE;
//   libpmem2 pmem2_map_new (the file made 2 MiB; page granularity required; is_pmem: the map's granularity is not
//            page), which checks PMEM2_PERSIST_FAILURE;
//   uring    an AsyncPersister of a page-granularity Map of the file (address and is_pmem 0), which checks
//            PMEM2_NO_IO_URING.
// Exits 3 when the call refuses (an invalid variable), 4 when the file cannot be made.

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "pmem2/c/libpmem.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/pmem2.h"
#include "pmem2/uring/async_persister.h"

// LeakSanitizer (the asan-ubsan build) cannot stop the threads of a program that is not dumpable, as a set-group-ID
// one is, and fails its exit: off (a secure program's environment may not be read for it).
extern "C" const char* __lsan_default_options() { return "detect_leaks=0"; }

namespace {

constexpr size_t kLength = 2 << 20;

int ThroughLibpmem(const char* path) {
  size_t length = 0;
  int is_pmem = 0;
  void* address = pmem_map_file(path, kLength, PMEM_FILE_CREATE, 0600, &length, &is_pmem);
  if (address == nullptr) {
    fprintf(stderr, "pmem_map_file: %s\n", pmem_errormsg());
    return 3;
  }
  printf("%lu %p %d\n", getauxval(AT_SECURE), address, is_pmem);
  fflush(stdout);
  pmem_unmap(address, length);
  return 0;
}

int OpenSized(const char* path) {
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, kLength) != 0) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    return -1;
  }
  return fd;
}

int ThroughLibpmem2(const char* path) {
  const int fd = OpenSized(path);
  if (fd < 0) return 4;
  pmem2_config* config = nullptr;
  pmem2_source* source = nullptr;
  pmem2_map* map = nullptr;
  int result = pmem2_config_new(&config);
  if (result == 0) result = pmem2_config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE);
  if (result == 0) result = pmem2_source_from_fd(&source, fd);
  if (result == 0) result = pmem2_map_new(&map, config, source);
  if (result != 0) {
    fprintf(stderr, "pmem2: %s\n", pmem2_errormsg());
  } else {
    printf("%lu %p %d\n", getauxval(AT_SECURE), pmem2_map_get_address(map),
           pmem2_map_get_store_granularity(map) != PMEM2_GRANULARITY_PAGE);
    fflush(stdout);
    pmem2_map_delete(&map);
  }
  pmem2_source_delete(&source);
  pmem2_config_delete(&config);
  close(fd);
  return result == 0 ? 0 : 3;
}

int ThroughAsyncPersister(const char* path) {
  const int fd = OpenSized(path);
  if (fd < 0) return 4;
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  absl::StatusOr<pmem2::Map> map = source.ok() ? pmem2::Map::Create(config, *source) : source.status();
  absl::StatusOr<pmem2::AsyncPersister> persister =
      map.ok() ? pmem2::AsyncPersister::Create(*map, *source) : map.status();
  close(fd);
  if (!persister.ok()) {
    fprintf(stderr, "%s\n", persister.status().ToString().c_str());
    return 3;
  }
  printf("%lu 0 0\n", getauxval(AT_SECURE));
  fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* through = argc == 3 ? argv[2] : "libpmem";
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: %s FILE [libpmem|libpmem2|uring]\n", argv[0]);
    return 2;
  }
  if (strcmp(through, "libpmem") == 0) return ThroughLibpmem(argv[1]);
  if (strcmp(through, "libpmem2") == 0) return ThroughLibpmem2(argv[1]);
  if (strcmp(through, "uring") == 0) return ThroughAsyncPersister(argv[1]);
  fprintf(stderr, "%s: not libpmem, libpmem2 or uring\n", through);
  return 2;
}
