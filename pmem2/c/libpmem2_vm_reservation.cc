// Copyright 2026 The pmem2 Authors.
//
// The virtual memory reservation part of libpmem2.h, over pmem2::VmReservation.

#include <errno.h>

#include <new>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "pmem2/c/handles.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/c/live_handles.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/vm_reservation/vm_reservation.h"

namespace {

using pmem2::c_internal::BeginRetiring;
using pmem2::c_internal::CancelRetiring;
using pmem2::c_internal::CheckHandle;
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
using pmem2::c_internal::ToC;

// Stores `found` in `*out` (NULL included); PMEM2_E_MAPPING_NOT_FOUND with the message `what()` makes if there is
// none. Made only then: a find that succeeds allocates nothing, so it cannot fail for want of memory.
template <typename What>
int Found(pmem2::Map* found, struct pmem2_map** out, What what) {
  *out = ToC(found);
  if (found == nullptr) return Fail(PMEM2_E_MAPPING_NOT_FOUND, what());
  return 0;
}

}  // namespace

extern "C" {

int pmem2_config_set_vm_reservation(struct pmem2_config* cfg, struct pmem2_vm_reservation* rsv, size_t offset) {
  if (int ret = CheckHandle(HandleKind::kConfig, cfg, "cfg"); ret != 0) return ret;
  if (rsv != nullptr && !IsLiveHandle(HandleKind::kReservation, rsv)) return NotLive(HandleKind::kReservation, rsv);
  cfg->config.set_vm_reservation(rsv != nullptr ? &rsv->reservation : nullptr, offset);
  cfg->reservation_handle = rsv;
  cfg->reservation_serial = rsv != nullptr ? rsv->serial : 0;
  return 0;
}

int pmem2_vm_reservation_new(struct pmem2_vm_reservation** rsv_ptr, void* addr, size_t size) try {
  if (rsv_ptr == nullptr) return NullArgument("rsv_ptr");
  *rsv_ptr = nullptr;  // as libpmem2: NULL on failure, so that cleanup code may delete it unconditionally
  absl::StatusOr<pmem2::VmReservation> reservation =
      addr != nullptr ? pmem2::VmReservation::CreateAt(addr, size) : pmem2::VmReservation::Create(size);
  if (!reservation.ok()) return Return(reservation.status());
  pmem2_vm_reservation* made = new (std::nothrow) pmem2_vm_reservation(*std::move(reservation));
  if (made == nullptr) return OutOfMemory();
  return HandOut(HandleKind::kReservation, made, rsv_ptr);
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_vm_reservation_delete(struct pmem2_vm_reservation** rsv_ptr) try {
  if (rsv_ptr == nullptr) return NullArgument("rsv_ptr");
  if (*rsv_ptr == nullptr) return NullArgument("*rsv_ptr");
  // Retired while it is checked, so that a second delete (a stale copy, in another thread) is refused meanwhile.
  if (!BeginRetiring(HandleKind::kReservation, *rsv_ptr)) return NotLive(HandleKind::kReservation, *rsv_ptr);
  // A map placed in it, or one adopted with pmem2_map_from_existing over part of it (libpmem2 unmaps that one), as
  // VmReservation::CheckEmpty() checks, without allocating: an exception here would leave the handle retired.
  const pmem2::VmReservation& reservation = (*rsv_ptr)->reservation;
  const size_t maps = reservation.map_count();
  if (maps != 0) {
    CancelRetiring(HandleKind::kReservation, *rsv_ptr);
    return FailFormatted(PMEM2_E_VM_RESERVATION_NOT_EMPTY, "%zu map(s) are still mapped into the reservation", maps);
  }
  pmem2::map_internal::MapExtent adopted;
  if (pmem2::map_internal::FirstMapInRange(reservation.address(), reservation.size(), &adopted)) {
    CancelRetiring(HandleKind::kReservation, *rsv_ptr);
    return FailFormatted(PMEM2_E_VM_RESERVATION_NOT_EMPTY,
                         "a map adopted with pmem2_map_from_existing holds [%p, %p) of the reservation: deleting it "
                         "would unmap that; delete that map and unmap its range first",
                         reinterpret_cast<void*>(adopted.begin), reinterpret_cast<void*>(adopted.end));
  }
  FinishRetiring(HandleKind::kReservation, *rsv_ptr);
  delete *rsv_ptr;
  *rsv_ptr = nullptr;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

// As for NULL, for a handle that is no live reservation.
void* pmem2_vm_reservation_get_address(struct pmem2_vm_reservation* rsv) {
  return rsv != nullptr && IsLiveHandle(HandleKind::kReservation, rsv) ? rsv->reservation.address() : nullptr;
}

size_t pmem2_vm_reservation_get_size(struct pmem2_vm_reservation* rsv) {
  return rsv != nullptr && IsLiveHandle(HandleKind::kReservation, rsv) ? rsv->reservation.size() : 0;
}

int pmem2_vm_reservation_extend(struct pmem2_vm_reservation* rsv, size_t size) try {
  if (int ret = CheckHandle(HandleKind::kReservation, rsv, "rsv"); ret != 0) return ret;
  return Return(rsv->reservation.Extend(size));
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_vm_reservation_shrink(struct pmem2_vm_reservation* rsv, size_t offset, size_t size) try {
  if (int ret = CheckHandle(HandleKind::kReservation, rsv, "rsv"); ret != 0) return ret;
  return Return(rsv->reservation.Shrink(offset, size));
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_vm_reservation_map_find(struct pmem2_vm_reservation* rsv, size_t reserv_offset, size_t len,
                                  struct pmem2_map** map) try {
  if (map != nullptr) *map = nullptr;  // on every error, as the header says (a stale handle's too)
  if (int ret = CheckHandle(HandleKind::kReservation, rsv, "rsv"); ret != 0) return ret;
  if (map == nullptr) return NullArgument("map");
  return Found(rsv->reservation.FindMap(reserv_offset, len), map, [&] {
    return absl::StrCat("no map at offsets [", reserv_offset, ", +", len, ") of the reservation");
  });
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_vm_reservation_map_find_prev(struct pmem2_vm_reservation* rsv, struct pmem2_map* map,
                                       struct pmem2_map** prev_map) try {
  if (prev_map != nullptr) *prev_map = nullptr;  // on every error, as the header says (a stale handle's too)
  if (int ret = CheckHandle(HandleKind::kReservation, rsv, "rsv"); ret != 0) return ret;
  if (int ret = CheckHandle(HandleKind::kMap, map, "map"); ret != 0) return ret;
  if (prev_map == nullptr) return NullArgument("prev_map");
  return Found(rsv->reservation.FindPreviousMap(*map), prev_map,
               [] { return "no map before this one in the reservation"; });
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_vm_reservation_map_find_next(struct pmem2_vm_reservation* rsv, struct pmem2_map* map,
                                       struct pmem2_map** next_map) try {
  if (next_map != nullptr) *next_map = nullptr;  // on every error, as the header says (a stale handle's too)
  if (int ret = CheckHandle(HandleKind::kReservation, rsv, "rsv"); ret != 0) return ret;
  if (int ret = CheckHandle(HandleKind::kMap, map, "map"); ret != 0) return ret;
  if (next_map == nullptr) return NullArgument("next_map");
  return Found(rsv->reservation.FindNextMap(*map), next_map, [] { return "no map after this one in the reservation"; });
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_vm_reservation_map_find_first(struct pmem2_vm_reservation* rsv, struct pmem2_map** map) try {
  if (map != nullptr) *map = nullptr;  // on every error, as the header says (a stale handle's too)
  if (int ret = CheckHandle(HandleKind::kReservation, rsv, "rsv"); ret != 0) return ret;
  if (map == nullptr) return NullArgument("map");
  return Found(rsv->reservation.FirstMap(), map, [] { return "the reservation is empty"; });
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_vm_reservation_map_find_last(struct pmem2_vm_reservation* rsv, struct pmem2_map** map) try {
  if (map != nullptr) *map = nullptr;  // on every error, as the header says (a stale handle's too)
  if (int ret = CheckHandle(HandleKind::kReservation, rsv, "rsv"); ret != 0) return ret;
  if (map == nullptr) return NullArgument("map");
  return Found(rsv->reservation.LastMap(), map, [] { return "the reservation is empty"; });
} PMEM2_C_CATCH_OUT_OF_MEMORY

}  // extern "C"
