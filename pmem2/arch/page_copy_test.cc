// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/page_copy.h"

#include "gtest/gtest.h"
#include "pmem2/persist_fns.h"

namespace pmem2 {
namespace arch {
namespace {

TEST(PageCopyFlagsTest, NonTemporalFromTheThresholdUnlessTheCallerSaysOtherwise) {
  EXPECT_EQ(PageCopyFlagsFor(kPageNtThreshold - 1, 0, false), kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(kPageNtThreshold, 0, false), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemNoDrain, false), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemTemporal, false), kMemTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemWb, false), kMemWb | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, 0, true), kMemNoDrain) << "PMEM_MOVNT_THRESHOLD decides";
  EXPECT_EQ(PageCopyFlagsFor(64, kMemNonTemporal, false), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemNoFlush, false), kMemNoFlush | kMemNonTemporal | kMemNoDrain);
  // A CPU kind's own threshold (x86_64/ops.cc).
  EXPECT_EQ(PageCopyFlagsFor(63, 0, false, 64), kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(64, 0, false, 64), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(64, 0, true, 64), kMemNoDrain) << "PMEM_MOVNT_THRESHOLD decides";
}

TEST(PageCopyUsesStringsTest, InTheRangeUnlessNonTemporalOrTheUsersThreshold) {
  constexpr size_t kFrom = size_t{2} << 10, kBelow = size_t{64} << 10;
  EXPECT_FALSE(PageCopyUsesStringsFor(kFrom - 1, kMemNoDrain, false, kFrom, kBelow));
  EXPECT_TRUE(PageCopyUsesStringsFor(kFrom, kMemNoDrain, false, kFrom, kBelow));
  EXPECT_TRUE(PageCopyUsesStringsFor(kBelow - 1, kMemNoDrain, false, kFrom, kBelow));
  EXPECT_FALSE(PageCopyUsesStringsFor(kBelow, kMemNoDrain, false, kFrom, kBelow));
  EXPECT_FALSE(PageCopyUsesStringsFor(kFrom, kMemNonTemporal | kMemNoDrain, false, kFrom, kBelow))
      << "a non-temporal copy (the caller's flag, or the destination history's choice) stays one";
  EXPECT_FALSE(PageCopyUsesStringsFor(kFrom, kMemWc | kMemNoDrain, false, kFrom, kBelow));
  EXPECT_TRUE(PageCopyUsesStringsFor(kFrom, kMemTemporal | kMemNoDrain, false, kFrom, kBelow))
      << "string instructions are ordinary stores";
  EXPECT_TRUE(PageCopyUsesStringsFor(kFrom, kMemNoFlush | kMemNoDrain, false, kFrom, kBelow));
  EXPECT_FALSE(PageCopyUsesStringsFor(kFrom, kMemNoDrain, true, kFrom, kBelow)) << "PMEM_MOVNT_THRESHOLD decides";
  EXPECT_FALSE(PageCopyUsesStringsFor(kFrom, kMemNoDrain, false, 0, 0)) << "a CPU kind without the range";
}

// `pmem2 info` prints these (with ", then msync"): they must say what really happens, whatever the environment.
TEST(PageCopyNameTest, DescribesThePathTruthfully) {
  EnvOverrides none;
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", none), "avx nt >= 16 KiB");
  EnvOverrides threshold;
  threshold.has_movnt_threshold = true;
  threshold.movnt_threshold = 0;
  EXPECT_EQ(PageCopyNameFor("avx nt >= 0 B", threshold), "avx nt >= 0 B");
  EnvOverrides no_movnt;
  no_movnt.no_movnt = true;
  EXPECT_EQ(PageCopyNameFor("avx temporal (PMEM_NO_MOVNT)", no_movnt), "avx temporal (PMEM_NO_MOVNT)");
  EXPECT_EQ(PageCopyNameFor("generic", none), "generic");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", none, size_t{16} << 10, size_t{2} << 10, 64),
            "avx nt >= 16 KiB on a rewrite, 2 KiB after the thread's last page copy, 64 B far from it");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", none, 1000), "avx nt >= 1000 B");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", threshold, size_t{16} << 10, size_t{2} << 10, 64), "avx nt >= 8 MiB")
      << "PMEM_MOVNT_THRESHOLD decides, with no history";
  EXPECT_EQ(PageCopyNameFor("avx512 nt >= 8 MiB", none, size_t{64} << 10, 0, 0, size_t{2} << 10, size_t{64} << 10),
            "avx512 nt >= 64 KiB, string instructions for 2 KiB to 64 KiB");
  EXPECT_EQ(PageCopyNameFor("avx temporal (PMEM_NO_MOVNT)", no_movnt, size_t{64} << 10, 0, 0, size_t{2} << 10,
                            size_t{64} << 10),
            "avx temporal (PMEM_NO_MOVNT), string instructions for 2 KiB to 64 KiB");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 0 B", threshold, size_t{64} << 10, 0, 0, size_t{2} << 10, size_t{64} << 10),
            "avx nt >= 0 B")
      << "PMEM_MOVNT_THRESHOLD decides alone";
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
