// Copyright 2026 The pmem2 Authors.
//
// What a shared writable Map of a file adds to fork(): a forked child maps such Maps again through a file
// description of its own before fork() returns there (map_registry.h, ChildReopenHandle), and first reads
// /proc/self/maps to learn which parts of them are still theirs, so the cost grows with the process's mappings.
// Each iteration forks a child that exits at once, and waits for it. Arguments: how many other mappings the
// process has (pages of an anonymous region, protections alternating, so that each is a mapping of its own),
// whether one Map of a one-page /dev/shm file is live (0: none; 1: a Map of an unnamed file, which keeps an O_PATH
// handle the child opens; 2: a Map of a named file that keeps its path instead, as libpmem's pmem_map_file mappings
// do, map_registry.h RemapInChildThroughPath: the child looks the path up, and a second look at /proc/self/maps names
// its probe), and whether the child may ask /proc/self/maps about the Map's range (PROCMAP_QUERY, Linux 6.11;
// elsewhere it reads all of it either way) or must read all of it. Run pinned, optimized:
//
//   bazel run -c opt --run_under='taskset -c 1' //pmem2/map:fork_benchmark --
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/cleanup/cleanup.h"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "pmem2/config/config.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/source/source.h"

namespace pmem2 {
namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// `count` mappings of one page each, for the scope.
class OtherMappings {
 public:
  explicit OtherMappings(size_t count) : length_(count * kPage) {
    if (count == 0) return;
    base_ = static_cast<char*>(mmap(nullptr, length_, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (base_ == MAP_FAILED) {
      std::perror("mmap");
      std::exit(1);
    }
    for (size_t page = 1; page < count; page += 2) mprotect(base_ + page * kPage, kPage, PROT_NONE);
  }
  ~OtherMappings() {
    if (base_ != nullptr) munmap(base_, length_);
  }
  OtherMappings(const OtherMappings&) = delete;
  OtherMappings& operator=(const OtherMappings&) = delete;

 private:
  char* base_ = nullptr;
  size_t length_;
};

absl::StatusOr<Map> MapFile(int fd) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return source.status();
  return Map::Create(config, *source);
}

void BM_ForkAndWait(benchmark::State& state) {
  OtherMappings others(static_cast<size_t>(state.range(0)));
  const bool by_path = state.range(1) == 2;
  char name[] = "/dev/shm/pmem2_fork_benchmark.XXXXXX";
  const int fd = by_path ? mkstemp(name) : open("/dev/shm", O_TMPFILE | O_RDWR, 0600);
  const auto close_and_remove = absl::MakeCleanup([&] {
    if (fd >= 0) close(fd);
    if (fd >= 0 && by_path) unlink(name);
  });
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(kPage)) != 0) {
    state.SkipWithError("cannot make a file on /dev/shm");
    return;
  }
  absl::StatusOr<Map> map = absl::UnavailableError("no Map");
  if (state.range(1) != 0) {
    map = MapFile(fd);
    if (!map.ok()) {
      state.SkipWithError(map.status().ToString().c_str());
      return;
    }
    if (by_path) map_internal::RemapInChildThroughPathForCApi(*map, fd);
  }
  map_internal::UseProcmapQueryInChildForTest(state.range(2) != 0);
  for (auto _ : state) {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) != child) {
      state.SkipWithError("fork or waitpid failed");
      break;
    }
  }
  map_internal::UseProcmapQueryInChildForTest(true);
  map = absl::UnavailableError("unmapped");
}
BENCHMARK(BM_ForkAndWait)
    ->ArgNames({"other_mappings", "map", "query"})
    ->Args({0, 0, 1})
    ->Args({1000, 0, 1})
    ->Args({10000, 0, 1})
    ->ArgsProduct({{0, 1000, 10000}, {1, 2}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pmem2

BENCHMARK_MAIN();
