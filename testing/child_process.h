// Copyright 2026 The pmem2 Authors.
//
// testing/child_process.h
// -----------------------------------------------------------------------------
//
// Test-only: runs a piece of a test in a forked child under a deadline, so that code which might block (an
// open of a FIFO, a read from a terminal) shows up as a failed test instead of a test that never ends, and a
// crash (SIGBUS) as a failure of one test instead of the whole binary. The child can report back through an
// output descriptor. Optionally the child runs under ptrace and every open(2)/openat(2)/openat2(2) it makes is
// recorded, path and flags, also in the threads it starts and the processes it forks (traced from their start; those
// still running when the child ends are killed): the proof that code never opened something (an open of /dev/ptmx
// leaves no trace once closed, and inotify/fanotify report no opens of character devices on current kernels). Not
// seen: an open that io_uring makes (IORING_OP_OPENAT) or open_by_handle_at(2).
//
// Example:
//
//   ChildResult r = RunInChild([&](int out) {
//     WriteToParent(out, Info("/dev/ptmx", {}).status().ToString());
//     return 0;
//   });
//   EXPECT_FALSE(r.timed_out);
//   EXPECT_THAT(r.output, HasSubstr("PMEM2_E_INVALID_FILE_TYPE"));
//
// POSIX lets the child of a multithreaded process make only async-signal-safe calls, and the code under test
// allocates; with glibc, whose fork() leaves malloc usable in the child, the fork tests (pmem2/c/fork_test.cc,
// pmem2/internal/, pmem2/vm_reservation/) call it from multithreaded tests on purpose. Other tests: call it from
// a single-threaded one.

#ifndef PMEM2_TESTING_CHILD_PROCESS_H_
#define PMEM2_TESTING_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pmem2 {
namespace testing {

struct ChildOptions {
  // After this long the child is killed (SIGKILL) and ChildResult::timed_out is set.
  absl::Duration timeout = absl::Seconds(10);
  // Run the child under ptrace and record its opens in ChildResult::opens.
  bool trace_opens = false;
};

// One open(2), openat(2), openat2(2) or creat(2) the child started (recorded at system call entry, so also
// the ones that failed or blocked).
struct OpenCall {
  std::string path;
  int flags = 0;
};

struct ChildResult {
  bool timed_out = false;
  bool exited = false;  // exited normally, with exit_code
  int exit_code = -1;
  int signal = 0;      // the signal that ended it, if one did
  std::string output;  // everything the child wrote to its output descriptor
  std::vector<OpenCall> opens;
  // Non-empty if opens were asked for but could not be recorded (no ptrace permission, a kernel before 5.3):
  // tests then skip instead of trusting an empty list.
  std::string trace_error;

  // For failure messages: how the child ended, and its output.
  std::string Describe() const;
};

// Forks; the child runs `body(output_fd)` and leaves with _exit(its return value) (no atexit handlers, no
// GoogleTest reporting in the child). Waits for it at most `options.timeout`. The child is killed (SIGKILL, through
// PR_SET_PDEATHSIG, which survives execve) if the calling thread dies first, e.g. when the test process is killed.
ChildResult RunInChild(absl::FunctionRef<int(int output_fd)> body, const ChildOptions& options = ChildOptions());

// Writes all of `text` to `fd` (for the child's body).
void WriteToParent(int fd, absl::string_view text);

// For a child's body: forks `forks` times (each child _exits at once, and is waited for) while another thread sends
// `signal_number` to the forking thread every 20 µs, so that its handler runs in every part of fork(), the fork
// handlers included. Returns how many forks were waited for.
int ForkWhileSignalled(int forks, int signal_number);

// For a child's body run as root: becomes user `uid` and group `gid` with no supplementary groups (setgroups,
// setgid, then setuid), and arms the kill on the parent's death again, which the kernel clears when the credentials
// change (prctl(2)). False, with errno, if a call failed; the process exits (as RunInChild's child does) if the
// parent is already gone. Also for a plain fork()ed child: it arms the kill there.
bool BecomeUser(uid_t uid, gid_t gid);

// For a child's body, and only for root (CAP_SYS_ADMIN): moves the calling process into a mount namespace of
// its own and mounts a tmpfs with mount option `size` (e.g. "1m") on the existing folder `dir`, to give code a
// nearly full file system. No other process sees the mount, and it disappears with the child however the
// child ends, so a crash or a kill cannot leave it mounted on the machine. An error naming the failing step
// otherwise (e.g. EPERM when not root), its message starting "MountPrivateTmpfs: " (scripts/test.sh, under CI as
// root, fails a case skipped for it).
absl::Status MountPrivateTmpfs(const std::string& dir, absl::string_view size);

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_CHILD_PROCESS_H_
