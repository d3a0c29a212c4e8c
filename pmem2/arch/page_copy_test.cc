// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/page_copy.h"

#include "gtest/gtest.h"
#include "pmem2/persist_fns.h"

namespace pmem2 {
namespace arch {
namespace {

TEST(PageCopyFlagsTest, NonTemporalFromTheThresholdUnlessTheCallerSaysOtherwise) {
  EXPECT_EQ(PageCopyFlagsFor(kPageNtThreshold - 1, 0, false), kMemTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(kPageNtThreshold, 0, false), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemNoDrain, false), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemTemporal, false), kMemTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemWb, false), kMemWb | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, 0, true), kMemNoDrain) << "PMEM_MOVNT_THRESHOLD decides";
  EXPECT_EQ(PageCopyFlagsFor(64, kMemNonTemporal, false), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(64, kMemWc, false), kMemWc | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemWb | kMemNoDrain, false), kMemWb | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(kPageNtThreshold - 1, kMemNoFlush, false), kMemNoFlush | kMemTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(size_t{2} << 20, kMemNoFlush, false), kMemNoFlush | kMemNonTemporal | kMemNoDrain);
  // A CPU kind's own threshold (x86_64/ops.cc).
  EXPECT_EQ(PageCopyFlagsFor(63, 0, false, 64), kMemTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(64, 0, false, 64), kMemNonTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(64, 0, true, 64), kMemNoDrain) << "PMEM_MOVNT_THRESHOLD decides";
  // A page threshold above the byte tables' (8 MiB on x86-64) still means ordinary stores below it.
  constexpr size_t k48M = size_t{48} << 20;
  EXPECT_EQ(PageCopyFlagsFor(k48M - 1, 0, false, k48M), kMemTemporal | kMemNoDrain);
  EXPECT_EQ(PageCopyFlagsFor(k48M, 0, false, k48M), kMemNonTemporal | kMemNoDrain);
}

// `pmem2 info` prints these (with ", then msync"): they must say what really happens, whatever the environment.
TEST(PageCopyNameTest, DescribesThePathTruthfully) {
  constexpr bool kOwn = false;  // PMEM_MOVNT_THRESHOLD not set: the page thresholds decide
  constexpr bool kUser = true;  // PMEM_MOVNT_THRESHOLD set: the byte tables decide
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kOwn), "avx nt >= 16 KiB");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 0 B", kUser), "avx nt >= 0 B");
  EXPECT_EQ(PageCopyNameFor("avx temporal (PMEM_NO_MOVNT)", kOwn), "avx temporal (PMEM_NO_MOVNT)");
  EXPECT_EQ(PageCopyNameFor("generic", kOwn), "generic");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kOwn, size_t{16} << 10, size_t{2} << 10, 64),
            "avx nt >= 16 KiB on a rewrite, 2 KiB after the thread's last page copy, 64 B far from it");
  EXPECT_EQ(PageCopyNameFor("avx512 nt >= 8 MiB", kOwn, size_t{48} << 20, size_t{64} << 10, 64, size_t{128} << 10,
                            size_t{8} << 20),
            "avx512 nt >= 48 MiB on a rewrite, 64 KiB after the thread's last page copy, 64 B (below 128 KiB, then "
            "8 MiB) far from it");
  EXPECT_EQ(PageCopyNameFor("avx512 nt >= 8 MiB", kUser, size_t{48} << 20, size_t{64} << 10, 64, 0,
                            size_t{8} << 20),
            "avx512 nt >= 8 MiB")
      << "PMEM_MOVNT_THRESHOLD: the byte table's name";
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kOwn, size_t{8} << 20, size_t{64} << 10, 64, size_t{128} << 10),
            "avx nt >= 8 MiB on a rewrite, 64 KiB after the thread's last page copy, 64 B (below 128 KiB) far from it");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kOwn, size_t{16} << 10, 0, 0, size_t{128} << 10), "avx nt >= 16 KiB")
      << "no history: no far bound either";
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kUser, size_t{8} << 20, size_t{64} << 10, 64, size_t{128} << 10),
            "avx nt >= 8 MiB")
      << "PMEM_MOVNT_THRESHOLD decides";
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kOwn, 1000), "avx nt >= 1000 B");
  // Intel 6/167's copies in 32-line batches: said after the page thresholds, or kept in the user's threshold's name.
  EXPECT_EQ(
      PageCopyNameFor("avx512 nt >= 8 MiB, 32-line batches >= 16 KiB", kOwn, size_t{5} << 18, size_t{2} << 10, 64),
      "avx512 nt >= 1280 KiB on a rewrite, 2 KiB after the thread's last page copy, 64 B far from it, 32-line "
      "batches >= 16 KiB");
  EXPECT_EQ(PageCopyNameFor("avx512 nt >= 0 B, 32-line batches >= 16 KiB", kUser),
            "avx512 nt >= 0 B, 32-line batches >= 16 KiB");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kUser, size_t{16} << 10, size_t{2} << 10, 64), "avx nt >= 8 MiB")
      << "PMEM_MOVNT_THRESHOLD decides, with no history";
  // Intel 6/167's rewrites from 128 KiB by string instructions: said after the rewrite threshold, with or without a
  // history; not where the byte table's name is all (PMEM_MOVNT_THRESHOLD, PMEM_NO_MOVNT: no strings then).
  EXPECT_EQ(
      PageCopyNameFor("avx512 nt >= 8 MiB, 32-line batches >= 16 KiB", kOwn, size_t{5} << 18, size_t{2} << 10, 64, 0, 0,
                      size_t{128} << 10, "rep movsq"),
      "avx512 nt >= 1280 KiB on a rewrite (rep movsq from 128 KiB), 2 KiB after the thread's last page copy, 64 B "
      "far from it, 32-line batches >= 16 KiB");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kOwn, size_t{16} << 10, 0, 0, 0, 0, 4096, "rep stosq"),
            "avx nt >= 16 KiB (rep stosq from 4 KiB)");
  EXPECT_EQ(PageCopyNameFor("avx nt >= 8 MiB", kUser, size_t{16} << 10, 0, 0, 0, 0, 4096, "rep stosq"),
            "avx nt >= 8 MiB");
  EXPECT_EQ(PageCopyNameFor("avx temporal (PMEM_NO_MOVNT)", kOwn, size_t{16} << 10, 0, 0, 0, 0, 4096, "rep movsq"),
            "avx temporal (PMEM_NO_MOVNT)");
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
