// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/arch: what every CPU backend provides. Each backend package has a `backend` target that
// defines these; the select() in pmem2/arch/BUILD.bazel links exactly one, so the BUILD file is the only place
// that says which backend a CPU gets.

#ifndef PMEM2_ARCH_BACKEND_H_
#define PMEM2_ARCH_BACKEND_H_

#include <string>

#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps();
const PersistOps& ByteOps();
FlushFn WriteBackFlush();
// Page-granularity copies of at least this many bytes default to non-temporal stores; 0 where nothing was
// measured for this CPU (kPageNtThreshold, page_copy.h, applies).
size_t PageNtThreshold();
// The same for a copy whose destination is far from the calling thread's previous page copy
// (destination_history.h), where the CPU kind was measured to want that; 0: no history, PageNtThreshold()
// for every destination.
size_t PageFarNtThreshold();
std::string DescribeCpu();

}  // namespace backend
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_BACKEND_H_
