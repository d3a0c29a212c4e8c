// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/ops.h
// -----------------------------------------------------------------------------
//
// The x86-64 backend: chooses, from the CPU features and the PMEM_* overrides, the flush instruction
// (CLWB > CLFLUSHOPT > CLFLUSH), the copy kernels (AVX-512 with PMEM_AVX512F=1 or on the CPU kinds where
// measured to win: Zen 5 and Intel family 6 models 167 and 207; else AVX, else SSE2), the non-temporal thresholds
// and the pattern-aware small copies (per CPU kind, from the measured table in ops.cc), and publishes them as
// PersistOps tables. Selection is a pure function of (features, overrides) so tests can build
// the tables a different CPU would get (see testing/cpu).

#ifndef PMEM2_ARCH_X86_64_OPS_H_
#define PMEM2_ARCH_X86_64_OPS_H_

#include <string>

#include "pmem2/arch/backend.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/cpu_features.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {

// Copies of at least this many bytes use non-temporal stores by default, partial first/last lines included:
// a line written non-temporally reaches the persistence domain without the separate write-back that ordinary
// stores need. Copies below one line default to ordinary stores + CLWB, which leaves the line cached for the
// next read of a small, hot record (Zen 4: re-read ~12 ns against ~130 after a non-temporal store), except on
// CPU kinds whose row sets its own threshold (ops.cc: Zen 5, 8 B). PMEM_MOVNT_THRESHOLD=0 makes them
// non-temporal as well. The measurements behind both choices, per CPU, are in pmem2/arch/README.md.
inline constexpr size_t kDefaultCacheLineNtThreshold = 64;
// Byte granularity has no flush to save, so non-temporal stores only pay once the copy spills the caches
// (pmem2/arch/README.md).
inline constexpr size_t kDefaultByteNtThreshold = size_t{8} << 20;

// Everything selection produces for one (features, overrides) pair. The PersistOps names point to storage
// that lives for the whole process, so a Selection can be copied freely.
struct Selection {
  PersistOps cache_line;
  PersistOps byte;
  // Writes cache lines back whatever PMEM_NO_FLUSH says (deep flush); null on a CPU without CLFLUSH.
  FlushFn write_back;
  size_t cache_line_nt_threshold;
  size_t byte_nt_threshold;
  // PMEM_MOVNT_THRESHOLD was set: the thresholds above are the user's, and page copies take the byte tables' one
  // instead of their own (pmem2/arch/page_copy.h).
  bool movnt_threshold_from_environment;
  // Cache-line copies and fills below this size go to ordinary stores + write-back when their destination is
  // near the calling thread's previous one (kernel_table.h); 0: never. From the CPU kind's row in ops.cc, or
  // PMEM2_NEAR_TEMPORAL_BELOW.
  size_t cache_line_near_temporal_below;
  // Page-granularity copies: where they go non-temporal, by where they land relative to the thread's previous
  // page copy (pmem2/arch/backend.h); from the CPU kind's row in ops.cc. All 0: pmem2/arch's kPageNtThreshold
  // for every copy, no history.
  backend::PageNtThresholds page;
  // Non-temporal copies of at least this many bytes load 32 lines before storing them (kernel_table.h); 0: never.
  // The byte tables' (and so the page copies') and the cache-line tables', from the CPU kind's row in ops.cc (Intel
  // family 6 models 167 and 207: 16 KiB and 8 KiB); 0 with PMEM_NO_MOVNT and without the AVX-512 kernels, whose
  // registers the batches need.
  size_t nt_copy_batch_from;
  size_t cache_line_nt_copy_batch_from;
  // The page copies' string kernels (kernel_table.h, IsaKernels::string), where page.string_from != 0: from the CPU
  // kind's row (Intel family 6 models 167 and 207), not with PMEM_NO_MOVNT nor without an ISA's kernels. Null
  // otherwise.
  MemmoveFn page_string_memmove;
  MemsetFn page_string_memset;
  const char* isa;          // "avx512", "avx", "sse2" or "generic"
  std::string description;  // DescribeCpu() text
};

Selection Select(const CpuFeatures& features, const EnvOverrides& overrides);

// The process-wide selection (detected features, environment at first use), or the one a test installed.
const PersistOps& CacheLineOps();
const PersistOps& ByteOps();
// The byte tables' drain (SFENCE): every selection's `byte.drain` is this function, whose fence a page sync
// issues inline (pmem2/arch/persist_ops.h, ByteDrain).
void ByteDrain();
FlushFn WriteBackFlush();
// The whole process-wide (or test-installed) selection.
const Selection& CurrentSelection();
// The page copies' plan (pmem2/arch/backend.h) of the current selection, from its byte tables, page thresholds
// and whether PMEM_MOVNT_THRESHOLD was among its overrides.
const backend::PageCopyPlan& PagePlan();
std::string DescribeCpu();

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_X86_64_OPS_H_
