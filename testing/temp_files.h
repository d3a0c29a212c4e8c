// Copyright 2026 The pmem2 Authors.
//
// testing/temp_files.h
// -----------------------------------------------------------------------------
//
// Test-only helpers for files to map: a scoped temporary folder on a chosen file system (tmpfs or the disk),
// files of a given size in it, and scoped environment variables. Failures are reported through GoogleTest
// (ADD_FAILURE) so a broken fixture shows up as a failed test, not a crash.

#ifndef PMEM2_TESTING_TEMP_FILES_H_
#define PMEM2_TESTING_TEMP_FILES_H_

#include <cstdint>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "gtest/gtest.h"

namespace pmem2 {
namespace testing {

// A file system to put test files on.
struct FileSystem {
  std::string name;  // "tmpfs" or "disk"
  std::string base;  // an existing folder on it
};

// For INSTANTIATE_TEST_SUITE_P over TestFileSystems(): names each instance "tmpfs" or "disk".
std::string FileSystemName(const ::testing::TestParamInfo<FileSystem>& param_info);

// tmpfs (/dev/shm) and a disk file system ($TEST_TMPDIR, else /var/tmp; checked with statfs not to be tmpfs),
// where present.
std::vector<FileSystem> TestFileSystems();

// Creates a fresh folder below `base` (aborts if it cannot); removes it and everything in it when destroyed.
class ScopedTempDir {
 public:
  explicit ScopedTempDir(const std::string& base);
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // `path()/name`.
  std::string Join(absl::string_view name) const;

 private:
  std::string path_;
};

// An open descriptor that is closed when destroyed. Move-only.
class ScopedFd {
 public:
  ScopedFd() = default;
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(ScopedFd&& other) noexcept : fd_(other.release()) {}
  ScopedFd& operator=(ScopedFd&& other) noexcept;
  ~ScopedFd();
  int get() const { return fd_; }
  int release();

 private:
  int fd_ = -1;
};

// Creates (or truncates) `path` with `size` bytes (sparse) and opens it with `open_flags` (e.g. O_RDWR).
ScopedFd CreateFile(const std::string& path, uint64_t size, int open_flags);

// The names in `folder`, without "." and ".."; empty if it cannot be read.
std::vector<std::string> FolderEntries(const std::string& folder);

// stat(2) of `path`; all zero (st_mode 0: no file) if it fails.
struct stat StatOrZero(const std::string& path);

// Sets (or, with nullopt, unsets) an environment variable; restores the old state when destroyed.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, absl::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  absl::optional<std::string> old_;
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_TEMP_FILES_H_
