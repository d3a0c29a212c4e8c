// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/fork_safe_lazy.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"

namespace pmem2 {
namespace internal {
namespace {

// Another thread starts making a value with `get` and stays inside the maker (`inside` says when) until the
// child has ended; the test forks meanwhile and the child calls `get` too. The child may allocate: glibc's malloc
// is ready for that after fork(), also in a multithreaded parent.
template <typename Get>
testing::ChildResult ForkWhileAnotherThreadMakes(Get get, std::atomic<bool>& inside, std::atomic<bool>& let_go,
                                                 absl::Duration child_timeout) {
  std::thread maker([&] { get(); });
  while (!inside) std::this_thread::yield();
  testing::ChildOptions options;
  options.timeout = child_timeout;
  testing::ChildResult child = testing::RunInChild([&](int) { return get() == 2 ? 0 : 1; }, options);
  let_go = true;
  maker.join();
  return child;
}

// The hazard itself, so that the test below is known to reach it: a function-local static whose initializer
// another thread was running at the fork is taken for good in the child, whose first use then never returns.
std::atomic<bool> static_inside{false};
std::atomic<bool> static_let_go{false};
int StaticValue() {
  static const int value = [] {
    static_inside = true;
    while (!static_let_go) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 2;
  }();
  return value;
}

TEST(ForkSafeLazyTest, AStaticThatAnotherThreadInitializesAtForkHangsTheChild) {
  const testing::ChildResult child =
      ForkWhileAnotherThreadMakes(&StaticValue, static_inside, static_let_go, absl::Milliseconds(500));
  EXPECT_TRUE(child.timed_out) << child.Describe();
}

// The same with a ForkSafeLazy: the child makes its own value. The parent's maker publishes its own afterwards.
std::atomic<bool> lazy_inside{false};
std::atomic<bool> lazy_let_go{false};
ForkSafeLazy<int> lazy_value;
int LazyValue() {
  return lazy_value.Get([] {
    if (!lazy_inside.exchange(true)) {  // the first maker, the parent's thread, waits; the child's does not
      while (!lazy_let_go) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::make_unique<int>(2);
  });
}

TEST(ForkSafeLazyTest, AValueThatAnotherThreadMakesAtForkIsMadeAgainInTheChild) {
  const testing::ChildResult child =
      ForkWhileAnotherThreadMakes(&LazyValue, lazy_inside, lazy_let_go, absl::Seconds(20));
  EXPECT_FALSE(child.timed_out) << child.Describe();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(LazyValue(), 2);
}

// Counts the values alive, to show that the losers' are destroyed and the winner's kept.
struct Counted {
  static std::atomic<int> alive;
  explicit Counted(int v) : value(v) { ++alive; }
  ~Counted() { --alive; }
  int value;
};
std::atomic<int> Counted::alive{0};

TEST(ForkSafeLazyTest, ThreadsThatRaceAllGetTheOnePublishedValue) {
  static ForkSafeLazy<Counted> lazy;
  constexpr int kThreads = 8;
  std::atomic<int> made{0};
  std::atomic<int> waiting{kThreads};
  std::vector<const Counted*> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      got[t] = &lazy.Get([&] {
        const int mine = made.fetch_add(1);
        // Every thread makes one before any publishes, so that all but one lose.
        --waiting;
        while (waiting > 0) std::this_thread::yield();
        return std::make_unique<Counted>(mine);
      });
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(made.load(), kThreads);
  for (const Counted* value : got) EXPECT_EQ(value, got[0]);
  EXPECT_EQ(Counted::alive.load(), 1) << "the losers' values are destroyed, the winner's kept";
  EXPECT_EQ(&lazy.Get([&]() -> std::unique_ptr<Counted> {
    ADD_FAILURE() << "made again after it was published";
    return std::make_unique<Counted>(-1);
  }),
            got[0]);
}

static_assert(std::is_trivially_destructible<ForkSafeLazy<int>>::value, "never destroyed, no exit-time destructor");

}  // namespace
}  // namespace internal
}  // namespace pmem2
