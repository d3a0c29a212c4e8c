// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/fork_safe_mutex.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <chrono>
#include <mutex>
#include <thread>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"

namespace pmem2 {
namespace internal {
namespace {

// Another thread takes `mutex`, says so, and keeps it for `hold` before letting go. The test forks while it
// holds it. The child only locks and unlocks (nothing that allocates), so it may run in a multithreaded parent.
// The holder lives on until the child has ended: one that ended before the fork completed would be a thread
// the child's ThreadSanitizer reports as leaked.
template <typename Mutex>
testing::ChildResult ForkWhileAnotherThreadHolds(Mutex& mutex, std::chrono::milliseconds hold,
                                                 absl::Duration child_timeout) {
  std::atomic<bool> holding{false};
  std::atomic<bool> child_ended{false};
  std::thread holder([&] {
    {
      std::lock_guard<Mutex> lock(mutex);
      holding = true;
      std::this_thread::sleep_for(hold);
    }
    while (!child_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!holding) std::this_thread::yield();
  testing::ChildOptions options;
  options.timeout = child_timeout;
  testing::ChildResult child = testing::RunInChild(
      [&](int) {
        mutex.lock();
        mutex.unlock();
        return 0;
      },
      options);
  child_ended = true;
  holder.join();
  return child;
}

// The hazard itself, so that the test below is known to reach it: a plain mutex held by another thread at the
// fork stays locked in the child, whose lock then never returns.
TEST(ForkSafeMutexTest, APlainMutexHeldByAnotherThreadAtForkHangsTheChild) {
  static std::mutex plain;
  const testing::ChildResult child =
      ForkWhileAnotherThreadHolds(plain, std::chrono::milliseconds(3000), absl::Milliseconds(500));
  EXPECT_TRUE(child.timed_out) << child.Describe();
}

// The fork waits for the holder to let go, and the child gets the mutex free. (Measured once with the handlers
// registered as nothing: the child timed out after 20 s.)
TEST(ForkSafeMutexTest, AMutexHeldByAnotherThreadAtForkIsFreeInTheChild) {
  static ForkSafeMutex* const guarded = new ForkSafeMutex;
  const testing::ChildResult child =
      ForkWhileAnotherThreadHolds(*guarded, std::chrono::milliseconds(200), absl::Seconds(20));
  EXPECT_FALSE(child.timed_out) << child.Describe();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  // And the parent's is free again after the fork.
  ASSERT_TRUE(guarded->try_lock());
  guarded->unlock();
}

// Every registered mutex, not only the newest (the list's walk). Not tested: a mutex constructed while a fork is
// under way (the list lock orders it before or after the fork; no test can make the two meet reliably).
TEST(ForkSafeMutexTest, EveryRegisteredMutexIsFreeInTheChild) {
  static ForkSafeMutex* const first = new ForkSafeMutex;
  static ForkSafeMutex* const second = new ForkSafeMutex;
  static ForkSafeMutex* const third = new ForkSafeMutex;
  for (ForkSafeMutex* held : {first, second, third}) {
    const testing::ChildResult child =
        ForkWhileAnotherThreadHolds(*held, std::chrono::milliseconds(100), absl::Seconds(20));
    EXPECT_FALSE(child.timed_out) << child.Describe();
    EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  }
  // A fork with none held, and the child takes each of the three (one at a time, as the rules say).
  const testing::ChildResult child = testing::RunInChild([](int) {
    for (ForkSafeMutex* m : {first, second, third}) {
      m->lock();
      m->unlock();
    }
    return 0;
  });
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  for (ForkSafeMutex* m : {first, second, third}) {
    ASSERT_TRUE(m->try_lock());
    m->unlock();
  }
}

// Many forks while threads take and release the mutexes all the time: no child hangs, none of the parent's
// mutexes is left locked, and the threads go on.
TEST(ForkSafeMutexTest, ForksAmidBusyThreadsNeverHangAChild) {
  static ForkSafeMutex* const busy = new ForkSafeMutex;
  static ForkSafeMutex* const other = new ForkSafeMutex;
  std::atomic<bool> stop{false};
  std::atomic<long> rounds{0};
  auto work = [&](ForkSafeMutex* m) {
    while (!stop) {
      std::lock_guard<ForkSafeMutex> lock(*m);
      rounds.fetch_add(1, std::memory_order_relaxed);
    }
  };
  std::thread a(work, busy);
  std::thread b(work, other);
  int finished = 0;
  for (int i = 0; i < 40; ++i) {
    testing::ChildOptions options;
    options.timeout = absl::Seconds(20);
    const testing::ChildResult child = testing::RunInChild(
        [](int) {
          for (ForkSafeMutex* m : {busy, other}) {
            m->lock();
            m->unlock();
          }
          return 0;
        },
        options);
    EXPECT_TRUE(child.exited && child.exit_code == 0) << "fork " << i << ": " << child.Describe();
    finished += child.exited && child.exit_code == 0;
  }
  // Until either thread takes its mutex again (10 s at most: on a loaded machine both may be off the CPU for a while).
  const long before = rounds.load();
  for (int i = 0; i < 1000 && rounds.load() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  stop = true;
  a.join();
  b.join();
  EXPECT_EQ(finished, 40);
  EXPECT_GT(rounds.load(), before) << "the parent's threads went on after the forks";
}

// The kernel's mask of the calling thread, all 64 bits (glibc's sigprocmask would hide its own two signals).
uint64_t KernelMask() {
  uint64_t mask = 0;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, nullptr, &mask, sizeof mask);
  return mask;
}

constexpr uint64_t Bit(int signal_number) { return uint64_t{1} << (signal_number - 1); }

// A mask with SIGUSR2 blocked and SIGUSR1 open, put back as it was when the test ends.
class SignalMaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &set, &saved_), 0);
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    ASSERT_EQ(pthread_sigmask(SIG_UNBLOCK, &set, nullptr), 0);
    before_ = KernelMask();
    ASSERT_NE(before_ & Bit(SIGUSR2), 0u);
    ASSERT_EQ(before_ & Bit(SIGUSR1), 0u);
  }
  void TearDown() override { pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

  sigset_t saved_;
  uint64_t before_ = 0;
};

// Every signal but glibc's two internal ones (32: cancellation, 33: set*id, which glibc never lets a thread block:
// set*id in another thread would wait for this one), and only the last of nested restores puts the mask back.
TEST_F(SignalMaskTest, BlocksEverySignalButGlibcsOwnNestedAndRestoresTheMaskItFound) {
  const uint64_t all_but_glibcs = ~uint64_t{0} & ~Bit(32) & ~Bit(33);
  BlockSignals();
  EXPECT_EQ(KernelMask() & all_but_glibcs & ~Bit(SIGKILL) & ~Bit(SIGSTOP),
            all_but_glibcs & ~Bit(SIGKILL) & ~Bit(SIGSTOP));
  EXPECT_EQ(KernelMask() & (Bit(32) | Bit(33)), 0u);
  BlockSignals();
  RestoreSignals();
  EXPECT_NE(KernelMask() & Bit(SIGUSR1), 0u) << "an inner restore opened the mask";
  RestoreSignals();
  EXPECT_EQ(KernelMask(), before_);
  RestoreSignals();  // unmatched: does nothing
  EXPECT_EQ(KernelMask(), before_);
  {
    ScopedSignalsBlocked blocked;
    EXPECT_NE(KernelMask() & Bit(SIGUSR1), 0u);
  }
  EXPECT_EQ(KernelMask(), before_);
}

std::atomic<int> usr1_handled{0};
void CountUsr1(int) { usr1_handled.fetch_add(1); }

// A signal sent to the thread inside the scope waits for its end, and is then handled.
TEST_F(SignalMaskTest, ASignalSentInsideTheScopeIsHandledAtItsEnd) {
  struct sigaction action {
  }, old{};
  action.sa_handler = &CountUsr1;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &action, &old), 0);
  usr1_handled = 0;
  {
    ScopedSignalsBlocked blocked;
    ASSERT_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    EXPECT_EQ(usr1_handled.load(), 0);
  }
  EXPECT_EQ(usr1_handled.load(), 1);
  sigaction(SIGUSR1, &old, nullptr);
}

// fork() blocks signals from the prepare handlers to the parent's and the child's (ForkSafeMutex's handlers): each
// then has the mask the forking thread had.
TEST_F(SignalMaskTest, AForkLeavesTheMaskAsItWasInParentAndChild) {
  static ForkSafeMutex* const registered = new ForkSafeMutex;  // so that the handlers have a mutex to take
  (void)registered;
  const uint64_t before = before_;
  const testing::ChildResult child = testing::RunInChild([before](int) { return KernelMask() == before ? 0 : 1; });
  EXPECT_TRUE(child.exited && child.exit_code == 0) << "the child's mask differs: " << child.Describe();
  EXPECT_EQ(KernelMask(), before_);
}

// glibc's set*id signal stays open while a thread has every other one blocked: setuid() (to the same user) in
// another thread returns, where it would wait for this one for ever.
TEST_F(SignalMaskTest, SetuidInAnotherThreadReturnsWhileSignalsAreBlocked) {
  std::atomic<bool> blocked{false}, done{false};
  std::thread holder([&] {
    ScopedSignalsBlocked scope;
    blocked = true;
    while (!done) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!blocked) std::this_thread::yield();
  // To the process's own user: nothing changes, but glibc still has every thread make the call (signal 33).
  EXPECT_EQ(setuid(getuid()), 0) << strerror(errno);
  done = true;
  holder.join();
}

}  // namespace
}  // namespace internal
}  // namespace pmem2
