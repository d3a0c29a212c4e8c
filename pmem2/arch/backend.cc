// Copyright 2026 The pmem2 Authors.
//
// What the backends publish for pmem2/arch (backend.h).

#include "pmem2/arch/backend.h"

namespace pmem2 {
namespace arch {
namespace backend {

std::atomic<const PageCopyPlan*> current_page_plan{nullptr};

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
