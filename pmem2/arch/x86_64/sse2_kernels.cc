// Copyright 2026 The pmem2 Authors.
//
// The sse2 instantiation of kernels-inl.h. Everything between PMEM2_BEGIN_TARGET and PMEM2_END_TARGET is compiled for
// sse2 only and is reached only after selection has checked the CPU (and OS) support it.

#include <emmintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/flush.h"
#include "pmem2/arch/x86_64/kernel_table.h"
#include "pmem2/arch/x86_64/target_region.h"

PMEM2_BEGIN_TARGET("sse2")

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace sse2 {
namespace {

struct IsaPrimitives : ScalarPrimitives {
  using V = __m128i;
  static constexpr size_t kVec = 16;
  __attribute__((always_inline)) static V Load(const void* p) { return _mm_loadu_si128(static_cast<const V*>(p)); }
  __attribute__((always_inline)) static void Store(void* p, V v) { _mm_storeu_si128(static_cast<V*>(p), v); }
  __attribute__((always_inline)) static void StoreNt(void* p, V v) { _mm_stream_si128(static_cast<V*>(p), v); }
  __attribute__((always_inline)) static V Splat(unsigned char c) { return _mm_set1_epi8(static_cast<char>(c)); }
};

constexpr char kIsaName[] = "sse2";

#include "pmem2/arch/x86_64/isa_table-inl.h"

}  // namespace
}  // namespace sse2
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

PMEM2_END_TARGET()

namespace pmem2 {
namespace arch {
namespace x86_64 {

const IsaKernels& Sse2Kernels() { return sse2::kKernels; }

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
