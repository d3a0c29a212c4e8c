// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/deep_flush.h
// -----------------------------------------------------------------------------
//
// The deepest flush software can ask for: after the CPU caches are written back (a persist), make the NVDIMM
// region's memory controller drain its write-pending queues to the media, so that the data no longer depends on
// the platform flushing them at power loss (ADR). Linux offers it per region as the sysfs attribute
// /sys/bus/nd/devices/regionN/deep_flush: reading it says whether the region has a flush mechanism ("1") or
// not ("0"), writing "1" flushes. Map::DeepFlush (pmem2_deep_flush) calls this after its write-back for Device DAX;
// for a file it msyncs instead, as the kernel's fsync of a file on fsdax ends with the same drain and needs no root.
//
// Example:
//
//   struct stat st;
//   fstat(fd, &st);
//   absl::Status s = pmem2::DeepFlushRegion(pmem2::SourceKind::kDeviceDax, st.st_rdev);
//
// What happens, by `kind`:
//   * kDeviceDax (`device` = st_rdev): the region behind the device is found; kDaxRegionNotFound if there is
//     none (a dax device not on an NVDIMM region, or a device sysfs does not know);
//   * kRegularFile (`device` = st_dev): the region behind the file system's block device. A file on anything
//     else (tmpfs, a disk) has no region and nothing deeper than the msync/fsync the caller does: OK, nothing
//     written (libpmem2 1.12.1 does not look for a region for files either);
//   * kAnonymous: OK, nothing to do.
// Then: a region without a deep_flush attribute (no DIMMs, so no flush mechanism) or one reading "0" needs
// nothing: OK. Otherwise "1" is written. Writing needs root (the attribute is 0644): a non-root caller gets the
// EACCES error where libpmem2 1.12.1 silently skips the flush: pmem2 does not report a flush it did not do.
// kInvalidRegionFormat if the attribute reads anything but 0 or 1; errno errors from sysfs.
//
// Thread-safe. Costs a few sysfs reads and one write per call: it is meant for rare, deliberate use.

#ifndef PMEM2_RAS_DEEP_FLUSH_H_
#define PMEM2_RAS_DEEP_FLUSH_H_

#include <sys/types.h>

#include "absl/status/status.h"
#include "pmem2/source/source.h"

namespace pmem2 {

absl::Status DeepFlushRegion(SourceKind kind, dev_t device);

}  // namespace pmem2

#endif  // PMEM2_RAS_DEEP_FLUSH_H_
