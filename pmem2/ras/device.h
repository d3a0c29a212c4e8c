// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/device.h
// -----------------------------------------------------------------------------
//
// What the hardware behind a Source says about itself: which NVDIMMs hold it (their ids), how often they lost
// power without flushing their buffers (the unsafe shutdown count), and which NUMA node the memory sits on.
// An application that keeps data in persistent memory stores the id and count next to the data: if the count
// grew while the id stayed the same, the last shutdown may have lost writes that were reported durable, and the
// data must be checked (libpmem2_unsafe_shutdown(7)).
//
// Example:
//
//   absl::StatusOr<std::string> id = pmem2::DeviceId(source);
//   absl::StatusOr<uint64_t> usc = pmem2::UnsafeShutdownCount(source);
//   if (id.ok() && usc.ok() && *id == saved_id && *usc != saved_usc) { /* check the data */ }
//   if (pmem2::GetErrorCode(usc.status()) == pmem2::ErrorCode::kNoSupp) { /* no unsafe-shutdown detection */ }
//
// Medium by medium (found through sysfs: the file system's block device or the Device DAX, up to its region
// regionN, whose mappingN attributes name the DIMMs nmemD; see region.h, which also says why sysfs rather than
// libndctl):
//   * a file on fsdax (ext4/xfs on /dev/pmemX, or a partition of it) and Device DAX on an NVDIMM region: the
//     values below;
//   * a file on anything else (tmpfs, a disk, an SSD, a network file system): DeviceId and
//     UnsafeShutdownCount kNoSupp, NumaNode kDaxRegionNotFound (as libpmem2 1.12.1 returns), each message
//     saying what the file is on;
//   * anonymous sources: kNoSupp.
// Each function also answers kInvalidFileHandle when the Source's descriptor was closed or its number now names
// another file or device (Source::VerifyDescriptor), rather than answer for that one.
//
// Thread-safe; each call reads sysfs anew (nothing is cached: a count can change while the process runs).

#ifndef PMEM2_RAS_DEVICE_H_
#define PMEM2_RAS_DEVICE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "pmem2/source/source.h"

namespace pmem2 {

// The ids of the NVDIMMs behind `source`, in libndctl's order (region.h, RegionDimms; libpmem2's), concatenated
// without separators. Each is the DIMM's nfit/id as Linux shows it, which is also `ndctl list -D`'s "id":
// "VVVV-LL-DDDD-SSSSSSSS" (vendor, manufacturing location and date, serial number, hexadecimal) or "VVVV-SSSSSSSS" when
// the DIMM reports no manufacturing data. kNoSupp when the region has no DIMMs (legacy memmap= persistent memory) or a
// DIMM has no nfit/id (an NVDIMM not described by ACPI NFIT), naming the DIMM; kInvalidRegionFormat for a malformed
// mapping; errno errors from sysfs.
absl::StatusOr<std::string> DeviceId(const Source& source);

// The sum of the unsafe shutdown counts (nfit/dirty_shutdown) of the NVDIMMs behind `source`. kNoSupp when the
// region has no DIMMs or a DIMM does not report the count (its firmware interface has no health data, as with
// qemu's emulated NVDIMMs), naming the DIMM; kInvalidRegionFormat if a count is no number or the sum
// overflows.
absl::StatusOr<uint64_t> UnsafeShutdownCount(const Source& source);

// The NUMA node of the region behind `source`: its numa_node, the value `ndctl list -v` shows.
// kDaxRegionNotFound if `source` is not on an NVDIMM region; kNoSupp if the kernel has no NUMA support (no
// numa_node attribute) or the region reports no node (-1); kInvalidRegionFormat if it holds no number.
absl::StatusOr<int> NumaNode(const Source& source);

// The name of the NVDIMM region behind `source`, e.g. "region1" (as in /sys/bus/nd/devices and `ndctl list
// -R`). kDaxRegionNotFound, saying what the source is on instead, if it is not on one; kNoSupp for anonymous
// sources.
absl::StatusOr<std::string> NvdimmRegion(const Source& source);

}  // namespace pmem2

#endif  // PMEM2_RAS_DEVICE_H_
