// A consumer's program: the public targets it takes through @pmem2, each used once: @pmem2//pmem2 (an anonymous map
// and a copy through its functions), @pmem2//pmem2/uring (a file's persist through the engine, linked with the
// consumer's own liburing: third_party/liburing), @pmem2//pmem2/c (the C ABI).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "libpmem2.h"  // @pmem2//pmem2/c, through its `includes`
#include "pmem2/pmem2.h"
#include "pmem2/uring/async_persister.h"

#ifndef PMEM2_CONSUMER_OWN_LIBURING
#error "@pmem2//pmem2/uring did not link the consumer's own @liburing (third_party/liburing, declared in WORKSPACE)"
#endif

namespace {

int Fail(const char* what, const std::string& why) {
  std::fprintf(stderr, "consumer: %s: %s\n", what, why.c_str());
  return 1;
}

}  // namespace

int main() {
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kByte);
  absl::StatusOr<pmem2::Source> source = pmem2::Source::Anonymous(1 << 20);
  if (!source.ok()) return Fail("anonymous source", source.status().ToString());
  absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *source);
  if (!map.ok()) return Fail("anonymous map", map.status().ToString());
  map->memcpy_fn()(map->address(), "consumer", 9, 0);
  if (std::strcmp(static_cast<const char*>(map->address()), "consumer") != 0) return Fail("copy", "bytes differ");

  // A file's bytes made durable by the io_uring engine (or its synchronous fallback).
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string path = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/pmem2-consumer.XXXXXX";
  const int fd = mkstemp(&path[0]);
  if (fd < 0) return Fail(path.c_str(), std::strerror(errno));
  unlink(path.c_str());
  if (ftruncate(fd, 4096) != 0) return Fail("ftruncate", std::strerror(errno));
  pmem2::Config file_config;
  file_config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  absl::StatusOr<pmem2::Source> file = pmem2::Source::FromFd(fd);
  absl::StatusOr<pmem2::Map> file_map = file.ok() ? pmem2::Map::Create(file_config, *file) : file.status();
  if (!file_map.ok()) return Fail("file map", file_map.status().ToString());
  {
    absl::StatusOr<pmem2::AsyncPersister> persister = pmem2::AsyncPersister::Create(*file_map, *file);
    if (!persister.ok()) return Fail("AsyncPersister::Create", persister.status().ToString());
    std::memcpy(file_map->address(), "durable", 8);
    pmem2::Completion done;
    if (absl::Status s = persister->Persist(file_map->address(), 8, &done); !s.ok())
      return Fail("Persist", s.ToString());
    if (absl::Status s = persister->Wait(done); !s.ok()) return Fail("Wait", s.ToString());
  }
  close(fd);

  // The C ABI.
  struct pmem2_config* c_config = nullptr;
  if (pmem2_config_new(&c_config) != 0) return Fail("pmem2_config_new", pmem2_errormsg());
  if (pmem2_config_set_required_store_granularity(c_config, PMEM2_GRANULARITY_PAGE) != 0) {
    return Fail("pmem2_config_set_required_store_granularity", pmem2_errormsg());
  }
  pmem2_config_delete(&c_config);

  std::printf(
      "consumer ok: mapped %zu bytes at byte granularity through @pmem2//pmem2, persisted a file through "
      "@pmem2//pmem2/uring, configured through @pmem2//pmem2/c\n",
      map->size());
  return 0;
}
