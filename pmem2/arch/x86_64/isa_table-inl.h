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

// `Issue` executes a write-back and the drain (flush.h's FlushInstructions); kernels_recording_test.cc builds this
// table over a policy that records them instead, so that it checks these very bindings: each row's flush
// instruction, and the fence kDrainFenceFor picks for it.
template <void (*Line)(const void*), class Issue>
struct Primitives : IsaPrimitives {
  __attribute__((always_inline)) static void FlushLine(const void* p) { Issue::template WriteBack<Line>(p); }
  __attribute__((always_inline)) static void Fence() { Issue::template Fence<kDrainFenceFor<Line>>(); }
};

#include "pmem2/arch/x86_64/kernels-inl.h"

template <void (*Line)(const void*), class Issue, bool kAllowNt>
constexpr MemKernels CacheLine() {
  return {kernels::MemmoveCacheLine<Primitives<Line, Issue>, kAllowNt>,
          kernels::MemsetCacheLine<Primitives<Line, Issue>, kAllowNt>};
}

template <class Issue, bool kAllowNt>
constexpr MemKernels Byte() {
  return {kernels::MemmoveByte<Primitives<NoFlushLine, Issue>, kAllowNt>,
          kernels::MemsetByte<Primitives<NoFlushLine, Issue>, kAllowNt>};
}

// Rows in FlushKind's order (kernel_table.h).
template <class Issue>
constexpr IsaKernels MakeIsaKernels() {
  return {
      kIsaName,
      {
          {CacheLine<ClwbLine, Issue, false>(), CacheLine<ClwbLine, Issue, true>()},
          {CacheLine<ClflushoptLine, Issue, false>(), CacheLine<ClflushoptLine, Issue, true>()},
          {CacheLine<ClflushLine, Issue, false>(), CacheLine<ClflushLine, Issue, true>()},
      },
      {Byte<Issue, false>(), Byte<Issue, true>()},
      {kernels::MemmoveString<Primitives<NoFlushLine, Issue>>, kernels::MemsetString<Primitives<NoFlushLine, Issue>>},
  };
}

constexpr IsaKernels kKernels = MakeIsaKernels<FlushInstructions>();
