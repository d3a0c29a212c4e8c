// Copyright 2026 The pmem2 Authors.

#include "testing/deny_system_call.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "gtest/gtest.h"

namespace pmem2 {
namespace testing {

namespace {

// Exits with status 90 if the filter cannot be installed (see the header).
void Install(sock_filter* filter, size_t length) {
  sock_fprog program = {static_cast<unsigned short>(length), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    _exit(90);
  }
}

}  // namespace

void DenySystemCall(unsigned nr, int error) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(error) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  Install(filter, sizeof filter / sizeof filter[0]);
}

void DenySystemCallWithFlags(unsigned nr, unsigned argument, uint32_t flags, int error) {
  // The argument's low 32 bits (seccomp_data.args[] are 64-bit, little-endian on x86-64): denied when every bit
  // of `flags` is set there.
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 4),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * argument)),
      BPF_STMT(BPF_ALU | BPF_AND | BPF_K, flags),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, flags, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(error) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  Install(filter, sizeof filter / sizeof filter[0]);
}

bool SystemCallsCanBeDenied() {
  static const bool can = [] {
    // A fork refused for a while (EAGAIN: a pid limit) is tried again: a transient shortage is no missing feature,
    // and the answer is kept for the process's life.
    pid_t child = fork();
    for (int attempt = 0; child < 0 && errno == EAGAIN && attempt < 50; ++attempt) {
      usleep(100 * 1000);
      child = fork();
    }
    if (child < 0) {
      const int error = errno;
      ADD_FAILURE() << "SystemCallsCanBeDenied: fork: " << std::strerror(error);
      return false;
    }
    if (child == 0) {
      DenySystemCall(__NR_getppid, EPERM);
      _exit(syscall(__NR_getppid) == -1 && errno == EPERM ? 0 : 91);
    }
    int status = 0;
    pid_t waited;
    while ((waited = waitpid(child, &status, 0)) < 0 && errno == EINTR) {
    }
    // Not reaped here (SIGCHLD ignored: ECHILD): no answer, so no claim that the filter works.
    return waited == child && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  return can;
}

}  // namespace testing
}  // namespace pmem2
