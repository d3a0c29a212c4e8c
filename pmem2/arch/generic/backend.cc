// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for CPUs without a backend of their own.

#include "pmem2/arch/backend.h"

#include "absl/base/attributes.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/generic/ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps() { return generic::CacheLineOps(); }
// In .text.hot since the page copies reached it on every call; they read their plan now (arch.cc).
ABSL_ATTRIBUTE_HOT const PersistOps& ByteOps() { return generic::ByteOps(); }
ABSL_ATTRIBUTE_HOT void ByteDrain() { generic::Fence(); }  // ByteOps().drain (generic/ops.cc)
// The generic backend has no flush instruction.
FlushFn WriteBackFlush() { return nullptr; }
// Nothing measured: no thresholds of its own, so pmem2/arch's kPageNtThreshold applies. One plan for the process.
const PageCopyPlan& PagePlan() {
  static const PageCopyPlan* const plan = [] {
    auto* p = new PageCopyPlan;
    p->memmove = generic::ByteOps().memmove;
    p->memset = generic::ByteOps().memset;
    p->threshold_from_environment = ProcessEnvOverrides().has_movnt_threshold;
    current_page_plan.store(p, std::memory_order_release);
    return p;
  }();
  return *plan;
}
std::string DescribeCpu() { return generic::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
