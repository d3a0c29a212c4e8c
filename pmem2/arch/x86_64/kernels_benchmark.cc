// Copyright 2026 The pmem2 Authors.
//
// Microbenchmarks behind the constants in ops.h: ordinary stores + flush against non-temporal stores per size
// (kDefaultCacheLineNtThreshold), the same without flushing (kDefaultByteNtThreshold), and the byte path
// against glibc. Run pinned, optimized:
//
//   bazel run -c opt --run_under='taskset -c 1' //pmem2/arch/x86_64:kernels_benchmark --
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Destinations are anonymous memory, hot unless noted.

#include <sys/mman.h>

#include <cstring>
#include <vector>

#include "benchmark/benchmark.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/cpu_features.h"
#include "pmem2/arch/x86_64/kernel_table.h"
#include "pmem2/arch/x86_64/ops.h"

namespace pmem2 {
namespace arch {
namespace {

constexpr size_t kMaxSize = size_t{64} << 20;

unsigned char* Buffer(size_t offset_seed) {
  static std::vector<void*> buffers;
  void* p = mmap(nullptr, kMaxSize + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  std::memset(p, static_cast<int>(offset_seed), kMaxSize + 4096);
  buffers.push_back(p);
  return static_cast<unsigned char*>(p);
}

unsigned char* Src() {
  static unsigned char* p = Buffer(1);
  return p;
}
unsigned char* Dst() {
  static unsigned char* p = Buffer(2);
  return p;
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (long n : {8L, 32L, 64L, 128L, 256L, 512L, 1024L, 4096L, 65536L, 2L << 20, 64L << 20}) b->Arg(n);
}

void CacheLineMemmove(benchmark::State& state, unsigned flags) {
  const size_t n = static_cast<size_t>(state.range(0));
  const PersistOps& ops = CacheLineOps();
  for (auto _ : state) {
    ops.memmove(Dst(), Src(), n, flags);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK_CAPTURE(CacheLineMemmove, temporal, kMemTemporal)->Apply(Sizes);
BENCHMARK_CAPTURE(CacheLineMemmove, nontemporal, kMemNonTemporal)->Apply(Sizes);
BENCHMARK_CAPTURE(CacheLineMemmove, default, 0u)->Apply(Sizes);

// Destination 8 bytes past a line start: every copy has partial first and last lines.
void CacheLineMemmoveDst8(benchmark::State& state, unsigned flags) {
  const size_t n = static_cast<size_t>(state.range(0));
  const PersistOps& ops = CacheLineOps();
  for (auto _ : state) {
    ops.memmove(Dst() + 8, Src(), n, flags);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
void SmallSizes(benchmark::internal::Benchmark* b) {
  for (long n : {8L, 16L, 32L, 56L, 64L, 100L, 128L, 256L}) b->Arg(n);
}
BENCHMARK_CAPTURE(CacheLineMemmoveDst8, temporal, kMemTemporal)->Apply(SmallSizes);
BENCHMARK_CAPTURE(CacheLineMemmoveDst8, nontemporal, kMemNonTemporal)->Apply(SmallSizes);

void CacheLineMemset(benchmark::State& state, unsigned flags) {
  const size_t n = static_cast<size_t>(state.range(0));
  const PersistOps& ops = CacheLineOps();
  for (auto _ : state) {
    ops.memset(Dst(), 7, n, flags);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK_CAPTURE(CacheLineMemset, temporal, kMemTemporal)->Apply(Sizes);
BENCHMARK_CAPTURE(CacheLineMemset, nontemporal, kMemNonTemporal)->Apply(Sizes);

void ByteMemmove(benchmark::State& state, unsigned flags) {
  const size_t n = static_cast<size_t>(state.range(0));
  const PersistOps& ops = ByteOps();
  for (auto _ : state) {
    ops.memmove(Dst(), Src(), n, flags);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK_CAPTURE(ByteMemmove, temporal, kMemTemporal)->Apply(Sizes);
BENCHMARK_CAPTURE(ByteMemmove, nontemporal, kMemNonTemporal)->Apply(Sizes);
BENCHMARK_CAPTURE(ByteMemmove, default, 0u)->Apply(Sizes);

// Where non-temporal stores start to win without a flush to save (kDefaultByteNtThreshold).
void LargeSizes(benchmark::internal::Benchmark* b) {
  for (long n = 1L << 20; n <= (64L << 20); n *= 2) b->Arg(n);
}
BENCHMARK_CAPTURE(ByteMemmove, crossover_temporal, kMemTemporal)->Apply(LargeSizes);
BENCHMARK_CAPTURE(ByteMemmove, crossover_nontemporal, kMemNonTemporal)->Apply(LargeSizes);

// AVX2 (ymm) against AVX-512 (zmm) kernels side by side, whatever the selection: cache-line tables with CLWB,
// non-temporal stores forced (kMemNonTemporal), hot destination 64-byte aligned. The AVX-512 copies of 8 KiB and
// more go in 32-line batches where the process's selection says so (Intel 6/167's row; kernel_table.h). Behind the
// AVX-512 default in ops.cc (x86_64/results/). Filter with --benchmark_filter=Isa.
void IsaSizes(benchmark::internal::Benchmark* b) {
  for (long n : {64L, 256L, 4096L, 65536L, 2L << 20, 64L << 20}) b->Arg(n);
}

const x86_64::IsaKernels* IsaOrSkip(benchmark::State& state, bool avx512) {
  const x86_64::CpuFeatures& cpu = x86_64::ProcessCpuFeatures();
  if (avx512 ? !cpu.avx512f : !cpu.avx) {
    state.SkipWithError("CPU (or OS) lacks the instruction set");
    return nullptr;
  }
  Src();  // map and populate both buffers outside the timed loop
  Dst();
  x86_64::CurrentSelection();  // made and published, so that the AVX-512 copies batch where the process's row says so
  return avx512 ? &x86_64::Avx512Kernels() : &x86_64::AvxKernels();
}

void IsaMemcpyNt(benchmark::State& state, bool avx512) {
  const x86_64::IsaKernels* isa = IsaOrSkip(state, avx512);
  if (isa == nullptr) return;
  const MemmoveFn memmove = isa->cache_line[static_cast<int>(x86_64::FlushKind::kClwb)][1].memmove;
  const size_t n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    memmove(Dst(), Src(), n, kMemNonTemporal);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK_CAPTURE(IsaMemcpyNt, avx, false)->Apply(IsaSizes);
BENCHMARK_CAPTURE(IsaMemcpyNt, avx512, true)->Apply(IsaSizes);

void IsaMemsetNt(benchmark::State& state, bool avx512) {
  const x86_64::IsaKernels* isa = IsaOrSkip(state, avx512);
  if (isa == nullptr) return;
  const MemsetFn memset = isa->cache_line[static_cast<int>(x86_64::FlushKind::kClwb)][1].memset;
  const size_t n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    memset(Dst(), 7, n, kMemNonTemporal);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK_CAPTURE(IsaMemsetNt, avx, false)->Apply(IsaSizes);
BENCHMARK_CAPTURE(IsaMemsetNt, avx512, true)->Apply(IsaSizes);

// glibc through a pointer, as a caller would reach it.
void* (*volatile libc_memcpy)(void*, const void*, size_t) = std::memcpy;

void GlibcMemcpy(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    libc_memcpy(Dst(), Src(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n));
}
BENCHMARK(GlibcMemcpy)->Apply(Sizes);

// What the destination history costs on the hot path: the same copies with it off (0) and on (384 B), the flag
// fixing the store kind so that only the history's load, compare and store differ (non-temporal at 64 B, ordinary
// stores + CLWB at 8 B).
void HistoryCost(benchmark::State& state, size_t near_temporal_below) {
  const size_t n = static_cast<size_t>(state.range(0));
  const unsigned flags = n >= 64 ? kMemNonTemporal : kMemTemporal;
  const PersistOps& ops = CacheLineOps();
  const size_t saved = x86_64::cache_line_near_temporal_below.exchange(near_temporal_below);
  for (auto _ : state) {
    ops.memmove(Dst(), Src(), n, flags);
    benchmark::ClobberMemory();
  }
  x86_64::cache_line_near_temporal_below.store(saved);
}
BENCHMARK_CAPTURE(HistoryCost, off, size_t{0})->Arg(8)->Arg(64);
BENCHMARK_CAPTURE(HistoryCost, on, size_t{384})->Arg(8)->Arg(64);

}  // namespace
}  // namespace arch
}  // namespace pmem2

BENCHMARK_MAIN();
