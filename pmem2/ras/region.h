// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/region.h (internal to pmem2/ras)
// -----------------------------------------------------------------------------
//
// Finds the NVDIMM region behind a Source in sysfs, the DIMMs that make up that region, and parses the sysfs
// texts the RAS functions need (bad-block lists, numbers). Every path starts at sysfs_internal::Root(), so tests
// build a fake tree (fake_nvdimm.h) instead of needing NVDIMMs.
//
// The layout read here (Linux's libnvdimm and dax drivers; Documentation/ABI/testing/sysfs-bus-nvdimm,
// sysfs-bus-nfit, sysfs-block):
//
//   /sys/dev/block/MAJ:MIN -> .../ndbusB/regionR/namespaceR.N/block/pmemX       (raw mode)
//                          -> .../ndbusB/regionR/bttR.M/block/pmemXs            (sector mode: no `badblocks`)
//                          -> .../ndbusB/regionR/pfnR.M/block/pmemX             (fsdax: the page-map device)
//                          -> .../block/pmemX/pmemXp1                           (a partition: `partition`, `start`)
//   /sys/dev/char/MAJ:MIN  -> .../ndbusB/regionR/daxR.M/daxR.K                  (Device DAX)
//   regionR/{numa_node, resource, size, badblocks, deep_flush, mappings, mapping0..}
//   regionR/mappingI = "nmemD,OFFSET,LENGTH,POSITION"
//   /sys/bus/nd/devices/nmemD/nfit/{id, dirty_shutdown}
//   block device `badblocks`: "SECTOR COUNT" lines in 512-byte sectors from the start of that block device;
//   region `badblocks`: the same, from the start of the region.
//
// Why sysfs and not Debian's libndctl/libdaxctl (which libpmem2 1.12.1 uses): every value needed here is one
// small sysfs attribute that libndctl itself reads (nfit/id is ndctl's "unique id", nfit/dirty_shutdown its
// dirty-shutdown count, the region's numa_node, badblocks and deep_flush), so libndctl would add a shared
// library dependency (and its udev/kmod/uuid closure) to pmem2 and to every consumer's link, for no extra
// information; and it reads the real /sys only, so none of this could be tested without NVDIMMs. Reading sysfs
// through pmem2/sysfs keeps it testable with a fake tree and dependency-free. The one thing sysfs cannot do is
// the bus's clear-error command for Device DAX (an ioctl that libndctl wraps): see bad_blocks.h.

#ifndef PMEM2_RAS_REGION_H_
#define PMEM2_RAS_REGION_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pmem2/errors/errors.h"
#include "pmem2/source/source.h"

namespace pmem2 {
namespace ras_internal {

// Where a Source's medium sits among the NVDIMMs.
struct Location {
  // The region's sysfs folder (symbolic links resolved), e.g. .../ndbus0/region1; empty if the medium is not
  // on an NVDIMM region.
  std::string region_dir;
  // Why not, for messages: e.g. "device 0:45 of /dev/shm is not a block device (tmpfs or another virtual file
  // system)". Set only when region_dir is empty.
  std::string not_on_nvdimm;
  // The block device holding the file system (the whole disk, for a partition) or the Device DAX folder,
  // resolved; empty when there is none.
  std::string device_dir;
  // A partition's first byte on its disk; 0 otherwise.
  uint64_t partition_start = 0;
  // The region's name, e.g. "region1" (for messages).
  std::string region_name;
  // Set (a message) when region_dir is empty because the block device is stacked (device-mapper, md) over one on
  // an NVDIMM region: a file's blocks there cannot be mapped to the NVDIMM's, so its bad blocks cannot be told.
  std::string stacked_over_nvdimm;
  // Set (a message naming the file system) by LocateSource when region_dir is empty because the file's file system
  // gives it an anonymous device (major 0) and may hide a block device below, which may be an NVDIMM's: every such
  // file system but those known to hold files in memory (tmpfs, ramfs, hugetlbfs) or the kernel's own: overlayfs,
  // btrfs, ZFS, FUSE, network file systems. not_on_nvdimm says the same.
  std::string device_hidden;
  // Set (a message naming the device, the region and why) where no persist makes stores on the region durable:
  // libnvdimm's nd_volatile regions (an ACPI NFIT volatile or virtual-disk range, papr_scm's and of_pmem's volatile
  // ones), whose `devtype` says so; for Device DAX also a virtio-pmem device's (its bus's `provider`), durable only by
  // the device's flush, which msync cannot ask for on Device DAX (EINVAL) and which has no deep_flush; and a region
  // whose devtype or bus provider exists but cannot be read (unknown); for a block device stacked over NVDIMM regions
  // (stacked_over_nvdimm), any of them that is so (region_dir empty there). Not caught: papr_scm regions that need
  // its hypervisor flush (POWER; sysfs does not show that). Otherwise region_dir is set too.
  std::string not_durable;
};

// The region behind a file system on block device `dev` (a regular file's st_dev). Not finding one is not an
// error (region_dir empty); malformed sysfs content (a partition's `start`) is kInvalidRegionFormat. A region's
// `devtype` (or a bus's `provider`) that exists but cannot be read is no error: not_durable says so (both functions).
absl::StatusOr<Location> LocateBlockDevice(dev_t dev);

// The region behind Device DAX character device `rdev` (its st_rdev); region_dir empty if it is not on an
// NVDIMM region (e.g. a dax device made from soft-reserved memory by the hmem driver).
absl::StatusOr<Location> LocateDaxDevice(dev_t rdev);

// The above for `source` (fstat of its descriptor; for an anonymous st_dev also fstatfs, device_hidden); an errno
// error if either fails; kSourceTypeNotSupported for anonymous sources;
// kInvalidFileHandle if the descriptor was closed or its number now names another file or device
// (Source::VerifyDescriptor).
absl::StatusOr<Location> LocateSource(const Source& source);

// The DIMMs of a region, each once, in the order libndctl (and so libpmem2) walks them: the bus folder's DIMMs as
// readdir lists them, last first, those the region's mappings name (in mapping order where the bus folder is not there,
// may not be read or lacks one; an error where it cannot be read for want of descriptors or memory, or its listing
// fails: another order is another device's id): the sysfs folders /sys/bus/nd/devices/nmemD. Empty for a region without
// DIMMs (e.g. memmap= legacy persistent memory). kInvalidRegionFormat for a mapping that names no DIMM.
absl::StatusOr<std::vector<std::string>> RegionDimms(const std::string& region_dir);

// One "SECTOR COUNT" line of a badblocks file, in bytes.
struct ByteRange {
  uint64_t offset;
  uint64_t length;
};

// Parses a badblocks file's text (`path` for messages) into byte ranges (sectors of 512 bytes), in file order.
// Empty lines are skipped; anything else that is not two unsigned decimal numbers with a count of at least 1,
// or a range that does not fit in 64 bits of bytes, is kInvalidRegionFormat naming the line.
absl::StatusOr<std::vector<ByteRange>> ParseBadBlocks(absl::string_view text, absl::string_view path);

// Reads an unsigned decimal or 0x-prefixed hexadecimal attribute; `code` (with the path and text in the
// message) if it holds anything else, the errno error if it cannot be read.
absl::StatusOr<uint64_t> ReadUnsignedAttribute(const std::string& path, ErrorCode code);

}  // namespace ras_internal
}  // namespace pmem2

#endif  // PMEM2_RAS_REGION_H_
