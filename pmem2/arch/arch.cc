// Copyright 2026 The pmem2 Authors.
//
// Forwards the architecture-neutral entry points to the backend compiled for this CPU. The BUILD file links
// exactly one backend; the preprocessor picks the matching header.

#include "pmem2/arch/cpu_description.h"
#include "pmem2/arch/persist_ops.h"

#if defined(__x86_64__)
#include "pmem2/arch/x86_64/ops.h"
namespace backend = ::pmem2::arch::x86_64;
#else
#include "pmem2/arch/generic/ops.h"
namespace backend = ::pmem2::arch::generic;
#endif

namespace pmem2 {
namespace arch {

const PersistOps& CacheLineOps() { return backend::CacheLineOps(); }
const PersistOps& ByteOps() { return backend::ByteOps(); }
std::string DescribeCpu() { return backend::DescribeCpu(); }

}  // namespace arch
}  // namespace pmem2
