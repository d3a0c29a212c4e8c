// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/fork_safe_mutex.h"

#include <pthread.h>
#include <signal.h>

namespace pmem2 {
namespace internal {

struct ForkSafeMutexRegistry {
  // Guards the list. Taken first by the prepare handler and released last, so that a mutex constructed while a
  // fork is under way (its thread waits here) is neither missed by the handlers nor taken by its thread before
  // the fork completes.
  static std::mutex& ListMutex() {
    static std::mutex* const mutex = new std::mutex;
    return *mutex;
  }
  static ForkSafeMutex*& Newest() {  // guarded by ListMutex()
    static ForkSafeMutex* newest = nullptr;
    return newest;
  }

  // The forking thread's signal mask before LockAll() blocked every signal; guarded by ListMutex().
  static sigset_t& SavedMask() {
    static sigset_t mask;
    return mask;
  }
  static bool& MaskSaved() {
    static bool saved = false;
    return saved;
  }

  // One at a time, newest first: nothing holds one while taking another (fork_safe_mutex.h). With every signal
  // blocked until UnlockAll(): a signal handler of the forking thread that takes one of these (a guarded copy in a
  // SIGUSR1 handler takes the SIGBUS guard's) would wait for a lock its own thread holds, for ever.
  static void LockAll() {
    ListMutex().lock();
    sigset_t all;
    sigfillset(&all);
    MaskSaved() = pthread_sigmask(SIG_BLOCK, &all, &SavedMask()) == 0;
    for (ForkSafeMutex* m = Newest(); m != nullptr; m = m->registered_before_) m->mutex_.lock();
  }
  // In the parent, and in the child, where the forking thread is the only one and owns every lock it took
  // (glibc's default mutex does not check the owner's thread id, which differs in the child).
  static void UnlockAll() {
    for (ForkSafeMutex* m = Newest(); m != nullptr; m = m->registered_before_) m->mutex_.unlock();
    if (MaskSaved()) pthread_sigmask(SIG_SETMASK, &SavedMask(), nullptr);
    MaskSaved() = false;
    ListMutex().unlock();
  }

  static void Add(ForkSafeMutex* mutex) {
    RegisterForkHandlersBeforeYours();
    std::lock_guard<std::mutex> lock(ListMutex());
    mutex->registered_before_ = Newest();
    Newest() = mutex;
  }
};

ForkSafeMutex::ForkSafeMutex() { ForkSafeMutexRegistry::Add(this); }

bool RegisterForkHandlersBeforeYours() {
  static const bool registered =
      pthread_atfork(&ForkSafeMutexRegistry::LockAll, &ForkSafeMutexRegistry::UnlockAll,
                     &ForkSafeMutexRegistry::UnlockAll) == 0;
  return registered;
}

namespace {

// When the library loads, before the application's main() and its own fork handlers.
const bool registered_at_load = RegisterForkHandlersBeforeYours();

}  // namespace

}  // namespace internal
}  // namespace pmem2
