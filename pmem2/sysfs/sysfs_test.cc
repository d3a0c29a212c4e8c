// Copyright 2026 The pmem2 Authors.

#include "pmem2/sysfs/sysfs.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/sysfs/sysfs_for_test.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace sysfs_internal {
namespace {

using ::testing::HasSubstr;

constexpr char kChildMarker[] = "PMEM2_SYSFS_TEST_CHILD";
// Names a redirect through the environment would plausibly use (the project once used the first).
const char* const kRedirectVariables[] = {"PMEM2_TEST_SYSFS_ROOT", "PMEM2_SYSFS_ROOT", "PMEM2_SYSFS", "SYSFS_ROOT",
                                          "SYSFS_PATH"};

TEST(SysfsTest, ReadsAnAttributeWithoutSurroundingWhiteSpace) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  std::ofstream(dir.Join("size")) << "  4096\n";
  EXPECT_EQ(ReadAttribute(dir.Join("size")).value(), "4096");
  absl::StatusOr<std::string> missing = ReadAttribute(dir.Join("none"));
  EXPECT_EQ(GetErrno(missing.status()), ENOENT);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir.Join("none")));
}

// A badblocks list can be longer than 4 KiB where pages are 64 KiB: read to the end, not cut at a buffer's size
// (a cut in "99 16" was read as "99 1", one sector instead of 16, and the entries after it dropped).
TEST(SysfsTest, ReadsALongAttributeWhole) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  std::string list;
  for (int i = 0; list.size() < 20000; ++i) list += std::to_string(i * 100) + " 16\n";
  std::ofstream(dir.Join("badblocks")) << list;
  absl::StatusOr<std::string> text = ReadAttribute(dir.Join("badblocks"));
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(text->size() + 1, list.size()) << "read " << text->size() << " of " << list.size() << " bytes";
  EXPECT_TRUE(*text + "\n" == list) << "the text read differs from the file's";
  std::ofstream(dir.Join("huge")) << std::string((size_t{1} << 20) + 1, 'x');
  absl::StatusOr<std::string> huge = ReadAttribute(dir.Join("huge"));
  EXPECT_EQ(GetErrno(huge.status()), EFBIG) << huge.status();
  EXPECT_THAT(std::string(huge.status().message()), HasSubstr(dir.Join("huge")));
}

TEST(SysfsTest, WritesAnAttributeInOneWrite) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  const std::string path = dir.Join("deep_flush");
  std::ofstream(path) << "0\n";
  ASSERT_TRUE(WriteAttribute(path, "1").ok());
  absl::StatusOr<std::string> text = ReadAttribute(path);
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "1");
}

TEST(SysfsTest, WritingAMissingAttributeIsAnErrnoErrorNamingIt) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  absl::Status status = WriteAttribute(dir.Join("absent/deep_flush"), "1");
  EXPECT_EQ(GetErrorCode(status), ErrorCode::kErrno);
  EXPECT_EQ(GetErrno(status), ENOENT);
  EXPECT_THAT(std::string(status.message()), HasSubstr("absent/deep_flush"));
}

// A write the file takes only in part (here: RLIMIT_FSIZE two bytes in) is EIO naming the attribute: an attribute's
// store ran on part of the value, so it did not do what was asked.
TEST(SysfsTest, AShortWriteIsEio) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  const std::string path = dir.Join("deep_flush");
  std::ofstream(path) << "0\n";
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    signal(SIGXFSZ, SIG_IGN);
    const struct rlimit two_bytes = {2, 2};
    if (setrlimit(RLIMIT_FSIZE, &two_bytes) != 0) return 2;
    const absl::Status status = WriteAttribute(path, "1234");
    ::pmem2::testing::WriteToParent(out, absl::StrCat(GetErrno(status), " ", status.message()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, ::testing::StartsWith(absl::StrCat(EIO, " write \"1234\" to ", path)));
}

// Signals that interrupt the open, the read and the write (a handler without SA_RESTART, as an application's may be)
// are retried, not failures: shown on a FIFO, where each of them blocks until the test's other thread lets it go.
std::atomic<int> interruptions{0};
void CountInterruption(int) { interruptions.fetch_add(1); }

TEST(SysfsTest, InterruptedSystemCallsAreRetried) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  const std::string fifo = dir.Join("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    struct sigaction action {};
    action.sa_handler = &CountInterruption;  // no SA_RESTART: a blocked system call returns EINTR
    if (sigaction(SIGUSR1, &action, nullptr) != 0) return 2;
    const pthread_t reader = pthread_self();
    auto pause = [] { absl::SleepFor(absl::Milliseconds(100)); };
    // Read: interrupted in open() (no writer yet), then in read() (a writer, nothing written yet).
    std::thread writer([&] {
      pause();
      pthread_kill(reader, SIGUSR1);
      pause();
      const int fd = open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
      pause();
      pthread_kill(reader, SIGUSR1);
      pause();
      if (fd >= 0 && write(fd, "42\n", 3) == 3) close(fd);
    });
    const absl::StatusOr<std::string> text = ReadAttribute(fifo);
    writer.join();
    ::pmem2::testing::WriteToParent(out, absl::StrCat("read ", text.ok() ? *text : text.status().ToString(), "; "));
    // Write: interrupted in write(), the pipe full.
    const int drain = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    const int filler = open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (drain < 0 || filler < 0) return 3;
    const std::string block(4096, 'f');
    size_t filled = 0;
    for (ssize_t n; (n = write(filler, block.data(), block.size())) > 0;) filled += static_cast<size_t>(n);
    std::string drained;
    std::thread emptier([&] {
      pause();
      pthread_kill(reader, SIGUSR1);
      pause();
      char buffer[4096];
      while (drained.size() < filled + 1) {
        const ssize_t n = read(drain, buffer, sizeof buffer);
        if (n > 0) drained.append(buffer, static_cast<size_t>(n));
        if (n <= 0) absl::SleepFor(absl::Milliseconds(1));
      }
    });
    const absl::Status written = WriteAttribute(fifo, "1");
    emptier.join();
    ::pmem2::testing::WriteToParent(out, absl::StrCat("write ", written.ToString(), " ", drained.back() == '1',
                                                      "; interruptions ", interruptions.load()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "read 42; write OK 1; interruptions 3");
}

TEST(SysfsTest, OnlyTheProcessItselfMovesTheRoot) {
  EXPECT_EQ(Root(), "/sys");
  SetRootForTest("/tmp/fake");
  EXPECT_EQ(Root(), "/tmp/fake");
  SetRootForTest("");
  EXPECT_EQ(Root(), "/sys");
}

// Runs in a copy of this binary started by the test below, with the redirect variables set from process start
// (so a value read once at start-up would be caught too).
TEST(SysfsChildTest, RootIgnoresTheEnvironment) {
  if (std::getenv(kChildMarker) == nullptr) GTEST_SKIP() << "runs only as the child of the test below";
  EXPECT_EQ(Root(), "/sys");
}

// A fake sysfs decides durability (it can claim eADR or Device DAX), so no environment variable may redirect
// it: otherwise a stray variable in production would change what persist_fn does.
TEST(SysfsTest, NoEnvironmentVariableRedirectsTheRoot) {
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    // Bazel's files for this test's own run: the child's GoogleTest would rewrite the XML report and delete the
    // premature-exit marker while this process runs, and sharding would make it run a share of its one test.
    const std::string name(*e, std::strcspn(*e, "="));
    if (name == "XML_OUTPUT_FILE" || name == "TEST_PREMATURE_EXIT_FILE" || absl::StartsWith(name, "TEST_SHARD_") ||
        name == "TEST_TOTAL_SHARDS" || absl::StartsWith(name, "GTEST_")) {
      continue;
    }
    env_text.emplace_back(*e);
  }
  env_text.push_back(std::string(kChildMarker) + "=1");
  for (const char* name : kRedirectVariables) env_text.push_back(std::string(name) + "=/tmp");
  std::vector<char*> envp;
  for (std::string& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string filter = "--gtest_filter=SysfsChildTest.RootIgnoresTheEnvironment";
  char* argv[] = {const_cast<char*>("sysfs_test"), filter.data(), nullptr};

  // A deadline well inside the "small" test's 60 s, so that a child that hangs fails this test with its output.
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild(
      [&](int out) {
        dup2(out, STDOUT_FILENO);
        execve("/proc/self/exe", argv, envp.data());
        return 127;
      },
      ::pmem2::testing::ChildOptions{absl::Seconds(30)});
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  const std::string& output = child.output;
  EXPECT_THAT(output, HasSubstr("[  PASSED  ] 1 test")) << "the child must run the check, not skip it";
  EXPECT_THAT(output, ::testing::Not(HasSubstr("SKIPPED"))) << output;
}

}  // namespace
}  // namespace sysfs_internal
}  // namespace pmem2
