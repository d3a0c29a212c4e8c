// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/extents.h (internal to pmem2/ras)
// -----------------------------------------------------------------------------
//
// Where a file's bytes sit on its block device (FIEMAP), and which of a device's bad ranges fall inside the
// file: the translation from an NVDIMM block device's bad blocks to a file's.

#ifndef PMEM2_RAS_EXTENTS_H_
#define PMEM2_RAS_EXTENTS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "pmem2/ras/region.h"

namespace pmem2 {
namespace ras_internal {

// `length` bytes of the file from `logical` sit on its block device from `physical` on.
struct Extent {
  uint64_t logical;
  uint64_t physical;
  uint64_t length;
};

// The extents of the open regular file `fd` that have a place on the device (delayed-allocation, inline and
// unknown extents are left out; unwritten, preallocated ones are in). The errno error of ioctl(FS_IOC_FIEMAP),
// e.g. EOPNOTSUPP on file systems without FIEMAP (tmpfs).
absl::StatusOr<std::vector<Extent>> ReadExtents(int fd);

// The parts of `bad` (byte ranges from the start of the whole disk) that lie in the file's `extents` (physical
// offsets from the start of the partition that begins `partition_start` bytes into the disk), as byte ranges of
// the file widened to whole blocks of `block_size` (the file system's: the unit a file's storage is replaced in;
// 0 or not a power of two: no widening), merged where they then overlap, cut at `file_size`, sorted by offset. Pure;
// never fails.
std::vector<ByteRange> FileBadRanges(const std::vector<Extent>& extents, const std::vector<ByteRange>& bad,
                                     uint64_t partition_start, uint64_t file_size, uint64_t block_size);

// The parts of `bad` (byte ranges from the start of a region) that lie in [window_start, window_start +
// window_length), as offsets from window_start, sorted. Pure; never fails.
std::vector<ByteRange> WindowBadRanges(const std::vector<ByteRange>& bad, uint64_t window_start,
                                       uint64_t window_length);

}  // namespace ras_internal
}  // namespace pmem2

#endif  // PMEM2_RAS_EXTENTS_H_
