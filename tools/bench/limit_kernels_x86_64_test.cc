// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels_x86_64_test.cc
// -----------------------------------------------------------------------------
//
// On x86-64 the limit picks its instructions from pmem2's own CPU detection: what DescribeLimitKernels() names
// (and the table prints) is what ProcessCpuFeatures() found, the best store and write-back this CPU has.

#include <string>

#include "gtest/gtest.h"
#include "pmem2/arch/x86_64/cpu_features.h"
#include "tools/bench/limit_kernels.h"

namespace pmem2 {
namespace bench {
namespace {

TEST(LimitKernelsX86Test, DescriptionNamesTheBestInstructionsDetected) {
  const arch::x86_64::CpuFeatures& cpu = arch::x86_64::ProcessCpuFeatures();
  const std::string stores = cpu.avx2 ? "avx2" : "sse2";
  const std::string write_back = cpu.clwb ? "clwb" : cpu.clflushopt ? "clflushopt" : "clflush";
  EXPECT_EQ(DescribeLimitKernels(), stores + " nt + sfence; " + write_back + " + sfence") << cpu.Names();
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
