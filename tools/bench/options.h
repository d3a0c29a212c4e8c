// Copyright 2026 The pmem2 Authors.
//
// tools/bench/options.h
// -----------------------------------------------------------------------------
//
// The command-line values both front ends (`pmem2 bench`, //tools/bench:compare_benchmark) share, parsed here so
// that both accept and refuse the same things, with errors that name the bad value:
//
//   --patterns=hot,seq,rand   which destination patterns to time (timing.h); any non-empty subset of hot, seq,
//                             rand, same and move (opt-in: a buffer written again at every size; copies from a
//                             cold source), each once
//   --strategies=all|LIST     print each limit strategy's timings per size and pattern; with a LIST, time only
//                             those cache-line strategies (the limit is then the fastest of them). Names as in
//                             limit_kernels.h; only the ones this CPU has.
//   --sizes=LIST              (compare_benchmark) the copy sizes, multiples of 64 B, e.g. 512,1K,2K, or of 8 B
//                             below 64 (records smaller than a line, e.g. 8,16,32); default: the table's 64 B-64 MiB
//   --repetitions, --min_time, --cpu   checked by CheckRunValues()

#ifndef PMEM2_TOOLS_BENCH_OPTIONS_H_
#define PMEM2_TOOLS_BENCH_OPTIONS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/bench/timing.h"

namespace pmem2 {
namespace bench {

inline constexpr char kDefaultPatterns[] = "hot,seq,rand";

// Bounds of --repetitions and --min_time: beyond them a run would take days (and the repetitions' records more
// memory than there is).
inline constexpr int kMaxRepetitions = 1000;
inline constexpr double kMaxMinTime = 60;

// --repetitions (1..kMaxRepetitions), --min_time (seconds in (0, kMaxMinTime]) and --cpu (a CPU this process may run
// on, -1 for the last of those, -2 for no pinning): kInvalidArgument naming the first bad value, before anything is
// mapped, allocated or pinned.
absl::Status CheckRunValues(int repetitions, double min_time, int cpu);

// The patterns of a comma-separated list, in the table's order (hot, seq, rand, same, move). kInvalidArgument naming
// the value for an empty list or item, an unknown name or a name given twice.
absl::StatusOr<std::vector<Pattern>> ParsePatterns(absl::string_view text);

// Whether `patterns` holds a cold one (seq, rand or move), which needs the large cold window.
bool HasColdPattern(const std::vector<Pattern>& patterns);

struct StrategySelection {
  bool print = false;              // print FormatStrategies()
  std::vector<std::string> names;  // the cache-line strategies to time; empty: all this CPU has
};

// "" (do not print; time all), "all" (print; time all) or a comma-separated list of the names in `available`
// (print; time those). kInvalidArgument naming the value for an empty item, a name no CPU has, a name this CPU
// lacks (`available`) or a name given twice.
absl::StatusOr<StrategySelection> ParseStrategies(absl::string_view text, const std::vector<std::string>& available);

// The sizes of a comma-separated list of byte counts (decimal, optionally with a K or M suffix: KiB, MiB), in
// the order given. kInvalidArgument naming the value for an empty list or item, a size that is not a number, 0,
// a size above 1 GiB, one that is neither a multiple of 64 B nor a multiple of 8 B below 64 (the limit kernels
// write whole lines or 8-byte pieces of one), or one given twice.
absl::StatusOr<std::vector<size_t>> ParseSizes(absl::string_view text);

// The names of CacheLineLimitStrategies() (this CPU's).
std::vector<std::string> AvailableStrategyNames();

// For --help: every name ParseStrategies() knows and this CPU's, from the lists it checks against, e.g.
// "nt, nt-avx512, store+clwb, ..., memcpy (this CPU: nt, store+clwb, store-all+clwb)". A help text written by
// hand fell behind the list.
std::string DescribeStrategyNames();

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_OPTIONS_H_
