// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/raw_memory.h
// -----------------------------------------------------------------------------
//
// For code that holds raw pointers into persistent memory rather than a Map handle: libpmem's model, and the
// engine of pmem2's libpmem.so.1. The same CPU dispatch as Maps of cache-line granularity, or of byte granularity
// where the platform writes the CPU caches back (eADR) or PMEM_NO_FLUSH=1 says so (PmemFunctions()); the Map that holds
// an address (if any) is found through pmem2's registry of live Maps.
//
// Example:
//
//   if (pmem2::IsPersistentMemory(p, n)) {            // map.h: asked once per range
//     pmem2::PmemFunctions().memmove(p, src, n, 0);   // copied and durable
//   } else {
//     std::memcpy(p, src, n);
//     absl::Status s = pmem2::SyncPages(p, n);        // msync
//   }
//
// The functions of PmemFunctions() assume persistent memory (MAP_SYNC DAX, Device DAX): on a page-cache
// mapping they make nothing durable. Thread-safe.

#ifndef PMEM2_MAP_RAW_MEMORY_H_
#define PMEM2_MAP_RAW_MEMORY_H_

#include <cstddef>

#include "absl/status/status.h"
#include "pmem2/persist_fns.h"

namespace pmem2 {

struct RawPersistFunctions {
  PersistFn persist;
  FlushFn flush;
  DrainFn drain;
  MemmoveFn memmove;  // also memcpy
  MemsetFn memset;
  // Writes cache lines back even where `flush` does not need to (PMEM_NO_FLUSH=1, auto flush); null where the
  // CPU cannot (then `flush` cannot either).
  FlushFn deep_flush;
};

// The persistence functions for persistent memory on this CPU: cache-line write-back + fence, or only the fence
// where the platform writes CPU caches back itself (HasAutoFlush()) and PMEM_NO_FLUSH is not 0, or under
// PMEM_NO_FLUSH=1 (libpmem's meaning: arch::LibpmemOps). Chosen once, and once more if a region without eADR turns
// up later (map_internal::CpuCachesSeenNotAllPersistent(): a Map made there), to the flushing ones.
const RawPersistFunctions& PmemFunctions();

// Whether every NVDIMM region reports that its CPU caches are in the persistence domain (eADR); false if there
// is no region. Read once from sysfs; false from the time a Map's creation found a region that does not (PMDK reads
// it once, and keeps skipping the flush for a region added later).
bool HasAutoFlush();

// msync(MS_SYNC) of the pages holding [address, address + length), for any shared mapping. Returns the errno
// of that msync if it failed (kErrno; EIO as kDataLoss), and otherwise the first sticky persistence error of
// the Maps the range overlaps (map.h, "The error contract"), so OK means the range is durable. ENOMEM for a range
// not all mapped, or one that runs past the top of the address space (nothing synced then).
// A failure over live Maps is recorded on them (ENOMEM and EINVAL too: there they come from the file's fsync),
// except msync's EINVAL over Maps of Device DAX, which have no fsync: the range is written back from the CPU
// caches instead (also under PMEM_NO_FLUSH=1, as the kernel's msync on fsdax), and the result is OK unless they hold
// a sticky error.
absl::Status SyncPages(const void* address, size_t length);

// The drain of a deep persist, as libpmem 1.12.1's pmem_deep_drain. Where all of the range is persistent memory
// (IsPersistentMemory): a fence; then for Maps of Device DAX their NVDIMM regions drain their write-pending queues
// (pmem2/ras/deep_flush.h), best effort as libpmem's (it needs root; the fence has reached the ADR domain); for Maps
// of files on fsdax SyncPages() (msync, whose fsync has the kernel flush the device, without root); else the sticky
// errors as SyncPages() returns them. Anywhere else (a page-cache file, memory in no Map): SyncPages().
absl::Status DeepDrain(const void* address, size_t length);

}  // namespace pmem2

#endif  // PMEM2_MAP_RAW_MEMORY_H_
