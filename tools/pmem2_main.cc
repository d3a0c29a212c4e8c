// Copyright 2026 The pmem2 Authors.
//
// The `pmem2` command-line tool.
//
//   pmem2 info PATH [--create_size=BYTES]   what pmem2 decides for PATH, and why
//   pmem2 bench PATH [--plot=FILE.svg]       pmem2 against libpmem2 and the NT-store limit on PATH

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "tools/bench/bench_command.h"
#include "tools/info.h"

ABSL_FLAG(uint64_t, create_size, 0,
          "size in bytes of the file to create when PATH does not exist; 0: the command's default "
          "(info 16 MiB, bench 128 MiB)");
ABSL_FLAG(std::string, plot, "", "bench: also write bandwidth against size as an SVG to this FILE.svg");
ABSL_FLAG(bool, overwrite, false, "bench: allow writing over an existing PATH (its contents are lost)");
ABSL_FLAG(int, cpu, -1, "bench: pin to this CPU (-1: the last one allowed, -2: do not pin)");
ABSL_FLAG(int, repetitions, 5, "bench: interleaved repetitions per measurement (the median is reported)");
ABSL_FLAG(double, min_time, 0.05, "bench: seconds per repetition, at least");

namespace {

constexpr char kUsage[] =
    "pmem2 <command> ...\n"
    "  pmem2 info PATH [--create_size=BYTES]\n"
    "      Map PATH (a file, created if missing, or a Device DAX such as /dev/dax0.0) and print what pmem2\n"
    "      decided: source kind, size, alignment, MAP_SYNC, persistence domain, granularity and why, CPU\n"
    "      features, the flush/drain/copy functions in use.\n"
    "  pmem2 bench PATH [--plot=FILE.svg] [--overwrite] [--create_size=BYTES] [--cpu=N] [--repetitions=N]\n"
    "      Time pmem2 against PMDK's libpmem2 (loaded into the same process) and the non-temporal store limit\n"
    "      on PATH; print a table of medians and ratios, and with --plot draw bandwidth against size.";

int Fail(const std::string& message) {
  std::cerr << "pmem2: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Fail(std::string("missing command\n") + kUsage);
  const std::string command = args[1];
  if (command == "info") {
    if (args.size() != 3) return Fail("info takes exactly one PATH");
    pmem2::tools::InfoOptions options;
    if (absl::GetFlag(FLAGS_create_size) != 0) options.create_size = absl::GetFlag(FLAGS_create_size);
    absl::StatusOr<std::string> report = pmem2::tools::Info(args[2], options);
    if (!report.ok()) return Fail(std::string(report.status().message()));
    std::cout << *report;
    return 0;
  }
  if (command == "bench") {
    pmem2::bench::BenchCommandOptions options;
    options.plot = absl::GetFlag(FLAGS_plot);
    options.overwrite = absl::GetFlag(FLAGS_overwrite);
    if (absl::GetFlag(FLAGS_create_size) != 0) options.create_size = absl::GetFlag(FLAGS_create_size);
    options.cpu = absl::GetFlag(FLAGS_cpu);
    options.run.repetitions = absl::GetFlag(FLAGS_repetitions);
    options.run.min_time = absl::GetFlag(FLAGS_min_time);
    options.run.progress = &std::cerr;
    absl::StatusOr<std::string> table =
        pmem2::bench::RunBenchCommand(std::vector<std::string>(args.begin() + 2, args.end()), options);
    if (!table.ok()) return Fail(std::string(table.status().message()));
    std::cout << *table;
    return 0;
  }
  return Fail("unknown command \"" + command + "\"\n" + kUsage);
}
