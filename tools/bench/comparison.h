// Copyright 2026 The pmem2 Authors.
//
// tools/bench/comparison.h
// -----------------------------------------------------------------------------
//
// The side-by-side benchmark of pmem2 against PMDK's libpmem2 (the "reference", loaded with dlopen) and
// against "the limit" (tools/bench/limit_kernels.h), shared by //tools/bench:compare_benchmark and
// `pmem2 bench PATH`. Google Benchmark does the timing; this file runs it and builds the table's rows.
//
// The method, and where each part lives:
//   * What is compared (lane.h): per store granularity, one Target per side with libpmem2's signatures.
//   * Destinations (destinations.h): every side maps the same file, so every column writes the same physical
//     pages; mappings are aligned as the libraries align theirs and pre-faulted before timing.
//   * Destination patterns, offsets and timed loops (timing.h): hot (copies below 4 KiB always write the first
//     bytes of the mapping; from 4 KiB up every call writes the next part of the hot window), seq (a cursor
//     shared by every column walks a cold window far larger than the last-level cache) and rand (a random
//     size-aligned slot of the cold window per call), and on request same (the first bytes of the mapping at every
//     size); persist (hot only) dirties each line just before the
//     call, inside the timed loop.
//   * The limit (limit_kernels.h, lane.h): every strategy of the lane is a column of its own, timed like the
//     libraries; each row's limit is the fastest, and the table names it.
//   * Alternation (here): every (case, side) is its own Google Benchmark; --benchmark_enable_random_interleaving
//     runs the repetitions of all of them in a random order, so the two libraries alternate throughout the run
//     and a noisy neighbour hits both alike.
//   * Figures (statistics.h): medians of the repetitions' time per call, CPU time where every call keeps the CPU
//     busy, real time where it may wait for a device (Lane::cpu_time); noise is the interquartile range / median.
//
// Measured numbers (what the method's choices were measured against, run times) are in tools/bench/README.md.

#ifndef PMEM2_TOOLS_BENCH_COMPARISON_H_
#define PMEM2_TOOLS_BENCH_COMPARISON_H_

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tools/bench/destinations.h"
#include "tools/bench/options.h"
#include "tools/bench/table.h"
#include "tools/bench/timing.h"

namespace pmem2 {
namespace bench {

// The sizes the table reports.
std::vector<size_t> DefaultCopySizes();     // 64 B ... 64 MiB
std::vector<size_t> DefaultPersistSizes();  // 64 B, 4 KiB, 2 MiB

struct RunOptions {
  std::vector<size_t> copy_sizes = DefaultCopySizes();
  // The user named copy_sizes (--sizes): one no lane can time is an error; of the defaults, it is left out.
  bool copy_sizes_given = false;
  std::vector<size_t> persist_sizes = DefaultPersistSizes();
  std::vector<size_t> byte_sizes = {64};  // the byte lane's memcpy sizes (compared with glibc)
  // The destination patterns of the copy and fill rows (persist and the byte lane: hot only).
  std::vector<Pattern> patterns = {Pattern::kHot, Pattern::kSeq, Pattern::kRand};
  // The cache-line limit strategies to time (names of limit_kernels.h); empty: every one the lane has.
  std::vector<std::string> strategies;
  int repetitions = 7;
  double min_time = 0.05;  // seconds per repetition
  // Extra Google Benchmark flags (e.g. --benchmark_filter=memcpy), applied after the defaults above; those the
  // method sets (repetitions, min time, interleaving, time unit, aggregates only) are refused.
  std::vector<std::string> benchmark_flags;
  std::ostream* progress = nullptr;  // one line per 100 repetitions; nullptr: silent
};

// Registers every case of every lane with Google Benchmark (replacing anything registered before), runs them
// with random interleaving, and returns one row per (pattern, op, granularity, size) with the medians, patterns
// in the table's order. Sizes larger than a lane's window (hot, same) or cold window (seq, rand) or the source are
// skipped (Measure refuses those the user named). Fails if a benchmark reports an error, a flag is unknown or set
// by the method (repetitions, min time, interleaving, time unit, aggregates only), or no benchmark ran.
absl::StatusOr<std::vector<Row>> RunComparison(const Destinations& destinations, const RunOptions& options);

// Pins the calling thread to `cpu`; with cpu < 0, to the last CPU it may run on (CPU 0 takes most interrupts).
// Returns the CPU, or an error if sched_setaffinity refuses.
absl::StatusOr<int> PinToCpu(int cpu);

// Whether a failed PinToCpu stops Measure (compare_benchmark) or becomes a note (`pmem2 bench`, which may run
// where the affinity mask is fixed).
enum class Pinning { kRequired, kBestEffort };

struct Measurement {
  std::vector<std::string> notes;  // the table's header
  std::vector<Row> rows;
};

// The steps every front end takes once its destinations exist: refuses to time sides that do not write the same
// bytes (VerifySameBytes at 64 B and 4 KiB), pins to `cpu` unless it is -2 (see PinToCpu), runs RunComparison
// and returns its rows with the destinations' notes plus the pinning and the repetitions.
absl::StatusOr<Measurement> Measure(const Destinations& destinations, int cpu, Pinning pinning,
                                    const RunOptions& options);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_COMPARISON_H_
