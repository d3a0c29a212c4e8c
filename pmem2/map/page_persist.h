// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/page_persist.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/map: the persistence functions of page-granularity mappings (the page cache between the
// mapping and the medium). Copies go through the CPU engine's byte tables, without any cache flush, and
// msync(MS_SYNC) of the whole pages makes them durable. An msync failure cannot be returned through the
// libpmem2 signatures; it is recorded on the mapping and every mapping of the same file (map_registry.h).
// An msync interrupted by a signal (EINTR) is retried kMaxInterruptedSyncs times, then recorded as a failure:
// a FUSE server may return EINTR forever, and a persist must neither hang nor report success it cannot prove.

#ifndef PMEM2_MAP_PAGE_PERSIST_H_
#define PMEM2_MAP_PAGE_PERSIST_H_

#include <cstddef>

#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace map_internal {

inline constexpr int kMaxInterruptedSyncs = 16;

// persist / flush (msync), drain (nothing: msync waits), memmove / memset (copy, then msync), and the names
// `pmem2 info` prints, which depend on the environment.
arch::PersistOps PageOps();

// PageOps()'s functions alone, which allocates nothing (PageOps() allocates its names): for the C API's
// pmem2_get_*_fn(NULL) getters, which cannot report a failure. (The copies' first call in a process that has no
// Map yet makes the engine's CPU selection, pmem2/arch.)
PersistFn PagePersistFn();
DrainFn PageDrainFn();
MemmoveFn PageMemmoveFn();
MemsetFn PageMemsetFn();

// msync(MS_SYNC) of the pages holding [ptr, ptr + size), EINTR retried as above; a failure is recorded as
// PageOps().persist records it, except, when the caller sees the result itself (`caller_sees_result`), ENOMEM
// for a range not all in live Maps: memory that is no mapping is the caller's mistake, not a lost write-back
// (ENOMEM over live Maps, and EINVAL, come from the file's fsync and are recorded). Except EINVAL over byte or
// cache-line Maps of Device DAX, which have no fsync: the range is written back from the CPU caches (also under
// PMEM_NO_FLUSH=1, as the kernel's msync on fsdax; a fence where the CPU cannot write back and the Maps are byte),
// nothing is recorded and 0 returned (EFAULT where the mapping allows no read or write: the write-back would fault;
// recorded when the caller does not see the result). Over a range that holds such Maps among other memory (a caller's
// overrun, a page-cache Map beside one) their parts are written back and the rest synced apart, its failures its own;
// the EINVAL is recorded on no Device DAX Map, but on the Maps of files before the first of them, whose fsync may have
// been what failed (its one report taken), and returned then. A range
// that runs into the top page of the address space fails with ENOMEM without a sync (page_persist.cc, SyncPastTheTop).
// Returns the errno of this msync, 0 if it succeeded.
int SyncPages(const void* ptr, size_t size, bool caller_sees_result);

// PageOps()'s memmove / memset with their sync's failure returned, as SyncPages(..., caller_sees_result = true): for
// the Map's Status methods, which return it where the functions cannot (PersistFailure::caller_sees_result, which the
// C API's PMEM2_PERSIST_FAILURE reads). 0, or the errno; kMemNoFlush: the copy alone, 0.
int PageMemmoveReturningFailure(void* pmemdest, const void* src, size_t len, unsigned flags);
int PageMemsetReturningFailure(void* pmemdest, int c, size_t len, unsigned flags);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_PAGE_PERSIST_H_
