// Copyright 2026 The pmem2 Authors.
//
// libpmem.h over pmem2: pmem_map_file on pmem2::MapFile (the Maps it makes are kept here, by address, until
// pmem_unmap), the flush and copy functions on pmem2::PmemFunctions(), pmem_msync on pmem2::SyncPages.

#include "pmem2/c/libpmem.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_lazy.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/raw_memory.h"
#include "pmem2/map_file/map_file.h"
#include "pmem2/vm_reservation/reservation_state.h"

namespace {

using pmem2::internal::StrFormat;

// ---- Messages, errno, logging ----

constexpr size_t kMessageSize = 1024;
thread_local char last_message[kMessageSize];

void SetMessage(absl::string_view message) {
  const size_t n = message.size() < kMessageSize - 1 ? message.size() : kMessageSize - 1;
  message.copy(last_message, n);
  last_message[n] = '\0';
}

// PMEM_LOG_LEVEL / PMEM_LOG_FILE, read once, at the first call that logs (libpmem_log_test relies on that).
class Log {
 public:
  // Fork-safe (fork_safe_lazy.h): threads that race here each read the environment and open the file; the
  // losers' Logs close theirs.
  static const Log& Get() {
    return the_log_.Get([] { return std::unique_ptr<Log>(new Log()); });
  }
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;
  ~Log() {
    const pmem2::internal::ScopedNoCancellation no_cancellation;  // fclose(): a destructor may not unwind
    if (out_ != stderr) std::fclose(out_);
  }
  int level() const { return level_; }
  void Write(int level, const std::string& line) const {
    if (level > level_) return;
    // Writes are cancellation points: a line is logged in the middle of a call, which must not end there.
    const pmem2::internal::ScopedNoCancellation no_cancellation;
    // One line and its flush at a time, under the stream's own lock: not a ForkSafeMutex, which every fork() waits
    // for, and a write to a stalled pipe or FIFO (PMEM_LOG_FILE) may block for good. glibc resets the streams'
    // locks in a child, which can log.
    flockfile(out_);
    std::fprintf(out_, "<libpmem>: <%d> %s\n", level, line.c_str());
    std::fflush(out_);
    funlockfile(out_);
  }

 private:
  // Not in a set-user-ID or set-group-ID program (or one given capabilities: secure_getenv(3)): whoever runs it
  // would have it create or append to any file its privileges reach, with lines of the caller's choosing (a path).
  // PMDK's release libpmem reads neither variable (its debug build only).
  Log() {
    const char* level = secure_getenv("PMEM_LOG_LEVEL");
    if (level == nullptr || !absl::SimpleAtoi(level, &level_) || level_ < 0) level_ = 0;
    if (level_ == 0) return;
    const char* file = secure_getenv("PMEM_LOG_FILE");
    if (file != nullptr && *file != '\0') {
      std::string path = file;
      if (path.back() == '-') path += std::to_string(getpid());
      const pmem2::internal::ScopedNoCancellation no_cancellation;  // fopen()
      if (FILE* opened = std::fopen(path.c_str(), "ae"); opened != nullptr) out_ = opened;  // not into exec'd programs
    }
  }
  int level_ = 0;
  FILE* out_ = stderr;

  static pmem2::internal::ForkSafeLazy<Log> the_log_;
};

pmem2::internal::ForkSafeLazy<Log> Log::the_log_;


bool Logging(int level) { return Log::Get().level() >= level; }

// The errno that stands for `status` (libpmem reports errno only).
int ToErrno(const absl::Status& status) {
  if (pmem2::GetErrorCode(status) == pmem2::ErrorCode::kErrno) return pmem2::GetErrno(status);
  switch (status.code()) {
    case absl::StatusCode::kPermissionDenied: return EACCES;
    case absl::StatusCode::kResourceExhausted: return ENOSPC;
    case absl::StatusCode::kNotFound: return ENOENT;
    case absl::StatusCode::kAlreadyExists: return EEXIST;
    case absl::StatusCode::kDataLoss: return EIO;
    case absl::StatusCode::kUnimplemented: return ENOTSUP;
    default: return EINVAL;
  }
}

// An allocation failed (std::bad_alloc, which must not cross into the caller's C frames): errno ENOMEM, and a
// message that needs no memory. Not logged: the log's line would need memory. The entry points that may allocate
// are function-try-blocks that end here; their RAII owners have undone what they made.
void OutOfMemory() {
  SetMessage("out of memory");
  errno = ENOMEM;
}

// Records the failure (message, log at level 1) and sets errno; for the caller's return statement.
void Fail(const char* function, const absl::Status& status) {
  const int err = ToErrno(status);
  SetMessage(status.message());
  if (Logging(1)) Log::Get().Write(1, absl::StrCat(function, ": ", status.message()));
  errno = err;
}

// ---- Environment read at first use ----

// Fork-safe (fork_safe_lazy.h), as the Log.
pmem2::internal::ForkSafeLazy<uintptr_t> mmap_hint;

// PMEM_IS_PMEM_FORCE: -1 unset, 0 or 1. An atomic, not a ForkSafeLazy: pmem_is_pmem() cannot report a failed
// allocation. Threads that race here read the same environment and store the same value; a fork cannot leave it
// half made.
constexpr int kNotReadYet = -2;
std::atomic<int> is_pmem_forced{kNotReadYet};
int IsPmemForced() {
  const int read = is_pmem_forced.load(std::memory_order_relaxed);
  if (read != kNotReadYet) return read;
  // Not in a set-user-ID or set-group-ID program (secure_getenv(3)): whoever runs it would have a disk's file claimed
  // persistent memory, and its callers' pmem_persist skip the pmem_msync they need.
  const char* value = secure_getenv("PMEM_IS_PMEM_FORCE");
  int forced = -1;  // unset: no force
  if (value != nullptr) {
    // libpmem reads the value with atoi(3) and forces on 0 and 1 only, so applications' settings mean what atoi
    // reads: leading white space, a sign, the digits up to the first other character; no digits ("", "yes") read
    // as 0. glibc's atoi is strtol truncated to int; strtol here, whose overflow is defined (it saturates), and the
    // same truncation (modulo 2^32 in GCC), so that even 4294967297 reads as libpmem reads it (1).
    const int saved_errno = errno;  // strtol sets ERANGE; pmem_is_pmem leaves errno alone
    const int number = static_cast<int>(static_cast<uint32_t>(std::strtol(value, nullptr, 10)));
    errno = saved_errno;
    if (number == 0 || number == 1) forced = number;
  }
  is_pmem_forced.store(forced, std::memory_order_relaxed);
  return forced;
}

void* MmapHint() {
  return reinterpret_cast<void*>(mmap_hint.Get([] {
    // Not in a set-user-ID or set-group-ID program (secure_getenv(3)): whoever runs it would choose where its
    // mappings go, undoing address-space randomisation (the kernel drops a fixed-address personality there too).
    const char* value = secure_getenv("PMEM_MMAP_HINT");
    if (value == nullptr || *value == '\0') return std::make_unique<uintptr_t>(0);
    // As libpmem: hexadecimal with or without 0x, anything after the number ignored.
    char* end = nullptr;
    errno = 0;
    const unsigned long long address = std::strtoull(value, &end, 16);
    if (end == value || errno == ERANGE) return std::make_unique<uintptr_t>(0);
    return std::make_unique<uintptr_t>(static_cast<uintptr_t>(address));
  }));
}

// ---- The mappings pmem_map_file made ----

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

class FileMaps {
 public:
  static FileMaps& Get() {
    static FileMaps* const maps = new FileMaps();
    return *maps;
  }
  // Keeps `map` until pmem_unmap. An entry that overlaps it is stale: the application released that mapping
  // with munmap(2) instead of pmem_unmap, and the kernel has given (some of) its addresses to this one. Stale
  // entries are dropped without unmapping anything: the addresses belong to the new mapping now (destroying
  // them as they are would unmap the memory about to be returned).
  void* Keep(pmem2::Map map) {
    void* address = map.address();
    const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
    const uintptr_t end = begin + RoundUpToPage(map.size());
    // Moved before the lock is taken: a Map in a reservation takes the reservation's lock when it moves, and
    // nothing that takes a lock runs under this one (fork_safe_mutex.h). Likewise the stale Maps are forgotten
    // after it, once out of the table and this call's alone, and before they are destroyed, also when the table
    // cannot grow (bad_alloc): destroyed as they are, they would unmap the new mapping's pages.
    auto kept = std::make_unique<pmem2::Map>(std::move(map));
    std::vector<std::unique_ptr<pmem2::Map>> stale;
    absl::Cleanup forget_stale = [&stale] {
      for (const std::unique_ptr<pmem2::Map>& old : stale) pmem2::map_internal::ForgetUnmappedForCApi(*old);
    };
    {
      std::lock_guard<pmem2::internal::ForkSafeMutex> lock(mutex_);
      for (auto it = FirstEndingAfterLocked(begin); it != maps_.end() && it->first < end;) {
        stale.push_back(std::move(it->second));
        it = maps_.erase(it);
      }
      maps_.emplace(begin, std::move(kept));
    }
    try {
      if (Logging(2)) {
        for (const std::unique_ptr<pmem2::Map>& old : stale) {
          Log::Get().Write(2, StrFormat("forgot the mapping at %p, %u bytes: unmapped without pmem_unmap",
                                        old->address(), old->size()));
        }
      }
    } catch (const std::bad_alloc&) {
      // The log is best effort: the new mapping is in the table, and must be handed out.
    }
    return address;
  }
  // Unmaps [addr, addr + len), as munmap(2) would, with the pmem_map_file mappings in it: each one the range
  // covers whole is released (its Map destroyed), the rest of the range is munmap'ed. A range that covers a
  // mapping only in part is refused and nothing is unmapped: the Map would later unmap pages someone else may
  // own by then. So is a range over a live pmem2 map that pmem_map_file did not make (pmem2_map_new's, a C++
  // Map): unmapped behind it, its addresses would still count as its (pmem_is_pmem) and its deletion would unmap
  // whatever is mapped there by then.
  absl::Status Unmap(void* addr, size_t len) {
    const uintptr_t begin = reinterpret_cast<uintptr_t>(addr);
    // A range past the top of the address space is walked up to the top (munmap refuses it below).
    const uintptr_t end = len > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + len;
    // munmap releases whole pages: up to `end` rounded up.
    const uintptr_t end_of_pages = end > UINTPTR_MAX - (PageSize() - 1) ? UINTPTR_MAX : RoundUpToPage(end);
    // Asked before this table's lock is taken: the registry's locks come first (fork handlers take them so). Over
    // the whole pages munmap would unmap: a map adopted with FromExisting() may start inside the range's last page.
    const std::vector<pmem2::map_internal::MapExtent> maps_of_the_engine =
        len == 0 ? std::vector<pmem2::map_internal::MapExtent>()
                 : pmem2::map_internal::MapsInRange(addr, end_of_pages - begin);
    // Nor a reservation's placeholder (pmem2_vm_reservation_new's, a C++ VmReservation): another mmap could land in
    // the hole, and a Map placed there later (MAP_FIXED) or the reservation's end would unmap whatever that was. But
    // for the reservations pmem_map_file makes at PMEM_MMAP_HINT (MapAtHint), each of which holds one mapping of this
    // table, and goes with it: told by that mapping's Map being placed in it, by identity (a user's reservation made
    // where a mapping of the table was released with munmap(2) may have its address and size).
    using Reservation = pmem2::vm_reservation_internal::ReservationState;
    const std::vector<Reservation::Found> reservations =
        len == 0 ? std::vector<Reservation::Found>() : Reservation::Overlapping(begin, end_of_pages);
    std::vector<std::unique_ptr<pmem2::Map>> doomed;  // destroyed (unmapped) after the lock is released
    {
      std::lock_guard<pmem2::internal::ForkSafeMutex> lock(mutex_);
      for (const Reservation::Found& reservation : reservations) {
        const Entries::const_iterator entry = maps_.find(reservation.begin);
        if (entry == maps_.end() || pmem2::map_internal::ReservationOfForCApi(*entry->second) != reservation.state) {
          return pmem2::MakeErrnoError(
              EINVAL, StrFormat("[%p, +%u) holds part of the pmem2 reservation [%#x, +%u), which pmem_map_file did "
                                "not make: delete it with pmem2_vm_reservation_delete (or destroy the VmReservation) "
                                "instead",
                                addr, len, reservation.begin, reservation.size));
        }
      }
      for (const pmem2::map_internal::MapExtent& map : maps_of_the_engine) {
        // Not an entry of this table at its address: another map. Nor one whose record was dropped: the mapping the
        // application munmap'ed behind pmem_unmap's back, over whose address the live map came (a map of the same
        // address that the registry holds is never one of those).
        const Entries::iterator entry = maps_.find(map.begin);
        if (entry == maps_.end() || pmem2::map_internal::RecordDroppedFromRegistry(*entry->second)) {
          return pmem2::MakeErrnoError(
              EINVAL, StrFormat("[%p, +%u) holds the pmem2 map [%#x, %#x), which pmem_map_file did not make: delete "
                                "it with pmem2_map_delete (or destroy the Map) instead",
                                addr, len, map.begin, map.end));
        }
      }
      std::vector<Entries::iterator> covered;
      for (auto it = FirstEndingAfterLocked(begin); it != maps_.end() && it->first < end; ++it) {
        // munmap rounds the length up to pages, so a range ending anywhere in a mapping's last page covers it; one
        // ending before that page cuts it.
        if (it->first < begin || it->first + RoundUpToPage(it->second->size()) > end_of_pages) {
          return pmem2::MakeErrnoError(
              EINVAL, StrFormat("[%p, +%u) cuts the pmem_map_file mapping [%#x, +%u): unmap all of it", addr, len,
                                it->first, it->second->size()));
        }
        covered.push_back(it);
      }
      if (!covered.empty()) {
        // munmap(2)'s own refusals, before anything is released (without mappings, munmap below answers).
        if (begin % PageSize() != 0 || len > UINTPTR_MAX - begin) {
          return pmem2::MakeErrnoError(EINVAL, StrFormat("munmap of [%p, +%u)", addr, len));
        }
        // What lies between and around the mappings is munmap'ed first, so that a failure leaves every
        // mapping in place. Room for the released Maps is made before that: once a gap is unmapped, nothing may
        // fail for want of memory (the call would report ENOMEM with part of the range unmapped). The last gap
        // goes first: it is the one the kernel refuses for a range past the top of user space (EINVAL, as
        // munmap(2) of the whole range), before any other memory of the process is released.
        doomed.reserve(covered.size());
        const Entries::iterator last = covered.back();
        if (absl::Status s = MunmapRange(last->first + RoundUpToPage(last->second->size()), end); !s.ok()) return s;
        uintptr_t at = begin;
        for (Entries::iterator it : covered) {
          if (absl::Status s = MunmapRange(at, it->first); !s.ok()) return s;
          at = it->first + RoundUpToPage(it->second->size());
        }
        for (Entries::iterator it : covered) {
          // A Map whose record was dropped (part of it munmap'ed behind pmem_unmap's back and mapped again since)
          // leaves its range alone when destroyed: unmapped here, as munmap(2) of the range asked for would.
          if (pmem2::map_internal::RecordDroppedFromRegistry(*it->second)) {
            munmap(reinterpret_cast<void*>(it->first), RoundUpToPage(it->second->size()));
          }
          doomed.push_back(std::move(it->second));
          maps_.erase(it);
        }
        return absl::OkStatus();
      }
    }
    if (munmap(addr, len) != 0) {
      const int error = errno;  // before the message's formatting can change it
      return pmem2::MakeErrnoError(error, StrFormat("munmap of [%p, +%u)", addr, len));
    }
    return absl::OkStatus();
  }

 private:
  using Entries = std::map<uintptr_t, std::unique_ptr<pmem2::Map>>;

  static uintptr_t RoundUpToPage(size_t size) { return (size + PageSize() - 1) / PageSize() * PageSize(); }

  // munmap of [from, to) if it is not empty.
  static absl::Status MunmapRange(uintptr_t from, uintptr_t to) {
    if (to <= from || munmap(reinterpret_cast<void*>(from), to - from) == 0) return absl::OkStatus();
    const int error = errno;  // before the message's formatting can change it
    return pmem2::MakeErrnoError(error, StrFormat("munmap of [%#x, %#x)", from, to));
  }

  // The first entry whose pages end after `address`: the only one that can hold it, or the first after it.
  Entries::iterator FirstEndingAfterLocked(uintptr_t address) {
    auto it = maps_.upper_bound(address);
    if (it != maps_.begin()) {
      auto previous = std::prev(it);
      if (previous->first + RoundUpToPage(previous->second->size()) > address) return previous;
    }
    return it;
  }

  // A ForkSafeMutex: a child forked while another thread mapped or unmapped can still unmap what it inherited.
  pmem2::internal::ForkSafeMutex mutex_;
  Entries maps_;
};
// Made when the library loads, so that no thread is still making it (and its fork-safe mutex) at a fork
// (fork_safe_mutex.h).
const bool file_maps_made_at_load = (FileMaps::Get(), true);

}  // namespace

extern "C" {

void* pmem_map_file(const char* path, size_t len, int flags, mode_t mode, size_t* mapped_lenp, int* is_pmemp) try {
  if (Logging(3)) {
    Log::Get().Write(
        3, StrFormat("pmem_map_file(\"%s\", %u, %#x, %o)", path != nullptr ? path : "(null)", len, flags, mode));
  }
  if (path == nullptr) {
    Fail(__func__, pmem2::MakeErrnoError(EINVAL, "path is NULL"));
    return nullptr;
  }
  // As libpmem: a path that cannot be looked up at all (ENOTDIR, EACCES, ELOOP, ENAMETOOLONG, ...) is reported
  // before the flags and the length are checked; a missing one (ENOENT) is not an error yet.
  if (access(path, F_OK) != 0 && errno != ENOENT) {
    const int err = errno;
    Fail(__func__, pmem2::MakeErrnoError(err, absl::StrCat("looking up ", path)));
    return nullptr;
  }
  absl::StatusOr<pmem2::MapFileOptions> options = pmem2::MapFileOptionsFromFlags(flags, len, mode);
  if (!options.ok()) {
    Fail(__func__, options.status());
    return nullptr;
  }
  options->address_hint = MmapHint();
  size_t size = 0;
  int is_pmem = 0;
  void* address = nullptr;
  // Kept in the table before MapFileInto keeps a file it created: if the table cannot grow (std::bad_alloc), the
  // mapping and the file go again.
  absl::Status status = pmem2::map_file_internal::MapFileInto(path, *options, [&](pmem2::MappedFile&& file, int fd) {
    size = file.map.size();
    const int forced = IsPmemForced();
    is_pmem = forced >= 0 ? forced : (file.is_pmem ? 1 : 0);
    // Its caller may munmap(2) it directly: no descriptor of the file may stay open; a forked child opens the file
    // by its path instead (libpmem.h, fork()).
    pmem2::map_internal::RemapInChildThroughPathForCApi(file.map, fd);
    address = FileMaps::Get().Keep(std::move(file.map));
  });
  if (!status.ok()) {
    Fail(__func__, status);
    return nullptr;
  }
  try {
    if (Logging(2)) {
      Log::Get().Write(2, StrFormat("mapped %s at %p, %u bytes, is_pmem %d", path, address, size, is_pmem));
    }
  } catch (const std::bad_alloc&) {
    // The log is best effort: the mapping is made, and handed out.
  }
  if (mapped_lenp != nullptr) *mapped_lenp = size;
  if (is_pmemp != nullptr) *is_pmemp = is_pmem;
  return address;
} catch (const std::bad_alloc&) {
  OutOfMemory();
  return nullptr;
}

int pmem_unmap(void* addr, size_t len) try {
  if (Logging(2)) Log::Get().Write(2, StrFormat("pmem_unmap(%p, %u)", addr, len));
  if (absl::Status s = FileMaps::Get().Unmap(addr, len); !s.ok()) {
    Fail(__func__, s);
    return -1;
  }
  return 0;
} catch (const std::bad_alloc&) {
  OutOfMemory();
  return -1;
}

int pmem_is_pmem(const void* addr, size_t len) {
  // As libpmem: an empty range is no persistent memory, forced or not (pmem2::IsPersistentMemory asks about the
  // byte there).
  if (len == 0) return 0;
  const int forced = IsPmemForced();
  if (forced >= 0) return forced;
  return pmem2::IsPersistentMemory(addr, len) ? 1 : 0;
}

void pmem_persist(const void* addr, size_t len) { pmem2::PmemFunctions().persist(addr, len); }

int pmem_msync(const void* addr, size_t len) try {
  if (len == 0) return 0;  // as pmem_deep_drain: no byte, so no mapping's failure, is asked about
  if (absl::Status s = pmem2::SyncPages(addr, len); !s.ok()) {
    Fail(__func__, s);
    return -1;
  }
  return 0;
} catch (const std::bad_alloc&) {
  OutOfMemory();
  return -1;
}

int pmem_has_auto_flush(void) try {
  return pmem2::HasAutoFlush() ? 1 : 0;  // its first call reads sysfs into an allocated value
} catch (const std::bad_alloc&) {
  OutOfMemory();
  return -1;
}

void pmem_flush(const void* addr, size_t len) { pmem2::PmemFunctions().flush(addr, len); }

void pmem_deep_flush(const void* addr, size_t len) {
  const pmem2::RawPersistFunctions& f = pmem2::PmemFunctions();
  (f.deep_flush != nullptr ? f.deep_flush : f.flush)(addr, len);
}

int pmem_deep_drain(const void* addr, size_t len) try {
  if (len == 0) return 0;
  if (absl::Status s = pmem2::DeepDrain(addr, len); !s.ok()) {
    Fail(__func__, s);
    return -1;
  }
  return 0;
} catch (const std::bad_alloc&) {
  OutOfMemory();
  return -1;
}

int pmem_deep_persist(const void* addr, size_t len) try {
  if (len == 0) return 0;
  pmem_deep_flush(addr, len);
  return pmem_deep_drain(addr, len);
} catch (const std::bad_alloc&) {
  OutOfMemory();
  return -1;
}

void pmem_drain(void) { pmem2::PmemFunctions().drain(); }

int pmem_has_hw_drain(void) { return 0; }

void* pmem_memmove_persist(void* pmemdest, const void* src, size_t len) {
  return pmem2::PmemFunctions().memmove(pmemdest, src, len, 0);
}

void* pmem_memcpy_persist(void* pmemdest, const void* src, size_t len) {
  return pmem2::PmemFunctions().memmove(pmemdest, src, len, 0);
}

void* pmem_memset_persist(void* pmemdest, int c, size_t len) {
  return pmem2::PmemFunctions().memset(pmemdest, c, len, 0);
}

void* pmem_memmove_nodrain(void* pmemdest, const void* src, size_t len) {
  return pmem2::PmemFunctions().memmove(pmemdest, src, len, PMEM_F_MEM_NODRAIN);
}

void* pmem_memcpy_nodrain(void* pmemdest, const void* src, size_t len) {
  return pmem2::PmemFunctions().memmove(pmemdest, src, len, PMEM_F_MEM_NODRAIN);
}

void* pmem_memset_nodrain(void* pmemdest, int c, size_t len) {
  return pmem2::PmemFunctions().memset(pmemdest, c, len, PMEM_F_MEM_NODRAIN);
}

void* pmem_memmove(void* pmemdest, const void* src, size_t len, unsigned flags) {
  return pmem2::PmemFunctions().memmove(pmemdest, src, len, flags & PMEM_F_MEM_VALID_FLAGS);
}

void* pmem_memcpy(void* pmemdest, const void* src, size_t len, unsigned flags) {
  return pmem2::PmemFunctions().memmove(pmemdest, src, len, flags & PMEM_F_MEM_VALID_FLAGS);
}

void* pmem_memset(void* pmemdest, int c, size_t len, unsigned flags) {
  return pmem2::PmemFunctions().memset(pmemdest, c, len, flags & PMEM_F_MEM_VALID_FLAGS);
}

const char* pmem_check_version(unsigned major_required, unsigned minor_required) {
  if (major_required != PMEM_MAJOR_VERSION) {
    std::snprintf(last_message, kMessageSize, "libpmem major version mismatch (need %u, found %u)", major_required,
                  PMEM_MAJOR_VERSION);
    return last_message;
  }
  if (minor_required > PMEM_MINOR_VERSION) {
    std::snprintf(last_message, kMessageSize, "libpmem minor version mismatch (need %u, found %u)", minor_required,
                  PMEM_MINOR_VERSION);
    return last_message;
  }
  return nullptr;
}

const char* pmem_errormsg(void) { return last_message; }

}  // extern "C"
