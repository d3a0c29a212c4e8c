// Copyright 2026 The pmem2 Authors.
//
// tools/bench/timing.h
// -----------------------------------------------------------------------------
//
// The timed loops, one per op, and their registration with Google Benchmark. Every side of a case runs the
// same loop; only the function pointer differs. Where each call writes (the method of comparison.h) depends on
// the destination pattern:
//
//   hot (Cursor; what the table measured before there were patterns):
//   * memcpy/memset of n < kFreshLinesFrom: always the first bytes of the destination (hot TLB; the lines are
//     whatever the previous call's write-back or NT stores left).
//   * memcpy/memset of n >= kFreshLinesFrom: each call writes the next round_up(n, kFreshLinesFrom) bytes of
//     the lane's window, wrapping at its end.
//   seq, "sequential cold" (SequentialCursor; a log appending): each call writes at a cursor that then advances
//     by n, wrapping before the end of the lane's cold window; from 64 B each call starts a line, below it
//     records are packed, as a log of small records is (most of them not at a line's start, some across two
//     lines). One cursor is shared by every side, size and lane of a run, and each run of a column starts on the
//     next whole line, so each call writes lines the whole window's worth of writes ago touched, never the lines
//     another column just wrote (a column's records share lines only with its own).
//   rand, "random cold" (RandomSlots; a tree or hash table updating): each call writes a uniformly random slot
//     of size s = round_up(n, 64) at a multiple of s in the cold window. One PRNG stream (fixed seed) is shared
//     by every side in the same way: each column draws the next slots of the same sequence. (Replaying the same
//     slots for each column would hand the second column the lines the first had just left in the cache.)
//   same (opt-in, --patterns=same; a buffer written again: a header, a ring, a block): every call writes the first
//     n bytes of the lane's window, at every size (hot does so only below kFreshLinesFrom). Which lines are cached
//     then depends only on the size and on what the previous call's stores left, so ordinary stores and NT stores
//     meet on the lines they favour least and most; the default patterns never rewrite more than 4 KiB.
//   move (opt-in, --patterns=move; a compaction, or records moved into place, within the file): copies only; each
//     call copies from a source as cold as its destination. The destination follows a cursor of its own, as seq's,
//     over the first half of the cold window (MoveWindow), the source lies the same offset into the second half, so
//     both walk lines the whole half's worth of copies ago touched; every other pattern copies from one hot source
//     buffer.
//   * persist (hot only): the first n bytes every time, each line dirtied by one 8-byte store just before the
//     call (inside the timed loop, identical for every side), so the flush always has dirty lines to write back.

#ifndef PMEM2_TOOLS_BENCH_TIMING_H_
#define PMEM2_TOOLS_BENCH_TIMING_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "tools/bench/lane.h"

namespace pmem2 {
namespace bench {

inline constexpr size_t kFreshLinesFrom = 4096;

// Where the next call of a copy of `n` bytes writes in a window of `window` bytes (n <= window), as above.
class Cursor {
 public:
  Cursor(size_t n, size_t window);
  // The offset for this call; advances to the next.
  size_t Next();

 private:
  size_t offset_ = 0;
  size_t stride_ = 0;
  size_t last_ = 0;  // the largest offset that still fits
};

// The destination patterns, in the table's order.
enum class Pattern { kHot, kSeq, kRand, kSame, kMove };
inline constexpr Pattern kPatterns[] = {Pattern::kHot, Pattern::kSeq, Pattern::kRand, Pattern::kSame, Pattern::kMove};

// Whether `pattern` writes the large cold window (seq, rand, move) rather than the hot one.
constexpr bool IsCold(Pattern pattern) {
  return pattern == Pattern::kSeq || pattern == Pattern::kRand || pattern == Pattern::kMove;
}

// move: the part of a cold window of `cold_window` bytes that its destinations walk (the first half, rounded down
// to whole 4 KiB pages); the sources are as far again into the window, so source and destination share their
// offset within a page, as every other pattern's do.
constexpr size_t MoveWindow(size_t cold_window) { return cold_window / 2 / 4096 * 4096; }

// same: offset 0 for every call.
struct SameBytes {
  size_t Next() const { return 0; }
};

// "hot", "seq", "rand", "same", "move": the table's and --patterns' names.
const char* PatternName(Pattern pattern);

// What the cold patterns' sides share for a whole run: the sequential cursors and the PRNG state.
struct ColdState {
  static constexpr uint64_t kSeed = 0x2545f4914f6cdd1du;
  size_t next = 0;  // SequentialCursor of seq: where the next call writes (before wrapping)
  // move's own cursor: it wraps at half the cold window, so seq's cursor, wrapped there by a move column, would
  // send the next move column's sources onto the lines a seq column had just written.
  size_t move_next = 0;
  uint64_t rng = kSeed;  // RandomSlots: xorshift64* state, never 0
};

// seq: the offset for a copy of `n` bytes in a window of `window` bytes (n <= window), advancing `state->next`
// by n and wrapping to 0 where the copy would pass the window's end. A cursor is made for each run of a column
// (timing.cc) and starts at the next whole line, where a record size of another run may have left `state->next`:
// offsets stay multiples of 64 for sizes that are, and of 8 for records of 8-56 B.
class SequentialCursor {
 public:
  SequentialCursor(ColdState* state, size_t n, size_t window) : SequentialCursor(&state->next, n, window) {}
  // The same over another shared cursor (ColdState::move_next).
  SequentialCursor(size_t* next, size_t n, size_t window) : next_(next), stride_(n), last_(window - n) {
    *next_ = (*next_ + 63) & ~size_t{63};
  }
  size_t Next() {
    size_t offset = *next_;
    if (offset > last_) offset = 0;
    *next_ = offset + stride_;
    return offset;
  }

 private:
  size_t* next_;
  size_t stride_;
  size_t last_;  // the largest offset that still fits
};

// move's cursor for a copy of `n` bytes in its half window of `half` bytes: ColdState::move_next (timing.cc).
inline SequentialCursor MoveCursor(ColdState* state, size_t n, size_t half) {
  return SequentialCursor(&state->move_next, n, half);
}

// rand: a uniformly random multiple of round_up(n, 64) below the window (round_up(n, 64) <= window), drawn from
// `state->rng` (xorshift64*; scaled by a 64 x 64 -> 128-bit multiply, which leaves no visible bias here).
class RandomSlots {
 public:
  RandomSlots(ColdState* state, size_t n, size_t window)
      : state_(state), slot_((n + 63) / 64 * 64), slots_(window / slot_) {}
  size_t Next() {
    uint64_t x = state_->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    state_->rng = x;
    const uint64_t r = x * 0x2545f4914f6cdd1du;
    return static_cast<size_t>((static_cast<unsigned __int128>(r) * slots_) >> 64) * slot_;
  }

 private:
  ColdState* state_;
  size_t slot_;
  uint64_t slots_;
};

// One benchmark: `op` ("memcpy", "memset" or "persist") of `size` bytes by `target` on a window of `window`
// bytes in `pattern` (persist: hot only), copying from `source` (move: from the window itself). `glibc`: `target` is
// the glibc limit, timed through glibc's own signature.
struct TimedCall {
  std::string name;
  std::string op;
  Target target;
  bool glibc = false;
  Pattern pattern = Pattern::kHot;
  size_t window = 0;             // the hot window, or the cold one for seq, rand and move (the whole of it)
  ColdState* cold = nullptr;     // seq, rand and move: shared by every call of the run; outlives the run
  const char* source = nullptr;  // unused by move
  size_t size = 0;
  bool cpu_time = true;  // false: Google Benchmark times (and sizes its iteration counts by) real time
};

// Registers `call` with Google Benchmark. Returns false, registering nothing, for a persist call of a target
// without a persist function or a persist call in a cold pattern, and for a fill in move (it has no source).
bool RegisterTimedCall(const TimedCall& call);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_TIMING_H_
