// Copyright 2026 The pmem2 Authors.
//
// What a page-granularity mapping's functions cost over the system call they end with: persist_fn and memcpy_fn
// (default flags, temporal, non-temporal, or the copy alone) and memset_fn (default, or the fill alone) against a bare
// msync and glibc's memcpy + msync, on the first pages of a tmpfs file written again and again (the hot rows of
// tools/bench's page lane, where msync is cheapest and pmem2's own work shows most); and (Rewrite, Stream, below) which
// kind of store wins a buffer written again and a stream of records that are not whole lines. The files are unnamed
// ones on /dev/shm (1 MiB, and 1 GiB for Rewrite and Stream). Run pinned, optimized:
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
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "pmem2/config/config.h"
#include "pmem2/internal/msync.h"
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

// A file of `size` bytes, its blocks allocated (a /dev/shm too small fails here, with a message, rather than with a
// SIGBUS in the first row), mapped at page granularity and written once.
PageMapping* MakeMapping(size_t size) {
  const int fd = open(kDir, O_TMPFILE | O_RDWR, 0600);
  if (fd < 0) {
    std::perror(kDir);
    std::exit(1);
  }
  if (const int error = posix_fallocate(fd, 0, static_cast<off_t>(size)); error != 0) {
    std::fprintf(stderr, "%s: cannot allocate %zu MiB: %s\n", kDir, size >> 20, std::strerror(error));
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
  std::memset(map->address(), 1, size);
  return new PageMapping{fd, std::move(*map)};
}

PageMapping& Mapping() {
  static PageMapping* const mapping = MakeMapping(kFileSize);
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

// The mapping's memset_fn, and glibc's memset alone, as the copies above.
void MemsetFn(benchmark::State& state, unsigned flags) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  const auto memset_fn = Mapping().map.memset_fn();
  for (auto _ : state) {
    memset_fn(d, static_cast<int>(state.iterations() & 0xff), n, flags);
    benchmark::ClobberMemory();
  }
}
BENCHMARK_CAPTURE(MemsetFn, default, 0u)->Apply(Sizes);
BENCHMARK_CAPTURE(MemsetFn, noflush_temporal, kMemNoFlush | kMemTemporal)->Apply(Sizes);

void GlibcMemsetAlone(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  for (auto _ : state) {
    std::memset(d, static_cast<int>(state.iterations() & 0xff), n);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(GlibcMemsetAlone)->Apply(Sizes);

// Paired: per round, each variant runs kCallsPerBatch calls in a shuffled order and its time per call, minus a
// bare msync's in the same round, is one difference; the counters are each variant's median difference (ns per
// call over a bare msync of the same pages), and `bare_msync_ns` the bare msync's median. Rounds take ~0.2 ms, so
// the host's drift, which moves a bare msync by 5-10 % between processes, cancels within them. The one-off
// programs behind tools/bench/results/amd-26-2.md's "The page sync's lines" measured this way. A bare msync is
// glibc's msync(), as an application calls it (and tools/bench's limit); `msync_system_call` is the system call
// inline, as pmem2's page syncs make it: what of pmem2's distance to a bare msync is glibc's function around it.
void OverBareMsync(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* d = Destination();
  const Map& map = Mapping().map;
  const auto persist = map.persist_fn();
  const auto memcpy_fn = map.memcpy_fn();
  const auto memset_fn = map.memset_fn();
  enum Variant {
    kBare,
    kSystemCall,
    kGlibcMemcpyMsync,
    kPersistFn,
    kGlibcMemcpyPersistFn,
    kMemcpyFn,
    kMemsetFn,
    kCount
  };
  static constexpr const char* kNames[kCount] = {"bare_msync_ns", "msync_system_call",       "glibc_memcpy+msync",
                                                 "persist_fn",    "glibc_memcpy+persist_fn", "memcpy_fn",
                                                 "memset_fn"};
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
          case kSystemCall:  // what the page syncs call instead of glibc's msync() (pmem2/internal/msync.h)
            d[0] = static_cast<char>(i);
            benchmark::DoNotOptimize(internal::MsyncSystemCall(d, PageSpan(n), MS_SYNC));
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

// A buffer written again at every size (tools/bench's `same` pattern: a header, a ring, a block), and a stream of
// records that are not whole lines (each starts on the line where the previous one ended): memcpy_fn and memset_fn
// with the default flags (what pmem2 chooses on this CPU kind), ordinary stores (kMemTemporal: the vector loop) and
// non-temporal ones, and on x86-64 the same buffer written by REP MOVSQ / REP STOSQ and synced by persist_fn.
// Which store kind wins, and up to what size, is what a CPU kind's page thresholds (pmem2/arch/x86_64/ops.cc) record.
// On a file of their own (kLargeFileSize), made at the first of these rows:
//
//   bazel run -c opt --run_under='taskset -c 1' //pmem2/map:page_persist_benchmark --
//       --benchmark_filter='Rewrite|Stream' --benchmark_repetitions=7 --benchmark_enable_random_interleaving=true
//       --benchmark_min_time=0.05 --benchmark_report_aggregates_only=true
constexpr long kRewriteSizes[] = {2L << 10,   4L << 10,   8L << 10,  16L << 10, 24L << 10, 64L << 10,
                                  256L << 10, 512L << 10, 1L << 20,  3L << 19,  2L << 20,  4L << 20,
                                  8L << 20,   16L << 20,  24L << 20, 32L << 20, 48L << 20, 64L << 20};
// Records 8 bytes longer than whole lines, so that each starts on the previous one's last line.
constexpr long kStreamRecords[] = {(2L << 10) + 8, (8L << 10) + 8, (64L << 10) + 8, (256L << 10) + 8, (1L << 20) + 8};
constexpr long kLargest = std::max(*std::max_element(std::begin(kRewriteSizes), std::end(kRewriteSizes)),
                                   *std::max_element(std::begin(kStreamRecords), std::end(kStreamRecords)));
// Larger than twice the last-level caches measured so far (480 MiB on Intel 6/167), so that a stream's lines are cold
// when it comes round again.
constexpr size_t kLargeFileSize = size_t{1} << 30;
static_assert(static_cast<size_t>(kLargest) <= kLargeFileSize, "the large file holds every size");

PageMapping& LargeMapping() {
  static PageMapping* const mapping = MakeMapping(kLargeFileSize);
  return *mapping;
}

const char* LargeSource() {
  static char* const source = [] {
    auto* buffer = static_cast<char*>(std::aligned_alloc(64, kLargest));
    if (buffer == nullptr) std::abort();
    std::memset(buffer, 2, kLargest);
    return buffer;
  }();
  return source;
}

// `stream` false: the same n bytes every call; true: the next n bytes of a cursor advancing by n, wrapping before the
// end. The destination starts `dst_offset` bytes into the file, the source `src_offset` bytes into its buffer.
void WriteLarge(benchmark::State& state, bool fill, unsigned flags, bool stream, size_t dst_offset = 0,
                size_t src_offset = 0) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* const base = static_cast<char*>(LargeMapping().map.address()) + dst_offset;
  const char* const src = LargeSource() + src_offset;
  const Map& map = LargeMapping().map;
  const auto memcpy_fn = map.memcpy_fn();
  const auto memset_fn = map.memset_fn();
  size_t offset = 0;
  for (auto _ : state) {
    if (fill) {
      memset_fn(base + offset, static_cast<int>(state.iterations()), n, flags);
    } else {
      memcpy_fn(base + offset, src, n, flags);
    }
    if (stream) {
      offset += n;
      if (dst_offset + offset + n > kLargeFileSize) offset = 0;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
#if defined(__x86_64__)
// The same buffer written by string instructions (REP MOVSQ / REP STOSQ, 8-byte elements) and then synced by the
// mapping's persist_fn: what pmem2's own string kernels for a rewrite (Intel 6/167's row, from 128 KiB) should cost,
// beside the vector loops (memcpy_temporal, memset_temporal).
void RewriteString(benchmark::State& state, bool fill) {
  const size_t n = static_cast<size_t>(state.range(0));
  char* const base = static_cast<char*>(LargeMapping().map.address());
  const auto persist = LargeMapping().map.persist_fn();
  for (auto _ : state) {
    void* d = base;
    size_t words = n / 8;
    if (fill) {
      const uint64_t v = 0x0101010101010101ull * static_cast<uint8_t>(state.iterations());
      __asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(v) : "memory");
    } else {
      const void* s = LargeSource();
      __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
    }
    persist(base, n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}
#endif
void Rewrite(benchmark::State& state, bool fill, unsigned flags) { WriteLarge(state, fill, flags, false); }
// The same buffer written again from a destination `dst_offset` bytes into a page and a source `src_offset` bytes
// into a line: string instructions with a source that is not 8-aligned to the destination, or a destination that is
// not 8-aligned, against the vector loop (kMemTemporal).
void RewriteUnaligned(benchmark::State& state, unsigned flags, size_t dst_offset, size_t src_offset) {
  WriteLarge(state, false, flags, false, dst_offset, src_offset);
}
void RewriteUnalignedFill(benchmark::State& state, unsigned flags, size_t dst_offset) {
  WriteLarge(state, true, flags, false, dst_offset);
}
void UnalignedSizes(benchmark::internal::Benchmark* b) {
  for (long n : {128L << 10, 512L << 10, 1L << 20}) b->Arg(n);
}
void Stream(benchmark::State& state, bool fill, unsigned flags) { WriteLarge(state, fill, flags, true); }
void RewriteSizes(benchmark::internal::Benchmark* b) {
  for (long n : kRewriteSizes) b->Arg(n);
}
void StreamRecords(benchmark::internal::Benchmark* b) {
  for (long n : kStreamRecords) b->Arg(n);
}
BENCHMARK_CAPTURE(Rewrite, memcpy_default, false, 0u)->Apply(RewriteSizes);
BENCHMARK_CAPTURE(Rewrite, memcpy_temporal, false, kMemTemporal)->Apply(RewriteSizes);
BENCHMARK_CAPTURE(Rewrite, memcpy_nontemporal, false, kMemNonTemporal)->Apply(RewriteSizes);
BENCHMARK_CAPTURE(Rewrite, memset_default, true, 0u)->Apply(RewriteSizes);
BENCHMARK_CAPTURE(Rewrite, memset_temporal, true, kMemTemporal)->Apply(RewriteSizes);
BENCHMARK_CAPTURE(Rewrite, memset_nontemporal, true, kMemNonTemporal)->Apply(RewriteSizes);
#if defined(__x86_64__)
BENCHMARK_CAPTURE(RewriteString, rep_movsq_then_persist_fn, false)->Apply(RewriteSizes);
BENCHMARK_CAPTURE(RewriteString, rep_stosq_then_persist_fn, true)->Apply(RewriteSizes);
#endif
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_default_dst8_src3, 0u, 8, 3)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_temporal_dst8_src3, kMemTemporal, 8, 3)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_default_dst3_src0, 0u, 3, 0)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_temporal_dst3_src0, kMemTemporal, 3, 0)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_default_dst8_src0, 0u, 8, 0)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_temporal_dst8_src0, kMemTemporal, 8, 0)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_default_dst3_src3, 0u, 3, 3)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_temporal_dst3_src3, kMemTemporal, 3, 3)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_default_dst0_src8, 0u, 0, 8)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnaligned, memcpy_temporal_dst0_src8, kMemTemporal, 0, 8)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnalignedFill, memset_default_dst8, 0u, 8)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnalignedFill, memset_temporal_dst8, kMemTemporal, 8)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnalignedFill, memset_default_dst3, 0u, 3)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(RewriteUnalignedFill, memset_temporal_dst3, kMemTemporal, 3)->Apply(UnalignedSizes);
BENCHMARK_CAPTURE(Stream, memcpy_default, false, 0u)->Apply(StreamRecords);
BENCHMARK_CAPTURE(Stream, memcpy_temporal, false, kMemTemporal)->Apply(StreamRecords);
BENCHMARK_CAPTURE(Stream, memcpy_nontemporal, false, kMemNonTemporal)->Apply(StreamRecords);

// OverBareMsync in a process that has had a second thread (here an idle one, started at the first run): glibc then
// switches a cancellation point such as msync() to asynchronous cancellation and back around the system call, with
// an atomic update of the thread's state each way, and keeps doing so for the life of the process (it never goes
// back to single-threaded). pmem2's page syncs make the system call without glibc (pmem2/internal/msync.h). Last,
// so that no benchmark before it runs multithreaded; filter it alone to compare builds:
//
//   --benchmark_filter=OverBareMsyncMultithreaded --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
void OverBareMsyncMultithreaded(benchmark::State& state) {
  static const bool started = [] {
    std::thread([] {
      for (;;) pause();
    }).detach();
    return true;
  }();
  benchmark::DoNotOptimize(started);
  OverBareMsync(state);
}
BENCHMARK(OverBareMsyncMultithreaded)->Arg(64)->Arg(1024)->Arg(4096)->Iterations(201)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace pmem2

BENCHMARK_MAIN();
