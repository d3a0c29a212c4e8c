// Copyright 2026 The pmem2 Authors.
//
// tools/bench/lane.h
// -----------------------------------------------------------------------------
//
// What the comparison compares: a Lane is one store granularity with three Targets, pmem2's mapping, the
// reference's mapping of the same kind of destination, and a plain mapping for the limit. Every Target has
// libpmem2's function signatures and every side runs through the same timed loop (timing.h), so only the
// function pointer differs between the columns. The limit of a copy or fill is the fastest of the lane's
// copy strategies, each timed as a side of its own on the limit's mapping (at cache-line granularity those of
// limit_kernels.h; one strategy elsewhere). tools/bench/destinations.h makes the lanes.

#ifndef PMEM2_TOOLS_BENCH_LANE_H_
#define PMEM2_TOOLS_BENCH_LANE_H_

#include <cstddef>
#include <string>
#include <vector>

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

// One way the limit may copy and fill (limit_kernels.h), with libpmem2's signatures.
struct CopyStrategy {
  std::string name;  // the table's "limit" column when it wins: "nt", "store-all+clwb", "nt+msync", "glibc", ...
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
  size_t window = 0;        // bytes of every Target the hot pattern uses from `base` (timing.h)
  // Bytes from `base` the cold patterns (seq, rand) walk: far more than the last-level cache on the real run.
  // 0: this lane is measured hot only (the byte lane).
  size_t cold_window = 0;
  size_t cold_offset = 0;  // where the cold window starts, from `base` (compare_benchmark: after the hot window)
  Target pmem2;
  Target reference;
  // The limit's mapping and persist function (limit.persist == nullptr: the persist rows have no limit);
  // limit.memcpy / limit.memset are those of copy_strategies.front().
  Target limit;
  std::vector<CopyStrategy> copy_strategies;  // never empty once the lane is made
  LimitKind limit_kind = LimitKind::kNonTemporal;
  std::string persist_limit = "-";  // the table's "limit" column for the persist rows ("flush", "msync", "-")
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

// The limit's Target with `strategy`'s copy and fill.
inline Target StrategyTarget(const Lane& lane, const CopyStrategy& strategy) {
  Target t = lane.limit;
  t.memcpy = strategy.memcpy;
  t.memset = strategy.memset;
  return t;
}

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_LANE_H_
