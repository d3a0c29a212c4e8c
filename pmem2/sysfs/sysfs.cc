// Copyright 2026 The pmem2 Authors.

#include "pmem2/sysfs/sysfs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/sysfs/sysfs_for_test.h"

namespace pmem2 {
namespace sysfs_internal {
namespace {

// Fork-safe: every Map::Create reads the root, also in a child forked while another thread made a Map.
internal::ForkSafeMutex& RootMutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;
  return *mutex;
}
const bool root_mutex_made_at_load = (RootMutex(), true);  // no thread still making it at a fork
std::string* root_for_test = nullptr;  // guarded by RootMutex()

// A sysfs attribute is at most a page (64 KiB on arm64 and ppc64le); a binary one may be larger, but none pmem2
// reads is. The bound keeps a test's stray large file from being read whole.
constexpr size_t kMaxAttributeBytes = size_t{1} << 20;

}  // namespace

std::string Root() {
  std::lock_guard<internal::ForkSafeMutex> lock(RootMutex());
  return root_for_test != nullptr ? *root_for_test : "/sys";
}

void SetRootForTest(std::string root) {
  std::lock_guard<internal::ForkSafeMutex> lock(RootMutex());
  delete root_for_test;
  root_for_test = root.empty() ? nullptr : new std::string(std::move(root));
}

absl::StatusOr<std::string> ReadAttribute(const std::string& path) {
  const internal::ScopedNoCancellation no_cancellation;  // open(), read() and close()
  int fd;
  do {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;  // before StrCat, which may allocate
    return MakeErrnoError(err, absl::StrCat("open ", path));
  }
  // However this returns: appending to `text` may throw std::bad_alloc (which the C functions turn into -ENOMEM).
  const absl::Cleanup close_fd = [fd] { close(fd); };
  // To the end of the file: an attribute holds up to a page, 64 KiB on some kernels (a long badblocks list cut at
  // a smaller buffer would be parsed as a shorter, wrong list). Beyond kMaxAttributeBytes it is no attribute.
  std::string text;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      return MakeErrnoError(err, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    text.append(buffer, static_cast<size_t>(n));
    if (text.size() > kMaxAttributeBytes) {
      return MakeErrnoError(EFBIG, absl::StrCat("read ", path, ": more than ", kMaxAttributeBytes,
                                                " bytes, no sysfs attribute is that long"));
    }
  }
  return std::string(absl::StripAsciiWhitespace(text));
}

absl::Status WriteAttribute(const std::string& path, absl::string_view value) {
  const internal::ScopedNoCancellation no_cancellation;  // open(), write() and close()
  int fd;
  do {
    fd = open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);  // O_TRUNC: as `echo 1 >` does
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("open ", path, " for writing"));
  }
  ssize_t n;
  do {
    n = write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  const int err = n < 0 ? errno : (static_cast<size_t>(n) != value.size() ? EIO : 0);
  close(fd);
  if (err != 0) return MakeErrnoError(err, absl::StrCat("write \"", value, "\" to ", path));
  return absl::OkStatus();
}

}  // namespace sysfs_internal
}  // namespace pmem2
