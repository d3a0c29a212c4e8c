// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/raw_memory.h"

#include "absl/strings/str_format.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/granularity.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"
#include "pmem2/ras/deep_flush.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {

bool HasAutoFlush() {
  static const bool auto_flush =
      map_internal::ReadPersistenceDomain(sysfs_internal::Root()).cpu_caches_are_persistent;
  return auto_flush;
}

const RawPersistFunctions& PmemFunctions() {
  static const RawPersistFunctions* const functions = [] {
    // As for a byte-granularity Map of a file when the caches are persistent (FileByteOps honours
    // PMEM_NO_FLUSH=0); the cache-line table otherwise (which honours PMEM_NO_FLUSH=1).
    const arch::PersistOps& ops = HasAutoFlush() ? arch::FileByteOps() : arch::CacheLineOps();
    return new RawPersistFunctions{ops.persist, ops.flush,  ops.drain,
                                   ops.memmove, ops.memset, arch::WriteBackFlush()};
  }();
  return *functions;
}

absl::Status SyncPages(const void* address, size_t length) {
  if (int error = map_internal::SyncPages(address, length, /*caller_sees_result=*/true); error != 0) {
    return MakeErrnoError(error, absl::StrFormat("msync of [%p, +%u)", address, length));
  }
  return map_internal::ErrorForAddress(address);
}

absl::Status DeepDrain(const void* address, size_t length) {
  (void)length;  // the region is the same for the whole of one mapping
  arch::CacheLineOps().drain();
  const map_internal::FileIdentity file = map_internal::FileAt(address);
  if (!file.valid) return absl::OkStatus();
  // Device DAX identities carry the device number and inode 0 (request.cc, IdentifyFile).
  return DeepFlushRegion(file.inode == 0 ? SourceKind::kDeviceDax : SourceKind::kRegularFile, file.device);
}

}  // namespace pmem2
