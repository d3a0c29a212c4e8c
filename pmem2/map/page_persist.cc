// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/page_persist.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>

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

void PagePersist(const void* ptr, size_t size) {
  // Non-temporal stores are weakly ordered; make them visible before the kernel writes the pages back.
  arch::ByteOps().drain();
  if (size == 0) return;
  const uintptr_t start = reinterpret_cast<uintptr_t>(ptr) & ~(uintptr_t{PageSize()} - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + size;
  const MsyncFn sync = msync_fn.load(std::memory_order_relaxed);
  int error = 0;
  for (int attempt = 0; attempt <= kMaxInterruptedSyncs; ++attempt) {
    error = sync(reinterpret_cast<void*>(start), end - start, MS_SYNC) == 0 ? 0 : errno;
    if (error != EINTR) break;
  }
  if (error != 0) RecordPersistFailure(ptr, size, error);
}

// msync has already waited for the write-back: there is nothing left to drain.
void PageDrain() {}

unsigned CopyFlags(size_t len, unsigned flags) {
  static const bool threshold_from_environment = arch::ProcessEnvOverrides().has_movnt_threshold;
  return PageCopyFlags(len, flags, threshold_from_environment);
}

void* PageMemmove(void* pmemdest, const void* src, size_t len, unsigned flags) {
  arch::ByteOps().memmove(pmemdest, src, len, CopyFlags(len, flags));
  if ((flags & kMemNoFlush) == 0) PagePersist(pmemdest, len);
  return pmemdest;
}

void* PageMemset(void* pmemdest, int c, size_t len, unsigned flags) {
  arch::ByteOps().memset(pmemdest, c, len, CopyFlags(len, flags));
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
  const arch::PersistOps& byte = arch::ByteOps();
  ops.memmove_name = Intern(PageCopyName(byte.memmove_name, arch::ProcessEnvOverrides()));
  ops.memset_name = Intern(PageCopyName(byte.memset_name, arch::ProcessEnvOverrides()));
  ops.writes_back_cache_lines = false;
  return ops;
}

unsigned PageCopyFlags(size_t len, unsigned flags, bool threshold_from_environment) {
  if (len >= kPageNtThreshold && (flags & (kMemTemporal | kMemWb)) == 0 && !threshold_from_environment) {
    flags |= kMemNonTemporal;
  }
  // kMemNoDrain, not kMemNoFlush: the byte tables read kMemNoFlush as "ordinary stores only". PagePersist drains.
  return flags | kMemNoDrain;
}

std::string PageCopyName(const std::string& byte_kernel_name, const arch::EnvOverrides& overrides) {
  // The byte tables' name already says what happens when the environment decides, or when they have no
  // non-temporal path (generic, libc, PMEM_NO_MOVNT).
  const size_t nt = byte_kernel_name.find(" nt >= ");
  if (overrides.no_movnt || overrides.has_movnt_threshold || nt == std::string::npos) {
    return absl::StrCat(byte_kernel_name, ", then msync");
  }
  return absl::StrCat(byte_kernel_name.substr(0, nt), " nt >= ", kPageNtThreshold >> 10, " KiB, then msync");
}

void SetMsyncForTest(MsyncFn fn) { msync_fn.store(fn != nullptr ? fn : &::msync, std::memory_order_relaxed); }

}  // namespace map_internal
}  // namespace pmem2
