// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/mcsafe_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/map/granularity.h"
#include "pmem2/ras/sigbus_guard.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {
namespace {

absl::Status CheckRange(const Source& source, size_t size, uint64_t offset, const char* what) {
  if (source.kind() == SourceKind::kAnonymous) {
    return MakeError(ErrorCode::kSourceTypeNotSupported,
                     absl::StrCat("machine-check-safe ", what,
                                  ": an anonymous source has no file to read or write; only sources made "
                                  "from a file descriptor are supported"));
  }
  absl::StatusOr<uint64_t> source_size = source.Size();
  if (!source_size.ok()) return source_size.status();
  if (offset > *source_size || size > *source_size - offset) {
    return MakeError(ErrorCode::kLengthOutOfRange,
                     absl::StrCat("machine-check-safe ", what, " of ", size, " bytes at offset ", offset,
                                  " reaches past the end of the source (", *source_size, " bytes)"));
  }
  return absl::OkStatus();
}

absl::Status FileError(int err, const char* what, size_t size, uint64_t offset, uint64_t at, int fd) {
  if (err == EIO) {
    return MakeError(ErrorCode::kIoFail,
                     absl::StrCat(what, " of ", size, " bytes at offset ", offset, " of file descriptor ", fd,
                                  ": EIO at offset ", at, " (a bad block, or a failing device)"));
  }
  return MakeErrnoError(err, absl::StrCat(what, " of ", size, " bytes at offset ", offset,
                                          " of file descriptor ", fd, ", at offset ", at));
}

// Writes a regular file through a mapping of whole `alignment` units (ras_internal::MappedCopy): a descriptor that
// appends, or a hugetlbfs file (no write(2)). A hugetlbfs file grows to the end of any writable mapping of it, so its
// last huge page, if only part of it lies in the file (a size fallocate can give), is refused, not written.
absl::Status WriteThroughMapping(const Source& source, const void* buf, size_t size, uint64_t offset,
                                 size_t alignment) {
  if (alignment > static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
    absl::StatusOr<uint64_t> file_size = source.Size();
    if (!file_size.ok()) return file_size.status();
    const uint64_t end = offset + size;  // inside the file as CheckRange saw it: end <= INT64_MAX, no wrap below
    const uint64_t mapped_end = (end + alignment - 1) / alignment * alignment;
    if (mapped_end > *file_size) {  // read again: the file may have shrunk since
      return MakeError(ErrorCode::kLengthUnaligned,
                       absl::StrCat("write of ", size, " bytes at offset ", offset, " of file descriptor ", source.fd(),
                                    " would map the file up to ", mapped_end, " in whole huge pages of ", alignment,
                                    ", past its ", *file_size, " bytes (the last ", *file_size % alignment,
                                    " bytes are no whole huge page): mapping it would grow the hugetlbfs file"));
    }
  } else if (size > 0) {
    // A store to a hole of a shared mapping allocates its block in the fault (page_mkwrite), and a full file system
    // fails it with a SIGBUS that would read as a bad block. Allocated first, ENOSPC is said as such. The whole mapped
    // pages, not only the bytes written: the first store into a page allocates blocks for all of it up to the end of
    // the file (block sizes below the page's, ext4's delayed allocation), so a few bytes next to holes of the same page
    // still faulted. Clipped to the file's size, read again, never below the bytes written (KEEP_SIZE: a file that
    // shrank since is not grown back).
    // Not covered: copy-on-write files (btrfs, reflinked xfs), whose stores need new blocks however allocated; a large
    // folio (a file system that caches a file in pieces bigger than a page) allocated beyond the mapped pages; and a
    // file system without fallocate (EOPNOTSUPP: the write goes on as before).
    absl::StatusOr<uint64_t> file_size = source.Size();
    if (!file_size.ok()) return file_size.status();
    const uint64_t first = offset & ~static_cast<uint64_t>(alignment - 1);
    const uint64_t end = offset + size;  // inside the file as CheckRange saw it: end <= INT64_MAX, no wrap below
    const uint64_t mapped_end = std::min<uint64_t>((end + alignment - 1) & ~static_cast<uint64_t>(alignment - 1),
                                                   std::max<uint64_t>(*file_size, end));
    int rc;
    do {
      rc = fallocate(source.fd(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(first),
                     static_cast<off_t>(mapped_end - first));
    } while (rc < 0 && errno == EINTR);
    if (rc != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
      return FileError(errno, "fallocate before a write through a mapping", size, offset, first, source.fd());
    }
  }
  return ras_internal::MappedCopy(source.fd(), offset, const_cast<void*>(buf), size, /*write=*/true, alignment);
}

}  // namespace

absl::Status ReadMcsafe(const Source& source, void* buf, size_t size, uint64_t offset) {
  const internal::ScopedNoCancellation no_cancellation;  // pread() is a cancellation point
  if (absl::Status s = CheckRange(source, size, offset, "read"); !s.ok()) return s;
  if (source.kind() == SourceKind::kDeviceDax) {
    absl::StatusOr<size_t> alignment = source.Alignment();
    if (!alignment.ok()) return alignment.status();
    return ras_internal::MappedCopy(source.fd(), offset, buf, size, /*write=*/false, *alignment);
  }
  char* out = static_cast<char*>(buf);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(source.fd(), out + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EFAULT) {
      // The caller's buffer, or the file's: on DAX a machine check that the block device does not list as a bad
      // block yet (a latent error) ends the kernel's copy, and the read fails with EFAULT at that offset. One byte
      // into memory of ours tells them apart: it fails too where the medium is at fault.
      char byte;
      ssize_t probe;
      do {
        probe = pread(source.fd(), &byte, 1, static_cast<off_t>(offset + done));
      } while (probe < 0 && errno == EINTR);
      if (probe < 0 && (errno == EFAULT || errno == EIO)) {
        return MakeError(ErrorCode::kIoFail,
                         absl::StrCat("pread of ", size, " bytes at offset ", offset, " of file descriptor ",
                                      source.fd(), ": the file's data at offset ", offset + done, " cannot be read (",
                                      errno == EIO ? "EIO" : "EFAULT",
                                      " into a buffer of pmem2's too: a machine check, a latent bad block)"));
      }
      return FileError(EFAULT, "pread", size, offset, offset + done, source.fd());
    }
    if (n < 0) return FileError(errno, "pread", size, offset, offset + done, source.fd());
    if (n == 0) {
      return MakeError(ErrorCode::kLengthOutOfRange,
                       absl::StrCat("pread of ", size, " bytes at offset ", offset, " of file descriptor ",
                                    source.fd(), " met the end of the file at offset ", offset + done,
                                    " (it shrank)"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WriteMcsafe(const Source& source, const void* buf, size_t size, uint64_t offset) {
  const internal::ScopedNoCancellation no_cancellation;  // pwrite() is a cancellation point
  if (absl::Status s = CheckRange(source, size, offset, "write"); !s.ok()) return s;
  if (source.kind() == SourceKind::kDeviceDax) {
    // Its stores are durable once written back from the CPU caches (MappedCopy does), or where the platform writes
    // the caches back itself (eADR). A CPU that cannot (the generic backend; an x86 CPU without CLFLUSH) on a
    // platform without eADR: refused before anything is written, as Map::Create() refuses Device DAX there
    // (map/granularity.cc). An OK would be lost at the next power failure.
    if (!arch::CacheLineOps().writes_back_cache_lines &&
        !map_internal::ReadPersistenceDomain(sysfs_internal::Root()).cpu_caches_are_persistent) {
      return MakeError(
          ErrorCode::kNoSupp,
          absl::StrCat("write of ", size, " bytes at offset ", offset, " of Device DAX (file descriptor ", source.fd(),
                       "): its stores need the CPU's cache-line write-back, which this CPU "
                       "lacks, and the platform does not write the CPU caches back itself "
                       "(no eADR); nothing written"));
    }
    absl::StatusOr<size_t> alignment = source.Alignment();
    if (!alignment.ok()) return alignment.status();
    return ras_internal::MappedCopy(source.fd(), offset, const_cast<void*>(buf), size, /*write=*/true,
                                    *alignment);
  }
  // pwrite(2) on an O_APPEND descriptor ignores the offset and appends (Linux): the bytes would land past the end
  // and extend the file. A shared mapping has no such mode, so such a descriptor is written through one.
  const int status_flags = fcntl(source.fd(), F_GETFL);
  if (status_flags < 0) return FileError(errno, "fcntl(F_GETFL) before pwrite", size, offset, offset, source.fd());
  if ((status_flags & O_APPEND) != 0 && size > 0) {
    absl::StatusOr<size_t> alignment = source.Alignment();  // a hugetlbfs file maps in huge pages only
    if (!alignment.ok()) return alignment.status();
    return WriteThroughMapping(source, buf, size, offset, *alignment);
  }
  const char* in = static_cast<const char*>(buf);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(source.fd(), in + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && done == 0) {
      // hugetlbfs has no write(2) (libpmem2 1.12.1 returns this -EINVAL): its files are written through a mapping.
      absl::StatusOr<size_t> alignment = source.Alignment();
      if (alignment.ok() && *alignment > static_cast<size_t>(sysconf(_SC_PAGESIZE))) {
        return WriteThroughMapping(source, buf, size, offset, *alignment);
      }
      errno = EINVAL;
    }
    if (n < 0 && errno == EFAULT && ras_internal::ReadableWithoutFault(in + done, size - done)) {
      // The file's fault, not the buffer's: on fsdax a write over poison is the kernel's recovery write (Linux 6.0
      // on), which clears poison only by writing whole pages and fails any other write there with EFAULT (before
      // 6.0 every write there fails with EIO, which FileError makes kIoFail).
      return MakeError(ErrorCode::kIoFail,
                       absl::StrCat("pwrite of ", size, " bytes at offset ", offset, " of file descriptor ",
                                    source.fd(), ": the file's data at offset ", offset + done,
                                    " cannot be written (EFAULT from a readable buffer: a bad block; on fsdax only a "
                                    "page-aligned write of whole pages clears poison)"));
    }
    if (n < 0) return FileError(errno, "pwrite", size, offset, offset + done, source.fd());
    if (n == 0) {
      return MakeErrnoError(EIO, absl::StrCat("pwrite of ", size, " bytes at offset ", offset,
                                              " of file descriptor ", source.fd(), " wrote nothing at offset ",
                                              offset + done));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace pmem2
