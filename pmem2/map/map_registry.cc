// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/map_registry.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/config.h"
#include "absl/cleanup/cleanup.h"
#include "absl/functional/function_ref.h"
#include "absl/base/optimization.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/internal/proc_fd_path.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/maps_lines.h"

namespace pmem2 {
namespace map_internal {
namespace {

// A file's ChildReopenHandle (an O_PATH descriptor) and the references to it: records, and Map::Create()s in progress.
struct ReopenHandle {
  int fd = -1;
  size_t users = 0;  // references to fd; it is closed with the last
  // The file's paths (RemapInChildThroughPath: one per name the file was mapped by, hard links being names too) and
  // how many records hold each; a child opens fd where there is one, else the first of them, newest first, that
  // still leads to the file.
  struct Path {
    std::string path;
    size_t users = 0;
  };
  std::vector<Path> paths;
  // A hugetlbfs file's huge page size (0 for other files): what the kernel maps of it for a one-page probe. The
  // Source's alignment, given when the handle is made, so that a forked child asks no file system for it.
  size_t huge_page = 0;
  // In a forked child's fork handler only: the child's own description, or why not; a page of the file mapped
  // through it, and the device and inode /proc/self/maps shows for that page (RemapThroughDescriptionsOfTheChildsOwn).
  int child_fd = -1;
  int child_error = 0;
  bool child_shares = false;  // the path no longer leads to the file: its Maps share the parent's description
  uintptr_t child_probe = 0;
  size_t child_probe_length = 0;
  bool child_named = false;
  unsigned child_device_major = 0;
  unsigned child_device_minor = 0;
  uint64_t child_inode = 0;
};

struct Registry {
  std::shared_mutex mutex;
  std::map<uintptr_t, MapRecord*> by_begin;  // begin address -> live mapping; guarded by mutex
  // Records dropped from the index as stale (ForgetStaleRecordsLocked) whose Maps still live, by MapRecord::id(): a
  // reader that found one before it was dropped (an AsyncPersister's entry, a libpmem sync's MapExtent) gets its
  // error (ESTALE) rather than the address's new holder's. Guarded by mutex.
  std::map<uint64_t, MapRecord*> dropped;
  std::map<std::pair<dev_t, ino_t>, ReopenHandle> reopen_handles;  // ChildReopenHandles by file; guarded by mutex
  Registry* replaced = nullptr;  // in a forked child: the parent's, kept (never used again, never freed)
};

#ifdef ABSL_HAVE_THREAD_SANITIZER  // absl/base/config.h: GCC's and clang's spellings
extern "C" void __tsan_mutex_pre_unlock(void* addr, unsigned flags);
extern "C" void __tsan_mutex_post_unlock(void* addr, unsigned flags);
#endif

// Never destroyed: maps may outlive static destructors. Replaced in a forked child (ForgetOtherThreadsInChild).
Registry*& TheRegistry() {
  static Registry* registry = new Registry;
  return registry;
}

Registry& GetRegistry() { return *TheRegistry(); }

// Failures at addresses that belong to no Map (a pointer into memory mapped elsewhere, or already unmapped).
MapRecord& OutsideEveryMap() {
  static MapRecord* const record = new MapRecord(0, 0, FileIdentity{});
  return *record;
}

std::atomic<uint64_t> failure_count{0};
// The failures whose recording has ended (every record written): at most failure_count, which counts a failure
// before it is recorded (PersistFailuresRecorded()).
std::atomic<uint64_t> failures_recorded_count{0};
std::atomic<void (*)()> between_count_and_record{nullptr};  // SetBetweenCountAndRecordForTest()

// The live mapping holding `address`, or nullptr.
MapRecord* FindLocked(Registry& registry, uintptr_t address) {  // registry.mutex held
  auto it = registry.by_begin.upper_bound(address);
  if (it == registry.by_begin.begin()) return nullptr;
  MapRecord* record = std::prev(it)->second;
  return address < record->end() ? record : nullptr;
}

// Where a walk over the live mappings that a range starting at `address` overlaps begins: the mapping holding
// `address`, or else the first one after it (end() if none).
std::map<uintptr_t, MapRecord*>::iterator FirstEndingAfterLocked(Registry& registry, uintptr_t address) {
  auto it = registry.by_begin.upper_bound(address);
  if (it != registry.by_begin.begin() && std::prev(it)->second->end() > address) --it;
  return it;
}

// The pages a sync of [begin, end) covers: msync works on whole pages and fsyncs the file of every shared mapping
// in them, so the kernel may hand it a write-back error of a file mapped beside the bytes asked for, in the same page
// (a Map that FromExisting adopted at an unaligned address): its failure, and its readers' wait, are that Map's too.
void ToWholePages(uintptr_t& begin, uintptr_t& end) {
  const uintptr_t page = static_cast<uintptr_t>(getpagesize());
  begin &= ~(page - 1);
  end = end > UINTPTR_MAX - (page - 1) ? UINTPTR_MAX : (end + page - 1) & ~(page - 1);
}

}  // namespace

PageSyncShared page_sync_shared;

namespace {

// The slots' list and the readers' sleep; the readers' count is in page_sync_shared, where the end of a sync
// reads it.
struct Slots {
  std::atomic<SyncSlot*> head{nullptr};  // every slot, newest first; only pushed to
  std::mutex mutex;                      // guards free and the readers' sleep
  std::condition_variable ended;
  SyncSlot* free = nullptr;
};

// How long a reader first sleeps before it looks at a sync's state again without being woken: the end of a sync
// does not fence its store against its look at the waiters (~SyncScope), so it may miss a reader that came at that
// moment, and that reader finds the sync ended at its next look, about this much later (timers oversleep). A
// reader of a long sync (MS_SYNC to a disk: milliseconds to seconds) doubles the sleep up to kWaiterRecheckMax, so
// that it does not take the slots' lock a thousand times a second while it waits.
constexpr std::chrono::milliseconds kWaiterRecheck{1};
constexpr std::chrono::milliseconds kWaiterRecheckMax{32};

void LockForFork();
void UnlockAfterFork();
void ForgetOtherThreadsInChild();

}  // namespace

void RemapThroughDescriptionsOfTheChildsOwn();

namespace {

// The sync path itself reads only page_sync_shared and its thread's slot (map_registry.h).
ABSL_ATTRIBUTE_ALWAYS_INLINE inline Slots& GetSlots() {
  static Slots* const slots = new Slots;  // never destroyed: threads may sync during static destruction
  return *slots;
}

// Registered when the library loads, before any lock below can be taken, and before the fork handlers of an
// application that loads it (glibc runs prepare handlers newest first, so theirs may still call pmem2). glibc
// drops them when libpmem2.so is unloaded. After the ForkSafeMutex handlers, so that these locks are taken before
// those (fork_safe_mutex.h): nothing that holds one of these takes a ForkSafeMutex, and the child keeps the
// registry's old lock locked (below), which ThreadSanitizer would otherwise see taken in both orders.
const bool fork_handlers_registered = [] {
  internal::RegisterForkHandlersBeforeYours();  // false only without memory: these are registered all the same
  return pthread_atfork(&LockForFork, &UnlockAfterFork, &ForgetOtherThreadsInChild) == 0;
}();

}  // namespace

// Initial-exec (map_registry.h), with external linkage, not in the anonymous namespace: see pmem2/arch/arch.cc's
// page-copy history on gold.
__thread SyncSlot* this_thread_slot __attribute__((tls_model("initial-exec"))) = nullptr;

namespace {

// Lock order as everywhere: the registry, then the slots. A record's lock is only ever taken under the
// registry's, so holding the registry's alone keeps every record's free.
void LockForFork() {
  internal::BlockSignals();  // until the parent's or the child's handler below
  GetRegistry().mutex.lock();
  GetSlots().mutex.lock();
}

void UnlockAfterFork() {
  GetSlots().mutex.unlock();
  GetRegistry().mutex.unlock();
  internal::RestoreSignals();
}

void ForgetOtherThreadsInChild() {
  // Everything but the registry's reader-writer lock is released as in the parent. That one cannot be: glibc's
  // unlock tells a writer from a reader by the thread id, which the child does not share with its parent. The
  // child gets a copy of the registry with a lock of its own instead (the old one stays allocated and reachable).
  // Without memory for the copy (an exception out of a fork handler ends the child in std::terminate), the old
  // lock is made anew in place: glibc's initialisation only sets its words, and the child has one thread.
  const int caller_errno = errno;  // fork() returns to the child with the errno it had, not the handler's last
  Registry& registry = GetRegistry();
  Registry* fresh = new (std::nothrow) Registry;
  try {
    if (fresh != nullptr) {
      fresh->by_begin = registry.by_begin;
      fresh->dropped = registry.dropped;
      fresh->reopen_handles = registry.reopen_handles;
      fresh->replaced = &registry;
      TheRegistry() = fresh;
    }
  } catch (const std::bad_alloc&) {
    delete fresh;
    fresh = nullptr;
  }
  if (fresh == nullptr) {
#ifdef ABSL_HAVE_THREAD_SANITIZER
    // ThreadSanitizer still has the lock write-held by LockForFork(): told it is released, as the new one is.
    __tsan_mutex_pre_unlock(&registry.mutex, 0);
    __tsan_mutex_post_unlock(&registry.mutex, 0);
#endif
    new (&registry.mutex) std::shared_mutex;
  }
  RemapThroughDescriptionsOfTheChildsOwn();
  errno = caller_errno;
  Slots& slots = GetSlots();
  slots.mutex.unlock();
  // Readers of the parent that slept in `ended` do not exist here, and glibc's condition variable would wait
  // for them to leave on the next broadcast: a fresh one, and no waiters.
  new (&slots.ended) std::condition_variable;
  page_sync_shared.waiters.store(0, std::memory_order_relaxed);
  slots.free = nullptr;
  for (SyncSlot* slot = slots.head.load(std::memory_order_relaxed); slot != nullptr; slot = slot->next) {
    if (slot == this_thread_slot) continue;
    const uint32_t state = slot->state.load(std::memory_order_relaxed);
    if ((state & 1) != 0) slot->state.store(state + 1, std::memory_order_relaxed);
    slot->next_free = slots.free;
    slots.free = slot;
  }
  internal::RestoreSignals();  // blocked by LockForFork()
}

// Hands a thread's slot back when the thread exits (a pthread key's destructor: it runs for every thread that
// set the key, whatever runtime, sanitizer or dlopen'ed library the thread went through). A slot still busy
// (its thread left a sync without unwinding: siglongjmp, asynchronous cancellation) is never reused: its
// readers must keep waiting rather than mistake a new owner's syncs for it.
void GiveSlotBack(void* value) {
  SyncSlot* slot = static_cast<SyncSlot*>(value);
  if (this_thread_slot == slot) this_thread_slot = nullptr;
  if ((slot->state.load(std::memory_order_relaxed) & 1) != 0) return;
  Slots& slots = GetSlots();
  std::lock_guard<std::mutex> lock(slots.mutex);
  slot->next_free = slots.free;
  slots.free = slot;
}

// The key is deleted when the library is unloaded (dlclose of libpmem2.so) or the process exits, so that no
// thread exiting later calls into unmapped code; the slots of threads still alive then are not reused.
struct SlotKey {
  pthread_key_t key;
  SlotKey() {
    if (pthread_key_create(&key, &GiveSlotBack) != 0) std::abort();  // only when the process ran out of keys
  }
  ~SlotKey() { pthread_key_delete(key); }
};

pthread_key_t TheSlotKey() {
  static SlotKey holder;
  return holder.key;
}

// Made when the library loads, so that no thread is still making one at a fork (the child would find the
// first-use guard of its static taken for good).
const bool made_at_load = (TheRegistry(), OutsideEveryMap(), GetSlots(), TheSlotKey(), true);

// The slots of the first threads that sync, at most this many at once: a thread's first sync then allocates nothing,
// so it cannot fail for want of memory (and throw out of a persist function that returns void into a C caller).
// More threads syncing at once than that allocate theirs (std::bad_alloc then reaches the caller).
constexpr size_t kPooledSlots = 128;
SyncSlot slot_pool[kPooledSlots];
std::atomic<size_t> slot_pool_taken{0};

}  // namespace

std::atomic<bool> fail_slot_allocation_for_test{false};
std::atomic<void (*)()> in_take_slot_for_test{nullptr};

// The slot for this thread, or nullptr where it cannot be allocated.
SyncSlot* TakeSlotOrNull() noexcept {
  if (ABSL_PREDICT_FALSE(fail_slot_allocation_for_test.load(std::memory_order_relaxed))) return nullptr;
  // Every signal blocked, once per thread: a handler that syncs pages on this thread in the middle would take a slot of
  // its own (this thread's second, never given back), or wait for the slots' lock that this thread holds, for ever.
  const internal::ScopedSignalsBlocked signals_blocked;
  if (this_thread_slot != nullptr) return this_thread_slot;  // a handler's, taken before the block
  Slots& slots = GetSlots();
  SyncSlot* slot = nullptr;
  {
    std::lock_guard<std::mutex> lock(slots.mutex);
    slot = slots.free;
    if (slot != nullptr) slots.free = slot->next_free;
  }
  if (void (*hook)() = in_take_slot_for_test.load(std::memory_order_acquire); hook != nullptr) hook();
  if (slot == nullptr) {
    // Past the pool the count only grows: a failed allocation takes nothing from it.
    const size_t pooled = slot_pool_taken.fetch_add(1, std::memory_order_relaxed);
    slot = pooled < kPooledSlots ? &slot_pool[pooled] : new (std::nothrow) SyncSlot;
    if (slot == nullptr) return nullptr;
    SyncSlot* head = slots.head.load(std::memory_order_relaxed);
    do {
      slot->next = head;
    } while (!slots.head.compare_exchange_weak(head, slot, std::memory_order_release, std::memory_order_relaxed));
  }
  // Only the thread's exit clears the key; a slot taken again after that (a destructor that syncs) stays
  // taken for the rest of the process.
  pthread_setspecific(TheSlotKey(), slot);
  this_thread_slot = slot;
  return slot;
}

ABSL_ATTRIBUTE_NOINLINE SyncSlot* TakeSlot() {
  SyncSlot* const slot = TakeSlotOrNull();
  if (slot == nullptr) throw std::bad_alloc();
  return slot;
}

bool TakeSlotWithoutThrowing() noexcept { return this_thread_slot != nullptr || TakeSlotOrNull() != nullptr; }

void FailSlotAllocationForTest(bool fail) { fail_slot_allocation_for_test.store(fail, std::memory_order_relaxed); }

void SetInTakeSlotForTest(void (*hook)()) { in_take_slot_for_test.store(hook, std::memory_order_release); }

// Only when a reader counted itself; never while SkipWakeUpsForTest(true).
ABSL_ATTRIBUTE_NOINLINE void WakeReaders() {
  if (page_sync_shared.wake_ups_skipped.load(std::memory_order_relaxed)) return;
  Slots& slots = GetSlots();
  std::lock_guard<std::mutex> lock(slots.mutex);
  slots.ended.notify_all();
}

void MapRecord::Record(const PersistFailure& failure) {
  std::lock_guard<std::mutex> lock(mutex_);
  if ((failure.forked_without_own_description || failure.dropped_from_registry) &&
      unacknowledgeable_.error_number == 0) {
    unacknowledgeable_ = failure;
  }
  if (first_.error_number == 0) {
    first_ = failure;
  } else {
    ++later_failures_;
  }
  last_ = failure;
  failures_recorded_.fetch_add(1, std::memory_order_release);
  has_error_.store(true, std::memory_order_release);
}

absl::Status MapRecord::ErrorSince(uint64_t mark) const {
  absl::Status error = Error();
  if (!error.ok() || failures_recorded() == mark) return error;
  // The registry's lock first, as for every record's: fork() takes only that one.
  std::shared_lock<std::shared_mutex> registry_lock(GetRegistry().mutex);
  return ErrorSinceLocked(mark);
}

absl::Status MapRecord::ErrorSinceLocked(uint64_t mark) const {
  // Recorded just after a read of Error(), rather than acknowledged: still pending, reported as such.
  if (absl::Status error = ErrorWithoutWaiting(); !error.ok()) return error;
  const uint64_t recorded = failures_recorded();
  if (recorded == mark) return absl::OkStatus();
  if (mark > recorded) {  // no mark of this record's (the counts only grow): another Map's, or made up
    return MakeErrnoError(EINVAL, internal::StrFormat("failure mark %u is above the %u failures this mapping has "
                                                      "recorded: not one of its marks",
                                                      mark, recorded));
  }
  PersistFailure last;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    last = last_;
  }
  return MakeErrnoError(
      last.error_number,
      internal::StrFormat("persisting %u bytes at %p%s failed since the caller's mark (the start of this call, or its "
                          "PersistFailureMark()), and another thread acknowledged it (ClearPersistError) before it "
                          "was read; data written to this mapping since its last successful persist may be lost",
                          last.length, reinterpret_cast<const void*>(last.address),
                          last.seen_through_another_mapping ? " through another mapping of the same file" : ""));
}

void MapRecord::MarkDroppedFromRegistry() {
  PersistFailure dropped;
  dropped.error_number = ESTALE;
  dropped.address = begin_;
  dropped.length = end_ - begin_;
  dropped.dropped_from_registry = true;
  dropped_from_registry_.store(true, std::memory_order_release);
  Record(dropped);
  // Out of the index, where no persist's look (TellUnvouchedMaps) finds it any more: no longer among the Maps to tell
  // of (its ESTALE says more, to whoever reads its record).
  TakeFromUntold();
}

bool MapRecord::CountedAsUntold() const {
  if (cpu_persistent() || unvouched_told_.load(std::memory_order_relaxed)) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  return unacknowledgeable_.forked_without_own_description;
}

bool MapRecord::TakeFromUntold(PersistFailure* failure) {
  if (!CountedAsUntold() || unvouched_told_.exchange(true)) return false;
  page_sync_shared.untold_unvouched_maps.fetch_sub(1, std::memory_order_relaxed);
  if (failure != nullptr) {
    std::lock_guard<std::mutex> lock(mutex_);
    *failure = unacknowledgeable_;
  }
  return true;
}

absl::Status MapRecord::ErrorLocked() const {
  if (first_.error_number == 0) return absl::OkStatus();
  if (first_.dropped_from_registry) {
    return MakeErrnoError(
        first_.error_number,
        internal::StrFormat("part of this mapping [%p, +%u) was unmapped behind pmem2's back and the range mapped "
                            "again by other code: pmem2 no longer tracks the mapping, so a failed write-back of the "
                            "rest could not be recorded here, and none of its persists can be vouched for (its end "
                            "leaves the range mapped)",
                            reinterpret_cast<const void*>(first_.address), first_.length));
  }
  std::string what;
  if (first_.forked_without_own_description) {
    what = internal::StrFormat(
        "this forked child could not map [%p, +%u) again through a file description of its own, so the kernel may "
        "report the file's write-back errors to its parent instead, and no persist of this mapping can be vouched "
        "for",
        reinterpret_cast<const void*>(first_.address), first_.length);
  } else {
    what = internal::StrFormat("persisting %u bytes at %p (msync)", first_.length,
                               reinterpret_cast<const void*>(first_.address));
  }
  if (first_.seen_through_another_mapping) absl::StrAppend(&what, " through another mapping of the same file");
  if (file_.valid && file_.device_dax) {
    absl::StrAppend(&what, " (Device DAX: device ", file_.device, ")");
  } else if (file_.valid) {
    absl::StrAppend(&what, " (file: device ", file_.device, ", inode ", file_.inode, ")");
  }
  absl::StrAppend(&what, " failed; data written to this mapping since its last successful persist may be lost");
  if (later_failures_ > 0) {
    absl::StrAppend(&what, " (", later_failures_, " later failure", later_failures_ == 1 ? "" : "s", ")");
  }
  return MakeErrnoError(first_.error_number, what);
}

absl::Status MapRecord::Error() const {
  WaitForEarlierSyncs(begin_, end_, file_);
  if (!has_error_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::shared_lock<std::shared_mutex> registry_lock(GetRegistry().mutex);
  return ErrorWithoutWaiting();
}

absl::Status MapRecord::ErrorWithoutWaiting() const {
  if (!has_error_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mutex_);
  return ErrorLocked();
}

absl::Status MapRecord::TakeError() {
  WaitForEarlierSyncs(begin_, end_, file_);
  if (!has_error_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::shared_lock<std::shared_mutex> registry_lock(GetRegistry().mutex);
  std::lock_guard<std::mutex> lock(mutex_);
  absl::Status error = ErrorLocked();
  // A forked child's Map that shares its parent's description stays unable to vouch for a persist: acknowledging
  // does not change that.
  first_ = unacknowledgeable_;
  later_failures_ = 0;
  has_error_.store(first_.error_number != 0, std::memory_order_release);
  return error;
}

void SkipWakeUpsForTest(bool skip) { page_sync_shared.wake_ups_skipped.store(skip, std::memory_order_relaxed); }

size_t WaitingReadersForTest() { return page_sync_shared.waiters.load(std::memory_order_seq_cst); }

size_t SyncSlotCount() {
  size_t count = 0;
  for (SyncSlot* slot = GetSlots().head.load(std::memory_order_acquire); slot != nullptr; slot = slot->next) ++count;
  return count;
}

// Whether a sync of `length` bytes at `address` concerns a reader of [begin, end) and `file`: the ranges overlap,
// or the sync's runs over a live mapping of the file.
bool SyncConcerns(uintptr_t address, size_t length, uintptr_t begin, uintptr_t end, const FileIdentity& file) {
  if (address == kAnyAddress) return true;
  // Up to the top at most; a sync of nothing still names its address.
  uintptr_t sync_end = length > UINTPTR_MAX - address ? UINTPTR_MAX : address + std::max<size_t>(length, 1);
  ToWholePages(address, sync_end);
  if (address < end && sync_end > begin) return true;
  if (!file.valid) return false;
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  for (auto it = FirstEndingAfterLocked(registry, address); it != registry.by_begin.end() && it->first < sync_end;
       ++it) {
    if (it->second->file() == file) return true;
  }
  return false;
}

void WaitForEarlierSyncs(uintptr_t begin, uintptr_t end, const FileIdentity& file) {
  Slots& slots = GetSlots();
  for (SyncSlot* slot = slots.head.load(std::memory_order_acquire); slot != nullptr; slot = slot->next) {
    // Not the calling thread's own: it is busy only while this thread is inside its sync (a signal handler, a test's
    // msync, a fault injection hook), which cannot end while the thread waits here.
    if (slot == this_thread_slot) continue;
    const uint32_t seen = slot->state.load(std::memory_order_seq_cst);
    if ((seen & 1) == 0) continue;
    // Read after `seen`: this sync's range, or (either end) a later sync's. Acquire, so that if either is a later
    // sync's, the end of `seen` is visible by the state's second load, which then finds it moved on: the pair is
    // `seen`'s own only if the state has not moved, and if it has, `seen` ended and its failure is visible.
    const uintptr_t address = slot->address.load(std::memory_order_acquire);
    const size_t length = slot->length.load(std::memory_order_acquire);
    if (slot->state.load(std::memory_order_acquire) != seen) continue;
    if (!SyncConcerns(address, length, begin, end, file)) continue;
    // Sequentially consistent, as it was when the end of a sync paired with it; nothing relies on more than the
    // count being visible soon now (a missed wake-up is made up for by the timed look below).
    page_sync_shared.waiters.fetch_add(1, std::memory_order_seq_cst);
    {
      // The condition variable's wait is a cancellation point; unwinding from it would leave the count raised.
      const internal::ScopedNoCancellation no_cancellation;
      std::unique_lock<std::mutex> lock(slots.mutex);
      const auto ended = [&] { return slot->state.load(std::memory_order_acquire) != seen; };
      std::chrono::milliseconds sleep = kWaiterRecheck;
      while (!ended()) {
        slots.ended.wait_for(lock, sleep);
        sleep = std::min(2 * sleep, kWaiterRecheckMax);
      }
    }
    page_sync_shared.waiters.fetch_sub(1, std::memory_order_seq_cst);
  }
}

namespace {

// The kernel has just placed a mapping at [begin, end), so a record that overlaps it is stale: its mapping was
// released with munmap(2) behind its Map's back (libpmem.h allows that for pmem_map_file). Left in place, it would
// take lookups of these addresses: pmem_is_pmem() answering for the old mapping, a failed persist of the new one
// recorded on the old Map instead, a reservation there refused. It leaves the index only; its Map still owns it
// (UnregisterMap finds it gone and leaves the index alone), now with an error no acknowledgement ends (a failed sync
// of what is left of its mapping would be recorded outside every Map), and leaves its range alone when destroyed.
// A drop is a failure recorded (ESTALE) for the process's counts too: readers that skip the registry while no failure
// was recorded since their mark (Map::Persist(), an AsyncPersister's completions) look then.
void ForgetStaleRecordsLocked(Registry& registry, uintptr_t begin, uintptr_t end) {  // registry.mutex held exclusively
  for (auto it = FirstEndingAfterLocked(registry, begin); it != registry.by_begin.end() && it->first < end;) {
    registry.dropped[it->second->id()] = it->second;  // first: the one step that allocates (it may throw)
    failure_count.fetch_add(1, std::memory_order_relaxed);
    it->second->MarkDroppedFromRegistry();
    it = registry.by_begin.erase(it);
    failures_recorded_count.fetch_add(1, std::memory_order_release);
  }
}

}  // namespace

void RegisterMap(MapRecord* record) {
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  ForgetStaleRecordsLocked(registry, record->begin(), record->end());
  registry.by_begin[record->begin()] = record;
}

void ForgetStaleRecords(const void* address, size_t length) {
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  ForgetStaleRecordsLocked(registry, begin, length > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + length);
}

absl::Status RegisterMapIfFree(MapRecord* record) {
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  // The first live mapping that ends after the record's beginning is the only one that can overlap it.
  auto it = FirstEndingAfterLocked(registry, record->begin());
  if (it != registry.by_begin.end() && it->first < record->end()) {
    return MakeError(ErrorCode::kMapExists,
                     internal::StrFormat("[%#x, %#x) overlaps the live mapping [%#x, %#x)", record->begin(),
                                         record->end(), it->second->begin(), it->second->end()));
  }
  // Nor a page it shares with a Map of another file (or of no file: anonymous memory): a page is one mapping's, of one
  // file, so one of the two was adopted (FromExisting takes any range, and checks the sharing, not the file) under a
  // Source that is not what is mapped there, and that page's failures could not be told apart (a Device DAX Map's
  // write-back would pass for a file's failed fsync).
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t pages_begin = record->begin() / page * page;
  const uintptr_t pages_end = record->end() + (page - record->end() % page) % page;
  const FileIdentity& file = record->file();
  for (auto n = FirstEndingAfterLocked(registry, pages_begin); n != registry.by_begin.end() && n->first < pages_end;
       ++n) {
    const FileIdentity& other = n->second->file();
    if (other.valid != file.valid || (file.valid && !(other == file))) {
      return MakeError(ErrorCode::kMapExists,
                       internal::StrFormat("[%#x, %#x) shares a page with the live mapping [%#x, %#x) of another %s: a "
                                           "page is one mapping's, of one file, so one of them was adopted under a "
                                           "Source that is not what is mapped there",
                                           record->begin(), record->end(), n->second->begin(), n->second->end(),
                                           file.valid && other.valid ? "file" : "kind of memory"));
    }
  }
  registry.by_begin[record->begin()] = record;
  return absl::OkStatus();
}

namespace {

// Whether `fd` is open on the file (device, inode).
bool IsFile(int fd, dev_t device, ino_t inode) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == device && st.st_ino == inode;
}

using internal::ProcFdPath;

// Drops a reference to `file`'s ChildReopenHandle; the last one closes it (an O_PATH descriptor: releases no lock).
// The file's entry goes with the last reference to its handle or path.
void ReleaseReopenHandleLocked(Registry& registry, const FileIdentity& file) {  // registry.mutex held exclusively
  const internal::ScopedNoCancellation no_cancellation;  // close(): from ~Map, which may not unwind
  auto it = registry.reopen_handles.find({file.device, file.inode});
  if (it == registry.reopen_handles.end() || it->second.users == 0 || --it->second.users > 0) return;
  // Not if the number names something else now: the application closed it (close_range) and it was reused, for
  // another file or for this one (a descriptor of the application's own, whose close would also release the
  // process's fcntl(2) record locks on the file). Ours is O_PATH.
  const int flags = fcntl(it->second.fd, F_GETFL);
  if (flags >= 0 && (flags & O_PATH) != 0 && IsFile(it->second.fd, file.device, file.inode)) close(it->second.fd);
  it->second.fd = -1;
  if (it->second.paths.empty()) registry.reopen_handles.erase(it);
}

// The same for a reference to `path` of `file`. Allocates nothing.
void ReleaseReopenPathLocked(Registry& registry, const FileIdentity& file, const std::string& path) {  // exclusively
  auto it = registry.reopen_handles.find({file.device, file.inode});
  if (it == registry.reopen_handles.end()) return;
  std::vector<ReopenHandle::Path>& paths = it->second.paths;
  auto held = std::find_if(paths.begin(), paths.end(), [&](const ReopenHandle::Path& p) { return p.path == path; });
  if (held == paths.end() || --held->users > 0) return;
  paths.erase(held);
  if (paths.empty() && it->second.users == 0) registry.reopen_handles.erase(it);
}

}  // namespace

void UnregisterMap(MapRecord* record) { UnregisterMapAndUnmap(record, nullptr, 0, /*release=*/false); }

int UnregisterMapAndUnmap(MapRecord* record, void* address, size_t length, bool release) {
  // A sync of the Map's pages that another thread has in flight records its failure while the Map is still
  // registered: after, it would find no Map at its address and record the failure outside every Map, where the
  // file's other Maps never see it, though the kernel told only that sync (their description may be the same one).
  // Only syncs of its own range (no file given): one of another Map's range records on that Map and on the file's
  // others while they are registered. Outside the registry's lock, which the sync takes to record.
  WaitForEarlierSyncs(record->begin(), record->end(), FileIdentity{});
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  // Unmapped under the lock: a mapping the kernel places in the freed range can be registered (and would find this
  // record there, stale) only after the record has left, and lookups meanwhile, which take the lock too, never answer
  // for a range that is no longer the Map's; a failure recorded meanwhile reaches the record, in case munmap fails and
  // the Map stays. The cost: other threads' map creations and deletions, failure recordings, lookups and forks wait
  // for the munmap (long only where the kernel waits in it: a FUSE file's write-back, a userfaultfd monitor, which
  // must then not call into pmem2). A dropped record's range is partly another mapping's: left alone, as by ~Map.
  if (record->released()) return 0;
  if (address != nullptr && !record->dropped_from_registry() && munmap(address, length) != 0) return errno;
  if (release) record->released_.store(true, std::memory_order_release);
  auto it = registry.by_begin.find(record->begin());
  if (it != registry.by_begin.end() && it->second == record) registry.by_begin.erase(it);
  if (record->dropped_from_registry()) registry.dropped.erase(record->id());
  record->TakeFromUntold();  // gone untold: the persists of other Maps need not look for it
  if (record->holds_reopen_handle_) {
    record->holds_reopen_handle_ = false;
    record->remap_ = Remap{};
    ReleaseReopenHandleLocked(registry, record->file());
  }
  if (record->holds_path_) {
    record->holds_path_ = false;
    record->remap_ = Remap{};
    ReleaseReopenPathLocked(registry, record->file(), record->path_);
  }
  return 0;
}

ChildReopenHandle ChildReopenHandle::Acquire(int fd, const FileIdentity& file, size_t alignment) {
  const internal::ScopedNoCancellation no_cancellation;  // open() and close()
  ChildReopenHandle handle;
  handle.file_ = file;
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || (flags & O_ACCMODE) != O_RDWR) return handle;  // no shared writable mapping can be made of it
  const std::pair<dev_t, ino_t> key{file.device, file.inode};
  Registry& registry = GetRegistry();
  {
    std::unique_lock<std::shared_mutex> lock(registry.mutex);
    if (auto it = registry.reopen_handles.find(key); it != registry.reopen_handles.end() && it->second.fd >= 0) {
      ++it->second.users;
      handle.fd_ = it->second.fd;
      return handle;
    }
  }
  // Opened outside the lock; another thread may open one meanwhile (closing an O_PATH descriptor is harmless).
  const ProcFdPath path(fd);
  const int opened = open(path.path, O_PATH | O_CLOEXEC);
  if (opened < 0) {
    const int error = errno;
    handle.why_not_ = internal::StrFormat("open(%s, O_PATH): %s", path.path, std::strerror(error));
    return handle;
  }
  if (!IsFile(opened, file.device, file.inode)) {
    close(opened);
    handle.why_not_ = internal::StrFormat("%s is no longer the file mapped", path.path);
    return handle;
  }
  // A child could not open it for writing either (a descriptor received from another process, or opened before the
  // credentials changed, or a file created read-only): it then shares the description rather than fail every
  // persist. Checked without opening anything.
  if (faccessat(AT_FDCWD, ProcFdPath(opened).path, R_OK | W_OK, AT_EACCESS) != 0) {
    const int error = errno;
    close(opened);
    handle.why_not_ =
        internal::StrFormat("a forked child could not open the file again for writing: %s", std::strerror(error));
    return handle;
  }
  ReopenHandle fresh;
  fresh.fd = opened;
  fresh.huge_page = alignment > static_cast<size_t>(sysconf(_SC_PAGESIZE)) ? alignment : 0;
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  std::pair<std::map<std::pair<dev_t, ino_t>, ReopenHandle>::iterator, bool> inserted;
  try {
    inserted = registry.reopen_handles.try_emplace(key, fresh);
  } catch (...) {
    close(opened);
    throw;
  }
  if (!inserted.second && inserted.first->second.fd < 0) {  // the file's path only (RemapInChildThroughPath)
    inserted.first->second.fd = opened;
    inserted.first->second.huge_page = fresh.huge_page;
  } else if (!inserted.second) {
    close(opened);  // the other thread's is the file's
  }
  ++inserted.first->second.users;
  handle.fd_ = inserted.first->second.fd;
  return handle;
}

ChildReopenHandle::ChildReopenHandle(ChildReopenHandle&& other) noexcept { *this = std::move(other); }

ChildReopenHandle& ChildReopenHandle::operator=(ChildReopenHandle&& other) noexcept {
  if (this != &other) {
    Release();
    fd_ = std::exchange(other.fd_, -1);
    file_ = other.file_;
    why_not_ = std::move(other.why_not_);
  }
  return *this;
}

ChildReopenHandle::~ChildReopenHandle() { Release(); }

void ChildReopenHandle::Release() {
  if (fd_ < 0) return;
  fd_ = -1;
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  ReleaseReopenHandleLocked(registry, file_);
}

void ChildReopenHandle::HandOver(MapRecord* record, const Remap& remap) {
  if (fd_ < 0) return;
  fd_ = -1;
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  record->holds_reopen_handle_ = true;
  record->remap_ = remap;
}

void RemapInChildThroughPath(MapRecord* record, int fd) {
  Registry& registry = GetRegistry();
  {
    std::shared_lock<std::shared_mutex> lock(registry.mutex);
    if (!record->holds_reopen_handle_) return;  // no handle: never mapped again (remap_ is empty)
  }
  // The name `fd` was opened by (the caller's, hard links being names of their own), not the handle's, which may
  // have been opened through another.
  std::string path;
  std::string record_path;
  {
    char target[PATH_MAX + 1];  // readlink() is no cancellation point
    const ssize_t n = readlink(ProcFdPath(fd).path, target, sizeof target);
    static constexpr absl::string_view kDeleted = " (deleted)";
    if (n > 0 && n < static_cast<ssize_t>(sizeof target) && target[0] == '/' &&
        !absl::EndsWith(absl::string_view(target, static_cast<size_t>(n)), kDeleted)) {
      path.assign(target, static_cast<size_t>(n));  // these may throw std::bad_alloc: nothing changed yet
      record_path = path;
    }
  }
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  auto it = registry.reopen_handles.find({record->file().device, record->file().inode});
  if (!path.empty() && it != registry.reopen_handles.end()) {
    std::vector<ReopenHandle::Path>& paths = it->second.paths;
    auto held = std::find_if(paths.begin(), paths.end(), [&](const ReopenHandle::Path& p) { return p.path == path; });
    if (held != paths.end()) {
      ++held->users;
    } else {
      paths.push_back(ReopenHandle::Path{std::move(path), 1});  // may throw: then nothing changed
    }
    record->path_ = std::move(record_path);
    record->holds_path_ = true;
  } else {
    record->remap_ = Remap{};
  }
  record->holds_reopen_handle_ = false;
  ReleaseReopenHandleLocked(registry, record->file());
}

size_t ChildReopenHandleCountForTest() {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  return registry.reopen_handles.size();
}

int ChildReopenHandleForTest(dev_t device, ino_t inode) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  auto it = registry.reopen_handles.find({device, inode});
  return it == registry.reopen_handles.end() ? -1 : it->second.fd;
}

std::vector<std::string> ChildReopenPathsForTest(dev_t device, ino_t inode) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  std::vector<std::string> paths;
  auto it = registry.reopen_handles.find({device, inode});
  if (it != registry.reopen_handles.end()) {
    for (const ReopenHandle::Path& held : it->second.paths) paths.push_back(held.path);
  }
  return paths;
}

bool RemapsInChildForTest(const void* address) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  const MapRecord* record = FindLocked(registry, reinterpret_cast<uintptr_t>(address));
  return record != nullptr && (record->holds_reopen_handle_ || record->holds_path_) && record->remap_.length > 0;
}

namespace {

size_t mapped_again_in_child = 0;  // only the fork handler writes it, with no other thread in the process
size_t opened_by_path_in_child = 0;  // the same

}  // namespace

size_t MappedAgainInChildForTest() { return mapped_again_in_child; }
size_t OpenedByPathInChildForTest() { return opened_by_path_in_child; }

namespace {

// Maps `remap.length` bytes at `at` again through `fd` with `prot`, or leaves the old mapping there and returns the
// errno. The new mapping is made elsewhere first and moved over the old one (mremap replaces it whole), so that a
// refused mmap (the likely failure: ENOMEM) leaves the child's memory as it was.
int MapAgain(uintptr_t at, const Remap& remap, int prot, int fd) {
  void* fresh = mmap(nullptr, remap.length, prot, remap.flags, fd, remap.offset);
  if (fresh == MAP_FAILED) return errno;
  if (mremap(fresh, remap.length, remap.length, MREMAP_MAYMOVE | MREMAP_FIXED, reinterpret_cast<void*>(at)) ==
      MAP_FAILED) {
    const int error = errno;
    munmap(fresh, remap.length);
    return error;
  }
  return 0;
}

// read(2) of `maps`, for ForEachLineOfMaps (maps_lines.h).
auto ReadOf(int maps) {
  return [maps](char* buffer, size_t size) { return read(maps, buffer, size); };
}

// PROCMAP_QUERY (Linux 6.11; include/uapi/linux/fs.h, which Debian 12's kernel headers predate): asks an open
// /proc/<pid>/maps for the mapping at or after an address, where reading the whole file would take time in proportion
// to all of the process's mappings.
struct ProcmapQuery {
  uint64_t size;
  uint64_t query_flags;
  uint64_t query_addr;
  uint64_t vma_start;
  uint64_t vma_end;
  uint64_t vma_flags;
  uint64_t vma_page_size;
  uint64_t vma_offset;
  uint64_t inode;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint32_t vma_name_size;
  uint32_t build_id_size;
  uint64_t vma_name_addr;
  uint64_t build_id_addr;
};
static_assert(sizeof(ProcmapQuery) == 104, "the kernel's struct procmap_query");
constexpr unsigned long kProcmapQuery = _IOWR('f', 17, ProcmapQuery);  // NOLINT(runtime/int): ioctl's type
constexpr uint64_t kVmaReadable = 0x01;
constexpr uint64_t kVmaWritable = 0x02;
constexpr uint64_t kVmaExecutable = 0x04;
constexpr uint64_t kVmaShared = 0x08;
constexpr uint64_t kCoveringOrNextVma = 0x10;

bool child_may_query_maps = true;  // UseProcmapQueryInChildForTest
bool child_queried_maps = false;   // only the fork handler writes it, with no other thread in the process

// As ForEachLineOfMaps, for the mappings that overlap the ranges [begin, begin + length) `ranges` gives in address
// order, one query per mapping; ENOTTY where the kernel has no PROCMAP_QUERY.
template <typename Ranges, typename Visit>
int ForEachQueriedMapping(int maps, Ranges&& ranges, Visit&& visit) {
  uintptr_t visited_to = 0;  // a mapping ending here was visited: none is visited twice
  return ranges([&](uintptr_t begin, size_t length) {
    const uintptr_t end = begin + length;
    for (uintptr_t at = std::max(begin, visited_to); at < end;) {
      ProcmapQuery query{};
      query.size = sizeof query;
      query.query_flags = kCoveringOrNextVma;
      query.query_addr = at;
      if (ioctl(maps, kProcmapQuery, &query) != 0) {
        if (errno == EINTR) continue;
        return errno == ENOENT ? 0 : errno;  // ENOENT: nothing at or after `at`
      }
      if (query.vma_start >= end) break;
      MappingLine line;
      line.begin = static_cast<uintptr_t>(query.vma_start);
      line.end = static_cast<uintptr_t>(query.vma_end);
      line.prot = ((query.vma_flags & kVmaReadable) != 0 ? PROT_READ : 0) |
                  ((query.vma_flags & kVmaWritable) != 0 ? PROT_WRITE : 0) |
                  ((query.vma_flags & kVmaExecutable) != 0 ? PROT_EXEC : 0);
      line.shared = (query.vma_flags & kVmaShared) != 0;
      line.offset = query.vma_offset;
      line.device_major = query.dev_major;
      line.device_minor = query.dev_minor;
      line.inode = query.inode;
      visit(line);
      at = visited_to = line.end;
    }
    return 0;
  });
}

int child_query_failure_at = -1;   // FailProcmapQueryInChildForTest
void* child_probe_hint = nullptr;  // ProbeAtInChildForTest
bool child_maps_unreadable = false;  // MapsUnreadableInChildForTest
int child_second_look_failure = 0;   // FailSecondLookInChildForTest

// A Map a forked child maps again (MapRecord::remap_), and its file's handle.
struct ChildCandidate {
  MapRecord* record;
  ReopenHandle* handle;
};

// One mapping of the child (a line of /proc/self/maps) within a candidate's range: what decides whether it is still
// the Map's own mapping, inherited from the parent, or one that the application (MAP_FIXED over part of the Map) or
// code that ran in the child before this (another fork handler, a sanitizer's runtime, allocating into a hole
// MADV_DONTFORK left) put there. It is the Map's own where it is a shared mapping at the Map's file offset for its
// address, of the file as the kernel names it in mappings: the device and inode of the child's probe mapping of the
// file (ReopenHandle::child_probe). Not st_dev and st_ino: on overlayfs and btrfs subvolumes the kernel names the
// file below, a FUSE or 32-bit-inode NFS file's inode may differ, and another file system's shared page (shared
// anonymous memory, a memfd) at the right offset must not pass for the Map's for want of a comparable device.
struct ChildPiece {
  size_t candidate;  // index into the candidates
  uintptr_t begin;
  size_t length;
  int prot;
  bool shared_at_the_maps_offset;
  unsigned device_major;
  unsigned device_minor;
  uint64_t inode;
};

}  // namespace

namespace {

// Whether every byte of [address, address + length) lies in mappings for which `each_passes(line)` is true, read as
// the kernel has them now (PROCMAP_QUERY where there is one, else all of /proc/self/maps). `why` ends the error's
// message ("to check ...").
template <typename Predicate>
absl::StatusOr<bool> EveryMappingOfTheRange(const void* address, size_t length, Predicate each_passes,
                                            absl::string_view why) {
  const internal::ScopedNoCancellation no_cancellation;  // open(), read() and close()
  const int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps < 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("open of /proc/self/maps (", why, ")"));
  }
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = length > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + length;
  uintptr_t covered_to = begin;
  bool passes = true;
  auto visit = [&](const MappingLine& line) {
    if (line.end <= covered_to || line.begin >= end) return;  // before or after the range (a whole-file read)
    if (line.begin > covered_to || !each_passes(line)) passes = false;  // a hole, or a mapping that does not pass
    covered_to = line.end;
  };
  int error = ForEachQueriedMapping(
      maps, [&](const auto& each) { return each(begin, static_cast<size_t>(end - begin)); }, visit);
  if (error != 0 && lseek(maps, 0, SEEK_SET) == 0) {  // no PROCMAP_QUERY (ENOTTY), or refused: the whole file
    covered_to = begin;
    passes = true;
    error = ForEachLineOfMaps(ReadOf(maps), visit);
  }
  close(maps);
  if (error != 0) return MakeErrnoError(error, absl::StrCat("reading /proc/self/maps (", why, ")"));
  return passes && covered_to >= end;
}

}  // namespace

int ForEachMappingIn(const void* address, size_t length, absl::FunctionRef<void(uintptr_t, uintptr_t)> visit) {
  const internal::ScopedNoCancellation no_cancellation;  // open(), read() and close()
  const int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps < 0) return errno;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = length > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + length;
  uintptr_t visited_to = begin;  // a query failing partway is followed by the whole file: nothing visited twice
  const auto clipped = [&](const MappingLine& line) {
    if (line.end <= visited_to || line.begin >= end) return;
    const uintptr_t from = std::max(line.begin, visited_to);
    visited_to = std::min(line.end, end);
    visit(from, visited_to);
  };
  int error = ForEachQueriedMapping(
      maps, [&](const auto& each) { return each(begin, static_cast<size_t>(end - begin)); }, clipped);
  if (error != 0 && lseek(maps, 0, SEEK_SET) == 0) error = ForEachLineOfMaps(ReadOf(maps), clipped);
  close(maps);
  return error;
}

absl::StatusOr<bool> RangeHasProtection(const void* address, size_t length, int any_of) {
  return EveryMappingOfTheRange(
      address, length, [any_of](const MappingLine& line) { return (line.prot & any_of) != 0; },
      "to check a Map's protection");
}

absl::StatusOr<bool> RangeIsMappedShared(const void* address, size_t length, int* protection) {
  int common = PROT_READ | PROT_WRITE | PROT_EXEC;
  // A hole allows nothing. The walk does not show the predicate the first mapping after a hole: one is seen as a
  // later mapping starting past the last one seen, or as the range's end not reached.
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = length > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + length;
  uintptr_t seen_to = begin;
  absl::StatusOr<bool> shared = EveryMappingOfTheRange(
      address, length,
      [&](const MappingLine& line) {
        if (line.begin > seen_to) common = 0;
        seen_to = std::max(seen_to, line.end);
        common &= line.prot;
        return line.shared;
      },
      "to check that an adopted mapping is shared");
  if (seen_to < end) common = 0;
  if (protection != nullptr) *protection = common;
  return shared;
}

uintptr_t FirstFreeRangeFrom(uintptr_t from, size_t length, size_t align) {
  const internal::ScopedNoCancellation no_cancellation;  // open(), read() and close()
  auto align_up = [align](uintptr_t at) {
    return at > UINTPTR_MAX - (align - 1) ? 0 : (at + align - 1) & ~(align - 1);
  };
  const int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps < 0) return 0;
  uintptr_t at = align_up(from);
  bool found = false;
  const int error = ForEachLineOfMaps(ReadOf(maps), [&](const MappingLine& line) {
    if (found || at == 0 || line.end <= at) return;
    if (line.begin >= at && line.begin - at >= length) {  // the gap before this mapping holds the range
      found = true;
      return;
    }
    at = align_up(line.end);
  });
  close(maps);
  return error == 0 && at != 0 && length <= UINTPTR_MAX - at ? at : 0;
}

void UseProcmapQueryInChildForTest(bool use) { child_may_query_maps = use; }
void FailProcmapQueryInChildForTest(int nth) { child_query_failure_at = nth; }
void ProbeAtInChildForTest(void* address) { child_probe_hint = address; }
void MapsUnreadableInChildForTest(bool unreadable) { child_maps_unreadable = unreadable; }
void FailSecondLookInChildForTest(int how) { child_second_look_failure = how; }
bool ChildQueriedMapsForTest() { return child_queried_maps; }
bool KernelHasProcmapQueryForTest() {
  const int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps < 0) return false;
  const int error = ForEachQueriedMapping(
      maps, [](const auto& each) { return each(reinterpret_cast<uintptr_t>(&child_queried_maps), 1); },
      [](const MappingLine&) {});
  close(maps);
  return error == 0;
}

namespace {

// A forked child's open of a file whose records hold only its paths (RemapInChildThroughPath), newest first: each
// is looked up as O_PATH (no symbolic link followed at its end), which opens nothing (no device's open acts, no FIFO
// waits), and the first that leads to the file, a regular one, is opened for writing through that lookup: no window
// in which the name could be given to something else. Where no name leads to the file any more (each gone, or with
// another file or something else in its place, a directory on the way gone, a loop of links) the handle shares
// (child_shares: no error). A lookup that fails otherwise (EACCES: a directory on the way the process may no longer
// search, credentials having changed; EIO, ENOMEM, EINTR from a network or FUSE file system) cannot tell, and is the
// handle's error unless another name leads to the file.
//
// With `open_it` false only the lookups: whether a name still leads to the file (child_shares if none does and no
// lookup failed otherwise), opening nothing, for a child that cannot read /proc/self/maps and so records that failure
// only on records whose file it could have opened.
void OpenByPathInChild(ReopenHandle& handle, const FileIdentity& file, bool open_it = true) {
  int unsure = 0;  // a lookup's failure that does not tell whether the name leads to the file
  for (auto held = handle.paths.rbegin(); held != handle.paths.rend(); ++held) {
    const int found = open(held->path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (found < 0) {
      const int error = errno;
      if (error != ENOENT && error != ENOTDIR && error != ELOOP && error != ENAMETOOLONG && unsure == 0) {
        unsure = error;
      }
      continue;
    }
    struct stat st;
    if (fstat(found, &st) != 0) {
      if (unsure == 0) unsure = errno;
      close(found);
      continue;
    }
    const bool is_file = S_ISREG(st.st_mode) && st.st_dev == file.device && st.st_ino == file.inode;
    if (is_file && open_it) {
      handle.child_fd = open(ProcFdPath(found).path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      handle.child_error = handle.child_fd < 0 ? errno : 0;
      if (handle.child_fd >= 0) ++opened_by_path_in_child;
    }
    close(found);  // O_PATH: releases no record lock
    if (is_file) return;
  }
  if (unsure == 0) {
    handle.child_shares = true;
  } else if (open_it) {
    handle.child_error = unsure;
  }
}

}  // namespace

// In a forked child, from its fork handler (the registry is the child's copy, and no other thread exists): for each
// file with a handle, the child opens a description of its own and maps the Maps of the file again through it, then
// closes it (the mappings hold it). A child holds no fcntl(2) record locks yet (they are not inherited), so that close
// releases none. What fails is recorded on those Maps (PersistFailure::forked_without_own_description).
//
// Only what is still the Map's own mapping in the child is mapped again (ChildPiece says how that is told), piece by
// piece as /proc/self/maps shows it, each with its own protection (an mprotect of part of a Map is kept). A part that
// is missing (MADV_DONTFORK) or that another mapping replaced is left as it is, and is no failure: mapping the range
// again whole would destroy that other mapping. An earlier version tested only for holes (msync), and under
// ThreadSanitizer destroyed a page the sanitizer's runtime had mapped into one. Memory: the candidates and pieces are
// vectors (glibc's malloc works in a fork handler); without memory every candidate records ENOMEM.
void RemapThroughDescriptionsOfTheChildsOwn() {
  // open(), read() and close(): a request the forking thread had pending is the child's too, and acting on it here
  // would unwind out of fork() with the child's Maps half mapped again.
  const internal::ScopedNoCancellation no_cancellation;
  mapped_again_in_child = 0;  // this child's, not its parent's if that was a forked child too
  opened_by_path_in_child = 0;
  child_queried_maps = false;
  Registry& registry = GetRegistry();
  // The Maps to tell of at their first persist (TellUnvouchedMaps), counted again as this child ends its work here,
  // on every path: those of page granularity (whose persist functions look) that cannot vouch for a persist and were
  // not told in this process. Counted from the records, so that a parent's count and told Maps carry over right.
  const absl::Cleanup count_untold = [&registry] {
    uint32_t untold = 0;
    for (const auto& [begin, record] : registry.by_begin) untold += record->CountedAsUntold() ? 1 : 0;
    page_sync_shared.untold_unvouched_maps.store(untold, std::memory_order_relaxed);
  };
  const auto remaps = [](const MapRecord& record) {
    return (record.holds_reopen_handle_ || record.holds_path_) && record.remap_.length > 0;
  };
  const auto fail = [](MapRecord& record, int error) {
    failure_count.fetch_add(1, std::memory_order_relaxed);
    record.Record(PersistFailure{error, record.begin(), record.remap_.length, false, true});
    failures_recorded_count.fetch_add(1, std::memory_order_release);
    // Told at the Map's first persist through a persist function (TellUnvouchedMaps), not here: a child that only
    // execs never persists, and the observer may end the process. Told again in this process if told in its parent.
    record.unvouched_told_.store(false, std::memory_order_relaxed);
  };
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<ChildCandidate> candidates;  // in address order, apart (they are live Maps)
  std::vector<ChildPiece> pieces;          // in address order, so each candidate's are together
  std::vector<std::pair<uintptr_t, ReopenHandle*>> probes;  // by address
  try {
    for (const auto& [begin, record] : registry.by_begin) {
      if (!remaps(*record)) continue;
      auto it = registry.reopen_handles.find({record->file().device, record->file().inode});
      if (it != registry.reopen_handles.end()) candidates.push_back(ChildCandidate{record, &it->second});
    }
    pieces.reserve(2 * candidates.size());
    probes.reserve(candidates.size());
  } catch (const std::bad_alloc&) {
    for (const auto& [begin, record] : registry.by_begin) {
      if (remaps(*record)) fail(*record, ENOMEM);
    }
    return;
  }
  if (candidates.empty()) return;

  // Each file's description, and a probe: a page of the file mapped through it, whose line in /proc/self/maps names
  // the file as the kernel does in every mapping of it.
  const auto open_and_probe = [&](const ChildCandidate& candidate) {
    ReopenHandle& handle = *candidate.handle;
    if (handle.child_fd >= 0 || handle.child_error != 0 || handle.child_shares) return;
    const FileIdentity& file = candidate.record->file();
    // O_NONBLOCK: nothing may wait inside fork(). (For a file known by its path the process may hold it open nowhere
    // any more, when its caller unmapped it and another file is mapped at its offsets there: an open then starts to
    // break another process's lease, and fails with EWOULDBLOCK, recorded.)
    if (handle.fd >= 0) {
      // (No other process can hold a lease that this open would have to break: the parent's mapping holds the file
      // open for writing, which rules leases out.)
      handle.child_fd = open(ProcFdPath(handle.fd).path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
      handle.child_error = handle.child_fd < 0 ? errno : 0;
    } else {
      OpenByPathInChild(handle, file);
    }
    if (handle.child_fd >= 0 && !IsFile(handle.child_fd, file.device, file.inode)) {
      close(handle.child_fd);  // the handle's number names another file (closed by someone else, reused)
      handle.child_fd = -1;
      handle.child_error = ESTALE;
    }
    if (handle.child_fd < 0) return;
    // MAP_NORESERVE: a hugetlbfs file's probe (a huge page: its line's length is unmapped) takes none of the pool.
    const int hint_flags = child_probe_hint != nullptr ? MAP_FIXED_NOREPLACE : 0;
    void* probe = mmap(child_probe_hint, page, PROT_NONE, MAP_SHARED | MAP_NORESERVE | hint_flags, handle.child_fd, 0);
    if (probe == MAP_FAILED) {
      handle.child_error = errno;
    } else {
      handle.child_probe = reinterpret_cast<uintptr_t>(probe);
      // Until its line is read: the kernel mapped a whole huge page of a hugetlbfs file, which is unmapped whole.
      handle.child_probe_length = handle.huge_page > page ? handle.huge_page : page;
      probes.emplace_back(handle.child_probe, &handle);  // within capacity: no allocation
    }
  };
  // Files known only by their path (RemapInChildThroughPath) wait for /proc/self/maps (below): the process holds no
  // descriptor of them, and a record whose caller released its range with munmap(2) must not have its file opened.
  for (const ChildCandidate& candidate : candidates) {
    if (candidate.handle->fd >= 0) open_and_probe(candidate);
  }
  std::sort(probes.begin(), probes.end());

  // What the child has in the candidates' ranges, and the probes' names; nothing is mapped meanwhile.
  int maps_error = 0;
  const int maps = child_maps_unreadable ? -1 : open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps < 0) maps_error = child_maps_unreadable ? EIO : errno;
  size_t next_candidate = 0;
  uintptr_t visited_to = 0;
  bool probes_only = false;  // the second look, at the probes of files known by their path
  const auto visit = [&](MappingLine line) {
    // A probe (never merged with another mapping: the kernel merges only mappings of one open file) is no piece of a
    // Map, even where it fell into a hole in one.
    const auto probe = std::lower_bound(probes.begin(), probes.end(), line.begin,
                                        [](const auto& entry, uintptr_t at) { return entry.first < at; });
    if (line.shared && probe != probes.end() && probe->first < line.end) {
      ReopenHandle& handle = *probe->second;
      handle.child_device_major = line.device_major;
      handle.child_device_minor = line.device_minor;
      handle.child_inode = line.inode;
      handle.child_probe_length = line.end - line.begin;
      handle.child_named = true;
      return;
    }
    if (probes_only) return;
    // Each address once, in order, even if a mapping changed while the file was read (an allocation in this
    // handler may map memory): the candidates' pieces stay together and apart.
    if (line.end <= visited_to) return;
    if (line.begin < visited_to) {
      line.offset += visited_to - line.begin;
      line.begin = visited_to;
    }
    visited_to = line.end;
    while (next_candidate < candidates.size() &&
           candidates[next_candidate].record->begin() + candidates[next_candidate].record->remap_.length <=
               line.begin) {
      ++next_candidate;
    }
    for (size_t i = next_candidate; i < candidates.size() && candidates[i].record->begin() < line.end; ++i) {
      const MapRecord& record = *candidates[i].record;
      const uintptr_t begin = std::max(line.begin, record.begin());
      const uintptr_t end = std::min(line.end, record.begin() + record.remap_.length);
      if (begin >= end) continue;
      const bool at_offset =
          line.offset + (begin - line.begin) == static_cast<uint64_t>(record.remap_.offset) + (begin - record.begin());
      pieces.push_back(ChildPiece{i, begin, end - begin, line.prot, line.shared && at_offset, line.device_major,
                                  line.device_minor, line.inode});
    }
  };
  try {
    if (maps >= 0 && child_may_query_maps) {
      int queries = 0;
      const auto ranges = [&](const auto& each) {
        for (const ChildCandidate& candidate : candidates) {
          if (++queries == child_query_failure_at) return EIO;
          if (const int error = each(candidate.record->begin(), candidate.record->remap_.length); error != 0) {
            return error;
          }
        }
        return 0;
      };
      // Where a query fails (ENOTTY: no PROCMAP_QUERY; EPERM or ENOSYS: a seccomp filter or a sandbox's kernel that
      // refuses ioctls), the file is read instead, from its start: an ioctl does not move the file's position.
      child_queried_maps = true;
      for (const auto& probe_and_handle : probes) {  // one at a time: between them lie the Maps' ranges
        const auto probe = probe_and_handle.first;   // not a structured binding: C++17 lambdas cannot capture one
        if (child_queried_maps) {
          child_queried_maps = ForEachQueriedMapping(
                                   maps, [&](const auto& each) { return each(probe, 1); }, visit) == 0;
        }
      }
      child_queried_maps = child_queried_maps && ForEachQueriedMapping(maps, ranges, visit) == 0;
      if (!child_queried_maps) {
        pieces.clear();
        next_candidate = 0;
        visited_to = 0;
      }
    }
    if (maps >= 0 && !child_queried_maps) maps_error = ForEachLineOfMaps(ReadOf(maps), visit);
  } catch (const std::bad_alloc&) {
    maps_error = ENOMEM;
    child_queried_maps = false;
  }
  // The files known by their path that some record still has a piece of (shared, at its offsets: the only pieces
  // mapped again), opened and probed now, and their probes' lines read: each alone with PROCMAP_QUERY where the
  // first look used it, else all of /proc/self/maps again. Where that fails, their records record the error.
  if (maps_error != 0) {
    // Which pieces there are is unknown: the records of files whose name still leads to them record the failure;
    // those whose name does not share, as they would have anyway.
    for (const ChildCandidate& candidate : candidates) {
      if (candidate.handle->fd < 0) OpenByPathInChild(*candidate.handle, candidate.record->file(), false);
    }
  } else {
    const size_t probes_before = probes.size();
    size_t at = 0;
    for (size_t i = 0; i < candidates.size(); ++i) {  // the pieces are in the candidates' order
      bool has_shared = false;
      for (; at < pieces.size() && pieces[at].candidate == i; ++at) has_shared |= pieces[at].shared_at_the_maps_offset;
      if (has_shared && candidates[i].handle->fd < 0) open_and_probe(candidates[i]);
    }
    if (probes.size() > probes_before) {
      std::sort(probes.begin(), probes.end());
      probes_only = true;
      bool queried = child_queried_maps;
      for (const auto& probe_and_handle : probes) {
        const auto probe = probe_and_handle.first;
        if (queried && !probe_and_handle.second->child_named) {
          queried =
              child_second_look_failure == 0 && ForEachQueriedMapping(
                                                    maps, [&](const auto& each) { return each(probe, 1); }, visit) == 0;
        }
      }
      int error = 0;
      if (!queried) {
        child_queried_maps = false;  // all of the file read, after all
        try {
          if (child_second_look_failure == 2) {
            error = EIO;
          } else {
            error = lseek(maps, 0, SEEK_SET) == 0 ? ForEachLineOfMaps(ReadOf(maps), visit) : errno;
          }
        } catch (const std::bad_alloc&) {
          error = ENOMEM;
        }
      }
      for (const auto& probe_and_handle : probes) {
        ReopenHandle& handle = *probe_and_handle.second;
        if (error != 0 && handle.fd < 0 && !handle.child_named) handle.child_error = error;
      }
    }
  }
  if (maps >= 0) close(maps);

  size_t piece = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    MapRecord& record = *candidates[i].record;
    const ReopenHandle& handle = *candidates[i].handle;
    const size_t first = piece;
    while (piece < pieces.size() && pieces[piece].candidate == i) ++piece;
    if (handle.child_shares) continue;  // as before this child existed; no failure (RemapInChildThroughPath)
    // None of it shared at the Map's offsets: nothing of it can be the Map's in the child (gone with MADV_DONTFORK,
    // or replaced), so nothing to map again, and nothing shared with the parent.
    if (maps_error == 0 &&
        std::none_of(pieces.begin() + static_cast<ptrdiff_t>(first), pieces.begin() + static_cast<ptrdiff_t>(piece),
                     [](const ChildPiece& p) { return p.shared_at_the_maps_offset; })) {
      continue;
    }
    int failed = maps_error != 0 ? maps_error : handle.child_error;
    if (failed == 0 && !handle.child_named) failed = ENODATA;  // the probe's line was not found
    for (size_t j = first; failed == 0 && j < piece; ++j) {
      const ChildPiece& part = pieces[j];
      if (!part.shared_at_the_maps_offset || part.device_major != handle.child_device_major ||
          part.device_minor != handle.child_device_minor || part.inode != handle.child_inode) {
        continue;
      }
      const Remap remap{part.length, record.remap_.flags,
                        record.remap_.offset + static_cast<off_t>(part.begin - record.begin())};
      failed = MapAgain(part.begin, remap, part.prot, handle.child_fd);
      // Linux before 5.16 cannot mremap a hugetlb mapping (EINVAL). hugetlbfs writes nothing back, so no write-back
      // report can be taken through the description shared with the parent: the inherited mapping stays, and no
      // failure is recorded (which nothing could ever clear).
      if (failed == EINVAL && handle.huge_page != 0) {
        failed = 0;
        continue;
      }
      if (failed == 0) ++mapped_again_in_child;
    }
    if (failed != 0) fail(record, failed);
  }
  // The mappings hold the child's descriptions now. A child holds no fcntl(2) record locks yet (they are not
  // inherited), so these closes release none.
  for (auto& [key, handle] : registry.reopen_handles) {
    if (handle.child_probe != 0) munmap(reinterpret_cast<void*>(handle.child_probe), handle.child_probe_length);
    if (handle.child_fd >= 0) close(handle.child_fd);
    handle.child_fd = -1;
    handle.child_error = 0;
    handle.child_shares = false;
    handle.child_probe = 0;
    handle.child_probe_length = 0;
    handle.child_named = false;
  }
}

namespace {
std::atomic<PersistFailureObserver> persist_failure_observer{nullptr};
}  // namespace

void SetPersistFailureObserver(PersistFailureObserver observer) {
  persist_failure_observer.store(observer, std::memory_order_release);
}

void TellUnvouchedMaps(const void* address, size_t length) {
  constexpr size_t kAtOnce = 8;  // Maps told per call; the rest at their next persist
  PersistFailure told[kAtOnce];
  size_t count = 0;
  {
    uintptr_t begin = reinterpret_cast<uintptr_t>(address);
    uintptr_t end = length > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + std::max<size_t>(length, 1);
    ToWholePages(begin, end);
    Registry& registry = GetRegistry();
    std::shared_lock<std::shared_mutex> lock(registry.mutex);
    for (auto it = FirstEndingAfterLocked(registry, begin);
         it != registry.by_begin.end() && it->first < end && count < kAtOnce; ++it) {
      PersistFailure failure;
      if (!it->second->TakeFromUntold(&failure)) continue;
      failure.caller_sees_result = false;
      told[count++] = failure;
    }
  }
  const PersistFailureObserver observer = persist_failure_observer.load(std::memory_order_acquire);
  for (size_t i = 0; observer != nullptr && i < count; ++i) observer(told[i]);
}

void RecordPersistFailure(const void* address, size_t length, int error_number, bool caller_sees_result,
                          bool of_the_files) {
  failure_count.fetch_add(1, std::memory_order_relaxed);
  const uintptr_t at = reinterpret_cast<uintptr_t>(address);
  PersistFailure failure{error_number, at, length, false};
  failure.caller_sees_result = caller_sees_result;
  // Declared before the lock, so that the observer runs once the record is made and the lock released.
  const absl::Cleanup tell_the_observer = [failure] {
    if (const PersistFailureObserver observer = persist_failure_observer.load(std::memory_order_acquire)) {
      observer(failure);
    }
  };
  // Once every record is written (after the lock, on every path).
  const absl::Cleanup recorded = [] { failures_recorded_count.fetch_add(1, std::memory_order_release); };
  if (void (*hook)() = between_count_and_record.load(std::memory_order_acquire); hook != nullptr) hook();
  uintptr_t begin = at;
  uintptr_t end = length > UINTPTR_MAX - at ? UINTPTR_MAX : at + std::max<size_t>(length, 1);
  ToWholePages(begin, end);
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  // Every mapping the range's pages overlap: the first one that may hold `at`, then all that begin before `end`, which
  // are neighbours in the registry: [first, last). Walked as iterators, never copied: recording allocates nothing,
  // so that a failure is never lost for want of memory (nor thrown out of a persist function that returns void).
  const auto first = FirstEndingAfterLocked(registry, begin);
  auto last = first;
  while (last != registry.by_begin.end() && last->first < end) ++last;
  if (first == last) {
    OutsideEveryMap().Record(failure);
    return;
  }
  for (auto it = first; it != last; ++it) it->second->Record(failure);
  if (!of_the_files) return;
  failure.seen_through_another_mapping = true;
  for (auto other = registry.by_begin.begin(); other != registry.by_begin.end(); ++other) {
    if (other->first >= first->first && other->first < end) continue;  // one of [first, last)
    for (auto it = first; it != last; ++it) {
      if (other->second->file() == it->second->file()) {
        other->second->Record(failure);
        break;
      }
    }
  }
}

namespace {

// The failures recorded at addresses outside every mapping, after the syncs in flight over `address` (one that no
// Map holds) ended: a sync of such memory records its failure there, so a reader of it waits as a Map's does.
absl::Status ErrorOutsideEveryMap(uintptr_t address) {
  WaitForEarlierSyncs(address, address == UINTPTR_MAX ? UINTPTR_MAX : address + 1, FileIdentity{});
  std::shared_lock<std::shared_mutex> lock(GetRegistry().mutex);
  return OutsideEveryMap().ErrorWithoutWaiting();
}

}  // namespace

absl::Status ErrorForAddress(const void* address) { return ErrorForAddressSince(address, MapExtent{}); }

namespace {

// `map`'s record if it was dropped from the index as stale since `map` was found (its Map lives on): its error (ESTALE,
// which no acknowledgement ends), as its Map's Persist() reports; otherwise nullptr. The registry's lock held.
const MapRecord* DroppedLocked(const Registry& registry, const MapExtent& map) {
  if (map.record_id == 0) return nullptr;
  const auto it = registry.dropped.find(map.record_id);
  return it == registry.dropped.end() ? nullptr : it->second;
}

// ErrorForAddressSince(), or (`since` false) ErrorForRecord(). `*dropped` (if given): set when the answer is a dropped
// record's.
absl::Status ErrorForMapAt(const void* address, const MapExtent& map, bool since, bool* dropped = nullptr) {
  Registry& registry = GetRegistry();
  uintptr_t begin = 0;
  uintptr_t end = 0;
  FileIdentity file;
  {
    std::shared_lock<std::shared_mutex> lock(registry.mutex);
    MapRecord* holder = FindLocked(registry, reinterpret_cast<uintptr_t>(address));
    if (holder == nullptr || (map.record_id != 0 && holder->id() != map.record_id)) {
      if (const MapRecord* stale = DroppedLocked(registry, map)) {
        if (dropped != nullptr) *dropped = true;
        return stale->ErrorWithoutWaiting();
      }
    }
    if (holder == nullptr) {
      lock.unlock();  // waited for outside it, as below
      return ErrorOutsideEveryMap(reinterpret_cast<uintptr_t>(address));
    }
    begin = holder->begin();
    end = holder->end();
    file = holder->file();
  }
  // Waited for outside the registry's lock: the syncs waited for take it to record their failures.
  WaitForEarlierSyncs(begin, end, file);
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  MapRecord* holder = FindLocked(registry, reinterpret_cast<uintptr_t>(address));
  // The mark is the record's only while it is still the one found then: a Map made since at the same range of the
  // same file (as in a reservation) has a record of its own, whose count starts again.
  if (holder != nullptr && map.record_id != 0 && holder->id() == map.record_id) {
    return since ? holder->ErrorSinceLocked(map.failures_recorded) : holder->ErrorWithoutWaiting();
  }
  if (const MapRecord* stale = DroppedLocked(registry, map)) {
    if (dropped != nullptr) *dropped = true;
    return stale->ErrorWithoutWaiting();
  }
  if (holder != nullptr) return holder->ErrorWithoutWaiting();
  lock.unlock();  // unmapped meanwhile
  return ErrorOutsideEveryMap(reinterpret_cast<uintptr_t>(address));
}

}  // namespace

absl::Status ErrorForAddressSince(const void* address, const MapExtent& map) {
  return ErrorForMapAt(address, map, /*since=*/true);
}

absl::Status ErrorForRecord(const void* address, uint64_t record_id, bool* dropped) {
  MapExtent map{};
  map.record_id = record_id;
  return ErrorForMapAt(address, map, /*since=*/false, dropped);
}

uint64_t PersistFailureCount() { return failure_count.load(std::memory_order_relaxed); }

uint64_t PersistFailuresRecorded() { return failures_recorded_count.load(std::memory_order_acquire); }

void SetBetweenCountAndRecordForTest(void (*hook)()) {
  between_count_and_record.store(hook, std::memory_order_release);
}

}  // namespace map_internal
}  // namespace pmem2

namespace pmem2 {
namespace map_internal {

bool FirstMapInRange(const void* address, size_t length, MapExtent* first) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = begin + length < begin ? UINTPTR_MAX : begin + (length == 0 ? 1 : length);
  const auto it = FirstEndingAfterLocked(registry, begin);
  if (it == registry.by_begin.end() || it->first >= end) return false;
  *first =
      MapExtent{it->first, it->second->end(), it->second->file(), it->second->failures_recorded(), it->second->id()};
  return true;
}

std::vector<MapExtent> MapsInRange(const void* address, size_t length) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = begin + length < begin ? UINTPTR_MAX : begin + (length == 0 ? 1 : length);
  std::vector<MapExtent> maps;
  for (auto it = FirstEndingAfterLocked(registry, begin); it != registry.by_begin.end() && it->first < end; ++it) {
    maps.push_back(
        MapExtent{it->first, it->second->end(), it->second->file(), it->second->failures_recorded(), it->second->id()});
  }
  return maps;
}

namespace {

enum class Covering { kAnyMap, kCpuPersistent, kCpuPersistentDeviceDax };

// Walks the mappings that cover [address, address + length) back to back; a gap, or a mapping that is not of the
// kind `covering` asks for, ends it. A persistent one covers its own bytes only, not the rest of its last page past
// its end (MapRecord::content_end()): a flush there makes nothing durable. Allocates nothing (a failed page persist
// asks).
bool RangeIsCovered(const void* address, size_t length, Covering covering) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  uintptr_t at = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = at + length < at ? UINTPTR_MAX : at + length;
  do {
    const MapRecord* holder = FindLocked(registry, at);
    if (holder == nullptr) return false;
    if (covering != Covering::kAnyMap && !holder->cpu_persistent()) return false;
    if (covering == Covering::kCpuPersistentDeviceDax && !(holder->file().valid && holder->file().device_dax)) {
      return false;
    }
    if (covering == Covering::kAnyMap) {
      at = holder->end();
    } else if (at < holder->content_end()) {
      at = holder->content_end();
    } else {
      return false;
    }
  } while (at < end);
  return true;
}

}  // namespace

bool RangeIsCpuPersistent(const void* address, size_t length) {
  return RangeIsCovered(address, length, Covering::kCpuPersistent);
}

bool RangeIsCpuPersistentDeviceDax(const void* address, size_t length) {
  return RangeIsCovered(address, length, Covering::kCpuPersistentDeviceDax);
}

bool RangeIsInLiveMaps(const void* address, size_t length) {
  return RangeIsCovered(address, length, Covering::kAnyMap);
}

}  // namespace map_internal
}  // namespace pmem2
