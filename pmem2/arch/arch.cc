// Copyright 2026 The pmem2 Authors.
//
// The architecture-neutral entry points: the backend linked for this CPU (backend.h) plus the choices that do
// not depend on the CPU (PMEM_NO_FLUSH for libpmem's functions and, its "0", for file mappings; the page-granularity
// copy flags).

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

const PersistOps& LibpmemOps(bool caches_are_persistent) {
  switch (ProcessEnvOverrides().flush) {
    case EnvOverrides::Flush::kNever:
      return ByteOps();
    case EnvOverrides::Flush::kAlways:
      return CacheLineOps();
    case EnvOverrides::Flush::kAuto:
      break;
  }
  return caches_are_persistent ? ByteOps() : CacheLineOps();
}

namespace {

// PageCopyFlags() for a plan's copy or fill decision (backend.h), inlined into the page copy and fill below.
template <class Fn>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline unsigned FlagsFor(const backend::PageDecision<Fn>& p, const void* dst, size_t len,
                                                      unsigned flags) {
  flags &= ~kPageStringStores;  // only this function sets it
  Destination destination = Destination::kRewrite;  // without a history every copy is as a rewrite
  if (p.history) {
    // The same buffer written again must not count as far and go non-temporal: a copy that starts up to lines_back
    // lines before the last line written is a rewrite, and with rewrite_covering one that covers that line, whatever
    // its size.
    uintptr_t lines_back = p.lines_back;
    if (p.rewrite_covering) lines_back = std::max<uintptr_t>(lines_back, (len + 63) / 64);
    destination = ClassifyDestination(&last_page_copy_line, dst, len, lines_back, p.run_on_is_ahead);
  }
  size_t nt_threshold = p.nt[static_cast<size_t>(destination)];
  if (destination == Destination::kFar && len >= p.far_below) nt_threshold = p.far_from_below_nt;
  const unsigned page_flags = PageCopyFlagsFor(len, flags, p.threshold_from_environment, nt_threshold);
  // Below its non-temporal threshold a rewrite takes ordinary stores; from string_from, by string instructions. Not
  // where the caller chose the kind of store, nor where PMEM_MOVNT_THRESHOLD decides: only where the threshold chose
  // kMemTemporal.
  const bool threshold_chose_ordinary = (page_flags & ~flags & kMemTemporal) != 0;
  const bool string =
      threshold_chose_ordinary && destination == Destination::kRewrite && p.string_from != 0 && len >= p.string_from;
  return page_flags | (string ? kPageStringStores : 0u);
}

}  // namespace

unsigned PageCopyFlags(const void* dst, size_t len, unsigned flags, PageWrite write) {
  const backend::PageCopyPlan& plan = backend::PagePlan();
  return write == PageWrite::kFill ? FlagsFor(plan.fill, dst, len, flags) : FlagsFor(plan.copy, dst, len, flags);
}

namespace {

// The kernel and flags for a copy or fill under `plan`: the decision's line only, and the string kernel's pointer when
// the copy takes it.
template <PageWrite kWrite>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline auto CallFor(const backend::PageCopyPlan& plan, const void* dst, size_t len,
                                                 unsigned flags) {
  if constexpr (kWrite == PageWrite::kCopy) {
    const unsigned page_flags = FlagsFor(plan.copy, dst, len, flags);
    return PageCopyCall{(page_flags & kPageStringStores) != 0 ? plan.string_memmove : plan.copy.kernel, page_flags};
  } else {
    const unsigned page_flags = FlagsFor(plan.fill, dst, len, flags);
    return PageFillCall{(page_flags & kPageStringStores) != 0 ? plan.string_memset : plan.fill.kernel, page_flags};
  }
}

// The first copy of a process that has not used the engine yet: PagePlan() selects. Out of line, so that nothing
// is kept live across a call on the usual path.
template <PageWrite kWrite>
ABSL_ATTRIBUTE_NOINLINE auto FirstCallFor(const void* dst, size_t len, unsigned flags) {
  return CallFor<kWrite>(backend::PagePlan(), dst, len, flags);
}

// The plan with one load (backend::current_page_plan), not a call.
template <PageWrite kWrite>
ABSL_ATTRIBUTE_ALWAYS_INLINE inline auto CurrentCallFor(const void* dst, size_t len, unsigned flags) {
  const backend::PageCopyPlan* plan = backend::current_page_plan.load(std::memory_order_acquire);
  if (ABSL_PREDICT_FALSE(plan == nullptr)) return FirstCallFor<kWrite>(dst, len, flags);
  return CallFor<kWrite>(*plan, dst, len, flags);
}

}  // namespace

// Hot (.text.hot, see pmem2/map/page_persist.cc): a page mapping's copy and fill decide here. PageCopyFor and
// PageFillFor keep no value across a call (a page mapping's copy that syncs calls them from its own frame);
// PageMemmove and PageMemset, the copies without a sync, are a decision and a jump.
ABSL_ATTRIBUTE_HOT PageCopyCall PageCopyFor(const void* dst, size_t len, unsigned flags) {
  return CurrentCallFor<PageWrite::kCopy>(dst, len, flags);
}

ABSL_ATTRIBUTE_HOT PageFillCall PageFillFor(const void* dst, size_t len, unsigned flags) {
  return CurrentCallFor<PageWrite::kFill>(dst, len, flags);
}

ABSL_ATTRIBUTE_HOT void* PageMemmove(void* dst, const void* src, size_t len, unsigned flags) {
  const PageCopyCall call = CurrentCallFor<PageWrite::kCopy>(dst, len, flags);
  return call.memmove(dst, src, len, call.flags);
}

ABSL_ATTRIBUTE_HOT void* PageMemset(void* dst, int c, size_t len, unsigned flags) {
  const PageFillCall call = CurrentCallFor<PageWrite::kFill>(dst, len, flags);
  return call.memset(dst, c, len, call.flags);
}

namespace {

// The name of what a copy's or fill's decision (backend.h) does, from the decision itself.
template <class Fn>
std::string NameOf(const backend::PageDecision<Fn>& d, const std::string& kernel, const char* string) {
  const size_t rewrite = d.nt[static_cast<size_t>(Destination::kRewrite)];
  if (!d.history) {
    return PageCopyNameFor(kernel, d.threshold_from_environment, rewrite, 0, 0, 0, 0, d.string_from, string);
  }
  // Far copies from far_below take far_from_below_nt: named where it is not the rewrite threshold (fills on Zen 5).
  const bool bounded = d.far_below != SIZE_MAX;
  const size_t then = bounded && d.far_from_below_nt != rewrite ? d.far_from_below_nt : 0;
  return PageCopyNameFor(kernel, d.threshold_from_environment, rewrite, d.nt[static_cast<size_t>(Destination::kAhead)],
                         d.nt[static_cast<size_t>(Destination::kFar)], bounded ? d.far_below : 0, then, d.string_from,
                         string);
}

}  // namespace

std::string PageCopyName(PageWrite write) {
  const backend::PageCopyPlan& plan = backend::PagePlan();
  // The byte tables' own names: a copy's may say more than a fill's (its 32-line batches, x86_64/ops.cc).
  if (write == PageWrite::kFill) return NameOf(plan.fill, ByteOps().memset_name, plan.string_memset_name);
  return NameOf(plan.copy, ByteOps().memmove_name, plan.string_memmove_name);
}

const std::string& InvalidEnvironment() { return ProcessEnvOverrides().invalid; }

}  // namespace arch
}  // namespace pmem2
