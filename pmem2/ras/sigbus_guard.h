// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/sigbus_guard.h (internal to pmem2/ras)
// -----------------------------------------------------------------------------
//
// Copying through a mapping so that a SIGBUS (a machine check on poisoned persistent memory, or a page beyond
// the end of a file) is a return value instead of the end of the process.
//
// While at least one thread copies, pmem2's SIGBUS handler is installed (sigaction); the handler the process had
// before is saved when the first copier arrives and put back when the last one leaves. A fault of a guarded copy
// jumps back (siglongjmp) to that copy's thread, which reports the faulting address: a machine check its access
// consumed (BUS_MCEERR_AR, at whatever mapping of the poisoned page the kernel names; SI_KERNEL, one the kernel could
// not recover, at an unknown address: 0), or an access to an unbacked page (BUS_ADRERR, BUS_OBJERR) of the copy's
// source or destination. A copy may be made by a signal handler that interrupted another copy on the same thread:
// each keeps its own faults. Any other SIGBUS, also one sent to the copying
// thread with kill, tgkill or sigqueue, goes to the saved handler: its SA_SIGINFO or plain function, called with
// the signal mask the kernel would have given it (the interrupted code's, its sa_mask, and SIGBUS unless
// SA_NODEFER), on the thread's alternate signal stack if it has one (pmem2's SA_ONSTACK); one installed with
// SA_RESETHAND runs once, then the default action, and SIG_DFL is the disposition put back (not guaranteed when the
// last guard ends at the same moment on another thread; and a handler that calls pmem2's directly, having saved it,
// gets the saved one reset too, as if the kernel had delivered the signal to it); SIG_DFL and, for a fault, SIG_IGN:
// the default action, which ends the process as it would have without pmem2 (a SIG_IGN'd notice of poison elsewhere,
// BUS_MCEERR_AO, is dropped as the kernel drops it). While the handler is installed, another thread's system call
// that such a signal interrupts is restarted where the previous disposition would have (SA_RESTART kept; an ignored or
// default one: restarted), except calls that SA_RESTART never restarts (poll, epoll_wait, nanosleep, ...: EINTR,
// signal(7)), which an ignored signal would not have interrupted. A saved handler that
// chains back into pmem2's (one the application installed during a copy, or another copy of pmem2 in the process)
// ends in the default action instead of recursing. Each thread has its own jump buffer, so copies in several
// threads at once are safe. A thread that blocks SIGBUS has it unblocked for the copy (a blocked fault would end
// the process), unless a SIGBUS is pending: that copy is not protected; and a SIGBUS sent to the process (which an
// application blocking it everywhere would collect with sigwait) may then be delivered to the copying thread and go
// to the saved handler. A handler the application installs while a copy runs receives the SIGBUS of copies from
// then on (they end the process instead of failing) and stays installed when the last copy ends: only pmem2's own
// handler is ever taken out again, and pmem2's handler that the application puts back (having saved it while
// installing its own) is not taken for the application's.

#ifndef PMEM2_RAS_SIGBUS_GUARD_H_
#define PMEM2_RAS_SIGBUS_GUARD_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"

namespace pmem2 {
namespace ras_internal {

// Installs the handler for its lifetime (reference-counted across threads). Not movable.
class ScopedSigbusHandler {
 public:
  ScopedSigbusHandler();
  ~ScopedSigbusHandler();
  ScopedSigbusHandler(const ScopedSigbusHandler&) = delete;
  ScopedSigbusHandler& operator=(const ScopedSigbusHandler&) = delete;
};

// For tests: `hook` runs in the handler, for a SIGBUS that is not a copy's, right after it read the previous action
// (nullptr: none), so that a test can end a guard and begin another there, as other threads may.
void SetAfterPreviousActionReadForTest(void (*hook)());

// For tests: `hook` runs when the last guard ends, after it found pmem2's handler installed, before each install of
// the put-back (the previous action, then the application's newest action the last install replaced, a bounded number
// of rounds) (nullptr: none), so that a test can install a handler there, as another thread may.
void SetBeforeHandlerPutBackForTest(void (*hook)());

// Whether every page of [data, data + size) (size > 0) can be read (ReadableWithoutFault) or written
// (WritableWithoutFault) by a copy without a fault, checked so that a fault is an error, not a signal. Read: a byte of
// each page through the kernel's user copies (process_vm_writev on this process), as write(2) reads a buffer. Written:
// without storing anything another thread could lose: madvise(MADV_POPULATE_WRITE), and where that says too little
// (EINVAL: a read-only page, VM_PFNMAP/VM_IO, a kernel before 5.14) an atomic add of 0 to a word of each page by the
// kernel (futex FUTEX_WAKE_OP; may wake a thread waiting on that word spuriously). Its pages are left populated
// writable, as a copy's stores would leave them (a MAP_PRIVATE page copied, a MAP_SHARED file page dirtied), also when
// the answer is false. False also where those calls are refused (seccomp, ENOSYS).
bool ReadableWithoutFault(const void* data, size_t size);
bool WritableWithoutFault(void* data, size_t size);

// Copies `n` bytes from `src` to `dst` (std::memcpy) under the handler. True on success; false if a SIGBUS hit
// the copy, with `*fault` set to the faulting address as the CPU reported it (si_addr; 0 for SI_KERNEL: unknown) and
// `*code` (if not null) to the signal's si_code (BUS_MCEERR_AR or SI_KERNEL: a machine check; BUS_ADRERR, BUS_OBJERR);
// the bytes before it may have been copied. For a string copy (glibc's memcpy uses `rep movsb` for large copies) the
// CPU may report an address before the unreadable byte: AMD Zen 5 reported the line 64 bytes before an unbacked page.
bool CopyCatchingSigbus(void* dst, const void* src, size_t n, uintptr_t* fault, int* code = nullptr);

// Reads (`write` false: into `buf`) or writes (from `buf`) `size` bytes at `offset` of the open descriptor `fd`
// through a temporary MAP_SHARED mapping of [offset rounded down to `alignment`, offset + size rounded up), the
// way Device DAX (which has no read/write) is accessed. A written range is flushed from the CPU caches
// (pmem2/arch's cache-line persist) before the mapping goes; not after a fault (the copy may have stored its
// first bytes last, or copied backwards: what it wrote is not known, and a write-back of the unreadable page would
// fault outside the guard). kIoFail naming the source offset of the fault for a SIGBUS of the medium; EFAULT (an errno
// error naming the address) where `buf` cannot be read (write) or written (read), checked before the copy
// (ReadableWithoutFault, WritableWithoutFault; the guard catches SIGBUS only: a SIGSEGV there would end the process),
// and for a SIGBUS of an unbacked page (BUS_ADRERR, BUS_OBJERR) at `buf`'s pages during the copy (a mapping of a
// truncated file); a machine check is the medium's (kIoFail) wherever the kernel names it, also at `buf` (which may
// map the same medium); errno errors from mmap. `alignment` must be a power of two (Source::Alignment()).
absl::Status MappedCopy(int fd, uint64_t offset, void* buf, size_t size, bool write, size_t alignment);

}  // namespace ras_internal
}  // namespace pmem2

#endif  // PMEM2_RAS_SIGBUS_GUARD_H_
