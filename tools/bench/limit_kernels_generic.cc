// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels_generic.cc
// -----------------------------------------------------------------------------
//
// The limit on CPUs without x86-64 kernels (selected in BUILD): plain memcpy/memset and no line write-back,
// like pmem2's generic backend, so the comparison still builds and runs there.

#include <cstring>

#include "tools/bench/limit_kernels.h"

namespace pmem2 {
namespace bench {

void* LimitMemcpy(void* dst, const void* src, size_t len, unsigned /*flags*/) { return std::memcpy(dst, src, len); }

void* LimitMemset(void* dst, int c, size_t len, unsigned /*flags*/) { return std::memset(dst, c, len); }

void LimitPersistCacheLine(const void* /*ptr*/, size_t /*len*/) {}

const char* DescribeLimitKernels() { return "memcpy (no x86-64 limit kernels)"; }

const std::vector<LimitStrategy>& CacheLineLimitStrategies() {
  static const std::vector<LimitStrategy>* const strategies =
      new std::vector<LimitStrategy>{{"memcpy", LimitMemcpy, LimitMemset}};
  return *strategies;
}

}  // namespace bench
}  // namespace pmem2
