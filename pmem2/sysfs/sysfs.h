// Copyright 2026 The pmem2 Authors.
//
// pmem2/sysfs/sysfs.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2: the one place that reads sysfs (Device DAX attributes for pmem2/source, NVDIMM persistence
// domains for pmem2/map, NVDIMM regions, DIMMs and bad blocks for pmem2/ras) and writes it (a region's
// deep_flush, for pmem2/ras). Where sysfs is can be changed only from inside the process (sysfs_for_test.h), never
// through the environment: a fake sysfs decides durability (eADR, Device DAX), so only code linked into the
// process may point pmem2 at one.

#ifndef PMEM2_SYSFS_SYSFS_H_
#define PMEM2_SYSFS_SYSFS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pmem2 {
namespace sysfs_internal {

// "/sys", unless a test has pointed it elsewhere. Thread-safe.
std::string Root();

// An attribute file's whole text (read to its end, up to 1 MiB) without surrounding white space; ErrorCode::kErrno
// (e.g. ENOENT; EFBIG above 1 MiB) if it cannot be read. EINTR is retried.
absl::StatusOr<std::string> ReadAttribute(const std::string& path);

// Writes `value` to the attribute file `path` in one write(2), as sysfs requires (an attribute's store runs
// once per write). ErrorCode::kErrno (ENOENT, EACCES for a non-root caller, or whatever the attribute's store
// returned) on failure; a short write is EIO. EINTR is retried.
absl::Status WriteAttribute(const std::string& path, absl::string_view value);

}  // namespace sysfs_internal
}  // namespace pmem2

#endif  // PMEM2_SYSFS_SYSFS_H_
