// Copyright 2026 The pmem2 Authors.

#include <malloc.h>

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

#include "gtest/gtest.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/ras/region.h"
#include "testing/failing_allocation.h"

namespace pmem2 {
namespace ras_internal {
namespace {

// Bytes glibc's allocator has handed out and not taken back (chunks in its per-thread cache count as handed out, but
// that cache holds a few of each size only: a call that frees all it allocates grows this by a bounded amount).
size_t BytesInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// RegionDimms() with each of its allocations failing in turn, many times over: std::bad_alloc, and nothing left
// allocated. (The bus folder's path was made from realpath's malloc'ed result before it was freed: failing that
// allocation leaked the result, a chunk of at least 32 bytes, each time.)
TEST(RegionOutOfMemoryTest, AFailedAllocationLeaksNothing) {
  testing::FakeNvdimm fake;
  fake.AddDimm("nmem0", {});
  const std::string region = fake.AddRegion(0, {{"mappings", "1\n"}, {"mapping0", "nmem0,0,1073741824,0\n"}});
  ASSERT_EQ(RegionDimms(region).value().size(), 1u);
  auto call_failing = [&](int64_t n) {
    pmem2::testing::FailNthAllocation fail(n);
    try {
      (void)RegionDimms(region);
    } catch (const std::bad_alloc&) {
    }
    fail.Disarm();
    return fail.failed();
  };
  constexpr int kRepeats = 1000;
  for (int64_t n = 1;; ++n) {
    if (!call_failing(n)) break;  // fewer than n allocations: each has failed once
    const size_t before = BytesInUse();
    for (int i = 0; i < kRepeats; ++i) call_failing(n);
    const size_t grown = BytesInUse() - before;
    EXPECT_LT(grown, kRepeats * size_t{16}) << "allocation " << n << " failing " << kRepeats << " times";
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace ras_internal
}  // namespace pmem2
