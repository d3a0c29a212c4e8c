// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/arch: what every CPU backend provides. Each backend package has a `backend` target that
// defines these; the select() in pmem2/arch/BUILD.bazel links exactly one, so the BUILD file is the only place
// that says which backend a CPU gets.

#ifndef PMEM2_ARCH_BACKEND_H_
#define PMEM2_ARCH_BACKEND_H_

#include <string>

#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps();
const PersistOps& ByteOps();
void ByteDrain();  // ByteOps().drain, as a direct call
FlushFn WriteBackFlush();
// Page-granularity copies of at least these many bytes default to non-temporal stores, by where the copy starts
// relative to the calling thread's previous page copy (destination_history.h). `far` == 0: the CPU kind keeps
// no history for page copies and `rewrite` applies to every destination; 0 in `rewrite`: nothing measured for
// this CPU, kPageNtThreshold (page_copy.h) applies.
struct PageNtThresholds {
  size_t rewrite = 0;    // on lines the previous copy just wrote, or for every copy without a history
  size_t ahead = 0;      // on the lines just after them (a sequential stream)
  size_t far = 0;        // anywhere else
  // Far copies of at least this many bytes take `rewrite` instead, and a copy starting up to this many bytes
  // before the last line written counts as a rewrite (so the same buffer written again below the bound is one);
  // 0: no bound, the cache-line tables' kNearLinesBack window (destination_history.h).
  size_t far_below = 0;
  // `rewrite` for fills (memset), except a far fill right after a step of a stream (kAhead), which keeps
  // `rewrite`; 0: the same as for copies.
  size_t fill_rewrite = 0;
};
PageNtThresholds PageThresholds();
std::string DescribeCpu();

}  // namespace backend
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_BACKEND_H_
