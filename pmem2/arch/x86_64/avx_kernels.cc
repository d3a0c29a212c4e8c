// Copyright 2026 The pmem2 Authors.
//
// The avx instantiation of kernels-inl.h. Everything between the pragmas is compiled for avx only and is
// reached only after selection has checked the CPU (and OS) support it.

#include <immintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/flush.h"
#include "pmem2/arch/x86_64/kernel_table.h"

#pragma GCC push_options
#pragma GCC target("avx")

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace avx {
namespace {

struct IsaPrimitives : ScalarPrimitives {
  using V = __m256i;
  static constexpr size_t kVec = 32;
  __attribute__((always_inline)) static V Load(const void* p) { return _mm256_loadu_si256(static_cast<const V*>(p)); }
  __attribute__((always_inline)) static void Store(void* p, V v) { _mm256_storeu_si256(static_cast<V*>(p), v); }
  __attribute__((always_inline)) static void StoreNt(void* p, V v) { _mm256_stream_si256(static_cast<V*>(p), v); }
  __attribute__((always_inline)) static V Splat(unsigned char c) { return _mm256_set1_epi8(static_cast<char>(c)); }

  using V16 = __m128i;
  __attribute__((always_inline)) static V16 Load16(const void* p) {
    return _mm_loadu_si128(static_cast<const V16*>(p));
  }
  __attribute__((always_inline)) static void Store16(void* p, V16 v) { _mm_storeu_si128(static_cast<V16*>(p), v); }
  __attribute__((always_inline)) static V16 Splat16(unsigned char c) { return _mm_set1_epi8(static_cast<char>(c)); }
};

template <void (*Line)(const void*)>
struct Primitives : IsaPrimitives {
  __attribute__((always_inline)) static void FlushLine(const void* p) { Line(p); }
  __attribute__((always_inline)) static void Fence() { Sfence(); }
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
    "avx",
    {
        {CacheLine<ClwbLine, false>(), CacheLine<ClwbLine, true>()},
        {CacheLine<ClflushoptLine, false>(), CacheLine<ClflushoptLine, true>()},
        {CacheLine<ClflushLine, false>(), CacheLine<ClflushLine, true>()},
    },
    {Byte<false>(), Byte<true>()},
};

}  // namespace
}  // namespace avx
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

#pragma GCC pop_options

namespace pmem2 {
namespace arch {
namespace x86_64 {

const IsaKernels& AvxKernels() { return avx::kKernels; }

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
