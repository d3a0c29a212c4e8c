// Copyright 2026 The pmem2 Authors.
//
// The avx instantiation of kernels-inl.h. Everything between PMEM2_BEGIN_TARGET and PMEM2_END_TARGET is compiled for
// avx only and is reached only after selection has checked the CPU (and OS) support it.

#include <immintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/flush.h"
#include "pmem2/arch/x86_64/kernel_table.h"
#include "pmem2/arch/x86_64/target_region.h"

PMEM2_BEGIN_TARGET("avx")

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
};

constexpr char kIsaName[] = "avx";

#include "pmem2/arch/x86_64/isa_table-inl.h"

}  // namespace
}  // namespace avx
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

PMEM2_END_TARGET()

namespace pmem2 {
namespace arch {
namespace x86_64 {

const IsaKernels& AvxKernels() { return avx::kKernels; }

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
