// Copyright 2026 The pmem2 Authors.
//
// tools/bench/compare_benchmark.cc
// -----------------------------------------------------------------------------
//
// pmem2 against PMDK's libpmem2 1.12 (dlopen'ed into this process) and against the NT-store limit, in one run,
// on this machine: memcpy_fn and memset_fn at 64 B ... 64 MiB at forced cache-line and at page granularity
// (files on /dev/shm), persist_fn at 64 B / 4 KiB / 2 MiB, and the byte-granularity memcpy at 64 B against
// glibc. Prints the table of tools/bench/table.h (medians, ratios, PASS/MISS against issue 3's targets).
// The README's command is scripts/bench.sh; by hand:
//
//   bazel run -c opt //tools/bench:compare_benchmark -- [--cpu=N] [--repetitions=N] [--min_time=SECONDS]
//       [--benchmark_filter=REGEX] [other --benchmark_* flags]
//
// How it measures (destination offsets, interleaving, pinning) is documented in tools/bench/comparison.h.

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tools/bench/comparison.h"
#include "tools/bench/table.h"

namespace {

constexpr char kUsage[] =
    "compare_benchmark [--cpu=N|-1(last)|-2(no pinning)] [--repetitions=N] [--min_time=SECONDS]\n"
    "                  [--window_mib=N] [--benchmark_*=...]\n";

int Fail(const std::string& message) {
  std::cerr << "compare_benchmark: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using pmem2::bench::Destinations;
  int cpu = -1;
  size_t window_mib = 128;
  pmem2::bench::RunOptions options;
  options.repetitions = 15;
  options.min_time = 0.05;
  options.progress = &std::cerr;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    absl::string_view value = arg;
    if (absl::StartsWith(arg, "--benchmark_")) {
      options.benchmark_flags.push_back(arg);
    } else if (absl::ConsumePrefix(&value, "--cpu=")) {
      if (!absl::SimpleAtoi(value, &cpu)) return Fail("--cpu wants an integer");
    } else if (absl::ConsumePrefix(&value, "--repetitions=")) {
      if (!absl::SimpleAtoi(value, &options.repetitions) || options.repetitions < 1) {
        return Fail("--repetitions wants a positive integer");
      }
    } else if (absl::ConsumePrefix(&value, "--min_time=")) {
      if (!absl::SimpleAtod(value, &options.min_time) || !(options.min_time > 0)) {
        return Fail("--min_time wants a positive number of seconds");
      }
    } else if (absl::ConsumePrefix(&value, "--window_mib=")) {
      if (!absl::SimpleAtoi(value, &window_mib) || window_mib < 128) return Fail("--window_mib wants >= 128");
    } else if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      return Fail(absl::StrCat("unknown argument ", arg, "\n", kUsage));
    }
  }

  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<Destinations>> destinations = Destinations::ForComparison(window_mib << 20);
  if (!destinations.ok()) return Fail(std::string(destinations.status().message()));
  for (size_t n : {size_t{64}, size_t{4096}}) {
    if (absl::Status s = (*destinations)->VerifySameBytes(n); !s.ok()) return Fail(std::string(s.message()));
  }
  std::vector<std::string> notes = (*destinations)->notes();
  if (cpu != -2) {
    absl::StatusOr<int> pinned = pmem2::bench::PinToCpu(cpu);
    if (!pinned.ok()) return Fail(std::string(pinned.status().message()));
    notes.push_back(absl::StrCat("pinned to CPU ", *pinned));
  }
  notes.push_back(absl::StrCat("medians of ", options.repetitions, " randomly interleaved repetitions of >= ",
                               options.min_time, " s each (Google Benchmark)"));
  std::cerr << "compare_benchmark: timing (progress below; the table follows)\n";
  absl::StatusOr<std::vector<pmem2::bench::Row>> rows = pmem2::bench::RunComparison(**destinations, options);
  if (!rows.ok()) return Fail(std::string(rows.status().message()));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  notes.push_back(absl::StrCat("run took ", static_cast<int>(seconds), " s"));
  std::cout << pmem2::bench::FormatTable(*rows, notes);
  return 0;
}
