// Copyright 2026 The pmem2 Authors.

#include "tools/create_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "pmem2/internal/proc_fd_path.h"

namespace pmem2 {
namespace tools {
namespace {

constexpr uint64_t kMaxSize = static_cast<uint64_t>(std::numeric_limits<off_t>::max());

absl::Status NotASize(absl::string_view flag, absl::string_view text) {
  return absl::InvalidArgumentError(
      absl::StrCat(flag, "=", text,
                   ": not a size; give a positive number of bytes, optionally followed by K, M or G (or KiB, MiB, GiB: "
                   "powers of 1024), e.g. 16M"));
}

// posix_fallocate returns the error instead of setting errno, and is interrupted by signals on some file
// systems (it is a long operation there): retry those, a bounded number of times (a FUSE server may answer
// EINTR forever), then report EINTR.
int Fallocate(int fd, uint64_t size) {
  int err = 0;
  for (int attempt = 0; attempt < 16; ++attempt) {
    err = posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (err != EINTR) break;
  }
  return err;
}

absl::Status AllocationError(int fd, const std::string& path, uint64_t size, int err, absl::string_view hint) {
  std::string message = absl::StrCat(path, ": cannot allocate ", size, " bytes: ", std::strerror(err));
  if (err == ENOSPC || err == EDQUOT) {
    struct statvfs fs;
    if (fstatvfs(fd, &fs) == 0) {
      absl::StrAppend(&message, " (", static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize, " bytes free)");
    }
    absl::StrAppend(&message, hint);
    return absl::ResourceExhaustedError(message);  // full for this user either way
  }
  return absl::Status(absl::ErrnoToStatusCode(err), message);
}

}  // namespace

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view flag, absl::string_view text) {
  absl::string_view digits = text;
  uint64_t multiplier = 1;
  // Longest suffixes first: "KiB" ends in "B", not in "K".
  for (auto [suffix, value] : {std::pair<absl::string_view, uint64_t>{"KiB", uint64_t{1} << 10},
                               {"MiB", uint64_t{1} << 20},
                               {"GiB", uint64_t{1} << 30},
                               {"K", uint64_t{1} << 10},
                               {"M", uint64_t{1} << 20},
                               {"G", uint64_t{1} << 30}}) {
    if (absl::ConsumeSuffix(&digits, suffix)) {
      multiplier = value;
      break;
    }
  }
  if (digits.empty()) return NotASize(flag, text);
  uint64_t number = 0;
  for (char c : digits) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return NotASize(flag, text);
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (number > (kMaxSize - digit) / 10) {
      return absl::InvalidArgumentError(absl::StrCat(flag, "=", text, ": too large; at most ", kMaxSize, " bytes"));
    }
    number = number * 10 + digit;
  }
  if (number == 0) return absl::InvalidArgumentError(absl::StrCat(flag, "=", text, ": must be at least 1 byte"));
  if (number > kMaxSize / multiplier) {
    return absl::InvalidArgumentError(absl::StrCat(flag, "=", text, ": too large; at most ", kMaxSize, " bytes"));
  }
  return number * multiplier;
}

namespace {

absl::Status CreateError(const std::string& path, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(path, ": cannot create: ", std::strerror(err)));
}

// CreateAllocatedFile and CreateAllocatedUnlinkedFile. The (for GiBs, seconds-long) allocation happens while no
// name holds the file, so that a kill in the middle leaves nothing behind (before, an interrupted `pmem2 info
// --create` left an empty PATH that every later run took as given, "size 0"): with `unlink_at_once` the file is
// removed right after open; without, it is made unnamed in PATH's folder (O_TMPFILE) and given PATH only once
// allocated, as O_EXCL would (EEXIST if PATH appeared meanwhile). Where the file system has no O_TMPFILE, PATH is
// created at once and removed again if the allocation fails.
absl::StatusOr<int> Create(const std::string& path, uint64_t size, absl::string_view hint, bool unlink_at_once) {
  if (size == 0 || size > kMaxSize) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": cannot create a file of ", size, " bytes"));
  }
  if (path.empty()) return CreateError(path, ENOENT);
  // O_TMPFILE cannot say up front what O_EXCL would: that PATH exists (also as a dangling symbolic link), or cannot
  // be created at all (a name too long): before GiBs are allocated for nothing.
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) return CreateError(path, EEXIST);
  if (errno != ENOENT) return CreateError(path, errno);
  // The file gets PATH through /proc/thread-self/fd (below): without /proc (a chroot, a bare container) it is named at
  // once.
  const bool unnamed_first = !unlink_at_once && access("/proc/thread-self/fd", X_OK) == 0;
  bool named = false;
  int fd = unnamed_first ? open(Dirname(path).c_str(), O_RDWR | O_TMPFILE | O_CLOEXEC, 0644) : -1;
  if (fd < 0) {
    // O_NOFOLLOW is implied by O_EXCL; O_NOCTTY and O_CLOEXEC because the descriptor is never a terminal for us
    // and must not leak into anything the tool starts.
    fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0644);
    if (fd < 0) return CreateError(path, errno);
    named = true;
  }
  if (unlink_at_once && unlink(path.c_str()) != 0) {
    const int err = errno;
    close(fd);
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat(path, ": cannot remove the file just created: ", std::strerror(err)));
  }
  if (unlink_at_once) named = false;
  if (const int err = Fallocate(fd, size); err != 0) {
    // The blocks the failed allocation took are given back first, so that the message says what is free (the
    // file goes below either way).
    const int truncated = ftruncate(fd, 0);
    (void)truncated;
    absl::Status status = AllocationError(fd, path, size, err, hint);
    close(fd);
    if (named) unlink(path.c_str());
    return status;
  }
  if (!named && !unlink_at_once) {
    // linkat through /proc (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH): the descriptor's file gets PATH, through this
    // thread's descriptor table (/proc/self/fd is the leader's: internal::ProcFdPath).
    const pmem2::internal::ProcFdPath self(fd);
    if (linkat(AT_FDCWD, self.path, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      const int err = errno;
      close(fd);
      return CreateError(path, err);
    }
  }
  return fd;
}

}  // namespace

absl::StatusOr<int> CreateAllocatedFile(const std::string& path, uint64_t size, absl::string_view hint) {
  return Create(path, size, hint, /*unlink_at_once=*/false);
}

absl::StatusOr<int> CreateAllocatedUnlinkedFile(const std::string& path, uint64_t size, absl::string_view hint) {
  return Create(path, size, hint, /*unlink_at_once=*/true);
}

absl::Status AllocateFile(int fd, const std::string& path, uint64_t size, absl::string_view hint) {
  if (size == 0) return absl::OkStatus();  // nothing to allocate; posix_fallocate refuses a length of 0
  if (size > kMaxSize) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot allocate ", size, " bytes"));
  const int err = Fallocate(fd, size);
  if (err != 0) return AllocationError(fd, path, size, err, hint);
  return absl::OkStatus();
}

}  // namespace tools
}  // namespace pmem2
