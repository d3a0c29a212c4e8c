// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels_x86_64_test.cc
// -----------------------------------------------------------------------------
//
// On x86-64 the limit picks its instructions from pmem2's own CPU detection: what DescribeLimitKernels() names
// (and the table prints) is what ProcessCpuFeatures() found, the best store and write-back this CPU has.

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/arch/x86_64/cpu_features.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/machine.h"

namespace pmem2 {
namespace bench {
namespace {

TEST(LimitKernelsX86Test, DescriptionNamesTheBestInstructionsDetected) {
  const arch::x86_64::CpuFeatures& cpu = arch::x86_64::ProcessCpuFeatures();
  const std::string stores = cpu.avx2 ? "avx2" : "sse2";
  const std::string write_back = cpu.clwb ? "clwb" : cpu.clflushopt ? "clflushopt" : "clflush";
  const std::string fence = write_back == "clflush" ? "mfence" : "sfence";
  EXPECT_EQ(DescribeLimitKernels(), stores + " nt + sfence; " + write_back + " + " + fence) << cpu.Names();
}

// The cache-line strategies are exactly those this CPU has the instructions for, "nt" first.
TEST(LimitKernelsX86Test, StrategiesFollowTheDetectedFeatures) {
  const arch::x86_64::CpuFeatures& cpu = arch::x86_64::ProcessCpuFeatures();
  std::vector<std::string> expected = {"nt"};
  if (cpu.avx512f) expected.insert(expected.end(), {"nt-avx512", "nt-avx512-batch"});
  if (cpu.clwb) expected.insert(expected.end(), {"store+clwb", "store-all+clwb"});
  if (cpu.clflushopt) expected.insert(expected.end(), {"store+clflushopt", "store-all+clflushopt"});
  if (!cpu.clwb && !cpu.clflushopt) expected.insert(expected.end(), {"store+clflush", "store-all+clflush"});
  if (cpu.movdir64b) expected.push_back("movdir64b");
  std::vector<std::string> names;
  for (const LimitStrategy& s : CacheLineLimitStrategies()) names.push_back(s.name);
  EXPECT_EQ(names, expected) << cpu.Names();
}

// The table's CPU kind (from /proc/cpuinfo, which also names the model) is the one pmem2's engine decodes from
// CPUID and selects its defaults by.
TEST(LimitKernelsX86Test, CpuKindMatchesTheEnginesDetection) {
  const arch::x86_64::CpuFeatures& cpu = arch::x86_64::ProcessCpuFeatures();
  const CpuKind& kind = ThisCpuKind();
  if (kind.family < 0) GTEST_SKIP() << "no cpu family in /proc/cpuinfo";
  EXPECT_EQ(static_cast<unsigned>(kind.family), cpu.family);
  EXPECT_EQ(static_cast<unsigned>(kind.model), cpu.model);
  const char* vendor = cpu.vendor == arch::x86_64::CpuVendor::kIntel ? "GenuineIntel"
                       : cpu.vendor == arch::x86_64::CpuVendor::kAmd ? "AuthenticAMD"
                                                                     : nullptr;
  if (vendor != nullptr) {
    EXPECT_EQ(kind.vendor, vendor);
  }
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
