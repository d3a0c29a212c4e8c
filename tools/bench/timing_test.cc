// Copyright 2026 The pmem2 Authors.
//
// tools/bench/timing_test.cc
// -----------------------------------------------------------------------------
//
// Where the timed loops write (comparison.h's method). hot: small copies always at the start of the
// destination, large ones stepping through the window in 4 KiB-rounded strides and wrapping before they would
// pass its end. seq: one cursor shared by every caller, stride n, each run from the next whole line, inside the
// window. rand: random size-aligned slots inside the window from one shared PRNG stream.

#include "tools/bench/timing.h"

#include <cstddef>
#include <set>
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

TEST(SequentialCursorTest, StrideIsTheSize) {
  ColdState cold;
  SequentialCursor cursor(&cold, 256, 1 << 20);
  EXPECT_EQ(cursor.Next(), 0u);
  EXPECT_EQ(cursor.Next(), 256u);
  EXPECT_EQ(cursor.Next(), 512u);
  // Records below a line are packed, as in a log: some across a line boundary.
  ColdState small;
  SequentialCursor record(&small, 24, 1 << 20);
  EXPECT_EQ(record.Next(), 0u);
  EXPECT_EQ(record.Next(), 24u);
  EXPECT_EQ(record.Next(), 48u);  // bytes 48-71: two lines
  EXPECT_EQ(record.Next(), 72u);
}

TEST(SequentialCursorTest, EachRunStartsOnTheNextLine) {
  // A run of records leaves the shared cursor inside a line; the next run (a new cursor), whatever its size,
  // starts on the next whole line, never on a line another column's records wrote.
  ColdState cold;
  SequentialCursor record(&cold, 24, 1 << 20);
  EXPECT_EQ(record.Next(), 0u);
  EXPECT_EQ(record.Next(), 24u);
  SequentialCursor line(&cold, 64, 1 << 20);
  EXPECT_EQ(line.Next(), 64u);
  SequentialCursor other_record(&cold, 8, 1 << 20);
  EXPECT_EQ(other_record.Next(), 128u);
  SequentialCursor next_line(&cold, 128, 1 << 20);
  EXPECT_EQ(next_line.Next(), 192u);
}

TEST(SequentialCursorTest, EveryCallerAdvancesTheSameCursor) {
  // The columns take turns on one cursor: each writes where the previous one stopped, never on its lines.
  ColdState cold;
  SequentialCursor pmem2(&cold, 64, 1 << 20);
  SequentialCursor reference(&cold, 64, 1 << 20);
  SequentialCursor limit(&cold, 4096, 1 << 20);
  EXPECT_EQ(pmem2.Next(), 0u);
  EXPECT_EQ(pmem2.Next(), 64u);
  EXPECT_EQ(reference.Next(), 128u);
  EXPECT_EQ(limit.Next(), 192u);
  EXPECT_EQ(pmem2.Next(), 192u + 4096);
}

TEST(SequentialCursorTest, WrapsBeforePassingTheEndAndStaysAligned) {
  for (size_t n : {size_t{64}, size_t{128}, size_t{4096}, size_t{65536}, size_t{2} << 20}) {
    SCOPED_TRACE(n);
    const size_t window = 37 * n + 4096;  // not a multiple of the size
    ColdState cold;
    SequentialCursor cursor(&cold, n, window);
    // Runs of other sizes in between (each a new cursor, as timing.cc makes one per run), records below a line
    // among them, misalign nothing from 64.
    SequentialCursor other(&cold, 192, window);
    bool wrapped = false;
    size_t previous = 0;
    for (int i = 0; i < 20000; ++i) {
      size_t offset;
      if (i % 11 == 5) {
        SequentialCursor records(&cold, 40, window);
        offset = records.Next();
        const size_t second = records.Next();
        ASSERT_TRUE(second == offset + 40 || (second == 0 && offset + 80 > window)) << "packed, or wrapped";
        ASSERT_EQ(offset % 64, 0u) << "a run of records starts a line";
        SequentialCursor resumed(&cold, n, window);
        cursor = resumed;
        offset = cursor.Next();
      } else {
        offset = (i % 7 == 3) ? other.Next() : cursor.Next();
      }
      ASSERT_LE(offset + ((i % 7 == 3 && i % 11 != 5) ? 192 : n), window);
      ASSERT_EQ(offset % 64, 0u);
      if (i > 0 && offset < previous) wrapped = true;
      previous = offset;
    }
    EXPECT_TRUE(wrapped);
  }
}

TEST(RandomSlotsTest, SlotsAreSizeAlignedAndInsideTheWindow) {
  // 8 and 56: records below a line (--sizes=8,...), each in a slot of its own line.
  for (size_t n : {size_t{8}, size_t{56}, size_t{64}, size_t{128}, size_t{256}, size_t{4096}, size_t{65536},
                   size_t{2} << 20, size_t{100}}) {
    SCOPED_TRACE(n);
    const size_t window = (size_t{16} << 20) + 4096;
    const size_t slot = (n + 63) / 64 * 64;
    ColdState cold;
    RandomSlots slots(&cold, n, window);
    for (int i = 0; i < 20000; ++i) {
      const size_t offset = slots.Next();
      ASSERT_EQ(offset % slot, 0u) << offset;
      ASSERT_LE(offset + n, window) << offset;
    }
  }
}

TEST(RandomSlotsTest, CoversTheWholeWindowUniformly) {
  // 64 slots of 256 KiB: every slot drawn, none more than twice its share in 64000 draws.
  ColdState cold;
  RandomSlots slots(&cold, 256 << 10, 16 << 20);
  std::vector<int> count(64);
  for (int i = 0; i < 64000; ++i) ++count[slots.Next() / (256 << 10)];
  for (int c : count) {
    EXPECT_GT(c, 500);
    EXPECT_LT(c, 2000);
  }
}

TEST(RandomSlotsTest, OneSequenceSharedByEveryCaller) {
  // The same seed gives the same sequence; two callers on one state take turns on it.
  ColdState a;
  ColdState b;
  RandomSlots alone(&a, 64, 1 << 30);
  std::vector<size_t> sequence;
  for (int i = 0; i < 6; ++i) sequence.push_back(alone.Next());
  RandomSlots first(&b, 64, 1 << 30);
  RandomSlots second(&b, 64, 1 << 30);
  std::vector<size_t> shared;
  for (int i = 0; i < 3; ++i) {
    shared.push_back(first.Next());
    shared.push_back(second.Next());
  }
  EXPECT_EQ(shared, sequence);
  EXPECT_EQ(std::set<size_t>(sequence.begin(), sequence.end()).size(), sequence.size()) << "2^24 slots";
}

TEST(PatternTest, Names) {
  EXPECT_STREQ(PatternName(Pattern::kHot), "hot");
  EXPECT_STREQ(PatternName(Pattern::kSeq), "seq");
  EXPECT_STREQ(PatternName(Pattern::kRand), "rand");
  EXPECT_STREQ(PatternName(Pattern::kSame), "same");
  EXPECT_STREQ(PatternName(Pattern::kMove), "move");
  EXPECT_FALSE(IsCold(Pattern::kHot));
  EXPECT_TRUE(IsCold(Pattern::kSeq));
  EXPECT_TRUE(IsCold(Pattern::kRand));
  EXPECT_FALSE(IsCold(Pattern::kSame));
  EXPECT_TRUE(IsCold(Pattern::kMove));
}

// move: destinations in the first half of the cold window, whole pages, so that a source (the same offset into
// the second half) never overlaps a destination and shares its offset within a page.
TEST(PatternTest, MoveWindowIsTheFirstHalfInWholePages) {
  EXPECT_EQ(MoveWindow(size_t{4} << 30), size_t{2} << 30);
  EXPECT_EQ(MoveWindow(3 * 4096), 4096u);
  EXPECT_EQ(MoveWindow(4096), 0u) << "no room for a page each: no move rows";
  for (size_t window : {size_t{3840} << 20, (size_t{2} << 30) + 4096 + 64}) {
    const size_t half = MoveWindow(window);
    EXPECT_EQ(half % 4096, 0u) << window;
    EXPECT_LE(2 * half, window) << window;
    ColdState cold;
    for (size_t n : {size_t{64}, size_t{4096}, size_t{64} << 20}) {
      SequentialCursor cursor(&cold, n, half);
      for (int i = 0; i < 100; ++i) {
        const size_t to = cursor.Next();
        ASSERT_LE(to + n, half) << n;  // and so the source, at to + half, ends within the window
      }
    }
  }
}

// move's cursor is its own: seq's, wrapped at half the window by a move column, sent the next move column's sources
// (half a window after the destinations) onto the lines a seq column had just written.
TEST(PatternTest, MoveAndSeqKeepTheirOwnCursors) {
  const size_t window = size_t{1} << 20, half = MoveWindow(window);
  ColdState cold;
  SequentialCursor move = MoveCursor(&cold, 64, half);  // as timing.cc makes move's
  for (int i = 0; i < 10; ++i) move.Next();
  SequentialCursor seq(&cold, 4096, window);
  size_t seq_last = 0;
  for (int i = 0; i < 200; ++i) seq_last = seq.Next();  // past the middle of the window
  ASSERT_GT(seq_last, half);
  SequentialCursor next_move = MoveCursor(&cold, 64, half);
  EXPECT_EQ(next_move.Next(), 640u) << "where the last move column stopped";
  SequentialCursor next_seq(&cold, 4096, window);
  EXPECT_EQ(next_seq.Next(), seq_last + 4096);
}

// same: the first bytes at every size, where hot moves on from kFreshLinesFrom.
TEST(PatternTest, SameWritesTheFirstBytesAtEverySize) {
  for (size_t n : {size_t{64}, kFreshLinesFrom, size_t{64} << 20}) {
    SameBytes same;
    Cursor hot(n, size_t{128} << 20);
    EXPECT_EQ(hot.Next(), 0u);
    EXPECT_EQ(same.Next(), 0u);
    EXPECT_EQ(same.Next(), 0u) << n;
    EXPECT_EQ(hot.Next(), n < kFreshLinesFrom ? 0 : n) << n;
  }
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
