// Copyright 2026 The pmem2 Authors.
//
// The architecture-neutral entry points: the backend linked for this CPU (backend.h) plus the choices that do
// not depend on the CPU (PMEM_NO_FLUSH=0 for file mappings, the page-granularity copy flags).

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "pmem2/arch/backend.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/arch/destination_history.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/page_copy.h"
#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace {

size_t Or(size_t measured, size_t fallback) { return measured != 0 ? measured : fallback; }

}  // namespace

// The page copies' own destination history (destination_history.h), separate from the cache-line kernels'.
// External linkage on purpose, like every initial-exec thread-local of the engine: for one with internal linkage,
// gold (the linker of Bazel's default toolchain here) gave the shared object's dynamic TPOFF64 relocation the
// wrong symbol, so libpmem2.so.1 kept this history in the first bytes of the thread's pmem2_errormsg() text and
// the sync slot in this history's place (pmem2/c/so_symbols_test.sh checks the relocations, dlopen_test.cc the
// error message).
__thread uintptr_t last_page_copy_line __attribute__((tls_model("initial-exec"))) = 0;

const PersistOps& CacheLineOps() { return backend::CacheLineOps(); }
ABSL_ATTRIBUTE_HOT const PersistOps& ByteOps() { return backend::ByteOps(); }
#if !defined(__x86_64__)  // inline there (persist_ops.h)
ABSL_ATTRIBUTE_HOT void ByteDrain() { backend::ByteDrain(); }
#endif
FlushFn WriteBackFlush() { return backend::WriteBackFlush(); }
std::string DescribeCpu() { return backend::DescribeCpu(); }

const PersistOps& FileByteOps() {
  return ProcessEnvOverrides().flush == EnvOverrides::Flush::kAlways ? CacheLineOps() : ByteOps();
}

namespace {

// PageCopyFlags() for `plan`, inlined into the page copy and fill below so that they make one call (PagePlan)
// before the byte table's.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline unsigned FlagsFor(const backend::PageCopyPlan& plan, const void* dst,
                                                      size_t len, unsigned flags, PageWrite write) {
  const backend::PageNtThresholds& t = plan.thresholds;
  flags &= ~kPageStringStores;  // only this function sets it
  size_t nt_threshold = Or(t.rewrite, kPageNtThreshold);
  bool rewrite = true;  // the copy takes a rewrite threshold: string instructions may write it (string_from)
  if (t.far == 0) {
    // No history: every copy is as a rewrite.
    if (write == PageWrite::kFill) nt_threshold = Or(t.fill_rewrite, nt_threshold);
  } else {
    // The same buffer written again must not count as far and go non-temporal: a copy that starts up to
    // rewrite_back bytes before the last line written is a rewrite, and with rewrite_covering one that covers
    // that line, whatever its size.
    uintptr_t lines_back = std::max<uintptr_t>(t.rewrite_back / 64, kNearLinesBack);
    if (t.rewrite_covering) lines_back = std::max<uintptr_t>(lines_back, (len + 63) / 64);
    bool rewrite_threshold = true;
    const Destination destination = ClassifyDestination(&last_page_copy_line, dst, len, lines_back, t.run_on_is_ahead);
    switch (destination) {
      case Destination::kFar:
        // A far copy from far_below on (backend.h) keeps the rewrite threshold.
        if (t.far_below == 0 || len < t.far_below) {
          nt_threshold = t.far;
          rewrite_threshold = false;
        }
        break;
      case Destination::kAhead: {
        const size_t ahead = write == PageWrite::kFill ? Or(t.fill_ahead, t.ahead) : t.ahead;
        if (ahead != 0) {
          nt_threshold = ahead;
          rewrite_threshold = false;
        }
        break;
      }
      case Destination::kRewrite:
        break;
    }
    // Where a copy takes the rewrite threshold, a fill takes the fills' own, but not a far one: on Zen 5 ordinary
    // stores won for the same 8 MiB filled again on both guests measured (8-16 MiB on the first), while for random
    // fills of 8-32 MiB they won on one guest and lost on the other (x86_64/ops.cc).
    if (write == PageWrite::kFill && rewrite_threshold && destination != Destination::kFar) {
      nt_threshold = Or(t.fill_rewrite, nt_threshold);
    }
    rewrite = destination == Destination::kRewrite;
  }
  // Below its non-temporal threshold a rewrite takes ordinary stores; from string_from, by string instructions. Not
  // where the caller chose the kind of store, nor where PMEM_MOVNT_THRESHOLD decides.
  constexpr unsigned kStoreKind = kMemNonTemporal | kMemTemporal | kMemWc | kMemWb;
  const bool string = rewrite && t.string_from != 0 && len >= t.string_from && len < nt_threshold &&
                      (flags & kStoreKind) == 0 && !plan.threshold_from_environment;
  return PageCopyFlagsFor(len, flags, plan.threshold_from_environment, nt_threshold) |
         (string ? kPageStringStores : 0u);
}

}  // namespace

unsigned PageCopyFlags(const void* dst, size_t len, unsigned flags, PageWrite write) {
  return FlagsFor(backend::PagePlan(), dst, len, flags, write);
}

namespace {

// The first copy of a process that has not used the engine yet: PagePlan() selects.
template <PageWrite kWrite, class From>
ABSL_ATTRIBUTE_NOINLINE void* FirstPageWrite(void* dst, From src, size_t len, unsigned flags) {
  const backend::PageCopyPlan& plan = backend::PagePlan();
  const unsigned page_flags = FlagsFor(plan, dst, len, flags, kWrite);
  const bool string = (page_flags & kPageStringStores) != 0;
  if constexpr (kWrite == PageWrite::kCopy) {
    return (string ? plan.string_memmove : plan.memmove)(dst, src, len, page_flags);
  } else {
    return (string ? plan.string_memset : plan.memset)(dst, src, len, page_flags);
  }
}

}  // namespace

// Hot (.text.hot, see pmem2/map/page_persist.cc): a page mapping's copy and fill. The plan with one load
// (backend::current_page_plan), not a call, and the byte table's copy is a jump. The history's arithmetic (FlagsFor)
// keeps registers live, which a -c opt build saves and restores on every call: four at 0380b6d, five with
// run_on_is_ahead's (tools/bench/results/intel-6-167.md, "A buffer written again").
ABSL_ATTRIBUTE_HOT void* PageMemmove(void* dst, const void* src, size_t len, unsigned flags) {
  const backend::PageCopyPlan* plan = backend::current_page_plan.load(std::memory_order_acquire);
  if (ABSL_PREDICT_FALSE(plan == nullptr)) return FirstPageWrite<PageWrite::kCopy>(dst, src, len, flags);
  const unsigned page_flags = FlagsFor(*plan, dst, len, flags, PageWrite::kCopy);
  if ((page_flags & kPageStringStores) != 0) return plan->string_memmove(dst, src, len, page_flags);
  return plan->memmove(dst, src, len, page_flags);
}

ABSL_ATTRIBUTE_HOT void* PageMemset(void* dst, int c, size_t len, unsigned flags) {
  const backend::PageCopyPlan* plan = backend::current_page_plan.load(std::memory_order_acquire);
  if (ABSL_PREDICT_FALSE(plan == nullptr)) return FirstPageWrite<PageWrite::kFill>(dst, c, len, flags);
  const unsigned page_flags = FlagsFor(*plan, dst, len, flags, PageWrite::kFill);
  if ((page_flags & kPageStringStores) != 0) return plan->string_memset(dst, c, len, page_flags);
  return plan->memset(dst, c, len, page_flags);
}

std::string PageCopyName(PageWrite write) {
  const backend::PageCopyPlan& plan = backend::PagePlan();
  const backend::PageNtThresholds& t = plan.thresholds;
  const size_t copy_rewrite = Or(t.rewrite, kPageNtThreshold);
  const bool own_fill = write == PageWrite::kFill && t.fill_rewrite != 0;
  const size_t rewrite = own_fill ? t.fill_rewrite : copy_rewrite;
  // The byte tables' own names: a copy's may say more than a fill's (its 32-line batches, x86_64/ops.cc).
  const std::string kernel = write == PageWrite::kFill ? ByteOps().memset_name : ByteOps().memmove_name;
  const char* string = write == PageWrite::kFill ? plan.string_memset_name : plan.string_memmove_name;
  if (t.far == 0) {
    return PageCopyNameFor(kernel, plan.threshold_from_environment, rewrite, 0, 0, 0, 0, t.string_from, string);
  }
  const size_t ahead = write == PageWrite::kFill ? Or(t.fill_ahead, t.ahead) : t.ahead;
  return PageCopyNameFor(kernel, plan.threshold_from_environment, rewrite, Or(ahead, rewrite), t.far, t.far_below,
                         own_fill ? copy_rewrite : 0, t.string_from, string);
}

const std::string& InvalidEnvironment() { return ProcessEnvOverrides().invalid; }

}  // namespace arch
}  // namespace pmem2
