// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/adopt_for_test.h
// -----------------------------------------------------------------------------
//
// Test seam of Map::FromExisting() (target //pmem2/map:adopt_for_test, testonly): take a file that is not DAX as
// if it were, so that tests on tmpfs or a disk can adopt a file's mapping at byte or cache-line granularity and
// exercise such a Map's functions (write-back, failure records, libpmem's tables), as on a DAX file system.

#ifndef PMEM2_MAP_ADOPT_FOR_TEST_H_
#define PMEM2_MAP_ADOPT_FOR_TEST_H_

namespace pmem2 {
namespace map_internal {

// While `yes`, FromExisting() (and pmem2_map_from_existing) skip the MAP_SYNC (or statx) question of request.h's
// WhyAdoptedFileIsNotDurable: the caller's byte or cache line stands for a file that cannot be mapped with MAP_SYNC
// (the other checks, a medium that keeps no store, and byte without eADR, stay). Not for concurrent use with
// FromExisting() in other threads.
void SetNonDaxFilesAdoptedAsDaxForTest(bool yes);

// The setting now.
bool NonDaxFilesAdoptedAsDaxForTest();

// Sets it for a scope; the one before is restored at its end.
class ScopedNonDaxFilesAdoptedAsDax {
 public:
  ScopedNonDaxFilesAdoptedAsDax() : before_(NonDaxFilesAdoptedAsDaxForTest()) {
    SetNonDaxFilesAdoptedAsDaxForTest(true);
  }
  ~ScopedNonDaxFilesAdoptedAsDax() { SetNonDaxFilesAdoptedAsDaxForTest(before_); }
  ScopedNonDaxFilesAdoptedAsDax(const ScopedNonDaxFilesAdoptedAsDax&) = delete;
  ScopedNonDaxFilesAdoptedAsDax& operator=(const ScopedNonDaxFilesAdoptedAsDax&) = delete;

 private:
  const bool before_;
};

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_ADOPT_FOR_TEST_H_
