// Copyright 2026 The pmem2 Authors.
//
// pmem2/source/device_dax.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2 (and `pmem2 info`, which must decide from metadata whether a character device is Device DAX
// before it opens anything): recognising a Device DAX and reading its attributes from sysfs.

#ifndef PMEM2_SOURCE_DEVICE_DAX_H_
#define PMEM2_SOURCE_DEVICE_DAX_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace pmem2 {
namespace source_internal {

// The sysfs folder of character device MAJOR:MINOR under `sysfs_root`: ROOT/dev/char/MAJOR:MINOR.
std::string CharDeviceDir(const std::string& sysfs_root, unsigned major_number, unsigned minor_number);

// Whether the character device MAJOR:MINOR under `sysfs_root` is a Device DAX (its subsystem is "dax"). Where sysfs
// cannot say (its `subsystem` link cannot be resolved for another reason than its absence: EACCES, ELOOP, ...),
// false, and `why_unknown` (if given) gets the reason; otherwise it is left alone.
bool IsDeviceDax(const std::string& sysfs_root, unsigned major_number, unsigned minor_number,
                 std::string* why_unknown = nullptr);

// A Device DAX's attributes from its device folder: `size` (kInvalidSizeFormat if no number), and `align` (or,
// on kernels before 5.10, the region's: `device/align`, or `dax_region/align` of the parent or grandparent;
// kInvalidAlignmentFormat / kInvalidAlignmentValue if no number or not a power of two).
absl::StatusOr<uint64_t> ReadDeviceDaxSize(const std::string& device_dir);
absl::StatusOr<size_t> ReadDeviceDaxAlignment(const std::string& device_dir);

}  // namespace source_internal
}  // namespace pmem2

#endif  // PMEM2_SOURCE_DEVICE_DAX_H_
