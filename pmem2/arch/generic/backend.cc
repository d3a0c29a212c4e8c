// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for CPUs without a backend of their own.

#include "pmem2/arch/backend.h"

#include "absl/base/attributes.h"
#include "pmem2/arch/generic/ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps() { return generic::CacheLineOps(); }
// Hot: on a page mapping's persist and copy paths (pmem2/map/page_persist.cc, SyncPages).
ABSL_ATTRIBUTE_HOT const PersistOps& ByteOps() { return generic::ByteOps(); }
ABSL_ATTRIBUTE_HOT void ByteDrain() { generic::Fence(); }  // ByteOps().drain (generic/ops.cc)
// The generic backend has no flush instruction.
FlushFn WriteBackFlush() { return nullptr; }
ABSL_ATTRIBUTE_HOT PageNtThresholds PageThresholds() { return {}; }
std::string DescribeCpu() { return generic::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
