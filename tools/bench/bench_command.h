// Copyright 2026 The pmem2 Authors.
//
// tools/bench/bench_command.h
// -----------------------------------------------------------------------------
//
// `pmem2 bench PATH [--plot=FILE.svg] [--overwrite] [--patterns=hot,seq,rand,same,move] [--strategies=all|LIST]`:
// the comparison tables of //tools/bench:compare_benchmark (pmem2 against PMDK's libpmem2 and the limit, per
// destination pattern) for the user's own file or Device DAX, mapped at the granularity it gets
// (PMEM2_FORCE_GRANULARITY forces one for both libraries), optionally each limit strategy's timings, and
// optionally an SVG of bandwidth against size (hot pattern).
//
// The benchmark WRITES to PATH. A missing PATH is created as a scratch file (`create_size` bytes, every block
// allocated; by default the cold window of machine.h when a cold pattern is asked for, else 128 MiB) and
// removed again at once, before its blocks are allocated: the run uses its descriptor, so nothing is left even
// when the run is interrupted (Ctrl-C, SIGTERM, SIGKILL). An existing one is used only with `overwrite`, and its
// contents are lost (a regular file's holes in what bench writes, its first max(hot, cold window) bytes, are
// allocated first; kResourceExhausted before any is if its file system plainly lacks room for them: fewer bytes free
// than that range has beyond every block the file holds). A PATH smaller than one
// page is refused (kInvalidArgument): one page is the smallest window bench measures in. The cold patterns use
// min(PATH's size, the cold window); a smaller PATH is noted. A file system without room for the file is an error
// before anything is mapped (kResourceExhausted, "PATH: cannot allocate N bytes: No space left on device ..."), never a
// SIGBUS in the middle of the run, and leaves no file behind.

#ifndef PMEM2_TOOLS_BENCH_BENCH_COMMAND_H_
#define PMEM2_TOOLS_BENCH_BENCH_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"
#include "tools/bench/comparison.h"
#include "tools/bench/options.h"  // ParsePatterns, ParseStrategies: the values of --patterns and --strategies

namespace pmem2 {
namespace bench {

// Enough for the 64 MiB case to alternate between two places (see comparison.h).
inline constexpr uint64_t kDefaultBenchFileSize = uint64_t{128} << 20;

struct BenchCommandOptions {
  std::string plot;        // write the SVG here; must end in ".svg"; empty: no plot
  bool overwrite = false;  // allow writing over an existing PATH
  bool replace_plot = false;  // allow replacing an existing plot file (a regular file)
  // Size of a PATH that has to be created, as given; unset: the cold window if run.patterns has seq or rand (capped
  // by the free space of PATH's folder), else kDefaultBenchFileSize, and never less than kDefaultBenchFileSize.
  absl::optional<uint64_t> create_size;
  int cpu = -1;                   // pin to this CPU; -1: the last allowed one; -2: do not pin
  bool print_strategies = false;  // append FormatStrategies() (--strategies)
  RunOptions run;                 // sizes, patterns, strategies, repetitions, time per repetition
  // Where a plot that cannot be written is reported, the tables still returned; null: the run fails with it.
  absl::Status* plot_result = nullptr;
};

// Runs `pmem2 bench` with `args`, the positional arguments after "bench" (exactly one PATH), and returns the
// table. Argument errors (kInvalidArgument) are found before anything is written: no PATH or more than one,
// a plot name not ending in ".svg" or in a folder that does not exist or is not writable, or naming something that
// exists and is no regular file, or a file without `replace_plot`, repetitions outside 1..kMaxRepetitions,
// min_time not in (0, kMaxMinTime], cpu below -2 or naming a CPU the process may not run on, create_size 0, no
// pattern, a plot without the hot pattern, PATH is a directory, PATH exists without `overwrite`. Then
// kResourceExhausted if the file system has no room for PATH's blocks, kNotFound if the reference library is missing,
// kFailedPrecondition for a Device DAX that the reference maps at page granularity (PMEM2_FORCE_GRANULARITY=PAGE:
// its persist would msync the device and abort), or whatever mapping PATH fails with.
absl::StatusOr<std::string> RunBenchCommand(const std::vector<std::string>& args, const BenchCommandOptions& options);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_BENCH_COMMAND_H_
