// Copyright 2026 The pmem2 Authors.
//
// pmem2/vm_reservation/vm_reservation.h
// -----------------------------------------------------------------------------
//
// `pmem2::VmReservation` is a range of the process's address space set aside (inaccessible, backed by nothing)
// so that mappings can be placed at chosen offsets inside it: several files mapped back to back as one
// contiguous region, a region that keeps its address while parts of it are remapped, or a layout fixed in
// advance. Config::set_vm_reservation() makes Map::Create() map into it.
//
// Example: two files side by side.
//
//   absl::StatusOr<pmem2::VmReservation> rsv = pmem2::VmReservation::Create(size_a + size_b);
//   if (!rsv.ok()) return rsv.status();
//   pmem2::Config config;
//   config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
//   config.set_vm_reservation(&*rsv, 0);
//   absl::StatusOr<pmem2::Map> a = pmem2::Map::Create(config, source_a);   // at rsv->address()
//   config.set_vm_reservation(&*rsv, size_a);
//   absl::StatusOr<pmem2::Map> b = pmem2::Map::Create(config, source_b);   // right after a
//
// Sizes and offsets are multiples of the page size (Device DAX and hugetlbfs files need their own, larger
// alignment for the address a mapping starts at: Source::Alignment()). A Map placed in a reservation occupies
// [offset, offset + its size rounded up to pages) of it; two Maps cannot overlap. When such a Map is destroyed its
// range becomes reserved (inaccessible) again, not free: nothing else in the process can be placed there.
//
// Ownership and lifetime: the VmReservation owns the reserved range; it is move-only. Destroying it while Maps
// are still placed in it is allowed in C++: the address range then stays reserved until the last of those Maps
// is destroyed, so no Map ever loses its place (the C function pmem2_vm_reservation_delete() refuses instead,
// with PMEM2_E_VM_RESERVATION_NOT_EMPTY, as libpmem2 documents). A mapping the application made over part of the
// range and adopted with Map::FromExisting() is the application's: while that Map lives, Shrink() refuses to give
// its range back, pmem2_vm_reservation_delete() refuses, and the reservation's end leaves it mapped (libpmem2
// unmaps it under the live Map).
//
// Thread safety: all methods may be called concurrently with each other and with Map::Create() / ~Map() of
// Maps in the reservation. The Map* returned by the Find methods is valid only until that Map is destroyed or
// moved: the caller must make sure no other thread does that meanwhile.
// fork(): the reservations' lock is left free in the child (fork handlers, pmem2/internal/fork_safe_mutex.h),
// also when another thread was in one of these calls at the fork. A Map that another thread was placing or
// destroying at that moment is not in the child's reservation (never found there). Its range is free in the child
// if that thread had only claimed it, or had destroyed the Map up to its release (the range is reserved again).
// Otherwise it is lost to the child (never offered to a Map, never unmapped, not counted by map_count()): a thread
// placing a Map may have mapped the file there and, through pmem2_map_new, handed the Map out already, and a Map
// being destroyed may still be in the map registry. (Through the C API, a child either still holds the handle of
// a Map that another thread was deleting, and may delete it, or does not find the Map.)
// The lock is one for every reservation of the process, so calls on different reservations do not run at once;
// each holds it for a lookup (at most a walk of the reservation's Maps) or one mmap / munmap of a placeholder,
// never while a Map's pages are unmapped.

#ifndef PMEM2_VM_RESERVATION_VM_RESERVATION_H_
#define PMEM2_VM_RESERVATION_VM_RESERVATION_H_

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace pmem2 {

class Map;

namespace vm_reservation_internal {
class ReservationState;
}  // namespace vm_reservation_internal

class VmReservation {
 public:
  // Reserves `size` bytes wherever the system has room, at an address aligned for huge pages (2 MiB; 1 GiB for
  // 2 GiB and more), as Map::Create() aligns its mappings. Errors: kLengthUnaligned (not a multiple of the page
  // size), kLengthOutOfRange (0), kErrno from mmap (ENOMEM).
  static absl::StatusOr<VmReservation> Create(size_t size);

  // Reserves [address, address + size) exactly; a null address is Create(size)'s (anywhere, as
  // pmem2_vm_reservation_new's NULL). Errors: those of Create(size), kAddressUnaligned (not a multiple of the page
  // size), kMappingExists (part of the range is already mapped; it is never replaced).
  static absl::StatusOr<VmReservation> CreateAt(void* address, size_t size);

  VmReservation(VmReservation&& other) noexcept;
  VmReservation& operator=(VmReservation&& other) noexcept;
  VmReservation(const VmReservation&) = delete;
  VmReservation& operator=(const VmReservation&) = delete;
  ~VmReservation();

  // The start and size of the reserved range (they change with Extend() and Shrink()); null and 0 for a
  // moved-from reservation.
  void* address() const;
  size_t size() const;

  // Grows the reservation by `size` bytes at its end; Maps in it are unaffected. Errors: kLengthUnaligned,
  // kLengthOutOfRange (the new end would wrap around the address space), kMappingExists (the address space right
  // after the reservation is taken, also by another thread's Extend() at the same time, or the reservation was
  // shrunk from its end meanwhile), kErrno. A size of 0 does nothing. A
  // child forked while another thread was inside Extend() may keep the added range reserved but not part of the
  // reservation (never given back), and then cannot extend it there (kMappingExists).
  absl::Status Extend(size_t size);

  // Gives back [offset, offset + size) of the reservation, which must hold no Map and must start at its
  // beginning or end at its end, without being all of it. Offsets of the Maps are relative to the new
  // beginning afterwards. Errors, checked in this order: kOffsetUnaligned, kLengthUnaligned,
  // kOffsetOutOfRange (offset at or past the end), kLengthOutOfRange (size 0, or past the end), kNoSupp (the
  // middle of the reservation, or all of it), kVmReservationNotEmpty (a Map lies in the range, placed or adopted
  // with Map::FromExisting()), kErrno (munmap failed; the reservation is as it was).
  absl::Status Shrink(size_t offset, size_t size);

  // The Map with the lowest address that intersects [offset, offset + length) of the reservation (a length of
  // 0 asks for the Map holding `offset`); null if there is none.
  Map* FindMap(size_t offset, size_t length) const;
  // The Maps before and after `map` (which must be in this reservation), the first and the last; null if none.
  Map* FindPreviousMap(const Map& map) const;
  Map* FindNextMap(const Map& map) const;
  Map* FirstMap() const;
  Map* LastMap() const;
  // How many Maps are placed in the reservation.
  size_t map_count() const;
  // OK if no Map is placed in the reservation and no Map adopted with Map::FromExisting() lies in it (the
  // application mapped over part of it); else kVmReservationNotEmpty naming the count or the adopted range.
  // pmem2_vm_reservation_delete() refuses what this refuses.
  absl::Status CheckEmpty() const;

  // For pmem2's own packages (Map::Create places its mapping through it).
  const std::shared_ptr<vm_reservation_internal::ReservationState>& internal_state() const { return state_; }

 private:
  explicit VmReservation(std::shared_ptr<vm_reservation_internal::ReservationState> state);

  std::shared_ptr<vm_reservation_internal::ReservationState> state_;
};

}  // namespace pmem2

#endif  // PMEM2_VM_RESERVATION_VM_RESERVATION_H_
