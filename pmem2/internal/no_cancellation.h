// Copyright 2026 The pmem2 Authors.
//
// pmem2/internal/no_cancellation.h (internal to pmem2)
// -----------------------------------------------------------------------------
//
// Keeps pthread cancellation out of pmem2's own calls: pmem2's functions are no cancellation points. A request
// pending when a thread enters one, or made while it runs, acts at the thread's next cancellation point after the
// function has returned, as for the page persists' msync (msync.h).
//
// Without this, a cancellation could act inside any of the library's calls that are cancellation points in glibc:
// open, close, read, pwrite, fallocate, sync_file_range, usleep, a condition variable's wait, stdio's writes. In
// C++ glibc acts on it by unwinding the thread (abi::__forced_unwind), so:
// - in a destructor (noexcept) it ends the process: std::terminate from ~Map's close() of its file's reopen
//   handle, of a thread whose request was merely pending (pmem2/cancellation_test.cc);
// - elsewhere it leaves whatever the call was in the middle of half done: a registry entry whose descriptor was
//   closed, an asynchronous request taken but never queued, a waiter count never taken back, a fork handler
//   unwinding out of fork() in the child;
// - and after the system call (glibc bug 12683) it drops the call's answer: a write-back error reported once.
// The price is the one msync.h names: a thread blocked inside pmem2 (an open or a sync on a hung network or FUSE
// file system) cannot be cancelled out of it, only interrupted. Callbacks pmem2 runs (the asynchronous persister's
// completions) run with cancellation disabled too. Asynchronous cancellation (PTHREAD_CANCEL_ASYNCHRONOUS) may stop
// a thread anywhere, before this takes effect; pmem2's functions are not async-cancel-safe, as POSIX allows.
//
// Set around every call that glibc or POSIX makes a cancellation point, on setup paths and next to system calls;
// the hot paths make none (the persists' msync is the system call itself). Costs two updates of the thread's
// cancellation state: nanoseconds, next to the system call it surrounds.

#ifndef PMEM2_INTERNAL_NO_CANCELLATION_H_
#define PMEM2_INTERNAL_NO_CANCELLATION_H_

#include <pthread.h>

namespace pmem2 {
namespace internal {

// While alive, the calling thread's cancellation is disabled; then it is as it was. Nests.
class ScopedNoCancellation {
 public:
  ScopedNoCancellation() { pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_state_); }
  ~ScopedNoCancellation() {
    int ignored;
    // Enabling again acts on nothing for deferred cancellation: a pending request waits for a cancellation point.
    pthread_setcancelstate(old_state_, &ignored);
  }
  ScopedNoCancellation(const ScopedNoCancellation&) = delete;
  ScopedNoCancellation& operator=(const ScopedNoCancellation&) = delete;

 private:
  int old_state_ = PTHREAD_CANCEL_ENABLE;
};

}  // namespace internal
}  // namespace pmem2

#endif  // PMEM2_INTERNAL_NO_CANCELLATION_H_
