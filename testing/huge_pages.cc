// Copyright 2026 The pmem2 Authors.

#include "testing/huge_pages.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace pmem2 {
namespace testing {
namespace {

constexpr char kPoolSize[] = "/proc/sys/vm/nr_hugepages";
// In /dev/shm, which every test process sees (Bazel's sandboxes share it). The lock is readable by every user (the
// unprivileged stage takes it too); the pool size to restore is written by root only, while it is raised, so that
// the next holder of the lock restores it if a test was killed before it could.
constexpr char kLock[] = "/dev/shm/pmem2-test-huge-pages.lock";
constexpr char kToRestore[] = "/dev/shm/pmem2-test-huge-pages.restore";

// A number from /proc/meminfo ("HugePages_Free:", "Hugepagesize:"), or -1.
long MeminfoValue(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string name;
  std::string rest;
  while (in >> name) {
    long value = -1;
    if (name == key && in >> value) return value;
    std::getline(in, rest);
  }
  return -1;
}

// Free huge pages that no mapping has reserved (HugePages_Free counts reserved ones too).
long Available() {
  const long free_pages = MeminfoValue("HugePages_Free:");
  const long reserved = MeminfoValue("HugePages_Rsvd:");
  return free_pages < 0 ? -1 : free_pages - (reserved > 0 ? reserved : 0);
}

long ReadNumber(const char* path) {
  std::ifstream in(path);
  long value = -1;
  return in >> value ? value : -1;
}

// 0, or the errno of the failed write.
int WriteNumber(const char* path, long value) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  const std::string text = absl::StrCat(value, "\n");
  const ssize_t n = write(fd, text.data(), text.size());
  const int err = n < 0 ? errno : (static_cast<size_t>(n) == text.size() ? 0 : EIO);
  close(fd);
  return err;
}

}  // namespace

size_t DefaultHugePageSize() {
  const long kib = MeminfoValue("Hugepagesize:");
  return kib > 0 ? static_cast<size_t>(kib) * 1024 : 0;
}

ScopedFd CreateHugetlbFile(size_t size) {
  ScopedFd fd(static_cast<int>(syscall(SYS_memfd_create, "pmem2-test-hugetlb", MFD_CLOEXEC | MFD_HUGETLB)));
  if (fd.get() >= 0 && ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    const int err = errno;
    fd = ScopedFd(-1);
    errno = err;
  }
  return fd;
}

ScopedFreeHugePages::ScopedFreeHugePages(long count) {
  // Opened without O_CREAT first: fs.protected_regular refuses O_CREAT of another user's file in a sticky folder.
  lock_fd_ = open(kLock, O_RDONLY | O_CLOEXEC);
  if (lock_fd_ < 0 && errno == ENOENT) {
    lock_fd_ = open(kLock, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd_ >= 0) fchmod(lock_fd_, 0644);  // whatever the umask
  }
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX) != 0) {
    why_not_ = absl::StrCat("cannot lock ", kLock, ": ", std::strerror(errno));
    return;
  }
  const bool root = geteuid() == 0;
  if (root) {
    // A holder killed with the pool raised. Only root's own file is trusted (the folder is world-writable).
    const int stale_fd = open(kToRestore, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (stale_fd >= 0) {
      struct stat st;
      char text[32] = {};
      const bool ours = fstat(stale_fd, &st) == 0 && st.st_uid == 0 && S_ISREG(st.st_mode);
      const ssize_t n = ours ? read(stale_fd, text, sizeof text - 1) : -1;
      close(stale_fd);
      long stale = -1;
      if (n > 0) stale = std::strtol(text, nullptr, 10);
      if (stale < 0 || WriteNumber(kPoolSize, stale) != 0) {
        why_not_ = absl::StrCat("cannot put back the huge page pool a test left raised (", kToRestore, ")");
        return;
      }
      unlink(kToRestore);
    }
  }
  const long available = Available();
  if (available >= count) return;
  before_ = ReadNumber(kPoolSize);
  if (!root || before_ < 0) {
    why_not_ = absl::StrCat(available, " huge pages free and unreserved, not ", count, ", and no root to add them");
    return;
  }
  if (const int err = WriteNumber(kToRestore, before_); err != 0) {
    why_not_ = absl::StrCat("cannot write ", kToRestore, ": ", std::strerror(err));
    return;
  }
  if (const int err = WriteNumber(kPoolSize, before_ + count - (available > 0 ? available : 0)); err != 0) {
    unlink(kToRestore);  // nothing was raised (a read-only /proc/sys: a container)
    why_not_ = absl::StrCat("cannot write ", kPoolSize, ": ", std::strerror(err));
    return;
  }
  raised_ = true;
  if (const long now = Available(); now < count) {
    why_not_ = absl::StrCat("the kernel made ", now, " huge pages free and unreserved, not ", count);
  }
}

ScopedFreeHugePages::~ScopedFreeHugePages() {
  if (raised_ && WriteNumber(kPoolSize, before_) == 0) unlink(kToRestore);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the lock
}

}  // namespace testing
}  // namespace pmem2
