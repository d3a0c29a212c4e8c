// Copyright 2026 The pmem2 Authors.

#include "tools/info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace tools {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedTempDir;
using ::testing::HasSubstr;
using ::testing::Not;

class InfoTest : public ::testing::Test {
 protected:
  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{"/dev/shm"};
};

TEST_F(InfoTest, CreatesAMissingFileAndReportsPageGranularity) {
  InfoOptions options;
  options.create_size = 1 << 20;
  absl::StatusOr<std::string> report = Info(dir_.Join("new"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("(created)"));
  EXPECT_THAT(*report, HasSubstr("\nsource: regular_file\n"));
  EXPECT_THAT(*report, HasSubstr("\nsize: 1048576\n"));
  EXPECT_THAT(*report, HasSubstr("\nalignment: 4096\n"));
  EXPECT_THAT(*report, HasSubstr("\nmap_sync: no\n"));
  EXPECT_THAT(*report, HasSubstr("\ngranularity: page\n"));
  EXPECT_THAT(*report, HasSubstr("\nflush: msync\n"));
  EXPECT_THAT(*report, HasSubstr("\ncpu: "));
  struct stat st;
  ASSERT_EQ(stat(dir_.Join("new").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
}

TEST_F(InfoTest, AFileItCreatedIsRemovedWhenMappingFails) {
  InfoOptions options;
  options.create_size = 0;  // an empty file cannot be mapped
  absl::Status s = Info(dir_.Join("new"), options).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("PMEM2_E_SOURCE_EMPTY"));
  struct stat st;
  EXPECT_NE(stat(dir_.Join("new").c_str(), &st), 0) << "the file pmem2 info created must be gone";
}

TEST_F(InfoTest, ExistingFileIsNotResized) {
  CreateFile(dir_.Join("f"), 8192, O_RDWR);
  absl::StatusOr<std::string> report = Info(dir_.Join("f"), InfoOptions());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, Not(HasSubstr("(created)")));
  EXPECT_THAT(*report, HasSubstr("\nsize: 8192\n"));
}

TEST_F(InfoTest, ShowsAForcedGranularity) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
  CreateFile(dir_.Join("f"), 8192, O_RDWR);
  absl::StatusOr<std::string> report = Info(dir_.Join("f"), InfoOptions());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("\ngranularity: cache_line\n"));
  EXPECT_THAT(*report, HasSubstr("\ndetected_granularity: page\n"));
  EXPECT_THAT(*report, HasSubstr("\nforced: yes"));
}

TEST_F(InfoTest, MissingFolderIsOneLine) {
  absl::Status s = Info(dir_.Join("no/such/file"), InfoOptions()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), dir_.Join("no/such/file") + ": no such file or directory");
}

TEST_F(InfoTest, DirectoryIsOneLine) {
  absl::Status s = Info(dir_.path(), InfoOptions()).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("is a directory"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("\n")));
}

TEST_F(InfoTest, EmptyFileIsRefusedWithTheErrorName) {
  CreateFile(dir_.Join("empty"), 0, O_RDWR);
  absl::Status s = Info(dir_.Join("empty"), InfoOptions()).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("PMEM2_E_SOURCE_EMPTY"));
}

TEST_F(InfoTest, ReadOnlyFileIsMappedReadOnly) {
  CreateFile(dir_.Join("ro"), 4096, O_RDWR);
  ASSERT_EQ(chmod(dir_.Join("ro").c_str(), 0444), 0);
  if (geteuid() == 0) GTEST_SKIP() << "root can open any file read-write";
  absl::StatusOr<std::string> report = Info(dir_.Join("ro"), InfoOptions());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("\naccess: read-only\n"));
}

TEST_F(InfoTest, NoPermissionIsOneLine) {
  CreateFile(dir_.Join("secret"), 4096, O_RDWR);
  ASSERT_EQ(chmod(dir_.Join("secret").c_str(), 0600), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  // Root reads anything: check from a child that drops to an unprivileged user.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    absl::Status s = Info(dir_.Join("secret"), InfoOptions()).status();
    _exit(s.code() == absl::StatusCode::kPermissionDenied &&
                  s.message() == dir_.Join("secret") + ": permission denied"
              ? 0
              : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "exit 1: wrong error; exit 2: could not drop privileges";
}

}  // namespace
}  // namespace tools
}  // namespace pmem2
