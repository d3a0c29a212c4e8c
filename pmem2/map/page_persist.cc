// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/page_persist.h"

#include "pmem2/map/page_persist_for_test.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/attributes.h"
#include "absl/strings/str_cat.h"
#include "pmem2/map/map_registry.h"

namespace pmem2 {
namespace map_internal {
namespace {

std::atomic<MsyncFn> msync_fn{&::msync};

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

}  // namespace

// ABSL_ATTRIBUTE_HOT here and on every function a page mapping's persist and copy call (the sync scope, the
// byte tables' selection, the page copy's flags): GCC puts them in .text.hot, which GNU ld and gold place side by
// side (lld only with -z keep-text-section-prefix), in one page of code instead of six. Where a system call costs
// the process its TLB, as on the Zen 5 guest of tools/bench/results/amd-26-2.md ("A page persist's pages"), every
// page of code or data touched after msync costs a page walk on every call, 1-5 ns a page there; grouped, and with
// arch::ByteDrain(), persist_fn and the page copies came 1-12 ns (paired medians of 30 processes) closer to a bare
// msync, at the edge of that host's noise.
ABSL_ATTRIBUTE_HOT int SyncPages(const void* ptr, size_t size, bool caller_sees_result) {
  // Non-temporal stores are weakly ordered; make them visible before the kernel writes the pages back.
  arch::ByteDrain();
  if (size == 0) return 0;
  const uintptr_t start = reinterpret_cast<uintptr_t>(ptr) & ~(uintptr_t{PageSize()} - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + size;
  const MsyncFn sync = msync_fn.load(std::memory_order_relaxed);
  // Registered with the file's tracker until the failure, if any, is recorded (map_registry.h).
  SyncScope scope(ptr);
  int error = 0;
  for (int attempt = 0; attempt <= kMaxInterruptedSyncs; ++attempt) {
    error = sync(reinterpret_cast<void*>(start), end - start, MS_SYNC) == 0 ? 0 : errno;
    if (error != EINTR) break;
  }
  const bool usage_error = error == ENOMEM || error == EINVAL;
  if (error != 0 && !(caller_sees_result && usage_error)) RecordPersistFailure(ptr, size, error);
  return error;
}

namespace {

ABSL_ATTRIBUTE_HOT void PagePersist(const void* ptr, size_t size) {
  SyncPages(ptr, size, /*caller_sees_result=*/false);
}

// msync has already waited for the write-back: there is nothing left to drain.
ABSL_ATTRIBUTE_HOT void PageDrain() {}

ABSL_ATTRIBUTE_HOT void* PageMemmove(void* pmemdest, const void* src, size_t len, unsigned flags) {
  arch::PageMemmove(pmemdest, src, len, flags);
  if ((flags & kMemNoFlush) == 0) PagePersist(pmemdest, len);
  return pmemdest;
}

ABSL_ATTRIBUTE_HOT void* PageMemset(void* pmemdest, int c, size_t len, unsigned flags) {
  arch::PageMemset(pmemdest, c, len, flags);
  if ((flags & kMemNoFlush) == 0) PagePersist(pmemdest, len);
  return pmemdest;
}

// The diagnostics hold plain C strings for the life of the process; the names depend on the environment and
// the (test-replaceable) CPU selection, so they are kept here, once each.
const char* Intern(std::string name) {
  static std::mutex mutex;  // not absl::Mutex: see map_registry.h on ThreadSanitizer
  static std::set<std::string>* names = new std::set<std::string>;
  std::lock_guard<std::mutex> lock(mutex);
  return names->insert(std::move(name)).first->c_str();
}

}  // namespace

arch::PersistOps PageOps() {
  arch::PersistOps ops{};
  ops.persist = PagePersist;
  ops.flush = PagePersist;
  ops.drain = PageDrain;
  ops.memmove = PageMemmove;
  ops.memset = PageMemset;
  ops.flush_name = "msync";
  ops.drain_name = "none (msync waits)";
  ops.memmove_name = Intern(absl::StrCat(arch::PageCopyName(), ", then msync"));
  ops.memset_name = Intern(absl::StrCat(arch::PageCopyName(arch::PageWrite::kFill), ", then msync"));
  ops.writes_back_cache_lines = false;
  return ops;
}

void SetMsyncForTest(MsyncFn fn) { msync_fn.store(fn != nullptr ? fn : &::msync, std::memory_order_relaxed); }

}  // namespace map_internal
}  // namespace pmem2
