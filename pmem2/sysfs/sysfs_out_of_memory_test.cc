// Copyright 2026 The pmem2 Authors.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <fstream>
#include <new>
#include <string>

#include "gtest/gtest.h"
#include "pmem2/sysfs/sysfs.h"
#include "testing/failing_allocation.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace sysfs_internal {
namespace {

// The lowest descriptor number free now: the one the next open() takes.
int LowestFreeDescriptor() {
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  close(fd);
  return fd;
}

// Each allocation of a read failing in turn (the text grows past the short-string buffer as it is read, so appending
// allocates): the std::bad_alloc reaches the caller (the C functions make it -ENOMEM) and the attribute's descriptor
// is closed all the same (an append between open and close leaked it).
TEST(SysfsOutOfMemoryTest, AFailedAllocationLeavesNoDescriptorOpen) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  const std::string path = dir.Join("badblocks");
  std::string list;
  for (int i = 0; list.size() < 10000; ++i) list += std::to_string(i * 100) + " 16\n";
  std::ofstream(path) << list;
  ASSERT_EQ(ReadAttribute(path).value().size() + 1, list.size());
  for (int64_t n = 1;; ++n) {
    const int free_before = LowestFreeDescriptor();
    bool threw = false;
    bool failed = false;
    {
      ::pmem2::testing::FailNthAllocation fail(n);
      try {
        (void)ReadAttribute(path);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      fail.Disarm();
      failed = fail.failed();
    }
    EXPECT_EQ(threw, failed) << "allocation " << n;
    EXPECT_EQ(fcntl(free_before, F_GETFD), -1)
        << "allocation " << n << " failing left descriptor " << free_before << " open";
    if (!failed || ::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace sysfs_internal
}  // namespace pmem2
