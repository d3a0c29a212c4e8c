// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/destination_history.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace pmem2 {
namespace arch {
namespace {

// Near = from kNearLinesBack lines before the previous call's last line to kNearLinesAhead lines after it; every
// call records its own last line.
TEST(DestinationHistoryTest, RewriteAheadOrFar) {
  const uintptr_t base = uintptr_t{1} << 30;
  uintptr_t last = base / 64 + 10;
  EXPECT_EQ(ClassifyDestination(&last, reinterpret_cast<const void*>(base + 10 * 64 + 63), 1), Destination::kRewrite)
      << "the previous copy's last line";
  EXPECT_EQ(ClassifyDestination(&last, reinterpret_cast<const void*>(base + (10 - 64) * 64), 1),
            Destination::kRewrite)
      << "64 lines before it";
  last = base / 64 + 10;
  EXPECT_EQ(ClassifyDestination(&last, reinterpret_cast<const void*>(base + 11 * 64), 64), Destination::kAhead);
  EXPECT_EQ(ClassifyDestination(&last, reinterpret_cast<const void*>(base + 13 * 64), 64), Destination::kAhead)
      << "two lines after line 11";
  EXPECT_EQ(ClassifyDestination(&last, reinterpret_cast<const void*>(base + 16 * 64), 64), Destination::kFar);
}

TEST(DestinationHistoryTest, NearMeansJustWrittenOrJustAhead) {
  const uintptr_t base = uintptr_t{1} << 30;  // line 2^24
  const auto at_line = [&](intptr_t line_delta) {
    return reinterpret_cast<const void*>(base + static_cast<uintptr_t>(line_delta * 64));
  };
  uintptr_t last = 0;
  EXPECT_FALSE(RecordDestination(&last, at_line(0), 64)) << "the first call of a thread is far";
  EXPECT_EQ(last, base / 64);
  EXPECT_TRUE(RecordDestination(&last, at_line(0), 64)) << "the same line again";
  EXPECT_TRUE(RecordDestination(&last, at_line(1), 130)) << "the next line (130 B: lines 1-3)";
  EXPECT_EQ(last, base / 64 + 3);
  EXPECT_TRUE(RecordDestination(&last, at_line(3 + 2), 1)) << "two lines ahead";
  EXPECT_FALSE(RecordDestination(&last, at_line(5 + 3), 1)) << "three lines ahead";
  EXPECT_TRUE(RecordDestination(&last, at_line(8 - 64), 64)) << "64 lines back";
  EXPECT_FALSE(RecordDestination(&last, at_line(8 - 64 - 65), 64)) << "65 lines back";
  last = base / 64;
  EXPECT_TRUE(RecordDestination(&last, reinterpret_cast<const void*>(base + 63), 0)) << "an empty copy";
  EXPECT_EQ(last, base / 64) << "an empty copy records its start line";
  last = base / 64;
  EXPECT_FALSE(RecordDestination(&last, at_line(1 << 20), 64)) << "a jump of 64 MiB";
  EXPECT_FALSE(RecordDestination(&last, at_line(0), 64)) << "and back";
  last = 0;
  EXPECT_FALSE(RecordDestination(&last, reinterpret_cast<const void*>(~uintptr_t{0} - 63), 64))
      << "no wrap-around at the top of the address space";
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
