// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/extents.h"

#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"

namespace pmem2 {
namespace ras_internal {
namespace {

constexpr uint32_t kExtentsPerCall = 64;
constexpr uint32_t kNoPlace =
    FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL;

// [a, a + a_len) and [b, b + b_len) without overflow: the overlap's start and length (0: none).
void Overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len, uint64_t* start, uint64_t* length) {
  const uint64_t a_end = a_len > UINT64_MAX - a ? UINT64_MAX : a + a_len;
  const uint64_t b_end = b_len > UINT64_MAX - b ? UINT64_MAX : b + b_len;
  *start = std::max(a, b);
  const uint64_t end = std::min(a_end, b_end);
  *length = end > *start ? end - *start : 0;
}

void SortByOffset(std::vector<ByteRange>* ranges) {
  std::sort(ranges->begin(), ranges->end(),
            [](const ByteRange& x, const ByteRange& y) { return x.offset < y.offset; });
}

}  // namespace

absl::StatusOr<std::vector<Extent>> ReadExtents(int fd) {
  // struct fiemap ends in a flexible array of extents: room for kExtentsPerCall of them after it.
  alignas(struct fiemap) unsigned char buffer[sizeof(struct fiemap) + kExtentsPerCall * sizeof(struct fiemap_extent)];
  struct fiemap* map = reinterpret_cast<struct fiemap*>(buffer);
  std::vector<Extent> extents;
  uint64_t start = 0;
  for (;;) {
    std::memset(buffer, 0, sizeof buffer);
    map->fm_start = start;
    map->fm_length = FIEMAP_MAX_OFFSET - start;
    map->fm_flags = FIEMAP_FLAG_SYNC;
    map->fm_extent_count = kExtentsPerCall;
    int rc;
    do {
      rc = ioctl(fd, FS_IOC_FIEMAP, map);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
      const int err = errno;
      return MakeErrnoError(err, absl::StrCat("FIEMAP of file descriptor ", fd, " from byte ", start));
    }
    const uint32_t mapped = std::min(map->fm_mapped_extents, kExtentsPerCall);
    if (mapped == 0) break;
    bool last = false;
    for (uint32_t i = 0; i < mapped; ++i) {
      const struct fiemap_extent& e = map->fm_extents[i];
      if ((e.fe_flags & FIEMAP_EXTENT_LAST) != 0) last = true;
      if (e.fe_length > 0 && e.fe_logical <= FIEMAP_MAX_OFFSET - e.fe_length) {
        start = std::max<uint64_t>(start, e.fe_logical + e.fe_length);
      } else {
        last = true;  // an extent to the end of all offsets: nothing can follow
      }
      if ((e.fe_flags & kNoPlace) == 0 && e.fe_length > 0) {
        extents.push_back(Extent{e.fe_logical, e.fe_physical, e.fe_length});
      }
    }
    if (last || start >= FIEMAP_MAX_OFFSET) break;
  }
  return extents;
}

std::vector<ByteRange> FileBadRanges(const std::vector<Extent>& extents, const std::vector<ByteRange>& bad,
                                     uint64_t partition_start, uint64_t file_size, uint64_t block_size) {
  if (block_size == 0 || (block_size & (block_size - 1)) != 0) block_size = 1;
  std::vector<ByteRange> out;
  for (const Extent& e : extents) {
    if (e.physical > UINT64_MAX - partition_start) continue;
    const uint64_t disk_start = partition_start + e.physical;
    for (const ByteRange& b : bad) {
      uint64_t start, length;
      Overlap(disk_start, e.length, b.offset, b.length, &start, &length);
      if (length == 0) continue;
      const uint64_t into_extent = start - disk_start;
      if (e.logical > UINT64_MAX - into_extent) continue;
      // The whole blocks: the file system allocates, and Clear() replaces, nothing smaller. Extents are whole blocks
      // of the file system, so the widened range is still this extent's (with a larger block_size it may reach into
      // the next one's: the merge below takes care of ranges that then overlap).
      const uint64_t begin = (e.logical + into_extent) & ~(block_size - 1);
      const uint64_t end_unaligned = e.logical + into_extent + std::min(length, UINT64_MAX - e.logical - into_extent);
      const uint64_t end = end_unaligned > UINT64_MAX - (block_size - 1)
                               ? UINT64_MAX
                               : (end_unaligned + block_size - 1) & ~(block_size - 1);
      if (begin >= file_size) continue;
      out.push_back(ByteRange{begin, std::min(end, file_size) - begin});
    }
  }
  SortByOffset(&out);
  // Two bad sectors of one block are one bad block.
  std::vector<ByteRange> merged;
  for (const ByteRange& r : out) {
    if (!merged.empty() && r.offset < merged.back().offset + merged.back().length) {
      ByteRange& last = merged.back();
      last.length = std::max(last.offset + last.length, r.offset + r.length) - last.offset;
    } else {
      merged.push_back(r);
    }
  }
  return merged;
}

std::vector<ByteRange> WindowBadRanges(const std::vector<ByteRange>& bad, uint64_t window_start,
                                       uint64_t window_length) {
  std::vector<ByteRange> out;
  for (const ByteRange& b : bad) {
    uint64_t start, length;
    Overlap(window_start, window_length, b.offset, b.length, &start, &length);
    if (length > 0) out.push_back(ByteRange{start - window_start, length});
  }
  SortByOffset(&out);
  return out;
}

}  // namespace ras_internal
}  // namespace pmem2
