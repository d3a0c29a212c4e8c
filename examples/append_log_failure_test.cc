// Copyright 2026 The pmem2 Authors.
//
// The logs' examples when persistence fails: every msync of the process fails with EIO (a seccomp filter, kept across
// execve). Each must end with status 1 and a message, and publish no tail: what it started is not durable, so no
// record may be claimed. (examples_test.sh checks the logs when persistence works.)

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/temp_files.h"

namespace {

// Runs `binary` on `path` for 50 records with every msync failing; returns the child's result.
pmem2::testing::ChildResult RunWithFailingMsync(const std::string& binary, const std::string& path, bool no_io_uring) {
  return pmem2::testing::RunInChild(
      [&](int out) {
        if (dup2(out, STDERR_FILENO) != STDERR_FILENO || dup2(out, STDOUT_FILENO) != STDOUT_FILENO) return 100;
        if (no_io_uring) setenv("PMEM2_NO_IO_URING", "1", 1);
        pmem2::testing::DenySystemCall(__NR_msync, EIO);
        execl(binary.c_str(), binary.c_str(), path.c_str(), "50", static_cast<char*>(nullptr));
        return 101;
      },
      pmem2::testing::ChildOptions{absl::Seconds(60)});
}

// The header's first 8 bytes: the published tail; 0 where the file is gone or shorter.
uint64_t PublishedTail(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  uint64_t tail = 0;
  if (pread(fd, &tail, sizeof tail, 0) != static_cast<ssize_t>(sizeof tail)) tail = 0;
  close(fd);
  return tail;
}

class AppendLogFailureTest : public ::testing::TestWithParam<int> {};

TEST_P(AppendLogFailureTest, AFailedPersistEndsTheRunWithoutPublishingATail) {
  if (!pmem2::testing::SystemCallsCanBeDenied()) {
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  }
  const auto file_systems = pmem2::testing::TestFileSystems();
  ASSERT_FALSE(file_systems.empty());
  pmem2::testing::ScopedTempDir dir(file_systems.back().base);  // the disk, where there is one
  const int variant = GetParam();
  // Runfiles' paths ($(rootpath), BUILD.bazel), from the test's working directory.
  const char* const binary_variable = std::getenv(variant == 0 ? "APPEND_LOG" : "APPEND_LOG_ASYNC");
  ASSERT_NE(binary_variable, nullptr);
  const std::string binary = binary_variable;
  const std::string path = dir.Join("log");
  const pmem2::testing::ChildResult child = RunWithFailingMsync(binary, path, /*no_io_uring=*/variant == 2);
  ASSERT_TRUE(child.exited) << child.Describe();
  EXPECT_EQ(child.exit_code, 1) << child.Describe();
  EXPECT_THAT(child.output, ::testing::AnyOf(::testing::HasSubstr("Input/output error"), ::testing::HasSubstr("EIO"),
                                             ::testing::HasSubstr("DATA_LOSS")))
      << child.Describe();
  EXPECT_THAT(child.output, ::testing::Not(::testing::HasSubstr("bytes of records")))
      << "no summary: " << child.Describe();
  EXPECT_EQ(PublishedTail(path), 0u) << "a tail published over records whose persists failed";
}

INSTANTIATE_TEST_SUITE_P(Examples, AppendLogFailureTest, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::string(param_info.param == 0   ? "append_log"
                                              : param_info.param == 1 ? "append_log_async"
                                                                      : "append_log_async_synchronous");
                         });

}  // namespace
