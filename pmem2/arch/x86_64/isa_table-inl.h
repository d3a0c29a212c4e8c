// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/isa_table-inl.h
// -----------------------------------------------------------------------------
//
// The half of an ISA translation unit that is the same for every ISA: the kernels of kernels-inl.h bound to
// each flush instruction, gathered into that ISA's `kKernels` table. Like kernels-inl.h it has no include guard
// ON PURPOSE: sse2_kernels.cc, avx_kernels.cc and avx512_kernels.cc include it inside their own anonymous namespace and
// PMEM2_BEGIN_TARGET region, after defining `IsaPrimitives` (vector type, loads, stores, splats) and
// `kIsaName`, so every instantiation is compiled for that ISA and has internal linkage.

template <void (*Line)(const void*)>
struct Primitives : IsaPrimitives {
  __attribute__((always_inline)) static void FlushLine(const void* p) { Line(p); }
  __attribute__((always_inline)) static void Fence() { DrainAfter<Line>(); }
};

#include "pmem2/arch/x86_64/kernels-inl.h"

template <void (*Line)(const void*), bool kAllowNt>
constexpr MemKernels CacheLine() {
  return {kernels::MemmoveCacheLine<Primitives<Line>, kAllowNt>, kernels::MemsetCacheLine<Primitives<Line>, kAllowNt>};
}

template <bool kAllowNt>
constexpr MemKernels Byte() {
  return {kernels::MemmoveByte<Primitives<NoFlushLine>, kAllowNt>,
          kernels::MemsetByte<Primitives<NoFlushLine>, kAllowNt>};
}

constexpr IsaKernels kKernels = {
    kIsaName,
    {
        {CacheLine<ClwbLine, false>(), CacheLine<ClwbLine, true>()},
        {CacheLine<ClflushoptLine, false>(), CacheLine<ClflushoptLine, true>()},
        {CacheLine<ClflushLine, false>(), CacheLine<ClflushLine, true>()},
    },
    {Byte<false>(), Byte<true>()},
    {kernels::MemmoveString<Primitives<NoFlushLine>>, kernels::MemsetString<Primitives<NoFlushLine>>},
};
