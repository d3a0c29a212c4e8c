// Copyright 2026 The pmem2 Authors.
//
// testing/deny_system_call.h
// -----------------------------------------------------------------------------
//
// Test-only: makes one system call fail with a chosen errno from then on (a seccomp filter) in the calling thread and
// the threads and processes it starts later (not in threads already running, nor in calls io_uring makes in the
// kernel), to test what code does when the kernel refuses it: an msync that fails (a lost write-back, as a test can
// otherwise only get from a full or failing disk), an io_uring that is not allowed. It cannot be undone, so call
// it in a child (testing/child_process.h's RunInChild). It exits the process with status 90 if the filter cannot
// be installed; a test skips first where SystemCallsCanBeDenied() says it cannot.
//
//   if (!SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
//   ChildResult r = RunInChild([&](int) {
//     DenySystemCall(__NR_msync, EIO);
//     persist(address, size);  // its msync fails with EIO
//     return 0;
//   });

#ifndef PMEM2_TESTING_DENY_SYSTEM_CALL_H_
#define PMEM2_TESTING_DENY_SYSTEM_CALL_H_

#include <cstdint>

namespace pmem2 {
namespace testing {

// `nr`: a __NR_* number of this architecture; `error`: the errno it returns instead of running.
void DenySystemCall(unsigned nr, int error);

// As DenySystemCall(), only for calls whose argument number `argument` (0 first) has every bit of `flags` set
// (its low 32 bits; e.g. mmap's flags, argument 3, with MAP_FIXED | MAP_SYNC).
void DenySystemCallWithFlags(unsigned nr, unsigned argument, uint32_t flags, int error);

// Whether DenySystemCall() can install its filter in this process (a kernel without seccomp filters, or a
// container that forbids them, cannot). Tried once, in a forked child.
bool SystemCallsCanBeDenied();

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_DENY_SYSTEM_CALL_H_
