// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels_test.cc
// -----------------------------------------------------------------------------
//
// The limit kernels copy and fill exactly the bytes asked for (the comparison times them against the libraries,
// so they must compute the same thing), alone and followed by msync. Nothing here is timed.

#include "tools/bench/limit_kernels.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pmem2 {
namespace bench {
namespace {

using CopyFn = void* (*)(void*, const void*, size_t, unsigned);
using FillFn = void* (*)(void*, int, size_t, unsigned);

void ExpectCopiesAndFillsExactly(CopyFn copy, FillFn fill) {
  std::vector<unsigned char> src(8192);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 3);
  alignas(4096) static unsigned char dst[8192 + 128];
  // 8-56: a record of 8-byte pieces, at the start of a line and (as the seq pattern packs them) at every other
  // multiple of 8 in it, across into the next line where it is long enough; the rest whole lines.
  struct Case {
    size_t n, at;
  };
  std::vector<Case> cases;
  for (size_t n : {size_t{8}, size_t{16}, size_t{56}}) {
    for (size_t at = 64; at < 128; at += 8) cases.push_back({n, at});
  }
  // 2112 and 4160: whole 2 KiB batches (nt-avx512-batch) and a line left over.
  for (size_t n : {size_t{64}, size_t{128}, size_t{192}, size_t{2112}, size_t{4096}, size_t{4160}, size_t{8192}}) {
    cases.push_back({n, 64});
  }
  for (const Case& c : cases) {
    const size_t n = c.n, at = c.at;
    SCOPED_TRACE(std::to_string(n) + " B at byte " + std::to_string(at));
    std::memset(dst, 0xee, sizeof dst);
    EXPECT_EQ(copy(dst + at, src.data(), n, 0), dst + at);
    EXPECT_EQ(std::memcmp(dst + at, src.data(), n), 0);
    // Nothing else written, before or after the range, the rest of its last line included.
    EXPECT_EQ(std::count(dst, dst + at, 0xee), static_cast<ptrdiff_t>(at));
    EXPECT_EQ(std::count(dst + at + n, dst + sizeof dst, 0xee), static_cast<ptrdiff_t>(sizeof dst - at - n));
    if (fill == nullptr) continue;  // a strategy for copies only
    EXPECT_EQ(fill(dst + at, 0x11, n, 0), dst + at);
    size_t filled = 0;
    while (filled < n && dst[at + filled] == 0x11) ++filled;
    EXPECT_EQ(filled, n) << "the first byte not filled";
    EXPECT_EQ(std::count(dst, dst + at, 0xee), static_cast<ptrdiff_t>(at));
    EXPECT_EQ(std::count(dst + at + n, dst + sizeof dst, 0xee), static_cast<ptrdiff_t>(sizeof dst - at - n));
  }
}

TEST(LimitKernelsTest, TakeWholeLinesOrEightBytePiecesOfOne) {
  for (size_t n : {8, 16, 56, 64, 128, 4096}) EXPECT_TRUE(LimitKernelsTake(n)) << n;
  for (size_t n : {0, 4, 12, 60, 72, 100}) EXPECT_FALSE(LimitKernelsTake(n)) << n;
}

// The lines a store strategy writes back after a record below a line: every line a byte of it is in, no other. A
// packed record that crosses into the next line (56 B at byte 16 of a line ends at byte 7 of the next) has two.
TEST(LimitKernelsTest, LinesOfARecordAreTheLinesItsBytesAreIn) {
  constexpr uintptr_t kBase = 4096 * 3;
  for (size_t at = 0; at < 64; ++at) {
    for (size_t len = 1; len <= 192; ++len) {
      const LineSpan lines = LinesOf(kBase + at, len);
      const uintptr_t first_byte_line = (kBase + at) / 64, last_byte_line = (kBase + at + len - 1) / 64;
      ASSERT_EQ(lines.first, first_byte_line * 64) << len << " B at byte " << at;
      ASSERT_EQ(lines.count, last_byte_line - first_byte_line + 1) << len << " B at byte " << at;
    }
  }
  static_assert(LinesOf(kBase + 8, 56).count == 1, "ends at the line's last byte");
  static_assert(LinesOf(kBase + 16, 56).count == 2, "crosses into the next line");
  static_assert(LinesOf(kBase + 63, 1).first == kBase, "the line of its one byte");
  static_assert(LinesOf(kBase + 63, 2).count == 2, "one byte in each of two lines");
}

TEST(LimitKernelsTest, CopyAndFillEveryLineOfTheRangeAndNothingElse) {
  ExpectCopiesAndFillsExactly(LimitMemcpy, LimitMemset);
}

TEST(LimitKernelsTest, EveryPageStrategyCopiesAndFillsExactly) {
  ASSERT_EQ(PageLimitStrategies().size(), 2u);
  EXPECT_STREQ(PageLimitStrategies()[0].name, "nt+msync");
  EXPECT_STREQ(PageLimitStrategies()[1].name, "glibc+msync");
  for (const LimitStrategy& s : PageLimitStrategies()) {
    SCOPED_TRACE(s.name);
    ExpectCopiesAndFillsExactly(s.memcpy, s.memset);
  }
}

TEST(LimitKernelsTest, EveryCacheLineStrategyCopiesAndFillsExactly) {
  ASSERT_FALSE(CacheLineLimitStrategies().empty());
  for (const LimitStrategy& s : CacheLineLimitStrategies()) {
    SCOPED_TRACE(s.name);
    ExpectCopiesAndFillsExactly(s.memcpy, s.memset);
    if (s.memset == nullptr) {
      EXPECT_STREQ(s.name, "nt-avx512-batch") << "the one strategy for copies only";
    }
  }
}

TEST(LimitKernelsTest, StrategyNamesAreKnownAndDistinct) {
  const std::vector<std::string>& known = KnownLimitStrategyNames();
  std::vector<std::string> seen;
  for (const LimitStrategy& s : CacheLineLimitStrategies()) {
    EXPECT_NE(std::find(known.begin(), known.end(), s.name), known.end()) << s.name;
    EXPECT_EQ(std::find(seen.begin(), seen.end(), s.name), seen.end()) << s.name << " twice";
    seen.push_back(s.name);
  }
}

TEST(LimitKernelsTest, WriteBackLeavesTheBytesAlone) {
  alignas(64) static unsigned char buffer[4096];
  for (size_t i = 0; i < sizeof buffer; ++i) buffer[i] = static_cast<unsigned char>(i);
  LimitPersistCacheLine(buffer + 1, sizeof buffer - 2);  // unaligned ends: whole lines around them
  LimitPersistPage(buffer + 1, sizeof buffer - 2);
  for (size_t i = 0; i < sizeof buffer; ++i) ASSERT_EQ(buffer[i], static_cast<unsigned char>(i)) << i;
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
