// Copyright 2026 The pmem2 Authors.
//
// The architecture-neutral entry points: the backend linked for this CPU (backend.h) plus the choices that do
// not depend on the CPU (PMEM_NO_FLUSH=0 for file mappings, the page-granularity copy flags).

#include "pmem2/arch/backend.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/page_copy.h"
#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {

const PersistOps& CacheLineOps() { return backend::CacheLineOps(); }
const PersistOps& ByteOps() { return backend::ByteOps(); }
FlushFn WriteBackFlush() { return backend::WriteBackFlush(); }
std::string DescribeCpu() { return backend::DescribeCpu(); }

const PersistOps& FileByteOps() {
  return ProcessEnvOverrides().flush == EnvOverrides::Flush::kAlways ? CacheLineOps() : ByteOps();
}

unsigned PageCopyFlags(size_t len, unsigned flags) {
  static const bool threshold_from_environment = ProcessEnvOverrides().has_movnt_threshold;
  return PageCopyFlagsFor(len, flags, threshold_from_environment);
}

std::string PageCopyName() { return PageCopyNameFor(ByteOps().memmove_name, ProcessEnvOverrides()); }

const std::string& InvalidEnvironment() { return ProcessEnvOverrides().invalid; }

}  // namespace arch
}  // namespace pmem2
