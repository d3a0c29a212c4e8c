// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/persist_ops.h
// -----------------------------------------------------------------------------
//
// The contract between the map package and the CPU backends (pmem2/arch/x86_64, pmem2/arch/generic, and
// later aarch64, ppc64le, riscv64). A backend supplies plain function pointers that make stores durable for
// the two CPU-side cases a mapping can be in:
//
//   * `CacheLineOps()`: the CPU caches are NOT in the persistence domain (MAP_SYNC without eADR, or a
//     forced cache-line granularity). Every written line must be written back (CLWB, CLFLUSHOPT, CLFLUSH, or a
//     non-temporal store) and fenced before the data counts as persistent. A backend that cannot do that says
//     so with `writes_back_cache_lines == false`.
//   * `ByteOps()`: the CPU caches ARE in the persistence domain (eADR), or the memory is not persistent at all
//     (anonymous and private mappings). Nothing is written back; a store fence orders the stores. Page
//     granularity (msync) also builds on these: msync makes the page durable, so a CPU flush before it would
//     only waste time.
//
// The choice is made once per process from the detected CPU features and the PMEM_* environment variables
// that libpmem2 documents (PMEM_NO_CLWB, PMEM_NO_CLFLUSHOPT, PMEM_NO_FLUSH, PMEM_NO_MOVNT,
// PMEM_MOVNT_THRESHOLD, PMEM_AVX, PMEM_AVX512F, PMEM_MOVDIR64B, PMEM_NO_GENERIC_MEMCPY). Both calls are
// thread-safe; the returned tables live for the whole process.
//
// The signatures and flag values are those of libpmem2 (pmem2_persist_fn, pmem2_memcpy_fn, PMEM2_F_MEM_*), so
// a pmem2 function pointer can be handed to code written against libpmem2.

#ifndef PMEM2_ARCH_PERSIST_OPS_H_
#define PMEM2_ARCH_PERSIST_OPS_H_

#include <cstddef>

namespace pmem2 {

// Makes [ptr, ptr + size) durable: flush then drain. The range is widened to whole cache lines (or whole pages
// at page granularity). Nothing about a persist is atomic: after a crash any subset of the lines may have
// reached the media, each line in full.
using PersistFn = void (*)(const void* ptr, size_t size);
// Starts writing [ptr, ptr + size) back; the data is durable only after a later DrainFn.
using FlushFn = void (*)(const void* ptr, size_t size);
// Waits until every earlier flush and non-temporal store from this thread has reached the persistence domain.
using DrainFn = void (*)();
// Copy / move / fill into persistent memory, then make the destination durable as `flags` say. They return
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

namespace arch {

// One consistent set of persistence functions plus the names `pmem2 info` prints.
struct PersistOps {
  PersistFn persist;
  FlushFn flush;
  DrainFn drain;
  MemmoveFn memmove;  // also serves as memcpy
  MemsetFn memset;
  const char* flush_name;    // e.g. "clwb", "clflushopt", "clflush", "none"
  const char* drain_name;    // e.g. "sfence", "none"
  const char* memmove_name;  // e.g. "avx2 nt (threshold 64)", "generic"
  const char* memset_name;
  // True if these functions write every stored cache line back to the persistence domain, or if the user has
  // declared (PMEM_NO_FLUSH=1) that the platform does. False for the byte tables, and for a cache-line table
  // the backend cannot honour (no flush instruction: the generic backend, or an x86 CPU without CLFLUSH); the
  // map package then falls back to msync rather than hand out a persist that persists nothing.
  bool writes_back_cache_lines;
};

// For mappings whose CPU caches are outside the persistence domain (cache-line granularity).
const PersistOps& CacheLineOps();
// For mappings whose stores need no CPU cache write-back (byte granularity, and the copy half of page
// granularity).
const PersistOps& ByteOps();

}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_PERSIST_OPS_H_
