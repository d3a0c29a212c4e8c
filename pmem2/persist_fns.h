// Copyright 2026 The pmem2 Authors.
//
// pmem2/persist_fns.h
// -----------------------------------------------------------------------------
//
// The persistence function types a Map hands out (Map::persist_fn() and friends) and the flags of its copy
// functions. The signatures and flag values are libpmem2's (pmem2_persist_fn, pmem2_memcpy_fn, PMEM2_F_MEM_*),
// so a pmem2 function pointer can be handed to code written against libpmem2.
//
// What a crash can leave, for every function here (the one place this is promised): a persist of [p, p + n)
// is widened to whole cache lines (whole pages at page granularity); nothing about it is atomic. After a crash
// any subset of the widened range may have reached the medium, except that an aligned 8-byte store is never
// torn: it is found either whole or not at all. Publish with one aligned 8-byte store (e.g. a log tail) after
// the data it covers is durable.
//
// Signal handlers: at byte and cache-line granularity the functions are CPU instructions only. At page granularity a
// persist is the msync system call, but a failed one is recorded under the Map registry's locks (and a thread's first
// page persist takes a lock for its sync slot): a handler that interrupted pmem2 inside those locks (Map::Create, a
// Map's destruction, a failure's record, a read or clear of a Map's error, which waits for syncs in flight) and
// persists there may deadlock. So page-granularity persists from a signal
// handler are safe only where the handler cannot interrupt the thread inside a pmem2 call.
//
// Example:
//
//   pmem2::MemcpyFn copy = map.memcpy_fn();
//   copy(dest, record, size, pmem2::kMemNoDrain);  // several copies...
//   map.drain_fn()();                              // ...then one drain
//   // The functions return nothing: at page granularity a failed write-back is the Map's sticky error (map.h).
//   if (absl::Status s = map.PersistError(); !s.ok()) return s;  // before declaring the records durable

#ifndef PMEM2_PERSIST_FNS_H_
#define PMEM2_PERSIST_FNS_H_

#include <cstddef>

namespace pmem2 {

// Makes [ptr, ptr + size) durable: flush then drain.
using PersistFn = void (*)(const void* ptr, size_t size);
// Starts writing [ptr, ptr + size) back; the data is durable only after a later DrainFn.
using FlushFn = void (*)(const void* ptr, size_t size);
// Waits until every earlier flush and non-temporal store from this thread has reached the persistence domain.
using DrainFn = void (*)();
// Copy / move / fill into the mapping, then make the destination durable as `flags` say. They return
// `pmemdest`. memcpy and memmove share one implementation: both accept overlapping ranges.
using MemcpyFn = void* (*)(void* pmemdest, const void* src, size_t len, unsigned flags);
using MemmoveFn = void* (*)(void* pmemdest, const void* src, size_t len, unsigned flags);
using MemsetFn = void* (*)(void* pmemdest, int c, size_t len, unsigned flags);

// Flags of MemcpyFn / MemmoveFn / MemsetFn. The values are libpmem2's PMEM2_F_MEM_*.
//
// kMemNoDrain: skip the final drain; the caller drains later (e.g. after several copies).
inline constexpr unsigned kMemNoDrain = 1u << 0;
// kMemNonTemporal: prefer non-temporal stores (bypass the caches) whatever the size.
inline constexpr unsigned kMemNonTemporal = 1u << 1;
// kMemTemporal: prefer ordinary stores followed by cache-line write-back whatever the size.
inline constexpr unsigned kMemTemporal = 1u << 2;
// kMemWc: write-combining hint: like kMemNonTemporal.
inline constexpr unsigned kMemWc = 1u << 3;
// kMemWb: write-back hint: like kMemTemporal.
inline constexpr unsigned kMemWb = 1u << 4;
// kMemNoFlush: neither flush nor drain; implies kMemNoDrain. Only useful when a later persist or flush
// covers the range.
inline constexpr unsigned kMemNoFlush = 1u << 5;
inline constexpr unsigned kMemValidFlags =
    kMemNoDrain | kMemNonTemporal | kMemTemporal | kMemWc | kMemWb | kMemNoFlush;

}  // namespace pmem2

#endif  // PMEM2_PERSIST_FNS_H_
