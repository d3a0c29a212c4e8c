// Copyright 2026 The pmem2 Authors.
//
// The virtual memory reservation part of libpmem2.h.

#include <errno.h>

#include "pmem2/c/handles.h"
#include "pmem2/c/libpmem2.h"

using pmem2::c_internal::Fail;

extern "C" {

int pmem2_config_set_vm_reservation(struct pmem2_config*, struct pmem2_vm_reservation*, size_t) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_config_set_vm_reservation: not implemented yet");
}

int pmem2_vm_reservation_new(struct pmem2_vm_reservation**, void*, size_t) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_new: not implemented yet");
}

int pmem2_vm_reservation_delete(struct pmem2_vm_reservation**) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_delete: not implemented yet");
}

void* pmem2_vm_reservation_get_address(struct pmem2_vm_reservation*) { return nullptr; }

size_t pmem2_vm_reservation_get_size(struct pmem2_vm_reservation*) { return 0; }

int pmem2_vm_reservation_extend(struct pmem2_vm_reservation*, size_t) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_extend: not implemented yet");
}

int pmem2_vm_reservation_shrink(struct pmem2_vm_reservation*, size_t, size_t) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_shrink: not implemented yet");
}

int pmem2_vm_reservation_map_find(struct pmem2_vm_reservation*, size_t, size_t, struct pmem2_map**) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_map_find: not implemented yet");
}

int pmem2_vm_reservation_map_find_prev(struct pmem2_vm_reservation*, struct pmem2_map*, struct pmem2_map**) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_map_find_prev: not implemented yet");
}

int pmem2_vm_reservation_map_find_next(struct pmem2_vm_reservation*, struct pmem2_map*, struct pmem2_map**) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_map_find_next: not implemented yet");
}

int pmem2_vm_reservation_map_find_first(struct pmem2_vm_reservation*, struct pmem2_map**) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_map_find_first: not implemented yet");
}

int pmem2_vm_reservation_map_find_last(struct pmem2_vm_reservation*, struct pmem2_map**) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_vm_reservation_map_find_last: not implemented yet");
}

}  // extern "C"
