// Copyright 2026 The pmem2 Authors.
//
// pmem2/internal/fork_safe_mutex.h (internal to pmem2)
// -----------------------------------------------------------------------------
//
// A mutex that fork() cannot leave locked in the child. fork() copies only the calling thread: a mutex that
// another thread held at that moment stays locked in the child for good, and the child's next call that takes it
// hangs. Children do call the library (a forking server's snapshot child persists, maps and unmaps), so every
// ForkSafeMutex is locked by a pthread_atfork() prepare handler just before the fork and unlocked in both
// processes just after it: the child starts with each of them free and what it guards consistent. The forking
// thread has its signals blocked meanwhile (delivered after; BlockSignals): a handler of its own that
// took one of these locks would wait for its own thread for ever.
//
// The handlers are registered when the library loads (a static initializer), so that an application's own
// handlers, registered later, run their prepare first and may still call pmem2 (glibc runs prepare handlers
// newest first, and the others oldest first). Later means from main() on, or after a dlopen() of libpmem2.so: a
// program linked statically (as Bazel links pmem2) runs its own objects' initializers before the library's, so a
// handler registered there, or before the dlopen(), runs inside pmem2's locks, and a call of pmem2 from it hangs.
//
// Rules, for whoever adds one:
// - Only for objects that live as long as the process (function-local statics, leaked singletons): a mutex
//   registers itself when constructed and is never unregistered.
// - Made when the library loads (a namespace-scope initializer that calls the accessor), not at first use: a
//   thread still constructing one at a fork waits for the fork inside the first-use guard of its static, which
//   the child then finds taken for good.
// - Nothing else may be locked while one is held: neither another ForkSafeMutex nor a lock that a fork handler
//   takes. The prepare handler takes every ForkSafeMutex one after another, in an order of its own, after the
//   locks of the handlers that call RegisterForkHandlersBeforeYours() (the map registry's). Allocating is fine:
//   glibc takes malloc's locks after every handler.
// - Short critical sections: a fork waits for every holder to let go.
// Not a ForkSafeMutex's job: a function-local static whose initialization another thread was running at the fork
// (the C++ runtime's guard stays taken, and the child waits for it forever). Values made at first use are
// ForkSafeLazy (fork_safe_lazy.h); other process-wide objects are made when the library loads.
// If pthread_atfork() fails (out of memory) the mutexes work as plain ones, without the fork guarantee.

#ifndef PMEM2_INTERNAL_FORK_SAFE_MUTEX_H_
#define PMEM2_INTERNAL_FORK_SAFE_MUTEX_H_

#include <mutex>

namespace pmem2 {
namespace internal {

// Meets the standard's Lockable requirements, so std::lock_guard<ForkSafeMutex> and std::unique_lock work.
class ForkSafeMutex {
 public:
  ForkSafeMutex();
  ForkSafeMutex(const ForkSafeMutex&) = delete;
  ForkSafeMutex& operator=(const ForkSafeMutex&) = delete;

  void lock() { mutex_.lock(); }
  bool try_lock() { return mutex_.try_lock(); }
  void unlock() { mutex_.unlock(); }

 private:
  friend struct ForkSafeMutexRegistry;

  // std::mutex (pthread's), not absl::Mutex: Debian's Abseil is not built for ThreadSanitizer.
  std::mutex mutex_;
  ForkSafeMutex* registered_before_ = nullptr;  // the list the fork handlers walk, newest first
};

// Registers the ForkSafeMutex fork handlers now if they are not yet (idempotent). A module that registers fork
// handlers of its own right after this call gets its prepare handler run before ForkSafeMutex's, and its parent
// and child handlers after, so that its locks are always taken first (the map registry's, whose readers and
// writers never take a ForkSafeMutex). Returns false if pthread_atfork() failed.
bool RegisterForkHandlersBeforeYours();

// For pmem2's code that holds a lock a signal handler of the same thread may take (the fork handlers: a prepare handler
// blocks, its parent and child handlers restore, a child-only handler does both; the SIGBUS guard's setup and end), so
// that no such handler runs meanwhile: one that took the same lock (a persist or a guarded copy in a SIGUSR1 handler)
// would wait for its own thread for ever. Nested, per thread: the first call saves the mask and blocks
// every signal (the faults too: they can be sent; but glibc's internal two, which it never lets a thread block), the
// last matching restore puts it back. Async-signal-safe.
void BlockSignals();
void RestoreSignals();
// The two for a scope.
class ScopedSignalsBlocked {
 public:
  ScopedSignalsBlocked() { BlockSignals(); }
  ~ScopedSignalsBlocked() { RestoreSignals(); }
  ScopedSignalsBlocked(const ScopedSignalsBlocked&) = delete;
  ScopedSignalsBlocked& operator=(const ScopedSignalsBlocked&) = delete;
};

}  // namespace internal
}  // namespace pmem2

#endif  // PMEM2_INTERNAL_FORK_SAFE_MUTEX_H_
