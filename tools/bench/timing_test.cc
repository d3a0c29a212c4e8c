// Copyright 2026 The pmem2 Authors.
//
// tools/bench/timing_test.cc
// -----------------------------------------------------------------------------
//
// Where the timed loops write (comparison.h's method): small copies always at the start of the destination,
// large ones stepping through the window in 4 KiB-rounded strides and wrapping before they would pass its end.

#include "tools/bench/timing.h"

#include <cstddef>
#include <vector>

#include "gtest/gtest.h"

namespace pmem2 {
namespace bench {
namespace {

std::vector<size_t> Offsets(size_t n, size_t window, int calls) {
  Cursor cursor(n, window);
  std::vector<size_t> out;
  for (int i = 0; i < calls; ++i) out.push_back(cursor.Next());
  return out;
}

TEST(CursorTest, SmallCopiesAlwaysWriteTheFirstBytes) {
  EXPECT_EQ(Offsets(64, 1 << 20, 4), (std::vector<size_t>{0, 0, 0, 0}));
  EXPECT_EQ(Offsets(kFreshLinesFrom - 64, 1 << 20, 3), (std::vector<size_t>{0, 0, 0}));
}

TEST(CursorTest, LargeCopiesStepThroughTheWindowAndWrap) {
  // 16 KiB copies in a 64 KiB window: 0, 16, 32, 48 KiB, then back to the start.
  EXPECT_EQ(Offsets(16 << 10, 64 << 10, 6), (std::vector<size_t>{0, 16 << 10, 32 << 10, 48 << 10, 0, 16 << 10}));
}

TEST(CursorTest, StrideIsTheSizeRoundedUpTo4KiB) {
  // 4 KiB + 64: stride 8 KiB; the last start that fits a 20 KiB window is 20 KiB - (4 KiB + 64).
  EXPECT_EQ(Offsets(4096 + 64, 20 << 10, 4), (std::vector<size_t>{0, 8 << 10, 0, 8 << 10}));
}

TEST(CursorTest, EveryCopyStaysInsideTheWindow) {
  for (size_t n : {size_t{4096}, size_t{5000}, size_t{64} << 10, size_t{2} << 20}) {
    const size_t window = size_t{8} << 20;
    Cursor cursor(n, window);
    for (int i = 0; i < 5000; ++i) ASSERT_LE(cursor.Next() + n, window) << n;
  }
}

TEST(CursorTest, ACopyAsLargeAsTheWindowAlwaysStartsAtZero) {
  EXPECT_EQ(Offsets(64 << 10, 64 << 10, 3), (std::vector<size_t>{0, 0, 0}));
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
