// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for CPUs without a backend of their own.

#include "pmem2/arch/backend.h"

#include <memory>

#include "absl/base/attributes.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/generic/ops.h"
#include "pmem2/internal/fork_safe_lazy.h"

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
namespace {
internal::ForkSafeLazy<PageCopyPlan> page_plan;  // fork-safe (fork_safe_lazy.h)
}  // namespace

const PageCopyPlan& PagePlan() {
  const PageCopyPlan& plan = page_plan.Get([] {
    auto p = std::make_unique<PageCopyPlan>();
    p->memmove = generic::ByteOps().memmove;
    p->memset = generic::ByteOps().memset;
    p->threshold_from_environment = ProcessEnvOverrides().has_movnt_threshold;
    DerivePageDecisions(p.get());
    return p;
  });
  // The published one, whichever thread made it.
  if (current_page_plan.load(std::memory_order_acquire) != &plan) {
    current_page_plan.store(&plan, std::memory_order_release);
  }
  return plan;
}
std::string DescribeCpu() { return generic::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
