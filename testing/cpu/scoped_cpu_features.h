// Copyright 2026 The pmem2 Authors.
//
// testing/cpu/scoped_cpu_features.h
// -----------------------------------------------------------------------------
//
// Makes pmem2::arch::CacheLineOps() / ByteOps() / DescribeCpu() behave, for the lifetime of one object, as on
// a CPU with fewer features or with other PMEM_* overrides, so one machine can test every ISA level and flush
// instruction below its own. The test analogue of highway's SetSupportedTargetsForTest().
//
//   TEST_P(CopyTest, Works) {
//     if (!pmem2::testing::CpuHas(GetParam())) GTEST_SKIP();
//     pmem2::testing::ScopedCpuFeatures cpu(GetParam(), pmem2::testing::FlushInstruction::kClflushopt);
//     pmem2::arch::CacheLineOps().memmove(...);   // SSE2 / AVX kernels with CLFLUSHOPT
//   }
//
// Only features the real CPU has can be requested (anything else would fault); the constructor aborts
// otherwise, so check CpuHas() first and skip. Not nestable, and not safe while another thread copies.

#ifndef PMEM2_TESTING_CPU_SCOPED_CPU_FEATURES_H_
#define PMEM2_TESTING_CPU_SCOPED_CPU_FEATURES_H_

#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/x86_64/cpu_features.h"
#include "pmem2/arch/x86_64/ops.h"

namespace pmem2 {
namespace testing {

// The copy-kernel levels, lowest first. kGeneric is the portable loop (no x86-64 CPU lacks SSE2, so only
// tests reach it). kAvx512 selects the AVX-512 kernels even on CPU kinds where they are not the default (it
// adds PMEM_AVX512F=1 to the overrides); kAvx and below remove avx512f from the features.
enum class IsaLevel { kGeneric, kSse2, kAvx, kAvx512 };
enum class FlushInstruction { kClflush, kClflushopt, kClwb };

const char* IsaLevelName(IsaLevel level);
const char* FlushInstructionName(FlushInstruction flush);

// Whether the real CPU (and OS) can run that level / instruction.
bool CpuHas(IsaLevel level);
bool CpuHas(FlushInstruction flush);

// The real CPU's features with everything above `level` and better than `flush` removed.
arch::x86_64::CpuFeatures RestrictedFeatures(IsaLevel level, FlushInstruction flush);

class ScopedCpuFeatures {
 public:
  explicit ScopedCpuFeatures(const arch::x86_64::CpuFeatures& features,
                             const arch::EnvOverrides& overrides = arch::EnvOverrides());
  ScopedCpuFeatures(IsaLevel level, FlushInstruction flush,
                    const arch::EnvOverrides& overrides = arch::EnvOverrides());
  // A selection the test made itself, e.g. the current one with a function replaced to count its calls.
  explicit ScopedCpuFeatures(arch::x86_64::Selection selection);
  ~ScopedCpuFeatures();

  ScopedCpuFeatures(const ScopedCpuFeatures&) = delete;
  ScopedCpuFeatures& operator=(const ScopedCpuFeatures&) = delete;

  const arch::x86_64::Selection& selection() const { return selection_; }

 private:
  arch::x86_64::Selection selection_;
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_CPU_SCOPED_CPU_FEATURES_H_
