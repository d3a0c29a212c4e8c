// Copyright 2026 The pmem2 Authors.
//
// The first calls of the process to C functions that make something once, at first use: what they make must not
// allocate, or its failed allocation must be reported (out_of_memory_test.cc has the rest). A process of its own,
// so that these are the first calls whatever order or filter the other tests run in.

#include <errno.h>

#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "pmem2/c/libpmem2.h"
#include "testing/failing_allocation.h"

namespace {

using pmem2::testing::FailNthAllocation;

// The copy getters too: they allocated the NULL map's table of functions (a failure terminated the program) before
// they handed out the page functions directly.
TEST(OutOfMemoryFirstCallTest, TheNullMapsFunctionsAndPmemIsPmemAllocateNothing) {
  FailNthAllocation fail(1);
  const pmem2_persist_fn persist = pmem2_get_persist_fn(nullptr);
  const pmem2_flush_fn flush = pmem2_get_flush_fn(nullptr);
  const pmem2_drain_fn drain = pmem2_get_drain_fn(nullptr);
  const pmem2_memmove_fn memmove_fn = pmem2_get_memmove_fn(nullptr);
  const pmem2_memcpy_fn memcpy_fn = pmem2_get_memcpy_fn(nullptr);
  const pmem2_memset_fn memset_fn = pmem2_get_memset_fn(nullptr);
  const int is_pmem = pmem_is_pmem(&fail, 1);
  fail.Disarm();
  EXPECT_FALSE(fail.failed()) << fail.allocations() << " allocations";
  EXPECT_NE(persist, nullptr);
  EXPECT_NE(flush, nullptr);
  EXPECT_NE(drain, nullptr);
  EXPECT_NE(memmove_fn, nullptr);
  EXPECT_NE(memcpy_fn, nullptr);
  EXPECT_NE(memset_fn, nullptr);
  EXPECT_EQ(is_pmem, 0);  // a stack variable
}

TEST(OutOfMemoryFirstCallTest, PmemHasAutoFlushReportsItsFailedFirstAllocation) {
  int ret = 0;
  int err = 0;
  bool failed = false;
  {
    FailNthAllocation fail(1);
    errno = 0;
    ret = pmem_has_auto_flush();  // its first call reads sysfs into an allocated value
    err = errno;
    fail.Disarm();
    failed = fail.failed();
  }
  if (failed) {
    EXPECT_EQ(ret, -1);
    EXPECT_EQ(err, ENOMEM);
    EXPECT_STREQ(pmem_errormsg(), "out of memory");
  } else {
    EXPECT_TRUE(ret == 0 || ret == 1) << ret << " (not the first call: a shuffled or repeated run)";
  }
  const int again = pmem_has_auto_flush();
  EXPECT_TRUE(again == 0 || again == 1) << again;
}

}  // namespace
