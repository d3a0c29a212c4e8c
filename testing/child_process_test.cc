// Copyright 2026 The pmem2 Authors.
//
// RunInChild's tracing of opens reaches the child's threads and the processes it forks: code under test that opens
// from a worker thread or a helper process is seen too (found by review: only the child's first thread was traced).

#include "testing/child_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace pmem2 {
namespace testing {
namespace {

bool Opened(const ChildResult& result, const std::string& path) {
  for (const OpenCall& call : result.opens) {
    if (call.path == path) return true;
  }
  return false;
}

void OpenAndClose(const char* path) {
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) close(fd);
}

// Runs `body` in a process forked here, which then exits 0 (unless `body` exits): 0 if it exited 0, else 2 or 3.
template <typename Body>
int InAGrandchild(Body body) {
  const pid_t grandchild = fork();
  if (grandchild == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  if (grandchild < 0 || waitpid(grandchild, &status, 0) != grandchild) return 2;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 3;
}

TEST(ChildProcessTest, OpensOfTheChildsThreadsAndForkedProcessesAreRecorded) {
  const ChildResult child = RunInChild(
      [](int) {
        OpenAndClose("/dev/null");
        std::thread([] { OpenAndClose("/dev/zero"); }).join();
        return InAGrandchild([] { OpenAndClose("/dev/urandom"); });
      },
      ChildOptions{absl::Seconds(30), /*trace_opens=*/true});
  if (!child.trace_error.empty()) GTEST_SKIP() << "trace_opens: cannot trace a child's opens: " << child.trace_error;
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_TRUE(Opened(child, "/dev/null")) << "the child's own thread";
  EXPECT_TRUE(Opened(child, "/dev/zero")) << "a thread it started";
  EXPECT_TRUE(Opened(child, "/dev/urandom")) << "a process it forked";
}

// A program a traced process execs runs, and its opens are recorded (without PTRACE_O_TRACEEXEC the exec's SIGTRAP
// was delivered and killed it: the grandchild died of signal 5 while the child exited 0; found by audit).
TEST(ChildProcessTest, AProgramATracedProcessExecsRunsAndItsOpensAreRecorded) {
  const ChildResult child = RunInChild(
      [](int) {
        return InAGrandchild([] {
          execl("/bin/cat", "cat", "/dev/null", static_cast<char*>(nullptr));
          _exit(127);
        });
      },
      ChildOptions{absl::Seconds(30), /*trace_opens=*/true});
  if (!child.trace_error.empty()) GTEST_SKIP() << "trace_opens: cannot trace a child's opens: " << child.trace_error;
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_TRUE(Opened(child, "/dev/null")) << "the exec'd program's open";
}

// A grandchild still running when the child ends is killed, not left stopped under the test.
TEST(ChildProcessTest, ATracedGrandchildStillRunningWhenTheChildEndsIsKilled) {
  int pid_pipe[2];
  ASSERT_EQ(pipe(pid_pipe), 0);
  const ChildResult child = RunInChild(
      [&](int) {
        const pid_t grandchild = fork();
        if (grandchild == 0) {
          close(pid_pipe[1]);  // else the test's read below would wait for this process, were it left running
          for (;;) pause();
        }
        if (write(pid_pipe[1], &grandchild, sizeof grandchild) != sizeof grandchild) return 2;
        return 0;
      },
      ChildOptions{absl::Seconds(30), /*trace_opens=*/true});
  close(pid_pipe[1]);
  pid_t grandchild = 0;
  const bool read_pid = read(pid_pipe[0], &grandchild, sizeof grandchild) == sizeof grandchild;
  close(pid_pipe[0]);
  if (!child.trace_error.empty()) GTEST_SKIP() << "trace_opens: cannot trace a child's opens: " << child.trace_error;
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  ASSERT_TRUE(read_pid);
  // Killed, it is a zombie until init (its parent now) reaps it: gone, or in state Z.
  std::string state;
  for (int i = 0; i < 500 && kill(grandchild, 0) == 0; ++i) {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::getline(stat, state);
    const size_t paren = state.rfind(')');
    if (paren != std::string::npos && state.size() > paren + 2 && state[paren + 2] == 'Z') return;
    usleep(10000);
  }
  EXPECT_NE(kill(grandchild, 0), 0) << "grandchild " << grandchild << " still there: " << state;
}

}  // namespace
}  // namespace testing
}  // namespace pmem2
