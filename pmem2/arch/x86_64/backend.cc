// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for x86-64.

#include "pmem2/arch/backend.h"

#include "absl/base/attributes.h"
#include "pmem2/arch/x86_64/ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps() { return x86_64::CacheLineOps(); }
// In .text.hot since the page copies reached it on every call; they read their plan now (arch.cc).
ABSL_ATTRIBUTE_HOT const PersistOps& ByteOps() { return x86_64::ByteOps(); }
FlushFn WriteBackFlush() { return x86_64::WriteBackFlush(); }
const PageCopyPlan& PagePlan() { return x86_64::PagePlan(); }
std::string DescribeCpu() { return x86_64::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
