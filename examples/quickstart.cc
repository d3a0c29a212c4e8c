// Copyright 2026 The pmem2 Authors.
//
// The README's usage example: map a new file and store a greeting durably.
//
//   bazel run //examples:quickstart -- /tmp/greeting
//
// The file must not exist yet: the greeting goes to its first bytes, which an existing file's owner may want.

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "pmem2/pmem2.h"

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "/tmp/pmem2-quickstart";
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0644);
  if (fd < 0 && errno == EEXIST) {
    return std::fprintf(stderr, "%s: exists; give a path that does not (quickstart writes at its start)\n", path), 1;
  }
  if (fd < 0) return perror(path), 1;
  // Until the greeting is durable the file is this run's to remove: a failed run leaves nothing the next would refuse.
  // The removal is synced in the folder, as the creation is below: else a crash after the failed run could bring the
  // file back. (A crash during the run, before the removal is synced, can still leave it.)
  struct RemovedUnlessKept {
    const char* path;
    bool keep = false;
    ~RemovedUnlessKept() {
      if (keep || unlink(path) != 0) return;
      std::string folder = path;
      const int dir = open(dirname(folder.data()), O_RDONLY | O_DIRECTORY);
      if (dir < 0) return;
      (void)!fsync(dir);  // best effort: the run is failing already
      close(dir);
    }
  } created{path};
  if (ftruncate(fd, 1 << 20) != 0) return perror(path), 1;
  // A new file's name is durable once its folder is synced (the data below once the Memcpy says OK).
  std::string folder = path;
  const int dir = open(dirname(folder.data()), O_RDONLY | O_DIRECTORY);
  if (dir < 0 || fsync(dir) != 0) return perror("the file's folder"), 1;
  close(dir);

  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);  // any medium
  config.set_fully_allocated(true);  // a full disk fails here, not with SIGBUS at the first store
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  absl::StatusOr<pmem2::Map> map = source.ok() ? pmem2::Map::Create(config, *source) : source.status();
  close(fd);  // the mapping stays valid
  if (!map.ok()) return std::fprintf(stderr, "%s: %s\n", path, map.status().ToString().c_str()), 1;

  const char greeting[] = "hello, persistent world";
  // Copied and made durable; the Status says whether the write-back really succeeded.
  if (absl::Status s = map->Memcpy(map->address(), greeting, sizeof greeting); !s.ok()) {
    return std::fprintf(stderr, "%s: %s\n", path, s.ToString().c_str()), 1;
  }
  created.keep = true;
  std::printf("%s: wrote \"%s\" at %s granularity\n", path, static_cast<const char*>(map->address()),
              std::string(pmem2::StoreGranularityName(map->store_granularity())).c_str());
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return perror("standard output"), 1;
  return 0;
}
