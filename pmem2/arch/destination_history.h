// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/destination_history.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/arch: a stand-in for the CPU cache state of a copy's destination, which cannot be read.
// Where a CPU kind's measurements show ordinary stores winning on a cached or prefetched line and non-temporal
// stores on a cold one (x86_64/ops.cc lists them), the choice follows the calling thread's own recent writes:
// a destination that starts at most kNearLinesBack cache lines before the last line of the previous copy (most
// likely still cached: it was just written) or at most kNearLinesAhead lines after it (a sequential stream the
// hardware prefetcher follows) is near; anything else is a jump to a line that is probably cold. A rewrite of
// lines the previous copy wrote non-temporally also counts as near, although those lines are not cached: that
// copy pays one cold miss and leaves the lines cached for the next one, where treating it as far would keep a
// hot line non-temporal forever (measured on Intel 6/167 page copies: a 64 B rewrite 386 ns instead of 174 ns,
// tools/bench/results/intel-6-167.md). The history is one word per thread and table (the x86-64 cache-line
// kernels, the page-granularity copies), the last line written, so the check is a load, a store and compares.

#ifndef PMEM2_ARCH_DESTINATION_HISTORY_H_
#define PMEM2_ARCH_DESTINATION_HISTORY_H_

#include <cstddef>
#include <cstdint>

namespace pmem2 {
namespace arch {

inline constexpr uintptr_t kNearLinesBack = 64;
inline constexpr uintptr_t kNearLinesAhead = 2;

// Where a copy starts relative to the thread's previous one: on lines it just wrote (kRewrite: up to
// kNearLinesBack lines before its last line, that line included), on the next lines (kAhead: up to
// kNearLinesAhead lines after it), or anywhere else (kFar).
enum class Destination { kFar, kRewrite, kAhead };

// The history word for "the last line written was `line`" (address / 64).
inline constexpr uintptr_t HistoryOf(uintptr_t line) { return line; }

// Records [d, d + n) as the latest destination in *history and says where d was. A thread's first copy
// (*history == 0) is far. `lines_back` widens kRewrite for callers whose copies are often larger than
// kNearLinesBack lines (a rewrite of the same 16 KiB starts 255 lines before the last line written).
// `run_on_is_ahead`: a copy that starts as a rewrite but runs on past the last line written, by more than
// kNearLinesAhead lines and by more lines than it rewrites (the next record of a stream whose records are not whole
// lines, each starting on the line where the previous one ended), is kAhead; a buffer written again a few lines
// longer stays kRewrite.
__attribute__((always_inline)) inline Destination ClassifyDestination(uintptr_t* history, const void* d, size_t n,
                                                                      uintptr_t lines_back = kNearLinesBack,
                                                                      bool run_on_is_ahead = false) {
  constexpr uintptr_t kLine = 64;
  const uintptr_t start = reinterpret_cast<uintptr_t>(d);
  const uintptr_t previous = *history;
  const uintptr_t end_line = (start + n - (n != 0 ? 1 : 0)) / kLine;
  *history = HistoryOf(end_line);
  const uintptr_t offset = start / kLine - previous + lines_back;  // unsigned: a jump wraps far away
  if (offset > lines_back + kNearLinesAhead) return Destination::kFar;
  if (offset > lines_back) return Destination::kAhead;
  // A rewrite starts at most lines_back lines before `previous`, so neither difference wraps.
  if (run_on_is_ahead && end_line > previous + kNearLinesAhead && end_line - previous > previous - start / kLine + 1) {
    return Destination::kAhead;
  }
  return Destination::kRewrite;
}

// The same, near (kRewrite or kAhead) or not.
__attribute__((always_inline)) inline bool RecordDestination(uintptr_t* history, const void* d, size_t n) {
  return ClassifyDestination(history, d, n) != Destination::kFar;
}

}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_DESTINATION_HISTORY_H_
