// Copyright 2026 The pmem2 Authors.
//
// The page copies' destination history, end to end through pmem2/arch's PageCopyFlags(): on a CPU kind whose
// row asks for it (Intel family 6 models 167 and 207, Zen 5), a copy far from the thread's previous page copy goes
// non-temporal from the far threshold (below a bound, where the row sets one), one just ahead from the ahead
// threshold and a rewrite from the rewrite threshold; elsewhere (Zen 4, unmeasured kinds) the history is not
// consulted and the one threshold decides. The caller's flags and PMEM_MOVNT_THRESHOLD still win; each thread has
// its own history.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/arch/backend.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/page_copy.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/cpu_features.h"
#include "pmem2/arch/x86_64/ops_for_test.h"
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
constexpr unsigned kOrdinary = kMemTemporal | kMemNoDrain;
// Ordinary stores by string instructions (Intel 6/167's and 6/207's rewrites from 128 KiB: backend.h, string_from).
constexpr unsigned kString = kOrdinary | kPageStringStores;
constexpr unsigned kByteTableDecides = kMemNoDrain;  // under PMEM_MOVNT_THRESHOLD

class PageCopyHistoryTest : public ::testing::Test {
 protected:
  // 64 MiB of address space, never touched: PageCopyFlags only looks at the addresses.
  const char* At(size_t offset) const { return base_ + offset; }
  std::vector<char> space_ = std::vector<char>((size_t{64} << 20) + 64);
  // Line-aligned, so that the offsets below are whole lines.
  const char* base_ = space_.data() + ((0 - reinterpret_cast<uintptr_t>(space_.data())) & 63);
  // Under a CPU kind with a history: records the end of the space as this thread's last page copy, so that a
  // test's first copy anywhere below 60 MiB is far whatever ran before it on this thread (--gtest_shuffle,
  // --gtest_repeat). The history is that one line, nothing else.
  void Forget() const { PageCopyFlags(At(size_t{64} << 20), 1, 0); }
};

// page_copy_history_movnt_threshold_test runs this file with PMEM_MOVNT_THRESHOLD=4096: the user's threshold,
// not the history, decides there.
bool UserThreshold() { return std::getenv("PMEM_MOVNT_THRESHOLD") != nullptr; }

TEST_F(PageCopyHistoryTest, TheUsersThresholdWinsOverTheHistory) {
  if (!UserThreshold()) GTEST_SKIP() << "runs under PMEM_MOVNT_THRESHOLD=4096 (its own target)";
  for (const CpuFeatures& f :
       {Kind(CpuVendor::kIntel, 6, 167), Kind(CpuVendor::kIntel, 6, 207), Kind(CpuVendor::kAmd, 26, 2)}) {
    pmem2::testing::ScopedCpuFeatures cpu(f, arch::ProcessEnvOverrides());
    EXPECT_EQ(PageCopyFlags(At(32 << 20), 64, 0), kByteTableDecides) << "far, but the byte table's threshold decides";
    EXPECT_EQ(PageCopyFlags(At(1 << 20), 4095, 0), kByteTableDecides);
    EXPECT_EQ(PageCopyFlags(At(1 << 20), 4096, 0), kByteTableDecides)
        << "left to the byte table, whose own threshold (PMEM_MOVNT_THRESHOLD) then goes non-temporal";
    EXPECT_EQ(PageCopyName().find("far"), std::string::npos) << PageCopyName();
    EXPECT_NE(PageCopyName().find(" nt >= 4 KiB"), std::string::npos) << PageCopyName();
    EXPECT_EQ(PageCopyFlags(At(1 << 20), size_t{8} << 20, 0, PageWrite::kFill), kByteTableDecides) << "fills too";
    for (const PageWrite write : {PageWrite::kCopy, PageWrite::kFill}) {
      EXPECT_EQ(PageCopyFlags(At(12 << 20), size_t{256} << 10, 0, write), kByteTableDecides);
      EXPECT_EQ(PageCopyFlags(At(12 << 20), size_t{256} << 10, 0, write), kByteTableDecides)
          << "256 KiB written again: no string instructions either (the Intel rows' from 128 KiB)";
    }
    EXPECT_EQ(PageCopyName().find("rep movsq"), std::string::npos) << PageCopyName();
    const std::string batches = CurrentSelection().nt_copy_batch_from != 0 ? ", 32-line batches >= 16 KiB" : "";
    EXPECT_EQ(PageCopyName(PageWrite::kFill) + batches, PageCopyName()) << "a fill's name never names batches";
  }
}

// The page plan follows the installed selection's overrides, not the process's environment: with and without
// PMEM_MOVNT_THRESHOLD among them, whichever way this binary runs.
TEST_F(PageCopyHistoryTest, TheInstalledSelectionsThresholdDecidesNotTheProcesss) {
  for (const bool user_threshold : {true, false}) {
    EnvOverrides overrides = ProcessEnvOverrides();
    overrides.has_movnt_threshold = user_threshold;
    overrides.movnt_threshold = user_threshold ? 4096 : 0;
    pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kAmd, 26, 2), overrides);
    Forget();
    EXPECT_EQ(backend::PagePlan().threshold_from_environment, user_threshold);
    EXPECT_EQ(PageCopyFlags(At(32 << 20), 64, 0), user_threshold ? kByteTableDecides : kNt) << user_threshold;
    if (user_threshold) {
      EXPECT_EQ(PageCopyName(), ByteOps().memmove_name);
      EXPECT_NE(PageCopyName().find(" nt >= 4 KiB"), std::string::npos) << PageCopyName();
    } else {
      EXPECT_NE(PageCopyName().find(" far from it"), std::string::npos) << PageCopyName();
    }
  }
}

// Each thread has its own history: another thread's copies in between do not make this thread's next line far.
TEST_F(PageCopyHistoryTest, EachThreadHasItsOwnHistory) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kIntel, 6, 167));
  Forget();
  const size_t x = size_t{8} << 20;
  EXPECT_EQ(PageCopyFlags(At(x), 100, 0), kNt) << "this thread: far";
  unsigned other[2] = {};
  std::thread([&] {
    other[0] = PageCopyFlags(At(x + 128), 100, 0);  // where this thread's next copy goes: far for the other one
    other[1] = PageCopyFlags(At(40 << 20), 100, 0);
  }).join();
  EXPECT_EQ(other[0], kNt) << "the other thread's first copy is far, whatever this thread wrote";
  EXPECT_EQ(other[1], kNt);
  EXPECT_EQ(PageCopyFlags(At(x + 128), 100, 0), kOrdinary) << "this thread's next line: ahead";
}

TEST_F(PageCopyHistoryTest, Intel167FollowsTheThreadsDestinations) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kIntel, 6, 167));
  Forget();
  const size_t x = size_t{32} << 20;
  const auto line = [&](size_t n) { return At(x + 64 * n); };
  EXPECT_EQ(PageCopyFlags(At(x), 64, 0), kNt) << "far (a jump): non-temporal";
  EXPECT_EQ(PageCopyFlags(At(x), 64, 0), kOrdinary)
      << "the same line again: a rewrite, although written non-temporally (one cold miss, then cached)";
  EXPECT_EQ(PageCopyFlags(line(1), 2047, 0), kOrdinary) << "the next bytes: ahead, below 2 KiB";
  EXPECT_EQ(PageCopyFlags(At(x + 64 + 2047), 2048, 0), kNt)
      << "starts on the last line just written (32) and runs on to line 64: the next record of a stream, ahead";
  EXPECT_EQ(PageCopyFlags(line(1), 2048, 0), kOrdinary) << "63 lines back, ending before the last line: a rewrite";
  EXPECT_EQ(PageCopyFlags(line(1), (16 << 10) - 1, 0), kNt)
      << "31 lines back, but running on 224 lines past the last line written: mostly new lines, ahead";
  EXPECT_EQ(PageCopyFlags(line(246), 16 << 10, 0), kNt) << "lines 246-501 after 1-256: ahead again";
  EXPECT_EQ(PageCopyFlags(line(502), 2048, 0), kNt) << "the next line: ahead, 2 KiB";
  EXPECT_EQ(PageCopyFlags(line(534), 100, 0), kOrdinary) << "a stream goes on after a non-temporal copy";
  EXPECT_EQ(PageCopyFlags(line(534), 64, 0), kOrdinary) << "a rewrite";
  EXPECT_EQ(PageCopyFlags(At(1 << 20), 63, 0), kOrdinary) << "far but below 64 B";
  EXPECT_EQ(PageCopyFlags(At(5 << 20), 64, kMemTemporal), kMemTemporal | kMemNoDrain) << "the caller decides";
  EXPECT_EQ(PageCopyFlags(At(5 << 20), 64, kMemNonTemporal), kNt) << "the caller decides";
  EXPECT_EQ(PageCopyFlags(At(9 << 20), 16 << 10, 0), kNt) << "far, large";
  EXPECT_EQ(PageCopyFlags(At(40 << 20), 8 << 10, 0), kNt) << "far";
  EXPECT_EQ(PageCopyFlags(At(40 << 20), 8 << 10, 0), kOrdinary)
      << "the same 8 KiB again: 127 lines back, beyond the default 64, but it covers the last line written";
  EXPECT_EQ(PageCopyFlags(At(41 << 20), 8 << 10, 0), kNt) << "another 8 KiB buffer: far";
  EXPECT_EQ(PageCopyFlags(At(40 << 20), 8 << 10, 0), kNt)
      << "the first buffer again after the other: far (the history is one line; two buffers in turn look like jumps)";
  // The same buffer again, at the rewrite thresholds: copies 1.25 MiB, fills 48 MiB.
  constexpr size_t k1_25M = size_t{5} << 18;
  constexpr size_t k48M = size_t{48} << 20;
  EXPECT_EQ(PageCopyFlags(At(0), 64, 0), kNt) << "a jump";
  EXPECT_EQ(PageCopyFlags(At(0), k1_25M - 1, 0), kNt)
      << "a buffer's first write, from the last line written on: it runs on past that line, ahead (a stream)";
  EXPECT_EQ(PageCopyFlags(At(0), k1_25M - 1, 0), kString) << "the same buffer again, just below 1.25 MiB";
  EXPECT_EQ(PageCopyFlags(At(0), k1_25M, 0), kNt) << "the same buffer again, 1.25 MiB: non-temporal";
  EXPECT_EQ(PageCopyFlags(At(0), k1_25M, 0, PageWrite::kFill), kString) << "filled: ordinary stores, as strings";
  EXPECT_EQ(PageCopyFlags(At(0), k48M - 1, 0, PageWrite::kFill), kNt) << "a larger buffer's first fill: ahead";
  EXPECT_EQ(PageCopyFlags(At(0), k48M - 1, 0, PageWrite::kFill), kString) << "filled again, just below 48 MiB";
  EXPECT_EQ(PageCopyFlags(At(0), k48M, 0, PageWrite::kFill), kNt) << "filled, 48 MiB";
  EXPECT_EQ(PageCopyFlags(At(0), k48M, 0), kNt) << "copied, 48 MiB";
  EXPECT_EQ(PageCopyFlags(At(k48M), 2 << 10, 0, PageWrite::kFill), kNt) << "a fill ahead: 2 KiB, as a copy";
  EXPECT_EQ(PageCopyFlags(At(k48M + (2 << 10)), (2 << 10) - 1, 0, PageWrite::kFill), kOrdinary) << "below it";
  EXPECT_EQ(PageCopyFlags(At(60 << 20), 64, 0, PageWrite::kFill), kNt) << "a fill far: 64 B, as a copy";
  const std::string kernel = ByteOps().memmove_name;
  const std::string rest = ", 2 KiB after the thread's last page copy, 64 B far from it";
  const std::string after = " on a rewrite (rep movsq from 128 KiB)" + rest;
  const std::string fill_after = " on a rewrite (rep stosq from 128 KiB)" + rest;
  // With the AVX-512 kernels this row's copies of 16 KiB and more go in 32-line batches; its fills never do.
  const std::string batches = CurrentSelection().nt_copy_batch_from != 0 ? ", 32-line batches >= 16 KiB" : "";
  EXPECT_EQ(batches.empty(), std::string(CurrentSelection().isa) != "avx512");
  EXPECT_EQ(PageCopyName(), kernel.substr(0, kernel.find(" nt")) + " nt >= 1280 KiB" + after + batches);
  EXPECT_EQ(PageCopyName(PageWrite::kFill), kernel.substr(0, kernel.find(" nt")) + " nt >= 48 MiB" + fill_after);
}

// Intel 6/167 and 6/207 write a rewrite with the default store kind from 128 KiB by string instructions
// (kPageStringStores: the plan's REP MOVSQ / REP STOSQ kernels), up to the rewrite thresholds (copies 1.25 MiB, fills
// 48 MiB and 64 MiB: the tests below); never ahead or far, nor where the caller chose the kind of store, nor from a
// caller's flags carrying the bit, nor under PMEM_NO_MOVNT; no other row does.
TEST_F(PageCopyHistoryTest, IntelRowsWriteRewritesFrom128KiBByStringInstructions) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  constexpr size_t k128K = size_t{128} << 10;
  for (const unsigned model : {167u, 207u}) {
    pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kIntel, 6, model));
    for (const PageWrite write : {PageWrite::kCopy, PageWrite::kFill}) {
      const std::string what = "6/" + std::to_string(model) + (write == PageWrite::kFill ? " fill " : " copy ");
      Forget();
      EXPECT_EQ(PageCopyFlags(At(0), k128K - 1, 0, write), kNt) << what << "a jump";
      EXPECT_EQ(PageCopyFlags(At(0), k128K - 1, 0, write), kOrdinary)
          << what << "rewritten, 128 KiB - 1: the vector loop";
      EXPECT_EQ(PageCopyFlags(At(0), k128K, 0, write), kString) << what << "rewritten, 128 KiB: string instructions";
      EXPECT_EQ(PageCopyFlags(At(3), k128K, 0, write), kString) << what << "at any alignment";
      EXPECT_EQ(PageCopyFlags(At(0), k128K, kMemNoDrain, write), kString) << what;
      EXPECT_EQ(PageCopyFlags(At(0), k128K, kMemNoFlush, write), kString | kMemNoFlush) << what << "the copy alone";
      EXPECT_EQ(PageCopyFlags(At(0), k128K, kMemTemporal, write), kOrdinary) << what << "the caller chose the store";
      EXPECT_EQ(PageCopyFlags(At(0), k128K, kMemWb, write), kMemWb | kMemNoDrain)
          << what << "the caller chose the store";
      EXPECT_EQ(PageCopyFlags(At(0), k128K, kMemNonTemporal, write), kNt) << what << "the caller chose the store";
      EXPECT_EQ(PageCopyFlags(At(0), k128K, kMemWc, write), kMemWc | kMemNoDrain)
          << what << "the caller chose the store";
      EXPECT_EQ(PageCopyFlags(At(k128K), k128K, 0, write), kNt) << what << "the next lines: ahead";
      EXPECT_EQ(PageCopyFlags(At(40 << 20), 1024, kPageStringStores, write), kNt)
          << what << "far: the caller's bit is not the page copy's";
      EXPECT_EQ(PageCopyFlags(At(40 << 20), 1024, kPageStringStores, write), kOrdinary)
          << what << "a rewrite below 128 KiB";
    }
  }
  // Under PMEM_NO_MOVNT, and on Zen 5, the same buffer written again takes the vector loop (kOrdinary), as before.
  EnvOverrides no_movnt = ProcessEnvOverrides();
  no_movnt.no_movnt = true;
  for (const CpuFeatures& f :
       {Kind(CpuVendor::kIntel, 6, 167), Kind(CpuVendor::kIntel, 6, 207), Kind(CpuVendor::kAmd, 26, 2)}) {
    pmem2::testing::ScopedCpuFeatures other(f, f.vendor == CpuVendor::kIntel ? no_movnt : ProcessEnvOverrides());
    for (const size_t n : {k128K, size_t{1} << 20}) {
      for (const PageWrite write : {PageWrite::kCopy, PageWrite::kFill}) {
        Forget();
        EXPECT_EQ(PageCopyFlags(At(0), n, 0, write), kNt) << f.model << ": a jump";
        EXPECT_EQ(PageCopyFlags(At(0), n, 0, write), kOrdinary) << f.model << ": " << n << " B written again";
      }
    }
    EXPECT_EQ(PageCopyName().find("rep movsq"), std::string::npos) << PageCopyName();
    EXPECT_EQ(PageCopyName(PageWrite::kFill).find("rep stosq"), std::string::npos) << PageCopyName();
  }
}

// The copies and fills that PageCopyFlags sends to the string kernels, through pmem2/arch's PageMemmove and
// PageMemset with Intel 6/167's and 6/207's rows on this CPU: the bytes of memmove and memset, nothing around them
// changed, at destination and source offsets that leave 1-7 byte pieces before and after the 8-byte words, and an
// overlapping move, which takes the kernel's ordinary-store fallback.
TEST_F(PageCopyHistoryTest, IntelStringRewritesWriteTheRightBytes) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  for (const unsigned model : {167u, 207u}) {
    SCOPED_TRACE("6/" + std::to_string(model));
    pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kIntel, 6, model));
    constexpr size_t kGuard = 64, k128K = size_t{128} << 10, kMost = 2 * k128K + 64;
    std::vector<unsigned char> buf(kGuard + kMost + kGuard), want, src(kMost);
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 3);
    for (const size_t n : {k128K, k128K + 1, k128K + 4096 + 13, 2 * k128K}) {
      for (const size_t dst_off : {0, 3, 8, 61}) {
        for (const size_t src_off : {0, 5}) {
          const std::string where =
              std::to_string(n) + " B at +" + std::to_string(dst_off) + " from +" + std::to_string(src_off);
          for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i);
          unsigned char* d = buf.data() + kGuard + dst_off;
          PageMemmove(d, src.data(), n, kMemNoFlush);  // the buffer's first write: far
          ASSERT_EQ(PageCopyFlags(d, n, 0) & kPageStringStores, kPageStringStores) << where << ": a string rewrite";
          want = buf;
          std::memcpy(want.data() + kGuard + dst_off, src.data() + src_off, n);
          EXPECT_EQ(PageMemmove(d, src.data() + src_off, n, 0), d) << where;
          EXPECT_TRUE(buf == want) << "copy " << where;
          std::memset(want.data() + kGuard + dst_off, 0x5a, n);
          EXPECT_EQ(PageMemset(d, 0x5a, n, 0), d) << where;
          EXPECT_TRUE(buf == want) << "fill " << where;
        }
      }
    }
    // A move within the buffer, written again: the source starts 1000 bytes into the destination's range.
    for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 5);
    unsigned char* d = buf.data() + kGuard;
    PageMemset(d, 1, k128K, kMemNoFlush);
    ASSERT_EQ(PageCopyFlags(d, k128K, 0) & kPageStringStores, kPageStringStores);
    want = buf;
    std::memmove(want.data() + kGuard, want.data() + kGuard + 1000, k128K);
    PageMemmove(d, d + 1000, k128K, 0);
    EXPECT_TRUE(buf == want) << "overlapping move";
  }
}

// A stream of records that are not whole lines: each starts on the line where the previous one ended, which on its own
// would make it a rewrite. The Intel rows (6/167, 6/207) count a record that runs on past that line as ahead
// (non-temporal from 2 KiB, as streams of whole lines); Zen 5's row, not measured on such a stream, keeps it a rewrite
// (ordinary stores below 8 MiB).
TEST_F(PageCopyHistoryTest, RecordsThatAreNotWholeLinesStreamOnTheIntelRows) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  for (const CpuFeatures& f :
       {Kind(CpuVendor::kIntel, 6, 167), Kind(CpuVendor::kIntel, 6, 207), Kind(CpuVendor::kAmd, 26, 2)}) {
    const bool intel = f.vendor == CpuVendor::kIntel;
    pmem2::testing::ScopedCpuFeatures cpu(f);
    for (const size_t record : {size_t{1000}, size_t{8} << 10 | 8, size_t{64} << 10 | 8, size_t{1} << 20 | 8}) {
      const std::string where =
          std::to_string(f.family) + "/" + std::to_string(f.model) + " records of " + std::to_string(record);
      Forget();
      EXPECT_EQ(PageCopyFlags(At(0), record, 0), kNt) << where << ": the first one is far";
      for (size_t i = 1; i < 8; ++i) {
        const bool nt = intel ? record >= 2048 : false;
        EXPECT_EQ(PageCopyFlags(At(i * record), record, 0), nt ? kNt : kOrdinary) << where << ", record " << i;
      }
    }
  }
}

// Where a rewrite that runs on ends: it stays a rewrite while it runs on by at most kNearLinesAhead lines or by no more
// lines than it rewrites (a buffer written again a little longer), and is ahead beyond (the run_on_is_ahead of Intel
// 6/167 and 6/207).
TEST_F(PageCopyHistoryTest, IntelRowsARewriteThatRunsOnByMoreThanItRewritesIsAhead) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  for (const unsigned model : {167u, 207u}) {
    SCOPED_TRACE("6/" + std::to_string(model));
    pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kIntel, 6, model));
    const size_t far = cpu.selection().page.far;  // 6/207: non-temporal from 512 B after a jump
    const auto after = [&](size_t first_lines, size_t then_lines) {
      Forget();
      EXPECT_EQ(PageCopyFlags(At(0), 64 * first_lines, 0), 64 * first_lines >= far ? kNt : kOrdinary) << "a jump";
      return PageCopyFlags(At(0), 64 * then_lines, 0);
    };
    EXPECT_EQ(after(20, 40), kOrdinary) << "20 lines rewritten, 20 past: a rewrite (2560 B)";
    EXPECT_EQ(after(20, 41), kNt) << "20 lines rewritten, 21 past: ahead (2624 B, from 2 KiB)";
    EXPECT_EQ(after(125, 128), kOrdinary) << "8000 B written again as 8192 B: a rewrite";
    EXPECT_EQ(after(1, 34), kNt) << "a line rewritten, 33 past: ahead";
    EXPECT_EQ(after(33, 35), kOrdinary) << "2 lines past: a rewrite";
    EXPECT_EQ(after(2000, 2048), kString) << "128 KiB written again 48 lines longer: a rewrite, by string instructions";
    Forget();
    EXPECT_EQ(PageCopyFlags(At(0), 2048, 0), kNt) << "a jump";
    EXPECT_EQ(PageCopyFlags(At(0), 0, 0), kOrdinary) << "nothing, at the buffer's start: a rewrite of no lines";
    EXPECT_EQ(PageCopyFlags(At(0), 2048, 0), kNt)
        << "the history is the empty copy's line: one line rewritten, 31 past";
  }
}

// Zen 5 (26/2): ordinary stores on a rewrite up to the byte tables' 8 MiB, ahead below 16 KiB; non-temporal ones
// far from the previous copy from 8 B and below 8 MiB, larger far copies as a rewrite. A copy that starts up to
// 128 KiB before the last line written is a rewrite, and so is one that covers that line (the same buffer again).
TEST_F(PageCopyHistoryTest, Zen5GoesNonTemporalForFarCopiesBelow8MiB) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kAmd, 26, 2));
  Forget();
  constexpr size_t k64K = size_t{64} << 10;
  constexpr size_t k8M = size_t{8} << 20;
  const size_t x = size_t{32} << 20;
  const auto line = [&](size_t n) { return At(x + 64 * n); };
  EXPECT_EQ(PageCopyFlags(At(x), 64, 0), kNt) << "far (a jump): non-temporal";
  EXPECT_EQ(PageCopyFlags(At(x), 64, 0), kOrdinary) << "the same line again: a rewrite";
  EXPECT_EQ(PageCopyFlags(At(x), 16 << 10, 0), kOrdinary) << "a rewrite";
  EXPECT_EQ(PageCopyFlags(At(x), 16 << 10, 0), kOrdinary)
      << "the same 16 KiB again: 255 lines before the last one written, still a rewrite here";
  EXPECT_EQ(PageCopyFlags(At(x), 2 * k64K - 64, 0), kOrdinary) << "a rewrite (lines 0-2046)";
  EXPECT_EQ(PageCopyFlags(At(x), 2 * k64K - 64, 0), kOrdinary) << "the same again: 2046 lines back, a rewrite";
  EXPECT_EQ(PageCopyFlags(line(2047), (16 << 10) - 1, 0), kOrdinary) << "the next line: ahead, below 16 KiB (to 2302)";
  EXPECT_EQ(PageCopyFlags(line(2303), k64K - 64 * 257, 0), kNt) << "ahead, 16 KiB and more (to 3069)";
  EXPECT_EQ(PageCopyFlags(line(3070), k64K, 0), kNt) << "ahead, 64 KiB (to line 4093)";
  EXPECT_EQ(PageCopyFlags(line(4093 - 2048), 64, 0), kOrdinary) << "2048 lines before the last one: a rewrite";
  EXPECT_EQ(PageCopyFlags(line(2045), k8M - 1, 0), kOrdinary) << "a rewrite just below 8 MiB (to line 133116)";
  EXPECT_EQ(PageCopyFlags(line(133116), k8M, 0), kNt) << "a rewrite of 8 MiB: the byte tables' threshold";
  const size_t y = size_t{20} << 20;
  EXPECT_EQ(PageCopyFlags(At(y), 64, 0), kNt) << "a jump (28 MiB back)";
  EXPECT_EQ(PageCopyFlags(At(y - 2048 * 64), 64, 0), kOrdinary) << "2048 lines back: a rewrite";
  EXPECT_EQ(PageCopyFlags(At(y - 4097 * 64), 64, 0), kNt) << "2049 lines further back: far";
  // The last line written is now y - 4097 lines; a 1 MiB buffer ending on it, written again, covers it.
  const char* last_line = At(y - 4097 * 64);
  constexpr size_t k1M = size_t{1} << 20;
  EXPECT_EQ(PageCopyFlags(last_line + 64 - k1M, k1M, 0), kOrdinary) << "1 MiB covering the last line: a rewrite";
  EXPECT_EQ(PageCopyFlags(last_line + 64 - k1M, k1M, 0), kOrdinary) << "the same 1 MiB again: a rewrite";
  EXPECT_EQ(PageCopyFlags(last_line - k1M - 64, k1M, 0), kNt)
      << "1 MiB ending two lines before the last one written: far, non-temporal below 8 MiB";
  EXPECT_EQ(PageCopyFlags(At(60 << 20), 8, 0), kNt) << "far, 8 B: a record below a line";
  EXPECT_EQ(PageCopyFlags(At(52 << 20), 7, 0), kOrdinary) << "far but below 8 B";
  EXPECT_EQ(PageCopyFlags(At(40 << 20), 2 * k64K, 0), kNt) << "far, 128 KiB";
  EXPECT_EQ(PageCopyFlags(At(20 << 20), k8M - 1, 0), kNt) << "far, just below 8 MiB";
  EXPECT_EQ(PageCopyFlags(At(20 << 20) + k8M, 4096, 0), kOrdinary) << "ahead";
  EXPECT_EQ(PageCopyFlags(At(0), k8M - 1, 0), kNt) << "far right after a stream, as after a jump";
  EXPECT_EQ(PageCopyFlags(At(48 << 20), k8M, 0), kNt) << "far, 8 MiB: as a rewrite, whose threshold is 8 MiB";
  EXPECT_EQ(PageCopyFlags(At(60 << 20) + 4096, 4096, kMemTemporal), kMemTemporal | kMemNoDrain)
      << "far, yet the caller decides";
  EXPECT_EQ(PageCopyFlags(At(60 << 20) + 4096, 4096, kMemNonTemporal), kNt) << "a rewrite, yet the caller decides";
  const std::string byte_name = ByteOps().memmove_name;
  EXPECT_EQ(PageCopyName(), byte_name.substr(0, byte_name.find(" nt")) +
                                " nt >= 8 MiB on a rewrite, 16 KiB after the thread's last page copy, 8 B (below "
                                "8 MiB) far from it");
}

// Zen 5's fills (memset): on a rewrite, where copies take the rewrite threshold (8 MiB), fills take 48 MiB; ahead of
// the last one they go non-temporal from 32 KiB where copies do from 16 KiB; far ones, random or a ring wrapping
// around, as copies (non-temporal at every size).
TEST_F(PageCopyHistoryTest, Zen5FillsWithOrdinaryStoresUpTo48MiBOnARewrite) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kAmd, 26, 2));
  Forget();
  constexpr PageWrite kFill = PageWrite::kFill;
  constexpr size_t k8M = size_t{8} << 20;
  constexpr size_t k48M = size_t{48} << 20;
  EXPECT_EQ(PageCopyFlags(At(0), 64, 0, kFill), kNt) << "far (a jump): non-temporal, as a copy";
  EXPECT_EQ(PageCopyFlags(At(0), k8M, 0, kFill), kOrdinary) << "a rewrite of 8 MiB, where a copy goes non-temporal";
  // The same buffer again covers the last line written: a rewrite, whose threshold for copies is 8 MiB.
  EXPECT_EQ(PageCopyFlags(At(0), k8M, 0), kNt) << "the same 8 MiB copied";
  EXPECT_EQ(PageCopyFlags(At(0), k48M - 1, 0, kFill), kOrdinary) << "the same buffer filled, just below 48 MiB";
  EXPECT_EQ(PageCopyFlags(At(0), k48M, 0, kFill), kNt) << "the same buffer filled, 48 MiB";
  EXPECT_EQ(PageCopyFlags(At(k48M), k8M, 0, kFill), kNt) << "ahead, 8 MiB: fills from 32 KiB";
  EXPECT_EQ(PageCopyFlags(At(0), k8M, 0, kFill), kNt) << "far, 8 MiB, right after a stream: a ring wrapping";
  EXPECT_EQ(PageCopyFlags(At(0), k8M, 0, kFill), kOrdinary) << "the same 8 MiB again, after a jump";
  EXPECT_EQ(PageCopyFlags(At(k8M), 32 << 10, 0, kFill), kNt) << "ahead, 32 KiB";
  EXPECT_EQ(PageCopyFlags(At(32 << 20), (128 << 10) - 1, 0, kFill), kNt) << "far below 8 MiB: as a copy";
  EXPECT_EQ(PageCopyFlags(At(40 << 20), k8M, 0, kFill), kNt) << "far, 8 MiB, after a jump (random fills): as a copy";
  EXPECT_EQ(PageCopyFlags(At(40 << 20) + k8M, 4096, 0, kFill), kOrdinary) << "ahead, 4 KiB";
  EXPECT_EQ(PageCopyFlags(At(40 << 20) + k8M + 4096, (32 << 10) - 1, 0, kFill), kOrdinary)
      << "ahead, just below 32 KiB: ordinary stores, where a copy is non-temporal from 16 KiB";
  EXPECT_EQ(PageCopyFlags(At(40 << 20) + k8M - 4096, k8M, 0, kFill), kOrdinary)
      << "a rewrite of 8 MiB starting before the last line written, after a stream";
  EXPECT_EQ(PageCopyFlags(At(4 << 20), k8M, kMemTemporal, kFill), kOrdinary) << "far, yet the caller decides";
  EXPECT_EQ(PageCopyFlags(At(4 << 20), k8M, kMemNonTemporal, kFill), kNt) << "a rewrite, yet the caller decides";
  EXPECT_EQ(PageCopyFlags(At(4 << 20) + k8M, 64, 0, kFill), kOrdinary) << "ahead, 64 B";
  EXPECT_EQ(PageCopyFlags(At(60 << 20), 8, 0, kFill), kNt) << "far, 8 B: a record below a line, as a copy";
  EXPECT_EQ(PageCopyFlags(At(52 << 20), 7, 0, kFill), kOrdinary) << "far but below 8 B";
  const std::string byte_name = ByteOps().memmove_name;
  EXPECT_EQ(PageCopyName(kFill), byte_name.substr(0, byte_name.find(" nt")) +
                                     " nt >= 48 MiB on a rewrite, 32 KiB after the thread's last page copy, 8 B "
                                     "(below 8 MiB, then 8 MiB) far from it");
}

// Every other CPU kind: fills take the copies' thresholds, along a sequence that visits every class (far,
// rewrite, ahead, far after a stream, large far after a jump) at sizes around each row's thresholds. (Intel 6/167
// fills on a rewrite up to 48 MiB: Intel167FollowsTheThreadsDestinations; Emerald Rapids: EveryRowThresholdExactly.)
TEST_F(PageCopyHistoryTest, OtherKindsFillAsTheyCopy) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  struct Step {
    size_t offset, size;
  };
  constexpr size_t k1M = size_t{1} << 20;
  const std::vector<Step> steps = {
      {32 * k1M, 64},       {32 * k1M, 2048},          {32 * k1M + 2048, 2048}, {32 * k1M + 4096, 16 << 10},
      {0, 64},              {0, 16 << 10},             {16 << 10, 2 << 10},     {8 * k1M, 256 << 10},
      {20 * k1M, 8 * k1M},  {28 * k1M, (16 << 10) - 1}, {40 * k1M, 8 * k1M},    {48 * k1M, 8 * k1M - 1},
  };
  for (const CpuFeatures& f : {Kind(CpuVendor::kAmd, 25, 17), Kind(CpuVendor::kOther, 0, 0)}) {
    pmem2::testing::ScopedCpuFeatures cpu(f);
    EXPECT_EQ(PageCopyName(PageWrite::kFill), PageCopyName()) << f.family << "/" << f.model;
    std::vector<unsigned> copies, fills;
    Forget();
    for (const Step& s : steps) copies.push_back(PageCopyFlags(At(s.offset), s.size, 0));
    Forget();
    for (const Step& s : steps) fills.push_back(PageCopyFlags(At(s.offset), s.size, 0, PageWrite::kFill));
    EXPECT_EQ(fills, copies) << f.family << "/" << f.model;
  }
}

// A row without a history (far == 0) may still give fills a threshold of their own; no measured row does today,
// so a Zen 4 selection with one added stands in for it: every fill is as a rewrite, at the fills' threshold.
TEST_F(PageCopyHistoryTest, ARowWithoutAHistoryStillFillsByItsOwnThreshold) {
  if (UserThreshold()) GTEST_SKIP() << "the rows' thresholds are off under PMEM_MOVNT_THRESHOLD";
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kAmd, 25, 17));
  Selection own_fills = cpu.selection();
  ASSERT_EQ(own_fills.page.far, 0u) << "Zen 4's row has no page history";
  constexpr size_t k48M = size_t{48} << 20;
  own_fills.page.fill_rewrite = k48M;
  InstallSelectionForTest(&own_fills);
  EXPECT_EQ(PageCopyFlags(At(0), size_t{8} << 20, 0), kNt) << "copies: the row's 16 KiB";
  EXPECT_EQ(PageCopyFlags(At(0), size_t{8} << 20, 0, PageWrite::kFill), kOrdinary);
  EXPECT_EQ(PageCopyFlags(At(32 << 20), k48M - 1, 0, PageWrite::kFill), kOrdinary) << "anywhere: no history";
  EXPECT_EQ(PageCopyFlags(At(0), k48M, 0, PageWrite::kFill), kNt);
  EXPECT_EQ(PageCopyFlags(At(0), 64, kMemNonTemporal, PageWrite::kFill), kNt) << "the caller decides";
  const std::string fill_name = PageCopyName(PageWrite::kFill);
  EXPECT_NE(fill_name.find(" nt >= 48 MiB"), std::string::npos) << fill_name;
  EXPECT_EQ(fill_name.find("far"), std::string::npos) << fill_name;
  EXPECT_NE(PageCopyName().find(" nt >= 16 KiB"), std::string::npos) << PageCopyName();
  InstallSelectionForTest(&cpu.selection());
}

// Every threshold of the rows with a history, exactly: one byte below it ordinary stores, at it non-temporal
// stores, for copies and fills on a rewrite (the same buffer written again), ahead (the line after it) and far (after
// a jump), each from a fresh history. Zen 5: copies 8 MiB / 16 KiB / 8 B, fills 48 MiB / 32 KiB / 8 B, far ones of 8
// MiB and more as a rewrite of copies (8 MiB, not the fills' 48 MiB; as the far threshold is 8 B below that, a far
// copy or fill goes non-temporal either side of 8 MiB and the bound itself is not observable on this row); Intel
// 6/167: copies 1.25 MiB / 2 KiB / 64 B, fills 48 MiB / 2 KiB / 64 B; Intel 6/207 (Emerald Rapids): copies 1.25 MiB /
// 2 KiB / 512 B, fills 64 MiB / 2 KiB / 512 B. Also the edge of `rewrite_covering` (Zen 5):
// a copy that ends on the line just before the last one written is a rewrite.
TEST_F(PageCopyHistoryTest, EveryRowThresholdExactly) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  enum class Where { kRewrite, kAhead, kFar };
  struct Threshold {
    Where where;
    PageWrite write;
    size_t bytes;
  };
  constexpr size_t k8M = size_t{8} << 20;
  // After a jump to the buffer's first line: ahead, the next line; a rewrite, the buffer's first write (ahead on the
  // Intel rows, which run_on_is_ahead makes of a write running on past the last line written; a rewrite on Zen 5),
  // then the same buffer again, which covers the last line written.
  const auto flags_at = [&](Where where, PageWrite write, size_t size) {
    Forget();
    if (where == Where::kFar) return PageCopyFlags(At(0), size, 0, write);
    EXPECT_EQ(PageCopyFlags(At(0), 64, 0), 64 >= CurrentSelection().page.far ? kNt : kOrdinary)
        << "the jump before it (6/207: a far 64 B takes ordinary stores)";
    if (where == Where::kAhead) return PageCopyFlags(At(64), size, 0, write);
    PageCopyFlags(At(0), size, 0);
    return PageCopyFlags(At(0), size, 0, write);
  };
  const struct {
    CpuFeatures cpu;
    std::vector<Threshold> thresholds;
  } rows[] = {
      {Kind(CpuVendor::kAmd, 26, 2),
       {{Where::kRewrite, PageWrite::kCopy, k8M},
        {Where::kAhead, PageWrite::kCopy, 16 << 10},
        {Where::kFar, PageWrite::kCopy, 8},
        {Where::kRewrite, PageWrite::kFill, size_t{48} << 20},
        {Where::kAhead, PageWrite::kFill, 32 << 10},
        {Where::kFar, PageWrite::kFill, 8}}},
      {Kind(CpuVendor::kIntel, 6, 167),
       {{Where::kRewrite, PageWrite::kCopy, size_t{5} << 18},
        {Where::kAhead, PageWrite::kCopy, 2 << 10},
        {Where::kFar, PageWrite::kCopy, 64},
        {Where::kRewrite, PageWrite::kFill, size_t{48} << 20},
        {Where::kAhead, PageWrite::kFill, 2 << 10},
        {Where::kFar, PageWrite::kFill, 64}}},
      {Kind(CpuVendor::kIntel, 6, 207),
       {{Where::kRewrite, PageWrite::kCopy, size_t{5} << 18},
        {Where::kAhead, PageWrite::kCopy, 2 << 10},
        {Where::kFar, PageWrite::kCopy, 512},
        {Where::kRewrite, PageWrite::kFill, size_t{64} << 20},
        {Where::kAhead, PageWrite::kFill, 2 << 10},
        {Where::kFar, PageWrite::kFill, 512}}},
  };
  for (const auto& row : rows) {
    pmem2::testing::ScopedCpuFeatures cpu(row.cpu);
    for (const Threshold& t : row.thresholds) {
      const char* const place = t.where == Where::kRewrite ? "rewrite" : t.where == Where::kAhead ? "ahead" : "far";
      const std::string where = std::to_string(row.cpu.family) + "/" + std::to_string(row.cpu.model) + " " + place +
                                (t.write == PageWrite::kFill ? " fill " : " copy ") + std::to_string(t.bytes);
      // The Intel rows write a rewrite from 128 KiB with string instructions: ordinary stores too.
      const size_t string_from = cpu.selection().page.string_from;
      const bool string = string_from != 0 && t.bytes - 1 >= string_from && t.where == Where::kRewrite;
      EXPECT_EQ(flags_at(t.where, t.write, t.bytes - 1), string ? kString : kOrdinary) << where << " - 1";
      EXPECT_EQ(flags_at(t.where, t.write, t.bytes), kNt) << where;
    }
  }
  pmem2::testing::ScopedCpuFeatures zen5(Kind(CpuVendor::kAmd, 26, 2));
  EXPECT_EQ(flags_at(Where::kFar, PageWrite::kFill, k8M - 1), kNt) << "far fill below 8 MiB: from 8 B";
  EXPECT_EQ(flags_at(Where::kFar, PageWrite::kFill, k8M), kNt) << "far fill of 8 MiB: as a rewrite of copies";
  EXPECT_EQ(flags_at(Where::kFar, PageWrite::kCopy, k8M - 1), kNt) << "far copy below 8 MiB: from 8 B";
  // The last line written is line 4096 (a far 64 B at 256 KiB); copies of 512 KiB ending just before it.
  Forget();
  const size_t last = size_t{256} << 10;
  EXPECT_EQ(PageCopyFlags(At(last), 64, 0), kNt) << "the jump";
  EXPECT_EQ(PageCopyFlags(At(last - (size_t{512} << 10)), size_t{512} << 10, 0), kOrdinary)
      << "512 KiB ending on the line just before the last one written: the same buffer again, a rewrite";
  Forget();
  EXPECT_EQ(PageCopyFlags(At(last), 64, 0), kNt) << "the jump";
  EXPECT_EQ(PageCopyFlags(At(last - (size_t{512} << 10) - 64), size_t{512} << 10, 0), kNt)
      << "512 KiB ending two lines before it: far";
}

// Emerald Rapids' page copies as `pmem2 info` names them (before its ", then msync"): each threshold of its row and
// the string instructions.
TEST_F(PageCopyHistoryTest, EmeraldRapidsNamesItsPageThresholds) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kIntel, 6, 207));
  const std::string kernel = ByteOps().memmove_name;
  const std::string isa = kernel.substr(0, kernel.find(" nt"));
  const std::string rest = ", 2 KiB after the thread's last page copy, 512 B far from it";
  // AVX-512 batches copies of 16 KiB and more; a CPU without it (this test on another machine) has none.
  const std::string batches = CurrentSelection().nt_copy_batch_from != 0 ? ", 32-line batches >= 16 KiB" : "";
  EXPECT_EQ(batches.empty(), isa != "avx512");
  EXPECT_EQ(PageCopyName(), isa + " nt >= 1280 KiB on a rewrite (rep movsq from 128 KiB)" + rest + batches);
  EXPECT_EQ(PageCopyName(PageWrite::kFill), isa + " nt >= 64 MiB on a rewrite (rep stosq from 128 KiB)" + rest);
}

// A far copy from the row's far_below takes the copies' rewrite threshold, and so does a far fill (not the fills'
// own). Zen 5's row cannot show it (its far_below is its copies' rewrite threshold), so a row is made up here.
TEST_F(PageCopyHistoryTest, FarCopiesFromFarBelowTakeTheCopiesRewriteThreshold) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kAmd, 26, 2), arch::ProcessEnvOverrides());
  Selection made_up = cpu.selection();
  made_up.page.rewrite = size_t{1} << 20;
  made_up.page.far = 64;
  made_up.page.far_below = size_t{256} << 10;
  made_up.page.fill_rewrite = size_t{4} << 20;
  InstallSelectionForTest(&made_up);
  for (const PageWrite write : {PageWrite::kCopy, PageWrite::kFill}) {
    const char* what = write == PageWrite::kCopy ? "copy" : "fill";
    Forget();
    EXPECT_EQ(PageCopyFlags(At(0), (size_t{256} << 10) - 1, 0, write), kNt) << what << ": far, below far_below: 64 B";
    Forget();
    EXPECT_EQ(PageCopyFlags(At(0), size_t{256} << 10, 0, write), kOrdinary) << what << ": from far_below: 1 MiB";
    Forget();
    EXPECT_EQ(PageCopyFlags(At(0), size_t{1} << 20, 0, write), kNt) << what << ": 1 MiB, not the fills' 4 MiB";
    Forget();
    EXPECT_EQ(PageCopyFlags(At(0), 64, 0, write), kNt) << what;
    EXPECT_EQ(PageCopyFlags(At(0), size_t{2} << 20, 0, write), write == PageWrite::kCopy ? kNt : kOrdinary)
        << what << ": the same line again, a rewrite: the fills' own 4 MiB";
  }
  InstallSelectionForTest(&cpu.selection());
}

TEST_F(PageCopyHistoryTest, Zen4AndUnmeasuredKindsUseOneThreshold) {
  if (UserThreshold()) GTEST_SKIP() << "the history is off under PMEM_MOVNT_THRESHOLD";
  for (const CpuFeatures& f :
       {Kind(CpuVendor::kAmd, 25, 17), Kind(CpuVendor::kIntel, 6, 85), Kind(CpuVendor::kOther, 0, 0)}) {
    pmem2::testing::ScopedCpuFeatures cpu(f);
    EXPECT_EQ(PageCopyFlags(At(32 << 20), 64, 0), kOrdinary) << "far, but no history here";
    EXPECT_EQ(PageCopyFlags(At(1 << 20), (16 << 10) - 1, 0), kOrdinary);
    EXPECT_EQ(PageCopyFlags(At(1 << 20), 16 << 10, 0), kNt) << "pmem2/arch's 16 KiB";
    EXPECT_EQ(PageCopyName().find("far"), std::string::npos) << PageCopyName();
  }
}

// Far records below a line on Zen 5 take the byte tables' non-temporal path (MOVNTI pieces, kernels-inl.h's
// CopyBelowLineNt): through the page copy itself, every length below a line at every offset in a line, after a
// jump each time, the bytes arrive and nothing around them changes.
TEST_F(PageCopyHistoryTest, Zen5FarRecordsArriveIntact) {
  pmem2::testing::ScopedCpuFeatures cpu(Kind(CpuVendor::kAmd, 26, 2), arch::ProcessEnvOverrides());
  char source[64];
  for (size_t i = 0; i < sizeof(source); ++i) source[i] = static_cast<char>(i * 7 + 1);
  char* const region = const_cast<char*>(At(size_t{16} << 20));
  for (size_t len = 1; len < 64; ++len) {
    for (size_t off = 0; off < 64; ++off) {
      for (const PageWrite write : {PageWrite::kCopy, PageWrite::kFill}) {
        std::memset(region, 0x11, 192);
        Forget();
        char* d = region + 64 + off;
        if (write == PageWrite::kCopy) {
          ASSERT_EQ(PageMemmove(d, source, len, 0), d);
          ASSERT_EQ(std::memcmp(d, source, len), 0) << len << " B at +" << off;
        } else {
          ASSERT_EQ(PageMemset(d, 0x5a, len, 0), d);
          ASSERT_EQ(std::string(d, len), std::string(len, 0x5a)) << len << " B at +" << off;
        }
        ASSERT_EQ(std::string(region, 64 + off), std::string(64 + off, 0x11)) << len << " B at +" << off;
        ASSERT_EQ(std::string(d + len, 128 - off - len), std::string(128 - off - len, 0x11))
            << len << " B at +" << off;
      }
    }
  }
}

// What the byte tables of the selection below were called with: PageMemmove and PageMemset, the copy half of a
// page mapping's memcpy_fn and memset_fn, find the tables and thresholds through a plan published per selection
// (backend.h), not through ByteOps(); they must still call the installed selection's tables, with the flags
// PageCopyFlags() gives for the same history, after every install and back.
struct ByteCall {
  void* dst = nullptr;
  const void* src = nullptr;
  int c = -1;
  size_t len = 0;
  unsigned flags = 0;
  bool string = false;  // the plan's string kernels, not the byte table's
  bool operator==(const ByteCall& o) const {
    return dst == o.dst && src == o.src && c == o.c && len == o.len && flags == o.flags && string == o.string;
  }
};
std::vector<ByteCall>& ByteCalls() {
  static std::vector<ByteCall> calls;
  return calls;
}
void* RecordMemmove(void* dst, const void* src, size_t len, unsigned flags) {
  ByteCalls().push_back({dst, src, -1, len, flags});
  return dst;
}
void* RecordMemset(void* dst, int c, size_t len, unsigned flags) {
  ByteCalls().push_back({dst, nullptr, c, len, flags});
  return dst;
}
void* RecordStringMemmove(void* dst, const void* src, size_t len, unsigned flags) {
  ByteCalls().push_back({dst, src, -1, len, flags, true});
  return dst;
}
void* RecordStringMemset(void* dst, int c, size_t len, unsigned flags) {
  ByteCalls().push_back({dst, nullptr, c, len, flags, true});
  return dst;
}

TEST_F(PageCopyHistoryTest, PageCopiesCallTheInstalledTablesWithPageCopyFlags) {
  struct Step {
    size_t offset, size;
    unsigned flags;
  };
  // A jump, a rewrite, a stream's next lines (where Zen 5's fills differ from its copies at 16 KiB), a large far
  // copy right after them, a far copy, a large rewrite (where they differ again), the caller's own flags, NOFLUSH, and
  // a 256 KiB buffer written again (Intel 6/167 and 6/207: the string kernels).
  const Step steps[] = {{32 << 20, 64, 0},
                        {32 << 20, 64, 0},
                        {(32 << 20) + 64, 2048, 0},
                        {(32 << 20) + 2112, 100, 0},
                        {(32 << 20) + 2240, 16 << 10, 0},  // ahead: Zen 5 copies non-temporal, fills not
                        {0, 8 << 20, 0},                   // far right after a stream step
                        {1 << 20, 16 << 10, 0},
                        {1 << 20, 8 << 20, 0},
                        {9 << 20, 8 << 10, kMemTemporal},
                        {5 << 20, 64, kMemNonTemporal},
                        {5 << 20, 64, kMemNoFlush},
                        {12 << 20, 256 << 10, 0},
                        {12 << 20, 256 << 10, 0}};
  char source[1];
  for (const CpuFeatures& f : {Kind(CpuVendor::kAmd, 26, 2), Kind(CpuVendor::kIntel, 6, 167),
                               Kind(CpuVendor::kIntel, 6, 207), Kind(CpuVendor::kAmd, 25, 17),
                               Kind(CpuVendor::kOther, 0, 0)}) {
    pmem2::testing::ScopedCpuFeatures cpu(f, arch::ProcessEnvOverrides());
    Selection recording = cpu.selection();
    recording.byte.memmove = RecordMemmove;
    recording.byte.memset = RecordMemset;
    if (recording.page.string_from != 0) {
      recording.page_string_memmove = RecordStringMemmove;
      recording.page_string_memset = RecordStringMemset;
    }
    size_t string_calls = 0;
    for (const PageWrite write : {PageWrite::kCopy, PageWrite::kFill}) {
      std::vector<ByteCall> expected;
      Forget();
      for (const Step& s : steps) {
        char* d = const_cast<char*>(At(s.offset));
        const unsigned flags = PageCopyFlags(d, s.size, s.flags, write);
        const bool string = (flags & kPageStringStores) != 0;
        string_calls += string ? 1 : 0;
        expected.push_back(write == PageWrite::kCopy ? ByteCall{d, source, -1, s.size, flags, string}
                                                     : ByteCall{d, nullptr, 7, s.size, flags, string});
      }
      InstallSelectionForTest(&recording);
      // The plan is the installed selection's, field by field.
      const backend::PageCopyPlan& plan = backend::PagePlan();
      EXPECT_EQ(backend::current_page_plan.load(), &plan);
      EXPECT_TRUE(plan.memmove == RecordMemmove && plan.memset == RecordMemset);
      EXPECT_TRUE(plan.copy.kernel == RecordMemmove && plan.fill.kernel == RecordMemset);
      EXPECT_TRUE(recording.page.string_from == 0
                      ? plan.string_memmove == nullptr && plan.string_memset == nullptr
                      : plan.string_memmove == RecordStringMemmove && plan.string_memset == RecordStringMemset);
      EXPECT_TRUE(plan.thresholds == recording.page);
      EXPECT_EQ(plan.threshold_from_environment, recording.movnt_threshold_from_environment);
      ByteCalls().clear();
      Forget();
      for (const Step& s : steps) {
        char* d = const_cast<char*>(At(s.offset));
        if (write == PageWrite::kCopy) {
          EXPECT_EQ(PageMemmove(d, source, s.size, s.flags), d);
        } else {
          EXPECT_EQ(PageMemset(d, 7, s.size, s.flags), d);
        }
      }
      // The same through PageCopyFor / PageFillFor, which hand the kernel and its flags to a page mapping's copy that
      // syncs next (pmem2/map/page_persist.cc) to call.
      Forget();
      for (const Step& s : steps) {
        char* d = const_cast<char*>(At(s.offset));
        if (write == PageWrite::kCopy) {
          const PageCopyCall call = PageCopyFor(d, s.size, s.flags);
          EXPECT_EQ(call.memmove(d, source, s.size, call.flags), d);
        } else {
          const PageFillCall call = PageFillFor(d, s.size, s.flags);
          EXPECT_EQ(call.memset(d, 7, s.size, call.flags), d);
        }
      }
      InstallSelectionForTest(&cpu.selection());
      ASSERT_EQ(ByteCalls().size(), 2 * expected.size()) << f.family << "/" << f.model;
      for (size_t i = 0; i < 2 * expected.size(); ++i) {
        const ByteCall& want = expected[i % expected.size()];
        EXPECT_TRUE(ByteCalls()[i] == want)
            << f.family << "/" << f.model
            << (i < expected.size() ? " PageMemmove/PageMemset" : " PageCopyFor/PageFillFor") << " step "
            << i % expected.size() << ": flags " << ByteCalls()[i].flags << ", expected " << want.flags;
      }
    }
    EXPECT_EQ(string_calls, f.vendor == CpuVendor::kIntel ? 2u : 0u)
        << f.family << "/" << f.model << ": the 256 KiB buffer written again, copied and filled";
    // Back on the real tables: the bytes arrive.
    char to[256] = {}, from[256];
    for (size_t i = 0; i < sizeof(from); ++i) from[i] = static_cast<char>(i);
    ByteCalls().clear();
    EXPECT_EQ(PageMemmove(to, from, sizeof(to), 0), to);
    EXPECT_EQ(std::string(to, sizeof(to)), std::string(from, sizeof(from)));
    EXPECT_EQ(PageMemset(to + 1, 0x5a, 100, 0), to + 1);
    EXPECT_EQ(std::string(to + 1, 100), std::string(100, 0x5a));
    EXPECT_EQ(to[0], 0);
    EXPECT_EQ(to[101], 101);
    EXPECT_TRUE(ByteCalls().empty());
  }
  // Back on the process's own selection: its tables.
  EXPECT_TRUE(backend::PagePlan().memmove == ByteOps().memmove && backend::PagePlan().memset == ByteOps().memset);
}

}  // namespace
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
