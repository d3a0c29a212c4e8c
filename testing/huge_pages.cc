// Copyright 2026 The pmem2 Authors.

#include "testing/huge_pages.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"

namespace pmem2 {
namespace testing {
namespace {

constexpr char kPoolSize[] = "/proc/sys/vm/nr_hugepages";

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

long ReadPoolSize() {
  std::ifstream in(kPoolSize);
  long value = -1;
  return in >> value ? value : -1;
}

bool WritePoolSize(long value) {
  std::ofstream out(kPoolSize);
  out << value << "\n";
  out.flush();
  return static_cast<bool>(out);
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
  // In /dev/shm, which every test process sees (Bazel's sandboxes share it), readable by the unprivileged stage too.
  // Opened without O_CREAT first: fs.protected_regular refuses O_CREAT of another user's file in a sticky folder.
  constexpr char kLock[] = "/dev/shm/pmem2-test-huge-pages.lock";
  lock_fd_ = open(kLock, O_RDONLY | O_CLOEXEC);
  if (lock_fd_ < 0 && errno == ENOENT) lock_fd_ = open(kLock, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX) != 0) {
    why_not_ = absl::StrCat("cannot lock ", kLock, ": ", std::strerror(errno));
    return;
  }
  const long free_pages = MeminfoValue("HugePages_Free:");
  if (free_pages >= count) return;
  before_ = ReadPoolSize();
  if (geteuid() != 0 || before_ < 0) {
    why_not_ = absl::StrCat(free_pages, " free huge pages, not ", count, ", and no root to add them");
    return;
  }
  raised_ = WritePoolSize(before_ + count - (free_pages > 0 ? free_pages : 0));
  const long now_free = MeminfoValue("HugePages_Free:");
  if (now_free < count) {
    why_not_ = absl::StrCat("the kernel made ", now_free, " huge pages free, not ", count);
  }
}

ScopedFreeHugePages::~ScopedFreeHugePages() {
  if (raised_) WritePoolSize(before_);
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the lock
}

}  // namespace testing
}  // namespace pmem2
