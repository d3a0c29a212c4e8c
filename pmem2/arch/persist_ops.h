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
// The function types and flags are the public ones of pmem2/persist_fns.h, which also states what a crash can
// leave.

#ifndef PMEM2_ARCH_PERSIST_OPS_H_
#define PMEM2_ARCH_PERSIST_OPS_H_

#include <cstddef>
#include <string>

#include "pmem2/persist_fns.h"

namespace pmem2 {

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
  // True if these functions write every stored cache line back to the persistence domain (PMEM_NO_FLUSH changes
  // nothing here: LibpmemOps). False for the byte tables, and for a cache-line table the backend cannot honour (no
  // flush instruction: the generic backend, or an x86 CPU without CLFLUSH); the map package then falls back to msync
  // rather than hand out a persist that persists nothing, and refuses Device DAX, which msync cannot persist.
  bool writes_back_cache_lines;
};

// For mappings whose CPU caches are outside the persistence domain (cache-line granularity).
const PersistOps& CacheLineOps();
// For mappings whose stores need no CPU cache write-back (byte granularity, and the copy half of page
// granularity).
const PersistOps& ByteOps();
// The byte tables' drain as a direct call, without the loads that find ByteOps().drain: the fence a page sync
// issues before msync. Each backend's ByteOps().drain is the same fence (tools/bench/results/amd-26-2.md, "A page
// persist's pages", has why the lookup mattered). On x86-64 an inline SFENCE, as x86_64::ByteDrain, which every
// x86-64 selection's byte.drain is (x86_64/ops_test.cc): a call there was one more line of code after msync.
#if defined(__x86_64__)
inline void ByteDrain() { __asm__ volatile("sfence" : : : "memory"); }
#else
void ByteDrain();
#endif

// Writes the cache lines of a range back to memory whatever PMEM_NO_FLUSH says, with the best instruction the
// CPU has and PMEM_NO_CLWB / PMEM_NO_CLFLUSHOPT allow (deep flush: pmem2_deep_flush, pmem_deep_flush); follow it
// with a drain. With CLFLUSH it ends with an MFENCE itself: libpmem's drain may be an SFENCE (PMEM_NO_FLUSH=1 makes
// its table the byte one: LibpmemOps), which AMD does not order CLFLUSH with. Null where the backend cannot write cache
// lines back.
FlushFn WriteBackFlush();

// For byte-granularity mappings of files: ByteOps(), or CacheLineOps() when PMEM_NO_FLUSH=0 asks for the CPU
// caches to be written back even where the platform makes it unnecessary (libpmem's meaning; it only adds work).
const PersistOps& FileByteOps();

// For libpmem's functions (pmem_persist, pmem_memcpy_persist, ...: map/raw_memory.h), which follow PMEM_NO_FLUSH as
// libpmem(7) says: ByteOps() under PMEM_NO_FLUSH=1 (the user's word that the platform writes CPU caches back),
// CacheLineOps() under PMEM_NO_FLUSH=0, and otherwise ByteOps() where `caches_are_persistent` (eADR), else
// CacheLineOps(). Maps never take PMEM_NO_FLUSH=1's word: their granularity says whether the platform writes caches
// back, and libpmem2 does not read the variable (PMEM2_FORCE_GRANULARITY=byte is its way to trust the platform).
const PersistOps& LibpmemOps(bool caches_are_persistent);

// The copy half of page granularity, where msync (the caller's) makes the data durable: the flags to pass to
// ByteOps().memmove / memset for a `len`-byte copy to `dst` that the caller asked for with `flags` (or, with
// page_copy.h's kPageStringStores among them, to the page plan's string kernels: backend.h), and how it works, for
// `pmem2 info` (e.g. "avx nt >= 16 KiB"). See page_copy.h. On CPU kinds measured to want it, the choice follows the
// calling thread's previous page copies (destination_history.h), so call it once per copy. Fills (memset) may have
// thresholds of their own.
enum class PageWrite { kCopy, kFill };
unsigned PageCopyFlags(const void* dst, size_t len, unsigned flags, PageWrite write = PageWrite::kCopy);
// ByteOps().memmove / memset (or the string kernels) with those flags: the copy half of a page mapping's memcpy_fn and
// memset_fn.
void* PageMemmove(void* dst, const void* src, size_t len, unsigned flags);
void* PageMemset(void* dst, int c, size_t len, unsigned flags);
// The kernel PageMemmove / PageMemset would call and the flags it would pass, for a caller with a frame of its own
// around the copy (a page mapping's copy, which syncs next) that makes the call itself: one frame where PageMemmove
// inside it made two, and PageCopyFor, which keeps no value across a call, saves three registers where PageMemmove
// saved five. Returned in two registers; call once per copy (the history).
struct PageCopyCall {
  MemmoveFn memmove;
  unsigned flags;
};
struct PageFillCall {
  MemsetFn memset;
  unsigned flags;
};
PageCopyCall PageCopyFor(const void* dst, size_t len, unsigned flags);
PageFillCall PageFillFor(const void* dst, size_t len, unsigned flags);
std::string PageCopyName(PageWrite write = PageWrite::kCopy);

// The PMEM_* variables whose values the engine cannot take, one sentence each naming the variable, the value
// and what it takes, "; "-separated; empty if none. The engine treats them as unset; Map::Create() refuses to
// map while this is not empty. Read once per process.
const std::string& InvalidEnvironment();

}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_PERSIST_OPS_H_
