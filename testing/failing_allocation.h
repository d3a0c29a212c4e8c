// Copyright 2026 The pmem2 Authors.
//
// testing/failing_allocation.h
// -----------------------------------------------------------------------------
//
// Test-only: makes one chosen allocation of the calling thread fail, to test what code does when memory runs out.
// Linking :failing_allocation replaces the program's global operator new and delete (every form) with ones on
// malloc and free that fail when told to: the throwing forms throw std::bad_alloc, the nothrow forms return null.
// Only the arming thread's allocations count and fail; other threads' never do. Link it only into tests of their
// own (it replaces the operators of the whole binary).
//
// The usual loop fails each allocation of a call in turn, until the call makes fewer allocations than the one
// chosen to fail, so every failure path of the call's operator new allocations is taken once (not those of malloc
// inside libc: glob(3), opendir(3), fopen(3)):
//
//   for (int64_t n = 1;; ++n) {
//     pmem2::testing::FailNthAllocation fail(n);
//     const int ret = pmem2_map_new(&map, cfg, src);
//     if (!fail.failed()) break;    // the call made fewer than n allocations, and succeeded
//     EXPECT_EQ(ret, -ENOMEM);      // and nothing leaked, nothing is left half made
//   }

#ifndef PMEM2_TESTING_FAILING_ALLOCATION_H_
#define PMEM2_TESTING_FAILING_ALLOCATION_H_

#include <cstdint>

namespace pmem2 {
namespace testing {

class FailNthAllocation {
 public:
  // n >= 1: the n-th allocation of this thread from now on fails (1: the next one). Only one per thread at a time.
  explicit FailNthAllocation(int64_t n);
  ~FailNthAllocation();  // disarms: later allocations succeed
  FailNthAllocation(const FailNthAllocation&) = delete;
  FailNthAllocation& operator=(const FailNthAllocation&) = delete;

  // Whether the n-th allocation was asked for (and failed).
  bool failed() const;
  // How many allocations this thread asked for since construction, the failed one included.
  int64_t allocations() const;
  // Disarms early, so that what the test does next (its own assertions allocate) cannot fail.
  void Disarm();
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_FAILING_ALLOCATION_H_
