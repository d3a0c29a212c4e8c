// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/fork_safe_mutex.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace pmem2 {
namespace internal {
namespace {
// glibc's internal signals (nptl: SIGCANCEL = SIGRTMIN, SIGSETXID = SIGRTMIN + 1 of the kernel's, 32 and 33).
constexpr int kGlibcCancelSignal = 32;
constexpr int kGlibcSetxidSignal = 33;
}  // namespace

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

  // One at a time, newest first: nothing holds one while taking another (fork_safe_mutex.h). Signals blocked until
  // UnlockAll() (BlockSignals).
  static void LockAll() {
    BlockSignals();
    ListMutex().lock();
    for (ForkSafeMutex* m = Newest(); m != nullptr; m = m->registered_before_) m->mutex_.lock();
  }
  // In the parent, and in the child, where the forking thread is the only one and owns every lock it took
  // (glibc's default mutex does not check the owner's thread id, which differs in the child).
  static void UnlockAll() {
    for (ForkSafeMutex* m = Newest(); m != nullptr; m = m->registered_before_) m->mutex_.unlock();
    ListMutex().unlock();
    RestoreSignals();
  }

  static void Add(ForkSafeMutex* mutex) {
    RegisterForkHandlersBeforeYours();
    std::lock_guard<std::mutex> lock(ListMutex());
    mutex->registered_before_ = Newest();
    Newest() = mutex;
  }
};

ForkSafeMutex::ForkSafeMutex() { ForkSafeMutexRegistry::Add(this); }

// Per thread, so that forks in several threads at once keep their own masks. Initial-exec, as the engine's other
// thread-locals (pmem2/c/so_symbols_test.sh names each): no allocation on first use in a dlopen'ed library. The
// kernel's 64-bit mask, not glibc's 128-byte sigset_t: a dlopen'ed libpmem2.so.1 takes its thread-locals from
// glibc's small static TLS reserve.
__thread int fork_handler_signal_depth __attribute__((tls_model("initial-exec")));
__thread uint64_t fork_handler_saved_mask __attribute__((tls_model("initial-exec")));

void BlockSignals() {
  if (fork_handler_signal_depth > 0) {
    ++fork_handler_signal_depth;
    return;
  }
  // Every signal, the faults too (they can be sent, and BUS_MCEERR_AO comes asynchronously; a real fault while
  // blocked takes the default action), but glibc's own two (cancellation and set*id), which glibc never lets a
  // thread block: set*id in another thread would wait for this one.
  uint64_t all = ~uint64_t{0};
  all &= ~(uint64_t{1} << (kGlibcCancelSignal - 1)) & ~(uint64_t{1} << (kGlibcSetxidSignal - 1));
  // Blocked before the depth says so: a handler that runs before the system call sees depth 0 and blocks and
  // restores for itself (counted first, it blocked nothing, and one that jumped out left the count at 1 for good).
  uint64_t saved = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &saved, sizeof all);
  fork_handler_saved_mask = saved;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  fork_handler_signal_depth = 1;
}

void RestoreSignals() {
  if (fork_handler_signal_depth <= 0 || --fork_handler_signal_depth > 0) return;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &fork_handler_saved_mask, nullptr, sizeof fork_handler_saved_mask);
}

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
