// Copyright 2026 The pmem2 Authors.
//
// The reliability part of libpmem2.h: device id, unsafe shutdown count, NUMA node, bad blocks,
// machine-check-safe reads and writes, deep flush.

#include <errno.h>

#include "pmem2/c/handles.h"
#include "pmem2/c/libpmem2.h"

using pmem2::c_internal::Fail;

extern "C" {

int pmem2_source_pread_mcsafe(struct pmem2_source*, void*, size_t, size_t) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_source_pread_mcsafe: not implemented yet");
}

int pmem2_source_pwrite_mcsafe(struct pmem2_source*, void*, size_t, size_t) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_source_pwrite_mcsafe: not implemented yet");
}

int pmem2_source_device_id(const struct pmem2_source*, char*, size_t*) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_source_device_id: not implemented yet");
}

int pmem2_source_device_usc(const struct pmem2_source*, uint64_t*) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_source_device_usc: not implemented yet");
}

int pmem2_source_numa_node(const struct pmem2_source*, int*) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_source_numa_node: not implemented yet");
}

int pmem2_badblock_context_new(struct pmem2_badblock_context**, const struct pmem2_source*) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_badblock_context_new: not implemented yet");
}

int pmem2_badblock_next(struct pmem2_badblock_context*, struct pmem2_badblock*) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_badblock_next: not implemented yet");
}

void pmem2_badblock_context_delete(struct pmem2_badblock_context**) {}

int pmem2_badblock_clear(struct pmem2_badblock_context*, const struct pmem2_badblock*) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_badblock_clear: not implemented yet");
}

int pmem2_deep_flush(struct pmem2_map*, void*, size_t) {
  return Fail(PMEM2_E_NOSUPP, "pmem2_deep_flush: not implemented yet");
}

}  // extern "C"
