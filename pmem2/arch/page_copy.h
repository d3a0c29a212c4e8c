// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/page_copy.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/arch: how copies into page-granularity mappings use the byte tables. Their destinations are
// page-cache pages that msync writes back next, usually cold in the CPU caches, so non-temporal stores win from
// a smaller size than in the byte tables (whose destinations are often hot). The caller asked for kMemTemporal /
// kMemWb, or PMEM_MOVNT_THRESHOLD set a threshold: those decide instead. No CPU flush is ever needed: msync
// makes the pages durable. Pure functions of their arguments, for tests; persist_ops.h applies them with the
// current selection's page plan (backend.h).

#ifndef PMEM2_ARCH_PAGE_COPY_H_
#define PMEM2_ARCH_PAGE_COPY_H_

#include <cstddef>
#include <string>

#include "pmem2/persist_fns.h"

namespace pmem2 {
namespace arch {

// The threshold where nothing was measured (the generic backend; x86-64 CPU kinds take theirs from the table in
// x86_64/ops.cc): copies of at least this many bytes use non-temporal stores.
inline constexpr size_t kPageNtThreshold = size_t{16} << 10;

// Not a PMEM2_F_MEM_* flag (outside kMemValidFlags): what PageCopyFlags() adds where a CPU kind's row sends the copy
// to string instructions (backend.h, PageNtThresholds::string_from); PageMemmove and PageMemset then call the plan's
// string kernels. A caller's flags never carry it in: the page copy clears it first.
inline constexpr unsigned kPageStringStores = 1u << 31;
static_assert((kPageStringStores & kMemValidFlags) == 0, "an internal bit, not a caller's flag");

// Always adds kMemNoDrain (the persist drains before msync); never kMemNoFlush, which the byte tables read as
// "ordinary stores only". `nt_threshold` is the backend's page threshold: from it kMemNonTemporal, below it
// kMemTemporal, unless the caller chose the kind of store (kMemNonTemporal, kMemTemporal, kMemWc, kMemWb) or
// PMEM_MOVNT_THRESHOLD was set (`threshold_from_environment`: then the byte tables' threshold, which is the
// user's, decides).
// Inline: on a page mapping's copy path.
inline unsigned PageCopyFlagsFor(size_t len, unsigned flags, bool threshold_from_environment,
                                 size_t nt_threshold = kPageNtThreshold) {
  constexpr unsigned kStoreKind = kMemNonTemporal | kMemTemporal | kMemWc | kMemWb;
  if ((flags & kStoreKind) == 0 && !threshold_from_environment) {
    // Below the threshold too, so that a page threshold above the byte table's own still means ordinary stores.
    flags |= len >= nt_threshold ? kMemNonTemporal : kMemTemporal;
  }
  return flags | kMemNoDrain;
}

// `byte_kernel_name` is the byte table's name, e.g. "avx nt >= 8 MiB"; returns e.g. "avx nt >= 16 KiB" (what the name
// says after its threshold, such as ", 32-line batches >= 16 KiB", stays at the end), or the
// byte table's name where PMEM_MOVNT_THRESHOLD decides (`threshold_from_environment`) or the kernels have no
// non-temporal path (PMEM_NO_MOVNT, generic).
// `far_nt_threshold` != 0: the thresholds for destinations just after (`ahead_nt_threshold`) and far from the
// thread's previous page copy are named too, `far_nt_below` != 0 bounds the far range ("8 B (below 8 MiB)
// far from it": larger far copies take `nt_threshold`), and `far_from_below_nt_threshold` != 0 is what those
// larger far copies take instead of `nt_threshold` (fills on Zen 5: "8 B (below 8 MiB, then 8 MiB) far from it").
// `string_from` != 0: rewrites from that size below `nt_threshold` use `string_instruction` ("rep movsq"), said after
// the rewrite threshold: "avx512 nt >= 1280 KiB on a rewrite (rep movsq from 128 KiB), ...".
std::string PageCopyNameFor(const std::string& byte_kernel_name, bool threshold_from_environment,
                            size_t nt_threshold = kPageNtThreshold, size_t ahead_nt_threshold = 0,
                            size_t far_nt_threshold = 0, size_t far_nt_below = 0,
                            size_t far_from_below_nt_threshold = 0, size_t string_from = 0,
                            const char* string_instruction = "");

}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_PAGE_COPY_H_
