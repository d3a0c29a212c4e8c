// Copyright 2026 The pmem2 Authors.
//
// The page copies' destination history, end to end through pmem2/arch's PageCopyFlags(): on a CPU kind whose
// row asks for it (family 6 model 167), a copy far from the thread's previous page copy goes non-temporal from
// the far threshold and a near one from the near threshold; elsewhere (Zen 4, unmeasured kinds) the history is
// not consulted and the one threshold decides. The caller's flags and PMEM_MOVNT_THRESHOLD still win.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/cpu_features.h"
#include "testing/cpu/scoped_cpu_features.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace {

CpuFeatures Kind(CpuVendor vendor, unsigned family, unsigned model) {
  CpuFeatures f = ProcessCpuFeatures();
  f.vendor = vendor;
  f.family = family;
  f.model = model;
  return f;
}

constexpr unsigned kNt = kMemNonTemporal | kMemNoDrain;
constexpr unsigned kOrdinary = kMemNoDrain;

class PageCopyHistoryTest : public ::testing::Test {
 protected:
  // 64 MiB of address space, never touched: PageCopyFlags only looks at the addresses.
  const char* At(size_t offset) const { return base_ + offset; }
  std::vector<char> space_ = std::vector<char>((size_t{64} << 20) + 64);
  // Line-aligned, so that the offsets below are whole lines.
  const char* base_ = space_.data() + ((0 - reinterpret_cast<uintptr_t>(space_.data())) & 63);
};

TEST_F(PageCopyHistoryTest, Intel167FollowsTheThreadsDestinations) {
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kIntel, 6, 167));
  EXPECT_EQ(PageCopyFlags(At(32 << 20), 64, 0), kNt) << "far (a jump): non-temporal from 64 B";
  EXPECT_EQ(PageCopyFlags(At(32 << 20), 64, 0), kOrdinary) << "the same line again: a rewrite, below 16 KiB";
  EXPECT_EQ(PageCopyFlags(At((32 << 20) + 64), 2047, 0), kOrdinary) << "the next bytes: ahead, below 2 KiB";
  EXPECT_EQ(PageCopyFlags(At((32 << 20) + 64 + 2047), 2048, 0), kOrdinary)
      << "starts on the last line just written: a rewrite, below 16 KiB";
  EXPECT_EQ(PageCopyFlags(At((32 << 20) + 65 * 64), 2048, 0), kNt) << "the next line: ahead, 2 KiB";
  EXPECT_EQ(PageCopyFlags(At((32 << 20) + 65 * 64), (16 << 10) - 1, 0), kOrdinary) << "a rewrite below 16 KiB";
  EXPECT_EQ(PageCopyFlags(At((32 << 20) + 65 * 64), 16 << 10, 0), kNt) << "a rewrite of 16 KiB";
  EXPECT_EQ(PageCopyFlags(At(1 << 20), 63, 0), kOrdinary) << "far but below 64 B";
  EXPECT_EQ(PageCopyFlags(At(5 << 20), 64, kMemTemporal), kMemTemporal | kMemNoDrain) << "the caller decides";
  EXPECT_EQ(PageCopyFlags(At(5 << 20), 64, kMemNonTemporal), kNt) << "the caller decides";
  EXPECT_EQ(PageCopyFlags(At(9 << 20), 16 << 10, 0), kNt) << "far, large";
  EXPECT_EQ(PageCopyName(), std::string(ByteOps().memmove_name).substr(0, std::string(ByteOps().memmove_name).find(" nt")) +
                                " nt >= 16 KiB on a rewrite, 2 KiB after the thread's last page copy, 64 B far "
                                "from it");
}

TEST_F(PageCopyHistoryTest, Zen4AndUnmeasuredKindsUseOneThreshold) {
  for (const CpuFeatures& f : {Kind(CpuVendor::kAmd, 25, 17), Kind(CpuVendor::kIntel, 6, 85),
                               Kind(CpuVendor::kOther, 0, 0)}) {
    pmem2::testing::ScopedCpuFeatures cpu(f);
    EXPECT_EQ(PageCopyFlags(At(32 << 20), 64, 0), kOrdinary) << "far, but no history here";
    EXPECT_EQ(PageCopyFlags(At(1 << 20), (16 << 10) - 1, 0), kOrdinary);
    EXPECT_EQ(PageCopyFlags(At(1 << 20), 16 << 10, 0), kNt) << "pmem2/arch's 16 KiB";
    EXPECT_EQ(PageCopyName().find("far"), std::string::npos) << PageCopyName();
  }
}

}  // namespace
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
