// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/placement.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2 (and tools/bench, which places its reference mappings the same way): step 2 of
// Map::Create(), putting a checked MapRequest into the address space.
//
//   * The address is aligned to 2 MiB (1 GiB for mappings of 2 GiB and more, or the Device DAX alignment if
//     larger), so the kernel can back the mapping with huge pages.
//   * Shared file mappings ask for MAP_SHARED_VALIDATE | MAP_SYNC first: the kernel accepts it only where page
//     tables stay valid without msync (DAX), which is what makes cache-line and byte granularity possible.
//   * Config::set_fully_allocated: the file blocks behind the range are allocated before anything is mapped.

#ifndef PMEM2_MAP_PLACEMENT_H_
#define PMEM2_MAP_PLACEMENT_H_

#include <sys/types.h>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/map/request.h"

namespace pmem2 {
namespace map_internal {

// Maps `length` bytes at an address aligned to `alignment` (a power of two): reserves length + alignment of
// address space, maps over the aligned part with MAP_FIXED, and returns the slack. MAP_FAILED with errno set
// on failure, as mmap.
void* MapAligned(size_t length, size_t alignment, int prot, int flags, int fd, off_t offset);

// The address alignment for a mapping of `length` bytes of a source with `source_alignment`.
size_t AddressAlignment(size_t length, size_t source_alignment);

// Config::set_fully_allocated: allocates the file blocks behind the request's range (as far as the file
// reaches) with fallocate(FALLOC_FL_KEEP_SIZE), or posix_fallocate where the file system has no fallocate; nothing
// for requests whose stores cannot allocate blocks. ENOSPC / EDQUOT as
// kResourceExhausted.
absl::Status AllocateFileBlocks(const MapRequest& request);

struct Placement {
  void* address = nullptr;
  size_t alignment = 0;
  bool synchronous = false;  // MAP_SYNC accepted, or Device DAX (always synchronous)
  int flags = 0;             // the mmap flags of the mapping, without MAP_FIXED
};

// mmap with the request's protection and sharing, at an aligned address of the system's choosing, or exactly at
// `fixed_address` when it is not null (a range of a VmReservation claimed for this mapping, which the mapping
// replaces). kNoAccess for EACCES on a file, kErrno otherwise. At `fixed_address`, a failed mmap that unmapped the
// placeholder first leaves a hole that RefillHole() fills again (a failure that kept the placeholder, the rule, leaves
// nothing to fill); where another thread's mmap took part of it before (not its first page, which tells a hole),
// `*fixed_range_lost` (if given) is set: part of the range is another mapping's, which nothing may map over or unmap
// (the claim must be abandoned, not released), and no second mmap is tried there.
absl::StatusOr<Placement> Place(const MapRequest& request, void* fixed_address = nullptr,
                                bool* fixed_range_lost = nullptr);

// A PROT_NONE placeholder over [address, +length) rounded up to pages, as a reservation's (MAP_PRIVATE | MAP_ANONYMOUS
// | MAP_NORESERVE), that replaces nothing (MAP_FIXED_NOREPLACE): for after a MAP_FIXED mmap there failed, which may
// have unmapped what it was to replace first (before Linux 6.12 as a rule, from 6.12 still when the file system's mmap
// method fails). It fits only in a hole, which is then the caller's again before another thread's mmap can take it;
// elsewhere (the kernel kept what was there) it changes nothing. Not covered: another thread's mmap that took part of
// the hole before this call (this one then fails). True if it was placed (at `address`). errno is left as it was.
bool RefillHole(void* address, size_t length);

// mmap(2)'s signature: the call Place() makes at a fixed address, which tests replace (placement_for_test.h).
using FixedMmapFn = void* (*)(void* address, size_t length, int prot, int flags, int fd, off_t offset);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_PLACEMENT_H_
