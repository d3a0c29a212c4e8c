// Copyright 2026 The pmem2 Authors.
//
// pmem2/uring/async_persister.h
// -----------------------------------------------------------------------------
//
// `pmem2::AsyncPersister` makes ranges of Maps durable asynchronously, in batches, with one code path for every
// medium. It is for code that persists many ranges before it needs any of them durable (a log appending
// records, a tree updating nodes) and then waits once, at a barrier, instead of once per range.
//
//   page granularity (a file in the page cache, e.g. ext4 on an SSD): persists are coalesced and handed to
//     the kernel as ranged data syncs (fdatasync of the file range behind the map range) through io_uring,
//     copies as a write to the file followed by a data sync of its range (issued once the write completed; no
//     linked requests, so no chain to break). A batch of adjacent records becomes one device flush instead of
//     one per record.
//   byte and cache-line granularity (persistent memory): the same calls complete at once, through the Map's
//     CPU functions (flush + fence), so an application writes its commit logic once for pmem and for SSDs.
//
// Where io_uring is unavailable (ENOSYS on an old kernel, EPERM under a seccomp filter, io_uring_disabled) the
// same API runs the syncs synchronously (msync of the ranges on the calling thread, as Map::Persist() does) when
// they are submitted; backend() says which, and `pmem2 info` prints it. PMEM2_NO_IO_URING=1 asks for the
// synchronous backend ("0" or empty: io_uring where there is one; another value fails Create(), kInvalidEnvironment;
// not read in a set-user-ID or set-group-ID program, secure_getenv(3)).
//
// Example, an append-only log whose tail is published only once its records are durable:
//
//   absl::StatusOr<pmem2::AsyncPersister> persister = pmem2::AsyncPersister::Create(map, source);
//   if (!persister.ok()) return persister.status();  // e.g. EMFILE reopening the file: never use it unchecked
//   for (const Record& r : batch) {
//     std::memcpy(log + tail, r.data(), r.size());        // or persister->Copy(log + tail, r.data(), r.size())
//     // No completion: its result reaches the barrier; an error here means it was not queued (kMapRange, ...).
//     if (absl::Status s = persister->Persist(log + tail, r.size()); !s.ok()) return s;
//     tail += r.size();
//   }
//   pmem2::Completion records_durable;
//   if (absl::Status s = persister->Barrier(&records_durable); !s.ok()) return s;
//   if (!persister->Wait(records_durable).ok()) return ...;  // nothing of the batch is known durable
//   __atomic_store_n(&header->tail, tail, __ATOMIC_RELEASE);  // one 8-byte store; then persist the tail
//
// Operations. Persist(), Copy() and Barrier() queue an operation and return at once (after back-pressure, below);
// the returned Status says only whether it was queued (kMapRange for a range outside the engine's maps; an engine
// moved from answers every call with kFailedPrecondition, Failure() and ClearFailure() too, but for backend(),
// in_flight() 0 and Poll() 0). Each operation's own result arrives in its Completion, if one was given: done() turns
// true and status() holds the result, and the callback, if set, runs. An operation without a Completion still
// has a result: a failure is kept as the engine's failure (Failure()), reported by the next barrier, and recorded
// in the sticky persistence error of the Maps of the file (Map::PersistError(), pmem2/map/map.h). No failure is
// ever dropped and none aborts the process.
//
// What a result means:
//   Persist: OK once the file range behind [ptr, ptr + size) (in whole pages) has been written back and the
//     device flushed (fdatasync semantics: the data and the metadata needed to read it back), no write-back
//     failure of the file is recorded in its Maps' sticky error, and none was recorded there since the Persist was
//     queued, also one acknowledged since (as Map::Persist(): the kernel reports a file's failure, not its pages, to
//     one sync, which may not be this one's); otherwise the failure (EIO as kDataLoss,
//     ENOSPC / EDQUOT as kResourceExhausted, as Map::Persist()). Persists queued together are coalesced: ranges
//     that overlap or touch become one, and a batch of separate ranges becomes one data sync of the span from
//     its first to its last byte; dirty pages between them are then written back too, which costs time but
//     never durability. Queued operations start at the next Submit(), Wait(), Poll() or WaitAll(), or when the
//     queue fills (Persist(), Copy() and Barrier() only queue); if writes of Copies are then in the kernel, the
//     sync waits for them (microseconds: they only fill the page cache) so that one sync covers them too.
//     Write-back of scattered ranges is started early: when a persist does not touch the run of pages that
//     the persists before it cover, that run's write-back is started at once (sync_file_range(2)
//     SYNC_FILE_RANGE_WRITE, which neither waits nor takes error reports), so the device works while the
//     application goes on storing; the data sync at the end decides the result, except that a failure to start
//     the write-back (other than a refused call, ENOMEM, EINTR, EAGAIN or a descriptor other code closed) fails the
//     persists of that sync with it, recorded on the Maps: a file system may drop pages it failed to write back
//     and give the error to that call alone (ext4's delayed allocation), so the data sync could find nothing left
//     to report.
//   Copy: `size` bytes from `src` are written to the file at the position of `dest` (so the Map shows them, the page
//     cache being shared) and that range synced; OK means durable, on the same terms as a Persist's (no failure of the
//     file recorded, nor one recorded since the Copy was queued). `src` must stay valid and unchanged until the Copy
//     completes (a `src` in a range of the engine's Maps that an earlier queued Copy writes is changed by it, at a time
//     of the kernel's choosing: copy from that Copy's own source, or Wait() for it first). A short write continues
//     where it stopped; an interrupted one is retried. Copies whose ranges overlap reach the file in the order they
//     were queued, as pwrite(2)s one after the other would (the kernel runs the writes of one submission in no set
//     order, so a Copy that overlaps the write of an earlier one still in the kernel starts once that write has
//     completed, at the engine call that reaps it, and so do the Copies queued after it).
//   Barrier: completes only after every operation queued before it has completed. OK means: every one of them
//     succeeded and so is durable (except operations aborted before a ClearFailure() that came before the
//     barrier was queued: the application acknowledged them, and writes them again), no operation of this
//     engine has failed since Create() or the last ClearFailure(), and the Maps report no sticky error (but for a
//     Map dropped as stale, Map::PersistError() ESTALE for good: that fails its own operations, and so a barrier
//     after any of them, not those of the engine's other Maps, whose file is fine).
//     Operations queued after a barrier do not start before it completes, and if it fails they do not start at
//     all: they complete with kAborted, whose message carries the barrier's error. So a Copy queued after a
//     barrier (of a log's tail, say) never reaches the file unless everything before the barrier is durable. Not
//     so a store through the mapping, which the Persist behind the barrier only syncs: the kernel may write its
//     page back (or, on persistent memory, the CPU evict its line) at any time. Store what depends on the earlier
//     records only once Wait() on the barrier returned OK, or write it with Copy().
//   After a failure: operations already queued and not behind a barrier still run and report their own
//     results; the next barrier fails; from then on every operation, new or held, completes with kAborted until
//     the application acknowledges with ClearFailure() (and Map::ClearPersistError() for the Maps' sticky
//     error, which the barrier also reports). Whatever was written since the last successful barrier may be
//     lost, whichever range failed: write it again, then persist.
//   A failed system call is retried only for EINTR and ECANCELED, and a write also for EAGAIN (at most 16 times, as
//   Map::Persist(); a sync's retry first asks the Maps' descriptions for a report the answer may have taken); a short
//   write continues. Every other result of a completion is a failure of the operation (a sync's EAGAIN too: a FUSE
//   server's answer, or a stored write-back report with that errno); io_uring's own
//   errors (submitting, waiting) make the engine redo the work synchronously (below: "If the ring fails").
//
// Completions. Wait(c) runs the engine until `c` is done and returns its status; Poll() reaps what has completed
// without blocking; WaitAll() runs until nothing is queued. Callbacks run on the thread that is inside one of the
// engine's calls (Persist, Copy, Barrier, Submit, Wait, Poll, WaitAll, the destructor), one at a time, after the
// Completion is done, with the thread's cancellation disabled (no pmem2 function is a cancellation point; a request
// acts after the engine's call returns); a callback must not call into the same engine, and must not throw: an
// exception from it ends the process (std::terminate), as the engine is in the middle of its bookkeeping. A Completion
// must stay in place, alive and unused by any other operation until it is done (a done Completion may be used again),
// and one that Wait() is given, until Wait() returns: its callback must not destroy it then.
//
// Back-pressure: at most `queue_depth` operations are queued at once (waiting in the engine, held behind a barrier, or
// in the kernel). When the queue is full, a new operation first submits the queued persists and waits for completions
// until a slot is free. Operations live in slots allocated by Create(): queueing, submitting and completing an
// operation allocates nothing, on either backend (the ring is also made once, by Create()); only failures allocate, for
// their messages. A failure is recorded on the Maps before its message is made; if memory for the message runs out the
// operation completes with a prebuilt Status (kDataLoss for EIO, kResourceExhausted for ENOSPC and EDQUOT, kUnknown
// for other errors, kAborted behind a failed barrier), and nothing throws. A thread's first call that may sync takes
// the thread's sync slot (pmem2/map/map_registry.h), which allocates once more than 128 live threads have synced
// pages: without memory for it, Persist, Copy, Barrier, Submit, Wait, WaitAll, AddMap and Create() (page granularity)
// return ENOMEM (kErrno) and Poll() 0, having changed nothing; call again (the CPU backend syncs no pages, and needs
// none). Not covered: the destructor or
// a move-assignment on such a thread with operations queued, which can neither run them nor drop them silently: a
// line on stderr, then std::terminate. Completing a persist or barrier reads each
// Map's sticky error, which takes the Map registry's shared lock (and may wait) while other threads sync pages
// (pmem2/map/map_registry.h); so does queueing the first operation after a persistence failure anywhere in the
// process (once per Map of the engine: each operation's mark, see Persist and Copy above).
//
// Thread safety: an engine belongs to one thread at a time (externally synchronised, like a std::vector). It may
// move to another thread, also while requests it submitted are in the ring: those a kernel cancels when their thread
// exits (ECANCELED; Linux 6.18 lets a regular file's writes and syncs run to completion instead) the engine runs
// again. Use an engine per thread; several engines may serve the same Maps and file (a failure one of them sees
// reaches the others through the Maps' sticky error). Each engine's own file description keeps the kernel's report of
// a failure another engine or a Map took, and its next sync hands it out, also after the application acknowledged the
// failure: a failure reported again, never one dropped (the report is that engine's only proof for its own
// operations still in flight, so it is not taken away from it).
// The destructor, and a move-assignment onto an engine, wait for every operation queued on the engine being
// replaced (running their callbacks) first. A failure of that engine that no Map holds (a lost descriptor's EBADF,
// below; a Copy's unreadable source, EFAULT) and that ClearFailure() has not acknowledged is then recorded on the
// Maps (Map::PersistError()), since nothing else could report it any more (not where its Map was destroyed first).
//
// If the ring fails while in use (its descriptor closed by other code, the kernel refusing it), the engine waits for
// what the kernel had taken from the ring (a write may still be reading a Copy's source), runs what the ring held
// again, synchronously, and is synchronous from then on: backend() changes to kSynchronous. (That wait has no time
// limit, as the redo's own system calls have none: a write stuck in the kernel, on a hung network or FUSE file system
// say, holds it up.) Nothing is lost and nothing hangs on the ring: a descriptor number that other code closed and that
// now belongs to another io_uring is found at the next submission (that ring does not take this engine's entries), or,
// during a wait, by the descriptor's identity (checked every 200 ms on kernels with IORING_FEAT_EXT_ARG, 5.11 on; an
// identity check cannot tell the ring from another anonymous-inode file, such as another io_uring or an eventfd, on
// kernels that give them all the same inode). On kernels before 5.11 a wait has no time limit: there a Wait() or
// WaitAll() with nothing left to submit, on a ring whose number other code closed and gave to another io_uring, waits
// for ever (only a submission finds it). The ring's descriptor is closed by the destructor only while it is still the
// ring.
//
// The engine's own descriptor of the file (Create()) may be closed by other code too, and its number go to any file
// the process opens. The ring's requests never use the number: the descriptor is registered with the ring, which
// holds its file description. The system calls made without the ring (the synchronous backend, and a waiting
// caller's writes and syncs) check first that the number is still the file. If it is not, a waiting caller's write or
// sync goes through the ring instead (while there is one, and it has room: one it cannot take fails); on the
// synchronous backend, or with the ring gone, they fail, and so does everything after them that needs the descriptor
// (kErrno / EBADF naming it; not recorded on the Maps, whose file is fine, unless the engine ends with it
// unacknowledged: above; make a new engine), and the destructor leaves the number alone. Not covered: a close and
// reopen of that number by another thread between the check and the system call, and a reopen of the same file at that
// number (the same identity: that description then takes the engine's writes and write-back reports).
//
// fork(2): an engine belongs to the process that made it. In a child, its copy shares the parent's ring and holds the
// parent's queued operations (with the parent's buffers as they were), so it runs nothing: Persist, Copy, Barrier,
// Submit, Wait, WaitAll and AddMap fail with kFailedPrecondition, Poll() returns 0 (the queries, Failure(),
// ClearFailure(), backend() and in_flight(), answer from the copy), and its destructor drops what it holds without
// running or reaping anything. Make a new engine in the child. (Detected with pthread_atfork(); a raw clone(2) that
// skips the handlers is not.)
//
// Not covered: page-granularity Maps adopted with Map::FromExisting() (pmem2 cannot know their file offset) and
// anonymous or private Maps of page granularity (there is no file to sync) are refused by Create() and AddMap().
// Adopted Maps of byte or cache-line granularity are served (the CPU path works by address); a cache-line
// adoption on a CPU without a cache-line write-back is page granularity (map.h, FromExisting) and so refused.

#ifndef PMEM2_URING_ASYNC_PERSISTER_H_
#define PMEM2_URING_ASYNC_PERSISTER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/map/map.h"
#include "pmem2/source/source.h"

namespace pmem2 {

class AsyncPersister;
namespace uring_internal {
struct Engine;
struct Slot;
}  // namespace uring_internal

// The caller-owned record of one operation's result. See "Completions" above.
class Completion {
 public:
  using Callback = void (*)(Completion& completion);

  Completion() = default;
  explicit Completion(Callback on_done, void* data = nullptr) : callback(on_done), user_data(data) {}
  Completion(const Completion&) = delete;
  Completion& operator=(const Completion&) = delete;

  // True once the operation has completed; status() is its result from then on.
  bool done() const { return done_; }
  const absl::Status& status() const { return status_; }

  // Run once the operation completes, on the thread inside the engine (see above). Optional.
  Callback callback = nullptr;
  void* user_data = nullptr;

 private:
  friend struct uring_internal::Engine;
  friend class AsyncPersister;
  bool done_ = false;
  bool queued_ = false;
  absl::Status status_;
};

// Which mechanism makes page-granularity persists durable.
enum class AsyncBackend {
  kIoUring,      // ranged data syncs and writes through an io_uring of the engine's own
  kSynchronous,  // the same syncs and writes as system calls on the calling thread, when submitted
  kCpu,          // byte or cache-line granularity: the Map's CPU functions; completes at once, with the Map's sticky
                 // error (a read of the registry: a shared lock, and a wait for a sync of the file then in flight)
};
const char* AsyncBackendName(AsyncBackend backend);

struct AsyncOptions {
  // Operations queued at most (1 to 4096); also the io_uring's size. When the queue fills, what it holds starts
  // in the background (as Submit()): the default leaves room for a few hundred records and their barrier.
  unsigned queue_depth = 256;
  // False: never use io_uring (the synchronous backend, as where io_uring is unavailable).
  bool allow_io_uring = true;
};

// Whether this process can use io_uring for AsyncPersister now, and if not, why (e.g. "io_uring_setup:
// Operation not permitted"). Makes (and closes) a small ring each call, as Create() does; printed by `pmem2 info`.
struct IoUringSupport {
  bool available = false;
  // "io_uring (ranged IORING_OP_FSYNC with IORING_FSYNC_DATASYNC, IORING_OP_WRITE)", or the reason it is not used
  std::string detail;
};
IoUringSupport ProbeIoUring();

class AsyncPersister {
 public:
  // An engine for `map`, whose file `source` is (the Source the Map was made from; the engine opens the file again, so
  // that it has a descriptor of its own and its data syncs receive every write-back error of the file from now on;
  // `source`'s descriptor may be closed afterwards). A report the Map's own file description holds from before (an
  // error another description, e.g. the application's fsync, has seen, which the kernel never gives a description
  // opened later) is taken now with one msync of the Map's first page and recorded on the Map: the engine's operations
  // then fail until it is acknowledged, as Map::Persist() would. The Map's mapping must outlive the engine; the Map
  // object may move (the engine keeps copies of its address range, file range and functions, and reads its sticky error
  // by address, never through the object). Closing any descriptor of a file releases the process's fcntl(2) record
  // locks on it (F_SETLK, lockf), so the engine's end closes its descriptor only when the kernel shows no such lock of
  // the process on the file (F_OFD_GETLK); otherwise the descriptor stays open for the next engine of the file in this
  // process (not a forked child's), and a later engine's end closes it once the lock is gone. A lock another thread
  // takes while an engine ends may still be released; at most 64 descriptors are kept, more stay open until the process
  // ends. A forked child starts with none kept (the parent's copies stay open, close-on-exec). A kept descriptor is
  // checked by its file and access mode only: if other code closes its number and the process opens the same file again
  // at that number (not through an engine, which forgets the entry, nor as the engine's Source), a later engine's end
  // may take that descriptor for the kept one and close it (not covered).
  // Errors: kInvalidArgument (queue_depth out of range; a page-granularity Map adopted with FromExisting(), or
  // anonymous or private, naming it), kFailedPrecondition (`source` is not the Map's file), kErrno (reopening
  // the file; ESTALE: the Map was dropped as stale, map.h; ENOMEM: page granularity on a thread without a sync slot
  // and no memory to make one, nothing made), kInvalidEnvironment (PMEM2_NO_IO_URING set and neither
  // empty, 0 nor 1). io_uring's unavailability is not an error: backend() is then kSynchronous. A Source opened
  // read-only, or of a file this process may not open again for writing (EACCES, EPERM: created read-only, received
  // from another process, credentials changed), gives an engine that persists but refuses Copy() (kNoAccess).
  static absl::StatusOr<AsyncPersister> Create(const Map& map, const Source& source, AsyncOptions options = {});

  // Adds another Map (of the same file at page granularity: kFailedPrecondition otherwise; kInvalidArgument,
  // ESTALE and ENOMEM as Create() does, or kInvalidArgument if its granularity differs from the first Map's). As for
  // Create(), the Map may move, its mapping must outlive the engine; a report its description holds is taken as
  // Create() does.
  absl::Status AddMap(const Map& map);

  AsyncPersister(AsyncPersister&& other) noexcept;
  AsyncPersister& operator=(AsyncPersister&& other) noexcept;
  AsyncPersister(const AsyncPersister&) = delete;
  AsyncPersister& operator=(const AsyncPersister&) = delete;
  ~AsyncPersister();

  AsyncBackend backend() const;

  // Queue operations; see "What a result means". `completion` may be null. A size of 0 does nothing: it is OK
  // once started, which may be before earlier operations complete (a barrier waits for them), and kAborted
  // behind a failed barrier, as any operation. The range must lie inside
  // one of the engine's Maps (kMapRange). Refused before anything is queued, on every backend:
  //   - kNoAccess: a Copy into a Map made without kProtWrite, or a Persist on the CPU backend of a Map whose persist
  //     writes cache lines back (Map::writes_back_cache_lines()) made with neither kProtRead nor kProtWrite, whose
  //     range mprotect(2) has not opened since (as the Map's own Status methods refuse them); a Copy with a Source
  //     opened read-only.
  //   - kInvalidArgument: a Copy without `src`, whose `src` range wraps around, or whose `src`, through one of the
  //     engine's Maps, overlaps the destination in the file at a lower position (for Maps whose file position pmem2
  //     does not know, anonymous or adopted ones: within the destination's Map, by address): the write would copy
  //     front to back over bytes not yet read. Use Map::Memmove() and Persist() for such a move. A `src` in memory
  //     the engine does not serve (another Map of the file, a mapping of your own) is not checked: such a Copy
  //     corrupts the destination as a pwrite(2) from it would.
  //   - kErrno / EFBIG: a Copy (other than the CPU backend's) ending past the process's RLIMIT_FSIZE, where the
  //     write would end the process with SIGXFSZ.
  // A Copy whose `src` turns out not to be readable memory completes (and fails the engine) with kErrno / EFAULT
  // naming it; being the caller's mistake, not a failed write-back, it is not recorded on the Maps (unless the engine
  // ends with it unacknowledged: see the destructor above). On the CPU
  // backend the copy is the Map's memcpy function, which faults on such a `src` as memcpy(3) does.
  absl::Status Persist(const void* ptr, size_t size, Completion* completion = nullptr);
  absl::Status Copy(void* dest, const void* src, size_t size, Completion* completion = nullptr);
  absl::Status Barrier(Completion* completion = nullptr);

  // Starts the queued operations (persists coalesced) and returns: with io_uring they run in the kernel while
  // the caller goes on (except a Copy that overlaps the write of an earlier one still in the kernel, and the Copies
  // queued after it: they start at the next Poll(), Wait() or WaitAll(), or when the queue fills, once that write
  // has completed); with the synchronous backend they run now, on this thread. Wait() and WaitAll() start
  // them too, and with nothing else in the ring run them as system calls on the calling thread (io_uring hands
  // every data sync to a worker thread, whose wake-ups only add latency when the caller waits anyway).
  absl::Status Submit();
  // Runs the engine until `completion` is done; returns its status. kFailedPrecondition if `completion` is not
  // done and not queued on this engine (for a Completion queued on another engine, only once this engine has
  // nothing left to run).
  absl::Status Wait(Completion& completion);
  // Reaps the operations that have completed and starts what they made runnable, without waiting for the
  // kernel; returns how many completed. Starting may still take time: with the synchronous backend the queued
  // syncs run here, and a full ring first reaps to make room.
  size_t Poll();
  // Runs the engine until no operation is queued; returns Failure().
  absl::Status WaitAll();

  // The first failure of an operation of this engine since Create() or the last ClearFailure(); OK if none.
  absl::Status Failure() const;
  // Acknowledges it (and lets operations run again after a failed barrier); returns it.
  absl::Status ClearFailure();

  // Operations queued and not yet completed.
  size_t in_flight() const;

 private:
  friend struct uring_internal::Engine;
  explicit AsyncPersister(std::unique_ptr<uring_internal::Engine> engine);
  std::unique_ptr<uring_internal::Engine> engine_;
};

}  // namespace pmem2

#endif  // PMEM2_URING_ASYNC_PERSISTER_H_
