// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/bad_blocks.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/ras/extents.h"
#include "pmem2/ras/region.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {
namespace {

using ras_internal::ByteRange;
using ras_internal::Location;

// The file system's block for `fd`, its unit of allocation (statfs f_bsize; fsdax needs it to be the page size).
// libpmem2 widens to st_blksize, the preferred I/O size, which is the same on ext4 and xfs unless a mount asks for
// larger I/O (xfs largeio with a stripe unit, allocsize): then up to a stripe of good data would go with each bad
// sector.
absl::StatusOr<uint64_t> FileBlockSize(int fd) {
  struct statfs fs;
  if (fstatfs(fd, &fs) != 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("fstatfs of file descriptor ", fd));
  }
  return static_cast<uint64_t>(fs.f_bsize > 0 ? fs.f_bsize : 1);
}

// A badblocks file's ranges; none if the file does not exist (a device that keeps no list), which sets `*missing`
// where given: a block device on a region without one is no device without poison (FileBadBlocks).
absl::StatusOr<std::vector<ByteRange>> ReadBadBlockList(const std::string& path, bool* missing = nullptr) {
  absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(path);
  if (!text.ok()) {
    if (GetErrno(text.status()) == ENOENT) {
      if (missing != nullptr) *missing = true;
      return std::vector<ByteRange>();
    }
    return text.status();
  }
  // The kernel prints a list into one page and cuts it there (badblocks_show: up to 512 entries, ~300 fit), maybe in
  // the middle of a line ("3012345678 16" read as "3012345678 1"): a list that fills the page (less its final
  // newline, which the read strips) may have lost entries, and is refused rather than taken as the whole list.
  if (const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE)); text->size() + 2 >= page) {
    return MakeError(ErrorCode::kInvalidRegionFormat,
                     absl::StrCat(path, " holds ", text->size(),
                                  " bytes, a whole page: the kernel cuts a longer list "
                                  "there, so some bad blocks may be missing from it (clear some, e.g. with ndctl "
                                  "clear-errors, or scrub again)"));
  }
  return ras_internal::ParseBadBlocks(*text, path);
}

absl::StatusOr<std::vector<ByteRange>> FileBadBlocks(const Source& source, const Location& location) {
  bool device_list_missing = false;
  absl::StatusOr<std::vector<ByteRange>> device_bad =
      ReadBadBlockList(location.device_dir + "/badblocks", &device_list_missing);
  if (device_list_missing) {
    // The kernel hides a block device's list where its driver keeps none (disk->bb unset): a sector-mode (BTT)
    // namespace's pmemXs, whose sectors the BTT remaps through its own map. The region's list still holds the poison
    // in that namespace, which cannot be placed in the file: "none" is the answer only where the region has none.
    absl::StatusOr<std::vector<ByteRange>> region_bad = ReadBadBlockList(location.region_dir + "/badblocks");
    if (!region_bad.ok() || region_bad->empty()) return region_bad;
    const std::string device = location.device_dir.substr(location.device_dir.rfind('/') + 1);  // npos + 1: 0
    // Named a BTT only where sysfs says so (the device below a btt* folder); another cause is not guessed at.
    const bool btt = location.device_dir.find("/btt") != std::string::npos;
    return MakeError(
        ErrorCode::kNoSupp,
        absl::StrCat(
            "no bad-block list: its file system's block device ", device, " keeps none, while its region ",
            location.region_name, " lists ", region_bad->size(), " bad ranges",
            btt ? absl::StrCat("; ", device,
                               " is a sector-mode (BTT) namespace: its blocks cannot be mapped to the region's")
                : ", which cannot be placed in the file without it"));
  }
  if (!device_bad.ok() || device_bad->empty()) return device_bad;
  absl::StatusOr<uint64_t> size = source.Size();
  if (!size.ok()) return size.status();
  absl::StatusOr<std::vector<ras_internal::Extent>> extents = ras_internal::ReadExtents(source.fd());
  if (!extents.ok()) return extents.status();
  absl::StatusOr<uint64_t> block_size = FileBlockSize(source.fd());
  if (!block_size.ok()) return block_size.status();
  return ras_internal::FileBadRanges(*extents, *device_bad, location.partition_start, *size, *block_size);
}

// One of a Device DAX's bounds (its region's or its own `resource` or `size`): kCannotReadBounds however it cannot be
// read, as libpmem2 answers (pmem2_badblock_context_new(3)), the reason in the message: EACCES for a caller that is
// not root (the kernel shows physical addresses to root only).
absl::StatusOr<uint64_t> ReadBound(const std::string& path) {
  absl::StatusOr<uint64_t> value = ras_internal::ReadUnsignedAttribute(path, ErrorCode::kCannotReadBounds);
  if (value.ok() || GetErrorCode(value.status()) != ErrorCode::kErrno) return value;
  const int err = GetErrno(value.status());
  return MakeError(
      ErrorCode::kCannotReadBounds,
      absl::StrCat(value.status().message(),
                   err == EACCES || err == EPERM ? " (the kernel shows these addresses to root only)" : ""));
}

absl::StatusOr<std::vector<ByteRange>> DaxBadBlocks(const Location& location) {
  absl::StatusOr<std::vector<ByteRange>> region_bad = ReadBadBlockList(location.region_dir + "/badblocks");
  if (!region_bad.ok() || region_bad->empty()) return region_bad;
  absl::StatusOr<uint64_t> region_start = ReadBound(location.region_dir + "/resource");
  if (!region_start.ok()) return region_start.status();
  absl::StatusOr<uint64_t> device_start = ReadBound(location.device_dir + "/resource");
  if (!device_start.ok()) return device_start.status();
  absl::StatusOr<uint64_t> device_size = ReadBound(location.device_dir + "/size");
  if (!device_size.ok()) return device_size.status();
  if (*device_start < *region_start) {
    return MakeError(ErrorCode::kCannotReadBounds,
                     absl::StrCat("Device DAX ", location.device_dir, " starts at 0x", absl::Hex(*device_start),
                                  ", before its region ", location.region_name, " (0x", absl::Hex(*region_start),
                                  ")"));
  }
  // And ends inside it: past its end, the region's list says nothing of the device's last bytes, and an empty
  // answer there would be a wrong one.
  absl::StatusOr<uint64_t> region_size = ReadBound(location.region_dir + "/size");
  if (!region_size.ok()) return region_size.status();
  const uint64_t into_region = *device_start - *region_start;
  if (into_region > *region_size || *device_size > *region_size - into_region) {
    return MakeError(ErrorCode::kCannotReadBounds,
                     absl::StrCat("Device DAX ", location.device_dir, " (0x", absl::Hex(*device_size), " bytes at 0x",
                                  absl::Hex(*device_start), ") ends past its region ", location.region_name, " (0x",
                                  absl::Hex(*region_size), " bytes at 0x", absl::Hex(*region_start), ")"));
  }
  return ras_internal::WindowBadRanges(*region_bad, *device_start - *region_start, *device_size);
}

int Fallocate(int fd, int mode, uint64_t offset, uint64_t length) {
  const internal::ScopedNoCancellation no_cancellation;  // glibc's fallocate() is a cancellation point
  int rc;
  do {
    rc = fallocate(fd, mode, static_cast<off_t>(offset), static_cast<off_t>(length));
  } while (rc < 0 && errno == EINTR);
  return rc;
}

}  // namespace

absl::StatusOr<BadBlocks> BadBlocks::Create(const Source& source) {
  if (source.kind() == SourceKind::kAnonymous) {
    return MakeError(ErrorCode::kNoSupp, "an anonymous source has no bad blocks to read");
  }
  absl::StatusOr<Location> location = ras_internal::LocateSource(source);
  if (!location.ok()) return location.status();
  absl::StatusOr<std::vector<ByteRange>> ranges;
  if (location->region_dir.empty()) {
    if (source.kind() == SourceKind::kDeviceDax) {
      return MakeError(ErrorCode::kDaxRegionNotFound, absl::StrCat("no bad-block list: ", location->not_on_nvdimm));
    }
    if (!location->stacked_over_nvdimm.empty()) {
      // Persistent memory all the same: "no bad blocks" would be a confident wrong answer.
      return MakeError(ErrorCode::kNoSupp, absl::StrCat("no bad-block list: ", location->stacked_over_nvdimm));
    }
    if (!location->device_hidden.empty()) {
      // Perhaps persistent memory (an overlay's upper layer, btrfs): "no bad blocks" would be a guess.
      return MakeError(ErrorCode::kNoSupp, absl::StrCat("no bad-block list: ", location->device_hidden));
    }
    ranges = std::vector<ByteRange>();  // not persistent memory: no poison to track
  } else if (source.kind() == SourceKind::kDeviceDax) {
    ranges = DaxBadBlocks(*location);
  } else {
    ranges = FileBadBlocks(source, *location);
  }
  if (!ranges.ok()) return ranges.status();
  std::vector<BadBlock> blocks;
  blocks.reserve(ranges->size());
  for (const ByteRange& r : *ranges) blocks.push_back(BadBlock{r.offset, r.length});
  return BadBlocks(source, std::move(blocks));
}

absl::StatusOr<BadBlock> BadBlocks::Next() {
  if (next_ >= blocks_.size()) {
    return MakeError(ErrorCode::kNoBadBlockFound,
                     blocks_.empty() ? "the source has no bad blocks"
                                     : absl::StrCat("no more bad blocks (all ", blocks_.size(), " were returned)"));
  }
  return blocks_[next_++];
}

absl::Status BadBlocks::Clear(const BadBlock& bad_block) const {
  if (bad_block.offset > static_cast<uint64_t>(INT64_MAX)) {
    return MakeError(ErrorCode::kOffsetOutOfRange,
                     absl::StrCat("bad block offset ", bad_block.offset, " is past INT64_MAX"));
  }
  if (bad_block.length > static_cast<uint64_t>(INT64_MAX)) {
    return MakeError(ErrorCode::kLengthOutOfRange,
                     absl::StrCat("bad block length ", bad_block.length, " is past INT64_MAX"));
  }
  if (bad_block.length == 0) return absl::OkStatus();
  // Deallocating is destructive: only in the file the BadBlocks was made for, not one that took its descriptor's
  // number.
  if (absl::Status s = source_.VerifyDescriptor(); !s.ok()) return s;
  absl::StatusOr<uint64_t> size = source_.Size();
  if (!size.ok()) return size.status();
  if (bad_block.offset > *size || bad_block.length > *size - bad_block.offset) {
    return MakeError(ErrorCode::kLengthOutOfRange,
                     absl::StrCat("bad block [", bad_block.offset, ", +", bad_block.length,
                                  ") reaches past the end of the source (", *size, " bytes)"));
  }
  if (source_.kind() == SourceKind::kDeviceDax) {
    return MakeError(ErrorCode::kNoSupp,
                     absl::StrCat("clearing bad block [", bad_block.offset, ", +", bad_block.length,
                                  ") of a Device DAX needs the NVDIMM bus's clear-error command "
                                  "(ND_IOCTL_CLEAR_ERROR), which pmem2 does not issue; use `ndctl clear-errors`"));
  }
  const int fd = source_.fd();
  // A range that ends at the end of the file ends in its last block: what follows in that block is no data, and is
  // given up too, so that the whole block is replaced. Part of a block is not deallocated but zeroed in place,
  // which on fsdax is a store to the poisoned page through the kernel's direct access, which refuses it (EIO).
  uint64_t length = bad_block.length;
  if (bad_block.offset + length == *size) {
    absl::StatusOr<uint64_t> block = FileBlockSize(fd);
    if (!block.ok()) return block.status();
    if ((*block & (*block - 1)) == 0) length = ((*size + *block - 1) & ~(*block - 1)) - bad_block.offset;
  }
  if (Fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, bad_block.offset, length) != 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("fallocate(PUNCH_HOLE) of bad block [", bad_block.offset, ", +", length,
                                            ") of file descriptor ", fd));
  }
  if (Fallocate(fd, FALLOC_FL_KEEP_SIZE, bad_block.offset, length) != 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("fallocate of new blocks for bad block [", bad_block.offset, ", +", length,
                                            ") of file descriptor ", fd));
  }
  return absl::OkStatus();
}

}  // namespace pmem2
