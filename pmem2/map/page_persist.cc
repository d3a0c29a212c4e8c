// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/page_persist.h"

#include "pmem2/map/page_persist_for_test.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <new>
#include <set>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_cat.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/map/map_registry.h"

namespace pmem2 {
namespace map_internal {
namespace {

// At the first sync of the process; threads that race here store the same value.
ABSL_ATTRIBUTE_NOINLINE uintptr_t FirstPageSize() {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  page_sync_shared.page_size.store(page, std::memory_order_relaxed);
  return page;
}

// Whether every page of [start, start + length) (from a page boundary) is mapped: mincore(2) fails with ENOMEM where
// one is not, as msync does. Asked in pieces, into a buffer on the stack (a failed persist allocates nothing). An
// answer it cannot give (EAGAIN) is "mapped".
bool PagesAreAllMapped(char* start, size_t length, size_t page) {
  constexpr size_t kPagesAtOnce = 256;
  unsigned char resident[kPagesAtOnce];
  for (size_t done = 0; done < length;) {
    const size_t piece = std::min(length - done, kPagesAtOnce * page);
    if (mincore(start + done, piece, resident) != 0 && errno == ENOMEM) return false;
    done += piece;
  }
  return true;
}

int MsyncRetryingInterrupts(void* start, size_t length) {
  int error = PageMsync(start, length);
  for (int attempt = 1; attempt <= kMaxInterruptedSyncs && error == EINTR; ++attempt) error = PageMsync(start, length);
  return error;
}

constexpr int kAllMapped = -2;  // SyncAroundHoles: no hole, the ENOMEM is an fsync's
constexpr int kNotTold = -1;    // SyncAroundHoles: the mappings could not be read

// The runs of mapped pages in [start, start + length) (mappings back to back), synced each on its own, in address
// order as the kernel lists them: the first errno, 0 if none; kNotTold where the mappings cannot be read (no /proc, no
// descriptor left) and no run's sync failed.
int SyncMappedRuns(char* start, size_t length) {
  int first_error = 0;
  uintptr_t run_begin = 0;
  uintptr_t run_end = 0;
  const auto sync_run = [&] {
    if (run_end <= run_begin) return;
    const int error = MsyncRetryingInterrupts(reinterpret_cast<void*>(run_begin), run_end - run_begin);
    if (first_error == 0) first_error = error;
  };
  const int read = ForEachMappingIn(start, length, [&](uintptr_t begin, uintptr_t end) {
    if (begin != run_end) {
      sync_run();
      run_begin = begin;
    }
    run_end = end;
  });
  sync_run();  // the runs read before a failed read too
  // A run's failure stands however the read ended: the kernel reported it to this call alone.
  if (first_error != 0) return first_error;
  return read != 0 ? kNotTold : 0;
}

// After msync's ENOMEM over [start, start + length) (from a page boundary): kAllMapped where every page is mapped (the
// ENOMEM is a file's: its fsync's), kNotTold where the mappings cannot be read. Else the range has a hole (part of a
// Map unmapped behind pmem2's back; a forked child's MADV_DONTFORK part; memory no Map holds), and msync reports one
// only once it has synced every mapping of the range, unless a file's fsync failed first, whose errno it returns
// instead (ENOMEM from a FUSE server, say: the same value). So the mapped runs are synced again, each on its own: their
// first errno is a file's failure; 0 says the ENOMEM was the hole's alone, which is no failed write-back (the stores of
// pages unmapped are still in the page cache, which a sync of the file through any mapping writes back). Not told
// apart: a write-back error the first msync took (the kernel reports one once per file description) that was itself
// ENOMEM, beside a hole.
int SyncAroundHoles(void* start, size_t length) {
  if (PagesAreAllMapped(static_cast<char*>(start), length, FirstPageSize())) return kAllMapped;
  return SyncMappedRuns(static_cast<char*>(start), length);
}

// Whether msync's ENOMEM (`error`, after SyncAroundHoles gave `runs`) is the caller's own mistake, which only a caller
// that sees the result may keep to itself: a hole's alone (runs 0, handled before) or, where the mappings could not be
// read, memory that is not all in live Maps (as msync says of memory not all mapped). Never an fsync's: a run's
// failure (runs > 0) or an ENOMEM over pages all mapped, the file's (which file cannot be told where the range runs
// past its Maps into other mappings: the range's Maps are charged, a failure reported that may not have happened
// rather than one lost).
bool IsUsageError(int error, int runs, const void* ptr, size_t size) {
  return error == ENOMEM && runs == kNotTold && !RangeIsInLiveMaps(ptr, size);
}

// A failed msync of [start, start + length) (from a page boundary; `error` not 0) that is not Device DAX's:
// a hole's ENOMEM alone (SyncAroundHoles) is the caller's own mistake, and the range's failure, no file's: kept from a
// caller that sees it, and recorded, where the caller does not see it, on the Maps [ptr, ptr + size) overlaps only,
// not on the files' other Maps, whose persists it would fail for good. A run's failure is the file's, and so is any
// other errno (EINVAL too: with a page-aligned start and MS_SYNC, msync returns it only from the file's fsync, a file
// system without one or a FUSE server's write-back error). Returns the errno the caller is to see.
int RecordFailedSync(const void* ptr, size_t size, void* start, size_t length, int error, bool caller_sees_result) {
  int runs = kNotTold;
  if (error == ENOMEM) {
    runs = SyncAroundHoles(start, length);
    if (runs == 0) {
      if (!caller_sees_result) RecordPersistFailure(ptr, size, ENOMEM, false, /*of_the_files=*/false);
      return ENOMEM;
    }
    if (runs > 0) error = runs;
  }
  if (!(caller_sees_result && IsUsageError(error, runs, ptr, size))) {
    RecordPersistFailure(ptr, size, error, caller_sees_result);
  }
  return error;
}

// A write-back of [from, to), part of a Device DAX Map, from the CPU caches: 0, or EFAULT where the mapping there does
// not allow it now (made or mprotect'ed without read and write access: the write-back would fault, as a Map's Status
// methods refuse with kNoAccess). Where the mappings cannot be read (no /proc, no descriptor left, no memory for the
// error), written back as before. An EFAULT a caller does not see (persist_fn's) is recorded: nothing was made durable.
int WriteBackDeviceDax(uintptr_t from, uintptr_t to, bool caller_sees_result) {
  const FlushFn write_back = arch::WriteBackFlush();  // none: byte (eADR) Maps only, which the drain persists
  if (from >= to || write_back == nullptr) return 0;
  const void* const range = reinterpret_cast<const void*>(from);
  bool allowed = true;
  try {
    const absl::StatusOr<bool> accessible = RangeHasProtection(range, to - from, PROT_READ | PROT_WRITE);
    if (accessible.ok()) allowed = *accessible;
  } catch (const std::bad_alloc&) {
  }
  if (!allowed) {
    if (!caller_sees_result) RecordPersistFailure(range, to - from, EFAULT, /*caller_sees_result=*/false);
    return EFAULT;
  }
  write_back(range, to - from);
  return 0;
}

// For msync's EINVAL over a range that holds Device DAX Maps among other memory (a caller's overrun into the next page,
// a page-cache Map beside one): msync(MS_SYNC) fsyncs the mappings in address order and stops at the first failure,
// which the Device DAX mapping gives (it has no fsync) having lost nothing, unless a file mapping before it failed
// first. So [ptr, ptr + size)'s parts in those Maps' pages are written back (as SyncFailed's for a range all of them)
// and the pieces of [start, start + length) (whole pages) outside them synced each on its own, each failure its own:
// ENOMEM for memory no Map holds or a hole in one (as SyncFailed's), a lost write-back recorded on that piece's Maps;
// the Device DAX Maps are charged with nothing (libpmem 1.12.1's pmem_deep_persist syncs such a range Map by Map too).
// But the EINVAL may have come from the fsync of a file mapped before the first Device DAX Map (a FUSE server's
// write-back error), whose one report the first msync took and a second would not see: it is recorded on the Maps of
// files there, if any, and returned, as any EINVAL over them is (which charges them when the device gave it: a failure
// reported that may not have happened, rather than one lost). Memory there that no Map of a file holds (an
// application's own mapping) cannot be told apart and is synced again like the rest. Allocates nothing (persist_fn's
// path: FirstMapInRange, one Map at a time). Returns the first errno, 0 if none; -1 if the range holds no Device DAX
// Map, for SyncFailed to go on as for any EINVAL.
ABSL_ATTRIBUTE_NOINLINE int SyncAroundDeviceDax(const void* ptr, size_t size, bool caller_sees_result, void* start,
                                                size_t length) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(start);
  const uintptr_t end = begin + length;
  MapExtent map;
  uintptr_t first_device_dax = end;
  // A Device DAX Map's pages, whole: one adopted with FromExisting() may start or end inside a page, whose other bytes
  // are the same Device DAX mapping's (a mapping is whole pages), so an msync of that page fails too, and charged the
  // Map. No Map of another file shares such a page (RegisterMapIfFree refuses it).
  const uintptr_t page = FirstPageSize();
  const auto pages_begin = [page](uintptr_t address) { return address / page * page; };
  const auto pages_end = [page](uintptr_t address) { return address + (page - address % page) % page; };
  for (uintptr_t at = begin; at < end && FirstMapInRange(reinterpret_cast<void*>(at), end - at, &map); at = map.end) {
    if (map.file.valid && map.file.device_dax) {
      first_device_dax = std::max(pages_begin(map.begin), begin);
      break;
    }
  }
  if (first_device_dax == end) return -1;
  int first_error = 0;
  for (uintptr_t at = begin;
       at < first_device_dax && FirstMapInRange(reinterpret_cast<void*>(at), first_device_dax - at, &map);
       at = map.end) {
    if (!map.file.valid || map.file.device_dax) continue;
    const uintptr_t from = std::max(map.begin, begin);
    RecordPersistFailure(reinterpret_cast<void*>(from), std::min(map.end, first_device_dax) - from, EINVAL,
                         caller_sees_result);
    first_error = EINVAL;
  }
  const auto sync_piece = [&](uintptr_t from, uintptr_t to) {
    if (from >= to) return;
    void* const piece = reinterpret_cast<void*>(from);
    const int error = MsyncRetryingInterrupts(piece, to - from);
    if (error == 0) return;
    const int seen = RecordFailedSync(piece, to - from, piece, to - from, error, caller_sees_result);
    if (first_error == 0) first_error = seen;
  };
  const uintptr_t data_begin = reinterpret_cast<uintptr_t>(ptr);
  const uintptr_t data_end = data_begin + size;
  uintptr_t synced_to = begin;
  for (uintptr_t at = first_device_dax; at < end && FirstMapInRange(reinterpret_cast<void*>(at), end - at, &map);
       at = map.end) {
    if (!map.file.valid || !map.file.device_dax) continue;
    const uintptr_t map_pages_begin = pages_begin(map.begin);
    const uintptr_t map_pages_end = pages_end(map.end);
    sync_piece(synced_to, std::max(map_pages_begin, synced_to));
    const int written = WriteBackDeviceDax(std::max(map_pages_begin, data_begin), std::min(map_pages_end, data_end),
                                           caller_sees_result);
    if (written != 0 && first_error == 0) first_error = written;
    synced_to = std::max(synced_to, std::min(map_pages_end, end));
  }
  sync_piece(synced_to, end);
  arch::CacheLineOps().drain();
  return first_error;
}

// Inside the caller's scope: the first msync failed with `error`.
ABSL_ATTRIBUTE_NOINLINE int SyncFailed(const void* ptr, size_t size, bool caller_sees_result, void* start,
                                       size_t length, int error) {
  for (int attempt = 1; attempt <= kMaxInterruptedSyncs && error == EINTR; ++attempt) {
    error = PageMsync(start, length);
  }
  // Device DAX has no fsync, so msync fails there with EINVAL having lost nothing: the stores are still in the CPU
  // caches, where a cache-line write-back reaches them (its Maps are cache line or byte: rules 4 and 5 of
  // granularity.h). So a sync of Device DAX Maps persists as a cache-line persist does, and succeeds; libpmem's
  // pmem_msync fails there, and recording the EINVAL would fail every later persist of those Maps. Written back
  // whatever PMEM_NO_FLUSH says, as the kernel's msync of a file on fsdax writes the caches back whatever it says (and
  // as DeepFlush does). The registry is asked first: with a live Map the CPU's tables exist, so the engine allocates
  // nothing here. A CPU without a write-back has only byte (eADR) Maps of Device DAX (rule 5), whose stores the
  // drain (a fence) makes durable. A range the mapping does not let the CPU write back (no read or write access) is
  // EFAULT (WriteBackDeviceDax: recorded where the caller does not see it).
  if (error == EINVAL && RangeIsCpuPersistentDeviceDax(ptr, size)) {
    const uintptr_t data = reinterpret_cast<uintptr_t>(ptr);
    const int written = WriteBackDeviceDax(data, data + size, caller_sees_result);  // EFAULT where it would fault
    arch::CacheLineOps().drain();
    return written;
  }
  if (error == EINVAL) {
    if (const int around = SyncAroundDeviceDax(ptr, size, caller_sees_result, start, length); around >= 0) {
      return around;
    }
  }
  if (error == 0) return 0;
  return RecordFailedSync(ptr, size, start, length, error, caller_sees_result);
}

// A range that runs into the top page of the address space or past it (ptr + size wraps: a negative length, say)
// fails with ENOMEM, as memory that is not all mapped, and nothing is synced. Given the range as is, msync would get
// a length that wrapped to a few pages, or to 0 when rounded up to a page, and succeed for less than was asked, which
// is what libpmem 1.12.1's pmem_msync returns for it (libpmem_differential_test, "wraps"); given the range up to the
// top page, msync(MS_SYNC) would skip the gaps and fsync every shared file mapping above `ptr`, the application's own
// too, taking the write-back errors meant for its other syncs. No msync, so no sync scope: no write-back error of
// the kernel's is taken here.
// Recorded where the caller does not see it on the Map that holds `ptr` only, up to its end (else on the range, as
// before): no sync ran, so no file lost anything, and charged up to the top it failed every Map above `ptr` and, with
// their files, Maps of unrelated files below it (found by an audit).
ABSL_ATTRIBUTE_NOINLINE int SyncPastTheTop(const void* ptr, size_t size, bool caller_sees_result) {
  if (!caller_sees_result) {
    MapExtent holder;
    const uintptr_t at = reinterpret_cast<uintptr_t>(ptr);
    if (FirstMapInRange(ptr, 1, &holder) && holder.begin <= at) size = holder.end - at;
    RecordPersistFailure(ptr, size, ENOMEM, /*caller_sees_result=*/false, /*of_the_files=*/false);
  }
  return ENOMEM;
}

}  // namespace

// ABSL_ATTRIBUTE_HOT here and on every function a page mapping's persist and copy call (the byte tables'
// selection, the page copy's flags): GCC puts them in .text.hot, which GNU ld and gold place side by side (lld
// only with -z keep-text-section-prefix), in one page of code instead of six. Where a system call costs the
// process its TLB, as on the Zen 5 guest of tools/bench/results/amd-26-2.md ("A page persist's pages"), every
// page of code or data touched after msync costs a page walk on every call, 1-5 ns a page there; grouped, and with
// arch::ByteDrain(), persist_fn and the page copies came 1-12 ns (paired medians of 30 processes) closer to a bare
// msync, at the edge of that host's noise. Where it costs the process its first-level caches (another guest of
// that kind: ~1.2 ns per line touched after msync, "The page sync's lines" there), what counts is lines and calls:
// the scope is inline, the failure path is out of line, and what the sync reads besides the thread's slot is on one
// line (PageSyncShared, map_registry.h). On Intel Emerald Rapids (tools/bench/results/intel-6-207.md, "The system
// call inline") what counted was glibc's function around the system call and where the code around it lies: msync
// is the system call itself, inline (PageMsync, pmem2/internal/msync.h), and persist_fn, memcpy_fn and memset_fn
// each end in a jump to PersistPages, the one copy of that code, whose return is the only one after the call. (The
// copies had the sync inlined, one frame around msync instead of three; with the system call inline too, memcpy_fn
// of 64 B took 8-20 ns over glibc's msync in builds that differed only by NOPs in it, and 8-13 ns with the jump.)
ABSL_ATTRIBUTE_ALWAYS_INLINE inline int SyncPagesInline(const void* ptr, size_t size, bool caller_sees_result) {
  // Non-temporal stores are weakly ordered; make them visible before the kernel writes the pages back.
  arch::ByteDrain();
  if (size == 0) return 0;
  uintptr_t page = page_sync_shared.page_size.load(std::memory_order_relaxed);
  if (ABSL_PREDICT_FALSE(page == 0)) page = FirstPageSize();
  const uintptr_t top_page = 0 - page;
  if (ABSL_PREDICT_FALSE(reinterpret_cast<uintptr_t>(ptr) >= top_page ||
                         size > top_page - reinterpret_cast<uintptr_t>(ptr))) {
    return SyncPastTheTop(ptr, size, caller_sees_result);
  }
  void* const start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(ptr) & ~(page - 1));
  const size_t length = reinterpret_cast<uintptr_t>(ptr) + size - reinterpret_cast<uintptr_t>(start);
  // Marked in flight in this thread's slot until the failure, if any, is recorded (map_registry.h).
  SyncScope scope(start, length);
  const int error = PageMsync(start, length);
  if (ABSL_PREDICT_TRUE(error == 0)) return 0;
  return SyncFailed(ptr, size, caller_sees_result, start, length, error);
}

ABSL_ATTRIBUTE_HOT int SyncPages(const void* ptr, size_t size, bool caller_sees_result) {
  return SyncPagesInline(ptr, size, caller_sees_result);
}

namespace {

// The sync of persist_fn, memcpy_fn and memset_fn, each of which jumps here last (a tail call), so that the three
// run one copy of the code around the system call and return to their caller from it. Returns `ptr` for the copies.
ABSL_ATTRIBUTE_NOINLINE ABSL_ATTRIBUTE_HOT void* PersistPages(void* ptr, size_t size) {
  SyncPagesInline(ptr, size, /*caller_sees_result=*/false);
  // A forked child's Map that can vouch for no persist: its caller, who cannot read a result here, is told once
  // (map_registry.h). On the line the sync's end read already.
  if (ABSL_PREDICT_FALSE(page_sync_shared.untold_unvouched_maps.load(std::memory_order_relaxed) != 0)) {
    TellUnvouchedMaps(ptr, size);
  }
  return ptr;
}

ABSL_ATTRIBUTE_HOT void PagePersist(const void* ptr, size_t size) { PersistPages(const_cast<void*>(ptr), size); }

// msync has already waited for the write-back: there is nothing left to drain.
ABSL_ATTRIBUTE_HOT void PageDrain() {}

// Without a persist, the copy is a jump to the engine's; with one, the engine decides (PageCopyFor), the kernel runs
// from this frame, and the sync is a jump to PersistPages.
ABSL_ATTRIBUTE_HOT void* PageMemmove(void* pmemdest, const void* src, size_t len, unsigned flags) {
  if ((flags & kMemNoFlush) != 0) return arch::PageMemmove(pmemdest, src, len, flags);
  const arch::PageCopyCall copy = arch::PageCopyFor(pmemdest, len, flags);
  copy.memmove(pmemdest, src, len, copy.flags);
  return PersistPages(pmemdest, len);
}

ABSL_ATTRIBUTE_HOT void* PageMemset(void* pmemdest, int c, size_t len, unsigned flags) {
  if ((flags & kMemNoFlush) != 0) return arch::PageMemset(pmemdest, c, len, flags);
  const arch::PageFillCall fill = arch::PageFillFor(pmemdest, len, flags);
  fill.memset(pmemdest, c, len, fill.flags);
  return PersistPages(pmemdest, len);
}

}  // namespace

// Not on a function pointer's path (nor among the hot functions above): the Status methods'.
int PageMemmoveReturningFailure(void* pmemdest, const void* src, size_t len, unsigned flags) {
  if ((flags & kMemNoFlush) != 0) {
    arch::PageMemmove(pmemdest, src, len, flags);
    return 0;
  }
  const arch::PageCopyCall copy = arch::PageCopyFor(pmemdest, len, flags);
  copy.memmove(pmemdest, src, len, copy.flags);
  return SyncPages(pmemdest, len, /*caller_sees_result=*/true);
}

int PageMemsetReturningFailure(void* pmemdest, int c, size_t len, unsigned flags) {
  if ((flags & kMemNoFlush) != 0) {
    arch::PageMemset(pmemdest, c, len, flags);
    return 0;
  }
  const arch::PageFillCall fill = arch::PageFillFor(pmemdest, len, flags);
  fill.memset(pmemdest, c, len, fill.flags);
  return SyncPages(pmemdest, len, /*caller_sees_result=*/true);
}

namespace {

// The diagnostics hold plain C strings for the life of the process; the names depend on the environment and
// the (test-replaceable) CPU selection, so they are kept here, once each.
// Fork-safe: every page Map's creation comes here, also in a child forked while another thread made one. Made
// when the library loads, so that no thread is still making it at a fork (fork_safe_mutex.h).
internal::ForkSafeMutex& InternMutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;
  return *mutex;
}
const bool intern_mutex_made_at_load = (InternMutex(), true);

const char* Intern(std::string name) {
  std::lock_guard<internal::ForkSafeMutex> lock(InternMutex());
  static std::set<std::string>* names = new std::set<std::string>;  // made under the lock: a fork waits for it
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

PersistFn PagePersistFn() { return PagePersist; }

DrainFn PageDrainFn() { return PageDrain; }

MemmoveFn PageMemmoveFn() { return PageMemmove; }

MemsetFn PageMemsetFn() { return PageMemset; }

void SetMsyncForTest(MsyncFn fn) { page_sync_shared.msync.store(fn, std::memory_order_relaxed); }

}  // namespace map_internal
}  // namespace pmem2
