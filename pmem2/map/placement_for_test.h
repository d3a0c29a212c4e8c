// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/placement_for_test.h
// -----------------------------------------------------------------------------
//
// Test seam of placement (target //pmem2/map:placement_for_test, testonly): replace the mmap(2) that maps into a
// reservation's placeholder (MAP_FIXED), to make it fail as kernels do, e.g. after unmapping what it replaced.

#ifndef PMEM2_MAP_PLACEMENT_FOR_TEST_H_
#define PMEM2_MAP_PLACEMENT_FOR_TEST_H_

#include "pmem2/map/placement.h"

namespace pmem2 {
namespace map_internal {

// `fn` replaces that mmap for every later placement in the process; nullptr restores the system call. Not for
// concurrent use with mappings into reservations in other threads.
void SetFixedMmapForTest(FixedMmapFn fn);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_PLACEMENT_FOR_TEST_H_
