// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels.h
// -----------------------------------------------------------------------------
//
// "The limit": the simplest code that makes a copy durable on this machine, measured in the same run as
// pmem2 and the reference so that "within 5 % of the NT-store limit" can be checked on a noisy host. They
// have the libpmem2 function signatures so the benchmark times them with exactly the loop it uses for the
// two libraries. Deliberately naive: no size dispatch, no flags, no heads or tails.
//
//   LimitMemcpy  non-temporal 32-byte stores (AVX2, or 16-byte SSE2 stores without AVX2) + SFENCE
//   LimitMemset  the same, storing a broadcast byte
//   LimitPersistCacheLine  CLWB (else CLFLUSHOPT, else CLFLUSH) per line + SFENCE
//   LimitPersistPage       msync(MS_SYNC) of the whole pages, nothing else
//   LimitMemcpyPage / LimitMemsetPage  LimitMemcpy / LimitMemset, then LimitPersistPage: the limit of a copy
//                          made durable by msync (page granularity)
//
// Preconditions of LimitMemcpy / LimitMemset: `dst` is 32-byte aligned and `len` is a multiple of 64 (every
// benchmark size is); `flags` is ignored. The BUILD select() picks the kernels: limit_kernels_x86_64.cc (the
// instructions above, chosen with pmem2's CPU detection) or limit_kernels_generic.cc (memcpy/memset, no
// write-back) on other CPUs.

#ifndef PMEM2_TOOLS_BENCH_LIMIT_KERNELS_H_
#define PMEM2_TOOLS_BENCH_LIMIT_KERNELS_H_

#include <cstddef>

namespace pmem2 {
namespace bench {

void* LimitMemcpy(void* dst, const void* src, size_t len, unsigned flags);
void* LimitMemset(void* dst, int c, size_t len, unsigned flags);
void LimitPersistCacheLine(const void* ptr, size_t len);
void LimitPersistPage(const void* ptr, size_t len);
void* LimitMemcpyPage(void* dst, const void* src, size_t len, unsigned flags);
void* LimitMemsetPage(void* dst, int c, size_t len, unsigned flags);

// What the limit kernels use on this CPU, e.g. "avx2 nt + sfence; clwb".
const char* DescribeLimitKernels();

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_LIMIT_KERNELS_H_
