// Copyright 2026 The pmem2 Authors.
//
// A process whose first use of the engine is a page copy: the plan (backend.h) is not published yet, so the copy
// takes the way that selects first (arch.cc, FirstCallFor), and must still copy with the selection's tables and
// PageCopyFlags()' flags. Its own binary, with one test, so that nothing has used the engine before.

#include <cstddef>
#include <string>

#include "gtest/gtest.h"
#include "pmem2/arch/backend.h"
#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace {

TEST(PageCopyFirstUseTest, TheFirstPageCopyAndFillSelectAndWrite) {
  ASSERT_EQ(backend::current_page_plan.load(), nullptr) << "something used the engine before this test";
  char to[300] = {}, from[300];
  for (size_t i = 0; i < sizeof(from); ++i) from[i] = static_cast<char>(i * 7);
  EXPECT_EQ(PageMemmove(to + 1, from, 200, 0), to + 1);
  EXPECT_EQ(std::string(to + 1, 200), std::string(from, 200));
  EXPECT_EQ(to[0], 0);
  EXPECT_EQ(to[201], 0);
  const backend::PageCopyPlan* plan = backend::current_page_plan.load();
  ASSERT_NE(plan, nullptr) << "the first copy published the plan";
  EXPECT_EQ(plan, &backend::PagePlan());
  EXPECT_TRUE(plan->memmove == ByteOps().memmove && plan->memset == ByteOps().memset);
  EXPECT_EQ(PageMemset(to + 3, 0x5a, 250, kMemNonTemporal), to + 3);
  EXPECT_EQ(std::string(to + 3, 250), std::string(250, 0x5a));
  EXPECT_EQ(to[2], from[1]);
  EXPECT_EQ(to[253], 0);
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
