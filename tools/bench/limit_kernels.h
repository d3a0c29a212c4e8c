// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels.h
// -----------------------------------------------------------------------------
//
// "The limit": the simplest code that makes a copy durable on this machine, measured in the same run as
// pmem2 and the reference so that "within 5 % of the NT-store limit" can be checked on a noisy host. They
// have the libpmem2 function signatures so the benchmark times them with exactly the loop it uses for the
// two libraries. Deliberately naive: no flags, no heads or tails; one size dispatch, whole lines or a record below one.
//
//   LimitMemcpy  non-temporal 32-byte stores (AVX2, or 16-byte SSE2 stores without AVX2) + SFENCE
//   LimitMemset  the same, storing a broadcast byte
//   LimitPersistCacheLine  CLWB (else CLFLUSHOPT, else CLFLUSH) per line + SFENCE (MFENCE after CLFLUSH, which
//                          AMD orders only with MFENCE)
//   LimitPersistPage       msync(MS_SYNC) of the whole pages, nothing else
//   LimitMemcpyPage / LimitMemsetPage  LimitMemcpy / LimitMemset, then LimitPersistPage: the limit of a copy
//                          made durable by msync (page granularity)
//   GlibcMemcpyPage / GlibcMemsetPage  glibc's memcpy / memset, then LimitPersistPage: ordinary stores below
//                          glibc's non-temporal threshold (a few MiB). msync needs nothing written back from the
//                          CPU caches, so on some CPUs these win even on cold pages (PageLimitStrategies)
//
// At cache-line granularity the limit is not one kernel but the fastest of several strategies, timed side by side
// (CacheLineLimitStrategies): which one wins depends on the CPU kind and on whether the destination line is
// cached (tools/bench/README.md). On x86-64, each where the CPU has the instructions:
//
//   nt                    LimitMemcpy / LimitMemset
//   nt-avx512             one 64-byte AVX-512 NT store per line; SFENCE (where the CPU and the OS support AVX-512)
//   nt-avx512-batch       nt-avx512, 32 lines loaded (zmm0-31) before they are stored; copies only (memset null)
//   store+clwb            per 64-byte line: ordinary (temporal) vector stores, then CLWB of that line; SFENCE
//   store-all+clwb        ordinary stores to the whole range, then CLWB of every line; SFENCE
//   store+clflushopt      as store+clwb with CLFLUSHOPT
//   store-all+clflushopt  as store-all+clwb with CLFLUSHOPT
//   store+clflush, store-all+clflush   only on CPUs with neither CLWB nor CLFLUSHOPT; MFENCE instead of SFENCE
//   movdir64b             one MOVDIR64B (64-byte direct store) per line; SFENCE
//
// The other stores are 32-byte AVX2 ones (16-byte SSE2 without AVX2), as in LimitMemcpy.
//
// Preconditions of every copy and fill here: `dst` is 64-byte aligned and `len` is a multiple of 64, or `dst` is
// 8-byte aligned and `len` a multiple of 8 below 64 (every benchmark size and offset is); `flags` is ignored. A
// record below 64 B, which may cross into the next line (timing.h's seq pattern packs them), is written with
// 8-byte stores: MOVNTI for every non-temporal strategy (MOVDIR64B and 64-byte vector stores write whole lines
// only), ordinary stores + the write-back of its one or two lines for the others. The BUILD select() picks the kernels:
// limit_kernels_x86_64.cc (the instructions above, chosen with pmem2's CPU detection) or limit_kernels_generic.cc
// (memcpy/memset, no write-back) on other CPUs.

#ifndef PMEM2_TOOLS_BENCH_LIMIT_KERNELS_H_
#define PMEM2_TOOLS_BENCH_LIMIT_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pmem2 {
namespace bench {

// Whether `len` meets the preconditions above: a multiple of 64, or of 8 below 64.
constexpr bool LimitKernelsTake(size_t len) { return len != 0 && (len < 64 ? len % 8 == 0 : len % 64 == 0); }

// The 64-byte lines `len` (> 0) bytes at `addr` touch: the first line's address and how many. The store strategies
// write back exactly these after a record below a line: one line, or two where a packed record crosses into the next
// (missing the second would time a record whose tail is not durable).
struct LineSpan {
  uintptr_t first;
  size_t count;
};
constexpr LineSpan LinesOf(uintptr_t addr, size_t len) {
  return {addr & ~uintptr_t{63}, ((addr + len - 1) >> 6) - (addr >> 6) + 1};
}

void* LimitMemcpy(void* dst, const void* src, size_t len, unsigned flags);
void* LimitMemset(void* dst, int c, size_t len, unsigned flags);
void LimitPersistCacheLine(const void* ptr, size_t len);
void LimitPersistPage(const void* ptr, size_t len);
void* LimitMemcpyPage(void* dst, const void* src, size_t len, unsigned flags);
void* LimitMemsetPage(void* dst, int c, size_t len, unsigned flags);
void* GlibcMemcpyPage(void* dst, const void* src, size_t len, unsigned flags);
void* GlibcMemsetPage(void* dst, int c, size_t len, unsigned flags);

// What the limit kernels use on this CPU, e.g. "avx2 nt + sfence; clwb + sfence".
const char* DescribeLimitKernels();

using LimitCopyFn = void* (*)(void* dst, const void* src, size_t len, unsigned flags);
using LimitFillFn = void* (*)(void* dst, int c, size_t len, unsigned flags);

// One way to make a copy or fill durable at cache-line granularity.
struct LimitStrategy {
  const char* name;  // the table's name, e.g. "store-all+clwb"
  LimitCopyFn memcpy;
  LimitFillFn memset;  // null: a strategy for copies only, not timed as a fill
};

// The cache-line strategies this CPU has (the list above; "nt" first). On other CPUs one: "memcpy".
const std::vector<LimitStrategy>& CacheLineLimitStrategies();

// The page-granularity strategies, "nt+msync" (LimitMemcpyPage) first, then "glibc+msync" (GlibcMemcpyPage).
const std::vector<LimitStrategy>& PageLimitStrategies();

// Every name CacheLineLimitStrategies() returns on some CPU, for error messages and option parsing.
const std::vector<std::string>& KnownLimitStrategyNames();

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_LIMIT_KERNELS_H_
