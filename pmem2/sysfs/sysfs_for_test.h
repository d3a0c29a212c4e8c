// Copyright 2026 The pmem2 Authors.
//
// pmem2/sysfs/sysfs_for_test.h
// -----------------------------------------------------------------------------
//
// Test seam of pmem2/sysfs (target //pmem2/sysfs:sysfs_for_test, testonly): point pmem2 at a fake sysfs.
// testing/fake_sysfs.h builds one and installs it with this.

#ifndef PMEM2_SYSFS_SYSFS_FOR_TEST_H_
#define PMEM2_SYSFS_SYSFS_FOR_TEST_H_

#include <string>

#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {
namespace sysfs_internal {

// `root` replaces "/sys" for the whole process; an empty `root` restores it. Thread-safe.
void SetRootForTest(std::string root);

}  // namespace sysfs_internal
}  // namespace pmem2

#endif  // PMEM2_SYSFS_SYSFS_FOR_TEST_H_
