// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/destination_history.h"

#include <cstdint>

#include "gtest/gtest.h"

namespace pmem2 {
namespace arch {
namespace {

constexpr uintptr_t kBase = uintptr_t{1} << 30;  // line 2^24

const void* AtLine(intptr_t line_delta) {
  return reinterpret_cast<const void*>(kBase + static_cast<uintptr_t>(line_delta * 64));
}

// Near = from kNearLinesBack lines before the previous call's last line to kNearLinesAhead lines after it; every
// call records its own last line.
TEST(DestinationHistoryTest, NearMeansJustWrittenOrJustAhead) {
  uintptr_t history = 0;
  EXPECT_FALSE(RecordDestination(&history, AtLine(0), 64)) << "the first call of a thread is far";
  EXPECT_EQ(history, HistoryOf(kBase / 64));
  EXPECT_TRUE(RecordDestination(&history, AtLine(0), 64)) << "the same line again";
  EXPECT_TRUE(RecordDestination(&history, AtLine(1), 130)) << "the next line (130 B: lines 1-3)";
  EXPECT_EQ(history, HistoryOf(kBase / 64 + 3));
  EXPECT_TRUE(RecordDestination(&history, AtLine(3 + 2), 1)) << "two lines ahead";
  EXPECT_FALSE(RecordDestination(&history, AtLine(5 + 3), 1)) << "three lines ahead";
  EXPECT_TRUE(RecordDestination(&history, AtLine(8 - 64), 64)) << "64 lines back";
  EXPECT_FALSE(RecordDestination(&history, AtLine(8 - 64 - 65), 64)) << "65 lines back";
  history = HistoryOf(kBase / 64);
  EXPECT_TRUE(RecordDestination(&history, reinterpret_cast<const void*>(kBase + 63), 0)) << "an empty copy";
  EXPECT_EQ(history, HistoryOf(kBase / 64)) << "an empty copy records its start line";
  EXPECT_FALSE(RecordDestination(&history, AtLine(1 << 20), 64)) << "a jump of 64 MiB";
  EXPECT_FALSE(RecordDestination(&history, AtLine(0), 64)) << "and back";
}

// At the top of the address space the line arithmetic wraps neither a far line into a near one nor the last line's end
// past it.
TEST(DestinationHistoryTest, NoWrapAroundAtTheTopOfTheAddressSpace) {
  const uintptr_t top_line = ~uintptr_t{0} / 64;
  const void* const top = reinterpret_cast<const void*>(top_line * 64);
  uintptr_t history = HistoryOf(top_line);
  EXPECT_TRUE(RecordDestination(&history, top, 64)) << "the top line again";
  EXPECT_EQ(history, HistoryOf(top_line)) << "a copy up to the last byte ends on the top line";
  EXPECT_TRUE(RecordDestination(&history, reinterpret_cast<const void*>(top_line * 64 + 63), 1));
  EXPECT_EQ(history, HistoryOf(top_line));
  EXPECT_FALSE(RecordDestination(&history, reinterpret_cast<const void*>(64), 64))
      << "from the top line to line 1, two lines on modulo the address space: far";
  EXPECT_EQ(history, HistoryOf(1));
  EXPECT_FALSE(RecordDestination(&history, top, 64)) << "from line 1 to the top line, two lines back modulo it: far";
  history = HistoryOf(top_line - 1);
  EXPECT_TRUE(RecordDestination(&history, top, 64)) << "the line after the previous one, at the top";
  EXPECT_EQ(ClassifyDestination(&history, reinterpret_cast<const void*>((top_line - 64) * 64), 64),
            Destination::kRewrite)
      << "64 lines back from the top line";
}

TEST(DestinationHistoryTest, RewriteAheadOrFar) {
  uintptr_t history = HistoryOf(kBase / 64 + 10);
  EXPECT_EQ(ClassifyDestination(&history, reinterpret_cast<const void*>(kBase + 10 * 64 + 63), 1),
            Destination::kRewrite)
      << "the previous copy's last line";
  EXPECT_EQ(ClassifyDestination(&history, AtLine(10 - 64), 1), Destination::kRewrite) << "64 lines before it";
  history = HistoryOf(kBase / 64 + 10);
  EXPECT_EQ(ClassifyDestination(&history, AtLine(11), 64), Destination::kAhead);
  EXPECT_EQ(ClassifyDestination(&history, AtLine(13), 64), Destination::kAhead) << "two lines after line 11";
  EXPECT_EQ(ClassifyDestination(&history, AtLine(16), 64), Destination::kFar);
}

// A wider rewrite window (page copies on some CPU kinds) moves only the backward bound.
TEST(DestinationHistoryTest, LinesBackWidensTheRewriteWindow) {
  uintptr_t history = HistoryOf(kBase / 64 + 5000);
  EXPECT_EQ(ClassifyDestination(&history, AtLine(5000 - 1024), 1, 1024), Destination::kRewrite) << "1024 back";
  EXPECT_EQ(ClassifyDestination(&history, AtLine(3976 - 1025), 1, 1024), Destination::kFar) << "1025 back";
  history = HistoryOf(kBase / 64 + 5000);
  EXPECT_EQ(ClassifyDestination(&history, AtLine(5002), 1, 1024), Destination::kAhead) << "two lines ahead";
  EXPECT_EQ(ClassifyDestination(&history, AtLine(5005), 1, 1024), Destination::kFar) << "three lines ahead";
  history = HistoryOf(kBase / 64 + 5000);
  EXPECT_EQ(ClassifyDestination(&history, AtLine(5000 - 65), 1), Destination::kFar) << "the default: 64 back";
}

// run_on_is_ahead: a rewrite that runs on past the last line written by more than kNearLinesAhead lines and by more
// lines than it rewrites is ahead; without the flag (the cache-line tables, Zen 5's page copies) it stays a rewrite.
TEST(DestinationHistoryTest, ARewriteThatRunsOnIsAheadWhereAsked) {
  const auto classify = [](size_t previous_line, size_t start_line, size_t lines, bool run_on_is_ahead) {
    uintptr_t history = HistoryOf(kBase / 64 + previous_line);
    return ClassifyDestination(&history, AtLine(start_line), 64 * lines, 1024, run_on_is_ahead);
  };
  EXPECT_EQ(classify(100, 100, 34, true), Destination::kAhead) << "1 line rewritten, 33 past: a stream's next record";
  EXPECT_EQ(classify(100, 100, 34, false), Destination::kRewrite) << "without the flag";
  EXPECT_EQ(classify(100, 100, 3, true), Destination::kRewrite) << "2 lines past: kNearLinesAhead";
  EXPECT_EQ(classify(100, 100, 4, true), Destination::kAhead) << "3 lines past, 1 rewritten";
  EXPECT_EQ(classify(100, 81, 40, true), Destination::kRewrite) << "20 lines rewritten, 20 past";
  EXPECT_EQ(classify(100, 81, 41, true), Destination::kAhead) << "20 lines rewritten, 21 past";
  EXPECT_EQ(classify(124, 0, 128, true), Destination::kRewrite) << "125 lines written again as 128";
  EXPECT_EQ(classify(100, 101, 64, true), Destination::kAhead) << "the next line: ahead either way";
  uintptr_t history = HistoryOf(kBase / 64 + 100);
  EXPECT_EQ(ClassifyDestination(&history, AtLine(100), 0, 1024, true), Destination::kRewrite) << "an empty copy";
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
