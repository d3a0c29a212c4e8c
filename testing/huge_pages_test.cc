// Copyright 2026 The pmem2 Authors.

#include "testing/huge_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"

namespace pmem2 {
namespace testing {
namespace {

long PoolSize() {
  std::ifstream in("/proc/sys/vm/nr_hugepages");
  long value = -1;
  in >> value;
  return value;
}

// HugePages_Free less HugePages_Rsvd.
long Available() {
  std::ifstream in("/proc/meminfo");
  std::string name;
  long value = 0, free_pages = 0, reserved = 0;
  while (in >> name >> value) {
    if (name == "HugePages_Free:") free_pages = value;
    if (name == "HugePages_Rsvd:") reserved = value;
    std::string rest;
    std::getline(in, rest);
  }
  return free_pages - reserved;
}

// The pool's size while no test holds it raised: read holding the lock (other test processes raise it meanwhile).
long SettledPoolSize() {
  ScopedFreeHugePages settle(0);
  return PoolSize();
}

TEST(HugePagesTest, TheFreePagesCanBeMappedAndThePoolIsPutBack) {
  const size_t huge = DefaultHugePageSize();
  if (huge == 0) GTEST_SKIP() << "no huge pages here";
  const long before = SettledPoolSize();
  {
    ScopedFreeHugePages pages(2);
    if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
    ScopedFd fd = CreateHugetlbFile(2 * huge);
    ASSERT_GE(fd.get(), 0) << std::strerror(errno);
    void* mapped = mmap(nullptr, 2 * huge, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(mapped, MAP_FAILED) << std::strerror(errno);
    std::memset(mapped, 1, 2 * huge);
    munmap(mapped, 2 * huge);
  }
  EXPECT_EQ(SettledPoolSize(), before);
}

// A test process killed while it held a raised pool (a timeout's SIGKILL runs no destructor): the next root process
// to take the lock puts the pool back.
TEST(HugePagesTest, APoolRaisedByAProcessThatDiedIsPutBackByTheNext) {
  if (geteuid() != 0) GTEST_SKIP() << "only root raises the pool";
  if (DefaultHugePageSize() == 0) GTEST_SKIP() << "no huge pages here";
  const long before = SettledPoolSize();
  const long more_than_available = Available() + 1;
  // The lock may be held by another test binary growing the pool (compaction takes its time on a loaded machine).
  ChildOptions options;
  options.timeout = absl::Seconds(45);
  ChildResult child = RunInChild(
      [&](int out) {
        auto* pages = new ScopedFreeHugePages(more_than_available);  // never destroyed: the lock goes with the process
        WriteToParent(out, pages->why_not().empty() ? absl::StrCat(PoolSize()) : "SKIP " + pages->why_not());
        return 0;
      },
      options);
  const long after = SettledPoolSize();  // first, whatever the child did: the machine's pool is put back here
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  if (child.output.rfind("SKIP ", 0) == 0) GTEST_SKIP() << child.output.substr(5);
  EXPECT_GT(std::atol(child.output.c_str()), before) << "the child did not raise the pool";
  EXPECT_EQ(after, before);
}

}  // namespace
}  // namespace testing
}  // namespace pmem2
