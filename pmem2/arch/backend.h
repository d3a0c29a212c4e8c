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

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps();
const PersistOps& ByteOps();
void ByteDrain();  // ByteOps().drain, as a direct call (not on x86-64: persist_ops.h inlines it)
FlushFn WriteBackFlush();
// Page-granularity copies of at least these many bytes default to non-temporal stores, by where the copy starts
// relative to the calling thread's previous page copy (destination_history.h). `far` == 0: the CPU kind keeps
// no history for page copies and `rewrite` applies to every destination; 0 in `rewrite`: nothing measured for
// this CPU, kPageNtThreshold (page_copy.h) applies.
struct PageNtThresholds {
  size_t rewrite = 0;    // on lines the previous copy just wrote, or for every copy without a history
  size_t ahead = 0;      // on the lines just after them (a sequential stream)
  size_t far = 0;        // anywhere else
  // Far copies of at least this many bytes take `rewrite` instead; 0: no bound.
  size_t far_below = 0;
  // A copy starting up to this many bytes before the last line written counts as a rewrite; 0: the cache-line
  // tables' kNearLinesBack lines (destination_history.h).
  size_t rewrite_back = 0;
  // A copy that starts within as many lines before the last line written as it is long (ceil(len / 64)) also
  // counts as a rewrite, however long: the same buffer written again, whatever its size (one whose start is
  // misaligned so that it ends a line or two short of the last line written is so too; one that ends further back
  // is not).
  bool rewrite_covering = false;
  // A copy that would be a rewrite but runs on past the last line written, by more than kNearLinesAhead lines and by
  // more lines than it rewrites, counts as ahead: mostly new lines, such as the next record of a stream whose records
  // are not whole lines (each starts on the line where the previous one ended). A buffer written again a few lines
  // longer stays a rewrite. Without it such a copy takes `rewrite`, whatever its size.
  bool run_on_is_ahead = false;
  // A copy or fill with the default store kind that takes ordinary stores on a rewrite (or without a history) and is at
  // least this many bytes long uses string instructions (the plan's string_memmove / string_memset: REP MOVSQ / REP
  // STOSQ on x86-64); 0: never (32 bits).
  uint32_t string_from = 0;
  // `rewrite` for fills (memset), except far ones (from `far_below`), which keep `rewrite` as far copies do;
  // 0: the same as for copies.
  size_t fill_rewrite = 0;
  // `ahead` for fills; 0: the same as for copies.
  size_t fill_ahead = 0;

  bool operator==(const PageNtThresholds& o) const {
    return rewrite == o.rewrite && ahead == o.ahead && far == o.far && far_below == o.far_below &&
           rewrite_back == o.rewrite_back && rewrite_covering == o.rewrite_covering &&
           run_on_is_ahead == o.run_on_is_ahead && string_from == o.string_from && fill_rewrite == o.fill_rewrite &&
           fill_ahead == o.fill_ahead;
  }
};
// What a page-granularity copy (Fn = MemmoveFn) or fill (MemsetFn) decides from, on one cache line, derived from a
// plan's thresholds (DerivePageDecisions). The kind of store for a copy of `len` bytes to a destination of kind d
// (destination_history.h; every copy is a rewrite without a history): non-temporal from nt[d], except far ones from
// far_below, which take far_from_below_nt; ordinary stores below, by string instructions on a rewrite from
// string_from (0: never). Every case of PageNtThresholds resolved ahead, so that a copy looks one threshold up, in
// fewer instructions and registers: on Intel 6/167 memcpy_fn and memset_fn of 64 B came 0.3-0.6 and 0.7-0.9 ns closer
// to a bare msync than with the thresholds read field by field in one set of runs, and within the noise in another
// (tools/bench/results/intel-6-167.md, "The page decision").
template <class Fn>
struct alignas(64) PageDecision {
  Fn kernel = nullptr;  // the plan's memmove or memset
  size_t nt[3] = {};    // by Destination: kFar, kRewrite, kAhead
  size_t far_below = SIZE_MAX;
  size_t far_from_below_nt = 0;
  size_t lines_back = 0;  // a rewrite starts up to this many lines before the last line written (ClassifyDestination)
  uint32_t string_from = 0;
  bool history = false;  // the thread's destination history decides (PageNtThresholds::far != 0)
  bool rewrite_covering = false;
  bool run_on_is_ahead = false;
  bool threshold_from_environment = false;  // PMEM_MOVNT_THRESHOLD set: the byte table's threshold decides
};
static_assert(sizeof(PageDecision<MemmoveFn>) == 64, "one line");

// Everything a page-granularity copy or fill reads on every call, resolved once per selection (at its first use,
// and again when a test installs another) and found with one load (current_page_plan). Reaching the same
// through ByteOps() and a PageNtThresholds returned by value took nine calls, 4-6 ns of a page copy on Zen 5
// (a 64-byte one without msync: 9.3 ns, now 3.3, glibc's memcpy 1.8; tools/bench/results/amd-26-2.md, "The page
// copy's own work"). A copy reads one line of it (`copy`), a fill another (`fill`), and the string kernels' pointers
// only when it takes them: each line a copy touches after a system call may cost a nanosecond (amd-26-2.md, "The page
// sync's lines").
struct alignas(64) PageCopyPlan {
  PageDecision<MemmoveFn> copy;  // derived from the fields below (DerivePageDecisions)
  PageDecision<MemsetFn> fill;
  MemmoveFn memmove = nullptr;  // ByteOps().memmove and .memset
  bool threshold_from_environment = false;  // PMEM_MOVNT_THRESHOLD set: the byte table's threshold decides
  PageNtThresholds thresholds;
  MemsetFn memset = nullptr;
  // Where thresholds.string_from sends a copy or fill (read only then); null where it is 0.
  MemmoveFn string_memmove = nullptr;
  MemsetFn string_memset = nullptr;
  // The instructions, for PageCopyName() ("rep movsq"); set with the kernels, so equal kernels mean equal names.
  const char* string_memmove_name = "";
  const char* string_memset_name = "";

  // Without `copy` and `fill`, which follow from the rest.
  bool operator==(const PageCopyPlan& o) const {
    return memmove == o.memmove && threshold_from_environment == o.threshold_from_environment &&
           thresholds == o.thresholds && memset == o.memset && string_memmove == o.string_memmove &&
           string_memset == o.string_memset;
  }
};
// Sets plan->copy and plan->fill from the plan's other fields; a backend calls it before it publishes the plan.
void DerivePageDecisions(PageCopyPlan* plan);
// The plan of the current selection; the same tables ByteOps() returns.
const PageCopyPlan& PagePlan();
// What PagePlan() returns, published by the backend (release) whenever its selection changes; null before the
// engine's first use. A copy reads it with one load, where a call to PagePlan() made the copy save registers.
// Plans are never freed, so one read here stays valid.
extern std::atomic<const PageCopyPlan*> current_page_plan;
std::string DescribeCpu();

}  // namespace backend
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_BACKEND_H_
