// Copyright 2026 The pmem2 Authors.

#include "pmem2/source/source.h"

#include "pmem2/source/device_dax.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/sysfs/sysfs.h"

#ifndef SECRETMEM_MAGIC
#define SECRETMEM_MAGIC 0x5345434d  // "SECM": Linux 5.14's linux/magic.h, newer than some build hosts' headers
#endif

namespace pmem2 {
namespace {

absl::string_view FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a pipe";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device that is not Device DAX";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "an unsupported file type";
}

// fstat with the descriptor errors libpmem2 documents.
absl::Status Stat(int fd, struct stat* st) {
  if (fstat(fd, st) == 0) return absl::OkStatus();
  int err = errno;
  if (err == EBADF) {
    return MakeError(ErrorCode::kInvalidFileHandle, absl::StrCat("file descriptor ", fd, " is not open"));
  }
  return MakeErrnoError(err, absl::StrCat("fstat of file descriptor ", fd));
}

}  // namespace

absl::string_view SourceKindName(SourceKind kind) {
  switch (kind) {
    case SourceKind::kAnonymous: return "anonymous";
    case SourceKind::kRegularFile: return "regular_file";
    case SourceKind::kDeviceDax: return "device_dax";
  }
  return "invalid";
}

namespace source_internal {

std::string CharDeviceDir(const std::string& sysfs_root, unsigned major_number, unsigned minor_number) {
  return absl::StrCat(sysfs_root, "/dev/char/", major_number, ":", minor_number);
}

bool IsDeviceDax(const std::string& sysfs_root, unsigned major_number, unsigned minor_number,
                 std::string* why_unknown) {
  std::string subsystem = CharDeviceDir(sysfs_root, major_number, minor_number) + "/subsystem";
  char resolved[PATH_MAX];
  if (realpath(subsystem.c_str(), resolved) == nullptr) {
    const int err = errno;
    if (why_unknown != nullptr) {
      const std::string char_devices = sysfs_root + "/dev/char";
      if (err != ENOENT && err != ENOTDIR) {
        *why_unknown = absl::StrCat("realpath(", subsystem, "): ", std::strerror(err));
      } else if (access(char_devices.c_str(), F_OK) != 0) {
        // No sysfs at all (a container without /sys): nothing says the device is not Device DAX.
        *why_unknown = absl::StrCat("sysfs is not mounted at ", sysfs_root, ": ", char_devices, " is missing");
      }
    }
    return false;
  }
  absl::string_view path(resolved);
  size_t slash = path.rfind('/');
  return path.substr(slash == absl::string_view::npos ? 0 : slash + 1) == "dax";
}

// Whether `text` (sysfs's, stripped) is a decimal number, however large: libpmem2 answers strtoull's ERANGE for one
// past 64 bits (man pmem2_source_size: "-errno set by failing strtoull(3)"), and its format error for anything else.
namespace {
bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return absl::ascii_isdigit(c); });
}
}  // namespace

absl::StatusOr<uint64_t> ReadDeviceDaxSize(const std::string& device_dir) {
  absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(device_dir + "/size");
  if (!text.ok()) return text.status();
  uint64_t size = 0;
  if (!absl::SimpleAtoi(*text, &size) || (!text->empty() && (*text)[0] == '-')) {
    if (AllDigits(*text)) {
      return MakeErrnoError(
          ERANGE, absl::StrCat("Device DAX size in ", device_dir, "/size, ", *text, ", does not fit in 64 bits"));
    }
    return MakeError(
        ErrorCode::kInvalidSizeFormat,
        absl::StrCat("Device DAX size in ", device_dir, "/size is not a number: \"", absl::CHexEscape(*text), "\""));
  }
  return size;
}

absl::StatusOr<size_t> ReadDeviceDaxAlignment(const std::string& device_dir) {
  // Kernels since 5.10 give each device its own `align`; older ones only the region's: the NVDIMM's dax device one
  // level up has it as `align`, and every dax region's device (an NVDIMM's, or a soft-reserved memory range's, which
  // has no `align` of its own) as `dax_region/align`: the parent's in the bus layout (.../hmem.0/dax0.0), the
  // grandparent's in the class layout (.../region0/dax0.1/dax/dax0.0), as PMDK's libpmem looks for it among the
  // device's ancestors; no further (the region is the device's, never a more distant one's).
  std::string path = device_dir + "/align";
  if (access(path.c_str(), F_OK) != 0) path = device_dir + "/device/align";
  if (access(path.c_str(), F_OK) != 0) {
    char resolved[PATH_MAX];
    if (realpath(device_dir.c_str(), resolved) != nullptr) {
      std::string ancestor(resolved);
      size_t levels = 0;
      for (size_t slash = ancestor.rfind('/'); slash != std::string::npos && slash > 0 && levels < 2;
           slash = ancestor.rfind('/'), ++levels) {
        ancestor.resize(slash);
        if (std::string candidate = ancestor + "/dax_region/align"; access(candidate.c_str(), F_OK) == 0) {
          path = std::move(candidate);
          break;
        }
      }
    }
  }
  absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(path);
  if (!text.ok()) return text.status();
  uint64_t align = 0;
  if (!absl::SimpleAtoi(*text, &align) || (!text->empty() && (*text)[0] == '-')) {
    if (AllDigits(*text)) {
      return MakeErrnoError(ERANGE,
                            absl::StrCat("Device DAX alignment in ", path, ", ", *text, ", does not fit in 64 bits"));
    }
    return MakeError(
        ErrorCode::kInvalidAlignmentFormat,
        absl::StrCat("Device DAX alignment in ", path, " is not a number: \"", absl::CHexEscape(*text), "\""));
  }
  if (align == 0 || (align & (align - 1)) != 0) {
    return MakeError(ErrorCode::kInvalidAlignmentValue,
                     absl::StrCat("Device DAX alignment ", align, " in ", path, " is not a power of two"));
  }
  // mmap cannot honour a granule below a page: offsets it allows would fail there, not here.
  if (const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE)); align < page) {
    return MakeError(ErrorCode::kInvalidAlignmentValue, absl::StrCat("Device DAX alignment ", align, " in ", path,
                                                                     " is smaller than the page size ", page));
  }
  return static_cast<size_t>(align);
}

}  // namespace source_internal

absl::StatusOr<Source> Source::FromFd(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) {
    return MakeError(ErrorCode::kInvalidFileHandle, absl::StrCat("file descriptor ", fd, " is not open"));
  }
#ifdef O_PATH
  if ((flags & O_PATH) == O_PATH) {
    return MakeError(ErrorCode::kInvalidFileHandle,
                     absl::StrCat("file descriptor ", fd, " was opened with O_PATH and cannot be mapped"));
  }
#endif
  if ((flags & O_ACCMODE) == O_WRONLY) {
    return MakeError(ErrorCode::kInvalidFileHandle,
                     absl::StrCat("file descriptor ", fd,
                                  " is opened O_WRONLY; mapping needs O_RDONLY or O_RDWR"));
  }
  // Access mode 3 (O_ACCMODE: neither read nor write, for ioctls only): every mapping of it would fail, far from the
  // cause (libpmem2 takes it, and each pmem2_map_new fails with PMEM2_E_NO_ACCESS, "read-only" for a shared write).
  if ((flags & O_ACCMODE) != O_RDONLY && (flags & O_ACCMODE) != O_RDWR) {
    return MakeError(ErrorCode::kInvalidFileHandle,
                     absl::StrCat("file descriptor ", fd, " is opened with access mode ", flags & O_ACCMODE,
                                  " (neither read nor write: ioctls only); mapping needs O_RDONLY or O_RDWR"));
  }
  struct stat st;
  if (absl::Status s = Stat(fd, &st); !s.ok()) return s;
  if (S_ISREG(st.st_mode)) {
    // A file system that fails statfs (a FUSE server, NFS) is no secretmem, which always answers it.
    struct statfs fs;
    if (fstatfs(fd, &fs) == 0 && static_cast<unsigned long>(fs.f_type) == SECRETMEM_MAGIC) {
      // A mapping of it can be made, but every msync of it fails (EINVAL: no fsync), so every persist would report
      // data loss (libpmem2 1.12.1 takes it, and aborts the process at the first page persist).
      return MakeError(ErrorCode::kInvalidFileType,
                       absl::StrCat("file descriptor ", fd,
                                    " is a memfd_secret(2) file, which nothing can persist (its msync and fsync fail "
                                    "with EINVAL); for memory that needs no persistence use Source::Anonymous"));
    }
    return Source(SourceKind::kRegularFile, fd, 0, "", static_cast<uint64_t>(st.st_dev),
                  static_cast<uint64_t>(st.st_ino), ReadFileBirth(fd));
  }
  if (S_ISCHR(st.st_mode)) {
    std::string root = sysfs_internal::Root();
    unsigned maj = major(st.st_rdev), min = minor(st.st_rdev);
    std::string why_unknown;
    if (source_internal::IsDeviceDax(root, maj, min, &why_unknown)) {
      return Source(SourceKind::kDeviceDax, fd, 0, source_internal::CharDeviceDir(root, maj, min),
                    static_cast<uint64_t>(st.st_rdev));
    }
    if (!why_unknown.empty()) {
      return MakeError(ErrorCode::kInvalidFileType,
                       absl::StrCat("file descriptor ", fd, " is character device ", maj, ":", min,
                                    ", which sysfs cannot say is Device DAX or not (", why_unknown,
                                    "); pmem2 maps regular files and Device DAX"));
    }
  }
  return MakeError(ErrorCode::kInvalidFileType,
                   absl::StrCat("file descriptor ", fd, " is ", FileTypeName(st.st_mode),
                                "; pmem2 maps regular files and Device DAX"));
}

source_internal::FileBirth Source::ReadFileBirth(int fd) {
  source_internal::FileBirth birth;
  // The kernel writes an int (ext4, XFS, btrfs); the request's size says long, which a FUSE server may fill.
  long generation = 0;
  if (ioctl(fd, FS_IOC_GETVERSION, &generation) == 0) {
    birth.has_generation = true;
    birth.generation = static_cast<uint64_t>(generation);
  }
  struct statx stx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_BTIME, &stx) == 0 &&
      (stx.stx_mask & STATX_BTIME) != 0) {
    birth.has_birth_time = true;
    birth.birth_seconds = stx.stx_btime.tv_sec;
    birth.birth_nanoseconds = stx.stx_btime.tv_nsec;
  }
  return birth;
}

absl::Status Source::CheckRegularFile(const struct stat& st) const {
  std::string born_since;
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_dev) == device_ &&
      static_cast<uint64_t>(st.st_ino) == inode_) {
    const source_internal::FileBirth now = ReadFileBirth(fd_);
    if (birth_.has_generation && now.has_generation && now.generation != birth_.generation) {
      born_since = absl::StrCat(" (the inode's generation is ", now.generation, ", was ", birth_.generation, ")");
    } else if (birth_.has_birth_time && now.has_birth_time &&
               (now.birth_seconds != birth_.birth_seconds || now.birth_nanoseconds != birth_.birth_nanoseconds)) {
      born_since = absl::StrCat(" (the inode was born at ", now.birth_seconds, ".", now.birth_nanoseconds,
                                ", the file at ", birth_.birth_seconds, ".", birth_.birth_nanoseconds, ")");
    } else {
      return absl::OkStatus();
    }
  }
  return MakeError(
      ErrorCode::kInvalidFileHandle,
      absl::StrCat("file descriptor ", fd_, " no longer refers to the file it had (device ", major(device_), ":",
                   minor(device_), ", inode ", inode_, "): closed, and its number reused",
                   born_since.empty() ? ""
                                      : " by a file created since (or the file was replaced in place: an overlayfs "
                                        "copy-up, a generation or creation time set by hand)",
                   born_since));
}

absl::Status Source::VerifyDescriptor() const {
  if (kind_ == SourceKind::kAnonymous) return absl::OkStatus();
  struct stat st;
  if (absl::Status s = Stat(fd_, &st); !s.ok()) return s;
  if (kind_ == SourceKind::kDeviceDax) {
    if (!S_ISCHR(st.st_mode) || static_cast<uint64_t>(st.st_rdev) != device_) {
      return MakeError(ErrorCode::kInvalidFileHandle,
                       absl::StrCat("file descriptor ", fd_, " no longer refers to the Device DAX ", major(device_),
                                    ":", minor(device_), " (closed, and its number reused)"));
    }
  } else if (absl::Status s = CheckRegularFile(st); !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Source> Source::Anonymous(size_t size) {
  return Source(SourceKind::kAnonymous, -1, size, "");
}

absl::StatusOr<uint64_t> Source::Size() const {
  switch (kind_) {
    case SourceKind::kAnonymous:
      return anonymous_size_;
    case SourceKind::kRegularFile: {
      // Checked with the size's own fstat: another file's size would make the machine-check-safe I/O's range check
      // pass for that file, and its write land there (mcsafe_io.h).
      struct stat st;
      if (absl::Status s = Stat(fd_, &st); !s.ok()) return s;
      if (absl::Status s = CheckRegularFile(st); !s.ok()) return s;
      return static_cast<uint64_t>(st.st_size);
    }
    case SourceKind::kDeviceDax: {
      if (absl::Status s = VerifyDescriptor(); !s.ok()) return s;
      return source_internal::ReadDeviceDaxSize(sysfs_dir_);
    }
  }
  return MakeError(ErrorCode::kUnknown, "corrupt Source");
}

absl::StatusOr<size_t> Source::Alignment() const {
  if (kind_ == SourceKind::kDeviceDax) {
    if (absl::Status s = VerifyDescriptor(); !s.ok()) return s;
    return source_internal::ReadDeviceDaxAlignment(sysfs_dir_);
  }
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0 || (page & (page - 1)) != 0) {
    return MakeError(ErrorCode::kInvalidAlignmentValue, absl::StrCat("page size ", page, " is not a power of two"));
  }
  if (kind_ == SourceKind::kRegularFile) {
    if (absl::Status s = VerifyDescriptor(); !s.ok()) return s;  // not another file's huge page size
    // A hugetlbfs file (a hugetlbfs mount, memfd_create's MFD_HUGETLB) is mapped in whole huge pages: the kernel
    // rounds a shorter mapping up, so a MAP_FIXED mapping of one page would replace up to a huge page of whatever
    // follows it. libpmem2 1.12.1 answers the page size here (and then does exactly that).
    // A file system that fails statfs (a FUSE server, NFS) is no hugetlbfs, which always answers it.
    struct statfs fs;
    if (fstatfs(fd_, &fs) != 0) {
      if (errno == EBADF) {
        return MakeError(ErrorCode::kInvalidFileHandle, absl::StrCat("file descriptor ", fd_, " is not open"));
      }
      return static_cast<size_t>(page);
    }
    if (static_cast<unsigned long>(fs.f_type) == HUGETLBFS_MAGIC) {
      const auto huge = static_cast<unsigned long>(fs.f_bsize);
      if (huge < static_cast<unsigned long>(page) || (huge & (huge - 1)) != 0) {
        return MakeError(ErrorCode::kInvalidAlignmentValue,
                         absl::StrCat("hugetlbfs page size ", fs.f_bsize, " of file descriptor ", fd_,
                                      " is not a power of two of at least the page size"));
      }
      return static_cast<size_t>(huge);
    }
  }
  return static_cast<size_t>(page);
}

absl::StatusOr<bool> Source::Writable() const {
  if (kind_ == SourceKind::kAnonymous) return true;
  // Another file's access mode is no answer for this one's (a closed descriptor whose number was reused).
  if (absl::Status s = VerifyDescriptor(); !s.ok()) return s;
  int flags = fcntl(fd_, F_GETFL);
  if (flags < 0) {
    return MakeError(ErrorCode::kInvalidFileHandle, absl::StrCat("file descriptor ", fd_, " is not open"));
  }
  return (flags & O_ACCMODE) == O_RDWR;
}

}  // namespace pmem2
