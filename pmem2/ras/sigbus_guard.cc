// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/sigbus_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_mutex.h"

namespace pmem2 {
namespace ras_internal {
namespace {

// Fork-safe: a child forked while another thread installed or removed the handler can still make copies.
internal::ForkSafeMutex& InstallMutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;
  return *mutex;
}
const bool install_mutex_made_at_load = (InstallMutex(), true);  // no thread still making it at a fork
int users = 0;                        // guarded by InstallMutex()
struct sigaction previous_action;     // written under InstallMutex() while the handler is not installed

// The jump buffer of this thread's copy in progress, or null. Read by the handler on the faulting thread.
thread_local sigjmp_buf* volatile current_jump = nullptr;
thread_local volatile uintptr_t fault_address = 0;

void Handler(int signal_number, siginfo_t* info, void* context) {
  sigjmp_buf* jump = current_jump;
  if (jump != nullptr) {
    current_jump = nullptr;
    fault_address = reinterpret_cast<uintptr_t>(info->si_addr);
    siglongjmp(*jump, 1);
  }
  // Not a fault of our copy: what the process would have done without pmem2. SIG_DFL and SIG_IGN first, whatever
  // the flags say: the kernel keeps SA_SIGINFO in a disposition reset to SIG_DFL (SA_RESETHAND) and accepts
  // {SIG_IGN, SA_SIGINFO}, and calling such a "handler" jumps to address 0 or 1.
  const bool default_or_ignored = previous_action.sa_handler == SIG_DFL || previous_action.sa_handler == SIG_IGN;
  if (!default_or_ignored && (previous_action.sa_flags & SA_SIGINFO) != 0) {
    previous_action.sa_sigaction(signal_number, info, context);
    return;
  }
  if (previous_action.sa_handler == SIG_IGN && info->si_code <= 0) return;  // sent by kill(): ignored
  if (default_or_ignored) {
    // The default action: terminate (with a core dump). The signal is blocked inside this handler, so it is
    // delivered, with the default disposition, when the handler returns.
    struct sigaction default_action;
    std::memset(&default_action, 0, sizeof default_action);
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    sigaction(SIGBUS, &default_action, nullptr);
    raise(SIGBUS);
    return;
  }
  previous_action.sa_handler(signal_number);
}

// In the child of a fork: the copies that `users` counts were other threads' (a thread is never inside a guarded
// copy when it forks), and those threads are not in the child. So the child is where the last copy ended: its
// handler goes back as in ~ScopedSigbusHandler, instead of staying installed for good with a count nobody
// brings down. Registered when the library loads, after the ForkSafeMutex handlers, so that their child handler
// (which releases InstallMutex()) runs first.
// InstallMutex() held. Only our own handler is replaced: one the application installed while copies ran is its
// choice and stays.
void PutThePreviousHandlerBack() {
  struct sigaction now;
  if (sigaction(SIGBUS, nullptr, &now) == 0 && (now.sa_flags & SA_SIGINFO) != 0 && now.sa_sigaction == Handler) {
    sigaction(SIGBUS, &previous_action, nullptr);
  }
}

void ForgetOtherThreadsCopiesInChild() {
  std::lock_guard<internal::ForkSafeMutex> lock(InstallMutex());
  if (users == 0) return;
  users = 0;
  PutThePreviousHandlerBack();
}
const bool child_handler_registered = [] {
  internal::RegisterForkHandlersBeforeYours();
  return pthread_atfork(nullptr, nullptr, &ForgetOtherThreadsCopiesInChild) == 0;
}();

// Whether two actions the kernel returned are the same: handler, flags and the mask of the signals it knows.
bool SameAction(const struct sigaction& a, const struct sigaction& b) {
  if (a.sa_handler != b.sa_handler || a.sa_flags != b.sa_flags) return false;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (sigismember(&a.sa_mask, signal_number) != sigismember(&b.sa_mask, signal_number)) return false;
  }
  return true;
}

// The copy itself, out of line, so that nothing of it lives in the frame that sigsetjmp saved.
__attribute__((noinline)) void Copy(void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); }

}  // namespace

ScopedSigbusHandler::ScopedSigbusHandler() {
  std::lock_guard<internal::ForkSafeMutex> lock(InstallMutex());
  if (users++ > 0) return;
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = Handler;
  action.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&action.sa_mask);
  // The previous action is read before the handler goes in: sigaction(SIGBUS, &action, &previous_action) installs
  // the handler before it stores the old action, and a SIGBUS of another thread in between (a file the application
  // maps was truncated) would find no previous action to hand the signal to, and kill the process. The install
  // returns the action it replaced: if the application set another between the two calls, that one goes back and
  // is read again, so previous_action is only ever written while the handler is not installed.
  for (;;) {
    sigaction(SIGBUS, nullptr, &previous_action);
    struct sigaction replaced;
    if (sigaction(SIGBUS, &action, &replaced) != 0 || SameAction(replaced, previous_action)) break;
    sigaction(SIGBUS, &replaced, nullptr);
  }
}

ScopedSigbusHandler::~ScopedSigbusHandler() {
  std::lock_guard<internal::ForkSafeMutex> lock(InstallMutex());
  if (--users > 0) return;
  PutThePreviousHandlerBack();
}

bool CopyCatchingSigbus(void* dst, const void* src, size_t n, uintptr_t* fault) {
  ScopedSigbusHandler handler;
  sigjmp_buf jump;
  // Touch this thread's variables before the handler may need them (the first use of thread_local storage in
  // a shared library can allocate, which a signal handler must not).
  fault_address = 0;
  if (sigsetjmp(jump, 1) != 0) {
    // Back from the handler (which cleared current_jump); the signal mask is restored.
    *fault = fault_address;
    return false;
  }
  current_jump = &jump;
  Copy(dst, src, n);
  current_jump = nullptr;
  return true;
}

absl::Status MappedCopy(int fd, uint64_t offset, void* buf, size_t size, bool write, size_t alignment) {
  if (size == 0) return absl::OkStatus();
  const uint64_t start = offset & ~static_cast<uint64_t>(alignment - 1);
  const uint64_t end_unaligned = offset + size;
  const uint64_t end = (end_unaligned + alignment - 1) & ~static_cast<uint64_t>(alignment - 1);
  if (end_unaligned < offset || end < end_unaligned || end - start > SIZE_MAX) {
    return MakeError(ErrorCode::kLengthOutOfRange,
                     absl::StrCat("range of ", size, " bytes at offset ", offset, " does not fit in memory"));
  }
  const size_t length = static_cast<size_t>(end - start);
  void* mapping = mmap(nullptr, length, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd,
                       static_cast<off_t>(start));
  if (mapping == MAP_FAILED) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("mmap of ", length, " bytes at offset ", start, " of file descriptor ",
                                            fd, " for a machine-check-safe ", write ? "write" : "read"));
  }
  char* at = static_cast<char*>(mapping) + (offset - start);
  uintptr_t fault = 0;
  const bool ok = write ? CopyCatchingSigbus(at, buf, size, &fault) : CopyCatchingSigbus(buf, at, size, &fault);
  if (ok && write) {
    const arch::PersistOps& ops = arch::CacheLineOps();
    if (ops.writes_back_cache_lines) ops.persist(at, size);
  }
  munmap(mapping, length);
  if (!ok) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(mapping);
    const bool inside = fault >= base && fault - base < length;
    return MakeError(ErrorCode::kIoFail,
                     absl::StrCat(write ? "write" : "read", " of ", size, " bytes at offset ", offset,
                                  " of file descriptor ", fd, " hit a bad block (SIGBUS: poisoned or unbacked "
                                  "memory) at source offset ",
                                  inside ? absl::StrCat(start + (fault - base)) : std::string("unknown")));
  }
  return absl::OkStatus();
}

}  // namespace ras_internal
}  // namespace pmem2
