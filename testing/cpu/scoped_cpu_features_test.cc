// Copyright 2026 The pmem2 Authors.

#include "testing/cpu/scoped_cpu_features.h"

#include <string>

#include "gtest/gtest.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace testing {
namespace {

TEST(ScopedCpuFeaturesTest, SwitchesTablesAndRestores) {
  const arch::PersistOps* before = &arch::CacheLineOps();
  const std::string description = arch::DescribeCpu();
  {
    ScopedCpuFeatures cpu(IsaLevel::kSse2, FlushInstruction::kClflush);
    EXPECT_STREQ(arch::CacheLineOps().flush_name, "clflush");
    EXPECT_EQ(std::string(arch::CacheLineOps().memmove_name).rfind("sse2", 0), 0u);
    EXPECT_EQ(arch::DescribeCpu().find("avx"), std::string::npos) << arch::DescribeCpu();
  }
  EXPECT_EQ(&arch::CacheLineOps(), before);
  EXPECT_EQ(arch::DescribeCpu(), description);
}

TEST(ScopedCpuFeaturesTest, GenericLevel) {
  ScopedCpuFeatures cpu(IsaLevel::kGeneric, FlushInstruction::kClflush);
  EXPECT_STREQ(arch::CacheLineOps().memmove_name, "generic");
  EXPECT_STREQ(arch::ByteOps().memmove_name, "generic");
}

TEST(ScopedCpuFeaturesTest, RestrictedFeaturesNeverAddAnything) {
  const auto& real = arch::x86_64::ProcessCpuFeatures();
  const auto f = RestrictedFeatures(IsaLevel::kAvx512, FlushInstruction::kClwb);
  EXPECT_EQ(f.Names(), real.Names());
  EXPECT_FALSE(RestrictedFeatures(IsaLevel::kAvx, FlushInstruction::kClwb).avx512f);
}

// kAvx512 selects the AVX-512 kernels whatever the CPU kind's default; kAvx never does.
TEST(ScopedCpuFeaturesTest, Avx512LevelSelectsTheAvx512Kernels) {
  if (!CpuHas(IsaLevel::kAvx512)) GTEST_SKIP() << "CPU (or OS) lacks avx512f";
  {
    ScopedCpuFeatures cpu(IsaLevel::kAvx512, FlushInstruction::kClflush);
    EXPECT_STREQ(cpu.selection().isa, "avx512");
  }
  ScopedCpuFeatures cpu(IsaLevel::kAvx, FlushInstruction::kClflush);
  EXPECT_STREQ(cpu.selection().isa, "avx");
}

TEST(ScopedCpuFeaturesDeathTest, RefusesFeaturesTheCpuLacks) {
  arch::x86_64::CpuFeatures f = arch::x86_64::ProcessCpuFeatures();
  if (f.movdir64b) GTEST_SKIP() << "this CPU has every feature the check could refuse";
  f.movdir64b = true;
  EXPECT_DEATH({ ScopedCpuFeatures cpu(f); }, "asked for");
}

}  // namespace
}  // namespace testing
}  // namespace pmem2
