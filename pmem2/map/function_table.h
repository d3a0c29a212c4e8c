// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/function_table.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/map, step 4 of Map::Create(): the persistence functions for an effective granularity. Byte
// and cache line come from the CPU engine (pmem2/arch), page from page_persist.h; the engine alone reads the
// PMEM_* environment.

#ifndef PMEM2_MAP_FUNCTION_TABLE_H_
#define PMEM2_MAP_FUNCTION_TABLE_H_

#include "pmem2/arch/persist_ops.h"
#include "pmem2/config/config.h"

namespace pmem2 {
namespace map_internal {

// `shared_file`: stores reach a file or device (not anonymous or private memory, which has nothing to write
// back to).
arch::PersistOps FunctionTable(StoreGranularity effective, bool shared_file);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_FUNCTION_TABLE_H_
