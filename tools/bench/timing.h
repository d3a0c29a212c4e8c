// Copyright 2026 The pmem2 Authors.
//
// tools/bench/timing.h
// -----------------------------------------------------------------------------
//
// The timed loops, one per op, and their registration with Google Benchmark. Every side of a case runs the
// same loop; only the function pointer differs. Where each call writes (the method of comparison.h):
//
//   * memcpy/memset of n < kFreshLinesFrom: always the first bytes of the destination (hot TLB; the lines are
//     whatever the previous call's write-back or NT stores left).
//   * memcpy/memset of n >= kFreshLinesFrom: each call writes the next round_up(n, kFreshLinesFrom) bytes of
//     the lane's window, wrapping at its end, so large copies land on lines that are in no cache, as streaming
//     writes do.
//   * persist: the first n bytes every time, each line dirtied by one 8-byte store just before the call (inside
//     the timed loop, identical for every side), so the flush always has dirty lines to write back.

#ifndef PMEM2_TOOLS_BENCH_TIMING_H_
#define PMEM2_TOOLS_BENCH_TIMING_H_

#include <cstddef>
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

// One benchmark: `op` ("memcpy", "memset" or "persist") of `size` bytes by `target` on a window of `window`
// bytes, copying from `source`. `glibc`: `target` is the glibc limit, timed through glibc's own signature.
struct TimedCall {
  std::string name;
  std::string op;
  Target target;
  bool glibc = false;
  size_t window = 0;
  const char* source = nullptr;
  size_t size = 0;
  bool cpu_time = true;  // false: Google Benchmark times (and sizes its iteration counts by) real time
};

// Registers `call` with Google Benchmark. Returns false, registering nothing, for a persist call of a target
// without a persist function.
bool RegisterTimedCall(const TimedCall& call);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_TIMING_H_
