// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/generic/ops.h
// -----------------------------------------------------------------------------
//
// The portable backend: plain C++ copies and compiler fences, no CPU-specific instructions. It is the starting
// point for a new architecture, and the x86_64 backend reuses its copy loops for PMEM_NO_MOVNT-style testing.
//
// Durability caveat: portable C++ has no way to write a cache line back to memory, so on its own this backend
// CANNOT make stores durable at cache-line granularity. Its CacheLineOps() therefore only orders stores; it
// is correct on platforms whose caches are in the persistence domain (eADR-like) or where persistence comes
// from msync, and nowhere else. An architecture with real pmem needs its own backend (DC CVAP on aarch64,
// dcbf/dcbstps on ppc64le, CBO.CLEAN on riscv64) before pmem2 can promise cache-line durability there.

#ifndef PMEM2_ARCH_GENERIC_OPS_H_
#define PMEM2_ARCH_GENERIC_OPS_H_

#include <cstddef>
#include <string>

#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace generic {

// memmove() that honours libpmem2's store-width promise: when `dst` and `len` are both multiples of 8, every
// store is an aligned 8-byte store. Overlapping ranges are fine in both directions. No flush, no fence.
void CopyWords(void* dst, const void* src, size_t len);
// memset() with the same store-width promise.
void FillWords(void* dst, int c, size_t len);

// A full store fence (the strongest portable ordering).
void Fence();

// The tables of this backend (see the durability caveat above).
const PersistOps& CacheLineOps();
const PersistOps& ByteOps();

// e.g. "generic (aarch64): no cache write-back; overrides: PMEM_NO_GENERIC_MEMCPY=1"
std::string DescribeCpu();

}  // namespace generic
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_GENERIC_OPS_H_
