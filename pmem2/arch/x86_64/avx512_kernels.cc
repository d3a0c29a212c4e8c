// Copyright 2026 The pmem2 Authors.
//
// The avx512f instantiation of kernels-inl.h: one zmm register per cache line, so a whole line is one load and one
// (non-temporal) store. Everything between PMEM2_BEGIN_TARGET and PMEM2_END_TARGET is compiled for avx512f only (no
// avx512bw: the byte splats broadcast a 32-bit pattern) and is reached only after selection has checked that the CPU
// has AVX-512F and the OS saves the ZMM state (cpu_features.cc).

#include <immintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/flush.h"
#include "pmem2/arch/x86_64/kernel_table.h"
#include "pmem2/arch/x86_64/target_region.h"

PMEM2_BEGIN_TARGET("avx512f")

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace avx512 {
namespace {

struct IsaPrimitives : ScalarPrimitives {
  using V = __m512i;
  static constexpr size_t kVec = 64;
  __attribute__((always_inline)) static V Load(const void* p) { return _mm512_loadu_si512(p); }
  __attribute__((always_inline)) static void Store(void* p, V v) { _mm512_storeu_si512(p, v); }
  // A batched non-temporal copy (kernel_table.h) holds 32 lines in zmm0-31, as libpmem2's AVX-512 copy does.
  static constexpr size_t kNtCopyBatchLines = kAvx512NtCopyBatchLines;
  // VMOVNTDQ zmm: `p` is 64-byte aligned (a line), which the instruction requires.
  __attribute__((always_inline)) static void StoreNt(void* p, V v) { _mm512_stream_si512(static_cast<V*>(p), v); }
  // _mm512_set1_epi8 would need avx512bw; a 32-bit broadcast (VPBROADCASTD) is avx512f.
  __attribute__((always_inline)) static V Splat(unsigned char c) {
    return _mm512_set1_epi32(static_cast<int>(0x01010101u * c));
  }
  using V32 = __m256i;
  __attribute__((always_inline)) static V32 Load32(const void* p) {
    return _mm256_loadu_si256(static_cast<const V32*>(p));
  }
  __attribute__((always_inline)) static void Store32(void* p, V32 v) { _mm256_storeu_si256(static_cast<V32*>(p), v); }
  __attribute__((always_inline)) static V32 Splat32(unsigned char c) {
    return _mm256_set1_epi32(static_cast<int>(0x01010101u * c));
  }
};

constexpr char kIsaName[] = "avx512";

#include "pmem2/arch/x86_64/isa_table-inl.h"

}  // namespace
}  // namespace avx512
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

PMEM2_END_TARGET()

namespace pmem2 {
namespace arch {
namespace x86_64 {

const IsaKernels& Avx512Kernels() { return avx512::kKernels; }

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
