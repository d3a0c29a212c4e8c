// Copyright 2026 The pmem2 Authors.

#include "testing/temp_files.h"

#include <dirent.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pmem2 {
namespace testing {

namespace {

bool IsTmpfs(const std::string& path) {
  struct statfs fs;
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == TMPFS_MAGIC;
}

}  // namespace

std::vector<FileSystem> TestFileSystems() {
  std::vector<FileSystem> result;
  if (IsTmpfs("/dev/shm")) result.push_back({"tmpfs", "/dev/shm"});
  // Nor RAM by another name (ramfs: no device, nothing written back).
  const auto in_ram = [](const std::string& path) {
    struct statfs fs;
    return IsTmpfs(path) || (statfs(path.c_str(), &fs) == 0 && fs.f_type == RAMFS_MAGIC);
  };
  // The disk case must really be a block-device file system: the sandbox's TEST_TMPDIR may itself be tmpfs.
  const char* tmp = std::getenv("TEST_TMPDIR");
  for (const std::string& candidate : {std::string(tmp != nullptr ? tmp : ""), std::string("/var/tmp")}) {
    struct stat st;
    if (!candidate.empty() && stat(candidate.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && !in_ram(candidate)) {
      result.push_back({"disk", candidate});
      break;
    }
  }
  return result;
}

std::string FileSystemName(const ::testing::TestParamInfo<FileSystem>& param_info) {
  return param_info.param.name;
}

ScopedTempDir::ScopedTempDir(const std::string& base) {
  std::string templ = base + "/pmem2_test.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    // Going on with an empty path would put the test's files in /.
    const int err = errno;
    std::fprintf(stderr, "ScopedTempDir: mkdtemp in %s: %s\n", base.c_str(), std::strerror(err));
    std::abort();
  }
  path_ = templ;
}

ScopedTempDir::~ScopedTempDir() {
  if (path_.empty()) return;
  // Folders a test made unwritable or unsearchable opened again first (ours: the owner may), then each entry tried (a
  // failure stops nothing: the walk would leave the rest behind), and what is left reported.
  nftw(
      path_.c_str(),
      [](const char* path, const struct stat* st, int type, struct FTW*) {
        if (type == FTW_D || type == FTW_DNR) chmod(path, (st->st_mode & 07777) | S_IRWXU);
        return 0;
      },
      16, FTW_PHYS);
  nftw(
      path_.c_str(),
      [](const char* path, const struct stat*, int, struct FTW*) {
        remove(path);
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS);
  struct stat left;
  if (lstat(path_.c_str(), &left) == 0) ADD_FAILURE() << "ScopedTempDir: " << path_ << " could not be removed whole";
}

std::string ScopedTempDir::Join(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

ScopedFd& ScopedFd::operator=(ScopedFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = other.release();
  }
  return *this;
}

ScopedFd::~ScopedFd() {
  if (fd_ >= 0) close(fd_);
}

int ScopedFd::release() { return std::exchange(fd_, -1); }

ScopedFd CreateFile(const std::string& path, uint64_t size, int open_flags) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int err = errno;
    ADD_FAILURE() << "create " << path << " of " << size << " bytes: " << std::strerror(err);
    if (fd >= 0) close(fd);
    return ScopedFd();
  }
  close(fd);
  fd = open(path.c_str(), open_flags);
  if (fd < 0) {
    const int err = errno;
    ADD_FAILURE() << "open " << path << ": " << std::strerror(err);
  }
  return ScopedFd(fd);
}

ScopedEnv::ScopedEnv(std::string name, absl::optional<std::string> value) : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  if (value.has_value()) {
    setenv(name_.c_str(), value->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

ScopedEnv::~ScopedEnv() {
  if (old_.has_value()) {
    setenv(name_.c_str(), old_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

std::vector<std::string> FolderEntries(const std::string& folder) {
  std::vector<std::string> names;
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) return names;
  while (dirent* entry = readdir(dir)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) names.push_back(entry->d_name);
  }
  closedir(dir);
  return names;
}

struct stat StatOrZero(const std::string& path) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  if (stat(path.c_str(), &st) != 0) std::memset(&st, 0, sizeof st);
  return st;
}

}  // namespace testing
}  // namespace pmem2
