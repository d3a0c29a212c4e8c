// Copyright 2026 The pmem2 Authors.
//
// pmem2/internal/msync.h (internal to pmem2)
// -----------------------------------------------------------------------------
//
// msync(2) as the system call itself, inline, for the page-granularity persists (pmem2/map/page_persist.cc) and the
// asynchronous persister's data syncs. Not glibc's msync(), for two reasons:
//
// - glibc's msync() is a cancellation point, and glibc 2.36 (Debian 12) may act on a cancellation that arrives while
//   the system call runs after the kernel has finished it (glibc bug 12683): the thread unwinds with the call's
//   result unread. For msync that result may be the file's write-back error, which the kernel reports once to each
//   file description, so no later sync through the Map's description would report it again: pmem2 could not record
//   it on the file's Maps (map_registry.h), and their later persists would report success over data that was lost.
//   The system call is no cancellation point: a thread cancelled during a persist (deferred cancellation, the
//   default) stops at its next one, after the persist recorded what it found. Asynchronous cancellation may stop a
//   thread anywhere; pmem2's functions are not async-cancel-safe. The price: a thread blocked in a persist (a hung
//   network or FUSE file system) cannot be cancelled out of it, only interrupted (EINTR, page_persist.h).
//   libpmem2 1.12.1 syncs with glibc's msync(): pmem2/c/differential_test.cc, R9, shows the difference.
// - Speed. In glibc, msync() is a function around the system call, which returns after it; inline, the persist's own
//   frame is the only one that returns after it. On the Intel Emerald Rapids guest of
//   tools/bench/results/intel-6-207.md ("The system call inline") this, with one copy of the sync code for the page
//   copies (page_persist.cc), took persist_fn from 6.1 ns over glibc's msync() to 0.7, and memcpy_fn and memset_fn
//   of 64 B-4 KiB 6-8 ns closer to it; the system call alone is 2.8 ns below glibc's msync() there. Once a process
//   has had a second thread, glibc's msync() also switches to asynchronous cancellation and back around the call
//   (an atomic update each way): 30-36 ns more there (page_persist_benchmark, OverBareMsyncMultithreaded).
//
// Returns 0, or the error number (positive) where msync(2) would return -1 with errno; errno is left as it was.

#ifndef PMEM2_INTERNAL_MSYNC_H_
#define PMEM2_INTERNAL_MSYNC_H_

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

namespace pmem2 {
namespace internal {

__attribute__((always_inline)) inline int MsyncSystemCall(void* address, size_t length, int flags) {
#if defined(__x86_64__) && defined(__LP64__)  // not x32
  long result = SYS_msync;                    // NOLINT(runtime/int): the registers' width, as the kernel's ABI has them
  const long flags_word = flags;              // NOLINT(runtime/int)
  // "memory": the kernel reads the pages, so every store before this call must be made before it; and the sync scope's
  // stores (map_registry.h) must stay on their side of it.
  __asm__ volatile("syscall" : "+a"(result) : "D"(address), "S"(length), "d"(flags_word) : "rcx", "r11", "memory");
  return result < 0 ? static_cast<int>(-result) : 0;
#else
  // glibc's syscall() is no cancellation point either.
  const int saved = errno;
  const int error = syscall(SYS_msync, address, length, flags) == 0 ? 0 : errno;
  errno = saved;
  return error;
#endif
}

}  // namespace internal
}  // namespace pmem2

#endif  // PMEM2_INTERNAL_MSYNC_H_
