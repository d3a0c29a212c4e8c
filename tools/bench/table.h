// Copyright 2026 The pmem2 Authors.
//
// tools/bench/table.h
// -----------------------------------------------------------------------------
//
// The comparison table everyone reads: per (op, granularity, size) the medians of pmem2, the reference and
// the limit, the ratio reference/pmem2 (> 1: pmem2 is faster), and PASS/MISS against the project's targets:
//
//   cache line, memcpy/memset, 64-128 B          ratio >= 1.60
//   cache line, memcpy/memset, 256 B-64 MiB      ratio >= 0.97 and pmem2 <= 1.05 x the NT-store limit
//   page (tmpfs), memcpy/memset, <= 4 KiB        ratio >= 1.20
//   page (tmpfs), memcpy/memset, > 4 KiB         ratio >= 0.97 ("never slower")
//   byte, memcpy, 64 B                           pmem2 <= glibc + 2 ns
//   persist, any granularity and size            ratio >= 1.00; 0.99-1.00 counts as a tie (PASS, marked): both
//                                                libraries run the same flush instructions there
//
// The page-granularity targets are defined on tmpfs (where msync is cheap); on a disk msync dominates and
// those rows show no target. Rows without a target show "-". The verdicts are a report about one run on one machine,
// never a test.

#ifndef PMEM2_TOOLS_BENCH_TABLE_H_
#define PMEM2_TOOLS_BENCH_TABLE_H_

#include <cstddef>
#include <string>
#include <vector>

namespace pmem2 {
namespace bench {

// One (op, granularity, size). Times are median ns per call; NaN when not measured.
struct Row {
  std::string op;           // "memcpy", "memset", "persist"
  std::string granularity;  // "cache_line", "page", "byte"
  size_t size = 0;
  double pmem2_ns = 0;
  double reference_ns = 0;
  double limit_ns = 0;
  std::string limit_kind;  // what the limit column is: "nt", "clwb", "msync", "glibc", ...
  bool on_tmpfs = true;    // whether the page-granularity target applies
  // Spread of pmem2's and the reference's repetitions: interquartile range / median, for judging noise.
  double pmem2_spread = 0;
  double reference_spread = 0;
};

enum class Verdict { kNone, kPass, kMiss };

struct Evaluation {
  Verdict verdict = Verdict::kNone;
  std::string target;  // e.g. "ratio>=1.60"; empty when the row has no target
  std::string detail;  // for a MISS: by how much, e.g. "ratio 1.41 (-12%)"; "tie" for a tied PASS
};

// The ratio reference/pmem2.
double Ratio(const Row& row);

// Applies the targets above to `row`.
Evaluation Evaluate(const Row& row);

// "64 B", "4 KiB", "2 MiB".
std::string FormatSize(size_t size);

// The table, with a header of `notes` (one per line) and a last line counting PASS and MISS.
std::string FormatTable(const std::vector<Row>& rows, const std::vector<std::string>& notes);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_TABLE_H_
