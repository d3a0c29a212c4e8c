// Copyright 2026 The pmem2 Authors.
//
// pmem2/sysfs/sysfs.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2: the one place that reads sysfs (Device DAX attributes for pmem2/source, NVDIMM persistence
// domains for pmem2/map). Where sysfs is can be changed only from inside the process (sysfs_for_test.h), never
// through the environment: a fake sysfs decides durability (eADR, Device DAX), so only code linked into the
// process may point pmem2 at one.

#ifndef PMEM2_SYSFS_SYSFS_H_
#define PMEM2_SYSFS_SYSFS_H_

#include <string>

#include "absl/status/statusor.h"

namespace pmem2 {
namespace sysfs_internal {

// "/sys", unless a test has pointed it elsewhere. Thread-safe.
std::string Root();

// A small attribute file's text without surrounding white space; ErrorCode::kErrno (e.g. ENOENT) if it cannot
// be read. EINTR is retried.
absl::StatusOr<std::string> ReadAttribute(const std::string& path);

}  // namespace sysfs_internal
}  // namespace pmem2

#endif  // PMEM2_SYSFS_SYSFS_H_
