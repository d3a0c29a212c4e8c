// Copyright 2026 The pmem2 Authors.
//
// The C interface (libpmem2.h) over the C++ core: each opaque struct wraps one pmem2 value, each call turns
// an absl::Status into libpmem2's return value (ToLibpmem2ReturnValue) and records the message for
// pmem2_errormsg(). Raw values that the C++ types cannot hold wrong (enumerators, protection bits, offsets)
// are checked here, where they enter, as libpmem2's setters do.

#include "pmem2/c/libpmem2.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/c/handles.h"
#include "pmem2/c/live_handles.h"
#include "pmem2/config/config.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"
#include "pmem2/source/source.h"

namespace pmem2 {
namespace c_internal {
namespace {

// pmem2_errormsg()'s buffer. Messages longer than this are cut (they name values, never whole files).
constexpr size_t kMessageSize = 1024;
thread_local char last_message[kMessageSize];

void SetMessage(absl::string_view message) {
  const size_t n = message.size() < kMessageSize - 1 ? message.size() : kMessageSize - 1;
  message.copy(last_message, n);
  last_message[n] = '\0';
}

}  // namespace

int Fail(int code, absl::string_view message) {
  SetMessage(message);
  return code;
}

int Return(const absl::Status& status) {
  if (status.ok()) return 0;
  SetMessage(status.message());
  return pmem2::ToLibpmem2ReturnValue(status);
}

int FailFormatted(int code, const char* format, ...) {
  va_list arguments;
  va_start(arguments, format);
  std::vsnprintf(last_message, kMessageSize, format, arguments);
  va_end(arguments);
  return code;
}

int NullArgument(const char* argument) { return FailFormatted(-EINVAL, "%s is NULL", argument); }

int OutOfMemory() { return Fail(-ENOMEM, "out of memory"); }

}  // namespace c_internal
}  // namespace pmem2

namespace {

using pmem2::c_internal::BeginRetiring;
using pmem2::c_internal::CancelRetiring;
using pmem2::c_internal::CheckHandle;
using pmem2::c_internal::DeleteHandle;
using pmem2::c_internal::Fail;
using pmem2::c_internal::FailFormatted;
using pmem2::c_internal::FinishRetiring;
using pmem2::c_internal::HandleKind;
using pmem2::c_internal::HandOut;
using pmem2::c_internal::IsLiveHandle;
using pmem2::c_internal::NotLive;
using pmem2::c_internal::NullArgument;
using pmem2::c_internal::OutOfMemory;
using pmem2::c_internal::Return;
using pmem2::internal::StrFormat;

// PMEM2_PERSIST_FAILURE: what a failed persist does besides its record, which a program written for libpmem2 never
// reads (pmem2_map_get_persist_error() is an extension; libpmem2 aborts instead). Read at each failure, so that it
// needs no set-up, and checked by pmem2_map_new() and pmem2_map_from_existing(). Empty counts as unset, as for the
// other variables. Another value at a failure (set after the map was made, or with a map of the C++ API, which nothing
// checks) ends the process, naming it: the caller asked for something other than warn, and the durable choice is
// libpmem2's.
enum class OnPersistFailure { kWarn, kRecord, kAbort, kInvalid };

// `*value`: the variable as read (nullptr: unset).
OnPersistFailure ReadOnPersistFailure(const char** value) {
  *value = secure_getenv("PMEM2_PERSIST_FAILURE");  // as pmem2's other variables: not in a set-user-ID program
  if (*value == nullptr || **value == '\0' || std::strcmp(*value, "warn") == 0) return OnPersistFailure::kWarn;
  if (std::strcmp(*value, "record") == 0) return OnPersistFailure::kRecord;
  if (std::strcmp(*value, "abort") == 0) return OnPersistFailure::kAbort;
  return OnPersistFailure::kInvalid;
}

int CheckOnPersistFailure() {
  const char* value = nullptr;
  if (ReadOnPersistFailure(&value) != OnPersistFailure::kInvalid) return 0;
  return FailFormatted(-EINVAL, "PMEM2_PERSIST_FAILURE=\"%s\": not warn, record or abort", value);
}

// The system calls, not glibc's functions: no cancellation point inside a persist function, which would end a thread
// with a cancellation pending by unwinding through noexcept frames (std::terminate). Stderr gets a second in all to
// take the line, and the rest is left out if it does not: a stalled reader of a full pipe would otherwise hold this
// thread, inside the failed persist, and with it an abort the user asked for and every other thread that waits for
// the persist's sync to end (map_registry.h, SyncScope). So to a pipe or socket each write is one that cannot block
// (RWF_NOWAIT: another writer may fill a pipe between a poll and a blocking write), waiting for room in between with
// the time left; to a terminal through a description of its own opened O_NONBLOCK, as a terminal with room for less
// than the line may poll writable and then block a write until it takes all of it (a serial line stopped by XOFF; a
// pseudo-terminal polls writable only with room for 512 bytes, more than a line) while the application's description
// keeps its flags; elsewhere (a file; a kernel without RWF_NOWAIT; no /proc to reopen through) a poll, then a write.
// A reader that went away (POLLERR, EPIPE) ends it too, and its SIGPIPE, which would end the process, is blocked
// around the writes and taken back if they raised it. A bounded number of attempts, whatever the descriptor answers.
void WriteToStderr(const char* text, size_t length) {
  sigset_t pipe_signal, old_mask, pending_before;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
  sigpending(&pending_before);
  struct timespec left = {1, 0};  // ppoll writes back what is left of it
  struct stat target;
  const bool known = syscall(SYS_fstat, STDERR_FILENO, &target) == 0;
  bool nowait = known && (S_ISFIFO(target.st_mode) || S_ISSOCK(target.st_mode));
  int fd = STDERR_FILENO;
  int own = -1;  // a non-blocking description of a terminal's, closed at the end
  // A terminal's slave end only (TCGETS answers, TIOCGPTN does not): opening a pseudo-terminal's master again makes
  // a new pair. /proc/thread-self: this thread's descriptor table (one unshare(CLONE_FILES) gave it may differ from
  // the process's). The descriptor is O_CLOEXEC; a fork() in another thread meanwhile copies it into a child that
  // does not exec, which then holds the terminal open until it ends.
  struct termios modes;
  unsigned int pty_number;
  if (known && S_ISCHR(target.st_mode) && syscall(SYS_ioctl, STDERR_FILENO, TCGETS, &modes) == 0 &&
      syscall(SYS_ioctl, STDERR_FILENO, TIOCGPTN, &pty_number) != 0) {
    own = static_cast<int>(
        syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    struct stat reopened;
    if (own >= 0 && (syscall(SYS_fstat, own, &reopened) != 0 || reopened.st_rdev != target.st_rdev ||
                     reopened.st_ino != target.st_ino || reopened.st_dev != target.st_dev)) {
      syscall(SYS_close, own);  // not the same device (stderr changed meanwhile): the plain path
      own = -1;
    }
    if (own >= 0) fd = own;
  }
  bool raised_pipe = false;
  for (int attempts = 0; length > 0 && attempts < 1000; ++attempts) {
    ssize_t n = -1;
    if (nowait) {
      struct iovec piece = {const_cast<char*>(text), length};
      n = syscall(SYS_pwritev2, STDERR_FILENO, &piece, 1, -1L, 0L, RWF_NOWAIT);  // -1: the file position
      if (n < 0 && (errno == EOPNOTSUPP || errno == EINVAL || errno == ENOSYS || errno == ESPIPE)) {
        nowait = false;
        continue;
      }
    } else {
      struct pollfd ready = {fd, POLLOUT, 0};
      const long polled = syscall(SYS_ppoll, &ready, 1, &left, nullptr, 0);
      if (polled < 0 && errno == EINTR) continue;
      if (polled != 1 || (ready.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0 || (ready.revents & POLLOUT) == 0) {
        break;
      }
      n = syscall(SYS_write, fd, text, length);
      if (n < 0 && errno == EAGAIN && own >= 0) continue;  // the room went (another writer): poll again
    }
    if (n > 0) {
      text += n;
      length -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EPIPE) raised_pipe = true;
    if (n < 0 && errno == EAGAIN && nowait) {
      struct pollfd ready = {STDERR_FILENO, POLLOUT, 0};
      long polled;
      do {
        polled = syscall(SYS_ppoll, &ready, 1, &left, nullptr, 0);
      } while (polled < 0 && errno == EINTR);
      if (polled == 1 && (ready.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0) continue;
    }
    break;
  }
  if (own >= 0) syscall(SYS_close, own);
  if (raised_pipe && sigismember(&pending_before, SIGPIPE) == 0) {
    const struct timespec now = {0, 0};
    syscall(SYS_rt_sigtimedwait, &pipe_signal, nullptr, &now, sizeof(uint64_t));  // ours, taken back
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
}

// The first lines printed; the rest of a failing disk's failures are recorded only.
constexpr int kPersistFailuresPrinted = 16;
std::atomic<int> persist_failures_seen{0};

// The map registry's observer (map_registry.h): on the thread of the failed persist, which may be inside a persist
// function, so nothing here allocates; errno is kept for the caller.
void ReportPersistFailure(const pmem2::map_internal::PersistFailure& failure) {
  // A call that returns the failure (pmem2_deep_flush, pmem_msync, a C++ Status method) is not silent: its caller
  // decides, as with libpmem2, which aborts only in the persists that cannot return an error.
  if (failure.caller_sees_result) return;
  const char* value = nullptr;
  const OnPersistFailure on = ReadOnPersistFailure(&value);
  if (on == OnPersistFailure::kRecord) return;
  const bool ends = on == OnPersistFailure::kAbort || on == OnPersistFailure::kInvalid;
  const int saved_errno = errno;
  const int seen = persist_failures_seen.fetch_add(1, std::memory_order_relaxed);
  char line[512];
  int n = 0;
  if (ends || seen < kPersistFailuresPrinted) {
    const char* name = strerrorname_np(failure.error_number);
    // The value named at most in part: the line has a fixed room (nothing here allocates).
    char setting[128];
    if (on == OnPersistFailure::kInvalid) {
      std::snprintf(setting, sizeof setting,
                    "=\"%.48s%s\", not warn, record or abort: ending the process, as libpmem2 does", value,
                    std::strlen(value) > 48 ? "..." : "");
    } else {
      std::snprintf(setting, sizeof setting, "=%s", ends ? "abort: ending the process" : "warn");
    }
    if (failure.forked_without_own_description) {
      n = std::snprintf(line, sizeof line,
                        "pmem2: no persist of the map [%p, +%zu) can be vouched for in this forked child: it could "
                        "not map it again through a file description of its own (%s, errno %d), so the kernel may "
                        "report the file's write-back errors to the parent instead; recorded on the map for good "
                        "(PMEM2_PERSIST_FAILURE%s)\n",
                        reinterpret_cast<void*>(failure.address), failure.length, name != nullptr ? name : "?",
                        failure.error_number, setting);
    } else {
      n = std::snprintf(line, sizeof line,
                        "pmem2: persisting %zu bytes at %p failed: %s (errno %d): what was written there since the "
                        "last check may be lost; recorded on every map of the file until "
                        "pmem2_map_clear_persist_error() (PMEM2_PERSIST_FAILURE%s)\n",
                        failure.length, reinterpret_cast<void*>(failure.address), name != nullptr ? name : "?",
                        failure.error_number, setting);
    }
  } else if (seen == kPersistFailuresPrinted) {
    n = std::snprintf(line, sizeof line,
                      "pmem2: further persist failures are recorded, not printed (PMEM2_PERSIST_FAILURE=warn)\n");
  }
  if (n > 0) WriteToStderr(line, std::min(static_cast<size_t>(n), sizeof line - 1));
  if (ends) std::abort();
  errno = saved_errno;
}
const bool persist_failure_observer_set = (pmem2::map_internal::SetPersistFailureObserver(&ReportPersistFailure), true);

}  // namespace

extern "C" {

// ---- Sources ----

int pmem2_source_from_fd(struct pmem2_source** src, int fd) try {
  if (src == nullptr) return NullArgument("src");
  *src = nullptr;  // as libpmem2: NULL on failure, so that cleanup code may delete it unconditionally
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  if (!source.ok()) return Return(source.status());
  pmem2_source* made = new (std::nothrow) pmem2_source(*std::move(source));
  if (made == nullptr) return OutOfMemory();
  return HandOut(HandleKind::kSource, made, src);
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_from_anon(struct pmem2_source** src, size_t size) try {
  if (src == nullptr) return NullArgument("src");
  *src = nullptr;  // as libpmem2: NULL on failure, so that cleanup code may delete it unconditionally
  absl::StatusOr<pmem2::Source> source = pmem2::Source::Anonymous(size);
  if (!source.ok()) return Return(source.status());
  pmem2_source* made = new (std::nothrow) pmem2_source(*std::move(source));
  if (made == nullptr) return OutOfMemory();
  return HandOut(HandleKind::kSource, made, src);
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_get_fd(const struct pmem2_source* src, int* fd) {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (fd == nullptr) return NullArgument("fd");
  if (src->source.kind() == pmem2::SourceKind::kAnonymous) {
    return Fail(PMEM2_E_FILE_DESCRIPTOR_NOT_SET, "an anonymous source has no descriptor");
  }
  *fd = src->source.fd();
  return 0;
}

int pmem2_source_size(const struct pmem2_source* src, size_t* size) try {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (size == nullptr) return NullArgument("size");
  absl::StatusOr<uint64_t> bytes = src->source.Size();
  if (!bytes.ok()) return Return(bytes.status());
  if (*bytes > SIZE_MAX) return Fail(-EOVERFLOW, "the size does not fit in size_t");
  *size = static_cast<size_t>(*bytes);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_alignment(const struct pmem2_source* src, size_t* alignment) try {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (alignment == nullptr) return NullArgument("alignment");
  absl::StatusOr<size_t> granule = src->source.Alignment();
  if (!granule.ok()) return Return(granule.status());
  *alignment = *granule;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_delete(struct pmem2_source** src) {
  if (src == nullptr) return NullArgument("src");
  if (*src == nullptr) return 0;  // as libpmem2, and free(NULL)
  return DeleteHandle(HandleKind::kSource, src);
}

// ---- Configs ----

int pmem2_config_new(struct pmem2_config** cfg) {
  if (cfg == nullptr) return NullArgument("cfg");
  *cfg = nullptr;
  pmem2_config* made = new (std::nothrow) pmem2_config();
  if (made == nullptr) return OutOfMemory();
  return HandOut(HandleKind::kConfig, made, cfg);
}

int pmem2_config_delete(struct pmem2_config** cfg) {
  if (cfg == nullptr) return NullArgument("cfg");
  if (*cfg == nullptr) return 0;  // as libpmem2, and free(NULL)
  return DeleteHandle(HandleKind::kConfig, cfg);
}

int pmem2_config_set_required_store_granularity(struct pmem2_config* cfg, enum pmem2_granularity g) try {
  if (int ret = CheckHandle(HandleKind::kConfig, cfg, "cfg"); ret != 0) return ret;
  // Compared as an int: a value outside the enumerators may arrive from C.
  const int value = static_cast<int>(g);
  if (value != PMEM2_GRANULARITY_BYTE && value != PMEM2_GRANULARITY_CACHE_LINE && value != PMEM2_GRANULARITY_PAGE) {
    return Fail(PMEM2_E_GRANULARITY_NOT_SUPPORTED,
                "" + std::to_string(value) + " is no granularity");
  }
  cfg->config.set_required_store_granularity(static_cast<pmem2::StoreGranularity>(value));
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_config_set_offset(struct pmem2_config* cfg, size_t offset) try {
  if (int ret = CheckHandle(HandleKind::kConfig, cfg, "cfg"); ret != 0) return ret;
  if (static_cast<uint64_t>(offset) > static_cast<uint64_t>(INT64_MAX)) {
    return Fail(PMEM2_E_OFFSET_OUT_OF_RANGE,
                "offset " + std::to_string(offset) + " is greater than INT64_MAX");
  }
  cfg->config.set_offset(offset);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_config_set_length(struct pmem2_config* cfg, size_t length) {
  if (int ret = CheckHandle(HandleKind::kConfig, cfg, "cfg"); ret != 0) return ret;
  cfg->config.set_length(length);
  return 0;
}

int pmem2_config_set_sharing(struct pmem2_config* cfg, enum pmem2_sharing_type type) try {
  if (int ret = CheckHandle(HandleKind::kConfig, cfg, "cfg"); ret != 0) return ret;
  const int value = static_cast<int>(type);
  if (value != PMEM2_SHARED && value != PMEM2_PRIVATE) {
    return Fail(PMEM2_E_INVALID_SHARING_VALUE,
                "" + std::to_string(value) + " is neither PMEM2_SHARED nor PMEM2_PRIVATE");
  }
  cfg->config.set_sharing(static_cast<pmem2::Sharing>(value));
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_config_set_protection(struct pmem2_config* cfg, unsigned prot) try {
  if (int ret = CheckHandle(HandleKind::kConfig, cfg, "cfg"); ret != 0) return ret;
  if ((prot & ~pmem2::kValidProtectionBits) != 0) {
    return Fail(PMEM2_E_INVALID_PROT_FLAG, StrFormat("protection 0x%x has bits 0x%x that are no PMEM2_PROT_* flag",
                                                     prot, prot & ~pmem2::kValidProtectionBits));
  }
  cfg->config.set_protection(pmem2::ProtectionFromBits(prot));
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

// ---- Maps ----

int pmem2_map_new(struct pmem2_map** map_ptr, const struct pmem2_config* cfg, const struct pmem2_source* src) try {
  if (map_ptr == nullptr) return NullArgument("map_ptr");
  *map_ptr = nullptr;
  if (int ret = CheckHandle(HandleKind::kConfig, cfg, "cfg"); ret != 0) return ret;
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (int ret = CheckOnPersistFailure(); ret != 0) return ret;
  if (cfg->reservation_handle != nullptr && (!IsLiveHandle(HandleKind::kReservation, cfg->reservation_handle) ||
                                             cfg->reservation_handle->serial != cfg->reservation_serial)) {
    return FailFormatted(-EINVAL, "the config's reservation %p was deleted since pmem2_config_set_vm_reservation",
                         static_cast<const void*>(cfg->reservation_handle));
  }
  // Published (findable through its reservation) only once it is the pmem2_map the caller gets.
  absl::StatusOr<pmem2::Map> map = pmem2::map_internal::CreateUnpublishedForCApi(cfg->config, src->source);
  if (!map.ok()) return Return(map.status());
  pmem2_map* made = new (std::nothrow) pmem2_map(*std::move(map), src->source.kind() == pmem2::SourceKind::kAnonymous);
  if (made == nullptr) return OutOfMemory();  // the Map's destructor has unmapped the mapping
  // Live before it is published: a Find through its reservation may return it, and the finder may delete it.
  if (int ret = HandOut(HandleKind::kMap, made, map_ptr); ret != 0) return ret;
  pmem2::map_internal::PublishForCApi(*made);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_map_delete(struct pmem2_map** map_ptr) try {
  if (map_ptr == nullptr) return NullArgument("map_ptr");
  if (*map_ptr == nullptr) return Fail(PMEM2_E_MAPPING_NOT_FOUND, "*map_ptr is NULL");
  // A handle already deleted (a stale copy) or never handed out is refused, not freed: as libpmem2. The map
  // leaves its reservation's lookups between the two steps (BeginDestructionForCApi takes the reservations' lock).
  if (!BeginRetiring(HandleKind::kMap, *map_ptr)) return NotLive(HandleKind::kMap, *map_ptr);
  pmem2::map_internal::BeginDestructionForCApi(**map_ptr);
  // As libpmem2: where munmap fails, the map and *map_ptr are left as they were (the map usable, its delete to be
  // tried again), instead of a success that leaves the pages mapped for good.
  if (const int error = pmem2::map_internal::UnmapForCApi(**map_ptr); error != 0) {
    // The message first: once the handle is live again, another thread may delete it.
    const int ret = FailFormatted(
        -error, "unmapping the map [%p, +%zu) failed: %s%s", (*map_ptr)->address(), (*map_ptr)->size(),
        std::strerror(error), error == ENOMEM ? " (splitting the mapping would likely exceed vm.max_map_count)" : "");
    CancelRetiring(HandleKind::kMap, *map_ptr);
    return ret;
  }
  FinishRetiring(HandleKind::kMap, *map_ptr);
  delete *map_ptr;
  *map_ptr = nullptr;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

// The getters answer for a map that is no live one (a stale copy of a deleted handle) as for a NULL map: msync(MS_SYNC)
// of the pages (durable through the page cache; nothing on Device DAX, see libpmem2.h), after the copy. No CPU flush
// first: a NULL map says nothing of the range, and a flush of an unmapped address would crash where msync returns
// ENOMEM. The getters allocate nothing (map_internal's Page*Fn()).
namespace {
bool Live(const pmem2_map* map) { return map != nullptr && IsLiveHandle(HandleKind::kMap, map); }
}  // namespace

void* pmem2_map_get_address(struct pmem2_map* map) { return Live(map) ? map->address() : nullptr; }

size_t pmem2_map_get_size(struct pmem2_map* map) { return Live(map) ? map->size() : 0; }

enum pmem2_granularity pmem2_map_get_store_granularity(struct pmem2_map* map) {
  if (!Live(map)) return PMEM2_GRANULARITY_PAGE;
  return static_cast<pmem2_granularity>(map->store_granularity());
}

// A live Map always has its functions; the NULL-map fallback is the page (msync) table. Persist, flush and drain
// are taken without the table, whose first making allocates: those getters cannot fail.
pmem2_persist_fn pmem2_get_persist_fn(struct pmem2_map* map) {
  return Live(map) ? map->persist_fn() : pmem2::map_internal::PagePersistFn();
}

pmem2_flush_fn pmem2_get_flush_fn(struct pmem2_map* map) {
  return Live(map) ? map->flush_fn() : pmem2::map_internal::PagePersistFn();
}

pmem2_drain_fn pmem2_get_drain_fn(struct pmem2_map* map) {
  return Live(map) ? map->drain_fn() : pmem2::map_internal::PageDrainFn();
}

pmem2_memmove_fn pmem2_get_memmove_fn(struct pmem2_map* map) {
  return Live(map) ? map->memmove_fn() : pmem2::map_internal::PageMemmoveFn();
}

pmem2_memcpy_fn pmem2_get_memcpy_fn(struct pmem2_map* map) {
  return Live(map) ? map->memcpy_fn() : pmem2::map_internal::PageMemmoveFn();
}

pmem2_memset_fn pmem2_get_memset_fn(struct pmem2_map* map) {
  return Live(map) ? map->memset_fn() : pmem2::map_internal::PageMemsetFn();
}

int pmem2_map_from_existing(struct pmem2_map** map_ptr, const struct pmem2_source* src, void* addr, size_t len,
                            enum pmem2_granularity gran) try {
  if (map_ptr == nullptr) return NullArgument("map_ptr");
  *map_ptr = nullptr;
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (int ret = CheckOnPersistFailure(); ret != 0) return ret;
  absl::StatusOr<pmem2::Map> map =
      pmem2::Map::FromExisting(src->source, addr, len, static_cast<pmem2::StoreGranularity>(static_cast<int>(gran)));
  if (!map.ok()) return Return(map.status());
  // Adopted anonymous memory is no more durable than pmem2_map_new()'s (libpmem2 refuses its deep flush only at byte
  // granularity: R8 in ras_c_test.cc).
  pmem2_map* made = new (std::nothrow) pmem2_map(*std::move(map), src->source.kind() == pmem2::SourceKind::kAnonymous);
  if (made == nullptr) return OutOfMemory();
  return HandOut(HandleKind::kMap, made, map_ptr);
} PMEM2_C_CATCH_OUT_OF_MEMORY

// ---- Errors ----

const char* pmem2_errormsg(void) { return pmem2::c_internal::last_message; }

void pmem2_perror(const char* format, ...) {
  // Formatted first, then printed with one call, so lines of concurrent threads do not interleave.
  if (format == nullptr || *format == '\0') {
    std::fprintf(stderr, "%s\n", pmem2::c_internal::last_message);
    return;
  }
  char prefix[pmem2::c_internal::kMessageSize];
  va_list args;
  va_start(args, format);
  std::vsnprintf(prefix, sizeof prefix, format, args);
  va_end(args);
  std::fprintf(stderr, "%s: %s\n", prefix, pmem2::c_internal::last_message);
}

// ---- pmem2 extensions ----

int pmem2_map_get_persist_error(struct pmem2_map* map) try {
  if (int ret = CheckHandle(HandleKind::kMap, map, "map"); ret != 0) return ret;
  return Return(map->PersistError());
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_map_clear_persist_error(struct pmem2_map* map) try {
  if (int ret = CheckHandle(HandleKind::kMap, map, "map"); ret != 0) return ret;
  return Return(map->ClearPersistError());
} PMEM2_C_CATCH_OUT_OF_MEMORY

uint64_t pmem2_map_get_persist_failure_mark(struct pmem2_map* map) {
  return map != nullptr && IsLiveHandle(HandleKind::kMap, map) ? map->PersistFailureMark() : 0;
}

int pmem2_map_get_persist_error_since(struct pmem2_map* map, uint64_t mark) try {
  if (int ret = CheckHandle(HandleKind::kMap, map, "map"); ret != 0) return ret;
  return Return(map->PersistErrorSince(mark));
}
PMEM2_C_CATCH_OUT_OF_MEMORY

}  // extern "C"
