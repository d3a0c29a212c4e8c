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
// hardware prefetcher follows) is near; anything else is a jump to a line that is probably cold. Lines the
// previous copy wrote with non-temporal stores are not cached (the stores went around the caches, and evicted
// the lines if they were there), so a rewrite of them counts as far; the lines after them still count as ahead,
// so a stream that started non-temporal can become a cached one. The history is one word per thread and table
// (the x86-64 cache-line kernels, the page-granularity copies): the last line written, shifted left by one, and
// a low bit that says it was written non-temporally. The check is a load, a store, a shift and two compares.

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

// The history word for "the last line written was `line`", with ordinary stores.
inline constexpr uintptr_t HistoryOf(uintptr_t line) { return line << 1; }

// Records [d, d + n) as the latest destination in *history (written with ordinary stores until
// MarkNonTemporal says otherwise) and says where d was. A thread's first copy (*history == 0) is far.
__attribute__((always_inline)) inline Destination ClassifyDestination(uintptr_t* history, const void* d, size_t n) {
  constexpr uintptr_t kLine = 64;
  const uintptr_t start = reinterpret_cast<uintptr_t>(d);
  const uintptr_t previous = *history >> 1;
  const bool previous_non_temporal = (*history & 1) != 0;
  *history = HistoryOf((start + n - (n != 0 ? 1 : 0)) / kLine);
  const uintptr_t offset = start / kLine - previous + kNearLinesBack;  // unsigned: a jump wraps far away
  if (offset > kNearLinesBack + kNearLinesAhead) return Destination::kFar;
  if (offset > kNearLinesBack) return Destination::kAhead;
  return previous_non_temporal ? Destination::kFar : Destination::kRewrite;
}

// The same, near (kRewrite or kAhead) or not.
__attribute__((always_inline)) inline bool RecordDestination(uintptr_t* history, const void* d, size_t n) {
  return ClassifyDestination(history, d, n) != Destination::kFar;
}

// The copy just recorded went out with non-temporal stores: its lines are not cached.
__attribute__((always_inline)) inline void MarkNonTemporal(uintptr_t* history) { *history |= 1; }

}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_DESTINATION_HISTORY_H_
