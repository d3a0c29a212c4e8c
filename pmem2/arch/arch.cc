// Copyright 2026 The pmem2 Authors.
//
// The architecture-neutral entry points: the backend linked for this CPU (backend.h) plus the choices that do
// not depend on the CPU (PMEM_NO_FLUSH=0 for file mappings, the page-granularity copy flags).

#include <algorithm>
#include <cstdint>

#include "pmem2/arch/backend.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/arch/destination_history.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/page_copy.h"
#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace {

size_t Or(size_t measured, size_t fallback) { return measured != 0 ? measured : fallback; }

// The page copies' own destination history (destination_history.h), separate from the cache-line kernels'.
__thread uintptr_t last_page_copy_line __attribute__((tls_model("initial-exec"))) = 0;

}  // namespace

const PersistOps& CacheLineOps() { return backend::CacheLineOps(); }
const PersistOps& ByteOps() { return backend::ByteOps(); }
FlushFn WriteBackFlush() { return backend::WriteBackFlush(); }
std::string DescribeCpu() { return backend::DescribeCpu(); }

const PersistOps& FileByteOps() {
  return ProcessEnvOverrides().flush == EnvOverrides::Flush::kAlways ? CacheLineOps() : ByteOps();
}

unsigned PageCopyFlags(const void* dst, size_t len, unsigned flags) {
  static const bool threshold_from_environment = ProcessEnvOverrides().has_movnt_threshold;
  const backend::PageNtThresholds t = backend::PageThresholds();
  size_t nt_threshold = Or(t.rewrite, kPageNtThreshold);
  if (t.far != 0) {
    // With a far bound, a copy starting up to that many bytes before the last line written is a rewrite: the
    // same buffer written again, below the bound, must not count as far and go non-temporal.
    const uintptr_t lines_back = std::max<uintptr_t>(t.far_below / 64, kNearLinesBack);
    switch (ClassifyDestination(&last_page_copy_line, dst, len, lines_back)) {
      case Destination::kFar:
        // A far copy from far_below on (backend.h) keeps the rewrite threshold.
        if (t.far_below == 0 || len < t.far_below) nt_threshold = t.far;
        break;
      case Destination::kAhead:
        nt_threshold = Or(t.ahead, nt_threshold);
        break;
      case Destination::kRewrite:
        break;
    }
  }
  return PageCopyFlagsFor(len, flags, threshold_from_environment, nt_threshold);
}

std::string PageCopyName() {
  const backend::PageNtThresholds t = backend::PageThresholds();
  const size_t rewrite = Or(t.rewrite, kPageNtThreshold);
  return PageCopyNameFor(ByteOps().memmove_name, ProcessEnvOverrides(), rewrite,
                         t.far != 0 ? Or(t.ahead, rewrite) : 0, t.far, t.far != 0 ? t.far_below : 0);
}

const std::string& InvalidEnvironment() { return ProcessEnvOverrides().invalid; }

}  // namespace arch
}  // namespace pmem2
