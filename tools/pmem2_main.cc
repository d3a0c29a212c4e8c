// Copyright 2026 The pmem2 Authors.
//
// The `pmem2` command-line tool.
//
//   pmem2 info PATH [--create=SIZE]      what pmem2 decides for PATH, and why
//   pmem2 bench PATH [--plot=FILE.svg]   pmem2 against libpmem2 and the limit on PATH, per destination pattern

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/bench_command.h"
#include "tools/create_file.h"
#include "tools/info.h"

// Sizes are strings, parsed by ParseByteSize(), for the K/M/G suffixes and errors that name the value.
ABSL_FLAG(std::string, create, "",
          "info: create a missing PATH as a fully allocated file of SIZE bytes (K, M, G, KiB, MiB, GiB: powers "
          "of 1024), e.g. --create=16M; an existing PATH is used unchanged");
ABSL_FLAG(std::string, create_size, "",
          "bench: size of the scratch file bench creates (and removes at once) when PATH does not exist, as for "
          "--create; "
          "default: the cold window (max(2G, 8 x the last-level cache), capped by free memory and space) when seq "
          "or rand is measured, else 128M");
ABSL_FLAG(std::string, plot, "",
          "bench: also write bandwidth against size as an SVG to this FILE.svg (an existing one only with "
          "--replace_plot)");
ABSL_FLAG(bool, replace_plot, false, "bench: allow replacing an existing --plot file");
ABSL_FLAG(bool, overwrite, false, "bench: allow writing over an existing PATH (its contents are lost)");
ABSL_FLAG(int, cpu, -1, "bench: pin to this CPU (-1: the last one allowed, -2: do not pin)");
ABSL_FLAG(int, repetitions, 5, "bench: interleaved repetitions per measurement, 1 to 1000 (the median is reported)");
ABSL_FLAG(double, min_time, 0.05, "bench: seconds per repetition, at least (at most 60)");
ABSL_FLAG(std::string, patterns, pmem2::bench::kDefaultPatterns,
          "bench: destination patterns to time, comma-separated: hot (the same lines again), seq (a cursor "
          "walking a window far larger than the last-level cache), rand (a random slot of that window), same "
          "(not by default: the first bytes of PATH at every size, a buffer written again) and move (not by default: "
          "copies from a source as cold as the destination, within that window)");
// The names are not listed here: flag help is a constant, and the list comes from the code (the usage message).
ABSL_FLAG(std::string, strategies, "",
          "bench: print every limit strategy's timings per size and pattern: all, or a comma-separated list of "
          "the strategies to time, those this CPU has (the names: the usage message, \"--strategies names\")");

namespace {

constexpr char kUsage[] =
    "pmem2 <command> ...\n"
    "  pmem2 info PATH [--create=SIZE]\n"
    "      Map PATH (a regular file or a Device DAX such as /dev/dax0.0) and print what pmem2 decided: source\n"
    "      kind, size, alignment, MAP_SYNC, persistence domain, granularity and why, CPU features, the\n"
    "      flush/drain/copy functions in use. Other file types (FIFOs, sockets, block devices, other character\n"
    "      devices) are refused without being opened. A missing PATH is an error unless --create=SIZE is given:\n"
    "      then it is created with SIZE bytes allocated (e.g. 16M; K, M, G, KiB, MiB, GiB are powers of 1024)\n"
    "      and kept; an existing PATH is used unchanged, whatever SIZE says.\n"
    "  pmem2 bench PATH [--plot=FILE.svg [--replace_plot]] [--overwrite] [--create_size=SIZE] [--cpu=N]\n"
    "              [--repetitions=N (1-1000)] [--min_time=SECONDS (at most 60)]\n"
    "              [--patterns=hot,seq,rand,same,move] [--strategies=all|LIST]\n"
    "      Time pmem2 against PMDK's libpmem2 (loaded into the same process) and the limit (the fastest of the\n"
    "      strategies this CPU has) on PATH for each destination pattern; print the CPU, tables of medians and\n"
    "      ratios, with --strategies every strategy's timings, and with --plot draw bandwidth against size. A\n"
    "      missing PATH is created with --create_size bytes allocated (default: the cold window, see\n"
    "      --create_size) and removed again at once (bench keeps it open), so that nothing is left even by an\n"
    "      interrupted run; an existing one is used (and its blocks allocated) only with --overwrite, and its\n"
    "      contents are lost. A PATH smaller than one page is refused.\n"
    "      --strategies names: ";

int Fail(const std::string& message) {
  std::cerr << "pmem2: " << message << "\n";
  return 1;
}

// The report on standard output, checked: a write that fails (a full disk; a closed pipe where SIGPIPE is ignored)
// is an error, not exit 0 with the report lost.
int PrintReport(const std::string& report) {
  errno = 0;  // the failed write's, if the stream failed at all
  std::cout << report;
  std::cout.flush();
  const int err = errno;
  if (!std::cout) {
    return Fail(absl::StrCat("writing the report to standard output failed",
                             err != 0 ? absl::StrCat(": ", std::strerror(err)) : std::string()));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // The strategy names from the lists --strategies is checked against (those of this CPU too).
  absl::SetProgramUsageMessage(absl::StrCat(kUsage, pmem2::bench::DescribeStrategyNames()));
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Fail("missing command\n" + std::string(absl::ProgramUsageMessage()));
  const std::string command = args[1];
  if (command == "info") {
    if (args.size() != 3) return Fail("info takes exactly one PATH");
    if (!absl::GetFlag(FLAGS_create_size).empty()) {
      return Fail("info: --create_size is gone; pass --create=SIZE to create a missing PATH");
    }
    // The bench flags would be ignored: say so rather than exit 0 having done less than asked.
    if (!absl::GetFlag(FLAGS_plot).empty() || absl::GetFlag(FLAGS_replace_plot) || absl::GetFlag(FLAGS_overwrite) ||
        absl::GetFlag(FLAGS_cpu) != -1 || absl::GetFlag(FLAGS_repetitions) != 5 ||
        absl::GetFlag(FLAGS_min_time) != 0.05 || absl::GetFlag(FLAGS_patterns) != pmem2::bench::kDefaultPatterns ||
        !absl::GetFlag(FLAGS_strategies).empty()) {
      return Fail(
          "info takes no bench flags (--plot, --replace_plot, --overwrite, --cpu, --repetitions, --min_time, "
          "--patterns, "
          "--strategies)");
    }
    pmem2::tools::InfoOptions options;
    if (const std::string create = absl::GetFlag(FLAGS_create); !create.empty()) {
      absl::StatusOr<uint64_t> size = pmem2::tools::ParseByteSize("--create", create);
      if (!size.ok()) return Fail(std::string(size.status().message()));
      options.create_size = *size;
    }
    absl::StatusOr<std::string> report = pmem2::tools::Info(args[2], options);
    if (!report.ok()) return Fail(std::string(report.status().message()));
    return PrintReport(*report);
  }
  if (command == "bench") {
    pmem2::bench::BenchCommandOptions options;
    options.plot = absl::GetFlag(FLAGS_plot);
    options.overwrite = absl::GetFlag(FLAGS_overwrite);
    options.replace_plot = absl::GetFlag(FLAGS_replace_plot);
    if (!absl::GetFlag(FLAGS_create).empty()) {
      return Fail("bench: --create is for info; bench creates a missing PATH itself, sized by --create_size=SIZE");
    }
    if (const std::string size_text = absl::GetFlag(FLAGS_create_size); !size_text.empty()) {
      absl::StatusOr<uint64_t> size = pmem2::tools::ParseByteSize("--create_size", size_text);
      if (!size.ok()) return Fail(std::string(size.status().message()));
      options.create_size = *size;
    }
    absl::StatusOr<std::vector<pmem2::bench::Pattern>> patterns =
        pmem2::bench::ParsePatterns(absl::GetFlag(FLAGS_patterns));
    if (!patterns.ok()) return Fail(std::string(patterns.status().message()));
    options.run.patterns = *patterns;
    absl::StatusOr<pmem2::bench::StrategySelection> strategies = pmem2::bench::ParseStrategies(
        absl::GetFlag(FLAGS_strategies), pmem2::bench::AvailableStrategyNames());
    if (!strategies.ok()) return Fail(std::string(strategies.status().message()));
    options.run.strategies = strategies->names;
    options.print_strategies = strategies->print;
    options.cpu = absl::GetFlag(FLAGS_cpu);
    options.run.repetitions = absl::GetFlag(FLAGS_repetitions);
    options.run.min_time = absl::GetFlag(FLAGS_min_time);
    options.run.progress = &std::cerr;
    absl::Status plot;
    options.plot_result = &plot;
    absl::StatusOr<std::string> table =
        pmem2::bench::RunBenchCommand(std::vector<std::string>(args.begin() + 2, args.end()), options);
    if (!table.ok()) return Fail(std::string(table.status().message()));
    if (const int rc = PrintReport(*table); rc != 0) return rc;
    if (!plot.ok()) return Fail(std::string(plot.message()));  // the tables are printed above
    return 0;
  }
  return Fail("unknown command \"" + command + "\"\n" + std::string(absl::ProgramUsageMessage()));
}
