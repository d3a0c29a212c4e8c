// Copyright 2026 The pmem2 Authors.
//
// How the engine works. Every operation lives in a Slot taken from a pool made by Create(). The queue is split
// at the first barrier not yet completed (`pending_barrier`): operations before it are active (they may run),
// operations after it wait in `held`, in order, with any later barriers. Active copies wait in `unwritten` for
// a write; active persists (and copies whose write has completed) wait in `staged` for a data sync. A Pump()
// turns `unwritten` into writes and, once no write of the active segment is in flight, the whole of `staged`
// into ONE data sync of the span it covers (a Batch), then reaps completions. When the last active operation
// completes, the pending barrier completes; if it failed, what it held is aborted, otherwise it becomes active.
//
// Why the engine reopens the file: Linux reports a write-back error once per open file description. The
// engine's io_uring data syncs go through a description of its own, so the kernel hands every error to them
// independently of the Maps' msyncs (which use the mapping's description): neither can take the other's report.
// The synchronous backend has no ranged data sync on a descriptor (fdatasync is the whole file), so it msyncs
// through the mappings like Map::Persist(), and joins the same tracking (SyncSynchronously()).

#include "pmem2/uring/async_persister.h"

#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <limits>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_lazy.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/msync.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/internal/proc_fd_path.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"
#include "pmem2/map/request.h"
#include "pmem2/uring/fault_injection_for_test.h"

namespace pmem2 {
namespace uring_internal {
namespace {

constexpr unsigned kMaxQueueDepth = 4096;
constexpr int kMaxRetries = 16;                   // EINTR / EAGAIN / no progress, as Map::Persist()
constexpr uint64_t kMaxWriteChunk = uint64_t{1} << 30;  // io_uring's lengths are 32-bit
constexpr int kMaxRingAttempts = 10000;                 // EAGAIN / EBUSY / ENOMEM from the ring: ~1 s
// Every failure the engine records is its operations' result too: their completions carry it to the caller
// (map_registry.h, PersistFailure::caller_sees_result).
constexpr bool kCompletionsCarryIt = true;

uint64_t PageSize() { return static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); }

// sync_file_range(2) by syscall(2), as glibc's sync_file_range() is a cancellation point (no_cancellation.h) that
// may drop the answer (pmem2/internal/msync.h has why), and costs a change of the thread's cancellation state each
// way once the process has had a second thread. 0, or the error number; errno may change. Where the system call has
// another name or argument order (sync_file_range2: 32-bit ARM, POWER), glibc's, with cancellation disabled.
int SyncFileRange(int fd, uint64_t begin, uint64_t length, unsigned flags) {
#if defined(SYS_sync_file_range) && defined(__LP64__)
  const long result = syscall(SYS_sync_file_range, fd, static_cast<off64_t>(begin),  // NOLINT(runtime/int)
                              static_cast<off64_t>(length), flags);
#else
  const internal::ScopedNoCancellation no_cancellation;
  const int result = sync_file_range(fd, static_cast<off64_t>(begin), static_cast<off64_t>(length), flags);
#endif
  return result == 0 ? 0 : errno;
}

// fdatasync(2) by syscall(2) (not a cancellation point), EINTR retried a few times, as a persist's msync is
// (map_internal::kMaxInterruptedSyncs): a FUSE server may answer it for ever. 0, or the error number.
int Fdatasync(int fd) {
  int error = 0;
  for (int attempt = 0; attempt <= map_internal::kMaxInterruptedSyncs; ++attempt) {
    if (syscall(SYS_fdatasync, fd) == 0) return 0;
    error = errno;
    if (error != EINTR) break;
  }
  return error;
}

// Waits for the write-back of the range (SYNC_FILE_RANGE_WAIT_AFTER), which takes the description's write-back error
// report. 0, or the error number. Where sync_file_range is refused (ENOSYS, or EPERM from a seccomp filter: the
// synchronous backend is the one sandboxes get), which says nothing of the file, fdatasync(2) of the descriptor asks
// instead (the whole file: its dirty pages are written back too; by syscall(2), not a cancellation point).
int WaitForWriteBack(int fd, uint64_t begin, uint64_t length) {
  const int error = SyncFileRange(fd, begin, length, SYNC_FILE_RANGE_WAIT_AFTER);
  if (error != ENOSYS && error != EPERM) return error;
  return Fdatasync(fd);
}

// Whether a sync's errno is retried (OnSyncResult) rather than recorded: EINTR and ECANCELED, which a signal or a
// thread's exit give (io_uring cancels a gone thread's queued requests). Not EAGAIN, which no sync gives but a file
// system's: a FUSE server's answer, or a stored write-back report with its errno, as page_persist.cc records it.
bool IsRetried(int error) { return error == EINTR || error == ECANCELED; }

// usleep(), which is a cancellation point.
void Pause(useconds_t microseconds) {
  const internal::ScopedNoCancellation no_cancellation;
  usleep(microseconds);
}

// How long a blocking wait for a completion goes before it checks that the ring's descriptor is still the ring.
constexpr long kRingCheckNanos = 200 * 1000 * 1000;

// fork(2) copies an engine into the child, but not what it stands for: its ring's queues are memory shared
// with the parent (a completion the child reaped would be lost to the parent), and its queued operations are
// the parent's, with the parent's buffers as they were at the fork (a Copy the child ran late could overwrite
// newer data of the parent's). A pthread_atfork() child handler counts forks, so that each call checks with one
// load whether its engine was made in this process.
std::atomic<uint64_t> forks_in_this_process{0};
void CountFork() { forks_in_this_process.fetch_add(1, std::memory_order_relaxed); }
// When the library loads: a thread registering it at a fork would leave the first-use guard of a static taken
// in the child. Forks before the load count as none, rightly: no engine was made before.
const int count_fork_registered = pthread_atfork(nullptr, nullptr, CountFork);
uint64_t ForkGeneration() { return forks_in_this_process.load(std::memory_order_relaxed); }

// Failures' Statuses for when memory for a message runs out, made when the library loads. The failure itself is
// recorded on the Maps before its message is made (recording allocates nothing: map_registry.h), so only the message
// is lost; the engine's bookkeeping goes on, as it must in the destructor and move-assignment (noexcept), which run
// what is queued.
struct FailuresWithoutMessage {
  absl::Status Of(int error_number) const {
    switch (error_number) {
      case EIO:
        return data_loss;
      case ENOSPC:
        return no_space;
      case EDQUOT:
        return over_quota;
      default:
        return other;
    }
  }
  static absl::Status Make(int error_number) {
    return MakeErrnoError(error_number,
                          "AsyncPersister: an operation failed, and no memory was left for the message that says "
                          "which (it is recorded on the Maps: Map::PersistError())");
  }
  absl::Status data_loss = Make(EIO);
  absl::Status no_space = Make(ENOSPC);
  absl::Status over_quota = Make(EDQUOT);
  absl::Status other = absl::UnknownError(
      "AsyncPersister: an operation failed, and no memory was left for the message that says how (it is recorded on "
      "the Maps: Map::PersistError())");
  absl::Status sticky = absl::DataLossError(
      "AsyncPersister: a Map of the engine reports a failed persist, and no memory was left for its message (read "
      "it later with Map::PersistError())");
  absl::Status aborted = absl::AbortedError(
      "AsyncPersister: not started: an earlier barrier failed and the failure is not cleared (no memory was left "
      "for more of this message)");
  absl::Status descriptor_lost = MakeErrnoError(
      EBADF,
      "AsyncPersister: the engine's descriptor was closed by other code; it cannot write or vouch for syncs any more "
      "(recorded on the Maps only if the engine ends with it unacknowledged; no memory was left for more of this "
      "message)");
  absl::Status unreadable_source = MakeErrnoError(
      EFAULT,
      "AsyncPersister: a Copy's source is not readable memory (EFAULT; no memory was left for more of this message)");
  absl::Status no_sync_slot = MakeErrnoError(
      ENOMEM,
      "AsyncPersister: this thread has no sync slot yet and no memory was left to make one (more than 128 threads "
      "that synced pages are alive: map_registry.h): nothing was queued or run; call again");
};
// Made when the library loads, or by the first Create() if a static initializer of the program's came first (a static
// link runs those before pmem2's): before any operation, so that a failure never needs memory to be reported.
internal::ForkSafeLazy<FailuresWithoutMessage> prebuilt_failures;
const FailuresWithoutMessage& Prebuilt() {
  return prebuilt_failures.Get([] { return std::make_unique<FailuresWithoutMessage>(); });
}
const bool prebuilt_failures_made_at_load = (Prebuilt(), true);

// `make()`, or `fallback` if it runs out of memory.
template <typename Make>
absl::Status StatusOr(const absl::Status& fallback, Make&& make) noexcept {
  try {
    return make();
  } catch (const std::bad_alloc&) {
    return fallback;
  }
}

// ---- the engine's own descriptor and the process's record locks ----
//
// Closing any descriptor of a file that is not O_PATH releases every fcntl(2) record lock (F_SETLK, lockf) the
// process holds on the file, even one taken through another descriptor. An application that locks its log that way
// (a single writer's guard) and makes and destroys engines would lose its lock to the first engine destroyed. So the
// engine's descriptor is closed only when the kernel shows no record lock of the process on the file; otherwise it
// is kept, parked, and taken again by the next engine of the file in this process, or closed by a later engine's
// end once the lock is gone. (Open file description locks, F_OFD_SETLK, and flock(2) belong to their own description
// and are released by no close of another one. A lock another thread takes while an engine ends may still go.)

// Whether this process holds a record lock on the file of `fd`, asked of the kernel on `fd`'s own description with
// F_OFD_GETLK: an open file description lock conflicts with every record lock, the process's own too, and the
// kernel names a record lock's owner by a pid of the caller's namespace (an OFD lock's by -1). It answers with one
// conflicting lock, in no order of offsets, so the file is searched by intervals: around another owner's write lock
// (which nothing else overlaps) on both sides. Where a read lock of another owner is found, one of the process's own
// may lie under it unseen: true, as when the kernel cannot answer (no F_OFD_GETLK before Linux 3.15) or the search
// grows past its bounds: a descriptor kept costs less than a lock lost. Allocates nothing (it runs in destructors).
bool ProcessHoldsRecordLocks(int fd) {
  struct Interval {
    off_t from;
    off_t to;        // exclusive, unless
    bool unbounded;  // to the end of the file, however it grows
  };
  const pid_t self = getpid();
  Interval pending[64];
  size_t count = 0;
  pending[count++] = Interval{0, 0, true};
  for (int asked = 0; count > 0; ++asked) {
    if (asked == 1024) return true;
    const Interval at = pending[--count];
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = at.from;
    lock.l_len = at.unbounded ? 0 : at.to - at.from;
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) return true;
    if (lock.l_type == F_UNLCK) continue;
    if (lock.l_pid == self || lock.l_type == F_RDLCK) return true;
    // Another owner's write lock [begin, end), which the kernel reports only where it overlaps the interval.
    const off_t begin = lock.l_start;
    const bool to_the_end = lock.l_len == 0 || lock.l_len > std::numeric_limits<off_t>::max() - begin;
    const off_t end = to_the_end ? 0 : begin + lock.l_len;
    if (begin > at.from) {
      if (count == std::size(pending)) return true;
      pending[count++] = Interval{at.from, begin, false};
    }
    if (!to_the_end && (at.unbounded || end < at.to)) {
      if (count == std::size(pending)) return true;
      pending[count++] = Interval{end, at.to, at.unbounded};
    }
  }
  return false;
}

// Descriptors of engines destroyed while the process held a record lock on their file. Fixed, so that parking
// allocates nothing; a descriptor that finds it full stays open unparked (never closed: the lock comes first). A
// forked child forgets the parent's entries at once (ForgetParentsKeptDescriptorsInChild): they are the parent's
// descriptions, which the child must not sync through (each description is told of a write-back failure once). Each
// entry is stamped with the fork generation of the engine that opened it, so that one parked by an engine the child
// inherited (a parent's, ending in the child) is never handed out there either.
struct ParkedDescription {
  dev_t device = 0;
  ino_t inode = 0;
  bool read_only = false;
  uint64_t fork_generation = 0;
  int fd = -1;          // -1: a free place
  uint64_t serial = 0;  // which parking this is (ReleaseDescription checks an entry outside the lock)
};
constexpr size_t kMaxParked = 64;
ParkedDescription parked[kMaxParked];
internal::ForkSafeMutex& ParkedMutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;
  return *mutex;
}
const bool parked_mutex_made_at_load = (ParkedMutex(), true);

// Whether `fd` is still open on the file (other code may have closed it, and its number may be another file's).
// statx for the identity alone, with nothing synced: an fstat asks for the times too, and NFS writes back every dirty
// page of the file to answer that (nfs_getattr), once per operation that checks.
bool DescriptorIsTheFile(int fd, dev_t device, ino_t inode) {
  struct statx st;
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &st) == 0) {
    return makedev(st.stx_dev_major, st.stx_dev_minor) == device && st.stx_ino == inode;
  }
  if (errno != ENOSYS && errno != EPERM) return false;  // EBADF: closed
  struct stat fallback;  // statx refused (a seccomp filter): fstat, which may sync the times (NFS)
  return fstat(fd, &fallback) == 0 && fallback.st_dev == device && fallback.st_ino == inode;
}

// In a forked child: the parent's kept descriptors are forgotten (left open: O_CLOEXEC, and a close could wait for an
// NFS server inside fork()). They are the parent's descriptions, never handed to the child's engines, and a number of
// theirs that the child closes and opens again on the same file (its own descriptor, an application's) must not be
// taken for one of them and closed by an engine's end. Registered after the ForkSafeMutex handlers, which free
// ParkedMutex() in the child first.
void ForgetParentsKeptDescriptorsInChild() {
  const internal::ScopedSignalsBlocked signals_blocked;
  std::unique_lock<internal::ForkSafeMutex> lock(ParkedMutex(), std::try_to_lock);
  if (!lock.owns_lock()) return;  // the ForkSafeMutex handlers are missing (no memory at load): left as they are
  for (ParkedDescription& place : parked) place.fd = -1;
}
const bool forget_parents_kept_registered = [] {
  internal::RegisterForkHandlersBeforeYours();
  return pthread_atfork(nullptr, nullptr, &ForgetParentsKeptDescriptorsInChild) == 0;
}();

// Whether the parked `place` still holds its descriptor: the number is open on the file, and as the engine opened it
// (that access, not O_PATH). A number closed by other code may be given by the kernel to a descriptor of the same
// file (the map registry's O_PATH one, the application's own), which the identity alone would take for the parked one.
bool StillParked(const ParkedDescription& place) {
  if (!DescriptorIsTheFile(place.fd, place.device, place.inode)) return false;
  const int flags = fcntl(place.fd, F_GETFL);
  return flags >= 0 && (flags & O_PATH) == 0 && (flags & O_ACCMODE) == (place.read_only ? O_RDONLY : O_RDWR);
}

// The kernel has just given this process the number `fd` (an engine's open): a parked entry holding it is stale (its
// descriptor was closed by other code), forgotten, so that it is never taken or closed for the new one.
void ForgetParkedNumber(int fd) {
  std::lock_guard<internal::ForkSafeMutex> lock(ParkedMutex());
  for (ParkedDescription& place : parked) {
    if (place.fd == fd) place.fd = -1;
  }
}

// A parked descriptor of the file with this access, opened in this process, or -1. (Its description has heard of
// the file's write-back failures since it was opened: one it has not reported yet is reported to the engine that
// takes it, as it would have been to the engine that parked it.)
int TakeParkedDescription(const map_internal::FileIdentity& file, bool read_only) {
  const uint64_t generation = ForkGeneration();
  for (;;) {
    int fd = -1;
    {
      std::lock_guard<internal::ForkSafeMutex> lock(ParkedMutex());
      for (ParkedDescription& place : parked) {
        if (place.fd >= 0 && place.device == file.device && place.inode == file.inode && place.read_only == read_only &&
            place.fork_generation == generation) {
          fd = std::exchange(place.fd, -1);
          break;
        }
      }
    }
    if (fd < 0) return -1;
    // Checked outside the lock fork() takes (a system call); closed by other code: forgotten, the next one tried.
    ParkedDescription taken;
    taken.device = file.device;
    taken.inode = file.inode;
    taken.read_only = read_only;
    taken.fd = fd;
    if (StillParked(taken)) return fd;
  }
}

// Called in ReleaseDescription between reading the parked descriptors and checking them (tests: a check that blocks,
// or that another engine starts in). Null: none.
std::atomic<void (*)()> release_check_hook{nullptr};

// ParkedMutex() held: parks `description` in a free place (a new serial); false if the table is full.
bool ParkLocked(ParkedDescription description) {
  static uint64_t serials = 0;
  for (ParkedDescription& place : parked) {
    if (place.fd >= 0) continue;
    description.serial = ++serials;
    place = description;
    return true;
  }
  return false;
}

// The end of an engine's descriptor (opened in fork generation `generation`): closed, or parked while the process
// holds a record lock on the file; and the parked descriptors of files whose locks are gone closed. The system calls
// run outside ParkedMutex, which every fork() takes: a lock query or a close on NFS waits for the server (a close
// writes the file back), and a fork in another thread must not wait with it. The parked descriptors stay in the
// table while they are checked: an engine made meanwhile takes one as ever (then it is its, and the check's verdict
// on it is dropped: its place no longer holds that parking); a child forked meanwhile forgets the table at once.
void ReleaseDescription(int fd, const map_internal::FileIdentity& file, bool read_only, uint64_t generation) {
  ParkedDescription seen[kMaxParked];
  size_t places[kMaxParked];
  size_t count = 0;
  {
    std::lock_guard<internal::ForkSafeMutex> lock(ParkedMutex());
    for (size_t i = 0; i < kMaxParked; ++i) {
      if (parked[i].fd < 0) continue;
      seen[count] = parked[i];
      places[count++] = i;
    }
  }
  if (count > 0 || fd >= 0) {
    if (void (*const hook)() = release_check_hook.load(std::memory_order_acquire)) hook();
  }
  // Verdicts, outside the lock: gone (closed by other code, the number maybe another file's: forgotten, not closed),
  // or no lock of the process on its file any more (closed); else kept.
  bool forget[kMaxParked] = {};
  bool close_it[kMaxParked] = {};
  for (size_t i = 0; i < count; ++i) {
    // The engine's own number in the table, or one no longer as parked: stale, forgotten, not closed.
    if (seen[i].fd == fd || !StillParked(seen[i])) {
      forget[i] = true;
    } else if (!ProcessHoldsRecordLocks(seen[i].fd)) {
      forget[i] = close_it[i] = true;
    }
  }
  // The engine's own: a reused number is not ours to close.
  bool own_kept = false;
  if (fd >= 0 && DescriptorIsTheFile(fd, file.device, file.inode)) {
    own_kept = ProcessHoldsRecordLocks(fd);
    if (!own_kept) close(fd);
  }
  {
    std::lock_guard<internal::ForkSafeMutex> lock(ParkedMutex());
    for (size_t i = 0; i < count; ++i) {
      ParkedDescription& place = parked[places[i]];
      if (!forget[i] || place.fd != seen[i].fd || place.serial != seen[i].serial) {
        close_it[i] = false;  // kept, or taken meanwhile: no longer this check's to end
        continue;
      }
      place.fd = -1;
    }
    // One that finds the table full stays open, unparked (the lock comes first).
    if (own_kept) ParkLocked(ParkedDescription{file.device, file.inode, read_only, generation, fd});
  }
  for (size_t i = 0; i < count; ++i) {
    if (close_it[i]) close(seen[i].fd);
  }
}

}  // namespace

void SetReleaseCheckHookForTest(void (*hook)()) { release_check_hook.store(hook, std::memory_order_release); }

size_t ParkedDescriptionCountForTest() {
  std::lock_guard<internal::ForkSafeMutex> lock(ParkedMutex());
  size_t count = 0;
  for (const ParkedDescription& place : parked) count += place.fd >= 0;
  return count;
}

enum class SlotKind : uint8_t { kPersist, kCopy, kBarrier };

struct Batch;

// The first failure to start the write-back of staged persists' pages early (Engine::StartWriteBack): the batch that
// syncs those pages fails with it, whatever its sync says.
struct EarlyWriteBackFailure {
  int error = 0;       // 0: none
  uint64_t begin = 0;  // the run's file range
  uint64_t end = 0;
  bool recorded = false;  // on the Maps already, when it happened
};

struct Slot {
  SlotKind kind = SlotKind::kPersist;
  Completion* completion = nullptr;
  // Persist: the page-rounded file range. Copy: the bytes still to write start at `begin` (file offset) and
  // `src`; `end` is the end of the whole copy; `first` its first file offset.
  uint64_t first = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  const char* src = nullptr;
  const char* address = nullptr;  // the caller's address of the range (persist, copy destination)
  size_t length = 0;
  size_t map_index = 0;  // its Map's entry in Engine::maps
  // When it was queued: the process's count of persistence failures recorded in full (PersistFailuresRecorded()),
  // and its Map's record's count (MarksNow()).
  uint64_t failures_before = 0;
  uint64_t map_failures_before = 0;
  int retries = 0;
  bool in_ring = false;  // its write is prepared or submitted in the ring, not yet reaped
  Slot* next = nullptr;  // in exactly one list: free, unwritten, staged, held, or a Batch's members
};

// One data sync in the kernel, for the staged slots it took.
struct Batch {
  uint64_t begin = 0;
  uint64_t end = 0;
  Slot* members = nullptr;
  int retries = 0;
  bool recorded = false;  // its failure is recorded on the Maps already (synchronous backend)
  EarlyWriteBackFailure early_write_back;  // of its members' pages
  bool in_ring = false;   // prepared or submitted in the ring, not yet reaped
  Batch* next_free = nullptr;
};

// Low bit of io_uring user_data: 0 a Slot's write, 1 a Batch's sync (both are at least 8-aligned).
constexpr uint64_t kBatchTag = 1;

struct SlotList {
  Slot* head = nullptr;
  Slot* tail = nullptr;
  bool empty() const { return head == nullptr; }
  void Push(Slot* slot) {
    slot->next = nullptr;
    if (tail == nullptr) {
      head = tail = slot;
    } else {
      tail->next = slot;
      tail = slot;
    }
  }
  Slot* Pop() {
    Slot* slot = head;
    if (slot != nullptr) {
      head = slot->next;
      if (head == nullptr) tail = nullptr;
      slot->next = nullptr;
    }
    return slot;
  }
};

// What the engine needs of a Map, copied from it: the Map object may move (its mapping, record and functions
// stay), so the engine never keeps a pointer to it. The sticky error is read by address (ErrorForAddress).
struct MapEntry {
  uintptr_t begin;
  uintptr_t end;
  uint64_t file_offset;
  PersistFn persist;
  MemcpyFn memcpy;
  DrainFn drain;
  Protection protection;
  bool writes_back;                 // the persist writes cache lines back: it needs read or write access
  map_internal::FileIdentity file;  // of the mapping, as the registry has it (not valid: anonymous memory)
  // Its registry record (0: none found) and that record's count of recorded failures when last looked at
  // (Engine::MarksNow()).
  uint64_t record_id;
  uint64_t failures_recorded;
  // The record was not at `begin` when last looked at (MarksNow()): dropped as stale (its range unmapped behind
  // pmem2's back and mapped again), or its Map destroyed. Every completion of the entry then looks it up.
  bool record_missing;

  // Whether the registry's record at `begin` is still the entry's (its Map not destroyed, nor its range mapped again):
  // that record into `*extent`. Allocates nothing.
  bool RecordStillThere(map_internal::MapExtent* extent) const {
    return record_id != 0 && map_internal::FirstMapInRange(reinterpret_cast<const void*>(begin), 0, extent) &&
           extent->begin == begin && extent->record_id == record_id;
  }

  static MapEntry Of(const Map& map) {
    const uintptr_t begin = reinterpret_cast<uintptr_t>(map.address());
    map_internal::MapExtent extent{};
    const bool known = map_internal::FirstMapInRange(map.address(), 0, &extent) && extent.begin == begin;
    return {begin,
            begin + map.size(),
            map.file_offset(),
            map.persist_fn(),
            map.memcpy_fn(),
            map.drain_fn(),
            map.protection(),
            map.writes_back_cache_lines(),
            known ? extent.file : map_internal::FileIdentity{},
            known ? extent.record_id : 0,
            known ? extent.failures_recorded : 0,
            false};
  }
};

// The engine's descriptor's index in its ring's table of registered files (Create()).
constexpr int kRingFileIndex = 0;

struct Engine {
  AsyncBackend backend = AsyncBackend::kSynchronous;
  unsigned queue_depth = 0;
  // The engine's own descriptor of the file. Other code may close it (a closefrom() after fork, a daemon closing
  // descriptors it does not know) and the number then go to any file the process opens. The ring never uses the
  // number: the descriptor is registered with it (IOSQE_FIXED_FILE), which holds the description itself. The
  // system calls made without the ring check that the number is still the file first (DescriptorGone()).
  int fd = -1;
  bool descriptor_lost = false;  // latched by DescriptorGone(): nothing goes through `fd` any more
  map_internal::FileIdentity file;
  StoreGranularity granularity = StoreGranularity::kPage;
  std::vector<MapEntry> maps;

  bool ring_ready = false;
  // The ring failed (its descriptor closed by someone, or the kernel refusing it): never used again. The
  // destructor unmaps its memory, and closes its descriptor only if that is still the ring (see ~Engine).
  bool ring_dead = false;
  // The descriptor was found to be another file's, or another ring's (see SubmitToKernel): never closed.
  bool ring_descriptor_lost = false;
  dev_t ring_device = 0;  // the ring's descriptor's identity at Create()
  ino_t ring_inode = 0;
  bool read_only = false;           // the engine's descriptor is read-only: Copy() is refused
  bool reopened_read_only = false;  // because the file could not be opened again for writing (the Source can write)
  io_uring ring{};
  unsigned sqes_unsubmitted = 0;
  unsigned in_kernel = 0;  // requests submitted or prepared, not yet reaped

  std::vector<Slot> slots;
  std::vector<Batch> batches;
  Slot* free_slots = nullptr;
  Batch* free_batches = nullptr;
  size_t queued = 0;  // slots in use

  size_t active = 0;        // active operations not completed
  size_t writes_in_kernel = 0;
  // The file range from the first to the last byte of the writes in the ring (valid while writes_in_kernel > 0).
  uint64_t ring_writes_begin = 0;
  uint64_t ring_writes_end = 0;
  Slot* pending_barrier = nullptr;
  SlotList held;
  SlotList unwritten;
  SlotList staged;

  absl::Status failure;  // first failure since Create() / ClearFailure()
  // The first failure since then that no Map holds (a lost descriptor's EBADF, an unreadable Copy source's EFAULT):
  // where, so that the engine's end records it there rather than drop it (RecordUnrecorded()).
  int unrecorded_errno = 0;
  const char* unrecorded_address = nullptr;
  size_t unrecorded_length = 0;
  size_t unrecorded_map_index = 0;
  void NoteUnrecorded(int error, const Slot& slot) {
    if (unrecorded_errno != 0) return;
    unrecorded_errno = error;
    unrecorded_address = slot.address;
    unrecorded_length = std::max<size_t>(slot.length, 1);
    unrecorded_map_index = slot.map_index;
  }
  // At the engine's end, after WaitAll(): records that failure on the Maps, unless ClearFailure() acknowledged it. At
  // its own Map's range, or, that Map gone (destroyed before the engine: whatever holds its address now is not its
  // file's), at another of the engine's Maps of the same file still there (the record reaches every Map of the file);
  // with none, nowhere. As the engine's other records: its completions carried it (no PMEM2_PERSIST_FAILURE action of
  // the C API, no abort).
  void RecordUnrecorded() {
    if (unrecorded_errno == 0) return;
    const MapEntry& noted = maps[unrecorded_map_index];
    for (size_t i = 0; i < maps.size(); ++i) {
      const MapEntry& entry = maps[(unrecorded_map_index + i) % maps.size()];  // the noted one first
      if (i > 0 && !(entry.file.valid && entry.file == noted.file)) continue;
      map_internal::MapExtent extent{};
      if (!entry.RecordStillThere(&extent)) continue;
      if (i == 0) {
        map_internal::RecordPersistFailure(unrecorded_address, unrecorded_length, unrecorded_errno,
                                           kCompletionsCarryIt);
      } else {
        map_internal::RecordPersistFailure(reinterpret_cast<const void*>(entry.begin), 1, unrecorded_errno,
                                           kCompletionsCarryIt);
      }
      break;
    }
    unrecorded_errno = 0;
  }
  // The first failure of an operation queued before the pending (or next) barrier; the barrier reports it even
  // if ClearFailure() came in between, since OK would claim that all of them succeeded.
  absl::Status segment_status;
  // At most one data sync in the kernel: syncs share the engine's file description, and the kernel hands a
  // write-back error to whichever sync checks first, not to the one whose pages failed; one at a time, no OK
  // completes before a concurrent sync's failure is recorded.
  size_t syncs_in_kernel = 0;
  // The run of touching pages that persists queued since the last sync (or kick) cover, in file offsets.
  uint64_t run_begin = 0;
  uint64_t run_end = 0;
  size_t run_persists = 0;   // persists in the run
  bool run_started = false;  // its write-back was started already
  EarlyWriteBackFailure early_write_back;  // of staged persists' pages, for the batch that takes them (TakeStaged)
  bool blocked = false;  // a barrier failed: operations are aborted until ClearFailure()
  const FaultInjection* injection = nullptr;
  size_t completed_in_pump = 0;
  uint64_t fork_generation = ForkGeneration();  // see ForkGeneration()

  // Made before a fork(2) of which this process is the child: nothing may run (see ForkGeneration()).
  bool Inherited() const { return forks_in_this_process.load(std::memory_order_relaxed) != fork_generation; }

  // Whether `fd` is no longer the file (checked now, then latched): the writes and syncs that would go through the
  // number fail instead (not recorded on the Maps, whose file is fine, unless the engine ends with the failure
  // unacknowledged: RecordUnrecorded()), and the destructor leaves the number alone.
  // Not covered: a close and reopen by other code between this check and the system call after it, and a reopen of
  // the same file at that number (same identity: its description then takes the engine's writes and reports).
  bool DescriptorGone() {
    if (!descriptor_lost && !DescriptorIsTheFile(fd, file.device, file.inode)) descriptor_lost = true;
    return descriptor_lost;
  }

  absl::Status DescriptorLostError() const {
    return MakeErrnoError(EBADF, internal::StrFormat("AsyncPersister: the engine's descriptor %d of the file was "
                                                     "closed by other code (the number is another file's now, or "
                                                     "none): it cannot write or vouch for syncs any more; not "
                                                     "recorded on the Maps unless this engine ends with it "
                                                     "unacknowledged (ClearFailure() first); make a new engine",
                                                     fd));
  }

  // Whether the ring's descriptor still has the identity Create() saw. Other code may have closed it and the
  // number may now be another file's (the engine may never have noticed: a caller that waits runs syncs without
  // the ring). On kernels that give every io_uring the same anonymous inode, another ring passes this check.
  bool RingDescriptorIsTheRing() const {
    struct stat now;
    return fstat(ring.ring_fd, &now) == 0 && now.st_dev == ring_device && now.st_ino == ring_inode;
  }

  ~Engine() {
    const internal::ScopedNoCancellation no_cancellation;  // close(), here and in io_uring_queue_exit()
    if (ring_ready) {
      // A ring given up for any other reason (the kernel refusing it) is closed, not leaked; a descriptor that
      // is another file's is not (close(-1) does nothing; io_uring_queue_exit still unmaps the ring's memory).
      if (ring_descriptor_lost || !RingDescriptorIsTheRing()) ring.ring_fd = -1;
      io_uring_queue_exit(&ring);
    }
    // A number found to be another's (DescriptorGone) stays theirs, also if it is the same file again.
    ReleaseDescription(descriptor_lost ? -1 : fd, file, read_only, fork_generation);
  }

  static int Descriptor(const AsyncPersister& persister) {
    return persister.engine_ != nullptr ? persister.engine_->fd : -1;
  }

  static void SetInjection(AsyncPersister& persister, const FaultInjection* hooks) {
    if (persister.engine_ != nullptr) persister.engine_->injection = hooks;
  }

  // ---- setup ----
  absl::Status CheckMap(const Map& map) const;
  const MapEntry* FindMap(const void* ptr, size_t size) const;

  // ---- queueing ----
  absl::StatusOr<Slot*> TakeSlot(Completion* completion);
  // Persist() and Copy() after their checks: the range [address, address + size) of `entry`'s Map.
  absl::Status QueueRange(SlotKind kind, const MapEntry& entry, const char* address, const char* src, size_t size,
                          Completion* completion);
  void Enqueue(Slot* slot);
  void Activate(Slot* slot);

  // ---- running ----
  void Pump(bool block);
  void Issue(bool caller_waits = false);
  void StartWrite(Slot* slot, bool inline_call);
  bool OverlapsAWriteInTheRing(const Slot& slot) const;
  void StartSync(Batch* batch, bool inline_call);
  // `descriptor_checked`: DescriptorGone() was asked just before (its answer is latched in descriptor_lost).
  int SyncSynchronously(Batch& batch, bool descriptor_checked = false);
  io_uring_sqe* GetSqe();
  void SubmitToKernel();
  size_t Reap(bool block);
  size_t ReapPosted();  // the completions in the ring's memory, without entering the kernel
  void OnWriteResult(Slot* slot, int result);
  void OnSyncResult(Batch* batch, int result);
  void RecordSyncFailure(const void* address, size_t length, int error);
  // Records a failure of the engine's file found at [address, +length) (pages of one of its Maps): there if that
  // Map's record is still there, else on another of its Maps of the same file whose record is (a record reaches every
  // Map of the file); never at a dropped Map's addresses (outside every Map, or another file's Map now). False if no
  // record was there (the completions carry the failure). Lookups: after failures only.
  bool RecordOnFile(const void* address, size_t length, int error) const;
  void TakeReportsThroughTheMaps();  // each with TakeReportThroughTheMap()
  Batch* TakeStaged();
  int Inject(KernelOp op, int result, uint32_t requested) const {
    return injection != nullptr && injection->rewrite_result != nullptr
               ? injection->rewrite_result(injection->context, op, result, requested)
               : result;
  }
  int InjectWriteBackWait(int error) const {
    return injection != nullptr && injection->rewrite_write_back_wait != nullptr
               ? injection->rewrite_write_back_wait(injection->context, error)
               : error;
  }

  // ---- completing ----
  // The process's count of failures recorded in full when the entries' counts were last taken.
  uint64_t failures_marked = 0;
  struct Marks {
    uint64_t failures = 0;
    uint64_t map_failures = 0;
  };
  Marks MarksNow(const MapEntry& entry);
  // The entries' marks (record_missing, failures_recorded) looked up again if a failure was recorded anywhere since.
  void RefreshMarks();
  absl::Status FailedSinceQueued(const Slot& slot, uint64_t failures_now) const;
  absl::Status StickyError() const;
  void Fail(const absl::Status& status);
  void Complete(Slot* slot, absl::Status status);
  void Finish(Slot* slot, absl::Status status);
  void CompleteBarrier(Slot* barrier);
  void AbandonRing(int error);
  // For AbandonRing(): waits until every request the kernel took from the ring has completed.
  void AwaitTakenRequests();
  void StartWriteBackEarly(uint64_t begin, uint64_t end);
  void StartWriteBack(uint64_t begin, uint64_t end);
};

absl::Status Engine::CheckMap(const Map& map) const {
  if (map.address() == nullptr) return absl::InvalidArgumentError("AsyncPersister: the Map maps nothing (moved from)");
  if (map_internal::RecordDroppedFromRegistry(map)) {
    return MakeErrnoError(ESTALE, internal::StrFormat("AsyncPersister: part of the Map at %p was unmapped behind "
                                                      "pmem2's back and mapped again by other code: no persist of it "
                                                      "can be vouched for (Map::PersistError())",
                                                      map.address()));
  }
  if (map.store_granularity() == StoreGranularity::kPage && map.file_offset() == Map::kNoFileOffset) {
    return absl::InvalidArgumentError(
        internal::StrFormat("AsyncPersister: the page-granularity Map at %p is anonymous, private or adopted with "
                            "Map::FromExisting(): it has no file range to sync",
                            map.address()));
  }
  return absl::OkStatus();
}

const MapEntry* Engine::FindMap(const void* ptr, size_t size) const {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(ptr);
  for (const MapEntry& entry : maps) {
    if (begin >= entry.begin && begin <= entry.end && size <= entry.end - begin) return &entry;
  }
  return nullptr;
}

absl::StatusOr<Slot*> Engine::TakeSlot(Completion* completion) {
  if (completion != nullptr && completion->queued_) {
    return absl::FailedPreconditionError("AsyncPersister: the Completion is still in use by another operation");
  }
  while (free_slots == nullptr) Pump(/*block=*/true);  // back-pressure
  Slot* slot = free_slots;
  free_slots = slot->next;
  *slot = Slot{};
  slot->completion = completion;
  if (completion != nullptr) {
    completion->queued_ = true;
    completion->done_ = false;
    completion->status_ = absl::OkStatus();
  }
  ++queued;
  return slot;
}

void Engine::Enqueue(Slot* slot) {
  if (pending_barrier != nullptr) {
    held.Push(slot);
    return;
  }
  if (slot->kind == SlotKind::kBarrier) {
    if (active == 0) {
      CompleteBarrier(slot);
    } else {
      pending_barrier = slot;
    }
    return;
  }
  Activate(slot);
}

void Engine::Activate(Slot* slot) {
  if (blocked) {
    Complete(slot, StatusOr(Prebuilt().aborted, [&] {
               return absl::AbortedError(absl::StrCat(
                   "AsyncPersister: not started: an earlier barrier failed and the failure is not cleared: ",
                   failure.ok() ? "(cleared)" : failure.ToString()));
             }));
    return;
  }
  if (slot->kind != SlotKind::kBarrier && slot->length == 0) {  // nothing to do, but in order
    Complete(slot, absl::OkStatus());
    return;
  }
  ++active;
  if (backend == AsyncBackend::kCpu) {
    const MapEntry& entry = maps[slot->map_index];
    if (slot->kind == SlotKind::kCopy) {
      entry.memcpy(const_cast<char*>(slot->address), slot->src, slot->length, 0);
    } else {
      entry.persist(slot->address, slot->length);
    }
    // As Map::Persist(): not OK while a write-back failure of the file is recorded on the Map (a page-granularity
    // Map's msync of the same file, a deep flush's), nor for one recorded since it was queued, as the other backends'
    // completions. Its own Map's only: the CPU backend may serve Maps of several files.
    absl::Status status = StatusOr(Prebuilt().sticky, [&] {
      return map_internal::ErrorForRecord(reinterpret_cast<const void*>(entry.begin), entry.record_id);
    });
    if (status.ok()) status = FailedSinceQueued(*slot, map_internal::PersistFailureCount());
    Finish(slot, std::move(status));
    return;
  }
  if (slot->kind == SlotKind::kCopy) {
    unwritten.Push(slot);
  } else {
    // Here, not when queued: a persist held behind a barrier starts nothing, its pages' write-back included, until
    // the barrier has completed, and nothing at all behind a failed one.
    StartWriteBackEarly(slot->begin, slot->end);
    staged.Push(slot);
  }
}

absl::Status Engine::QueueRange(SlotKind kind, const MapEntry& entry, const char* address, const char* src,
                               size_t size, Completion* completion) {
  // Taken as the call begins, as Map::Persist() takes its mark: a full queue makes TakeSlot() run the engine, and a
  // failure it records then (another operation's data sync, which the kernel may have given the report of this one's
  // pages) came after the caller's stores. Marked after it, the operation completed OK over it once the application
  // acknowledged it on the Map (found by the model check).
  const Marks marks = MarksNow(entry);
  absl::StatusOr<Slot*> taken = TakeSlot(completion);
  if (!taken.ok()) return taken.status();
  Slot* slot = *taken;
  slot->kind = kind;
  slot->map_index = static_cast<size_t>(&entry - maps.data());
  slot->address = address;
  slot->length = size;
  slot->src = src;
  const uint64_t offset = entry.file_offset + (reinterpret_cast<uintptr_t>(address) - entry.begin);
  slot->first = slot->begin = offset;
  slot->end = offset + size;
  slot->failures_before = marks.failures;
  slot->map_failures_before = marks.map_failures;
  Enqueue(slot);
  if (queued == queue_depth) Issue();
  return absl::OkStatus();
}

// ---- running ----

io_uring_sqe* Engine::GetSqe() {
  for (int attempt = 0; attempt < 3 && !ring_dead; ++attempt) {
    const bool injected_full =
        injection != nullptr && injection->ring_full != nullptr && injection->ring_full(injection->context);
    if (!injected_full) {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring); sqe != nullptr) return sqe;
    }
    // Full: hand what is prepared to the kernel, and make room by reaping.
    SubmitToKernel();
    if (attempt > 0 && in_kernel > 0) Reap(/*block=*/true);
  }
  return nullptr;  // the caller runs the request synchronously instead
}

void Engine::SubmitToKernel() {
  int attempts = 0;
  while (sqes_unsubmitted > 0) {
    if (io_uring_sq_ready(&ring) == 0) {  // nothing left for the kernel (the count is only a hint)
      sqes_unsubmitted = 0;
      return;
    }
    const unsigned head = io_uring_smp_load_acquire(ring.sq.khead);
    const int submitted = io_uring_submit(&ring);
    if (submitted >= 0) {
      // What the kernel took is read from this ring's queue head, not from the result: that counts the entries
      // taken from the ring behind the descriptor, which is another ring if other code closed ours and the
      // number was reused. The kernel takes every entry it is given (no SQPOLL here), so taking none means the
      // descriptor is not this ring, and waiting for its completions would wait forever.
      const unsigned taken = io_uring_smp_load_acquire(ring.sq.khead) - head;
      if (taken == 0) {
        ring_descriptor_lost = true;
        AbandonRing(EBADF);
        return;
      }
      sqes_unsubmitted -= std::min(sqes_unsubmitted, taken);
      continue;
    }
    if (submitted == -EINTR) continue;
    // EAGAIN / EBUSY / ENOMEM: the kernel wants completions reaped or memory first. The prepared entries stay
    // in the ring and go with the next attempt: nothing is dropped. Any other error, or no progress for long,
    // and the ring is given up (AbandonRing runs its requests synchronously).
    if ((submitted == -EAGAIN || submitted == -EBUSY || submitted == -ENOMEM) && ++attempts < kMaxRingAttempts) {
      if (in_kernel > sqes_unsubmitted) {
        Reap(/*block=*/true);
        if (ring_dead) return;
      } else {
        Pause(100);
      }
      continue;
    }
    AbandonRing(-submitted);
    return;
  }
}

void Engine::AbandonRing(int error) {
  // Whatever the ring held may or may not have run: it runs again, synchronously (a write of the same bytes
  // to the same place and a data sync can both be repeated: the writes in the ring never overlap, and no later
  // write of their bytes has started, see OverlapsAWriteInTheRing), and the engine is synchronous from now on. What the
  // kernel took runs on (the ring's memory, still mapped, keeps the ring alive even when its descriptor was
  // closed): it is waited for first, or a write still reading the caller's source after the redo completed its
  // Copy would store whatever the caller put in the buffer next.
  AwaitTakenRequests();
  // A descriptor that is closed (EBADF) or no io_uring any more (EOPNOTSUPP, ENXIO) is never closed by the
  // destructor: its number may be another file's by then, and on kernels that give every anonymous-inode file
  // (io_uring, eventfd, epoll, ...) the same inode the identity check cannot tell.
  if (error == EBADF || error == EOPNOTSUPP || error == ENXIO) ring_descriptor_lost = true;
  ring_dead = true;
  backend = AsyncBackend::kSynchronous;
  sqes_unsubmitted = 0;
  // What the kernel completed is taken as Reap takes it, not run again: a failed data sync's report is in its
  // completion alone (the kernel gave it to the engine's description, and other code may have taken the Maps'), so
  // a redo would find nothing to report and complete its persists OK.
  ReapPosted();
  in_kernel = 0;
  for (Slot& slot : slots) {
    if (!slot.in_ring) continue;
    slot.in_ring = false;
    --writes_in_kernel;
    slot.next = unwritten.head;
    unwritten.head = &slot;
    if (unwritten.tail == nullptr) unwritten.tail = &slot;
  }
  for (Batch& batch : batches) {
    if (!batch.in_ring) continue;
    batch.in_ring = false;
    --syncs_in_kernel;
    OnSyncResult(&batch, SyncSynchronously(batch));
  }
}

void Engine::AwaitTakenRequests() {
  // Every request the kernel took posts a completion to the ring's memory, which stays mapped, so this needs no
  // descriptor (ours may be closed, or another file's). What it never took (still in the submission queue) never
  // runs: nothing enters this ring again. The completion queue holds twice the queue depth, more than can be in
  // the kernel, so no completion waits in the kernel's overflow list for an io_uring_enter(). No time limit: the
  // synchronous redo would wait for the same file and source.
  const unsigned untaken = io_uring_sq_ready(&ring);
  const unsigned taken = in_kernel > untaken ? in_kernel - untaken : 0;
  useconds_t pause = 10;
  while (io_uring_cq_ready(&ring) < taken) {
    Pause(pause);
    pause = std::min<useconds_t>(2 * pause, 1000);
  }
}

// `caller_waits`: the caller blocks until something completes (Wait, WaitAll, back-pressure). Then, with nothing
// in the ring, a request runs as a system call on the calling thread instead: io_uring hands every data sync to
// a worker thread, and waking it and being woken by it only adds latency when the caller waits anyway
// (measured: +5-10 % per single-page sync, more under CPU load).
void Engine::Issue(bool caller_waits) {
  // With io_uring one round: completions drive the rest. Synchronously, until nothing runnable is left (retries
  // and writes that became persists); every retry is counted, so this ends.
  for (bool progress = true; progress;) {
    progress = false;
    // In queue order, each after every write in the ring that it overlaps (OverlapsAWriteInTheRing).
    while (!unwritten.empty() && !OverlapsAWriteInTheRing(*unwritten.head)) {
      StartWrite(unwritten.Pop(), caller_waits && in_kernel == 0);
      progress = true;
    }
    if (writes_in_kernel == 0 && syncs_in_kernel == 0 && !staged.empty()) {
      StartSync(TakeStaged(), caller_waits && in_kernel == 0);
      progress = true;
    }
    if (backend == AsyncBackend::kIoUring) break;
  }
  if (backend == AsyncBackend::kIoUring) SubmitToKernel();
}

void Engine::StartWrite(Slot* slot, bool inline_call) {
  const uint64_t length = std::min(slot->end - slot->begin, kMaxWriteChunk);
  ++writes_in_kernel;  // until OnWriteResult
  // A waiting caller's write goes through the ring after all where the number is not the file any more: the ring's
  // registered description still is (the check is the one the system call would make first).
  const bool checked = backend == AsyncBackend::kIoUring && inline_call;
  if (checked && DescriptorGone()) inline_call = false;
  io_uring_sqe* sqe = backend == AsyncBackend::kIoUring && !inline_call ? GetSqe() : nullptr;
  if (sqe == nullptr) {
    int result;
    if (checked ? descriptor_lost : DescriptorGone()) {
      result = -EBADF;
    } else {
      const internal::ScopedNoCancellation no_cancellation;  // pwrite() is a cancellation point
      const ssize_t written = pwrite(fd, slot->src, length, static_cast<off_t>(slot->begin));
      result = written < 0 ? -errno : static_cast<int>(written);
    }
    OnWriteResult(slot, Inject(KernelOp::kWrite, result, static_cast<uint32_t>(length)));
    return;
  }
  io_uring_prep_write(sqe, kRingFileIndex, slot->src, static_cast<unsigned>(length), slot->begin);
  io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(slot));
  if (writes_in_kernel == 1) {  // the only write in the ring
    ring_writes_begin = slot->begin;
    ring_writes_end = slot->end;
  } else {
    ring_writes_begin = std::min(ring_writes_begin, slot->begin);
    ring_writes_end = std::max(ring_writes_end, slot->end);
  }
  slot->in_ring = true;
  ++sqes_unsubmitted;
  ++in_kernel;
}

// Copies that overlap reach the file in the order they were queued, as pwrite(2)s one after the other would. The
// kernel runs the writes in a ring in no set order (one that must first read a page in goes to a worker thread while a
// later one completes at once), and a short write's rest, or the redo after the ring died, would otherwise land after
// a later copy of the same bytes. So a write that overlaps one in the ring waits until that one is reaped, and so does
// every write queued after it; the writes in the ring never overlap. A log's appends, each after the last, never fall
// inside the range the writes in the ring span, so only a write that does is compared with each of them.
bool Engine::OverlapsAWriteInTheRing(const Slot& slot) const {
  if (writes_in_kernel == 0 || slot.end <= ring_writes_begin || slot.begin >= ring_writes_end) return false;
  size_t seen = 0;  // writes in the ring compared so far: the walk ends at the last of them
  for (const Slot& other : slots) {
    if (!other.in_ring) continue;
    if (other.begin < slot.end && slot.begin < other.end) return true;
    if (++seen == writes_in_kernel) break;
  }
  return false;
}

// Scattered persists: the data sync of a batch writes its pages back only when the batch goes to the kernel,
// and the pages of scattered ranges then queue up at the device one after the other. Starting the write-back
// of each finished run of touching pages as the next, separate run is queued lets the device work while the
// application still stores (measured on ext4 over a virtual disk: 64 scattered pages, 1.3-1.6x the time of
// O_DIRECT writes of them without this, below it with). sync_file_range(SYNC_FILE_RANGE_WRITE) only starts
// write-back: it neither waits nor takes the kernel's write-back error report (the data sync gets that), but its
// result is not a hint's (StartWriteBack). Runs that touch grow instead (a log appending stays one run).
void Engine::StartWriteBackEarly(uint64_t begin, uint64_t end) {
  if (descriptor_lost) return;  // hints only
  const uint64_t page = PageSize();
  begin = begin / page * page;
  end = (end + page - 1) / page * page;
  if (run_end > run_begin && (end < run_begin || begin > run_end)) {
    if (!run_started) StartWriteBack(run_begin, run_end);
    // Two separate runs of one persist each in a row: scattered updates. Then each new run starts at once
    // rather than when the next one arrives (the device gets it one store earlier).
    const bool scattered = run_persists == 1;
    run_begin = begin;
    run_end = end;
    run_persists = 1;
    run_started = scattered;
    if (scattered) StartWriteBack(begin, end);
    return;
  }
  run_begin = run_end > run_begin ? std::min(run_begin, begin) : begin;
  run_end = std::max(run_end, end);
  ++run_persists;
  run_started = false;
}

// The write-back a data sync would start, started now for pages of staged persists. Its failure is theirs: the file
// system may give up on the pages when it fails to write them back (ext4's delayed allocation that fails other than
// for want of memory or of space a commit frees: "Data will be lost", the pages' data dropped and the error returned
// to this caller alone, not kept for the file's next sync, which then finds nothing to write). So it is recorded on
// the Maps at once, under a sync scope over the pages, as a failed msync is: another thread's persist of them (which
// finds them clean) waits for it and then sees it; and the batch that takes these persists fails with it
// (OnSyncResult). A false failure where the pages stayed dirty and the sync wrote them (the conservative side). Not
// failures of the data: a call refused (ENOSYS, EPERM: a seccomp filter; EINVAL, ESPIPE: no such range or file kind),
// no memory now (ENOMEM: ext4 keeps the pages dirty then), an interruption, or a descriptor other code closed (the
// sync says so).
void Engine::StartWriteBack(uint64_t begin, uint64_t end) {
  // The run's pages in a Map that holds them whose record was there when last looked at (RefreshMarks; no lookup
  // here): for the scope, and for the record, which RecordOnFile moves to a live Map of the file if need be.
  const auto pages_in_a_map = [&](const void** address, size_t* length) {
    for (const MapEntry& entry : maps) {
      const uint64_t map_end = entry.file_offset + (entry.end - entry.begin);
      const uint64_t from = std::max(begin, entry.file_offset);
      const uint64_t to = std::min(end, map_end);
      if (from >= to) continue;
      if (entry.record_missing) continue;
      *address = reinterpret_cast<const void*>(entry.begin + (from - entry.file_offset));
      *length = static_cast<size_t>(to - from);
      return true;
    }
    return false;
  };
  RefreshMarks();  // a persist held behind a barrier runs here long after its queueing
  const void* address = nullptr;
  size_t length = 0;
  std::optional<map_internal::SyncScope> scope;
  if (pages_in_a_map(&address, &length)) {
    // Past 128 threads syncing at once, a thread's first scope allocates (map_registry.h): without memory, none (a
    // persist of these pages through a Map on another thread may then miss a failure recorded just after it looked).
    try {
      scope.emplace(address, length);
    } catch (const std::bad_alloc&) {
    }
  }
  const int error = SyncFileRange(fd, begin, end - begin, SYNC_FILE_RANGE_WRITE);
  switch (error) {
    case 0:
    case ENOSYS:
    case EPERM:
    case EINVAL:
    case ESPIPE:
    case ENOMEM:
    case EINTR:
    case EAGAIN:
    case EBADF:
      return;
    default:
      // Another file's error if the number is another file's now (its syncs fail EBADF then).
      if (DescriptorGone()) return;
      // Recorded only on a record that is there (else the batch tries again when it completes: OnSyncResult).
      const bool recorded = RecordOnFile(address, length, error);
      if (early_write_back.error == 0) early_write_back = {error, begin, end, recorded};
  }
}

Batch* Engine::TakeStaged() {
  run_begin = run_end = 0;  // the sync covers the current run
  run_persists = 0;
  run_started = false;
  Batch* batch = free_batches;
  free_batches = batch->next_free;
  *batch = Batch{};
  batch->early_write_back = std::exchange(early_write_back, EarlyWriteBackFailure{});
  batch->begin = UINT64_MAX;
  Slot** tail = &batch->members;
  while (Slot* slot = staged.Pop()) {
    batch->begin = std::min(batch->begin, slot->first);
    batch->end = std::max(batch->end, slot->end);
    *tail = slot;
    tail = &slot->next;
  }
  // Whole pages: the kernel writes back pages, and a sub-page range would round the same way.
  const uint64_t page = PageSize();
  batch->begin = batch->begin / page * page;
  return batch;
}

void Engine::StartSync(Batch* batch, bool inline_call) {
  // Non-temporal stores (a page-granularity memcpy_fn of a large copy) are weakly ordered: fenced before the
  // sync that must find them in the page cache, as Map::Persist does.
  arch::ByteOps().drain();
  // As StartWrite: through the ring where the number is not the file any more.
  const bool checked = backend == AsyncBackend::kIoUring && inline_call;
  if (checked && DescriptorGone()) inline_call = false;
  io_uring_sqe* sqe = backend == AsyncBackend::kIoUring && !inline_call ? GetSqe() : nullptr;
  if (sqe == nullptr) {
    OnSyncResult(batch, SyncSynchronously(*batch, checked));
    return;
  }
  // The kernel syncs [off, off + len] (vfs_fsync_range); off 0 with len 0 is the whole file, which is what a
  // span beyond io_uring's 32-bit length becomes.
  io_uring_prep_fsync(sqe, kRingFileIndex, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
  const uint64_t length = batch->end - batch->begin;
  if (length <= UINT32_MAX) {
    sqe->off = batch->begin;
    sqe->len = static_cast<uint32_t>(length);
  }
  io_uring_sqe_set_data64(sqe, reinterpret_cast<uint64_t>(batch) | kBatchTag);
  batch->in_ring = true;
  ++syncs_in_kernel;
  ++sqes_unsubmitted;
  ++in_kernel;
}

int Engine::SyncSynchronously(Batch& batch, bool descriptor_checked) {
  // Without its own description the engine cannot ask for the reports other code may have taken (below): it
  // cannot vouch for the sync, so it fails it (OnSyncResult), whatever the msyncs would say.
  if (descriptor_checked ? descriptor_lost : DescriptorGone()) return -EBADF;
  // A ranged data sync without io_uring: msync(MS_SYNC) of the batch's pages in each Map, which the kernel runs
  // as vfs_fsync_range(datasync) of the file range behind them. This goes through the mappings' file
  // description, as Map::Persist() does, so it takes part in the same tracking (map_registry.h): registered
  // while it runs, its failure recorded before it ends, so that no reader of a Map's sticky error sees OK in
  // between.
  bool skipped = false;
  for (const MapEntry& entry : maps) {
    const uint64_t map_end = entry.file_offset + (entry.end - entry.begin);
    const uint64_t begin = std::max(batch.begin, entry.file_offset);
    const uint64_t end = std::min(batch.end, map_end);
    if (begin >= end) continue;
    // A Map dropped as stale (its operations fail with its ESTALE), or destroyed before the engine (which breaks the
    // engine's contract): its addresses are partly another mapping's, or none. Its part of the batch is synced through
    // the engine's own descriptor instead (below). A lookup per Map and sync, next to an msync.
    map_internal::MapExtent extent{};
    if (!entry.RecordStillThere(&extent)) {
      skipped = true;
      continue;
    }
    const uintptr_t address = entry.begin + (begin - entry.file_offset);
    const uintptr_t page = PageSize();
    const uintptr_t page_address = address / page * page;
    void* pages = reinterpret_cast<void*>(page_address);
    const size_t length = end - begin + (address - page_address);
    map_internal::SyncScope scope(pages, length);
    // The page persists' msync, which tests replace (page_persist_for_test.h).
    int result = -map_internal::PageMsync(pages, length);
    result = Inject(KernelOp::kSync, result, static_cast<uint32_t>(std::min<uint64_t>(length, UINT32_MAX)));
    if (result < 0 && !IsRetried(-result)) {  // retried (OnSyncResult)
      batch.recorded = RecordOnFile(pages, length, -result);
      // The engine's own description holds the same report, and so does every other Map's description (a Map
      // of the file opened apart). Taken now, under the scope above, so that the next sync does not hand it out
      // again after the application acknowledged the failure (failing, on every Map of the file, a persist of
      // pages that are durable). Recorded if it answers (see TakeReportsThroughTheMaps()).
      if (const int error = WaitForWriteBack(fd, begin, end - begin); error != 0) RecordOnFile(pages, length, error);
      TakeReportsThroughTheMaps();
    }
    if (result != 0) return result;
  }
  // The msyncs went through the mappings' file description. The engine's own one must still see every write-back
  // error of the file (other code may have taken the report through the mappings' descriptor, e.g. an fsync of
  // the Source's): SYNC_FILE_RANGE_WAIT_AFTER finds nothing left to wait for and reports the file's errors that
  // this description has not seen yet (file_fdatawait_range).
  // Any answer is recorded at once, EAGAIN and ECANCELED too: SYNC_FILE_RANGE_WAIT_AFTER answers only with the
  // description's stored write-back report, whose errno a FUSE server chooses (its WRITE reply's), and fdatasync's
  // may be one as well; taken, a report is gone, so a retry would succeed over the lost pages. (EINTR was retried
  // in Fdatasync.)
  const auto fail = [&](int error) {
    const Slot* first = batch.members;
    RecordSyncFailure(first->address, std::max<size_t>(first->length, 1), error);
    batch.recorded = true;
    return -error;
  };
  if (skipped) {
    if (const int error = InjectWriteBackWait(Fdatasync(fd)); error != 0) return fail(error);
  }
  const uint64_t length = batch.end - batch.begin;
  if (const int error = InjectWriteBackWait(WaitForWriteBack(fd, batch.begin, length)); error != 0) return fail(error);
  return 0;
}

void Engine::Pump(bool block) {
  Issue(block);
  if (backend != AsyncBackend::kIoUring) return;
  const bool reaped = Reap(/*block=*/false) > 0;
  if (!reaped && block && in_kernel > 0) Reap(/*block=*/true);
  // Completions may have made more work runnable (writes done: a sync; a barrier released held operations).
  Issue(block);
}

size_t Engine::Reap(bool block) {
  if (block) {
    io_uring_cqe* cqe = nullptr;
    int waited;
    int attempts = 0;
    // The check is due every slice of waiting, however the waits end: signals more often than a slice (a profiler's
    // timer) would otherwise start a fresh slice each time and never reach it.
    auto check_at = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kRingCheckNanos);
    do {
      if ((ring.features & IORING_FEAT_EXT_ARG) == 0) {
        waited = io_uring_wait_cqe(&ring, &cqe);  // a timeout would take a request of its own on such kernels
        if (waited == -EAGAIN || waited == -EBUSY) Pause(100);
        continue;
      }
      // In slices: a descriptor that became another ring (see SubmitToKernel) would never complete ours.
      __kernel_timespec slice = {0, kRingCheckNanos};
      waited = io_uring_wait_cqe_timeout(&ring, &cqe, &slice);
      if (waited == -ETIME || (waited < 0 && std::chrono::steady_clock::now() >= check_at)) {
        if (!RingDescriptorIsTheRing()) {
          ring_descriptor_lost = true;
          waited = -EBADF;
          break;
        }
        check_at = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kRingCheckNanos);
        if (waited == -ETIME) waited = -EINTR;  // wait on
      }
      if (waited == -EAGAIN || waited == -EBUSY) Pause(100);  // as SubmitToKernel: ~1 s in all, not milliseconds
    } while (waited == -EINTR || ((waited == -EAGAIN || waited == -EBUSY) && ++attempts < kMaxRingAttempts));
    if (waited < 0) {
      AbandonRing(-waited);
      return 0;
    }
  }
  return ReapPosted();
}

size_t Engine::ReapPosted() {
  size_t count = 0;
  io_uring_cqe* cqe = nullptr;
  while (io_uring_peek_cqe(&ring, &cqe) == 0 && cqe != nullptr) {
    const uint64_t data = io_uring_cqe_get_data64(cqe);
    const int result = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    --in_kernel;
    ++count;
    if ((data & kBatchTag) != 0) {
      Batch* batch = reinterpret_cast<Batch*>(data & ~kBatchTag);
      batch->in_ring = false;
      --syncs_in_kernel;
      const uint64_t length = std::min<uint64_t>(batch->end - batch->begin, UINT32_MAX);
      OnSyncResult(batch, Inject(KernelOp::kSync, result, static_cast<uint32_t>(length)));
    } else {
      Slot* slot = reinterpret_cast<Slot*>(data);
      slot->in_ring = false;
      const uint64_t length = std::min(slot->end - slot->begin, kMaxWriteChunk);
      OnWriteResult(slot, Inject(KernelOp::kWrite, result, static_cast<uint32_t>(length)));
    }
  }
  return count;
}

// Whether the byte at `src` can be read, asked of the kernel (process_vm_readv reports EFAULT where a load would
// fault, and faults nothing itself).
bool SourceReadable(const char* src) {
  char byte;
  struct iovec local = {&byte, 1};
  struct iovec remote = {const_cast<char*>(src), 1};
  // Only EFAULT says unreadable: a call refused (seccomp: EPERM, ENOSYS) leaves the EFAULT the file's, recorded.
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == 1 || errno != EFAULT;
}

void Engine::OnWriteResult(Slot* slot, int result) {
  --writes_in_kernel;
  const uint64_t requested = std::min(slot->end - slot->begin, kMaxWriteChunk);
  if (result > 0 && static_cast<uint64_t>(result) > requested) {
    // Not a result any kernel gives; a write that claims more than it was asked cannot be trusted.
    result = -EIO;
  }
  if (result > 0) {
    slot->begin += static_cast<uint64_t>(result);
    slot->src += result;
    slot->retries = 0;  // progress
  } else if (result == 0 || result == -EINTR || result == -EAGAIN || result == -ECANCELED) {
    if (++slot->retries > kMaxRetries) {
      result = result == 0 ? -EIO : result;
    } else {
      result = 1;  // try again below
    }
  }
  if (result >= 0) {
    if (slot->begin < slot->end) {
      // Short or interrupted: the rest goes out with the next Issue(), first.
      slot->next = unwritten.head;
      unwritten.head = slot;
      if (unwritten.tail == nullptr) unwritten.tail = slot;
      return;
    }
    // Written: now a persist of the whole copied range.
    slot->begin = slot->first;
    staged.Push(slot);
    return;
  }
  const int error = -result;
  if (error == EBADF && descriptor_lost) {
    NoteUnrecorded(EBADF, *slot);
    Finish(slot, StatusOr(Prebuilt().descriptor_lost, [&] { return DescriptorLostError(); }));
    return;
  }
  if (error == EFAULT && !SourceReadable(slot->src)) {
    NoteUnrecorded(EFAULT, *slot);
    // The caller's source is not readable memory: its mistake, not a write-back that failed, so not recorded on the
    // Maps of the file, whose other users did nothing wrong (unless the engine ends with it unacknowledged). The engine
    // fails, as for any failed operation: the record did not land, the bytes before the fault may have. (A write that
    // wrote nothing faults at its first byte; an EFAULT with that byte readable is the file's: a DAX file's media,
    // recorded as below.)
    const void* const src = slot->src - (slot->begin - slot->first);
    Finish(slot, StatusOr(Prebuilt().unreadable_source, [&] {
             return MakeErrnoError(
                 EFAULT, internal::StrFormat("AsyncPersister: Copy of %u bytes from %p to %p: the source is not "
                                             "readable memory from byte %u (EFAULT); not recorded on the Maps "
                                             "unless this engine ends with it unacknowledged",
                                             slot->length, src, static_cast<const void*>(slot->address),
                                             slot->begin - slot->first));
           }));
    return;
  }
  RecordOnFile(slot->address, std::max<size_t>(slot->length, 1), error);  // allocates nothing
  Finish(slot, StatusOr(Prebuilt().Of(error), [&] {
           return MakeErrnoError(
               error, internal::StrFormat("AsyncPersister: writing %u bytes at %p (file offset %u) failed",
                                          slot->length, static_cast<const void*>(slot->address), slot->first));
         }));
}

// ECANCELED, as EINTR: a kernel may cancel the requests still queued in io_uring's workers when the thread that
// submitted them exits (the engine may have moved to another thread since; Linux 6.18 runs a regular file's writes
// and syncs to completion instead); writing the same bytes again and syncing again are repeatable.
void Engine::OnSyncResult(Batch* batch, int result) {
  if (IsRetried(-result)) {
    // Again, for every member that has retries left (they join the next batch); the rest fail with it. But first the
    // Maps' descriptions are asked: a FUSE server chooses a stored write-back report's errno, so this answer may have
    // been the engine's description's report, taken, and the retry would find the pages clean; the Maps' descriptions
    // hold the same report, recorded if they answer (after a cancellation or a signal they hold none: nothing).
    TakeReportsThroughTheMaps();
    Slot* slot = batch->members;
    batch->next_free = free_batches;
    free_batches = batch;
    // Its members' pages may be among those given up: the batch that takes them again fails with it.
    if (early_write_back.error == 0) early_write_back = batch->early_write_back;
    while (slot != nullptr) {
      Slot* next = slot->next;
      if (++slot->retries <= kMaxRetries) {
        staged.Push(slot);
      } else {
        RecordOnFile(slot->address, std::max<size_t>(slot->length, 1), -result);
        Finish(slot, StatusOr(Prebuilt().Of(-result), [&] {
                 return MakeErrnoError(
                     -result,
                     internal::StrFormat("AsyncPersister: data sync of %u bytes at %p interrupted %d times",
                                         slot->length, static_cast<const void*>(slot->address), kMaxRetries + 1));
               }));
      }
      slot = next;
    }
    return;
  }
  absl::Status own;
  if (result > 0) result = -EIO;  // a data sync returns 0 or -errno; anything else cannot be trusted
  const EarlyWriteBackFailure& early = batch->early_write_back;
  const bool early_write_back_failed = result == 0 && early.error != 0;
  if (early_write_back_failed) result = -early.error;
  if (result == -EBADF && descriptor_lost) {
    NoteUnrecorded(EBADF, *batch->members);
    own = StatusOr(Prebuilt().descriptor_lost, [&] { return DescriptorLostError(); });
    Fail(own);
  } else if (result < 0) {
    const int error = -result;
    if (early_write_back_failed ? !early.recorded : !batch->recorded) {
      const Slot* first = batch->members;
      RecordSyncFailure(first->address, std::max<size_t>(first->length, 1), error);
    }
    own = StatusOr(Prebuilt().Of(error), [&] {
      return MakeErrnoError(
          error, early_write_back_failed
                     ? internal::StrFormat("AsyncPersister: starting the write-back of pages in file range [%#x, %#x) "
                                           "failed (sync_file_range SYNC_FILE_RANGE_WRITE; the file system may have "
                                           "dropped them, and the data sync that followed found nothing to report)",
                                           early.begin, early.end)
                     : internal::StrFormat("AsyncPersister: data sync of file range [%#x, %#x) failed", batch->begin,
                                           batch->end));
    });
    Fail(own);
  }
  Slot* slot = batch->members;
  batch->next_free = free_batches;
  free_batches = batch;
  // A failure recorded on the file by anyone (e.g. a Map's msync that took the kernel's report) may concern
  // these ranges too: OK only without one, and without one recorded since the operation was queued, even if another
  // thread acknowledged it meanwhile (that sync may have taken the report of this one's pages, and this sync then
  // found them clean). The count is read after the sticky error: a failure recorded before that read is counted.
  const absl::Status result_status = own.ok() ? StickyError() : own;
  const uint64_t failures_now = map_internal::PersistFailureCount();
  while (slot != nullptr) {
    Slot* next = slot->next;
    Finish(slot, result_status.ok() ? FailedSinceQueued(*slot, failures_now) : result_status);
    slot = next;
  }
}

bool Engine::RecordOnFile(const void* address, size_t length, int error) const {
  const uintptr_t at = reinterpret_cast<uintptr_t>(address);
  const MapEntry* holder = nullptr;
  for (const MapEntry& entry : maps) {
    if (at >= entry.begin && at < entry.end) {
      holder = &entry;
      break;
    }
  }
  map_internal::MapExtent extent{};
  if (holder != nullptr && holder->RecordStillThere(&extent)) {
    map_internal::RecordPersistFailure(address, length, error, kCompletionsCarryIt);
    return true;
  }
  for (const MapEntry& entry : maps) {
    if (holder != nullptr && !(entry.file.valid && entry.file == holder->file)) continue;
    if (!entry.RecordStillThere(&extent)) continue;
    map_internal::RecordPersistFailure(reinterpret_cast<const void*>(entry.begin), 1, error, kCompletionsCarryIt);
    return true;
  }
  return false;
}

// A data sync through the engine's own file description failed (the ring's, or the synchronous backend's
// question after msyncs that said nothing): recorded, and the same report taken out of the Maps' descriptions.
// Under one scope, so that a reader of a Map's sticky error that begins after the record waits until the last
// report is taken. One that began before it does not wait (map_registry.h): its acknowledgement can land in
// between, and a report taken after it then counts as a new failure (a false one, never a lost one).
void Engine::RecordSyncFailure(const void* address, size_t length, int error) {
  map_internal::SyncScope scope(address, length);
  RecordOnFile(address, length, error);
  TakeReportsThroughTheMaps();
}

// Asks the description of one Map's mapping (a one-page msync) for a write-back error it holds, and records one.
void TakeReportThroughTheMap(const MapEntry& entry) {
  void* page = reinterpret_cast<void*>(entry.begin);
  const size_t length = std::min<size_t>(PageSize(), entry.end - entry.begin);
  map_internal::SyncScope scope(page, length);
  // ENOMEM: the range is not mapped any more (a Map destroyed before its engine): no description to ask.
  // The system call, not glibc's msync(): no cancellation point between the answer and its record (msync.h).
  // EINTR is retried as a persist's is (page_persist.h): recorded, it would be a failure that never was. Through
  // PageMsync, the system call or the test seam (page_persist_for_test.h).
  int error = map_internal::PageMsync(page, length);
  for (int attempt = 1; attempt <= map_internal::kMaxInterruptedSyncs && error == EINTR; ++attempt) {
    error = map_internal::PageMsync(page, length);
  }
  // Any other answer is recorded, EAGAIN too: it may be the description's stored report (a FUSE server's errno).
  if (error != 0 && error != ENOMEM) map_internal::RecordPersistFailure(page, length, error, kCompletionsCarryIt);
}

// After a failed data sync, whose report the kernel gave to one file description: each Map's description (the one
// its mapping was made from) still holds the same report. Taken now, while the failure is unacknowledged, so that
// the next Map::Persist() does not hand it out after the application acknowledged it (failing, on every Map of
// the file, a persist of pages that are durable): the mirror of SyncSynchronously()'s question to the engine's
// description. A one-page msync asks the description, as the kernel checks it whatever the range
// (vfs_fsync_range); a Map whose description has already told gets 0. Recorded whenever it answers: the kernel
// reports the file's latest error, and the answer may be a later failure than the one just recorded, with the same
// errno or another, whose only report this is. So one kernel error can count more than once in the count of
// later failures (once per description that reports it); a failure is never dropped. The cost, only after a
// failure: one MS_SYNC msync per Map (a device cache flush on some file systems), also inside Poll(). Maps of the
// file the engine does not serve keep their reports.
void Engine::TakeReportsThroughTheMaps() {
  for (const MapEntry& entry : maps) {
    // Dropped as stale, or destroyed: its first page may be another mapping's now. A lookup: after failures only.
    map_internal::MapExtent extent{};
    if (!entry.RecordStillThere(&extent)) continue;
    TakeReportThroughTheMap(entry);
  }
}


// ---- completing ----

// The marks FailedSinceQueued() compares with. Without a failure recorded anywhere in the process since the entries'
// counts were taken (one load), those counts are still their records': no lock, nothing allocated. After one, each
// entry's record is looked up again (the registry's lock, shared).
Engine::Marks Engine::MarksNow(const MapEntry& entry) {
  RefreshMarks();
  return {failures_marked, entry.failures_recorded};
}

void Engine::RefreshMarks() {
  // The failures recorded in full (acquire: the records read below hold them). One still being recorded is not among
  // them, and is counted as begun: the completion then finds the counts apart and looks at the record, whose mark here
  // holds that failure or not (it is as old as this call). Keyed on the recorded ones, not the begun ones: a cache
  // taken while a failure was begun but not yet on its record would miss it for good (found by review).
  const uint64_t failures = map_internal::PersistFailuresRecorded();
  if (failures != failures_marked) {
    for (MapEntry& entry : maps) {
      map_internal::MapExtent extent{};
      const bool found = entry.RecordStillThere(&extent);
      // A record that is not at the entry's address any more keeps its id: dropped as stale (unmapped behind pmem2's
      // back, mapped again), its error (ESTALE) is still found by it; otherwise (its Map destroyed) the read falls back
      // to that address's sticky error (ErrorForAddressSince).
      entry.record_missing = !found;
      entry.failures_recorded = found ? extent.failures_recorded : 0;
    }
    failures_marked = failures;
  }
}

// OK unless a failure was recorded on the slot's Map since it was queued (also one acknowledged since: as
// Map::Persist(), map_registry.h's ErrorForAddressSince()). `failures_now`: PersistFailureCount() now (failures
// begun); equal to the recorded ones at the queueing, no failure began anywhere since, and nothing is looked up.
absl::Status Engine::FailedSinceQueued(const Slot& slot, uint64_t failures_now) const {
  const MapEntry& entry = maps[slot.map_index];
  if (failures_now == slot.failures_before && !entry.record_missing) return absl::OkStatus();
  map_internal::MapExtent mark{};
  mark.begin = entry.begin;
  mark.end = entry.end;
  mark.file = entry.file;
  mark.record_id = entry.record_id;
  mark.failures_recorded = slot.map_failures_before;
  return StatusOr(Prebuilt().sticky,
                  [&] { return map_internal::ErrorForAddressSince(reinterpret_cast<const void*>(entry.begin), mark); });
}

// A Map whose record was dropped as stale (ESTALE for good) fails its own operations (FailedSinceQueued), not the
// other Maps' nor a barrier after none of its operations: their data is synced through the engine's descriptor.
absl::Status Engine::StickyError() const {
  for (const MapEntry& entry : maps) {
    bool dropped = false;
    absl::Status s = StatusOr(Prebuilt().sticky, [&] {
      return map_internal::ErrorForRecord(reinterpret_cast<const void*>(entry.begin), entry.record_id, &dropped);
    });
    if (!s.ok() && !dropped) return s;
  }
  return absl::OkStatus();
}

void Engine::Fail(const absl::Status& status) {
  if (failure.ok()) failure = status;
}

void Engine::Finish(Slot* slot, absl::Status status) {
  --active;
  if (!status.ok()) {
    Fail(status);
    if (segment_status.ok()) segment_status = status;
  }
  Complete(slot, std::move(status));
}

void Engine::Complete(Slot* slot, absl::Status status) {
  Completion* completion = slot->completion;
  slot->next = free_slots;
  free_slots = slot;
  --queued;
  ++completed_in_pump;
  if (completion != nullptr) {
    completion->status_ = std::move(status);
    completion->queued_ = false;
    completion->done_ = true;
    if (completion->callback != nullptr) {
      // The engine is in the middle of its bookkeeping: a cancellation may not unwind out of the callback, and an
      // exception ends the process here (noexcept) rather than leave the engine waiting forever for operations whose
      // completion it skipped.
      const internal::ScopedNoCancellation no_cancellation;
      [completion]() noexcept { completion->callback(*completion); }();
    }
  }
  if (active == 0 && pending_barrier != nullptr) {
    Slot* barrier = std::exchange(pending_barrier, nullptr);
    CompleteBarrier(barrier);
  }
}

void Engine::CompleteBarrier(Slot* barrier) {
  // A loop, not recursion: a run of held barriers may be as long as the queue.
  while (barrier != nullptr) {
    absl::Status status = std::exchange(segment_status, absl::OkStatus());
    if (status.ok()) status = failure;
    if (status.ok()) status = StickyError();
    if (!status.ok()) {
      Fail(status);  // blocked implies Failure() is not OK, until ClearFailure()
      blocked = true;
    }
    Complete(barrier, std::move(status));
    barrier = nullptr;
    while (pending_barrier == nullptr && !held.empty()) {
      Slot* slot = held.Pop();
      if (slot->kind == SlotKind::kBarrier) {
        if (active == 0) {
          barrier = slot;
        } else {
          pending_barrier = slot;
        }
        break;
      }
      Activate(slot);
    }
  }
}

void SetFaultInjectionForTest(AsyncPersister& engine, const FaultInjection* injection);

}  // namespace uring_internal

// ---- the public API ----

using uring_internal::Engine;
using uring_internal::Slot;
using uring_internal::SlotKind;

const char* AsyncBackendName(AsyncBackend backend) {
  switch (backend) {
    case AsyncBackend::kIoUring:
      return "io_uring";
    case AsyncBackend::kSynchronous:
      return "synchronous";
    case AsyncBackend::kCpu:
      return "cpu";
  }
  return "unknown";
}

namespace {

// Makes a ring of `entries` for the engine, with the operations it needs; the reason if it cannot (then the
// ring is not left open).
absl::Status InheritedAcrossFork() {
  return absl::FailedPreconditionError(
      "AsyncPersister: this engine was made before fork(); in the child its ring and queued operations are the "
      "parent's, so it runs nothing here: make an engine in the child");
}

// PMEM2_NO_IO_URING: unset, empty or "0" (io_uring where the kernel has it) or "1" (never); anything else is no
// answer, so that a run meant for the synchronous backend cannot test io_uring by a typo.
absl::Status CheckNoIoUring() {
  const char* value = secure_getenv("PMEM2_NO_IO_URING");
  if (value == nullptr || *value == '\0' || std::strcmp(value, "0") == 0 || std::strcmp(value, "1") == 0) {
    return absl::OkStatus();
  }
  return MakeError(ErrorCode::kInvalidEnvironment,
                   absl::StrCat("AsyncPersister: PMEM2_NO_IO_URING=\"", value, "\" is not 0 or 1"));
}

IoUringSupport MakeRing(unsigned entries, io_uring* ring) {
  IoUringSupport result;
  if (absl::Status s = CheckNoIoUring(); !s.ok()) {
    result.detail = absl::StrCat("not used: ", s.message());
    return result;
  }
  const char* no_uring = secure_getenv("PMEM2_NO_IO_URING");
  if (no_uring != nullptr && std::strcmp(no_uring, "1") == 0) {
    result.detail = "not used: PMEM2_NO_IO_URING=1";
    return result;
  }
  io_uring_params params{};
  const int made = io_uring_queue_init_params(entries, ring, &params);
  if (made < 0) {
    result.detail = absl::StrCat("unavailable (io_uring_setup: ", std::strerror(-made), ")");
    return result;
  }
  // The kernel's operations, asked with io_uring_register(2) into a buffer of ours (liburing's probe allocates and
  // keeps the call's error to itself): a seccomp filter may refuse that call where it allows the ring.
  constexpr unsigned kOps = 256;
  alignas(io_uring_probe) unsigned char buffer[sizeof(io_uring_probe) + kOps * sizeof(io_uring_probe_op)] = {};
  io_uring_probe* const probe = reinterpret_cast<io_uring_probe*>(buffer);
  if (const int registered = io_uring_register_probe(ring, probe, kOps); registered < 0) {
    io_uring_queue_exit(ring);
    result.detail = absl::StrCat("unavailable (io_uring_register: ", std::strerror(-registered), ")");
    return result;
  }
  if (!io_uring_opcode_supported(probe, IORING_OP_FSYNC) || !io_uring_opcode_supported(probe, IORING_OP_WRITE)) {
    io_uring_queue_exit(ring);
    result.detail = "unavailable (the kernel's io_uring lacks IORING_OP_FSYNC or IORING_OP_WRITE)";
    return result;
  }
  result.available = true;
  result.detail = "io_uring (ranged IORING_OP_FSYNC with IORING_FSYNC_DATASYNC, IORING_OP_WRITE)";
  return result;
}

}  // namespace

IoUringSupport ProbeIoUring() {
  const internal::ScopedNoCancellation no_cancellation;  // io_uring_queue_exit() closes with close()
  io_uring ring;
  IoUringSupport support = MakeRing(4, &ring);
  if (!support.available) return support;
  // Create() registers the engine's descriptor with its ring (Engine::fd) and uses no ring that refuses it: a table
  // of one empty slot says whether this kernel takes one.
  int empty_slot = -1;
  if (const int registered = io_uring_register_files(&ring, &empty_slot, 1); registered < 0) {
    support.available = false;
    support.detail = absl::StrCat("unavailable (io_uring_register_files: ", std::strerror(-registered), ")");
  }
  io_uring_queue_exit(&ring);
  return support;
}

AsyncPersister::AsyncPersister(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}
AsyncPersister::AsyncPersister(AsyncPersister&& other) noexcept = default;

namespace {

// Whether this thread cannot sync pages for `engine`: its syncs' scopes take the thread's slot (map_registry.h), which
// may need memory; had now, or the call changes nothing. The CPU backend syncs no pages.
bool WithoutSyncSlot(const uring_internal::Engine& engine) {
  return engine.backend != AsyncBackend::kCpu && !map_internal::HasSyncSlot();
}

// The end of an engine with operations queued, on a thread without a slot: they can neither run nor be dropped
// silently (their data would go unsynced, unrecorded, while their Completions never finish). Ends the process, as the
// header says.
void EndWithoutSyncSlot(const uring_internal::Engine& engine) {
  if (engine.queued == 0 || !WithoutSyncSlot(engine)) return;
  static const char kLine[] =
      "pmem2: AsyncPersister destroyed with operations queued on a thread that has no sync slot and no memory to "
      "make one: ending the process rather than dropping them\n";
  if (write(STDERR_FILENO, kLine, sizeof kLine - 1) < 0) {
    // Nothing more to do: the process ends either way.
  }
  std::terminate();
}

}  // namespace

AsyncPersister& AsyncPersister::operator=(AsyncPersister&& other) noexcept {
  const internal::ScopedNoCancellation no_cancellation;  // noexcept: nothing may unwind out of it
  if (this != &other) {
    if (engine_ != nullptr && !engine_->Inherited()) {
      EndWithoutSyncSlot(*engine_);
      WaitAll().IgnoreError();
      engine_->RecordUnrecorded();
    }
    engine_ = std::move(other.engine_);
  }
  return *this;
}

AsyncPersister::~AsyncPersister() {
  const internal::ScopedNoCancellation no_cancellation;  // noexcept: nothing may unwind out of it
  // In a fork(2) child the queued operations are the parent's: dropped, not run (see ForkGeneration()).
  if (engine_ != nullptr && !engine_->Inherited()) {
    EndWithoutSyncSlot(*engine_);
    WaitAll().IgnoreError();
    engine_->RecordUnrecorded();  // nobody else could learn of it now
  }
}

absl::StatusOr<AsyncPersister> AsyncPersister::Create(const Map& map, const Source& source, AsyncOptions options) {
  const internal::ScopedNoCancellation no_cancellation;  // open(), close() (io_uring_queue_exit)
  if (options.queue_depth < 1 || options.queue_depth > uring_internal::kMaxQueueDepth) {
    return absl::InvalidArgumentError(internal::StrFormat("AsyncPersister: queue_depth %u is not in [1, %u]",
                                                          options.queue_depth, uring_internal::kMaxQueueDepth));
  }
  // pthread_atfork fails only without memory, when the library loaded.
  if (const int error = uring_internal::count_fork_registered; error != 0) {
    return MakeErrnoError(error,
                          "AsyncPersister: its fork handler could not be registered when the library "
                          "loaded, so an engine a forked child inherits could not refuse to run the parent's "
                          "operations");
  }
  if (absl::Status s = CheckNoIoUring(); !s.ok()) return s;
  uring_internal::Prebuilt();  // a failure of the engine's operations must not need memory to be reported
  auto engine = std::make_unique<Engine>();
  if (absl::Status s = engine->CheckMap(map); !s.ok()) return s;
  engine->granularity = map.store_granularity();
  engine->queue_depth = options.queue_depth;
  if (map.file_offset() != Map::kNoFileOffset) {
    absl::StatusOr<map_internal::FileIdentity> identity = map_internal::IdentifyFile(source);
    if (!identity.ok()) return identity.status();
    const std::vector<map_internal::MapExtent> owner = map_internal::MapsInRange(map.address(), 0);
    if (owner.empty() || !(owner.front().file == *identity)) {
      return absl::FailedPreconditionError(internal::StrFormat(
          "AsyncPersister: the source (descriptor %d) is not the file of the Map at %p", source.fd(), map.address()));
    }
    engine->file = *identity;
  }
  engine->maps.push_back(uring_internal::MapEntry::Of(map));
  engine->slots.resize(options.queue_depth);
  for (uring_internal::Slot& slot : engine->slots) {
    slot.next = engine->free_slots;
    engine->free_slots = &slot;
  }
  engine->batches.resize(options.queue_depth);
  for (uring_internal::Batch& batch : engine->batches) {
    batch.next_free = engine->free_batches;
    engine->free_batches = &batch;
  }
  if (map.file_offset() != Map::kNoFileOffset) {
    const int flags = fcntl(source.fd(), F_GETFL);
    engine->read_only = flags >= 0 && (flags & O_ACCMODE) == O_RDONLY;
  }
  if (map.store_granularity() != StoreGranularity::kPage) {
    engine->backend = AsyncBackend::kCpu;
    return AsyncPersister(std::move(engine));
  }
  // The question to the Map's description below syncs under a scope, which takes the thread's sync slot: refused here,
  // with nothing made, as the operations refuse, rather than std::bad_alloc out of the scope.
  if (!map_internal::HasSyncSlot()) return uring_internal::Prebuilt().no_sync_slot;
  // A descriptor of its own (see the top of this file), with the Source's access: a Source opened read-only
  // gives an engine that syncs but does not write.
  const internal::ProcFdPath reopen(source.fd());
  const char* const path = reopen.path;
  // An entry holding the Source's own number is stale (a kept descriptor is never the application's): its number was
  // closed by other code and opened again as the Source; forgotten, so that no engine's end closes it.
  uring_internal::ForgetParkedNumber(source.fd());
  engine->fd = uring_internal::TakeParkedDescription(engine->file, engine->read_only);
  if (engine->fd < 0) {
    engine->fd = open(path, (engine->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (engine->fd >= 0) uring_internal::ForgetParkedNumber(engine->fd);
  }
  if (engine->fd < 0 && !engine->read_only && (errno == EACCES || errno == EPERM)) {
    // A descriptor that writes, of a file this process may not open for writing again (created read-only, received
    // from another process, credentials changed): the syncs need no write access. An engine that syncs and refuses
    // Copy(), as for a read-only Source, rather than none.
    engine->read_only = engine->reopened_read_only = true;
    engine->fd = uring_internal::TakeParkedDescription(engine->file, true);
    if (engine->fd < 0) {
      engine->fd = open(path, O_RDONLY | O_CLOEXEC);
      if (engine->fd >= 0) uring_internal::ForgetParkedNumber(engine->fd);
    }
  }
  if (engine->fd < 0) {
    const int error = errno;  // before the message's formatting can change it
    return MakeErrnoError(error,
                          internal::StrFormat("AsyncPersister: reopening the Map's file (descriptor %d)", source.fd()));
  }
  // The reopen is of the calling thread's descriptor (ProcFdPath); checked all the same, as every later use of the
  // description is: another file's would take the engine's writes and syncs, and its successes would be reported for
  // this file's pages. Never kept for this file (not parked).
  if (!uring_internal::DescriptorIsTheFile(engine->fd, engine->file.device, engine->file.inode)) {
    close(engine->fd);
    engine->fd = -1;
    return MakeError(
        ErrorCode::kInvalidFileHandle,
        internal::StrFormat("AsyncPersister: descriptor %d, opened again, is no longer the Map's file", source.fd()));
  }
  // A write-back error some other description reported before now is not the engine's description's to report (the
  // kernel tells a description opened later only of errors nobody has seen): the ring's data syncs would then
  // complete OK over pages whose write-back failed, while Map::Persist() of the same range fails. The Map's
  // description holds the report until asked: asked once now, and recorded on the Map, so that the engine's first
  // operations fail as its Persist() does. One msync of one page per engine (and per AddMap()).
  uring_internal::TakeReportThroughTheMap(engine->maps.front());
  engine->backend = AsyncBackend::kSynchronous;
  // io_uring only where the ring can be told from another file at its descriptor number later (fstat).
  if (options.allow_io_uring && MakeRing(options.queue_depth, &engine->ring).available) {
    struct stat ring_stat;
    // The engine's descriptor registered with the ring (Engine::fd): its requests name the description, which
    // the ring holds, not a number other code may close and reuse.
    if (fstat(engine->ring.ring_fd, &ring_stat) == 0 && io_uring_register_files(&engine->ring, &engine->fd, 1) == 0) {
      engine->ring_ready = true;
      engine->ring_device = ring_stat.st_dev;
      engine->ring_inode = ring_stat.st_ino;
      engine->backend = AsyncBackend::kIoUring;
    } else {
      io_uring_queue_exit(&engine->ring);
    }
  }
  return AsyncPersister(std::move(engine));
}

absl::Status AsyncPersister::AddMap(const Map& map) {
  if (engine_ == nullptr) return absl::FailedPreconditionError("AsyncPersister: moved from");
  if (engine_->Inherited()) return InheritedAcrossFork();
  if (absl::Status s = engine_->CheckMap(map); !s.ok()) return s;
  if (map.store_granularity() != engine_->granularity) {
    return absl::InvalidArgumentError(
        internal::StrFormat("AsyncPersister: the Map at %p has %s granularity, the engine's Maps %s", map.address(),
                            StoreGranularityName(map.store_granularity()), StoreGranularityName(engine_->granularity)));
  }
  if (engine_->backend != AsyncBackend::kCpu) {
    const std::vector<map_internal::MapExtent> owner = map_internal::MapsInRange(map.address(), 0);
    if (owner.empty() || !(owner.front().file == engine_->file)) {
      return absl::FailedPreconditionError(
          internal::StrFormat("AsyncPersister: the Map at %p maps another file than the engine's", map.address()));
    }
  }
  if (WithoutSyncSlot(*engine_)) return uring_internal::Prebuilt().no_sync_slot;  // as Create(), before a change
  engine_->maps.push_back(uring_internal::MapEntry::Of(map));
  // As in Create(): a report the new Map's description holds from before, which the engine's description never gets.
  if (engine_->backend != AsyncBackend::kCpu) uring_internal::TakeReportThroughTheMap(engine_->maps.back());
  return absl::OkStatus();
}

AsyncBackend AsyncPersister::backend() const {
  return engine_ != nullptr ? engine_->backend : AsyncBackend::kSynchronous;
}

namespace {

absl::Status MovedFrom() { return absl::FailedPreconditionError("AsyncPersister: moved from"); }

absl::Status OutsideMaps(const char* what, const void* ptr, size_t size) {
  return MakeError(
      ErrorCode::kMapRange,
      internal::StrFormat("AsyncPersister::%s: [%p, +%u) is not inside one of the engine's Maps", what, ptr, size));
}

}  // namespace

// Whether a Copy of `size` bytes from `src` to `dest` would read a byte of `src` after writing it: where part of `src`
// is in one of the engine's Maps of the destination's file, at a lower position of the file than `dest` and less than
// `size` below it (for Maps of no known file position, anonymous or adopted: within the destination's Map, by
// address). pwrite(2) and io_uring's write copy front to back, as memcpy does.
bool CopyReadsWhatItWrote(const std::vector<uring_internal::MapEntry>& maps, const uring_internal::MapEntry& into,
                          uintptr_t dest, uintptr_t src, size_t size) {
  const bool by_file = into.file_offset != Map::kNoFileOffset && into.file.valid;
  const uint64_t dest_position = by_file ? into.file_offset + (dest - into.begin) : dest;
  for (const uring_internal::MapEntry& entry : maps) {
    const bool same = by_file ? entry.file_offset != Map::kNoFileOffset && entry.file == into.file : &entry == &into;
    if (!same) continue;
    const uintptr_t first = std::max<uintptr_t>(src, entry.begin);
    const uintptr_t last = std::min<uintptr_t>(src + size, entry.end);  // src + size: checked not to wrap
    if (first >= last) continue;
    // Byte i of src (k <= i < last - src) is at position at_first + (i - k); the write of byte j goes to
    // dest_position + j, over byte i = j + (dest_position + k - at_first) not read yet when that is above j.
    const uint64_t at_first = by_file ? entry.file_offset + (first - entry.begin) : first;
    const uint64_t k = first - src;
    if (at_first < dest_position + k && dest_position + k < at_first + (last - src)) return true;
  }
  return false;
}

absl::Status AsyncPersister::Persist(const void* ptr, size_t size, Completion* completion) {
  if (engine_ == nullptr) return MovedFrom();
  if (engine_->Inherited()) return InheritedAcrossFork();
  if (WithoutSyncSlot(*engine_)) return uring_internal::Prebuilt().no_sync_slot;
  const uring_internal::MapEntry* entry = engine_->FindMap(ptr, size);
  if (entry == nullptr) return OutsideMaps("Persist", ptr, size);
  if (engine_->backend == AsyncBackend::kCpu && entry->writes_back) {
    // As the Map's Status methods (its CPU write-back would fault), with the protection the Map was made with.
    if (absl::Status s = map_internal::CheckAccess(entry->protection, ptr, size, /*store=*/false); !s.ok()) return s;
  }
  return engine_->QueueRange(SlotKind::kPersist, *entry, static_cast<const char*>(ptr), nullptr, size, completion);
}

absl::Status AsyncPersister::Copy(void* dest, const void* src, size_t size, Completion* completion) {
  if (engine_ == nullptr) return MovedFrom();
  if (engine_->Inherited()) return InheritedAcrossFork();
  if (WithoutSyncSlot(*engine_)) return uring_internal::Prebuilt().no_sync_slot;
  const uring_internal::MapEntry* entry = engine_->FindMap(dest, size);
  if (entry == nullptr) return OutsideMaps("Copy", dest, size);
  if (size > 0 && src == nullptr) return absl::InvalidArgumentError("AsyncPersister::Copy: src is null");
  const auto source = reinterpret_cast<uintptr_t>(src);
  if (source + size < source) {
    return absl::InvalidArgumentError(
        internal::StrFormat("AsyncPersister::Copy: src %p + %u bytes wraps around the address space", src, size));
  }
  // As the Map's Status methods: the page backends' write would reach the file behind a Map made read-only, the CPU
  // backend's copy would fault.
  if (absl::Status s = map_internal::CheckAccess(entry->protection, dest, size, /*store=*/true); !s.ok()) return s;
  if (engine_->backend != AsyncBackend::kCpu && size > 0) {
    // A write that reaches RLIMIT_FSIZE sends SIGXFSZ, which ends the process, even inside the file's size; the
    // Map's stores are not limited. Refused here instead (EFBIG, as write(2) with SIGXFSZ ignored).
    struct rlimit limit {};
    const uint64_t end = entry->file_offset + (reinterpret_cast<uintptr_t>(dest) - entry->begin) + size;
    if (getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY && end > limit.rlim_cur) {
      return MakeErrnoError(EFBIG, internal::StrFormat("AsyncPersister::Copy: [%p, +%u) ends at file offset %u, past "
                                                       "this process's file size limit (RLIMIT_FSIZE) of %u bytes",
                                                       dest, size, end, static_cast<uint64_t>(limit.rlim_cur)));
    }
  }
  if (CopyReadsWhatItWrote(engine_->maps, *entry, reinterpret_cast<uintptr_t>(dest), source, size)) {
    return absl::InvalidArgumentError(internal::StrFormat(
        "AsyncPersister::Copy: the source [%p, +%u) overlaps the destination %p in the file, below it: the write would "
        "copy front to back over bytes not yet read (on every backend, for one behaviour); move them with "
        "Map::Memmove() and Persist() the range",
        src, size, dest));
  }
  if (engine_->read_only) {
    return MakeError(ErrorCode::kNoAccess,
                     engine_->reopened_read_only
                         ? "AsyncPersister::Copy: the engine could open the file again only for reading (the Source "
                           "writes, but this process may not open the file for writing): nothing can be written; "
                           "Persist() works"
                         : "AsyncPersister::Copy: the engine's Source was opened read-only: nothing can be written");
  }
  return engine_->QueueRange(SlotKind::kCopy, *entry, static_cast<const char*>(dest),
                             static_cast<const char*>(src), size, completion);
}

absl::Status AsyncPersister::Barrier(Completion* completion) {
  if (engine_ == nullptr) return MovedFrom();
  if (engine_->Inherited()) return InheritedAcrossFork();
  if (WithoutSyncSlot(*engine_)) return uring_internal::Prebuilt().no_sync_slot;
  absl::StatusOr<Slot*> slot = engine_->TakeSlot(completion);
  if (!slot.ok()) return slot.status();
  (*slot)->kind = SlotKind::kBarrier;
  if (engine_->backend == AsyncBackend::kCpu && engine_->pending_barrier == nullptr) {
    engine_->maps.front().drain();
  }
  engine_->Enqueue(*slot);
  if (engine_->queued == engine_->queue_depth) engine_->Issue();  // as a Persist or Copy that fills the queue
  return absl::OkStatus();
}

absl::Status AsyncPersister::Submit() {
  if (engine_ == nullptr) return MovedFrom();
  if (engine_->Inherited()) return InheritedAcrossFork();
  if (WithoutSyncSlot(*engine_)) return uring_internal::Prebuilt().no_sync_slot;
  engine_->Issue();
  return absl::OkStatus();
}

absl::Status AsyncPersister::Wait(Completion& completion) {
  if (engine_ == nullptr) return MovedFrom();
  if (engine_->Inherited()) return InheritedAcrossFork();
  if (WithoutSyncSlot(*engine_)) return uring_internal::Prebuilt().no_sync_slot;
  while (!completion.done()) {
    if (!completion.queued_ || engine_->queued == 0) {
      return absl::FailedPreconditionError("AsyncPersister::Wait: the Completion is not queued on this engine");
    }
    engine_->Pump(/*block=*/true);
  }
  return completion.status();
}

size_t AsyncPersister::Poll() {
  if (engine_ == nullptr || engine_->Inherited() || WithoutSyncSlot(*engine_)) return 0;
  engine_->completed_in_pump = 0;
  engine_->Pump(/*block=*/false);
  return engine_->completed_in_pump;
}

absl::Status AsyncPersister::WaitAll() {
  if (engine_ == nullptr) return MovedFrom();
  if (engine_->Inherited()) return InheritedAcrossFork();
  if (WithoutSyncSlot(*engine_)) return uring_internal::Prebuilt().no_sync_slot;
  while (engine_->queued > 0) engine_->Pump(/*block=*/true);
  return engine_->failure;
}

absl::Status AsyncPersister::Failure() const {
  if (engine_ == nullptr) return MovedFrom();
  return engine_->failure;
}

absl::Status AsyncPersister::ClearFailure() {
  if (engine_ == nullptr) return MovedFrom();
  engine_->blocked = false;
  engine_->unrecorded_errno = 0;
  return std::exchange(engine_->failure, absl::OkStatus());
}

size_t AsyncPersister::in_flight() const { return engine_ != nullptr ? engine_->queued : 0; }

namespace uring_internal {

void SetFaultInjectionForTest(AsyncPersister& engine, const FaultInjection* injection) {
  Engine::SetInjection(engine, injection);
}

int EngineDescriptorForTest(const AsyncPersister& engine) { return Engine::Descriptor(engine); }

}  // namespace uring_internal
}  // namespace pmem2
