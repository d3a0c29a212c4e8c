// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for CPUs without a backend of their own.

#include "pmem2/arch/backend.h"

#include <cstring>

#include "pmem2/arch/generic/ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps() { return generic::CacheLineOps(); }
const PersistOps& ByteOps() { return generic::ByteOps(); }
// The generic backend has no flush instruction.
FlushFn WriteBackFlush() { return nullptr; }
PageCopyThresholds PageThresholds() { return {}; }
void* StringMemmove(void* dst, const void* src, size_t len) { return std::memmove(dst, src, len); }
void* StringMemset(void* dst, int c, size_t len) { return std::memset(dst, c, len); }
std::string DescribeCpu() { return generic::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
