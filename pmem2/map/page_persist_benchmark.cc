// Copyright 2026 The pmem2 Authors.
//
// What a page-granularity mapping's functions cost over the system call they end with: persist_fn and memcpy_fn
// (default flags, temporal, non-temporal, or the copy alone) against a bare msync and glibc's memcpy + msync, on
// the first pages of a tmpfs file written again and again (the hot rows of tools/bench's page lane, where msync is
// cheapest and pmem2's own work shows most). The file is an unnamed one on /dev/shm. Run pinned, optimized:
//
//   bazel run -c opt --run_under='taskset -c 1' //pmem2/map:page_persist_benchmark --
//       --benchmark_repetitions=7 --benchmark_report_aggregates_only=true
//
// What these rows found: tools/bench/results/intel-6-167.md ("The end of a sync without a fence") and
// tools/bench/results/amd-26-2.md ("A page persist's pages").

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "pmem2/config/config.h"
#include "pmem2/map/map.h"
#include "pmem2/persist_fns.h"
#include "pmem2/source/source.h"

namespace pmem2 {
namespace {

constexpr size_t kFileSize = size_t{1} << 20;

// One page-granularity mapping of an unnamed file in kDir, for the whole run.
struct PageMapping {
  int fd = -1;
  Map map;
};

constexpr char kDir[] = "/dev/shm";

PageMapping& Mapping() {
  static PageMapping* mapping = [] {
    const int fd = open(kDir, O_TMPFILE | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, kFileSize) != 0) {
      std::perror(kDir);
      std::exit(1);
    }
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    absl::StatusOr<Source> source = Source::FromFd(fd);
    absl::StatusOr<Map> map = source.ok() ? Map::Create(config, *source) : source.status();
    if (!map.ok()) {
      std::fprintf(stderr, "%s: %s\n", kDir, std::string(map.status().message()).c_str());
      std::exit(1);
    }
    if (map->store_granularity() != StoreGranularity::kPage) {
      std::fprintf(stderr, "%s: not page granularity (PMEM2_FORCE_GRANULARITY?)\n", kDir);
      std::exit(1);
    }
    std::memset(map->address(), 1, kFileSize);
    return new PageMapping{fd, std::move(*map)};
  }();
  return *mapping;
}

char* Destination() { return static_cast<char*>(Mapping().map.address()); }

constexpr size_t kMaxSize = 16384;

const char* Source64() {
  alignas(64) static char source[kMaxSize];
  return source;
}

constexpr long kSizes[] = {64, 256, 1024, 2048, 4096, 8192, 16384};
static_assert(kSizes[std::size(kSizes) - 1] <= static_cast<long>(kMaxSize), "the source buffer holds every size");
static_assert(kMaxSize <= kFileSize, "the file holds every size");

void Sizes(benchmark::internal::Benchmark* b) {
  for (long n : kSizes) b->Arg(n);
}

// The pages [d, d + n) covers, d page-aligned: what a page persist of that range syncs.
size_t PageSpan(size_t n) { return (n + 4095) & ~size_t{4095}; }

// One byte written, then the pages of an n-byte range synced: by a bare msync, or by the mapping's persist_fn.
void BareMsync(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  for (auto _ : state) {
    d[0] = static_cast<char>(state.iterations());
    benchmark::DoNotOptimize(msync(d, PageSpan(n), MS_SYNC));
  }
}
BENCHMARK(BareMsync)->Apply(Sizes);

void PersistFn(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  const auto persist = Mapping().map.persist_fn();
  for (auto _ : state) {
    d[0] = static_cast<char>(state.iterations());
    persist(d, n);
  }
}
BENCHMARK(PersistFn)->Apply(Sizes);

// What follows glibc's memcpy: nothing, a bare msync of the pages covered, or the mapping's persist_fn.
enum class Then { kNothing, kMsync, kPersistFn };

void GlibcMemcpy(benchmark::State& state, Then then) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  const auto persist = Mapping().map.persist_fn();
  for (auto _ : state) {
    std::memcpy(d, Source64(), n);
    switch (then) {
      case Then::kNothing:
        benchmark::ClobberMemory();
        break;
      case Then::kMsync:
        benchmark::DoNotOptimize(msync(d, PageSpan(n), MS_SYNC));
        break;
      case Then::kPersistFn:
        persist(d, n);
        break;
    }
  }
}
BENCHMARK_CAPTURE(GlibcMemcpy, then_msync, Then::kMsync)->Apply(Sizes);
BENCHMARK_CAPTURE(GlibcMemcpy, then_persist_fn, Then::kPersistFn)->Apply(Sizes);
BENCHMARK_CAPTURE(GlibcMemcpy, alone, Then::kNothing)->Apply(Sizes);

// The mapping's memcpy_fn; with kMemNoFlush | kMemTemporal the copy alone: the page copy's flags and destination
// history, then the stores.
void MemcpyFn(benchmark::State& state, unsigned flags) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  const auto memcpy_fn = Mapping().map.memcpy_fn();
  for (auto _ : state) {
    memcpy_fn(d, Source64(), n, flags);
    benchmark::ClobberMemory();
  }
}
BENCHMARK_CAPTURE(MemcpyFn, default, 0u)->Apply(Sizes);
BENCHMARK_CAPTURE(MemcpyFn, temporal, kMemTemporal)->Apply(Sizes);
BENCHMARK_CAPTURE(MemcpyFn, nontemporal, kMemNonTemporal)->Apply(Sizes);
BENCHMARK_CAPTURE(MemcpyFn, noflush_temporal, kMemNoFlush | kMemTemporal)->Apply(Sizes);

}  // namespace
}  // namespace pmem2

BENCHMARK_MAIN();
