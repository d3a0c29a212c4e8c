// Copyright 2026 The pmem2 Authors.
//
// The setup path: Map::Create and the Map's destruction, of a shared page-granularity Map of a file on /dev/shm
// (what a program that maps per request, or a test suite, pays), and Map::FromExisting of a shared mapping. Each
// iteration makes one Map and destroys it. Argument: the Map's length in pages. Run pinned, optimized:
//
//   bazel run -c opt --run_under='taskset -c 1' //pmem2/map:map_benchmark --
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "pmem2/config/config.h"
#include "pmem2/map/map.h"
#include "pmem2/source/source.h"

namespace pmem2 {
namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// An unnamed /dev/shm file of `pages` pages, closed when the benchmark ends.
class UnnamedFile {
 public:
  explicit UnnamedFile(size_t pages) : fd_(open("/dev/shm", O_TMPFILE | O_RDWR, 0600)) {
    if (fd_ >= 0 && ftruncate(fd_, static_cast<off_t>(pages * kPage)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~UnnamedFile() {
    if (fd_ >= 0) close(fd_);
  }
  UnnamedFile(const UnnamedFile&) = delete;
  UnnamedFile& operator=(const UnnamedFile&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

void BM_CreateAndDestroy(benchmark::State& state) {
  const size_t pages = static_cast<size_t>(state.range(0));
  UnnamedFile file(pages);
  absl::StatusOr<Source> source = Source::FromFd(file.fd());
  if (!source.ok()) {
    state.SkipWithError(source.status().ToString().c_str());
    return;
  }
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  for (auto _ : state) {
    absl::StatusOr<Map> map = Map::Create(config, *source);
    if (!map.ok()) {
      state.SkipWithError(map.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(map->address());
  }
}
BENCHMARK(BM_CreateAndDestroy)->ArgName("pages")->Arg(1)->Arg(512)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_FromExistingAndDestroy(benchmark::State& state) {
  const size_t pages = static_cast<size_t>(state.range(0));
  UnnamedFile file(pages);
  absl::StatusOr<Source> source = Source::FromFd(file.fd());
  if (!source.ok()) {
    state.SkipWithError(source.status().ToString().c_str());
    return;
  }
  void* mapping = mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, file.fd(), 0);
  if (mapping == MAP_FAILED) {
    state.SkipWithError("cannot map the file on /dev/shm");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<Map> map = Map::FromExisting(*source, mapping, pages * kPage, StoreGranularity::kPage);
    if (!map.ok()) {
      state.SkipWithError(map.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(map->address());
  }
  munmap(mapping, pages * kPage);
}
BENCHMARK(BM_FromExistingAndDestroy)->ArgName("pages")->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace pmem2

BENCHMARK_MAIN();
