// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/page_persist_for_test.h
// -----------------------------------------------------------------------------
//
// Test seam of page-granularity persistence (target //pmem2/map:page_persist_for_test, testonly): replace the
// msync that persists page-granularity mappings, to inject failures (EIO, ENOSPC, EINTR) and record calls.

#ifndef PMEM2_MAP_PAGE_PERSIST_FOR_TEST_H_
#define PMEM2_MAP_PAGE_PERSIST_FOR_TEST_H_

#include <cstddef>

#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"

namespace pmem2 {
namespace map_internal {

// `fn` replaces the msync(2) system call for every page-granularity persist in the process (and every data sync of
// an AsyncPersister's synchronous backend); it returns 0, or -1 with errno, as msync(2). nullptr restores the
// system call. Not for concurrent use with persists in other threads.
void SetMsyncForTest(MsyncFn fn);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_PAGE_PERSIST_FOR_TEST_H_
