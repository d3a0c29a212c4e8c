// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/map.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/granularity.h"
#include "pmem2/source/source.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace pmem2 {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

// ---- Page granularity: msync, with failures recorded instead of lost or fatal. ----

// The first failure a thread has not yet taken (later ones only counted: the first is usually the cause).
struct PersistFailure {
  int error_number = 0;
  const void* address = nullptr;
  size_t length = 0;
  uint64_t later_failures = 0;
};
thread_local PersistFailure pending_persist_failure;
std::atomic<uint64_t> persist_failure_count{0};
std::atomic<map_internal::MsyncFn> msync_fn{&::msync};

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

void PagePersist(const void* ptr, size_t size) {
  // Non-temporal stores are weakly ordered; make them visible before the kernel writes the pages back.
  arch::ByteOps().drain();
  if (size == 0) return;
  const uintptr_t start = reinterpret_cast<uintptr_t>(ptr) & ~(uintptr_t{PageSize()} - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + size;
  const map_internal::MsyncFn sync = msync_fn.load(std::memory_order_relaxed);
  int result;
  do {
    result = sync(reinterpret_cast<void*>(start), end - start, MS_SYNC);
  } while (result != 0 && errno == EINTR);
  if (result != 0) {
    PersistFailure& pending = pending_persist_failure;
    if (pending.error_number == 0) {
      pending = {errno, ptr, size, 0};
    } else {
      ++pending.later_failures;
    }
    persist_failure_count.fetch_add(1, std::memory_order_relaxed);
  }
}

// msync has already waited for the write-back: there is nothing left to drain.
void PageDrain() {}

// Page-granularity destinations are page-cache pages that msync writes back next, usually cold in the CPU
// caches; from about 16 KiB non-temporal stores beat ordinary ones there (tools/bench, tmpfs: 64 KiB copies
// 0.66-0.73x of libpmem2 with the byte tables' 8 MiB threshold, 1.1x with 16 KiB). The byte tables keep 8 MiB
// because their destinations are often hot. kMemTemporal / kMemWb and PMEM_MOVNT_THRESHOLD still decide.
// (Declared in map.h as map_internal::kPageNtThreshold.)
unsigned PageCopyFlags(size_t len, unsigned flags) {
  static const bool threshold_from_environment = arch::ProcessEnvOverrides().has_movnt_threshold;
  return map_internal::PageCopyFlags(len, flags, threshold_from_environment);
}

// The byte tables copy; PagePersist then drains and msyncs.
void* PageMemmove(void* pmemdest, const void* src, size_t len, unsigned flags) {
  arch::ByteOps().memmove(pmemdest, src, len, PageCopyFlags(len, flags));
  if ((flags & kMemNoFlush) == 0) PagePersist(pmemdest, len);
  return pmemdest;
}

void* PageMemset(void* pmemdest, int c, size_t len, unsigned flags) {
  arch::ByteOps().memset(pmemdest, c, len, PageCopyFlags(len, flags));
  if ((flags & kMemNoFlush) == 0) PagePersist(pmemdest, len);
  return pmemdest;
}

// ---- Mapping ----

int ToMmapProtection(unsigned protection) {
  int prot = PROT_NONE;
  if (protection & kProtRead) prot |= PROT_READ;
  if (protection & kProtWrite) prot |= PROT_WRITE;
  if (protection & kProtExec) prot |= PROT_EXEC;
  return prot;
}

// Maps `length` bytes at an address aligned to `alignment`: reserves length + alignment of address space, maps
// over the aligned part with MAP_FIXED, and returns the slack. Returns MAP_FAILED with errno set on failure.
void* MapAligned(size_t length, size_t alignment, int prot, int flags, int fd, off_t offset) {
  size_t reserve = length + alignment;
  if (reserve < length) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  void* base = mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return MAP_FAILED;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(base);
  const uintptr_t aligned = (begin + alignment - 1) & ~(uintptr_t{alignment} - 1);
  void* addr = mmap(reinterpret_cast<void*>(aligned), length, prot, flags | MAP_FIXED, fd, offset);
  if (addr == MAP_FAILED) {
    int err = errno;
    munmap(base, reserve);
    errno = err;
    return MAP_FAILED;
  }
  const size_t mapped_end = aligned + ((length + PageSize() - 1) & ~(PageSize() - 1));
  if (aligned > begin) munmap(base, aligned - begin);
  if (begin + reserve > mapped_end) munmap(reinterpret_cast<void*>(mapped_end), begin + reserve - mapped_end);
  return addr;
}

}  // namespace

absl::Status TakePersistError() {
  PersistFailure failure = std::exchange(pending_persist_failure, PersistFailure{});
  if (failure.error_number == 0) return absl::OkStatus();
  std::string what = absl::StrFormat("msync persisting %u bytes at %p", failure.length, failure.address);
  if (failure.later_failures > 0) {
    absl::StrAppend(&what, " (and ", failure.later_failures, " later failure",
                    failure.later_failures == 1 ? "" : "s", " on this thread)");
  }
  return MakeErrnoError(failure.error_number, what);
}

namespace map_internal {

unsigned PageCopyFlags(size_t len, unsigned flags, bool threshold_from_environment) {
  if (len >= kPageNtThreshold && (flags & (kMemTemporal | kMemWb)) == 0 && !threshold_from_environment) {
    flags |= kMemNonTemporal;
  }
  // kMemNoDrain, not kMemNoFlush: the byte tables read kMemNoFlush as "ordinary stores only". PagePersist drains.
  return flags | kMemNoDrain;
}

void SetMsyncForTest(MsyncFn fn) { msync_fn.store(fn != nullptr ? fn : &::msync, std::memory_order_relaxed); }

}  // namespace map_internal

uint64_t PersistErrorCount() { return persist_failure_count.load(std::memory_order_relaxed); }

absl::StatusOr<Map> Map::Create(const Config& config, const Source& source) {
  if (!config.required_store_granularity().has_value()) {
    return MakeError(ErrorCode::kGranularityNotSet,
                     "no required store granularity: call Config::set_required_store_granularity()");
  }
  const StoreGranularity required = *config.required_store_granularity();
  absl::StatusOr<absl::optional<StoreGranularity>> forced = map_internal::ForcedGranularity();
  if (!forced.ok()) return forced.status();

  absl::StatusOr<uint64_t> source_size = source.Size();
  if (!source_size.ok()) return source_size.status();
  absl::StatusOr<size_t> alignment = source.Alignment();
  if (!alignment.ok()) return alignment.status();
  const bool anonymous = source.kind() == SourceKind::kAnonymous;
  const uint64_t offset = config.offset();
  if (offset % *alignment != 0) {
    return MakeError(ErrorCode::kOffsetUnaligned,
                     absl::StrCat("offset ", offset, " is not a multiple of the source alignment ", *alignment));
  }
  if (*source_size == 0) return MakeError(ErrorCode::kSourceEmpty, "the source has size 0: nothing to map");
  uint64_t length = config.length();
  if (length != 0 && length % *alignment != 0) {
    return MakeError(ErrorCode::kLengthUnaligned,
                     absl::StrCat("length ", length, " is not a multiple of the source alignment ", *alignment));
  }
  if (length == 0 && anonymous) {
    // As libpmem2: an anonymous source's offset is validated but selects nothing (pmem2_source_from_anon(3):
    // "the offset value for mapping is ignored"); length 0 maps the whole source.
    if (offset > *source_size) {
      return MakeError(ErrorCode::kMapRange, absl::StrCat("offset ", offset, " is past the end of the ",
                                                          *source_size, "-byte anonymous source"));
    }
    length = *source_size;
  } else if (length == 0) {
    if (offset >= *source_size) {
      // libpmem2 1.12.1 passes this case to mmap and returns its -EINVAL; the range is what is wrong.
      return MakeError(ErrorCode::kMapRange, absl::StrCat("offset ", offset, " is at or past the end of the ",
                                                          *source_size, "-byte source: nothing to map"));
    }
    length = *source_size - offset;
  } else if (length > std::numeric_limits<uint64_t>::max() - offset) {
    return MakeError(ErrorCode::kMapRange,
                     absl::StrCat("offset ", offset, " + length ", length, " overflows 64 bits"));
  } else if (offset + length > *source_size) {
    return MakeError(ErrorCode::kMapRange, absl::StrCat("offset ", offset, " + length ", length,
                                                        " passes the end of the ", *source_size, "-byte source"));
  }
  if (length > std::numeric_limits<size_t>::max() / 2 ||
      offset > static_cast<uint64_t>(std::numeric_limits<off_t>::max())) {
    return MakeError(ErrorCode::kMapRange,
                     absl::StrCat("offset ", offset, " + length ", length, " cannot be mapped on this system"));
  }
  const bool is_private = config.sharing() == Sharing::kPrivate;
  if (is_private && source.kind() == SourceKind::kDeviceDax) {
    return MakeError(ErrorCode::kSrcDevdaxPrivate, "Device DAX cannot be mapped private (MAP_PRIVATE)");
  }
  if (!is_private && (config.protection() & kProtWrite) != 0) {
    absl::StatusOr<bool> writable = source.Writable();
    if (!writable.ok()) return writable.status();
    if (!*writable) {
      return MakeError(ErrorCode::kNoAccess,
                       absl::StrCat("file descriptor ", source.fd(),
                                    " is read-only but the shared mapping asks for write protection"));
    }
  }

  Map map;
  map.size_ = static_cast<size_t>(length);
  size_t address_alignment = map.size_ >= 2 * kGiB ? kGiB : 2 * kMiB;
  if (*alignment > address_alignment) address_alignment = *alignment;
  const int prot = ToMmapProtection(config.protection());
  void* addr = MAP_FAILED;
  bool synchronous = false;
  if (anonymous) {
    addr = MapAligned(map.size_, address_alignment, prot, (is_private ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS,
                      -1, 0);
  } else if (is_private) {
    addr = MapAligned(map.size_, address_alignment, prot, MAP_PRIVATE, source.fd(), static_cast<off_t>(offset));
  } else {
    addr = MapAligned(map.size_, address_alignment, prot, MAP_SHARED_VALIDATE | MAP_SYNC, source.fd(),
                      static_cast<off_t>(offset));
    synchronous = addr != MAP_FAILED;
    // EOPNOTSUPP: the file system cannot keep page tables valid without msync; EINVAL: kernel before 4.15.
    if (addr == MAP_FAILED && (errno == EOPNOTSUPP || errno == EINVAL)) {
      addr = MapAligned(map.size_, address_alignment, prot, MAP_SHARED, source.fd(), static_cast<off_t>(offset));
    }
  }
  if (addr == MAP_FAILED) {
    int err = errno;
    if (err == EACCES && !anonymous) {
      return MakeError(ErrorCode::kNoAccess,
                       absl::StrCat("mmap of file descriptor ", source.fd(), " refused the protection (EACCES)"));
    }
    return MakeErrnoError(err, absl::StrCat("mmap of ", map.size_, " bytes at offset ", offset));
  }
  map.address_ = addr;
  // Device DAX is always synchronous, whatever the kernel said about the MAP_SYNC flag.
  synchronous = synchronous || source.kind() == SourceKind::kDeviceDax;

  MapDiagnostics& diag = map.diagnostics_;
  diag.map_sync = synchronous;
  diag.address_alignment = address_alignment;
  map_internal::PersistenceDomain domain = map_internal::ReadPersistenceDomain(source_internal::SysfsRoot());
  diag.persistence_domain = domain.summary;
  map_internal::GranularityDecision decision =
      map_internal::DecideGranularity(anonymous || is_private, synchronous, domain);
  diag.detected_granularity = decision.granularity;
  diag.reason = decision.reason;
  map.granularity_ = decision.granularity;
  if (forced->has_value()) {
    diag.forced = true;
    map.granularity_ = **forced;
  }
  if (map.granularity_ == StoreGranularity::kCacheLine && !arch::CacheLineOps().writes_back_cache_lines) {
    // Handing out a cache-line persist that writes nothing back would lose data on a crash. msync is slower
    // but works on DAX too: the kernel writes the CPU caches back for the synced range.
    map.granularity_ = StoreGranularity::kPage;
    diag.cpu_cannot_write_back = true;
  }
  if (static_cast<int>(map.granularity_) > static_cast<int>(required)) {
    return MakeError(ErrorCode::kGranularityNotSupported,
                     absl::StrCat("required store granularity ", StoreGranularityName(required),
                                  " is finer than this mapping's ", StoreGranularityName(map.granularity_), " (",
                                  diag.cpu_cannot_write_back
                                      ? "this CPU has no cache-line write-back instruction pmem2 can use"
                                      : diag.forced ? "forced by PMEM2_FORCE_GRANULARITY" : decision.reason,
                                  ")"));
  }

  switch (map.granularity_) {
    case StoreGranularity::kByte:
    case StoreGranularity::kCacheLine: {
      // PMEM_NO_FLUSH=0 (libpmem's meaning): write CPU caches back even where eADR makes it unnecessary.
      // Anonymous and private memory has nowhere to write back to.
      const bool always_flush = arch::ProcessEnvOverrides().flush == arch::EnvOverrides::Flush::kAlways &&
                                !anonymous && !is_private;
      const arch::PersistOps& ops = map.granularity_ == StoreGranularity::kByte && !always_flush
                                        ? arch::ByteOps()
                                        : arch::CacheLineOps();
      map.persist_ = ops.persist;
      map.flush_ = ops.flush;
      map.drain_ = ops.drain;
      map.memmove_ = ops.memmove;
      map.memset_ = ops.memset;
      diag.flush_name = ops.flush_name;
      diag.drain_name = ops.drain_name;
      diag.memmove_name = ops.memmove_name;
      diag.memset_name = ops.memset_name;
      break;
    }
    case StoreGranularity::kPage:
      map.persist_ = PagePersist;
      map.flush_ = PagePersist;
      map.drain_ = PageDrain;
      map.memmove_ = PageMemmove;
      map.memset_ = PageMemset;
      diag.flush_name = "msync";
      diag.drain_name = "none (msync waits)";
      diag.memmove_name = arch::ProcessEnvOverrides().has_movnt_threshold
                              ? arch::ByteOps().memmove_name
                              : "byte-table kernels, nt >= 16 KiB, then msync";
      diag.memset_name = arch::ProcessEnvOverrides().has_movnt_threshold
                             ? arch::ByteOps().memset_name
                             : "byte-table kernels, nt >= 16 KiB, then msync";
      break;
  }
  return map;
}

Map::Map(Map&& other) noexcept { *this = std::move(other); }

Map& Map::operator=(Map&& other) noexcept {
  if (this != &other) {
    Reset();
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
    granularity_ = other.granularity_;
    persist_ = other.persist_;
    flush_ = other.flush_;
    drain_ = other.drain_;
    memmove_ = other.memmove_;
    memset_ = other.memset_;
    diagnostics_ = std::move(other.diagnostics_);
  }
  return *this;
}

Map::~Map() { Reset(); }

void Map::Reset() {
  if (address_ != nullptr) munmap(address_, size_);
  address_ = nullptr;
  size_ = 0;
}

}  // namespace pmem2
