// Copyright 2026 The pmem2 Authors.
//
// pmem2/source/source.h
// -----------------------------------------------------------------------------
//
// `pmem2::Source` names what a mapping maps: an open file descriptor (a regular file, or a Device DAX
// character device such as /dev/dax0.0), or anonymous memory of a given size.
//
// A Source does not own its file descriptor: the caller opens and closes it. The descriptor must stay open
// until `Map::Create()` returns; the mapping itself keeps working after it is closed. Size() and Alignment()
// ask the operating system each time, because a file can grow or shrink between calls.
//
// Example:
//
//   int fd = open("/mnt/pmem/log", O_RDWR);
//   absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
//   if (!source.ok()) return source.status();  // e.g. PMEM2_E_INVALID_FILE_TYPE for a directory
//
// Sources are cheap copyable values and thread-compatible.

#ifndef PMEM2_SOURCE_SOURCE_H_
#define PMEM2_SOURCE_SOURCE_H_

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pmem2 {

enum class SourceKind {
  kAnonymous,
  kRegularFile,
  kDeviceDax,
};

// "anonymous", "regular_file", "device_dax".
absl::string_view SourceKindName(SourceKind kind);

namespace source_internal {

// What tells a regular file from one created after it was deleted, which ext4 and XFS give the freed inode number
// at once (a descriptor closed and its number reused then names another file with the same device and inode): the
// inode's generation (FS_IOC_GETVERSION; ext4, XFS and btrfs draw it at random for each new inode) and its birth
// time (statx; kept to the kernel's clock tick, so alone it could not tell two files created in one tick), each where
// the file system has it.
struct FileBirth {
  bool has_generation = false;
  uint64_t generation = 0;
  bool has_birth_time = false;
  int64_t birth_seconds = 0;
  uint32_t birth_nanoseconds = 0;
};

}  // namespace source_internal

class Source {
 public:
  // Validates `fd`. Errors (see pmem2_source_from_fd(3)):
  //   kInvalidFileHandle: `fd` is not open, is an O_PATH descriptor, or was opened O_WRONLY (mappings need
  //                       read access);
  //   kInvalidFileType:   `fd` is a directory, block device, pipe, socket, a character device other than
  //                       Device DAX, or a memfd_secret(2) file (nothing can persist it: msync fails there;
  //                       libpmem2 takes it).
  static absl::StatusOr<Source> FromFd(int fd);

  // Anonymous, zero-filled memory of `size` bytes. A size of 0 is accepted here, as in libpmem2, and refused by
  // Map::Create() with kSourceEmpty. The config's offset selects nothing (the memory is new either way) but is
  // checked as libpmem2 checks it, which its man page's "ignored" does not say: kMapRange if it passes the size
  // (length 0, which then maps the whole source) or if offset + length does (a length given).
  static absl::StatusOr<Source> Anonymous(size_t size);

#ifdef _WIN32
  // Windows only, as in libpmem2. (Not implemented yet: pmem2 currently builds on Linux only.)
  static absl::StatusOr<Source> FromHandle(void* handle);
#endif

  SourceKind kind() const { return kind_; }
  // The descriptor given to FromFd(); -1 for anonymous sources.
  int fd() const { return fd_; }

  // Bytes in the source: the file size (fstat), the Device DAX size (sysfs), or the anonymous size.
  // kInvalidFileHandle if the descriptor was closed since FromFd() or its number now names another file or device
  // (VerifyDescriptor); kInvalidSizeFormat if sysfs holds something that is no number (quoted, escaped); a kErrno
  // error if the Device DAX's sysfs size cannot be read (ENOENT when missing) or is a number past 64 bits (ERANGE).
  absl::StatusOr<uint64_t> Size() const;

  // The granule that a mapping's offset and length (and, in a VmReservation, its address) must be multiples of:
  // the page size; the Device DAX alignment from sysfs (often 2 MiB); or for a hugetlbfs file (a hugetlbfs mount,
  // memfd_create(MFD_HUGETLB)) its huge page size, which the kernel maps in whole (libpmem2 answers the page size
  // there). kInvalidAlignmentFormat / kInvalidAlignmentValue if sysfs or the file system holds no number or not a
  // power of two; kInvalidFileHandle if the descriptor was closed since FromFd() or its number now names another
  // file or device (VerifyDescriptor); a kErrno error if the Device DAX's sysfs alignment cannot be read (ENOENT
  // when missing) or is a number past 64 bits (ERANGE).
  absl::StatusOr<size_t> Alignment() const;

  // OK if the descriptor still names what FromFd() found: the same Device DAX (st_rdev), or the same regular file
  // (st_dev and st_ino, and where the file system keeps them the inode's generation and birth time: a file created
  // after the first was deleted may be given its inode number); kInvalidFileHandle if it was closed or its number now
  // names another file. For what must
  // not touch or answer for another file: clearing bad blocks (it deallocates the range), Size() and Alignment(),
  // and so the machine-check-safe I/O (mcsafe_io.h), whose range check asks Size(). On overlayfs a file's st_dev and
  // st_ino can change when another process copies it up: a refusal then, never another file. OK for anonymous sources.
  absl::Status VerifyDescriptor() const;

  // Whether the descriptor allows writing (opened O_RDWR); true for anonymous sources. Re-read on each call.
  // kInvalidFileHandle as for Size().
  absl::StatusOr<bool> Writable() const;

  // For Device DAX: the sysfs folder of the device, /sys/dev/char/MAJOR:MINOR. Empty otherwise.
  const std::string& sysfs_device_dir() const { return sysfs_dir_; }

 private:
  Source(SourceKind kind, int fd, uint64_t anonymous_size, std::string sysfs_dir, uint64_t device = 0,
         uint64_t inode = 0, source_internal::FileBirth birth = {})
      : kind_(kind),
        fd_(fd),
        anonymous_size_(anonymous_size),
        sysfs_dir_(std::move(sysfs_dir)),
        device_(device),
        inode_(inode),
        birth_(birth) {}

  static source_internal::FileBirth ReadFileBirth(int fd);

  // OK if `st` (an fstat of the descriptor) is the regular file FromFd() found, and so is the file's birth (each part
  // of it known both then and now).
  absl::Status CheckRegularFile(const struct stat& st) const;

  SourceKind kind_;
  int fd_;
  uint64_t anonymous_size_;
  std::string sysfs_dir_;
  uint64_t device_;  // a Device DAX's st_rdev; a regular file's st_dev
  uint64_t inode_;   // a regular file's st_ino
  source_internal::FileBirth birth_;  // a regular file's, as FromFd() found it
};

}  // namespace pmem2

#endif  // PMEM2_SOURCE_SOURCE_H_
