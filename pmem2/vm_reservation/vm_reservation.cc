// Copyright 2026 The pmem2 Authors.

#include "pmem2/vm_reservation/vm_reservation.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/placement.h"
#include "pmem2/vm_reservation/reservation_state.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace pmem2 {
namespace {

using vm_reservation_internal::ReservationState;

constexpr int kPlaceholderFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

absl::Status CheckSize(size_t size) {
  if (size == 0) return MakeError(ErrorCode::kLengthOutOfRange, "a reservation of 0 bytes reserves nothing");
  if (size % PageSize() != 0) {
    return MakeError(ErrorCode::kLengthUnaligned, internal::StrFormat("reservation size %u is not a multiple of the "
                                                                      "page size %u",
                                                                      size, PageSize()));
  }
  return absl::OkStatus();
}

}  // namespace

VmReservation::VmReservation(std::shared_ptr<ReservationState> state) : state_(std::move(state)) {}

absl::StatusOr<VmReservation> VmReservation::Create(size_t size) {
  if (absl::Status s = CheckSize(size); !s.ok()) return s;
  void* address = map_internal::MapAligned(size, map_internal::AddressAlignment(size, PageSize()), PROT_NONE,
                                           kPlaceholderFlags, -1, 0);
  if (address == MAP_FAILED) {
    const int error = errno;  // before the message's formatting can change it
    return MakeErrnoError(error, internal::StrFormat("reserving %u bytes", size));
  }
  // Its state owns the placeholder from here; until then, a failed allocation (std::bad_alloc) unmaps it.
  absl::Cleanup unmap = [address, size] { munmap(address, size); };
  // A Map released with munmap(2) there left a stale record, which would refuse every Map made in the reservation.
  // Before the state exists: dropping a record allocates, and a state destroyed with one still there would take it for
  // an adopted Map's and leave its range mapped.
  map_internal::ForgetStaleRecords(address, size);
  auto state = std::make_shared<ReservationState>(reinterpret_cast<uintptr_t>(address), size);
  std::move(unmap).Cancel();
  return VmReservation(std::move(state));
}

absl::StatusOr<VmReservation> VmReservation::CreateAt(void* address, size_t size) {
  if (reinterpret_cast<uintptr_t>(address) % PageSize() != 0) {
    return MakeError(ErrorCode::kAddressUnaligned, internal::StrFormat("reservation address %p is not a multiple of "
                                                                       "the page size %u",
                                                                       address, PageSize()));
  }
  if (absl::Status s = CheckSize(size); !s.ok()) return s;
  if (address == nullptr) return Create(size);
  void* got = mmap(address, size, PROT_NONE, kPlaceholderFlags | MAP_FIXED_NOREPLACE, -1, 0);
  if (got == MAP_FAILED && errno != EEXIST) {
    const int error = errno;  // before the message's formatting can change it
    return MakeErrnoError(error, internal::StrFormat("reserving %u bytes at %p", size, address));
  }
  if (got != address) {  // EEXIST, or a kernel before 4.17 that took the flag as a hint
    if (got != MAP_FAILED) munmap(got, size);
    return MakeError(ErrorCode::kMappingExists,
                     internal::StrFormat("[%p, +%u) is already mapped, at least in part", address, size));
  }
  absl::Cleanup unmap = [address, size] { munmap(address, size); };  // as in Create()
  map_internal::ForgetStaleRecords(address, size);                   // as in Create(): before the state
  auto state = std::make_shared<ReservationState>(reinterpret_cast<uintptr_t>(address), size);
  std::move(unmap).Cancel();
  return VmReservation(std::move(state));
}

VmReservation::VmReservation(VmReservation&& other) noexcept = default;
VmReservation& VmReservation::operator=(VmReservation&& other) noexcept = default;
VmReservation::~VmReservation() = default;

void* VmReservation::address() const {
  return state_ != nullptr ? reinterpret_cast<void*>(state_->address()) : nullptr;
}

size_t VmReservation::size() const { return state_ != nullptr ? state_->size() : 0; }

namespace {
absl::Status MovedFrom() {
  return MakeError(ErrorCode::kMappingNotFound, "this VmReservation was moved from and reserves nothing");
}

// kVmReservationNotEmpty if a live Map (one adopted with FromExisting(): a placed Map is a claim) lies in
// [begin, begin + length), naming it and what would have unmapped it.
absl::Status RefuseAdoptedMaps(void* begin, size_t length, const char* doing) {
  map_internal::MapExtent adopted;
  if (!map_internal::FirstMapInRange(begin, length, &adopted)) return absl::OkStatus();
  return MakeError(ErrorCode::kVmReservationNotEmpty,
                   internal::StrFormat("a Map adopted with FromExisting() (pmem2_map_from_existing) holds [%#x, %#x) "
                                       "of the reservation: %s would unmap it; destroy that Map and unmap its range "
                                       "first",
                                       adopted.begin, adopted.end, doing));
}
}  // namespace

absl::Status VmReservation::Extend(size_t size) {
  if (state_ == nullptr) return MovedFrom();
  // As in Create(): a stale record in the added range would refuse every Map made there.
  return state_->Extend(size, [](void* added, size_t length) { map_internal::ForgetStaleRecords(added, length); });
}

absl::Status VmReservation::Shrink(size_t offset, size_t size) {
  if (state_ == nullptr) return MovedFrom();
  // A Map adopted with FromExisting() over part of the range (the application mapped there): unmapping it would leave
  // that live Map's pages gone, and its stores to whatever the kernel maps there next. (libpmem2 unmaps it.)
  return state_->Shrink(offset, size, [&](uintptr_t begin, size_t length) {
    return RefuseAdoptedMaps(reinterpret_cast<void*>(begin), length, "shrinking it");
  });
}

Map* VmReservation::FindMap(size_t offset, size_t length) const {
  return state_ != nullptr ? state_->Find(offset, length) : nullptr;
}

Map* VmReservation::FindPreviousMap(const Map& map) const {
  return state_ != nullptr ? state_->Previous(map) : nullptr;
}

Map* VmReservation::FindNextMap(const Map& map) const { return state_ != nullptr ? state_->Next(map) : nullptr; }

Map* VmReservation::FirstMap() const { return state_ != nullptr ? state_->First() : nullptr; }

Map* VmReservation::LastMap() const { return state_ != nullptr ? state_->Last() : nullptr; }

size_t VmReservation::map_count() const { return state_ != nullptr ? state_->map_count() : 0; }

absl::Status VmReservation::CheckEmpty() const {
  if (state_ == nullptr) return absl::OkStatus();
  if (const size_t placed = state_->map_count(); placed != 0) {
    return MakeError(ErrorCode::kVmReservationNotEmpty,
                     internal::StrFormat("%u map(s) are still mapped into the reservation", placed));
  }
  return RefuseAdoptedMaps(reinterpret_cast<void*>(state_->address()), state_->size(), "deleting the reservation");
}

}  // namespace pmem2
