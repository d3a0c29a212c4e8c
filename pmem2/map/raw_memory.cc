// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/raw_memory.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/base/optimization.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_lazy.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/granularity.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"
#include "pmem2/ras/deep_flush.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {

namespace {
// Fork-safe (fork_safe_lazy.h): read once, at the first use.
internal::ForkSafeLazy<bool> auto_flush;
// Both made at the first use, so that the switch to the flushing ones allocates nothing (the functions return void).
struct Tables {
  RawPersistFunctions first;     // from the first answer
  RawPersistFunctions flushing;  // once a region without eADR was seen
};
internal::ForkSafeLazy<Tables> tables;

RawPersistFunctions Functions(bool auto_flush_now) {
  // PMEM_NO_FLUSH as libpmem(7) says, then the platform (LibpmemOps).
  const arch::PersistOps& ops = arch::LibpmemOps(auto_flush_now);
  return RawPersistFunctions{ops.persist, ops.flush, ops.drain, ops.memmove, ops.memset, arch::WriteBackFlush()};
}
}  // namespace

bool HasAutoFlush() {
  const bool first_answer = auto_flush.Get([] {
    return std::make_unique<bool>(
        map_internal::ReadPersistenceDomain(sysfs_internal::Root()).cpu_caches_are_persistent);
  });
  return first_answer && !map_internal::CpuCachesSeenNotAllPersistent();
}

const RawPersistFunctions& PmemFunctions() {
  const Tables& made = tables.Get([] {
    return std::make_unique<Tables>(Tables{Functions(HasAutoFlush()), Functions(/*auto_flush_now=*/false)});
  });
  // A region without eADR seen since the first answer (a Map made there, whose persists come here): flushing.
  return ABSL_PREDICT_FALSE(map_internal::CpuCachesSeenNotAllPersistent()) ? made.flushing : made.first;
}

namespace {

// The first sticky error of `maps`, the Maps that [address, address + length) overlapped before the syncs; OK if
// none. A failure recorded on one of them since is an error even if another thread's ClearPersistError()
// acknowledged it meanwhile: it may be of this call's own data (another thread's sync took the kernel's report, and
// this call's msync returned 0), as the Map's Status methods say (map.h).
absl::Status StickyErrorInRange(const void* address, const std::vector<map_internal::MapExtent>& maps) {
  for (const map_internal::MapExtent& map : maps) {
    const void* at =
        map.begin < reinterpret_cast<uintptr_t>(address) ? address : reinterpret_cast<const void*>(map.begin);
    if (absl::Status s = map_internal::ErrorForAddressSince(at, map); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SyncPages(const void* address, size_t length) {
  const std::vector<map_internal::MapExtent> maps = map_internal::MapsInRange(address, length);
  if (int error = map_internal::SyncPages(address, length, /*caller_sees_result=*/true); error != 0) {
    return MakeErrnoError(error, internal::StrFormat("msync of [%p, +%u)", address, length));
  }
  return StickyErrorInRange(address, maps);
}

absl::Status DeepDrain(const void* address, size_t length) {
  // Memory that is not all persistent memory (a page-cache file, or no Map at all) is made durable the only
  // way it can be, by msync, whose failure is the answer (as libpmem does).
  if (!map_internal::RangeIsCpuPersistent(address, length)) return SyncPages(address, length);
  arch::CacheLineOps().drain();
  // As libpmem 1.12.1's pmem_deep_drain, each Map's part on its own (an msync of a range that holds Device DAX
  // fails there, EINVAL: no fsync, and stops before the mappings after it). A file on fsdax: msync, whose fsync has
  // the kernel flush the device (the same write-pending-queue flush as the region's deep_flush, without root).
  // Device DAX: its region's deep_flush, once per device, best effort as libpmem's (writing it needs root; a device
  // off NVDIMMs has no region): the fence above has already brought the stores to the platform's persistence
  // domain (ADR), which the deep flush only hastens.
  std::vector<dev_t> drained;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = length > UINTPTR_MAX - begin ? UINTPTR_MAX : begin + length;
  const std::vector<map_internal::MapExtent> maps = map_internal::MapsInRange(address, length);
  for (const map_internal::MapExtent& map : maps) {
    if (!map.file.valid) continue;
    if (!map.file.device_dax) {
      const uintptr_t from = std::max(map.begin, begin);
      if (absl::Status s = SyncPages(reinterpret_cast<const void*>(from), std::min(map.end, end) - from); !s.ok()) {
        return s;
      }
      continue;
    }
    if (std::find(drained.begin(), drained.end(), map.file.device) != drained.end()) continue;
    drained.push_back(map.file.device);
    DeepFlushRegion(SourceKind::kDeviceDax, map.file.device).IgnoreError();
  }
  return StickyErrorInRange(address, maps);
}

}  // namespace pmem2
