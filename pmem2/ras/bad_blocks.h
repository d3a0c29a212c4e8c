// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/bad_blocks.h
// -----------------------------------------------------------------------------
//
// The bad blocks of a Source: ranges of persistent memory with uncorrectable media errors ("poison"). Loading
// from a poisoned line through a mapping raises SIGBUS (a machine check); read them with mcsafe_io.h instead, or
// clear them (their content is lost and reads as zeros afterwards).
//
// Example:
//
//   absl::StatusOr<pmem2::BadBlocks> bad = pmem2::BadBlocks::Create(source);
//   if (!bad.ok()) return bad.status();
//   for (absl::StatusOr<pmem2::BadBlock> b = bad->Next(); b.ok(); b = bad->Next()) {
//     if (absl::Status s = bad->Clear(*b); !s.ok()) return s;  // then restore the range from a replica
//   }
//
// Medium by medium (the region, block device and Device DAX are found through sysfs; see region.h):
//   * a file on fsdax (a pmem block device or a partition of it): the block device's `badblocks` list (512-byte
//     sectors from its start) intersected with the file's extents (FIEMAP), as byte ranges of the file widened to
//     whole blocks of the file system (statfs f_bsize, its unit of allocation; libpmem2 widens to st_blksize, the
//     same unless a mount asks for larger I/O), merged where they overlap, cut at the file size. Clear()
//     deallocates the range (fallocate PUNCH_HOLE | KEEP_SIZE) and allocates it again (fallocate KEEP_SIZE): the
//     file system hands out other, clean blocks. A range that ends at the end of the file is taken to the end of
//     its block (no data is there; a process that extends the file meanwhile can lose what it wrote into that
//     block). Clear() replaces only whole blocks: the parts of blocks in a range given to it are zeroed in place
//     instead, which on fsdax is a store to the poisoned memory that the kernel refuses (EIO); the ranges from
//     Next() are whole blocks, but for one cut at the end of the file as it was at Create();
//   * a file on a sector-mode (BTT) namespace (pmemXs: the kernel shows no `badblocks` list for it, since the BTT
//     remaps its sectors): kNoSupp from Create(), naming the device, where the region's list has entries (they cannot
//     be placed in the file; "none" would be a wrong answer); no bad blocks where the region's list is empty;
//   * Device DAX on an NVDIMM region: the region's `badblocks` list (sectors from the region's start) inside the
//     device's range (its `resource` minus the region's `resource`, `size` bytes). Reading `resource` needs
//     root (the kernel shows physical addresses to root only): otherwise Create() fails with kCannotReadBounds
//     (as libpmem2; EACCES and why in the message), as for bounds that cannot be read or make no sense. Clear() is
//     kNoSupp: clearing poison under Device DAX needs the NVDIMM bus's clear-error command (ioctl
//     ND_IOCTL_CLEAR_ERROR on /dev/ndctlN with the physical address, libndctl's ndctl_bus_cmd_new_clear_error),
//     which pmem2 does not issue yet; `ndctl clear-errors` or writing the range does it outside pmem2;
//   * a file on a block device stacked over an NVDIMM's (device-mapper, md): kNoSupp from Create(), naming both
//     (the file's blocks cannot be followed to the NVDIMM through it; libpmem2 says there are none);
//   * a file on a file system whose anonymous device (major 0) hides the block device below (overlayfs's upper layer,
//     btrfs's or ZFS's devices, FUSE, a network file system: every one but those known to hold files in memory),
//     which may be an NVDIMM's: kNoSupp from Create(), naming the file system;
//   * a file on anything else (tmpfs, ramfs, hugetlbfs, a disk on no NVDIMM): no bad blocks; Next() at once says
//     kNoBadBlockFound;
//   * a Device DAX not on an NVDIMM region: kDaxRegionNotFound from Create();
//   * anonymous sources: kNoSupp from Create().
//
// The list is read once, by Create(): it is a snapshot. Clear() acts on the range it is given, as libpmem2 does,
// without reading the list again: if the file's blocks there moved since Create() (a copy-on-write write to a
// reflinked file, a defragmentation, the range rewritten), what the file holds there now is deallocated (read back
// as zeros) all the same. Clear ranges soon after reading them, and not ranges the application is rewriting.
// A BadBlocks holds a copy of the Source (not its descriptor, which stays the caller's and must stay open for
// Clear()). Thread-compatible.

#ifndef PMEM2_RAS_BAD_BLOCKS_H_
#define PMEM2_RAS_BAD_BLOCKS_H_

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/source/source.h"

namespace pmem2 {

// A bad range of a source, in bytes from the source's start.
struct BadBlock {
  uint64_t offset;
  uint64_t length;
};

class BadBlocks {
 public:
  // Reads the bad blocks of `source` (see above). Besides the errors above: kInvalidRegionFormat for a
  // malformed badblocks list or partition start, or a list that fills a page (the kernel cuts longer ones there, so
  // entries may be missing), kCannotReadBounds for a Device DAX whose `resource`/`size`
  // are no numbers or place it outside its region, errno errors from sysfs and FIEMAP (EOPNOTSUPP: a file
  // system on an NVDIMM that cannot say where a file's blocks are), kInvalidFileHandle if the descriptor was closed
  // or its number now names another file or device (Source::VerifyDescriptor), whose list would be a wrong answer.
  static absl::StatusOr<BadBlocks> Create(const Source& source);

  // The next bad block, in offset order; kNoBadBlockFound when there are no more.
  absl::StatusOr<BadBlock> Next();

  // Clears `bad_block` (see above for what that means per medium). kInvalidFileHandle if the descriptor no longer
  // names the file Create() read (Source::VerifyDescriptor: closed and its number reused); kOffsetOutOfRange /
  // kLengthOutOfRange if
  // its offset or length exceeds INT64_MAX (as libpmem2), kLengthOutOfRange if it reaches past the end of the
  // source (a range there is no bad block of this source); a length of 0 does nothing; errno errors from
  // fallocate (the range is then partly deallocated: its content was lost anyway).
  absl::Status Clear(const BadBlock& bad_block) const;

  // All bad blocks read by Create(), for callers that want the whole list.
  const std::vector<BadBlock>& all() const { return blocks_; }

 private:
  BadBlocks(Source source, std::vector<BadBlock> blocks) : source_(source), blocks_(std::move(blocks)) {}

  Source source_;
  std::vector<BadBlock> blocks_;
  size_t next_ = 0;
};

}  // namespace pmem2

#endif  // PMEM2_RAS_BAD_BLOCKS_H_
