// Copyright 2026 The pmem2 Authors.
//
// A one-time initialization that another thread is running at a fork: libpmem's log, made at the first call that
// logs, opens PMEM_LOG_FILE. Here that file is a FIFO with no reader, so the opening thread stays inside the
// initialization (open(2) blocks) while the test forks. The child, whose log is then not made yet, must make its
// own and log. With the C++ function-local static the log was before, the child waited for the other thread's
// initialization forever (negative control, measured once: the child timed out). Its own binary, so that no
// earlier test has made the log.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// True once thread `tid` of this process is blocked in system call `number` (its /proc syscall file names it).
bool BlockedIn(long number, pid_t tid) {
  const std::string line = ReadAll(absl::StrCat("/proc/self/task/", tid, "/syscall"));
  return absl::StartsWith(line, absl::StrCat(number, " "));
}
bool BlockedInOpenat(pid_t tid) { return BlockedIn(SYS_openat, tid); }

TEST(LibpmemForkLogTest, AChildForkedWhileAnotherThreadOpensTheLogMakesItsOwnAndLogs) {
  if (ReadAll("/proc/self/syscall").empty()) {
    GTEST_SKIP() << "no /proc/<pid>/syscall here: no way to see the opener blocked in open(2)";
  }
  const char* tmp = std::getenv("TEST_TMPDIR");
  pmem2::testing::ScopedTempDir dir(tmp != nullptr ? tmp : "/tmp");
  const std::string fifo = dir.Join("log-fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  ASSERT_EQ(setenv("PMEM_LOG_LEVEL", "1", 1), 0);
  ASSERT_EQ(setenv("PMEM_LOG_FILE", fifo.c_str(), 1), 0);

  std::atomic<pid_t> opener_tid{0};
  std::thread opener([&] {
    opener_tid = static_cast<pid_t>(syscall(SYS_gettid));
    char spare = 0;
    pmem_unmap(&spare, 0);  // fails (length 0) and logs it: the first call that logs makes the log
  });
  // A reader lets the opener's open complete; it then writes its line into the FIFO. The reader stays open for
  // the rest of the process: a write to a FIFO without one would raise SIGPIPE.
  int reader = -1;
  auto release_opener = absl::MakeCleanup([&] {
    if (reader < 0) reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
    opener.join();
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (opener_tid == 0 || !BlockedInOpenat(opener_tid)) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the opener never blocked opening the FIFO";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  const std::string child_log = dir.Join("child.log");
  pmem2::testing::ChildOptions options;
  options.timeout = absl::Seconds(20);
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild(
      [&](int out) {
        setenv("PMEM_LOG_FILE", child_log.c_str(), 1);  // a file that opens: the child's own log
        char spare = 0;
        pmem_unmap(&spare, 0);
        const std::string logged = ReadAll(child_log);
        pmem2::testing::WriteToParent(out, logged);
        return absl::StrContains(logged, "<libpmem>: <1>") ? 0 : 1;
      },
      options);

  reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  std::move(release_opener).Invoke();
  char line[256] = {};
  const ssize_t got = read(reader, line, sizeof(line) - 1);
  EXPECT_GT(got, 0);
  EXPECT_TRUE(absl::StrContains(line, "<libpmem>: <1>")) << line;

  EXPECT_FALSE(child.timed_out) << child.Describe();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();

  // Then a writer blocked in the log's write (the FIFO full, its reader not reading) does not hold up a fork of
  // another thread: the line is written under the stream's lock, which fork() does not wait for. (Under a
  // ForkSafeMutex, which every fork takes, the fork waited for the writer: measured once, the child timed out.)
  std::atomic<bool> stop{false};
  std::atomic<pid_t> writer_tid{0};
  std::thread writer([&] {
    writer_tid = static_cast<pid_t>(syscall(SYS_gettid));
    char spare = 0;
    while (!stop) pmem_unmap(&spare, 0);  // a line each
  });
  auto release_writer = absl::MakeCleanup([&] {
    stop = true;
    char drained[4096];
    while (true) {
      if (read(reader, drained, sizeof drained) > 0) continue;
      if (writer_tid != 0 && !BlockedIn(SYS_write, writer_tid)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    writer.join();
  });
  const auto write_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (writer_tid == 0 || !BlockedIn(SYS_write, writer_tid)) {
    ASSERT_LT(std::chrono::steady_clock::now(), write_deadline) << "the writer never filled the FIFO";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const pmem2::testing::ChildResult forked = pmem2::testing::RunInChild([](int) { return 0; }, options);
  EXPECT_FALSE(forked.timed_out) << "the fork waited for the blocked writer: " << forked.Describe();
  EXPECT_TRUE(forked.exited && forked.exit_code == 0) << forked.Describe();
}

}  // namespace
