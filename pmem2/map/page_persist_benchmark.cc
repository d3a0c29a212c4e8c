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
// tools/bench/results/amd-26-2.md ("A page persist's pages"). Their times move 5-11 % between runs, as much as
// the few nanoseconds pmem2 adds to a system call; OverBareMsync below cancels that drift, and its counters are
// what to compare between builds (two builds: alternate their processes and compare the counters' medians):
//
//   bazel run -c opt --run_under='taskset -c 1' //pmem2/map:page_persist_benchmark --
//       --benchmark_filter=OverBareMsync --benchmark_repetitions=10 --benchmark_report_aggregates_only=true

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <utility>
#include <vector>

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

// Paired: per round, each variant runs kCallsPerBatch calls in a shuffled order and its time per call, minus a
// bare msync's in the same round, is one difference; the counters are each variant's median difference (ns per
// call over a bare msync of the same pages), and `bare_msync_ns` the bare msync's median. Rounds take ~0.2 ms, so
// the host's drift, which moves a bare msync by 5-10 % between processes, cancels within them. The one-off
// programs behind tools/bench/results/amd-26-2.md's "The page sync's lines" measured this way.
void OverBareMsync(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  const Map& map = Mapping().map;
  const auto persist = map.persist_fn();
  const auto memcpy_fn = map.memcpy_fn();
  const auto memset_fn = map.memset_fn();
  enum Variant { kBare, kGlibcMemcpyMsync, kPersistFn, kGlibcMemcpyPersistFn, kMemcpyFn, kMemsetFn, kCount };
  static constexpr const char* kNames[kCount] = {"bare_msync_ns",       "glibc_memcpy+msync",
                                                 "persist_fn",          "glibc_memcpy+persist_fn",
                                                 "memcpy_fn",           "memset_fn"};
  constexpr int kCallsPerBatch = 100;
  std::array<std::vector<double>, kCount> samples;
  std::array<int, kCount> order;
  for (int v = 0; v < kCount; ++v) order[v] = v;
  std::mt19937 random(12345);
  for (auto _ : state) {
    std::shuffle(order.begin(), order.end(), random);
    std::array<double, kCount> per_call{};
    for (int v : order) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < kCallsPerBatch; ++i) {
        switch (v) {
          case kBare:
            d[0] = static_cast<char>(i);
            benchmark::DoNotOptimize(msync(d, PageSpan(n), MS_SYNC));
            break;
          case kGlibcMemcpyMsync:
            std::memcpy(d, Source64(), n);
            benchmark::DoNotOptimize(msync(d, PageSpan(n), MS_SYNC));
            break;
          case kPersistFn:
            d[0] = static_cast<char>(i);
            persist(d, n);
            break;
          case kGlibcMemcpyPersistFn:
            std::memcpy(d, Source64(), n);
            persist(d, n);
            break;
          case kMemcpyFn:
            memcpy_fn(d, Source64(), n, 0);
            break;
          case kMemsetFn:
            memset_fn(d, i, n, 0);
            break;
        }
      }
      per_call[v] = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() /
                    kCallsPerBatch;
    }
    samples[kBare].push_back(per_call[kBare]);
    for (int v = 1; v < kCount; ++v) samples[v].push_back(per_call[v] - per_call[kBare]);
  }
  for (int v = 0; v < kCount; ++v) {
    std::vector<double>& s = samples[v];
    if (s.empty()) continue;
    std::nth_element(s.begin(), s.begin() + s.size() / 2, s.end());
    state.counters[kNames[v]] = s[s.size() / 2];
  }
}
BENCHMARK(OverBareMsync)->Arg(64)->Arg(1024)->Arg(4096)->Iterations(201)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pmem2

BENCHMARK_MAIN();
