// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/granularity.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"
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

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

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

// Config::set_fully_allocated: allocates the file blocks behind [offset, offset + length), as far as the file
// reaches (the last page of a mapping may pass its end), so no store into the mapping can meet a full file
// system.
absl::Status AllocateFileRange(int fd, uint64_t offset, uint64_t length, uint64_t file_size) {
  const uint64_t end = std::min(offset + length, file_size);
  if (end <= offset) return absl::OkStatus();
  int err = 0;
  for (int attempt = 0; attempt <= map_internal::kMaxInterruptedSyncs; ++attempt) {
    err = posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(end - offset));
    if (err != EINTR) break;
  }
  if (err == 0) return absl::OkStatus();
  return MakeErrnoError(err, absl::StrCat("allocating the ", end - offset, " bytes at offset ", offset,
                                          " of file descriptor ", fd, " (Config::set_fully_allocated)"));
}

// Persistence errors are shared among the shared mappings of one file (or one Device DAX).
absl::StatusOr<map_internal::FileIdentity> FileIdentityOf(const Source& source, bool is_private) {
  map_internal::FileIdentity id;
  if (source.kind() == SourceKind::kAnonymous || is_private) return id;
  struct stat st;
  if (fstat(source.fd(), &st) != 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("fstat of file descriptor ", source.fd()));
  }
  id.valid = true;
  if (source.kind() == SourceKind::kDeviceDax) {
    id.device = st.st_rdev;  // inode 0: no regular file has it
  } else {
    id.device = st.st_dev;
    id.inode = st.st_ino;
  }
  return id;
}

}  // namespace

absl::Status PersistErrorAt(const void* address) { return map_internal::ErrorForAddress(address); }

uint64_t PersistErrorCount() { return map_internal::PersistFailureCount(); }

absl::StatusOr<Map> Map::Create(const Config& config, const Source& source) {
  if (!config.required_store_granularity().has_value()) {
    return MakeError(ErrorCode::kGranularityNotSet,
                     "no required store granularity: call Config::set_required_store_granularity()");
  }
  const StoreGranularity required = *config.required_store_granularity();
  absl::StatusOr<absl::optional<StoreGranularity>> forced = map_internal::ForcedGranularity();
  if (!forced.ok()) return forced.status();
  if (const std::string& invalid = arch::ProcessEnvOverrides().invalid; !invalid.empty()) {
    return MakeError(ErrorCode::kInvalidEnvironment, absl::StrCat(invalid, " (pmem2 reads it once per process)"));
  }

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

  const bool writable_file_mapping = source.kind() == SourceKind::kRegularFile && !is_private &&
                                     (config.protection() & kProtWrite) != 0;
  if (config.fully_allocated() && writable_file_mapping) {
    if (absl::Status s = AllocateFileRange(source.fd(), offset, length, *source_size); !s.ok()) return s;
  }
  absl::StatusOr<map_internal::FileIdentity> file = FileIdentityOf(source, is_private);
  if (!file.ok()) return file.status();

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
    const int err = errno;
    if (err == EACCES && !anonymous) {
      return MakeError(ErrorCode::kNoAccess,
                       absl::StrCat("mmap of file descriptor ", source.fd(), " refused the protection (EACCES)"));
    }
    return MakeErrnoError(err, absl::StrCat("mmap of ", map.size_, " bytes at offset ", offset));
  }
  map.address_ = addr;
  map.record_ = std::make_unique<map_internal::MapRecord>(reinterpret_cast<uintptr_t>(addr), map.size_, *file);
  map_internal::RegisterMap(map.record_.get());
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
  // As libpmem2: anonymous and private mappings are byte granularity whatever PMEM2_FORCE_GRANULARITY says.
  if (forced->has_value() && !anonymous && !is_private) {
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

  // PMEM_NO_FLUSH=0 (libpmem's meaning): write CPU caches back even where eADR makes it unnecessary.
  // Anonymous and private memory has nowhere to write back to.
  const bool always_flush =
      arch::ProcessEnvOverrides().flush == arch::EnvOverrides::Flush::kAlways && !anonymous && !is_private;
  arch::PersistOps ops{};
  switch (map.granularity_) {
    case StoreGranularity::kByte: ops = always_flush ? arch::CacheLineOps() : arch::ByteOps(); break;
    case StoreGranularity::kCacheLine: ops = arch::CacheLineOps(); break;
    case StoreGranularity::kPage: ops = map_internal::PageOps(); break;
  }
  map.persist_ = ops.persist;
  map.flush_ = ops.flush;
  map.drain_ = ops.drain;
  map.memmove_ = ops.memmove;
  map.memset_ = ops.memset;
  diag.flush_name = ops.flush_name;
  diag.drain_name = ops.drain_name;
  diag.memmove_name = ops.memmove_name;
  diag.memset_name = ops.memset_name;
  return map;
}

Map::Map(Map&& other) noexcept { *this = std::move(other); }

Map& Map::operator=(Map&& other) noexcept {
  if (this != &other) {
    Reset();
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
    granularity_ = other.granularity_;
    persist_ = std::exchange(other.persist_, nullptr);
    flush_ = std::exchange(other.flush_, nullptr);
    drain_ = std::exchange(other.drain_, nullptr);
    memmove_ = std::exchange(other.memmove_, nullptr);
    memset_ = std::exchange(other.memset_, nullptr);
    diagnostics_ = std::move(other.diagnostics_);
    record_ = std::move(other.record_);
  }
  return *this;
}

Map::~Map() { Reset(); }

void Map::Reset() {
  // Unregistered first: once the range is unmapped, the kernel may hand it to another Map.
  if (record_ != nullptr) map_internal::UnregisterMap(record_.get());
  record_.reset();
  if (address_ != nullptr) munmap(address_, size_);
  address_ = nullptr;
  size_ = 0;
}

absl::Status Map::CheckRange(const void* ptr, size_t size) const {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address_);
  const uintptr_t at = reinterpret_cast<uintptr_t>(ptr);
  if (address_ != nullptr && at >= begin && at - begin <= size_ && size <= size_ - (at - begin)) {
    return absl::OkStatus();
  }
  return MakeError(ErrorCode::kMapRange, absl::StrFormat("range [%p, +%u) is not inside this mapping [%p, +%u)", ptr,
                                                         size, address_, size_));
}

namespace {

absl::Status CheckFlags(unsigned flags) {
  if ((flags & ~kMemValidFlags) == 0) return absl::OkStatus();
  return MakeError(ErrorCode::kInvalidMemFlags,
                   absl::StrFormat("flags 0x%x include bits 0x%x that are no PMEM2_F_MEM_* flag", flags,
                                   flags & ~kMemValidFlags));
}

}  // namespace

absl::Status Map::Persist(const void* ptr, size_t size) const {
  if (absl::Status s = CheckRange(ptr, size); !s.ok()) return s;
  persist_(ptr, size);
  return PersistError();
}

absl::Status Map::Flush(const void* ptr, size_t size) const {
  if (absl::Status s = CheckRange(ptr, size); !s.ok()) return s;
  flush_(ptr, size);
  return PersistError();
}

absl::Status Map::Drain() const {
  if (drain_ == nullptr) return MakeError(ErrorCode::kMapRange, "this Map was moved from and maps nothing");
  drain_();
  return PersistError();
}

absl::Status Map::Memcpy(void* pmemdest, const void* src, size_t len, unsigned flags) const {
  return Memmove(pmemdest, src, len, flags);
}

absl::Status Map::Memmove(void* pmemdest, const void* src, size_t len, unsigned flags) const {
  if (absl::Status s = CheckRange(pmemdest, len); !s.ok()) return s;
  if (absl::Status s = CheckFlags(flags); !s.ok()) return s;
  memmove_(pmemdest, src, len, flags);
  return PersistError();
}

absl::Status Map::Memset(void* pmemdest, int c, size_t len, unsigned flags) const {
  if (absl::Status s = CheckRange(pmemdest, len); !s.ok()) return s;
  if (absl::Status s = CheckFlags(flags); !s.ok()) return s;
  memset_(pmemdest, c, len, flags);
  return PersistError();
}

absl::Status Map::PersistError() const {
  return record_ != nullptr ? record_->Error() : absl::OkStatus();
}

absl::Status Map::ClearPersistError() {
  return record_ != nullptr ? record_->TakeError() : absl::OkStatus();
}

}  // namespace pmem2
