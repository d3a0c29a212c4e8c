// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/request.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/map, step 1 of Map::Create(): a Config checked against a Source, with every value resolved
// (length 0 becomes the rest of the source, the forced granularity is read, the file identified). Every error
// Map::Create() documents up to, but not including, mmap comes from here, in the documented order.

#ifndef PMEM2_MAP_REQUEST_H_
#define PMEM2_MAP_REQUEST_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "pmem2/config/config.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/source/source.h"

namespace pmem2 {
namespace map_internal {

struct MapRequest {
  StoreGranularity required = StoreGranularity::kPage;
  absl::optional<StoreGranularity> forced;  // PMEM2_FORCE_GRANULARITY; applies to shared file mappings only
  SourceKind kind = SourceKind::kAnonymous;
  int fd = -1;
  uint64_t offset = 0;  // selects nothing for anonymous sources
  size_t length = 0;    // > 0
  uint64_t source_size = 0;
  size_t source_alignment = 0;
  bool is_private = false;
  Protection protection = kProtNone;
  bool fully_allocated = false;
  FileIdentity file;  // valid for shared mappings of files and Device DAX

  bool anonymous() const { return kind == SourceKind::kAnonymous; }
  // Stores reach a file or device: the mapping can be persistent.
  bool shared_file() const { return !anonymous() && !is_private; }
  // A shared mapping of a regular file: where its descriptor was opened for writing, its msync syncs the file
  // through the descriptor's description whatever the mapping's protection (the kernel makes it VM_SHARED), and so
  // can take that description's write-back error reports (a forked child maps it again: ChildReopenHandle).
  bool shared_regular_file() const { return kind == SourceKind::kRegularFile && !is_private; }
  // Stores may allocate file blocks (a hole of a sparse regular file).
  bool writes_regular_file() const {
    return kind == SourceKind::kRegularFile && !is_private && HasAll(protection, kProtWrite);
  }
};

// kInvalidEnvironment naming the first PMEM_* variable the engine read whose value it does not take; else OK.
absl::Status CheckEnvironment();

absl::StatusOr<MapRequest> ValidateRequest(const Config& config, const Source& source);

// The file (dev, inode) or Device DAX (rdev) behind a descriptor source; kErrno if fstat fails.
absl::StatusOr<FileIdentity> IdentifyFile(const Source& source);

// OK unless `source` is a Device DAX of memory that does not survive a power loss: one not on an NVDIMM region
// (made by the hmem driver from soft-reserved memory, or a CXL RAM region's), or on an NVDIMM region of volatile
// memory (devtype nd_volatile), or one whose stores no persist makes durable (a virtio-pmem device's:
// ras_internal::Location::not_durable). No store granularity is met there,
// so Create() and FromExisting() refuse it (kGranularityNotSupported, naming the device); libpmem2 1.12.1 maps it
// like persistent memory and its persists report success. Errors reading sysfs are returned as they are.
absl::Status RefuseVolatileDeviceDax(const Source& source);

// For a regular file (mapped with MAP_SYNC by Create(), or adopted below page granularity by FromExisting()): "" if
// its file system's region keeps stores (or, stacked over NVDIMM regions, each of them does; or it has no block
// device), else why not: a file system on an NVDIMM region of volatile memory (directly or stacked), one whose
// attributes cannot be read (ras_internal::Location::not_durable), a block device sysfs shows on no NVDIMM region or
// does not show (sysfs not mounted), or sysfs failing to say where the file lies (the error's message).
// Create() and FromExisting() then give the Map page granularity, as a file system in RAM gets (its persists
// msync; nothing claims persistent memory).
std::string WhyMapSyncIsNotDurable(const Source& source);

// For a regular file that FromExisting() adopts below page granularity: "" if its stores can be made durable by the
// CPU, else why not: a file that cannot be mapped with MAP_SYNC (asked as Create() asks, with a one-page mapping; where
// that cannot be asked, statx's STATX_ATTR_DAX, 5.8 on): not DAX (tmpfs, a disk's file system: the page cache's pages,
// which only msync writes back), or DAX on a file system that cannot keep a page fault's metadata durable
// (virtio-pmem, virtiofs); libpmem2 1.12.1 takes the caller's byte or cache line for it, and its persists then report
// success over pages nothing wrote back. Else WhyMapSyncIsNotDurable's answer. A file that takes MAP_SYNC but whose
// mapping was made without it is not told apart (the mapping's flags are in /proc/self/smaps, whose reading walks
// every mapping's page tables).
std::string WhyAdoptedFileIsNotDurable(const Source& source);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_REQUEST_H_
