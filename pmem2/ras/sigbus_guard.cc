// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/sigbus_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
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

// This thread's copy in progress, read by the handler on the faulting thread. Initial-exec: the handler may run on a
// thread that never copied (another thread's copy has it installed), and the first use of a dlopen'ed library's
// thread-local storage in the general model goes through __tls_get_addr, which can allocate; this way it is an offset
// from the thread pointer. External linkage, as the engine's other initial-exec thread-locals: gold wrote wrong
// relocations for internal ones (pmem2/c/so_symbols_test.sh checks each is named).
struct SigbusCopyState {
  sigjmp_buf* volatile jump;  // null: no copy, or it faulted already
  volatile uintptr_t fault;
  volatile int code;       // the fault's si_code
  uintptr_t ranges[2][2];  // the copy's source and destination, rounded out to pages
  // The forward to the previous handler in progress on this thread (Handler): the signal's siginfo and context,
  // the frame of the handler that forwards it, and how many times in a row that siginfo came back from deeper.
  const siginfo_t* forwarding_info;
  const void* forwarding_context;
  const void* forwarding_frame;
  int returns;
};
__thread SigbusCopyState sigbus_copy_state __attribute__((tls_model("initial-exec")));
namespace {

// Fork-safe: a child forked while another thread installed or removed the handler can still make copies.
internal::ForkSafeMutex& InstallMutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;
  return *mutex;
}
const bool install_mutex_made_at_load = (InstallMutex(), true);  // no thread still making it at a fork
int users = 0;                        // guarded by InstallMutex()
// The action the handler replaced, for the handler to forward to. Written under InstallMutex() (every signal of the
// writing thread blocked) while the handler is not installed; but a handler that another thread's signal entered
// before the last guard ended may still be running then, and read it while it changes (a guard ended and another
// began): a sequence lock over relaxed atomic words, which the handler copies once, whole. (Read several times in
// place, an action with SA_SIGINFO could be checked and then SIG_IGN, address 1, called.)
class PreviousAction {
 public:
  void Store(const struct sigaction& action) {
    uint64_t words[kWords] = {};
    std::memcpy(words, &action, sizeof action);
    const uint64_t sequence = sequence_.load(std::memory_order_relaxed);
    sequence_.store(sequence + 1, std::memory_order_relaxed);  // odd: being written
    std::atomic_thread_fence(std::memory_order_release);
    for (size_t i = 0; i < kWords; ++i) words_[i].store(words[i], std::memory_order_relaxed);
    sequence_.store(sequence + 2, std::memory_order_release);
  }
  // The action and its generation: the sequence number it was stored with (even; 2 and up, each Store() a new one;
  // 0 before the first).
  struct Snapshot {
    struct sigaction action;
    uint64_t generation;
  };
  // Async-signal-safe. Never waits for long: the writer blocks every signal of its thread, so it is another thread,
  // and writes a few words.
  Snapshot Load() const {
    uint64_t words[kWords];
    uint64_t before = 0;
    for (;;) {
      before = sequence_.load(std::memory_order_acquire);
      for (size_t i = 0; i < kWords; ++i) words[i] = words_[i].load(std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_acquire);
      if ((before & 1) == 0 && sequence_.load(std::memory_order_relaxed) == before) break;
    }
    Snapshot snapshot;
    std::memcpy(&snapshot.action, words, sizeof snapshot.action);
    snapshot.generation = before;
    return snapshot;
  }

 private:
  static constexpr size_t kWords = (sizeof(struct sigaction) + sizeof(uint64_t) - 1) / sizeof(uint64_t);
  static_assert(std::atomic<uint64_t>::is_always_lock_free, "read in a signal handler");
  std::atomic<uint64_t> sequence_{0};
  std::atomic<uint64_t> words_[kWords] = {};
};
PreviousAction previous_action;  // SIG_DFL (all zero) until the first guard
std::atomic<void (*)()> after_previous_action_read_for_test{nullptr};
std::atomic<void (*)()> before_handler_put_back_for_test{nullptr};
// Which generations of previous_action had their SA_RESETHAND handler run by a forward: the kernel would have reset
// that disposition to SIG_DFL as it called the handler, so the next SIGBUS takes the default action and the
// disposition put back is SIG_DFL. Per generation, not one flag: a handler still running with an older snapshot (the
// guard ended and another began meanwhile) neither takes a newer action's claim for its own nor claims a newer one.
// A generation's slot holds the newest generation claimed there; one older than the last kClaimSlots generations
// counts as claimed (its forward is that late: not run rather than run twice).
constexpr size_t kClaimSlots = 8;
std::atomic<uint64_t> claimed_generations[kClaimSlots] = {};
std::atomic<uint64_t>& ClaimSlot(uint64_t generation) { return claimed_generations[(generation / 2) % kClaimSlots]; }
bool Claimed(uint64_t generation) { return ClaimSlot(generation).load(std::memory_order_acquire) >= generation; }
// Claims `generation`'s one run; false if it was claimed already (or is too old to tell).
bool ClaimReset(uint64_t generation) {
  std::atomic<uint64_t>& slot = ClaimSlot(generation);
  uint64_t claimed = slot.load(std::memory_order_acquire);
  while (claimed < generation) {
    if (slot.compare_exchange_weak(claimed, generation, std::memory_order_acq_rel)) return true;
  }
  return false;
}

bool IsOurs(const struct sigaction& action);

// Read when the library loads: a function-local static's guard, taken on the copy path, could be held by another
// thread at a fork and stay held in the child.
const uintptr_t kPageSize = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));

// The SIG_DFL action, as SetDefaultDisposition() installs it.
struct sigaction DefaultAction() {
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof default_action);
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  return default_action;
}

// SIGBUS's disposition back to SIG_DFL (async-signal-safe: the handler calls it).
void SetDefaultDisposition() {
  const struct sigaction default_action = DefaultAction();
  sigaction(SIGBUS, &default_action, nullptr);
}

// Whether a SIGBUS is a fault of this thread's copy (while one runs):
//   - a machine check the copy's own access consumed (BUS_MCEERR_AR), whatever its address: the kernel names the
//     poisoned page by one of the process's mappings of it (the one at the lowest file offset, or the first its walk
//     finds), not necessarily the copy's temporary one;
//   - a machine check the kernel could not recover (SI_KERNEL: kill_me_now() when memory_failure() fails, e.g. a
//     Device DAX page it could not lock, or kernels 5.8-5.13 without the address): the kernel forces it on the
//     thread whose access consumed the poison, and no address comes with it (reported as 0: unknown);
//   - an access to a page with nothing behind it (BUS_ADRERR: past the end of a file; BUS_OBJERR) at the copy's
//     source or destination, an exact address.
// A signal sent to the copying thread (kill, tgkill, sigqueue: si_code <= 0), a notice of poison found elsewhere
// (BUS_MCEERR_AO), or an unbacked access of a signal handler that interrupted the copy elsewhere is not: it goes
// where it would have gone without pmem2.
bool FaultOfTheCopy(const SigbusCopyState& copy, const siginfo_t* info) {
  if (copy.jump == nullptr) return false;
  if (info->si_code == BUS_MCEERR_AR || info->si_code == SI_KERNEL) return true;
  if (info->si_code != BUS_ADRERR && info->si_code != BUS_OBJERR) return false;
  const uintptr_t address = reinterpret_cast<uintptr_t>(info->si_addr);
  for (const auto& range : copy.ranges) {
    if (address >= range[0] && address < range[1]) return true;
  }
  return false;
}

// The mask to run `action` in, from `current` (this handler's): with its sa_mask added, and the signal taken out for
// SA_NODEFER unless the code the signal interrupted (`context`, a ucontext_t; may be null) blocked it. Delivered by
// the kernel, this handler (an empty sa_mask) runs in the interrupted code's mask and the signal, so that is the mask
// the kernel would have given `action`. Called directly by another handler that chains to ours (its saved action),
// it runs in that handler's mask, which the forward keeps: nothing that handler blocked is unblocked.
void ForwardMask(const struct sigaction& action, int signal_number, const void* context, const sigset_t& current,
                 sigset_t* mask) {
  *mask = current;
  for (int other = 1; other < NSIG; ++other) {
    if (sigismember(&action.sa_mask, other) == 1) sigaddset(mask, other);
  }
  if ((action.sa_flags & SA_NODEFER) != 0 && sigismember(&action.sa_mask, signal_number) != 1 &&
      (context == nullptr || sigismember(&static_cast<const ucontext_t*>(context)->uc_sigmask, signal_number) != 1)) {
    sigdelset(mask, signal_number);
  }
}

void Handler(int signal_number, siginfo_t* info, void* context) {
  SigbusCopyState& state = sigbus_copy_state;
  if (FaultOfTheCopy(state, info)) {
    sigjmp_buf* jump = state.jump;
    state.jump = nullptr;
    state.fault = info->si_code == SI_KERNEL ? 0 : reinterpret_cast<uintptr_t>(info->si_addr);
    state.code = info->si_code;
    siglongjmp(*jump, 1);
  }
  // Once: another thread's guard may rewrite it. With its generation, for its SA_RESETHAND claim.
  const PreviousAction::Snapshot snapshot = previous_action.Load();
  const struct sigaction& previous = snapshot.action;
  if (void (*hook)() = after_previous_action_read_for_test.load(std::memory_order_relaxed)) hook();
  // Not a fault of our copy: what the process would have done without pmem2, the previous handler. Unless that
  // handler, which chains to the one it replaced, replaced ours (installed while a copy ran, or another copy of
  // pmem2 in the process, whose handler and ours then each hold the other as the previous one): the forward comes
  // back here with the same siginfo and context, from deeper on the stack, and would for ever. The second such
  // return ends in the default action. Not the first: a forward the previous handler left with siglongjmp leaves its
  // record behind, and a later signal delivered at the same place (the top of an alternate stack) that reaches us
  // through a chaining handler installed since (so from deeper) would match it once, but not twice.
  const void* const frame = __builtin_frame_address(0);
  const int returns =
      state.forwarding_info == info && state.forwarding_context == context && frame < state.forwarding_frame
          ? state.returns + 1
          : 0;
  const bool loop = returns >= 2;
  // SIG_DFL and SIG_IGN first, whatever the flags say: the kernel keeps SA_SIGINFO in a disposition reset to SIG_DFL
  // (SA_RESETHAND) and accepts {SIG_IGN, SA_SIGINFO}, and calling such a "handler" jumps to address 0 or 1.
  // A previous handler with SA_RESETHAND runs once, as the kernel would have run it: the first forward claims it. If
  // the last guard ended meanwhile and put that handler back as the disposition, the claim resets it as the kernel
  // would have (a guard that ends after this check can still put it back: not covered).
  bool reset = Claimed(snapshot.generation);
  if (!reset && !loop && (previous.sa_flags & SA_RESETHAND) != 0 && previous.sa_handler != SIG_DFL &&
      previous.sa_handler != SIG_IGN) {
    reset = !ClaimReset(snapshot.generation);
    struct sigaction now;
    if (!reset && sigaction(SIGBUS, nullptr, &now) == 0 && !IsOurs(now) && now.sa_handler == previous.sa_handler) {
      SetDefaultDisposition();
    }
  }
  const bool default_or_ignored = loop || reset || previous.sa_handler == SIG_DFL || previous.sa_handler == SIG_IGN;
  if (!default_or_ignored) {
    const siginfo_t* const outer_info = state.forwarding_info;
    const void* const outer_context = state.forwarding_context;
    const void* const outer_frame = state.forwarding_frame;
    const int outer_returns = state.returns;
    state.forwarding_info = info;
    state.forwarding_context = context;
    state.forwarding_frame = frame;
    state.returns = returns;
    // The signal mask the kernel would have given the previous handler: the interrupted code's, its sa_mask, and
    // SIGBUS unless SA_NODEFER (ForwardMask). A handler that leaves with siglongjmp(.., 0) or longjmp keeps that
    // mask, as it would have; a return gets ours back, and the kernel the interrupted code's.
    sigset_t forward_mask, handler_mask;
    bool set_mask = pthread_sigmask(SIG_BLOCK, nullptr, &handler_mask) == 0;
    if (set_mask) {
      ForwardMask(previous, signal_number, context, handler_mask, &forward_mask);
      set_mask = pthread_sigmask(SIG_SETMASK, &forward_mask, nullptr) == 0;
    }
    if ((previous.sa_flags & SA_SIGINFO) != 0) {
      previous.sa_sigaction(signal_number, info, context);
    } else {
      previous.sa_handler(signal_number);
    }
    if (set_mask) pthread_sigmask(SIG_SETMASK, &handler_mask, nullptr);
    state.forwarding_info = outer_info;
    state.forwarding_context = outer_context;
    state.forwarding_frame = outer_frame;
    state.returns = outer_returns;
    return;
  }
  // Ignored, as the kernel would have: one sent by kill() and the like, and a notice of poison found elsewhere
  // (BUS_MCEERR_AO, which the kernel sends without forcing it, so drops where SIGBUS is ignored).
  if (!loop && previous.sa_handler == SIG_IGN && (info->si_code <= 0 || info->si_code == BUS_MCEERR_AO)) {
    return;
  }
  // The default action: terminate (with a core dump). The signal is blocked inside this handler, so it is delivered,
  // with the default disposition, when the handler returns.
  SetDefaultDisposition();
  raise(SIGBUS);
}

// In the child of a fork: the copies that `users` counts were other threads' (a thread is never inside a guarded
// copy when it forks), and those threads are not in the child. So the child is where the last copy ended: its
// handler goes back as in ~ScopedSigbusHandler, instead of staying installed for good with a count nobody
// brings down. Registered when the library loads, after the ForkSafeMutex handlers, so that their child handler
// (which releases InstallMutex()) runs first.
// InstallMutex() held. Only our own handler is replaced: one the application installed while copies ran is its
// choice and stays.
bool IsOurs(const struct sigaction& action) {
  return (action.sa_flags & SA_SIGINFO) != 0 && action.sa_sigaction == Handler;
}

// Whether two actions the kernel returned are the same: handler, flags and the mask of the signals it knows.
bool SameAction(const struct sigaction& a, const struct sigaction& b) {
  if (a.sa_handler != b.sa_handler || a.sa_flags != b.sa_flags) return false;
  for (int signal_number = 1; signal_number < NSIG; ++signal_number) {
    if (sigismember(&a.sa_mask, signal_number) != sigismember(&b.sa_mask, signal_number)) return false;
  }
  return true;
}

// glibc adds SA_RESTORER to the flags of each action it installs (its own signal return trampoline), and the kernel
// returns it with them; <signal.h> does not name the bit (only <asm/signal.h>, which clashes with it). A disposition
// never set, or one passed in without it (DefaultAction()), has it clear: the bit says nothing about the action.
#if defined(__x86_64__) || defined(__i386__)
constexpr int kRestorerFlag = 0x04000000;  // SA_RESTORER of arch/x86/include/uapi/asm/signal.h
#if defined(SA_RESTORER)
static_assert(SA_RESTORER == kRestorerFlag, "the kernel's SA_RESTORER");
#endif
#elif defined(SA_RESTORER)
constexpr int kRestorerFlag = SA_RESTORER;
#else
constexpr int kRestorerFlag = 0;  // an architecture whose sigaction has no such flag
#endif

// Whether two actions, as passed in or as the kernel returned them, are the same but for SA_RESTORER.
bool SameInstalledAction(const struct sigaction& a, const struct sigaction& b) {
  struct sigaction a_without = a;
  struct sigaction b_without = b;
  a_without.sa_flags &= ~kRestorerFlag;
  b_without.sa_flags &= ~kRestorerFlag;
  return SameAction(a_without, b_without);
}

// SIG_DFL for a previous action with SA_RESETHAND that a forward has run: the disposition the kernel left.
// InstallMutex() only keeps other guards out: the application may install a handler on another thread at any time,
// also between the check that ours is installed and the install below, which then replaces the application's. Each
// install returns what it replaced: pmem2's handler (the first) or what the loop installed before is what was
// expected, and the loop ends; anything else is the application's newest action, installed again (pmem2's handler in
// a later round is the application's putting back the one it saved: it stands for the action it replaced, put_back).
// At most kPutBackRounds installs: this thread holds InstallMutex() with every signal blocked, and an application
// that installs all the time would keep it here for ever. The last install is the application's newest action seen
// (or put_back), never pmem2's; one the application made after that is lost, as in a race between its own threads.
constexpr int kPutBackRounds = 16;
void PutThePreviousHandlerBack() {
  struct sigaction now;
  if (sigaction(SIGBUS, nullptr, &now) != 0 || !IsOurs(now)) return;
  const PreviousAction::Snapshot previous = previous_action.Load();
  const struct sigaction put_back = Claimed(previous.generation) ? DefaultAction() : previous.action;
  struct sigaction installed = put_back;
  struct sigaction installed_before = put_back;  // what the previous round installed (read from the second on)
  for (int round = 1;; ++round) {
    if (void (*hook)() = before_handler_put_back_for_test.load(std::memory_order_relaxed)) hook();
    struct sigaction replaced;
    if (sigaction(SIGBUS, &installed, &replaced) != 0 || round == kPutBackRounds) return;
    if (round == 1 ? IsOurs(replaced) : SameInstalledAction(replaced, installed_before)) return;  // none meanwhile
    const struct sigaction newest = IsOurs(replaced) ? put_back : replaced;
    if (SameInstalledAction(newest, installed)) return;  // the application's newest is the one installed
    installed_before = installed;
    installed = newest;
  }
}

void ForgetOtherThreadsCopiesInChild() {
  const internal::ScopedSignalsBlocked signals_blocked;  // every signal, as in ScopedSigbusHandler
  // Never wait (a fork that only execs runs this too): the lock is free unless the ForkSafeMutex handlers are missing
  // (pthread_atfork without memory at load), when another thread of the parent may have held it.
  std::unique_lock<internal::ForkSafeMutex> lock(InstallMutex(), std::try_to_lock);
  if (!lock.owns_lock() || users == 0) return;
  users = 0;
  PutThePreviousHandlerBack();
}
const bool child_handler_registered = [] {
  internal::RegisterForkHandlersBeforeYours();
  return pthread_atfork(nullptr, nullptr, &ForgetOtherThreadsCopiesInChild) == 0;
}();

// The copy itself, out of line, so that nothing of it lives in the frame that sigsetjmp saved.
__attribute__((noinline)) void Copy(void* dst, const void* src, size_t n) { std::memcpy(dst, src, n); }

}  // namespace

void SetAfterPreviousActionReadForTest(void (*hook)()) {
  after_previous_action_read_for_test.store(hook, std::memory_order_relaxed);
}

void SetBeforeHandlerPutBackForTest(void (*hook)()) {
  before_handler_put_back_for_test.store(hook, std::memory_order_relaxed);
}

ScopedSigbusHandler::ScopedSigbusHandler() {
  // No signal handler of this thread may run while it holds InstallMutex(): one that makes a guarded copy (a copy
  // in a handler that interrupted this thread) would wait for the lock its own thread holds, for ever.
  const internal::ScopedSignalsBlocked signals_blocked;
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
  // Our own handler already installed, with no copy running, is one the application put back: it saved it when it
  // installed its own during a copy, and restored it once the last copy had ended. previous_action still holds
  // what it replaced; saving our handler as the previous action instead would make it call itself for every SIGBUS
  // outside a copy, until the stack overflows, and lose the application's handler for good.
  for (;;) {
    struct sigaction now;
    if (sigaction(SIGBUS, nullptr, &now) != 0 || IsOurs(now)) break;
    // A restartable system call (read, write, wait, ...) that another thread's SIGBUS interrupts is restarted or not
    // by the handler's SA_RESTART, ours while it is installed: as the previous action would have it (an ignored or
    // default-action signal, SA_SIGINFO or not, is never delivered to a handler, so a restartable call goes on; the
    // default one ends the process anyway). Calls that SA_RESTART never restarts (poll, epoll_wait, nanosleep, ...)
    // still fail with EINTR there, where an ignored signal would not have woken them (sigbus_guard.h).
    const bool restart = now.sa_handler == SIG_IGN || now.sa_handler == SIG_DFL || (now.sa_flags & SA_RESTART) != 0;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK | (restart ? SA_RESTART : 0);
    // The action that the last guard's end put back, unclaimed then, keeps its generation: a forward still running
    // with it may claim its one run yet, which must count for it now too. Another action (or that one claimed: its
    // disposition went back as SIG_DFL, so the application installed it again) is a new generation, unclaimed.
    const PreviousAction::Snapshot stored = previous_action.Load();
    if (!(SameAction(now, stored.action) && !Claimed(stored.generation))) previous_action.Store(now);
    struct sigaction replaced;
    if (sigaction(SIGBUS, &action, &replaced) != 0 || SameAction(replaced, now)) break;
    sigaction(SIGBUS, &replaced, nullptr);
  }
}

ScopedSigbusHandler::~ScopedSigbusHandler() {
  const internal::ScopedSignalsBlocked signals_blocked;  // as in the constructor
  std::lock_guard<internal::ForkSafeMutex> lock(InstallMutex());
  if (--users > 0) return;
  PutThePreviousHandlerBack();
}

namespace {

// One byte of each page of [data, data + size) (size > 0) read through the kernel's user copies (process_vm_writev's
// local side, read as write(2) reads its buffer: copy_from_user, in this thread's context, so that protection keys
// apply and a VM_PFNMAP mapping reads) into our scratch bytes. A fault is an EFAULT (or a short count) instead of a
// signal. (Not the remote side: it goes through page pinning, which ignores protection keys and cannot reach
// VM_PFNMAP memory.) 0 if every page could be read; EFAULT if one faults (also for a range that wraps around the
// address space); another errno where the calls are refused (a seccomp filter, ENOSYS): the buffer may well be good.
int ReadProbe(const void* data, size_t size) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  if (size - 1 > UINTPTR_MAX - begin) return EFAULT;  // wraps: no buffer
  const uintptr_t last = begin + (size - 1);
  constexpr size_t kPagesPerCall = 128;
  char bytes[kPagesPerCall];
  struct iovec local[kPagesPerCall];
  uintptr_t at = begin;
  for (bool more = true; more;) {
    size_t n = 0;
    while (n < kPagesPerCall && more) {
      local[n++] = {reinterpret_cast<void*>(at), 1};
      const uintptr_t next = (at / kPageSize + 1) * kPageSize;
      more = next > at && next <= last;  // next > at: not past the top of the address space
      at = next;
    }
    const struct iovec scratch = {bytes, n};
    ssize_t moved;
    do {
      moved = process_vm_writev(getpid(), local, n, &scratch, 1, 0);
    } while (moved < 0 && errno == EINTR);
    if (moved != static_cast<ssize_t>(n)) return moved < 0 ? errno : EFAULT;  // short: stopped at a fault
  }
  return 0;
}

// Whether each page of [data, data + size) (size > 0) can be written, checked without storing anything that could
// lose another thread's store: a probe that reads a byte and writes it back (the first version of this check) undoes
// a store made between the two, and dirtied a page even where the check then failed. 0, EFAULT, or another errno where
// the check is refused (no verdict: the buffer may well be good).
//   1. madvise(MADV_POPULATE_WRITE) over the pages (Linux 5.14 on): the kernel write-faults each one in, as the copy's
//      stores would, but stores nothing. ENOMEM: a page is not mapped; EFAULT: the fault failed (a SIGBUS or SIGSEGV
//      page: a mapping of a truncated file, a hole of a full file system); EHWPOISON: a poisoned page of the buffer,
//      the caller's memory too. ENOMEM also says the kernel found no memory for the pages (a memory cgroup at its
//      limit), which the copy's own faults might have reclaimed: step 2 decides. EINVAL says too little: a page the
//      mapping does not allow writing (Linux 6.18 answers so for PROT_READ), but also a VM_PFNMAP or VM_IO mapping,
//      which the copy can write, and a kernel before 5.14.
//   2. after EINVAL or ENOMEM, a 32-bit word of each page atomically added 0 by the kernel (futex FUTEX_WAKE_OP: a
//   locked
//      read-modify-write, so a concurrent store is never lost; at a fault the kernel tries the write fault itself and
//      fails with EFAULT instead of a signal). It wakes nobody on our own scratch word; one thread waiting on the
//      buffer's word may be woken spuriously (op result 0 == 0), which futex waiters must tolerate anyway.
// What remains: the pages are populated writable, as the copy's own stores would make them (a MAP_PRIVATE page gets
// its private copy, a MAP_SHARED file page is dirtied or its block allocated), also where the copy then fails.
int WriteProbe(void* data, size_t size) {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  if (size - 1 > UINTPTR_MAX - begin) return EFAULT;  // wraps: no buffer
  const uintptr_t first_page = begin & ~(kPageSize - 1);
  const uintptr_t last_page = (begin + (size - 1)) & ~(kPageSize - 1);
  int rc;
  do {
    rc = madvise(reinterpret_cast<void*>(first_page), last_page - first_page + kPageSize, MADV_POPULATE_WRITE);
  } while (rc != 0 && errno == EINTR);
  if (rc == 0) return 0;
  // A poisoned page of the buffer is the caller's memory, as a fault there is.
  if (errno == EFAULT || errno == EHWPOISON) return EFAULT;
  // ENOMEM: a page not mapped, or no memory for the pages (a memory cgroup at its limit: faults the kernel makes for
  // madvise do not reclaim as the copy's would); the loop below tells them apart (EFAULT, or ENOMEM: no verdict).
  if (errno != EINVAL && errno != ENOMEM) return errno;
  for (uintptr_t page = first_page;; page += kPageSize) {
    // Aligned down: a futex word must be 4-byte aligned, and stays in the page (it may lie partly before the buffer:
    // adding 0 changes no byte of it).
    const uintptr_t word = page == first_page ? begin & ~uintptr_t{3} : page;
    uint32_t scratch = 0;
    long woken;  // NOLINT(runtime/int): syscall's type
    do {
      woken = syscall(SYS_futex, &scratch, FUTEX_WAKE_OP_PRIVATE, 0, nullptr, reinterpret_cast<uint32_t*>(word),
                      FUTEX_OP(FUTEX_OP_ADD, 0, FUTEX_OP_CMP_EQ, 0));
    } while (woken < 0 && errno == EINTR);
    if (woken < 0) return errno;  // EFAULT, or the call refused (ENOSYS from a seccomp filter)
    if (page == last_page) return 0;
  }
}

void SetRange(uintptr_t (&range)[2], const void* start, size_t n) {
  const uintptr_t page = kPageSize;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(start);
  const uintptr_t end = begin + n < begin ? UINTPTR_MAX : begin + n;
  range[0] = begin & ~(page - 1);
  range[1] = end > UINTPTR_MAX - (page - 1) ? UINTPTR_MAX : (end + page - 1) & ~(page - 1);
}

}  // namespace

bool ReadableWithoutFault(const void* data, size_t size) { return ReadProbe(data, size) == 0; }

bool WritableWithoutFault(void* data, size_t size) { return WriteProbe(data, size) == 0; }

bool CopyCatchingSigbus(void* dst, const void* src, size_t n, uintptr_t* fault, int* code) {
  ScopedSigbusHandler handler;
  SigbusCopyState& copy = sigbus_copy_state;
  // A copy made by a signal handler that interrupted this thread's copy: the outer copy's state is put back when this
  // one ends (its faults stay its own; before, the outer copy ran on unguarded and its fault ended the process).
  struct Outer {
    sigjmp_buf* jump;
    uintptr_t fault;
    int code;
    uintptr_t ranges[2][2];
  } outer{copy.jump,
          copy.fault,
          copy.code,
          {{copy.ranges[0][0], copy.ranges[0][1]}, {copy.ranges[1][0], copy.ranges[1][1]}}};
  copy.jump = nullptr;  // not the outer one's while the ranges change
  copy.fault = 0;
  copy.code = 0;
  SetRange(copy.ranges[0], dst, n);
  SetRange(copy.ranges[1], src, n);
  // A fault's SIGBUS on a thread that blocks SIGBUS is not held back: the kernel resets the disposition to the
  // default and ends the process. So the copy runs with SIGBUS unblocked, unless one is pending (sent while blocked):
  // unblocking would deliver it now, against the application's mask; that copy stays unprotected.
  sigset_t bus, old_mask, pending;
  sigemptyset(&bus);
  sigaddset(&bus, SIGBUS);
  bool restore_mask = false;
  if (pthread_sigmask(SIG_BLOCK, nullptr, &old_mask) == 0 && sigismember(&old_mask, SIGBUS) == 1 &&
      sigpending(&pending) == 0 && sigismember(&pending, SIGBUS) == 0) {
    restore_mask = pthread_sigmask(SIG_UNBLOCK, &bus, nullptr) == 0;
  }
  sigjmp_buf jump;
  bool ok = true;
  if (sigsetjmp(jump, 1) != 0) {
    // Back from the handler (which cleared copy.jump); the signal mask of the sigsetjmp is restored.
    *fault = copy.fault;
    if (code != nullptr) *code = copy.code;
    ok = false;
  } else {
    copy.jump = &jump;
    Copy(dst, src, n);
    copy.jump = nullptr;
  }
  if (restore_mask) pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  for (int i = 0; i < 2; ++i) {
    copy.ranges[i][0] = outer.ranges[i][0];
    copy.ranges[i][1] = outer.ranges[i][1];
  }
  copy.fault = outer.fault;
  copy.code = outer.code;
  copy.jump = outer.jump;  // last: the outer copy is guarded again once its ranges are back
  return ok;
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
  // The caller's buffer first: the guard catches SIGBUS only, and an unmapped or protected buffer would end the
  // process with SIGSEGV in the copy, where pread/pwrite return EFAULT. A probe the system refuses tells nothing:
  // the copy goes on, unchecked, as before. (A buffer unmapped by another thread after the check still ends the
  // process: the caller's race.)
  if ((write ? ReadProbe(buf, size) : WriteProbe(buf, size)) == EFAULT) {
    return MakeErrnoError(EFAULT, absl::StrCat(write ? "write" : "read", " of ", size, " bytes at offset ", offset,
                                               " of file descriptor ", fd, ": the buffer at 0x",
                                               absl::Hex(reinterpret_cast<uintptr_t>(buf)), " cannot be ",
                                               write ? "read" : "written", " (unmapped, protected or unbacked)"));
  }
  // The engine's functions before the mapping: their first use makes the process's selection, which allocates (and
  // may throw std::bad_alloc), and must neither leave the mapping behind nor report a failure after the write.
  const arch::PersistOps& ops = arch::CacheLineOps();
  void* mapping = mmap(nullptr, length, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd,
                       static_cast<off_t>(start));
  if (mapping == MAP_FAILED) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("mmap of ", length, " bytes at offset ", start, " of file descriptor ",
                                            fd, " for a machine-check-safe ", write ? "write" : "read"));
  }
  char* at = static_cast<char*>(mapping) + (offset - start);
  uintptr_t fault = 0;
  int code = 0;
  const bool ok =
      write ? CopyCatchingSigbus(at, buf, size, &fault, &code) : CopyCatchingSigbus(buf, at, size, &fault, &code);
  // Not after a fault: memcpy may store its first bytes last, or copy backwards, so the lines before the reported
  // address need not have been reached, and a write-back of an unbacked or unreadable page would fault again outside
  // the guard (a review's proposal, withdrawn).
  if (ok && write && ops.writes_back_cache_lines) ops.persist(at, size);
  munmap(mapping, length);
  if (!ok) {
    const uintptr_t base = reinterpret_cast<uintptr_t>(mapping);
    const bool inside = fault >= base && fault - base < length;
    // An unbacked page (BUS_ADRERR, BUS_OBJERR: exact addresses) at the caller's buffer (its pages, as the guard's
    // range) is its memory's, not the medium's: a mapping of a file truncated since the check, EFAULT as pread/pwrite
    // report it. So is any fault named there on a write, whose copy only reads the buffer (a store to the medium
    // raises no machine check). On a read, a machine check (BUS_MCEERR_AR; SI_KERNEL, at 0) stays the medium's
    // wherever it is named: the kernel names the poisoned page by one of the process's mappings of it, which may be
    // the caller's buffer mapping the same medium (the same Device DAX), and the copy's load from the medium is the
    // more likely one.
    uintptr_t buffer_pages[2];
    SetRange(buffer_pages, buf, size);
    const bool unbacked = code == BUS_ADRERR || code == BUS_OBJERR;
    if ((unbacked || write) && !inside && fault >= buffer_pages[0] && fault < buffer_pages[1]) {
      return MakeErrnoError(
          EFAULT,
          absl::StrCat(write ? "write" : "read", " of ", size, " bytes at offset ", offset, " of file descriptor ", fd,
                       ": the buffer at 0x", absl::Hex(reinterpret_cast<uintptr_t>(buf)), " faulted at 0x",
                       absl::Hex(fault), " (SIGBUS: unbacked memory of the caller's, not the file's)"));
    }
    return MakeError(
        ErrorCode::kIoFail,
        absl::StrCat(write ? "write" : "read", " of ", size, " bytes at offset ", offset, " of file descriptor ", fd,
                     " hit a bad block (SIGBUS: poisoned or unbacked memory) at source offset ",
                     inside ? absl::StrCat(start + (fault - base),
                                           " (as the CPU reported it: a string copy may report an "
                                           "offset up to a line before the unreadable byte)")
                            : std::string("unknown")));
  }
  return absl::OkStatus();
}

}  // namespace ras_internal
}  // namespace pmem2
