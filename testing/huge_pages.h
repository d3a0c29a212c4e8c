// Copyright 2026 The pmem2 Authors.
//
// testing/huge_pages.h
// -----------------------------------------------------------------------------
//
// Test-only hugetlbfs files (memfd_create(MFD_HUGETLB): no mount needed) and the free huge pages that mapping and
// touching one takes. A kernel starts with none in its pool (vm.nr_hugepages = 0); as root, ScopedFreeHugePages
// adds what a test needs and gives it back at the end, one test process at a time (a lock file), so that one test
// giving pages back cannot take them from another that is about to use them.

#ifndef PMEM2_TESTING_HUGE_PAGES_H_
#define PMEM2_TESTING_HUGE_PAGES_H_

#include <cstddef>
#include <string>

#include "testing/temp_files.h"

namespace pmem2 {
namespace testing {

// The kernel's default huge page size (Hugepagesize in /proc/meminfo), or 0 if it has none.
size_t DefaultHugePageSize();

// A file of `size` bytes (a multiple of the default huge page size) on the kernel's internal hugetlbfs mount:
// invalid (fd -1, errno set) if the kernel has no hugetlbfs. Creating and sizing it takes no huge page.
ScopedFd CreateHugetlbFile(size_t size);

// Makes `count` huge pages of the default size free (and unreserved) for this test, if it can: it waits for other
// test processes doing the same to finish, then, if fewer are free, raises vm.nr_hugepages (root only) and puts the
// old value back when destroyed (or, if the process dies first, the next root process that takes the lock does).
// Declare it before the files and mappings that use the pages, so that they are gone before it gives them back.
class ScopedFreeHugePages {
 public:
  explicit ScopedFreeHugePages(long count);
  ~ScopedFreeHugePages();
  ScopedFreeHugePages(const ScopedFreeHugePages&) = delete;
  ScopedFreeHugePages& operator=(const ScopedFreeHugePages&) = delete;

  // "" if `count` huge pages are free; else why not, for GTEST_SKIP.
  const std::string& why_not() const { return why_not_; }

 private:
  int lock_fd_ = -1;
  long before_ = -1;
  bool raised_ = false;
  std::string why_not_;
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_HUGE_PAGES_H_
