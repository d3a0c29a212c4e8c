// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/fork_safe_mutex.h"

#include <unistd.h>

#include <atomic>
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

}  // namespace
}  // namespace internal
}  // namespace pmem2
