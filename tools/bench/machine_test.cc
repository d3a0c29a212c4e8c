// Copyright 2026 The pmem2 Authors.
//
// tools/bench/machine_test.cc
// -----------------------------------------------------------------------------
//
// The CPU kind from /proc/cpuinfo text, sysfs cache sizes, and the cold window: max(2 GiB, 8 x LLC), capped by
// half the available memory and half the free space, in 2 MiB units.

#include "tools/bench/machine.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(CpuKindTest, ReadsTheFirstProcessorOnly) {
  const CpuKind kind = ParseCpuInfo(
      "processor\t: 0\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 167\n"
      "model name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu clwb\n\n"
      "processor\t: 1\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n");
  EXPECT_EQ(kind.vendor, "GenuineIntel");
  EXPECT_EQ(kind.family, 6);
  EXPECT_EQ(kind.model, 167);
  EXPECT_EQ(DescribeCpuKind(kind), "GenuineIntel family 6 model 167 (Intel(R) Xeon(R) Processor)");
}

TEST(CpuKindTest, MissingFieldsAreLeftOut) {
  EXPECT_EQ(DescribeCpuKind(ParseCpuInfo("")), "unknown CPU kind");
  EXPECT_EQ(DescribeCpuKind(ParseCpuInfo("model name : Some CPU\n")), "Some CPU");
  EXPECT_EQ(DescribeCpuKind(ParseCpuInfo("vendor_id : AuthenticAMD\ncpu family : 25\n")), "AuthenticAMD family 25");
}

TEST(CpuKindTest, ThisMachineHasAKind) { EXPECT_FALSE(DescribeCpuKind(ThisCpuKind()).empty()); }

TEST(CacheSizeTest, SysfsSuffixes) {
  EXPECT_EQ(ParseCacheSize("491520K\n"), 480 * kMiB);
  EXPECT_EQ(ParseCacheSize("32M"), 32 * kMiB);
  EXPECT_EQ(ParseCacheSize("1G"), kGiB);
  EXPECT_EQ(ParseCacheSize("4096"), 4096u);
  EXPECT_EQ(ParseCacheSize(""), 0u);
  EXPECT_EQ(ParseCacheSize("lots"), 0u);
}

TEST(ColdWindowTest, AtLeastTwoGibOrEightTimesTheLastLevelCache) {
  EXPECT_EQ(ColdWindowBytes(32 * kMiB, UINT64_MAX, UINT64_MAX), 2 * kGiB);  // Zen 4: 8 x 32 MiB < 2 GiB
  EXPECT_EQ(ColdWindowBytes(480 * kMiB, UINT64_MAX, UINT64_MAX), 3840 * kMiB);
  EXPECT_EQ(ColdWindowBytes(260 * kMiB, UINT64_MAX, UINT64_MAX), 2080 * kMiB);
  EXPECT_EQ(ColdWindowBytes(0, UINT64_MAX, UINT64_MAX), 2 * kGiB) << "unknown cache: the minimum";
}

TEST(ColdWindowTest, CappedByHalfTheMemoryAndHalfTheFreeSpaceIn2MiBUnits) {
  EXPECT_EQ(ColdWindowBytes(480 * kMiB, 6 * kGiB, UINT64_MAX), 3 * kGiB);
  EXPECT_EQ(ColdWindowBytes(480 * kMiB, UINT64_MAX, 1 * kGiB), 512 * kMiB);
  EXPECT_EQ(ColdWindowBytes(32 * kMiB, 4 * kGiB + 3 * kMiB, UINT64_MAX), 2 * kGiB);
  EXPECT_EQ(ColdWindowBytes(32 * kMiB, 2 * kGiB + 6 * kMiB, UINT64_MAX), kGiB + 2 * kMiB);  // 1 GiB + 3 MiB, rounded
  EXPECT_EQ(ColdWindowBytes(32 * kMiB, 3 * kMiB, UINT64_MAX), 0u);
  EXPECT_EQ(ColdWindowBytes(UINT64_MAX, UINT64_MAX, 10 * kGiB), 5 * kGiB) << "no overflow";
}

TEST(MachineTest, ThisMachineReportsSomething) {
  EXPECT_GT(AvailableMemoryBytes(), 0u);
  EXPECT_GT(FreeBytes("/dev/shm"), 0u);
  EXPECT_EQ(FreeBytes("/nonexistent/folder"), UINT64_MAX);
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
