// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/map_registry.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/map: the process-wide registry of live mappings, and the sticky persistence errors each
// mapping carries.
//
// Why a registry: persist_fn and friends are plain function pointers with libpmem2's signatures, so a failing
// msync knows only an address. The registry finds the mapping from the address, and every other mapping of the
// same file (device and inode), and records the failure on each of them. Linux reports a write-back error once
// per open file description, to whichever caller syncs first; a failure is a property of the file's data, not
// of the thread or mapping that happened to see it, and a later successful msync proves nothing about it.
//
// Why syncs are tracked: the kernel hands a file's write-back error to one msync, and that msync's thread records
// it a moment later. Meanwhile another thread's msync of the same file may already have returned 0. So every
// page-granularity sync marks itself in flight (SyncScope) until its failure, if any, is recorded, and a reader
// of the sticky error first waits for every sync of the file that was in flight when the read began. Without
// that, the other thread could read OK in between and commit data that is lost.
//
// Cost: a page-granularity sync (a system call anyway) marks its thread's own slot busy with three plain stores
// before the call and a plain store and load after it, inline in the sync; no lock, no lookup, and on x86
// nothing that waits for the caller's stores before the call (an atomic read-modify-write there cost 50-140 ns
// of a random cold page copy + msync on Zen 5, tools/bench/results/amd-26-2.md) nor for the kernel's after it (a
// sequentially consistent store there cost 16 ns of a 104 ns msync on Intel 6/167,
// tools/bench/results/intel-6-167.md; a reader that the end of a sync misses for want of it looks again after a
// millisecond or a few). It does not look its mapping up: the reader, which is rarer, walks every thread's slot
// and finds out which file a busy slot's address belongs to. Looking the mapping up and registering with a
// per-file tracker on every sync (a reader-writer lock, a map walk, a shared_ptr, a mutex twice) cost 90-160 ns
// over a bare msync per page persist on a guest where every system call switches worlds ("Page persist" there).
// A failure walks the registry. The byte and cache-line paths never touch any of it.
// MapRecord::Error() is an atomic load per slot (threads that ever synced at once) while no failure is pending and
// no other thread is inside a page sync; for each slot busy with one that does not overlap the reader's range, a walk
// of the registry under its shared lock (whether the sync runs over a mapping of the reader's file), and a wait
// while such a sync of the file runs (a system call: microseconds, or a disk's write-back). So the Status methods
// and the sticky-error reads of any granularity take that lock and may wait while other threads sync pages.
//
// The locks are the standard library's (pthread), not absl::Mutex: the Abseil that Debian ships is not built
// with ThreadSanitizer, which would then see no synchronisation at all and report races that are not there.
// Lock order: the registry's lock, then a MapRecord's (which is taken only under the registry's), then the sync
// slots'.

#ifndef PMEM2_MAP_MAP_REGISTRY_H_
#define PMEM2_MAP_MAP_REGISTRY_H_

#include <sys/mman.h>
#include <sys/types.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/internal/msync.h"

namespace pmem2 {
namespace map_internal {

// What a persistence error belongs to besides the mapping: the file (device and inode), or for Device DAX the
// device number. `valid` is false for anonymous and private mappings, which have no file to share errors with.
struct FileIdentity {
  bool valid = false;
  dev_t device = 0;         // st_dev; for Device DAX, the device's own number (st_rdev)
  ino_t inode = 0;          // st_ino; 0 for Device DAX
  bool device_dax = false;  // the Source was a Device DAX (not inferred from inode 0: a FUSE server may report it)
  bool operator==(const FileIdentity& other) const {
    return valid && other.valid && device == other.device && inode == other.inode && device_dax == other.device_dax;
  }
};

// One failed persistence call, or (forked_without_own_description) a forked child that could not map a Map's range
// again through a file description of its own (ChildReopenHandle), so that no persist of it can be vouched for:
// that one stays recorded whatever the acknowledgements.
struct PersistFailure {
  int error_number = 0;   // errno of msync (of open, mmap, mremap or the identity check: ESTALE, for the other)
  uintptr_t address = 0;  // the range the caller asked to persist (the Map's range)
  size_t length = 0;
  bool seen_through_another_mapping = false;  // the failing call was on another Map of the same file
  bool forked_without_own_description = false;
  // The Map's record left the registry's index (ForgetStaleRecords, RegisterMap): part of its range was unmapped
  // behind pmem2's back and mapped again by other code. A failed sync of the rest can no longer be recorded on it,
  // so none of its persists can be vouched for (error_number ESTALE). Kept through acknowledgements, as the above.
  bool dropped_from_registry = false;
  // The failing call returns the error to its caller (a Status method, pmem2_deep_flush, pmem_msync, an
  // AsyncPersister's completion), where a persist function cannot (also one a signal handler or a Status method's
  // caller runs meanwhile on the same thread): the C API's observer (PMEM2_PERSIST_FAILURE) only
  // speaks up for the others, as libpmem2 aborts only in the persists that cannot return an error.
  bool caller_sees_result = false;
};

// How a forked child maps a Map's range [begin(), begin() + length) again through its own file description
// (ChildReopenHandle): each piece of it that is still the Map's mapping there is mapped with mmap(piece, protection
// it has now, flags, fd, offset + piece's distance from begin()) elsewhere, then moved over it with mremap. length 0:
// never (Maps adopted with FromExisting(), whose mapping is someone else's, and records that hold neither a handle
// nor a path).
struct Remap {
  size_t length = 0;
  int flags = 0;  // MAP_SHARED, or MAP_SHARED_VALIDATE | MAP_SYNC
  off_t offset = 0;
};

// The sticky error state of one Map. Heap-allocated so that its address stays put when the Map moves.
class MapRecord {
 public:
  // `size`: the range the record holds (a Map made by mmap holds its last page whole); `content_size`, at most that:
  // the Map's own bytes (its size), the part a persist can make durable (the rest of the last page is past the
  // Map's end, beyond the file's end or another part of it). 0: all of `size`.
  MapRecord(uintptr_t begin, size_t size, FileIdentity file, size_t content_size = 0)
      : begin_(begin),
        end_(begin + size),
        content_end_(begin + (content_size != 0 && content_size < size ? content_size : size)),
        file_(file),
        id_(NextId()) {}
  MapRecord(const MapRecord&) = delete;
  MapRecord& operator=(const MapRecord&) = delete;

  // Unique in the process, never reused (a record made later at the same range and file has another).
  uint64_t id() const { return id_; }
  uintptr_t begin() const { return begin_; }
  uintptr_t end() const { return end_; }
  uintptr_t content_end() const { return content_end_; }
  const FileIdentity& file() const { return file_; }
  // Whether stores become durable through the CPU (the Map's granularity is byte or cache line). Set once the
  // Map's granularity is chosen; false until then.
  bool cpu_persistent() const { return cpu_persistent_.load(std::memory_order_acquire); }
  void set_cpu_persistent(bool value) { cpu_persistent_.store(value, std::memory_order_release); }

  // Keeps the first failure since the last TakeError(); counts later ones. The caller holds the registry's lock.
  void Record(const PersistFailure& failure);
  // OK, or the first unacknowledged failure with the count of later ones, after waiting for the syncs of this
  // mapping and of its file that were in flight when the call began. Does not clear it.
  absl::Status Error() const;
  // As Error(), without waiting (the caller has waited) and with the registry's lock held by the caller.
  absl::Status ErrorWithoutWaiting() const;
  // As Error(), and acknowledges: the record is clean afterwards, except in a forked child that could not map it
  // through a description of its own (PersistFailure::forked_without_own_description), which no acknowledgement
  // ends. Nothing recorded between the read and the clear is lost, because both happen under one lock.
  absl::Status TakeError();
  // Whether the record left the index as stale (PersistFailure::dropped_from_registry): its Map must not unmap its
  // range, which is partly another mapping's now.
  bool dropped_from_registry() const { return dropped_from_registry_.load(std::memory_order_acquire); }
  // Whether UnregisterMapAndUnmap() released the record's range (unmapped, or its reservation's placeholder back) and
  // unregistered it: its Map must not release the range again. Set under the registry's lock, which a fork waits for,
  // so that a child forked while the Map's delete goes on (its C handle live again there) sees it.
  bool released() const { return released_.load(std::memory_order_acquire); }
  // The registry's, as it drops the record from its index (its lock held exclusively): records the
  // unacknowledgeable failure above.
  void MarkDroppedFromRegistry();
  // How many failures were ever recorded here (never reset), for ErrorSince().
  uint64_t failures_recorded() const { return failures_recorded_.load(std::memory_order_acquire); }
  // As Error(); but if that is OK while failures were recorded since failures_recorded() returned `mark`, an
  // error for the last of them: another thread's TakeError() acknowledged it meanwhile, and the caller, which may
  // have made the failed sync itself, must not be told its data is durable.
  absl::Status ErrorSince(uint64_t mark) const;
  // As ErrorSince(), without waiting for syncs in flight; the registry's lock held (shared) by the caller.
  absl::Status ErrorSinceLocked(uint64_t mark) const;

 private:
  absl::Status ErrorLocked() const;  // mutex_ held
  // Whether this is a page Map's record, counted in page_sync_shared.untold_unvouched_maps: one this forked child
  // could not map again through a description of its own, whose persists' callers were not told yet.
  bool CountedAsUntold() const;
  // Takes it out of that count, once (told now, or gone where no persist's look finds it); false if it was not in it.
  // `failure`, if given, gets the failure to tell.
  bool TakeFromUntold(PersistFailure* failure = nullptr);
  static uint64_t NextId() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
  }

  friend class ChildReopenHandle;
  friend int UnregisterMapAndUnmap(MapRecord* record, void* address, size_t length, bool release);
  friend void RemapInChildThroughPath(MapRecord* record, int fd);
  friend bool RemapsInChildForTest(const void* address);
  friend void RemapThroughDescriptionsOfTheChildsOwn();  // map_registry.cc
  friend void TellUnvouchedMaps(const void* address, size_t length);

  const uintptr_t begin_;
  const uintptr_t end_;
  const uintptr_t content_end_;
  const FileIdentity file_;
  const uint64_t id_;
  Remap remap_;                     // guarded by the registry's lock (exclusive to write)
  bool holds_reopen_handle_ = false;  // a reference to its file's ChildReopenHandle; guarded by the registry's lock
  bool holds_path_ = false;  // a reference to one of its file's paths instead (RemapInChildThroughPath); same guard
  std::string path_;         // that path; the same guard
  std::atomic<bool> has_error_{false};
  std::atomic<bool> cpu_persistent_{false};
  mutable std::mutex mutex_;       // taken only under the registry's lock (so fork() need not take it)
  PersistFailure first_;            // guarded by mutex_
  PersistFailure unacknowledgeable_;  // forked_without_own_description, kept by TakeError(); guarded by mutex_
  uint64_t later_failures_ = 0;     // guarded by mutex_
  PersistFailure last_;             // guarded by mutex_
  std::atomic<uint64_t> failures_recorded_{0};  // written under mutex_
  std::atomic<bool> dropped_from_registry_{false};
  std::atomic<bool> released_{false};
  std::atomic<bool> unvouched_told_{false};  // TellUnvouchedMaps() has told the observer of it
};

// Adds / removes a live mapping. Ranges of live mappings never overlap (the kernel guarantees it): RegisterMap, for a
// mapping the kernel has just placed, drops from the index every record it overlaps (stale: released with munmap(2)
// behind its Map's back; the Map keeps its record). Removing one releases the reference to its file's
// ChildReopenHandle that it holds, or to its file's path (RemapInChildThroughPath), if any.
void RegisterMap(MapRecord* record);
void UnregisterMap(MapRecord* record);
// UnregisterMap() once munmap(address, length) of the record's mapping succeeded (none for a null address: a range
// released otherwise, as a reservation's placeholder put back), made with the registry's lock held (no window in which
// the range is free and the record still answers for it), and with `release` the record marked released(); a record
// dropped as stale leaves without the munmap, and a record released already is left as it is. If munmap fails (ENOMEM:
// the range is the middle of a mapping the kernel merged with its neighbours, and splitting it would exceed
// vm.max_map_count), the record stays registered, the range mapped, and its errno is returned. Allocates nothing.
int UnregisterMapAndUnmap(MapRecord* record, void* address, size_t length, bool release);
// For a mapping the kernel has just placed at [address, address + length) that is no Map's (a VmReservation's
// placeholder): drops the stale records it overlaps from the index, as RegisterMap does. Only before any other thread
// can map there, and never with a ForkSafeMutex held (the registry's lock is a fork handler's).
void ForgetStaleRecords(const void* address, size_t length);

// A handle on a file a Map maps shared and writable, from which a forked child opens a file description of its own.
//
// Why: Linux reports a write-back error once per open file description, to whichever sync of it comes first, and
// parent and child share every description after fork(): one process's msync could take the report of a failure
// that lost the other's data, and the other would then be told that data is durable. So a child maps the ranges of
// its Maps again, before fork() returns there, through a description it opens itself (same protection, flags and
// offsets, mapped elsewhere and moved over the old range with mremap; Remap), and each description is then told of
// every later write-back failure of the file.
//
// The handle is an O_PATH descriptor (open("/proc/thread-self/fd/N", O_PATH | O_CLOEXEC)), one per file and process,
// shared by the Maps of the file and closed with the last: the caller may close the Source's descriptor meanwhile.
// O_PATH because closing it does not release the process's fcntl(2) record locks on the file, as closing any other
// descriptor of the file would. For the same reason the parent's Maps keep going through the Source's descriptor:
// a description of pmem2's own in the parent would have to be closed some day. The child opens its description
// O_RDWR | O_NONBLOCK (nothing may wait inside fork()) and closes it once its Maps are mapped again (a child holds
// no record locks then: they are not inherited).
//
// Cost: one O_PATH descriptor per file mapped (not per Map); in a forked child, a look at /proc/self/maps (one
// PROCMAP_QUERY per mapping in the Maps' ranges on Linux 6.11 and later; elsewhere a read of all of it, in time
// proportional to the process's mappings), one open per such file (with the file system's open and close work: inotify
// events, NFS's write-back on close) and an mmap and munmap of one page of it (the probe that tells the child how the
// kernel names the file in mappings), and an mmap and an mremap per mapping of the kernel's in a Map's range, made
// while fork() returns. No handle, and a child shares the description as before (MapDiagnostics says why), where it
// cannot be opened (no /proc, EMFILE) or where the process could not open the file again for writing (faccessat: a
// descriptor received from elsewhere, a file created read-only, credentials changed). A child whose open, identity
// check or mapping fails anyway records that on its Maps of the file (PersistFailure::forked_without_own_description):
// nothing it persists there can be vouched for, and no acknowledgement changes that. Its parent is then exposed too:
// the child's msyncs may take the parent's reports. What /proc/self/maps shows in a Map's range that is not the Map's
// own mapping (missing: MADV_DONTFORK; another mapping the application put over part of it, or that code running in the
// child before this mapped into a hole; own: shared, at the Map's file offset, of the device and inode that the probe
// shows) is left alone, and is no failure; the rest of the Map is mapped again. A child that cannot read
// /proc/self/maps records that as the failure. The open and the probe happen for each such file, also one whose Maps
// turn out to be wholly missing in the child (closing an O_RDWR description makes NFS write back, FUSE flush, inotify
// report a close). Indistinguishable from the Map's own, and so mapped again: a mapping of the Map's file at the Map's
// offset that the application put over part of it (a read-only view, say); it comes back with the Map's flags.
// hugetlbfs files are not tested (the probe is a huge page there, unmapped as one). Files whose records hold only their
// paths (RemapInChildThroughPath) differ: no descriptor, a second look at /proc/self/maps, no open without a shared
// piece at a record's offsets, and no failure where no name leads to the file any more.
class ChildReopenHandle {
 public:
  ChildReopenHandle() = default;
  // For a shared mapping of the regular file `file` open as `fd` (O_RDWR, whatever the mapping's protection: its
  // msync syncs the file through the description; any other access mode gets no handle, as its mappings' msyncs
  // sync nothing): the process's handle on the file, opened on first use. fd() is -1
  // and why_not() says why when it cannot be opened. `alignment` is Source::Alignment(): above the page size (a
  // hugetlbfs file's huge page), what a forked child's one-page probe of the file maps, and unmaps, in fact.
  static ChildReopenHandle Acquire(int fd, const FileIdentity& file, size_t alignment);
  ChildReopenHandle(ChildReopenHandle&& other) noexcept;
  ChildReopenHandle& operator=(ChildReopenHandle&& other) noexcept;
  ChildReopenHandle(const ChildReopenHandle&) = delete;
  ChildReopenHandle& operator=(const ChildReopenHandle&) = delete;
  ~ChildReopenHandle();  // releases the reference unless handed over

  int fd() const { return fd_; }
  const std::string& why_not() const { return why_not_; }

  // Hands the reference to `record` (a registered Map's, of the same file), which releases it when unregistered,
  // and tells a forked child how to map the record's range again.
  void HandOver(MapRecord* record, const Remap& remap);

 private:
  void Release();
  int fd_ = -1;
  FileIdentity file_;
  std::string why_not_;
};

// For mappings whose callers may unmap them without pmem2 (libpmem's pmem_map_file), which must then keep no descriptor
// of the file open: trades `record`'s handle (an O_PATH descriptor, which would keep the file open, and a deleted
// file's blocks allocated, after a munmap(2) that pmem2 never sees) for the name `fd` (the descriptor the caller opened
// the file by and mapped it through, open for this call) has now: readlink of /proc/thread-self/fd/N, absolute,
// symbolic links resolved; a hard link is a name of its own. The file keeps each name its records hold, and a forked
// child opens the file by the newest that still leads to it. It opens such files only after reading /proc/self/maps,
// and only those with a record that still has a shared mapping at its offsets there (the process may no longer hold the
// file open at all: a record whose caller released it with munmap(2)). Each name is looked up first (O_PATH, no
// symbolic link followed at its end: opens nothing), checked to be the same file (device and inode) and a regular one,
// and that is opened for writing (/proc/thread-self/fd/N of the lookup: no window for the name to change hands). Where
// no name leads to the file any more (ENOENT, ENOTDIR, ELOOP, ENAMETOOLONG, or something else in its place) the child
// shares the description with its parent as before, without an error: nothing leads to the file. A lookup that fails
// otherwise (EACCES: a directory the process may no longer search; EIO, ENOMEM), and what fails after (open, the probe,
// mapping again), is recorded as for a Map's handle, unless another name leads to the file. Not told apart from a file
// that is gone: a chroot(2) or a change of mount namespace since the mapping was made (the child shares). What the
// child maps again is decided as for any Map: only what is still this mapping in the child (shared, the file's, at its
// offsets). No name, and the record is never mapped again in a child (as for a record that held no handle): a file
// without one (O_TMPFILE, unlinked: "(deleted)"), one whose name does not fit PATH_MAX, or a record without a handle.
// Throws std::bad_alloc (the name's copies), having changed nothing.
void RemapInChildThroughPath(MapRecord* record, int fd);

// For tests: the number of files with a handle or a path (RemapInChildThroughPath) now; the handle of the file (-1 if
// none); its paths, oldest first; whether the live mapping holding `address` would be mapped again in a forked child;
// how many ranges (one per mapping /proc/self/maps showed in a Map) this process mapped again as a forked child.
size_t ChildReopenHandleCountForTest();
int ChildReopenHandleForTest(dev_t device, ino_t inode);
std::vector<std::string> ChildReopenPathsForTest(dev_t device, ino_t inode);
bool RemapsInChildForTest(const void* address);
size_t MappedAgainInChildForTest();
// For tests: how many files this process opened by their path (RemapInChildThroughPath) as a forked child.
size_t OpenedByPathInChildForTest();
// For tests: whether a forked child may ask /proc/self/maps with PROCMAP_QUERY (true unless set; where the kernel has
// it) rather than read all of it (inherited by children); whether this process did so as a forked child; whether
// the kernel has PROCMAP_QUERY.
void UseProcmapQueryInChildForTest(bool use);
// For tests (inherited by children): the nth (from 1) of a forked child's PROCMAP_QUERYs of the Maps' ranges fails
// with EIO (-1: none; the probes' queries do not count); a forked child's probe goes at `address` (nullptr: anywhere).
void FailProcmapQueryInChildForTest(int nth);
void ProbeAtInChildForTest(void* address);
// For tests (inherited by children): a forked child finds /proc/self/maps unreadable (EIO) without trying it.
void MapsUnreadableInChildForTest(bool unreadable);
// For tests (inherited by children): a forked child's second look at /proc/self/maps (the probes of files known by
// their path) fails with EIO: 0 never; 1 each PROCMAP_QUERY of it (the child reads all of the file instead); 2 that
// too.
void FailSecondLookInChildForTest(int how);
bool ChildQueriedMapsForTest();
bool KernelHasProcmapQueryForTest();
// For mappings made elsewhere (Map::FromExisting), which the kernel does not keep apart from pmem2's: registers
// the record unless its range overlaps a live one, or shares a page with one of another file or kind of memory
// (kMapExists, naming both ranges).
absl::Status RegisterMapIfFree(MapRecord* record);

struct SyncSlot;

// Marks a sync of [address, address + length) in flight until destroyed (in this thread's slot). A failure must
// be recorded before the scope ends. The whole range counts, not only its first address: a range may run from one
// mapping into another (the function pointers accept any range), and the kernel may hand the second file's error to
// this sync. A scope inside another of the same thread makes the thread's slot concern every reader until the outer
// one ends. Not covered: a signal handler whose persist runs whole between the outer scope's first store of its range
// and its store of the state (three stores): the slot then shows the handler's range, or the outer sync's address with
// the handler's length, for the outer sync, and a reader of the outer sync's file that this range does not concern may
// answer before the outer sync's failure is recorded. Closing that window needs an atomic read-modify-write on every
// sync (see the constructor). Inline (below): on a page mapping's persist path, where each call and
// each cache line of code or data it touches after msync costs about a nanosecond on a guest whose system calls
// leave the caches cold (tools/bench/results/amd-26-2.md, "The page sync's lines").
class SyncScope {
 public:
  SyncScope(const void* address, size_t length);
  ~SyncScope();
  SyncScope(const SyncScope&) = delete;
  SyncScope& operator=(const SyncScope&) = delete;

 private:
  SyncSlot* slot_;
  bool nested_;         // inside another scope of this thread
  uint32_t end_state_;  // what the end of an outermost scope stores in the slot's state
};

// Waits until every sync that was in flight when the call began ended, among those whose range overlaps
// [begin, end) or a live mapping of `file`. Of the syncs that begin later it waits for at most one per
// thread, so a reader is never starved by a stream of new ones. Never the calling thread's own sync (it is inside
// it: a signal handler, a test's msync), which could not end while it waits.
void WaitForEarlierSyncs(uintptr_t begin, uintptr_t end, const FileIdentity& file);

// fork(): the child has only the thread that forked. The syncs other threads had in flight never end there, so
// the child forgets them (a reader in the child would otherwise wait forever) and reuses their slots; the
// failures those syncs record go to the parent's registry only. The registry's lock and the slots' are held across
// fork() (handlers registered when the library loads); pmem2 must not be called from a fork handler registered
// before it loaded, nor from a signal handler that forks.

// How many sync slots exist: at most the number of threads that were syncing at once, ever (a thread's slot is
// reused after it exits). For tests.
size_t SyncSlotCount();

// While `skip` is true, the end of a sync wakes no reader, as when it misses one that came at the same moment
// (~SyncScope); readers must still return, at their next timed look. For tests.
void SkipWakeUpsForTest(bool skip);

// How many readers are waiting for a sync to end now. For tests.
size_t WaitingReadersForTest();

// Records a failed persistence of [address, address + length) with `error_number` on every mapping the range
// overlaps and on every registered mapping of the same files, and counts it process-wide. A failure at an
// address outside every mapping is kept in a process-wide record (see ErrorForAddress). `caller_sees_result`: the
// failing call returns the error to its caller as well (PersistFailure::caller_sees_result). `of_the_files` false:
// only on the mappings the range overlaps (a failure of the range's own, such as pages unmapped behind pmem2's back,
// that says nothing of the files' write-back).
void RecordPersistFailure(const void* address, size_t length, int error_number, bool caller_sees_result,
                          bool of_the_files = true);

// For the persist functions of page Maps (which return nothing), after their sync, when
// page_sync_shared.untold_unvouched_maps is not 0: tells the observer, once per Map, of each Map over
// [address, address + length) that this forked child could not map again through a file description of its own. Its
// record holds that for good (Error() and TakeError() say so), but a program of the C API never reads the record, and
// every msync of the Map succeeds while the kernel may report the file's write-back errors to the parent instead: the
// first persist of it is where PMEM2_PERSIST_FAILURE speaks (warn, or abort), as for a failed one. Allocates nothing.
void TellUnvouchedMaps(const void* address, size_t length);

// Called with each failure RecordPersistFailure() records, once it is recorded and the registry's lock released, on
// the thread that saw it (inside a persist function: it must not allocate or throw). For the C API, whose programs
// may never read the record (pmem2/c/libpmem2.cc, PMEM2_PERSIST_FAILURE); set when that library loads. Null: none.
using PersistFailureObserver = void (*)(const PersistFailure& failure);
void SetPersistFailureObserver(PersistFailureObserver observer);

// The sticky error of the mapping holding `address`; for an address outside every mapping, the failures
// recorded at such addresses. OK if none. Waits first for the syncs in flight that concern it (those of the mapping's
// file, or over `address` outside every mapping).
absl::Status ErrorForAddress(const void* address);

// How many persistence failures were recorded in this process: counted as their recording begins, before any record
// holds them.
uint64_t PersistFailureCount();
// How many of them are recorded on every mapping they concern: at most PersistFailureCount(). Read with acquire
// ordering, so that the records' own counts read after it hold at least these failures (a mark that cannot miss one
// being recorded: compare a later PersistFailureCount() with it).
uint64_t PersistFailuresRecorded();
// `hook` runs inside RecordPersistFailure() once the failure is counted (PersistFailureCount()) and before any record
// holds it, on the recording thread, without a lock held. nullptr: none. For tests.
void SetBetweenCountAndRecordForTest(void (*hook)());

// The live mappings that overlap [address, address + length) (at least the one holding `address` for length
// 0), by their first address: where each begins and ends, and its file (valid == false for mappings without one).
struct MapExtent {
  uintptr_t begin;
  uintptr_t end;
  FileIdentity file;
  uint64_t failures_recorded = 0;  // its record's, when it was found: a mark for ErrorForAddressSince()
  uint64_t record_id = 0;          // its record's MapRecord::id()
};
std::vector<MapExtent> MapsInRange(const void* address, size_t length);
// As MapsInRange(), the first of them only, into `*first`: false if there is none. Allocates nothing.
bool FirstMapInRange(const void* address, size_t length, MapExtent* first);
// As ErrorForAddress(), for an address of `map` (from MapsInRange() or FirstMapInRange() before a sync): if that Map
// holds it still, a failure recorded there since `map` was found is an error even if another thread acknowledged it
// meanwhile (MapRecord::ErrorSince()); if its record was dropped from the index as stale since (part of its range
// unmapped behind pmem2's back and mapped again by other code), that record's error (ESTALE), whoever holds the
// address now.
absl::Status ErrorForAddressSince(const void* address, const MapExtent& map);
// As ErrorForAddress(); but if the record `record_id` (a MapExtent's, found at `address` before) was dropped from
// the index as stale since, that record's error (ESTALE), whoever holds the address now, and `*dropped` (if given)
// set. 0: ErrorForAddress().
absl::Status ErrorForRecord(const void* address, uint64_t record_id, bool* dropped = nullptr);

// Whether every byte of [address, address + length) lies in live mappings that are cpu_persistent(). False
// for length 0 outside every mapping, as for any byte outside them.
bool RangeIsCpuPersistent(const void* address, size_t length);

// As RangeIsCpuPersistent(), with every one of those mappings a Device DAX's.
bool RangeIsCpuPersistentDeviceDax(const void* address, size_t length);

// Calls `visit(begin, end)` for each mapping the kernel has now that overlaps [address, address + length), clipped to
// the range, in address order (PROCMAP_QUERY where there is one, else /proc/self/maps); 0, or the errno of opening or
// reading the maps (visits made before a failure stand). Allocates nothing (a failed persist's path).
int ForEachMappingIn(const void* address, size_t length, absl::FunctionRef<void(uintptr_t begin, uintptr_t end)> visit);

// Whether every byte of [address, address + length) (length > 0) lies in mappings of the process whose protection
// has a bit of `any_of` (PROT_READ / PROT_WRITE / PROT_EXEC), as the kernel sees them now (PROCMAP_QUERY where the
// kernel has it, else /proc/self/maps): for the Status methods of a Map made without the protection a store or a
// cache-line write-back needs, which the application may since have changed with mprotect(2). Errno errors if the
// maps cannot be read.
absl::StatusOr<bool> RangeHasProtection(const void* address, size_t length, int any_of);

// Whether every byte of [address, address + length) (length > 0) lies in shared mappings (MAP_SHARED: their stores
// reach what they map), read as RangeHasProtection() reads them: for Map::FromExisting() of a file or Device DAX,
// which a private or missing mapping would leave with persists that succeed and reach nothing. `protection`, if
// given, gets the PROT_* bits every mapping of the range has (those the whole range allows), whatever the answer.
absl::StatusOr<bool> RangeIsMappedShared(const void* address, size_t length, int* protection = nullptr);

// The first range of `length` bytes at or above `from`, its start a multiple of `align` (a power of two), that no
// mapping of the process holds now (/proc/self/maps); 0 if there is none below the top or the maps cannot be read.
// For libpmem's PMEM_MMAP_HINT (pmem2/map_file).
uintptr_t FirstFreeRangeFrom(uintptr_t from, size_t length, size_t align);

// Whether every byte of [address, address + length) lies in live mappings (of any granularity); as above for
// length 0.
bool RangeIsInLiveMaps(const void* address, size_t length);

// Implementation details of SyncScope, inline for the page sync path; nothing below is for other callers.

// One slot per thread that has synced (reused after the thread exits; never freed, so that a reader may look at
// any slot it reached through the list at any time). The first 128 come from a static pool: a thread's first sync
// allocates nothing unless more threads than that have synced and are still alive.
inline constexpr uintptr_t kAnyAddress = UINTPTR_MAX;  // a slot's address when its syncs concern every reader

struct alignas(64) SyncSlot {
  std::atomic<uint32_t> state{0};     // odd while the owner's sync runs; only the owner writes it
  std::atomic<uintptr_t> address{0};  // the running sync's range: its first address (valid while state is odd)...
  std::atomic<size_t> length{0};      // ...and its length (the reader saturates address + length at the top)
  SyncSlot* next = nullptr;           // the list of every slot; set before the slot is published
  SyncSlot* next_free = nullptr;      // guarded by the slots' mutex (map_registry.cc)
};

// What a page sync reads besides its thread's slot, on one cache line: the readers' count, and for
// page_persist.cc the page size and the msync that tests put in the system call's place.
using MsyncFn = int (*)(void* address, size_t length, int flags);
struct alignas(64) PageSyncShared {
  std::atomic<uint32_t> waiters{0};           // readers waiting for a slot to change (WaitForEarlierSyncs)
  std::atomic<bool> wake_ups_skipped{false};  // SkipWakeUpsForTest
  std::atomic<uintptr_t> page_size{0};        // 0 until page_persist.cc's first sync reads it
  std::atomic<MsyncFn> msync{nullptr};        // set by tests (page_persist_for_test.h); nullptr: the system call
  // Maps of this process that can vouch for no persist, whose persist functions' callers have not been told: a forked
  // child's that it could not map again through a file description of its own (TellUnvouchedMaps).
  std::atomic<uint32_t> untold_unvouched_maps{0};
};
extern PageSyncShared page_sync_shared;

// The page syncs' msync(2): the test seam's function where one is set, else the system call itself, inline
// (internal/msync.h: no cancellation point, no frame of glibc's after it). 0, or the error number; errno unchanged
// on the system call's path.
ABSL_ATTRIBUTE_ALWAYS_INLINE inline int PageMsync(void* start, size_t length) {
  const MsyncFn seam = page_sync_shared.msync.load(std::memory_order_relaxed);
  if (ABSL_PREDICT_TRUE(seam == nullptr)) return internal::MsyncSystemCall(start, length, MS_SYNC);
  return seam(start, length, MS_SYNC) == 0 ? 0 : errno;
}

// initial-exec: one %fs-relative load on the sync path, also inside libpmem2.so (no __tls_get_addr call).
extern __thread SyncSlot* this_thread_slot __attribute__((tls_model("initial-exec")));
// Out of line, once per thread: inlined, it made every SyncScope save six registers for the first sync's sake.
// Throws std::bad_alloc where it cannot allocate the slot (past the 128 pooled ones).
SyncSlot* TakeSlot();
// This thread's slot, taken now if it has none; false, without throwing, where it cannot be allocated. After true,
// this thread's SyncScopes allocate nothing: for callers that must not throw inside their bookkeeping later (an
// AsyncPersister's operations check it before they change anything).
bool TakeSlotWithoutThrowing() noexcept;
inline bool HasSyncSlot() noexcept { return this_thread_slot != nullptr || TakeSlotWithoutThrowing(); }
// For tests: while true, TakeSlotWithoutThrowing() fails for a thread that has no slot yet, as when memory runs out.
void FailSlotAllocationForTest(bool fail);
// For tests: `hook` runs in a thread's taking of its slot, between the free list and the slot's hand-over (nullptr:
// none).
void SetInTakeSlotForTest(void (*hook)());
// Out of line: only while a reader waits.
void WakeReaders();

inline SyncScope::SyncScope(const void* address, size_t length) {
  SyncSlot* slot = this_thread_slot;
  if (ABSL_PREDICT_FALSE(slot == nullptr)) slot = TakeSlot();
  slot_ = slot;
  // Nested or not from the slot's state, which only the outermost scope changes.
  const uint32_t state = slot->state.load(std::memory_order_relaxed);
  nested_ = (state & 1) != 0;
  if (nested_) {
    // Inside another scope of this thread (a test seam, a signal handler): the outer one keeps the slot busy
    // until it ends; from now on it concerns every reader, as this sync's file may not be the outer one's.
    slot->address.store(kAnyAddress, std::memory_order_release);
    return;
  }
  // Release: a reader that acquires a later sync's range also sees this sync's end and its failure (and so
  // finds the state moved on when it looks again: WaitForEarlierSyncs).
  end_state_ = state + 2;
  slot->length.store(length, std::memory_order_release);
  slot->address.store(reinterpret_cast<uintptr_t>(address), std::memory_order_release);
  slot->state.store(state + 1, std::memory_order_release);  // a reader that sees it busy sees the address
  // No atomic read-modify-write here, on purpose: on x86 one waits for the caller's stores still in flight,
  // typically the copy this sync persists, before the system call can start: 50-140 ns of a random cold 64-256 B
  // page copy + msync on Zen 5 (tools/bench/results/amd-26-2.md, "The sync scope without a fence"). The reader
  // that must see this sync is one whose own msync of the file returned 0 because this one took the write-back
  // error first. On x86 stores become visible in program order, so the store above is visible before any store
  // the kernel makes for this call, the error's hand-over included, and the reader's loads are not reordered
  // either. Elsewhere a full fence gives what the read-modify-write gave.
#if !defined(__x86_64__) && !defined(__i386__)
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

inline SyncScope::~SyncScope() {
  if (nested_) return;  // an inner scope: the outer one ends the sync
  // Release: a reader that sees the sync ended sees the failure it recorded.
  slot_->state.store(end_state_, std::memory_order_release);
  // No fence between that store and this load, on purpose: a sequentially consistent store right after the
  // system call waits for the stores the kernel left in flight, 16 ns of a 104 ns msync of a tmpfs page on Intel
  // 6/167 (tools/bench/results/intel-6-167.md, "The end of a sync without a fence"). So this load may miss a
  // waiter that counted itself just now and found the sync still running; that waiter finds the new state at its
  // next timed look (kWaiterRecheck, map_registry.cc) instead of being woken. A Zen 5 build with this store a
  // release store moved nothing measurable there (amd-26-2.md): its msync costs 1.1-1.4 us.
  if (ABSL_PREDICT_FALSE(page_sync_shared.waiters.load(std::memory_order_relaxed) != 0)) WakeReaders();
}

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_MAP_REGISTRY_H_
