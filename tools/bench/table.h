// Copyright 2026 The pmem2 Authors.
//
// tools/bench/table.h
// -----------------------------------------------------------------------------
//
// The comparison table everyone reads: per destination pattern (hot, seq, rand; same on request: timing.h) and (op,
// granularity, size) the medians of pmem2, the reference and the limit, the ratio reference/pmem2 (> 1: pmem2 is
// faster), and PASS/MISS against the project's targets. The limit of a copy or fill is the fastest of the strategies
// timed for it (limit_kernels.h); the "limit" column names the winner. Issue 12's targets, every CPU kind and pattern
// (hot rows, and same rows, which are hot at every size, are held to 5 % of the limit from 256 B, as the cache-line
// table was before the patterns existed):
//
//   cache line and page (tmpfs), memcpy/memset   ratio >= 0.97, and pmem2 <= 1.05 x the limit from 512 B
//                                                (hot rows: from 256 B), <= 1.10 x below
//   byte, memcpy, 64 B                           pmem2 <= glibc + 2 ns
//   persist, any granularity and size            ratio >= 1.00; 0.99-1.00 counts as a tie (PASS, marked): both
//                                                libraries run the same flush instructions there
//
// and the CPU kinds the issue names raise the ratio where this project's first measurements set it (Targets):
//
//   AMD Zen 4 (25/17, the Zen 4 measured)  cache line 64-128 B hot ratio >= 1.60; page <= 4 KiB ratio >= 1.20
//                                          (every pattern)
//   Intel Emerald Rapids (6/207)           cache line 64-128 B random cold ratio >= 1.40
//
// The page-granularity targets are defined on tmpfs (where msync is cheap); on a disk msync dominates and
// those rows show no target. Rows without a target show "-". The verdicts are a report about one run on one machine,
// never a test.

#ifndef PMEM2_TOOLS_BENCH_TABLE_H_
#define PMEM2_TOOLS_BENCH_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace pmem2 {
namespace bench {

// One strategy of the limit, timed for one row.
struct StrategyTime {
  std::string name;  // e.g. "nt", "store-all+clwb"
  double ns = 0;     // median ns per call; NaN when not measured
  double spread = 0;
};

// One (pattern, op, granularity, size). Times are median ns per call; NaN when not measured.
struct Row {
  std::string pattern = "hot";  // "hot", "seq", "rand", "same", "move"
  std::string op;               // "memcpy", "memset", "persist"
  std::string granularity;      // "cache_line", "page", "byte"
  size_t size = 0;
  double pmem2_ns = 0;
  double reference_ns = 0;
  double limit_ns = 0;
  std::string limit_kind;  // what the limit column is: the winning strategy, "flush", "msync", "glibc", ...
  bool on_tmpfs = true;    // whether the page-granularity target applies
  // Spread of pmem2's and the reference's repetitions: interquartile range / median, for judging noise.
  double pmem2_spread = 0;
  double reference_spread = 0;
  // The copy and fill rows' strategies, in the order they were listed; PickLimit() sets limit_ns and
  // limit_kind from them.
  std::vector<StrategyTime> strategies;
};

// Sets `row`'s limit to its fastest measured strategy (the smallest median), if it has any strategies: limit_ns
// NaN and limit_kind "-" when none was measured.
void PickLimit(Row* row);

enum class Verdict { kNone, kPass, kMiss };

struct Evaluation {
  Verdict verdict = Verdict::kNone;
  std::string target;  // e.g. "ratio>=1.60"; empty when the row has no target
  std::string detail;  // for a MISS: by how much, e.g. "ratio 1.41 (-12%)"; "tie" for a tied PASS
};

// The ratio reference/pmem2.
double Ratio(const Row& row);

// The ratios a CPU kind must reach where they exceed the general 0.97 (the table above).
struct Targets {
  std::string cpu = "any CPU kind";  // whose targets these are, for the table's last line
  double hot_small_cache_line = 0.97;   // cache line, 64-128 B, hot
  double rand_small_cache_line = 0.97;  // cache line, 64-128 B, random cold
  double small_page = 0.97;             // page (tmpfs), <= 4 KiB, every pattern
};

// The targets of the CPU kind named by /proc/cpuinfo's vendor, family and model; the general ones for any other.
Targets TargetsFor(absl::string_view vendor, int family, int model);

// Applies the targets above to `row`.
Evaluation Evaluate(const Row& row, const Targets& targets);

// "64 B", "4 KiB", "2 MiB".
std::string FormatSize(size_t size);

// The table, with a header of `notes` (one per line), then per pattern present (hot, seq, rand) a line naming it
// and its rows under the column header, and a last line counting PASS and MISS against `targets`.
std::string FormatTable(const std::vector<Row>& rows, const std::vector<std::string>& notes, const Targets& targets);

// `--strategies`: per row with more than one strategy, each strategy's median ns, the fastest (the limit) marked
// with "*". Empty if no row has more than one.
std::string FormatStrategies(const std::vector<Row>& rows);

// Per (op, granularity) of the copy and fill rows, the ratio reference/pmem2 at each size as "hot/seq/rand"
// (patterns not measured left out; "-" for a missing cell). Empty unless more than one pattern was measured.
std::string FormatPatternSummary(const std::vector<Row>& rows);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_TABLE_H_
