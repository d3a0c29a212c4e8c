// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/map.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/function_table.h"
#include "pmem2/map/granularity.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"
#include "pmem2/map/placement.h"
#include "pmem2/map/request.h"
#include "pmem2/ras/deep_flush.h"
#include "pmem2/vm_reservation/reservation_state.h"

namespace pmem2 {

absl::Status PersistErrorAt(const void* address) { return map_internal::ErrorForAddress(address); }

uint64_t PersistErrorCount() { return map_internal::PersistFailureCount(); }

namespace map_internal {

absl::StatusOr<Map> CreateUnpublishedForCApi(const Config& config, const Source& source) {
  return Map::CreateUnpublished(config, source);
}

void PublishForCApi(const Map& map) {
  if (map.reservation_ != nullptr) map.reservation_->Publish(map.claim_, &map);
}

namespace {
// Whether pmem2_map_delete released the Map's range (UnmapForCApi): its claim ended then, and a claim at the same
// address since is another Map's (placed by another thread before the handle was forgotten, or by a child forked
// meanwhile, where the handle is live again), which the Map's end must leave alone.
bool ClaimEndedByRelease(const MapRecord* record) { return record != nullptr && record->released(); }
}  // namespace

void BeginDestructionForCApi(const Map& map) {
  if (map.reservation_ != nullptr && !ClaimEndedByRelease(map.record_.get())) {
    map.reservation_->BeginRelease(map.claim_);
  }
}

namespace {
std::atomic<void (*)()> after_release_for_c_api{nullptr};  // SetAfterReleaseForCApiForTest()
}  // namespace

void SetAfterReleaseForCApiForTest(void (*hook)()) { after_release_for_c_api.store(hook, std::memory_order_release); }

int UnmapForCApi(Map& map) {
  // Only the range is released here, and the record marked so (under the registry's lock); the Map itself is left as
  // it is until its handle is forgotten and it is destroyed, whose Reset() then releases nothing: a child forked
  // meanwhile, where the handle is live again, finds the Map whole and its record released.
  if (map.address_ == nullptr || !map.owns_mapping_ || map.record_ == nullptr || map.record_->released() ||
      map.record_->dropped_from_registry()) {
    return 0;  // nothing to release, or released already (by the parent's thread, in a forked child)
  }
  void (*const hook)() = after_release_for_c_api.load(std::memory_order_acquire);
  if (map.reservation_ == nullptr) {
    const int error = UnregisterMapAndUnmap(map.record_.get(), map.address_, map.size_, /*release=*/true);
    if (error == 0 && hook != nullptr) hook();
    return error;
  }
  // The placeholder first, replacing the mapping in one step, then the record: the range is never free.
  if (int error = map.reservation_->RestorePlaceholderOf(map.claim_); error != 0) {
    map.reservation_->CancelRelease(map.claim_, &map);
    return error;
  }
  UnregisterMapAndUnmap(map.record_.get(), nullptr, 0, /*release=*/true);
  map.reservation_->ReleaseRestored(map.claim_);
  if (hook != nullptr) hook();
  return 0;
}

void ForgetUnmappedForCApi(Map& map) {
  map.owns_mapping_ = false;
  // In a reservation (pmem_map_file at PMEM_MMAP_HINT), destroying the Map would put the reservation's
  // placeholder back over the range, and the reservation would then unmap it: a lost hole is left alone.
  if (map.reservation_ != nullptr) map.reservation_->Abandon(map.claim_);
}

bool RecordDroppedFromRegistry(const Map& map) {
  return map.record_ != nullptr && map.record_->dropped_from_registry();
}

const vm_reservation_internal::ReservationState* ReservationOfForCApi(const Map& map) { return map.reservation_.get(); }

void RemapInChildThroughPathForCApi(const Map& map, int fd) {
  if (map.record_ != nullptr) RemapInChildThroughPath(map.record_.get(), fd);
}

}  // namespace map_internal

bool IsPersistentMemory(const void* address, size_t length) {
  return map_internal::RangeIsCpuPersistent(address, length);
}

// Each step lives in the file of its concern; the first failure is returned, and a Map that owns a mapping
// unmaps it when a later step fails.
absl::StatusOr<Map> Map::Create(const Config& config, const Source& source) {
  absl::StatusOr<Map> map = CreateUnpublished(config, source);
  if (map.ok() && map->reservation_ != nullptr) map->reservation_->Publish(map->claim_, &*map);
  return map;
}

absl::StatusOr<Map> Map::CreateUnpublished(const Config& config, const Source& source) {
  absl::StatusOr<map_internal::MapRequest> request = map_internal::ValidateRequest(config, source);
  if (!request.ok()) return request.status();
  Map map;
  void* fixed_address = nullptr;
  if (config.vm_reservation() != nullptr) {
    absl::StatusOr<void*> claimed = map.Claim(*config.vm_reservation(), config.vm_reservation_offset(), *request);
    if (!claimed.ok()) return claimed.status();
    fixed_address = *claimed;
    // The kernel keeps mappings apart, but not from a range adopted by FromExisting(), which may lie in the
    // reservation: mapping over it would leave two live Maps of one range (libpmem2 refuses with -EEXIST too).
    // Registered now, before the MAP_FIXED mmap, for the whole pages the mmap replaces; Own() keeps this record.
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    auto record = std::make_unique<map_internal::MapRecord>(reinterpret_cast<uintptr_t>(fixed_address),
                                                            (request->length + page - 1) / page * page, request->file,
                                                            request->length);
    map.reservation_->WillRegister(map.claim_);  // a child forked from now on keeps the range out of use
    if (absl::Status s = map_internal::RegisterMapIfFree(record.get()); !s.ok()) {
      // Nothing was mapped over the placeholder (nor over the adopted mapping): forget the claim, touch nothing.
      map.reservation_->Unclaim(map.claim_);
      map.reservation_.reset();
      return MakeErrnoError(EEXIST, internal::StrFormat("cannot map into the reservation: %s", s.message()));
    }
    map.record_ = std::move(record);
  }
  bool fixed_range_lost = false;
  absl::StatusOr<map_internal::Placement> placement = map_internal::Place(*request, fixed_address, &fixed_range_lost);
  if (!placement.ok()) {
    // Part of the range is another mapping's now: the placeholder must not go back over it (Release()), nor the
    // range be offered to a Map again.
    if (fixed_range_lost) map.reservation_->Abandon(map.claim_);
    return placement.status();
  }
  map.Own(placement->address, request->length, request->file);
  if (request->shared_regular_file()) {
    // So that a forked child maps this range again through a file description of its own, and neither process's
    // syncs take the other's write-back error reports (map_registry.h, ChildReopenHandle). A read-only Map too:
    // its msync syncs the file through the description (Acquire gives no handle for a read-only descriptor, whose
    // mappings' msyncs sync nothing).
    map_internal::ChildReopenHandle handle =
        map_internal::ChildReopenHandle::Acquire(request->fd, request->file, request->source_alignment);
    map.diagnostics_.forked_child_gets_own_description = handle.fd() >= 0;
    map.diagnostics_.why_forked_child_shares_description = handle.why_not();
    handle.HandOver(map.record_.get(),
                    map_internal::Remap{request->length, placement->flags, static_cast<off_t>(request->offset)});
  }
  // MAP_SYNC keeps a file system's page tables valid, not its medium's contents: on an NVDIMM region of volatile
  // memory, page granularity (found by audit: cache line, and persistent memory to pmem_is_pmem).
  const std::string not_durable = placement->synchronous && request->kind == SourceKind::kRegularFile
                                      ? map_internal::WhyMapSyncIsNotDurable(source)
                                      : std::string();
  absl::StatusOr<map_internal::GranularityChoice> choice =
      map_internal::ChooseGranularity(request->required, request->forced, request->shared_file(),
                                      placement->synchronous, request->kind == SourceKind::kDeviceDax, not_durable);
  if (!choice.ok()) return choice.status();
  // Last, so that no refused request spends disk space; nothing has been stored through the mapping yet.
  if (absl::Status s = map_internal::AllocateFileBlocks(*request); !s.ok()) return s;
  map.Use(choice->effective, map_internal::FunctionTable(choice->effective, request->shared_file()));
  map.protection_ = request->protection;
  map.medium_ = request->shared_file() ? request->kind : SourceKind::kAnonymous;
  map.file_offset_ = request->shared_file() ? request->offset : kNoFileOffset;
  // Anonymous and private mappings are byte granularity, but nothing they hold ever becomes durable.
  map.record_->set_cpu_persistent(request->shared_file() && choice->effective != StoreGranularity::kPage);
  MapDiagnostics& diag = map.diagnostics_;
  diag.map_sync = placement->synchronous;
  diag.address_alignment = placement->alignment;
  diag.persistence_domain = choice->persistence_domain;
  diag.detected_granularity = choice->detected;
  diag.forced = choice->forced;
  diag.cpu_cannot_write_back = choice->cpu_cannot_write_back;
  diag.reason = choice->reason;
  return map;
}

absl::StatusOr<void*> Map::Claim(const VmReservation& reservation, uint64_t offset,
                                 const map_internal::MapRequest& request) {
  if (reservation.internal_state() == nullptr) {
    return MakeError(ErrorCode::kMappingNotFound, "the VmReservation was moved from and reserves nothing");
  }
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t length = (request.length + page - 1) / page * page;
  // Device DAX and hugetlbfs files map only at addresses that are multiples of their alignment.
  const size_t address_alignment = request.source_alignment > page ? request.source_alignment : 0;
  absl::StatusOr<uintptr_t> claimed = reservation.internal_state()->Claim(offset, length, address_alignment, this);
  if (!claimed.ok()) return claimed.status();
  reservation_ = reservation.internal_state();
  claim_ = *claimed;
  return reinterpret_cast<void*>(claim_);
}

namespace {

absl::Status Unshared(const void* address, size_t length) {
  return MakeError(ErrorCode::kInvalidSharingValue,
                   internal::StrFormat("[%p, +%u) is not all a shared mapping (MAP_SHARED): a private one's stores "
                                       "never reach the file, and a missing one persists nothing",
                                       address, length));
}

}  // namespace

absl::StatusOr<Map> Map::FromExisting(const Source& source, void* address, size_t length,
                                      StoreGranularity granularity) {
  if (address == nullptr) return MakeError(ErrorCode::kAddressNull, "the existing mapping's address is null");
  if (length == 0 || reinterpret_cast<uintptr_t>(address) + length < reinterpret_cast<uintptr_t>(address)) {
    return MakeError(ErrorCode::kLengthOutOfRange,
                     internal::StrFormat("[%p, +%u) is no range of the address space", address, length));
  }
  if (granularity != StoreGranularity::kByte && granularity != StoreGranularity::kCacheLine &&
      granularity != StoreGranularity::kPage) {
    return MakeError(ErrorCode::kGranularityNotSupported,
                     internal::StrFormat("%d is no store granularity", static_cast<int>(granularity)));
  }
  if (absl::Status s = map_internal::CheckEnvironment(); !s.ok()) return s;
  const bool shared_file = source.kind() != SourceKind::kAnonymous;
  // As Create()'s files: one whose stores the CPU cannot make durable (not DAX, or a medium that keeps no store) is
  // page, whatever the caller vouches for.
  const std::string not_durable = source.kind() == SourceKind::kRegularFile && granularity != StoreGranularity::kPage
                                      ? map_internal::WhyAdoptedFileIsNotDurable(source)
                                      : std::string();
  absl::StatusOr<map_internal::AdoptedGranularity> adopted =
      map_internal::AdoptGranularity(granularity, shared_file, source.kind() == SourceKind::kDeviceDax, not_durable);
  if (!adopted.ok()) return adopted.status();
  map_internal::FileIdentity file;
  if (shared_file) {
    // The file FromFd() found: another one's identity would receive this Map's failures (and theirs, this Map).
    if (absl::Status s = source.VerifyDescriptor(); !s.ok()) return s;
    absl::StatusOr<map_internal::FileIdentity> identity = map_internal::IdentifyFile(source);
    if (!identity.ok()) return identity.status();
    file = *identity;
    if (absl::Status s = map_internal::RefuseVolatileDeviceDax(source); !s.ok()) return s;
  }
  // A private mapping's stores never reach the file, and msync of it succeeds: every persist would report success over
  // data the file never gets. libpmem2 1.12.1 adopts it all the same (differential_test R10). Only the sharing is
  // checked, not which file is mapped; where the maps cannot be read (no /proc), it cannot be checked: adopted as
  // before. Checked before the range is registered (other threads would find it meanwhile); a range over another
  // Map keeps the registration's answer, kMapExists, which says more.
  // The protection the whole range has (PROT_* bits) as the maps say, for the Status methods' access checks; -1
  // where they cannot be read.
  int kernel_protection = -1;
  const auto unshared_now = [&] {
    int protection = 0;
    absl::StatusOr<bool> shared = map_internal::RangeIsMappedShared(address, length, &protection);
    if (shared.ok()) kernel_protection = protection;
    return shared.ok() && !*shared;
  };
  // Under another Map the registration answers (kMapExists); if it adopts the range after all, that Map was
  // destroyed meanwhile and the range is looked at again.
  bool look_again = false;
  if (shared_file) {
    look_again = !map_internal::MapsInRange(address, length).empty();
    if (!look_again && unshared_now()) return Unshared(address, length);
  }
  Map map;
  map.owns_mapping_ = false;
  auto record = std::make_unique<map_internal::MapRecord>(reinterpret_cast<uintptr_t>(address), length, file);
  if (absl::Status s = map_internal::RegisterMapIfFree(record.get()); !s.ok()) return s;
  if (look_again && unshared_now()) {
    map_internal::UnregisterMap(record.get());
    return Unshared(address, length);
  }
  if (kernel_protection < 0) unshared_now();  // an anonymous source's range: only its protection is wanted
  map.address_ = address;
  map.size_ = length;
  map.record_ = std::move(record);
  // What the range allowed when adopted, as Create() records the Config's protection: the Status methods then refuse
  // (kNoAccess) a store or cache-line write-back the range does not allow, instead of running into a SIGSEGV. Read
  // and write where the maps cannot be read.
  if (kernel_protection >= 0) {
    map.protection_ = ((kernel_protection & PROT_READ) != 0 ? kProtRead : kProtNone) |
                      ((kernel_protection & PROT_WRITE) != 0 ? kProtWrite : kProtNone) |
                      ((kernel_protection & PROT_EXEC) != 0 ? kProtExec : kProtNone);
  }
  map.Use(adopted->effective, map_internal::FunctionTable(adopted->effective, shared_file));
  map.medium_ = source.kind();
  map.record_->set_cpu_persistent(shared_file && adopted->effective != StoreGranularity::kPage);
  map.diagnostics_.detected_granularity = granularity;
  map.diagnostics_.cpu_cannot_write_back = adopted->cpu_cannot_write_back;
  map.diagnostics_.reason = std::move(adopted->reason);
  return map;
}

void Map::Own(void* address, size_t size, const map_internal::FileIdentity& file) {
  address_ = address;
  size_ = size;
  if (record_ != nullptr) return;  // registered by Create() before mapping into a reservation
  // Its whole last page, as in a reservation: mmap maps it and ~Map unmaps it, so no other Map may hold a part of it.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  record_ = std::make_unique<map_internal::MapRecord>(reinterpret_cast<uintptr_t>(address),
                                                      (size + page - 1) / page * page, file, size);
  map_internal::RegisterMap(record_.get());
}

void Map::Use(StoreGranularity granularity, const arch::PersistOps& ops) {
  granularity_ = granularity;
  // Cache-line Maps, and byte Maps of files under PMEM_NO_FLUSH=0 (arch::FileByteOps()), write lines back; not where
  // the cache-line flush is the byte tables' none (a CPU or backend without a flush instruction).
  writes_back_lines_ = granularity != StoreGranularity::kPage && ops.flush != arch::ByteOps().flush;
  persist_ = ops.persist;
  flush_ = ops.flush;
  drain_ = ops.drain;
  memmove_ = ops.memmove;
  memset_ = ops.memset;
  diagnostics_.flush_name = ops.flush_name;
  diagnostics_.drain_name = ops.drain_name;
  diagnostics_.memmove_name = ops.memmove_name;
  diagnostics_.memset_name = ops.memset_name;
}

Map::Map(Map&& other) noexcept { *this = std::move(other); }

Map& Map::operator=(Map&& other) noexcept {
  if (this != &other) {
    Reset();
    address_ = std::exchange(other.address_, nullptr);
    size_ = std::exchange(other.size_, 0);
    granularity_ = other.granularity_;
    protection_ = other.protection_;
    writes_back_lines_ = other.writes_back_lines_;
    persist_ = std::exchange(other.persist_, nullptr);
    flush_ = std::exchange(other.flush_, nullptr);
    drain_ = std::exchange(other.drain_, nullptr);
    memmove_ = std::exchange(other.memmove_, nullptr);
    memset_ = std::exchange(other.memset_, nullptr);
    diagnostics_ = std::move(other.diagnostics_);
    record_ = std::move(other.record_);
    owns_mapping_ = std::exchange(other.owns_mapping_, true);
    medium_ = std::exchange(other.medium_, SourceKind::kAnonymous);
    file_offset_ = std::exchange(other.file_offset_, kNoFileOffset);
    reservation_ = std::move(other.reservation_);
    claim_ = std::exchange(other.claim_, 0);
    if (reservation_ != nullptr) reservation_->Rebind(claim_, this);
  }
  return *this;
}

Map::~Map() { Reset(); }

void Map::Reset() {
  // Out of the reservation's lookups before the record goes, so that a child forked in between finds neither
  // (vm_reservation/reservation_state.h).
  const bool released = map_internal::ClaimEndedByRelease(record_.get());
  if (reservation_ != nullptr && !released) reservation_->BeginRelease(claim_);
  // Unregistered first: once the range is unmapped, the kernel may hand it to another Map. A record is dropped as stale
  // only while it is in the index, so read after: a Map whose record was dropped (part of its range unmapped behind
  // pmem2's back and mapped again by other code) leaves the range alone, which is partly another mapping's now.
  if (record_ != nullptr) map_internal::UnregisterMap(record_.get());
  // Released: by pmem2_map_delete (UnmapForCApi), which left the rest to this.
  const bool dropped = record_ != nullptr && (record_->dropped_from_registry() || record_->released());
  record_.reset();
  if (reservation_ != nullptr) {
    // Replaced by an inaccessible placeholder, not unmapped: the range stays the reservation's. Dropped: a lost hole
    // (never offered to a Map, never unmapped), as for a pmem_map_file mapping unmapped behind pmem2's back.
    if (released) {
      // pmem2_map_delete ended the claim: one at its address now is another Map's.
    } else if (dropped) {
      reservation_->Abandon(claim_);
    } else {
      reservation_->Release(claim_);
    }
    reservation_.reset();
    claim_ = 0;
  } else if (address_ != nullptr && owns_mapping_ && !dropped) {
    munmap(address_, size_);
  }
  owns_mapping_ = true;
  file_offset_ = kNoFileOffset;
  address_ = nullptr;
  size_ = 0;
}

absl::Status Map::CheckRange(const void* ptr, size_t size) const {
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address_);
  const uintptr_t at = reinterpret_cast<uintptr_t>(ptr);
  if (address_ != nullptr && at >= begin && at - begin <= size_ && size <= size_ - (at - begin)) {
    return absl::OkStatus();
  }
  return MakeError(ErrorCode::kMapRange, internal::StrFormat("range [%p, +%u) is not inside this mapping [%p, +%u)",
                                                             ptr, size, address_, size_));
}

absl::Status Map::CheckAccess(const void* ptr, size_t size, bool store) const {
  return map_internal::CheckAccess(protection_, ptr, size, store);
}

bool map_internal::InRangeForCApi(const Map& map, const void* ptr, size_t size) {
  return map.CheckRange(ptr, size).ok();
}

absl::Status map_internal::CheckAccess(Protection protection, const void* ptr, size_t size, bool store) {
  if (size == 0) return absl::OkStatus();
  const bool made_with =
      store ? HasAll(protection, kProtWrite) : HasAll(protection, kProtRead) || HasAll(protection, kProtWrite);
  if (made_with) return absl::OkStatus();
  absl::StatusOr<bool> allowed =
      map_internal::RangeHasProtection(ptr, size, store ? PROT_WRITE : PROT_READ | PROT_WRITE);
  if (!allowed.ok()) return allowed.status();
  if (*allowed) return absl::OkStatus();
  return MakeError(
      ErrorCode::kNoAccess,
      internal::StrFormat("range [%p, +%u) %s: the Map was made with protection 0x%x and the range "
                          "is not %s now (mprotect)",
                          ptr, size, store ? "cannot be stored to" : "cannot be written back from the CPU caches",
                          static_cast<unsigned>(protection), store ? "writable" : "readable"));
}

namespace {

// A Status method's answer at page granularity: the failure recorded since `mark` (the sticky error's, which may be
// another thread's sync's too), else its own sync's errno, which is not always recorded: a caller that sees the result
// gets a hole's ENOMEM (part of the range unmapped behind pmem2's back) instead of a record (page_persist.h).
absl::Status PageSyncResult(const Map& map, uint64_t mark, int error, const char* what, const void* ptr, size_t size) {
  if (absl::Status since = map.PersistErrorSince(mark); !since.ok() || error == 0) return since;
  return MakeErrnoError(error, internal::StrFormat("%s: msync of [%p, +%u)", what, ptr, size));
}

absl::Status CheckFlags(unsigned flags) {
  if ((flags & ~kMemValidFlags) == 0) return absl::OkStatus();
  return MakeError(ErrorCode::kInvalidMemFlags,
                   internal::StrFormat("flags 0x%x include bits 0x%x that are no PMEM2_F_MEM_* flag", flags,
                                       flags & ~kMemValidFlags));
}

}  // namespace

absl::Status Map::Persist(const void* ptr, size_t size) const {
  if (absl::Status s = CheckRange(ptr, size); !s.ok()) return s;
  if (writes_back_lines_) {
    if (absl::Status s = CheckAccess(ptr, size, /*store=*/false); !s.ok()) return s;
  }
  const uint64_t mark = PersistFailureMark();
  // Page granularity: the persist function's sync, its failure counted as this caller's to see (the C API's
  // PMEM2_PERSIST_FAILURE then leaves it to the returned Status); so below.
  if (granularity_ == StoreGranularity::kPage) {
    return PageSyncResult(*this, mark, map_internal::SyncPages(ptr, size, /*caller_sees_result=*/true), "Persist", ptr,
                          size);
  }
  persist_(ptr, size);
  return PersistErrorSince(mark);
}

absl::Status Map::Flush(const void* ptr, size_t size) const {
  if (absl::Status s = CheckRange(ptr, size); !s.ok()) return s;
  if (writes_back_lines_) {
    if (absl::Status s = CheckAccess(ptr, size, /*store=*/false); !s.ok()) return s;
  }
  const uint64_t mark = PersistFailureMark();
  if (granularity_ == StoreGranularity::kPage) {
    return PageSyncResult(*this, mark, map_internal::SyncPages(ptr, size, /*caller_sees_result=*/true), "Flush", ptr,
                          size);
  }
  flush_(ptr, size);
  return PersistErrorSince(mark);
}

absl::Status Map::Drain() const {
  if (drain_ == nullptr) return MakeError(ErrorCode::kMapRange, "this Map was moved from and maps nothing");
  const uint64_t mark = PersistFailureMark();
  drain_();
  return PersistErrorSince(mark);
}

absl::Status Map::Memcpy(void* pmemdest, const void* src, size_t len, unsigned flags) const {
  return Memmove(pmemdest, src, len, flags);
}

absl::Status Map::Memmove(void* pmemdest, const void* src, size_t len, unsigned flags) const {
  if (absl::Status s = CheckRange(pmemdest, len); !s.ok()) return s;
  if (absl::Status s = CheckFlags(flags); !s.ok()) return s;
  if (absl::Status s = CheckAccess(pmemdest, len, /*store=*/true); !s.ok()) return s;
  const uint64_t mark = PersistFailureMark();
  if (granularity_ == StoreGranularity::kPage) {
    return PageSyncResult(*this, mark, map_internal::PageMemmoveReturningFailure(pmemdest, src, len, flags), "Memmove",
                          pmemdest, len);
  }
  memmove_(pmemdest, src, len, flags);
  return PersistErrorSince(mark);
}

absl::Status Map::Memset(void* pmemdest, int c, size_t len, unsigned flags) const {
  if (absl::Status s = CheckRange(pmemdest, len); !s.ok()) return s;
  if (absl::Status s = CheckFlags(flags); !s.ok()) return s;
  if (absl::Status s = CheckAccess(pmemdest, len, /*store=*/true); !s.ok()) return s;
  const uint64_t mark = PersistFailureMark();
  if (granularity_ == StoreGranularity::kPage) {
    return PageSyncResult(*this, mark, map_internal::PageMemsetReturningFailure(pmemdest, c, len, flags), "Memset",
                          pmemdest, len);
  }
  memset_(pmemdest, c, len, flags);
  return PersistErrorSince(mark);
}

absl::Status Map::DeepFlush(const void* ptr, size_t size) const {
  if (absl::Status s = CheckRange(ptr, size); !s.ok()) {
    return MakeError(ErrorCode::kDeepFlushRange, s.message());
  }
  if (granularity_ == StoreGranularity::kPage) {
    const uint64_t mark = PersistFailureMark();
    return PageSyncResult(*this, mark, map_internal::SyncPages(ptr, size, /*caller_sees_result=*/true), "DeepFlush",
                          ptr, size);
  }
  if (absl::Status s = CheckAccess(ptr, size, /*store=*/false); !s.ok()) return s;
  const uint64_t mark = PersistFailureMark();  // the fsdax msync below may fail, its report taken by another thread's
  // Written back whatever the granularity and PMEM_NO_FLUSH say: the deepest domain is beyond the caches.
  if (FlushFn write_back = arch::WriteBackFlush(); write_back != nullptr) write_back(ptr, size);
  arch::CacheLineOps().drain();
  if (medium_ == SourceKind::kRegularFile && record_ != nullptr) {
    // A file on fsdax: its fsync is the deep flush. The kernel sends the file system's flush to the pmem driver,
    // which drains the region's write-pending queues as a write of the region's deep_flush attribute would
    // (nvdimm_flush), and needs no root, where that write does (libpmem2 1.12.1 msyncs here too). A failure is
    // recorded as a persist's.
    if (const int error = map_internal::SyncPages(ptr, size, /*caller_sees_result=*/true); error != 0) {
      return MakeErrnoError(error, internal::StrFormat("DeepFlush: msync of [%p, +%u)", ptr, size));
    }
  } else if (medium_ == SourceKind::kDeviceDax && record_ != nullptr) {
    if (absl::Status s = DeepFlushRegion(medium_, record_->file().device); !s.ok()) return s;
  }
  return PersistErrorSince(mark);
}

absl::Status Map::PersistError() const {
  return record_ != nullptr ? record_->Error() : absl::OkStatus();
}

uint64_t Map::PersistFailureMark() const { return record_ != nullptr ? record_->failures_recorded() : 0; }

absl::Status Map::PersistErrorSince(uint64_t mark) const {
  return record_ != nullptr ? record_->ErrorSince(mark) : absl::OkStatus();
}

absl::Status Map::ClearPersistError() {
  return record_ != nullptr ? record_->TakeError() : absl::OkStatus();
}

}  // namespace pmem2
