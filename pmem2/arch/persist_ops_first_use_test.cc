// Copyright 2026 The pmem2 Authors.
//
// Threads racing the process's first use of the engine: the selection is made once (ForkSafeLazy) and every racer
// gets the same tables, which copy. Its own binary, with one test, so that nothing has used the engine before
// (persist_ops_test's other tests select first; this test's race was vacuous there). Run under --config=tsan too.

#include <cstddef>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "gtest/gtest.h"
#include "pmem2/arch/backend.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace {

TEST(PersistOpsFirstUseTest, RacingFirstUsesAgree) {
  ASSERT_EQ(backend::current_page_plan.load(), nullptr) << "something used the engine before this test";
  constexpr size_t kThreads = 8;
  absl::Barrier start(kThreads);  // all threads are joined before it goes
  std::vector<std::thread> threads;
  std::vector<const PersistOps*> seen(kThreads);
  for (size_t t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &seen, &start] {
      start.Block();
      seen[t] = (t % 2 == 0) ? &CacheLineOps() : &ByteOps();
      std::vector<unsigned char> dst(1000), src(1000, static_cast<unsigned char>(t));
      seen[t]->memmove(dst.data(), src.data(), src.size(), 0);
      EXPECT_EQ(dst, src);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t t = 2; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[t % 2]);
  EXPECT_EQ(seen[0], &CacheLineOps());
  EXPECT_EQ(seen[1], &ByteOps());
  EXPECT_NE(backend::current_page_plan.load(), nullptr) << "the selection was made current";
  EXPECT_FALSE(DescribeCpu().empty());
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
