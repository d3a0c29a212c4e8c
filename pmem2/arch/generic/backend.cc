// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for CPUs without a backend of their own.

#include "pmem2/arch/backend.h"

#include "pmem2/arch/generic/ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps() { return generic::CacheLineOps(); }
const PersistOps& ByteOps() { return generic::ByteOps(); }
// The generic backend has no flush instruction.
FlushFn WriteBackFlush() { return nullptr; }
PageNtThresholds PageThresholds() { return {}; }
std::string DescribeCpu() { return generic::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
