// Copyright 2026 The pmem2 Authors.
//
// The logs' examples when persistence fails (examples_test.sh checks the logs when persistence works). Each failing run
// must end with status 1, a message naming where it stopped and no success summary, and must not publish a tail over
// a record whose persist failed:
//
//   * every msync fails (a seccomp filter, kept across execve): the run stops while starting the log (or opening the
//     async engine), and the file it created is removed;
//   * one msync fails, after the log started: a seccomp filter hands each msync to a supervisor (a user notification,
//     seccomp_unotify(2)), which lets them run but for the chosen one, answered with EIO without running, as a disk's
//     failed write-back is reported once. The run must stop at that record (append_log) or batch (append_log_async),
//     and the file keep the tail published before it.
//
// The second runs append_log_async's synchronous backend only: io_uring's syncs are no system calls a filter sees.

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/temp_files.h"

namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Runfiles' paths ($(rootpath), BUILD.bazel), from the test's working directory; empty if the variable is unset.
std::string Binary(bool async) {
  const char* const binary = std::getenv(async ? "APPEND_LOG_ASYNC" : "APPEND_LOG");
  return binary == nullptr ? std::string() : binary;
}

// What each example prints on success only.
const char* Summary(bool async) { return async ? " batches, backend " : " bytes of records, "; }

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
      pmem2::testing::ChildOptions{absl::Seconds(20)});
}

// The header's first 8 bytes: the published tail. The caller checks that the file exists.
uint64_t PublishedTail(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ~uint64_t{0};
  uint64_t tail = ~uint64_t{0};
  if (pread(fd, &tail, sizeof tail, 0) != static_cast<ssize_t>(sizeof tail)) tail = ~uint64_t{0};
  close(fd);
  return tail;
}

// The bytes of the examples' first `n` records ("record 0\n" ...): the tail that publishes them.
uint64_t RecordBytes(int n) {
  uint64_t bytes = 0;
  for (int i = 0; i < n; ++i) bytes += ("record " + std::to_string(i) + "\n").size();
  return bytes;
}

class AppendLogFailureTest : public ::testing::TestWithParam<int> {};

TEST_P(AppendLogFailureTest, AFailureWhileStartingTheLogLeavesNoFile) {
  if (!pmem2::testing::SystemCallsCanBeDenied()) {
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  }
  const auto file_systems = pmem2::testing::TestFileSystems();
  ASSERT_FALSE(file_systems.empty());
  pmem2::testing::ScopedTempDir dir(file_systems.back().base);  // the disk, where there is one
  const int variant = GetParam();
  const std::string binary = Binary(/*async=*/variant != 0);
  ASSERT_FALSE(binary.empty());
  const std::string path = dir.Join("log");
  const pmem2::testing::ChildResult child = RunWithFailingMsync(binary, path, /*no_io_uring=*/variant == 2);
  ASSERT_TRUE(child.exited) << child.Describe();
  EXPECT_EQ(child.exit_code, 1) << child.Describe();
  EXPECT_THAT(child.output, AnyOf(HasSubstr("Input/output error"), HasSubstr("EIO"), HasSubstr("DATA_LOSS")))
      << child.Describe();
  EXPECT_THAT(child.output, AnyOf(HasSubstr(": starting the log: "), HasSubstr(": opening: "))) << child.Describe();
  EXPECT_THAT(child.output, Not(HasSubstr(Summary(variant != 0)))) << "no summary: " << child.Describe();
  // The run created the file and started no log: LogFile removed it (no tail to read, nothing the next run refuses).
  EXPECT_EQ(pmem2::testing::StatOrZero(path).st_mode, 0u) << path << " left behind";
}

INSTANTIATE_TEST_SUITE_P(Examples, AppendLogFailureTest, ::testing::Values(0, 1, 2),
                         [](const ::testing::TestParamInfo<int>& param_info) {
                           return std::string(param_info.param == 0   ? "append_log"
                                              : param_info.param == 1 ? "append_log_async"
                                                                      : "append_log_async_synchronous");
                         });

// --- One msync failing, after the log started ---------------------------------------------------------------------

// How RunWithOneFailingMsync's supervisor ends when it cannot install its filter.
constexpr int kNoListener = 77;
constexpr char kMsyncsLine[] = "\n[supervisor] msync calls: ";

struct SupervisedRun {
  pmem2::testing::ChildResult child;  // the example's exit status (the supervisor passes it on) and output
  int msyncs = -1;                    // the msync calls the example made, the failed one included
};

// Runs `binary path args...` (with PMEM2_NO_IO_URING=1 if `no_io_uring`) and fails its `fail_at`-th msync (1 the
// first; 0 none) with EIO, letting every other run. The process RunInChild forks installs a seccomp filter that hands
// each msync to a listener, forks the example (which inherits the filter across execve) and answers each msync the
// example makes.
SupervisedRun RunWithOneFailingMsync(const std::string& binary, const std::string& path,
                                     const std::vector<std::string>& args, bool no_io_uring, int fail_at) {
  SupervisedRun run;
  run.child = pmem2::testing::RunInChild(
      [&](int out) {
        sock_filter filter[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_msync, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
        seccomp_notif_sizes sizes = {};
        int listener = -1;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
            syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) == 0) {
          listener = static_cast<int>(
              syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &program));
        }
        if (listener < 0) {
          pmem2::testing::WriteToParent(out, std::string("seccomp user notification: ") + std::strerror(errno));
          return kNoListener;
        }
        const pid_t example = fork();
        if (example < 0) return 102;
        if (example == 0) {
          // Killed with the supervisor (a timeout), which alone lets its msyncs return.
          if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1) _exit(103);
          close(listener);
          if (dup2(out, STDERR_FILENO) != STDERR_FILENO || dup2(out, STDOUT_FILENO) != STDOUT_FILENO) _exit(100);
          if (no_io_uring) setenv("PMEM2_NO_IO_URING", "1", 1);
          std::vector<char*> argv = {const_cast<char*>(binary.c_str()), const_cast<char*>(path.c_str())};
          for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
          argv.push_back(nullptr);
          execv(binary.c_str(), argv.data());
          _exit(101);
        }
        // The kernel's structures may be larger than this build's headers say (SECCOMP_GET_NOTIF_SIZES).
        std::vector<char> request(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
        std::vector<char> response(std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
        int msyncs = 0;
        int status = 0;
        int failed_receives = 0;  // in a row: a listener that keeps failing must not spin until the test's timeout
        for (;;) {
          pollfd ready = {listener, POLLIN, 0};
          if (poll(&ready, 1, 20) > 0 && (ready.revents & POLLIN) != 0) {
            std::fill(request.begin(), request.end(), 0);
            // ENOENT: the caller was killed meanwhile.
            if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, request.data()) != 0) {
              if (errno != ENOENT && errno != EINTR && ++failed_receives > 100) {
                pmem2::testing::WriteToParent(
                    out, std::string("seccomp user notification: SECCOMP_IOCTL_NOTIF_RECV: ") + std::strerror(errno));
                kill(example, SIGKILL);
                waitpid(example, &status, 0);
                return kNoListener;
              }
              continue;
            }
            failed_receives = 0;
            std::fill(response.begin(), response.end(), 0);
            auto* answer = reinterpret_cast<seccomp_notif_resp*>(response.data());
            answer->id = reinterpret_cast<const seccomp_notif*>(request.data())->id;
            if (++msyncs == fail_at) {
              answer->error = -EIO;  // not run: its pages stay dirty, as a failed write-back may leave them
            } else {
              answer->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            }
            // ENOENT: the caller was killed meanwhile. EINVAL: a kernel before 5.5, without the flag to let it run.
            if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, response.data()) != 0 && errno != ENOENT) {
              pmem2::testing::WriteToParent(
                  out, std::string("seccomp user notification: SECCOMP_IOCTL_NOTIF_SEND: ") + std::strerror(errno));
              kill(example, SIGKILL);
              waitpid(example, &status, 0);
              return kNoListener;
            }
            continue;
          }
          const pid_t waited = waitpid(example, &status, WNOHANG);
          if (waited == example) break;
          if (waited < 0 && errno != EINTR) return 104;
        }
        pmem2::testing::WriteToParent(out, kMsyncsLine + std::to_string(msyncs) + "\n");
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      },
      pmem2::testing::ChildOptions{absl::Seconds(20)});
  const size_t line = run.child.output.rfind(kMsyncsLine);
  if (line != std::string::npos) {
    run.msyncs = std::atoi(run.child.output.c_str() + line + sizeof kMsyncsLine - 1);
    run.child.output.erase(line);
  }
  return run;
}

enum class Where { kRecord, kTail };  // the failing msync: a record's (or batch's) data, or the tail published after it

struct OneFailure {
  const char* name;
  bool async;  // append_log_async, synchronous backend; else append_log
  Where where;
};

class OneFailingPersistTest : public ::testing::TestWithParam<OneFailure> {
 protected:
  void SetUp() override {
    const auto file_systems = pmem2::testing::TestFileSystems();
    ASSERT_FALSE(file_systems.empty());
    dir_.emplace(file_systems.back().base);  // the disk, where there is one
    binary_ = Binary(GetParam().async);
    ASSERT_FALSE(binary_.empty());
    // A run that starts a log (its msyncs) shows whether the supervisor can work here: a kernel without seccomp user
    // notifications (before 5.0) or without letting a notified call run (5.5), or a container that forbids seccomp.
    const SupervisedRun probe = Run(0, /*fail_at=*/0);
    if (probe.child.exited && probe.child.exit_code == kNoListener) {
      GTEST_SKIP() << "seccomp user notifications are not available here: " << probe.child.output;
    }
  }

  // The example's run on a file of its own for `records` (in batches of kBatch), failing its `fail_at`-th msync.
  SupervisedRun Run(int records, int fail_at) {
    const std::string path = dir_->Join("log" + std::to_string(++runs_));
    std::vector<std::string> args = {std::to_string(records)};
    if (GetParam().async) args.push_back(std::to_string(kBatch));
    last_path_ = path;
    return RunWithOneFailingMsync(binary_, path, args, /*no_io_uring=*/GetParam().async, fail_at);
  }

  // The msyncs of a successful run for `records`.
  int Msyncs(int records) {
    const SupervisedRun run = Run(records, /*fail_at=*/0);
    EXPECT_TRUE(run.child.exited && run.child.exit_code == 0) << run.child.Describe();
    EXPECT_GT(run.msyncs, 0) << run.child.Describe();
    return run.msyncs;
  }

  static constexpr int kRecords = 50;
  static constexpr int kBatch = 16;  // append_log_async: batches 0 to 2 full, 3 of 2 records

  std::optional<pmem2::testing::ScopedTempDir> dir_;
  std::string binary_;
  std::string last_path_;
  int runs_ = 0;
};

TEST_P(OneFailingPersistTest, TheRunStopsThereAndKeepsTheTailPublishedBefore) {
  const OneFailure& failure = GetParam();
  // Where the msync to fail is, from the msyncs of successful runs: those that start the log, then a fixed number per
  // record (append_log) or per batch (append_log_async). The checks of the output below would catch a count that
  // picked another persist: it would name another record, batch or step.
  int fail_at = 0;
  int first = 0;  // the failing record, or the failing batch's first
  std::string named;
  if (!failure.async) {
    const int start = Msyncs(0);
    const int per_record = Msyncs(1) - start;
    ASSERT_EQ(Msyncs(2) - start, 2 * per_record) << "msyncs per record vary";
    ASSERT_GE(per_record, 2) << "the record's data and its tail";
    first = 3;
    fail_at = start + per_record * first + (failure.where == Where::kRecord ? 1 : per_record);
    named = ": record " + std::to_string(first) + ": ";
  } else {
    const int two_batches = Msyncs(2 * kBatch);
    const int per_batch = Msyncs(3 * kBatch) - two_batches;
    ASSERT_EQ(two_batches - Msyncs(kBatch), per_batch) << "msyncs per batch vary";
    ASSERT_GE(per_batch, 2) << "the batch's records and its tail";
    first = 2 * kBatch;  // batch 2
    fail_at = two_batches + (failure.where == Where::kRecord ? 1 : per_batch);
    named = failure.where == Where::kRecord
                ? ": batch 2 (records " + std::to_string(first) + " to " + std::to_string(first + kBatch - 1) + "): "
                : ": persisting tail " + std::to_string(RecordBytes(first + kBatch)) + ": ";
  }

  const SupervisedRun run = Run(kRecords, fail_at);
  const std::string& path = last_path_;
  ASSERT_TRUE(run.child.exited) << run.child.Describe();
  EXPECT_EQ(run.child.exit_code, 1) << run.child.Describe();
  ASSERT_GE(run.msyncs, fail_at) << "the persist to fail was never made: " << run.child.Describe();
  EXPECT_THAT(run.child.output, HasSubstr(named)) << run.child.Describe();
  EXPECT_THAT(run.child.output, AnyOf(HasSubstr("Input/output error"), HasSubstr("EIO"), HasSubstr("DATA_LOSS")))
      << run.child.Describe();
  EXPECT_THAT(run.child.output, Not(HasSubstr(Summary(failure.async)))) << "no summary: " << run.child.Describe();
  // The log started, so the file stays (Keep()), with the tail published before the failure. What the file shows is
  // the page cache's: a tail stored before its own persist failed shows too, never one past the failed record or
  // batch.
  ASSERT_TRUE(S_ISREG(pmem2::testing::StatOrZero(path).st_mode)) << path << " is gone";
  const uint64_t tail = PublishedTail(path);
  EXPECT_LT(tail, RecordBytes(kRecords)) << "published as if every record were durable";
  const int failed = failure.async ? kBatch : 1;  // the records whose persist failed
  if (failure.where == Where::kRecord) {
    EXPECT_EQ(tail, RecordBytes(first)) << "the tail must stay where the last good persist left it";
  } else {
    EXPECT_GE(tail, RecordBytes(first));
    EXPECT_LE(tail, RecordBytes(first + failed));
  }
}

INSTANTIATE_TEST_SUITE_P(Examples, OneFailingPersistTest,
                         ::testing::Values(OneFailure{"append_log_record", false, Where::kRecord},
                                           OneFailure{"append_log_tail", false, Where::kTail},
                                           OneFailure{"append_log_async_synchronous_batch", true, Where::kRecord},
                                           OneFailure{"append_log_async_synchronous_tail", true, Where::kTail}),
                         [](const ::testing::TestParamInfo<OneFailure>& param_info) {
                           return std::string(param_info.param.name);
                         });

}  // namespace
