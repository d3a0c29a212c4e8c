// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for x86-64.

#include "pmem2/arch/backend.h"

#include "pmem2/arch/x86_64/ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps() { return x86_64::CacheLineOps(); }
const PersistOps& ByteOps() { return x86_64::ByteOps(); }
FlushFn WriteBackFlush() { return x86_64::WriteBackFlush(); }
PageNtThresholds PageThresholds() {
  const x86_64::Selection& s = x86_64::CurrentSelection();
  return {s.page_nt_threshold, s.page_ahead_nt_threshold, s.page_far_nt_threshold, s.page_far_nt_below,
          s.page_fill_nt_threshold};
}
std::string DescribeCpu() { return x86_64::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
