// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/request.h"

#include "pmem2/map/adopt_for_test.h"  // defined here

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/granularity.h"
#include "pmem2/ras/region.h"

namespace pmem2 {
namespace map_internal {
namespace {

// The mapped length from the config's offset and length; the range errors Map::Create() documents.
absl::StatusOr<size_t> ResolveLength(const Config& config, SourceKind kind, uint64_t source_size, size_t alignment) {
  const bool anonymous = kind == SourceKind::kAnonymous;
  const uint64_t offset = config.offset();
  if (offset % alignment != 0) {
    return MakeError(ErrorCode::kOffsetUnaligned,
                     absl::StrCat("offset ", offset, " is not a multiple of the source alignment ", alignment));
  }
  if (source_size == 0) {
    return MakeError(ErrorCode::kSourceEmpty,
                     absl::StrCat(anonymous ? "the anonymous source" : "the file", " has size 0: nothing to map"));
  }
  uint64_t length = config.length();
  if (length != 0 && length % alignment != 0) {
    return MakeError(ErrorCode::kLengthUnaligned,
                     absl::StrCat("length ", length, " is not a multiple of the source alignment ", alignment));
  }
  if (length == 0 && anonymous) {
    // As libpmem2: an anonymous source's offset is validated but selects nothing (pmem2_source_from_anon(3):
    // "the offset value for mapping is ignored"); length 0 maps the whole source.
    if (offset > source_size) {
      return MakeError(ErrorCode::kMapRange, absl::StrCat("offset ", offset, " is past the end of the ",
                                                          source_size, "-byte anonymous source"));
    }
    length = source_size;
  } else if (length == 0) {
    if (offset >= source_size) {
      // libpmem2 1.12.1 passes this case to mmap and returns its -EINVAL; the range is what is wrong.
      return MakeError(ErrorCode::kMapRange, absl::StrCat("offset ", offset, " is at or past the end of the ",
                                                          source_size, "-byte source: nothing to map"));
    }
    length = source_size - offset;
    if (length % alignment != 0 && alignment > static_cast<uint64_t>(sysconf(_SC_PAGESIZE))) {
      // A hugetlbfs file can be given such a size (fallocate): the kernel would map a whole huge page past its
      // end, over what follows, and grow the file to it. (A file's last partial page is no such problem.)
      // A Device DAX whose sysfs size is no multiple of its alignment: no length helps (each multiple of the
      // alignment that fits is shorter than what is left); say what is wrong with the device instead.
      if (kind == SourceKind::kDeviceDax) {
        return MakeError(ErrorCode::kLengthUnaligned,
                         absl::StrCat("the Device DAX's size ", source_size, " less the offset ", offset,
                                      " is not a multiple of its alignment ", alignment,
                                      ": give a length that is, or check the device's size and align in sysfs"));
      }
      return MakeError(ErrorCode::kLengthUnaligned,
                       absl::StrCat("the source's size ", source_size, " less the offset ", offset,
                                    " is not a multiple of the source alignment ", alignment,
                                    " (a hugetlbfs file's huge page): give a length"));
    }
  } else if (length > std::numeric_limits<uint64_t>::max() - offset) {
    return MakeError(ErrorCode::kMapRange,
                     absl::StrCat("offset ", offset, " + length ", length, " overflows 64 bits"));
  } else if (offset + length > source_size) {
    return MakeError(ErrorCode::kMapRange, absl::StrCat("offset ", offset, " + length ", length,
                                                        " passes the end of the ", source_size, "-byte source"));
  }
  if (offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    return MakeError(ErrorCode::kMapRange,
                     absl::StrCat("offset ", offset, " + length ", length, " cannot be mapped on this system"));
  }
  return static_cast<size_t>(length);
}

}  // namespace

// Persistence errors are shared among the shared mappings of one file (or one Device DAX).
absl::StatusOr<FileIdentity> IdentifyFile(const Source& source) {
  struct stat st;
  if (fstat(source.fd(), &st) != 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("fstat of file descriptor ", source.fd()));
  }
  FileIdentity id;
  id.valid = true;
  if (source.kind() == SourceKind::kDeviceDax) {
    id.device = st.st_rdev;
    id.device_dax = true;
  } else {
    id.device = st.st_dev;
    id.inode = st.st_ino;
  }
  return id;
}

absl::Status RefuseVolatileDeviceDax(const Source& source) {
  if (source.kind() != SourceKind::kDeviceDax) return absl::OkStatus();
  absl::StatusOr<ras_internal::Location> location = ras_internal::LocateSource(source);
  if (!location.ok()) return location.status();
  if (!location->region_dir.empty() && location->not_durable.empty()) return absl::OkStatus();
  if (location->region_dir.empty()) {
    return MakeError(ErrorCode::kGranularityNotSupported,
                     absl::StrCat(location->not_on_nvdimm,
                                  ": its memory does not survive a power loss, so no store granularity can be met"));
  }
  return MakeError(ErrorCode::kGranularityNotSupported,
                   absl::StrCat(location->not_durable, ", so no store granularity can be met"));
}

namespace {
std::atomic<bool> non_dax_files_adopted_as_dax{false};  // adopt_for_test.h
}  // namespace

std::string WhyMapSyncIsNotDurable(const Source& source) {
  absl::StatusOr<ras_internal::Location> location = ras_internal::LocateSource(source);
  if (!location.ok()) {
    return absl::StrCat("where the file lies cannot be told (", location.status().message(), ")");
  }
  if (!location->not_durable.empty() || !location->region_dir.empty() || !location->stacked_over_nvdimm.empty()) {
    return location->not_durable;
  }
  // On a block device sysfs does not show (not mounted, or masked) or shows on no NVDIMM region (a DAX driver that is
  // no NVDIMM's): MAP_SYNC was accepted, so the medium is one whose durability sysfs cannot tell. Not a file system
  // with no block device (tmpfs, which never accepts MAP_SYNC: only a test adopting its files as DAX asks), nor, in
  // such a test, a disk's block device on no region or a file system hiding its device (btrfs, overlayfs: neither
  // accepts MAP_SYNC), the test's stand-in for persistent memory.
  struct stat st;
  if (fstat(source.fd(), &st) == 0 && major(st.st_dev) == 0 && location->device_hidden.empty()) return std::string();
  if ((!location->device_dir.empty() || !location->device_hidden.empty()) &&
      non_dax_files_adopted_as_dax.load(std::memory_order_relaxed)) {
    return std::string();
  }
  return absl::StrCat(location->not_on_nvdimm, ", so the durability of the medium that took MAP_SYNC cannot be told");
}


void SetNonDaxFilesAdoptedAsDaxForTest(bool yes) { non_dax_files_adopted_as_dax.store(yes); }
bool NonDaxFilesAdoptedAsDaxForTest() { return non_dax_files_adopted_as_dax.load(); }

std::string WhyAdoptedFileIsNotDurable(const Source& source) {
  if (non_dax_files_adopted_as_dax.load(std::memory_order_relaxed)) return WhyMapSyncIsNotDurable(source);
  // Create()'s question (placement.cc): a mapping of one page with MAP_SYNC, made and unmapped at once. Refused
  // (EOPNOTSUPP; EINVAL before Linux 4.15), no mapping of the file keeps a page fault's metadata durable without
  // msync: tmpfs, a disk's file system, and DAX file systems that cannot (virtio-pmem, whose writes need the device's
  // flush; virtiofs or FUSE with -o dax; ext2), which statx calls DAX. Read-only, so that a descriptor that does not
  // write is asked too; another refusal (ENODEV, EAGAIN, a seccomp filter) leaves it to statx.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* const probe = mmap(nullptr, page, PROT_READ, MAP_SHARED_VALIDATE | MAP_SYNC, source.fd(), 0);
  if (probe != MAP_FAILED) {
    munmap(probe, page);
    return WhyMapSyncIsNotDurable(source);
  }
  if (errno == EOPNOTSUPP || errno == EINVAL) {
    return "the file cannot be mapped with MAP_SYNC (not DAX, or a DAX file system that cannot keep a page fault's "
           "metadata durable): only msync makes its stores durable";
  }
  // Mask 0: the attributes come whatever is asked for, and nothing else is fetched or synced (NFS).
  struct statx st;
  if (statx(source.fd(), "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0, &st) == 0 &&
      (st.stx_attributes_mask & STATX_ATTR_DAX) != 0 && (st.stx_attributes & STATX_ATTR_DAX) == 0) {
    return "the file is not DAX (statx): its stores reach it through the page cache, which only msync writes back";
  }
  return WhyMapSyncIsNotDurable(source);
}

absl::Status CheckEnvironment() {
  if (const std::string& invalid = arch::InvalidEnvironment(); !invalid.empty()) {
    return MakeError(ErrorCode::kInvalidEnvironment, absl::StrCat(invalid, " (pmem2 reads it once per process)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<MapRequest> ValidateRequest(const Config& config, const Source& source) {
  if (absl::Status s = config.Validate(); !s.ok()) return s;
  MapRequest request;
  request.required = *config.required_store_granularity();
  absl::StatusOr<absl::optional<StoreGranularity>> forced = ForcedGranularity();
  if (!forced.ok()) return forced.status();
  request.forced = *forced;
  if (absl::Status s = CheckEnvironment(); !s.ok()) return s;

  request.kind = source.kind();
  request.fd = source.fd();
  // The file or device FromFd() found, not one that took its descriptor's number since: that one would be mapped,
  // given blocks (set_fully_allocated) and charged with this Map's failures.
  if (absl::Status s = source.VerifyDescriptor(); !s.ok()) return s;
  // The alignment first, as libpmem2 asks (map_posix.c): where a Device DAX's sysfs holds neither, its error.
  absl::StatusOr<size_t> alignment = source.Alignment();
  if (!alignment.ok()) return alignment.status();
  absl::StatusOr<uint64_t> source_size = source.Size();
  if (!source_size.ok()) return source_size.status();
  request.source_size = *source_size;
  request.source_alignment = *alignment;
  // libpmem2's order (map_posix.c): the offset (ResolveLength's first check), Device DAX's sharing, the length.
  if (config.offset() % *alignment == 0 && config.sharing() == Sharing::kPrivate &&
      source.kind() == SourceKind::kDeviceDax) {
    return MakeError(ErrorCode::kSrcDevdaxPrivate, "Device DAX cannot be mapped private (MAP_PRIVATE)");
  }
  absl::StatusOr<size_t> length = ResolveLength(config, request.kind, *source_size, *alignment);
  if (!length.ok()) return length.status();
  request.offset = config.offset();
  request.length = *length;

  request.is_private = config.sharing() == Sharing::kPrivate;
  request.protection = config.protection();
  request.fully_allocated = config.fully_allocated();
  if (!request.is_private && HasAll(request.protection, kProtWrite)) {
    absl::StatusOr<bool> writable = source.Writable();
    if (!writable.ok()) return writable.status();
    if (!*writable) {
      return MakeError(ErrorCode::kNoAccess,
                       absl::StrCat("file descriptor ", source.fd(),
                                    " is read-only but the shared mapping asks for write protection"));
    }
  }
  // A Device DAX whose memory no granularity can persist, before the address space's limit (map.h's order).
  if (absl::Status s = RefuseVolatileDeviceDax(source); !s.ok()) return s;
  // The range lies inside the source (ResolveLength): the request is valid, the address space cannot hold it
  // (user space is 2^47 or 2^56 bytes). So ENOMEM, as mmap(2) answers and libpmem2 returns, not a range error,
  // and in the place of mmap's errors (Map::Create's order); refused before the placement and reservations
  // round the length up to pages or alignments.
  if (request.length > std::numeric_limits<size_t>::max() / 2) {
    return MakeErrnoError(ENOMEM, absl::StrCat("offset ", request.offset, " + length ", request.length,
                                               " is more than the address space can map"));
  }
  if (request.shared_file()) {
    absl::StatusOr<FileIdentity> file = IdentifyFile(source);
    if (!file.ok()) return file.status();
    request.file = *file;
  }
  return request;
}

}  // namespace map_internal
}  // namespace pmem2
