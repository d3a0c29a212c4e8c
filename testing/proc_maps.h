// Copyright 2026 The pmem2 Authors.
//
// testing/proc_maps.h
// -----------------------------------------------------------------------------
//
// Test-only reading of /proc/self/maps: what this process has mapped at an address, for tests that check what a
// mapping call (or a forked child's fork handler) left in the address space.

#ifndef PMEM2_TESTING_PROC_MAPS_H_
#define PMEM2_TESTING_PROC_MAPS_H_

#include <cstdint>
#include <string>

#include "absl/types/optional.h"

namespace pmem2 {
namespace testing {

// One line of /proc/self/maps: a mapping's range and protection ("---p", "rw-s", ...).
struct Mapping {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  std::string protection;
};

// The mapping that holds `address`, if any.
absl::optional<Mapping> MappingAt(const void* address);

// The protection /proc/self/maps shows for the page at `address`, or "" if unmapped.
std::string ProtectionAt(const void* address);

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_PROC_MAPS_H_
