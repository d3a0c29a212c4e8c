// Copyright 2026 The pmem2 Authors.

#include "testing/child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pmem2 {
namespace testing {
namespace {

absl::Time MonotonicNow() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return absl::TimeFromTimespec(now);
}

// The child's exit code when it cannot be traced; never a body's (bodies return small codes).
constexpr int kCannotTrace = 111;
// The child's exit code when the test process was gone before the child could tie its life to it.
constexpr int kParentGone = 112;

// A NUL-terminated string at `address` in the stopped tracee, word by word: aligned words never cross into an
// unmapped page.
std::string PeekString(pid_t pid, uint64_t address) {
  std::string text;
  uint64_t word_address = address & ~uint64_t{sizeof(long) - 1};
  size_t skip = static_cast<size_t>(address - word_address);
  while (text.size() < 4096) {
    errno = 0;
    const long word = ptrace(PTRACE_PEEKDATA, pid, reinterpret_cast<void*>(word_address), nullptr);
    if (word == -1 && errno != 0) break;
    char bytes[sizeof word];
    std::memcpy(bytes, &word, sizeof word);
    for (size_t i = skip; i < sizeof word; ++i) {
      if (bytes[i] == '\0') return text;
      text.push_back(bytes[i]);
    }
    skip = 0;
    word_address += sizeof word;
  }
  return text;
}

uint64_t PeekWord(pid_t pid, uint64_t address) {
  errno = 0;
  const long word = ptrace(PTRACE_PEEKDATA, pid, reinterpret_cast<void*>(address), nullptr);
  return word == -1 && errno != 0 ? 0 : static_cast<uint64_t>(word);
}

// At a system-call stop: if it is the entry of an open, records path and flags.
void RecordOpen(pid_t pid, ChildResult* result) {
  struct __ptrace_syscall_info info;
  std::memset(&info, 0, sizeof info);
  if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, reinterpret_cast<void*>(sizeof info), &info) <= 0) {
    const int err = errno;
    if (result->trace_error.empty()) {
      result->trace_error = absl::StrCat("PTRACE_GET_SYSCALL_INFO: ", std::strerror(err));
    }
    return;
  }
  if (info.op != PTRACE_SYSCALL_INFO_ENTRY) return;
  const uint64_t nr = info.entry.nr;
  const uint64_t* args = info.entry.args;
  OpenCall call;
  if (nr == SYS_openat) {
    call = {PeekString(pid, args[1]), static_cast<int>(args[2])};
#ifdef SYS_openat2
  } else if (nr == SYS_openat2) {
    call = {PeekString(pid, args[1]), static_cast<int>(PeekWord(pid, args[2]))};  // struct open_how: flags first
#endif
#ifdef SYS_open
  } else if (nr == SYS_open) {
    call = {PeekString(pid, args[0]), static_cast<int>(args[1])};
#endif
#ifdef SYS_creat
  } else if (nr == SYS_creat) {
    call = {PeekString(pid, args[0]), O_CREAT | O_WRONLY | O_TRUNC};
#endif
  } else {
    return;
  }
  result->opens.push_back(call);
}

// Appends what `fd` holds now; true at end of file (the child closed its end).
bool Drain(int fd, std::string* out) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n == 0) return true;
    if (n < 0) return false;  // EAGAIN (more later) or an error: nothing more now
    out->append(buffer, static_cast<size_t>(n));
  }
}

}  // namespace

std::string ChildResult::Describe() const {
  std::string how = timed_out ? "timed out (killed)"
                    : exited  ? absl::StrCat("exited with ", exit_code)
                              : absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  return absl::StrCat("child ", how, "; output: \"", output, "\"");
}

bool BecomeUser(uid_t uid, gid_t gid) {
  const pid_t parent = getppid();
  // Root's supplementary groups go too (group 0 would still read root's group-readable files).
  const bool became = setgroups(0, nullptr) == 0 && setgid(gid) == 0 && setuid(uid) == 0;
  const int error = errno;
  // Also after a partial change: any change of credentials clears the signal.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(kParentGone);
  errno = error;
  return became;
}

void WriteToParent(int fd, absl::string_view text) {
  while (!text.empty()) {
    const ssize_t n = write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

absl::Status MountPrivateTmpfs(const std::string& dir, absl::string_view size) {
  if (unshare(CLONE_NEWNS) != 0) {
    const int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat("MountPrivateTmpfs: unshare(CLONE_NEWNS): ", std::strerror(err)));
  }
  // Without this, a mount under a shared mount point would still propagate to the parent namespace.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    const int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat("MountPrivateTmpfs: making / private: ", std::strerror(err)));
  }
  const std::string data = absl::StrCat("size=", size);
  if (mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, data.c_str()) != 0) {
    const int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat("MountPrivateTmpfs: mount -t tmpfs -o ", data,
                                                                   " on ", dir, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

ChildResult RunInChild(absl::FunctionRef<int(int output_fd)> body, const ChildOptions& options) {
  ChildResult result;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int err = errno;
    result.output = absl::StrCat("pipe2: ", std::strerror(err));
    return result;
  }
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int err = errno;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    result.output = absl::StrCat("fork: ", std::strerror(err));
    return result;
  }
  if (pid == 0) {
    // A test process that dies (a sanitizer's abort, a timeout's SIGKILL) must not leave the child running on,
    // spinning or blocked, with nobody to wait for it. The signal is tied to the thread that forked, which waits
    // below for the child's end; the re-check covers a parent that died before prctl().
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(kParentGone);
    close(pipe_fds[0]);
    if (options.trace_opens) {
      if (ptrace(PTRACE_TRACEME, 0, nullptr, nullptr) != 0) {
        const int err = errno;
        WriteToParent(pipe_fds[1], absl::StrCat("PTRACE_TRACEME: ", std::strerror(err)));
        _exit(kCannotTrace);
      }
      raise(SIGSTOP);  // lets the parent set its options before the body runs
    }
    _exit(body(pipe_fds[1]));
  }
  close(pipe_fds[1]);
  const int out = pipe_fds[0];
  fcntl(out, F_SETFL, O_NONBLOCK);
  // The monotonic clock: a step of the wall clock (NTP, a VM resumed) must not time a child out, nor let it run on.
  const absl::Time deadline = MonotonicNow() + options.timeout;
  bool waiting_for_first_stop = options.trace_opens;
  // The child's threads and the processes it forks, traced too (their opens are the child's code's): each known from
  // its parent's event stop, and each starting with a SIGSTOP that is not a signal for it.
  std::vector<pid_t> tracees;
  std::vector<pid_t> fresh;  // tracees whose first stop has not come yet
  const auto resume = [&](pid_t tid, int status) {
    const int sig = WSTOPSIG(status);
    const int event = status >> 16;
    int deliver = 0;
    if (event == PTRACE_EVENT_CLONE || event == PTRACE_EVENT_FORK || event == PTRACE_EVENT_VFORK) {
      unsigned long added = 0;  // NOLINT(runtime/int): PTRACE_GETEVENTMSG's type
      if (ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &added) == 0) {
        tracees.push_back(static_cast<pid_t>(added));
        fresh.push_back(static_cast<pid_t>(added));
      }
    } else if (sig == (SIGTRAP | 0x80)) {
      RecordOpen(tid, &result);
    } else if (sig == SIGSTOP && std::find(fresh.begin(), fresh.end(), tid) != fresh.end()) {
      fresh.erase(std::find(fresh.begin(), fresh.end(), tid));
    } else if (event == 0) {
      deliver = sig;  // a real signal for it: passed on
    }
    ptrace(PTRACE_SYSCALL, tid, nullptr, reinterpret_cast<void*>(static_cast<intptr_t>(deliver)));
  };
  // Whatever it left traced when it ended (a grandchild still running): killed, not left stopped under this process.
  const auto end_tracees = [&] {
    for (pid_t tid : tracees) {
      if (kill(tid, SIGKILL) == 0) {
        int ignored = 0;
        while (waitpid(tid, &ignored, __WALL) < 0 && errno == EINTR) {
        }
      }
    }
  };
  for (;;) {
    const bool end_of_output = Drain(out, &result.output);
    int status = 0;
    bool stopped_elsewhere = false;
    for (size_t i = 0; i < tracees.size();) {
      int tracee_status = 0;
      const pid_t t = waitpid(tracees[i], &tracee_status, WNOHANG | __WALL);
      if (t == tracees[i] && WIFSTOPPED(tracee_status)) {
        resume(t, tracee_status);
        stopped_elsewhere = true;
      } else if ((t == tracees[i] && !WIFSTOPPED(tracee_status)) || (t < 0 && errno == ECHILD)) {
        tracees.erase(tracees.begin() + static_cast<std::ptrdiff_t>(i));  // ended (a thread: with its process)
        continue;
      }
      ++i;
    }
    const pid_t r = waitpid(pid, &status, WNOHANG | (options.trace_opens ? __WALL : 0));
    if (r < 0 && errno == ECHILD) {  // reaped elsewhere (SIGCHLD ignored by the code under test): not ours to kill
      result.output += "\n(the child's status was lost: waitpid ECHILD)";
      break;
    }
    if (r == pid && (WIFEXITED(status) || WIFSIGNALED(status))) {
      result.exited = WIFEXITED(status);
      result.exit_code = result.exited ? WEXITSTATUS(status) : -1;
      result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      end_tracees();
      break;
    }
    // Checked at every turn, also between system-call stops: a child busy making system calls forever is late too.
    if (MonotonicNow() >= deadline) {
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      result.timed_out = true;
      end_tracees();
      break;
    }
    if (r == pid && WIFSTOPPED(status)) {
      if (waiting_for_first_stop && WSTOPSIG(status) == SIGSTOP) {
        waiting_for_first_stop = false;
        // EXITKILL: if this process dies, the child does not outlive it stopped or running. The threads it starts
        // and the processes it forks are traced from their start (their options are the child's).
        if (ptrace(PTRACE_SETOPTIONS, pid, nullptr,
                   // TRACEEXEC: without it a traced execve(2) stops with a plain SIGTRAP, which resume() delivers
                   // and the exec'd program dies of (found by audit).
                   reinterpret_cast<void*>(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE |
                                           PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)) != 0) {
          const int err = errno;
          result.trace_error = absl::StrCat("PTRACE_SETOPTIONS: ", std::strerror(err));
        }
        ptrace(PTRACE_SYSCALL, pid, nullptr, nullptr);
      } else {
        resume(pid, status);
      }
      continue;  // the next stop comes at once; no sleeping between system calls
    }
    if (stopped_elsewhere) continue;
    if (end_of_output) {
      usleep(1000);  // poll() would return at once, again and again
    } else {
      struct pollfd p = {out, POLLIN, 0};
      poll(&p, 1, 1);
    }
  }
  Drain(out, &result.output);
  close(out);
  if (options.trace_opens && result.exited && result.exit_code == kCannotTrace && result.trace_error.empty()) {
    result.trace_error = result.output;
  }
  return result;
}

int ForkWhileSignalled(int forks, int signal_number) {
  const pthread_t forking = pthread_self();
  std::atomic<bool> done{false};
  std::thread interrupter([&] {
    while (!done.load()) {
      pthread_kill(forking, signal_number);
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  });
  int waited = 0;
  for (int i = 0; i < forks; ++i) {
    const pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid > 0 && waitpid(pid, nullptr, 0) == pid) ++waited;
  }
  done.store(true);
  interrupter.join();
  return waited;
}

}  // namespace testing
}  // namespace pmem2
