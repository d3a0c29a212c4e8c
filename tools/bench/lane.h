// Copyright 2026 The pmem2 Authors.
//
// tools/bench/lane.h
// -----------------------------------------------------------------------------
//
// What the comparison compares: a Lane is one store granularity with three Targets, pmem2's mapping, the
// reference's mapping of the same kind of destination, and a plain mapping for the limit. Every Target has
// libpmem2's function signatures and every side runs through the same timed loop (timing.h), so only the
// function pointer differs between the columns. tools/bench/destinations.h makes the lanes.

#ifndef PMEM2_TOOLS_BENCH_LANE_H_
#define PMEM2_TOOLS_BENCH_LANE_H_

#include <cstddef>
#include <string>

#include "pmem2/persist_fns.h"

namespace pmem2 {
namespace bench {

// One side's functions on one destination.
struct Target {
  char* base = nullptr;  // start of the destination mapping
  PersistFn persist = nullptr;
  MemcpyFn memcpy = nullptr;
  MemsetFn memset = nullptr;
};

// What the limit column is for a lane.
enum class LimitKind {
  kNonTemporal,  // limit_kernels.h: NT stores + SFENCE (+ msync at page granularity), CLWB + SFENCE or msync
  kGlibc,        // glibc memcpy/memset (byte granularity: nothing to write back), timed with glibc's signature
};

struct Lane {
  std::string granularity;  // "cache_line", "page", "byte": the table's granularity column
  size_t window = 0;        // bytes of every Target usable from `base`
  Target pmem2;
  Target reference;
  Target limit;  // limit.persist == nullptr: the persist rows have no limit
  LimitKind limit_kind = LimitKind::kNonTemporal;
  // The table's "limit" column for the copy rows ("nt", "nt+msync", "glibc") and the persist rows ("flush",
  // "msync", "-").
  std::string copy_limit = "nt";
  std::string persist_limit = "-";
  bool on_tmpfs = false;  // the page-granularity targets of table.h are defined on tmpfs only
  // Time base. CPU time (the benchmark thread's own, syscalls included) where every call keeps the CPU busy
  // (DRAM, tmpfs, persistent memory): on a shared host real time also counts other tasks' time slices, which
  // swamps differences of a few percent. Real time where a call waits for a device (msync on a disk).
  bool cpu_time = true;
  // Only memcpy at RunOptions::byte_sizes against glibc: the comparison's anonymous byte lane, which measures
  // the dispatch cost of the no-flush path.
  bool memcpy_only = false;
};

// The three columns.
enum Side { kPmem2 = 0, kReference = 1, kLimit = 2 };
inline constexpr Side kSides[] = {kPmem2, kReference, kLimit};

inline const char* SideName(Side side) {
  return side == kPmem2 ? "pmem2" : side == kReference ? "reference" : "limit";
}

inline const Target& TargetOf(const Lane& lane, Side side) {
  return side == kPmem2 ? lane.pmem2 : side == kReference ? lane.reference : lane.limit;
}

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_LANE_H_
