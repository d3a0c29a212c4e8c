// Copyright 2026 The pmem2 Authors.
//
// tools/bench/compare_benchmark.cc
// -----------------------------------------------------------------------------
//
// pmem2 against PMDK's libpmem2 1.12 (dlopen'ed into this process) and against the limit, in one run, on this
// machine: memcpy_fn and memset_fn at 64 B ... 64 MiB at forced cache-line and at page granularity (a file on
// /dev/shm) for three destination patterns (hot, sequential cold, random cold; and on request "same", a buffer
// written again, and "move", copies from a cold source), persist_fn at 64 B / 4 KiB /
// 2 MiB, and the byte-granularity memcpy at 64 B against glibc. The limit of each copy row is the fastest of
// the strategies of limit_kernels.h. Prints the tables of tools/bench/table.h (medians, ratios, PASS/MISS against
// the targets there), the ratios by pattern, and with --strategies every strategy's timings. The README's
// command is scripts/bench.sh; by hand:
//
//   bazel run -c opt //tools/bench:compare_benchmark -- [--cpu=N] [--repetitions=N] [--min_time=SECONDS]
//       [--patterns=hot,seq,rand,same,move] [--strategies=all|LIST] [--window_mib=N] [--cold_window_mib=N]
//       [--own_mappings] [--benchmark_filter=REGEX] [other --benchmark_*=VALUE flags]
//
// How it measures (destination offsets, interleaving, pinning) is documented in tools/bench/comparison.h.

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/comparison.h"
#include "tools/bench/machine.h"
#include "tools/bench/options.h"
#include "tools/bench/table.h"

ABSL_FLAG(int, cpu, -1, "pin to this CPU (-1: the last one allowed, -2: do not pin)");
ABSL_FLAG(int, repetitions, 15, "interleaved repetitions per measurement (the median is reported)");
ABSL_FLAG(double, min_time, 0.05, "seconds per repetition, at least");
ABSL_FLAG(size_t, window_mib, 128, "MiB the hot pattern's copies from 4 KiB step through (at least 128)");
ABSL_FLAG(size_t, cold_window_mib, 0,
          "MiB the cold patterns (seq, rand, move) walk; 0: max(2 GiB, 8 x the last-level cache), at most half the "
          "available memory and half the free space of /dev/shm");
ABSL_FLAG(std::string, patterns, pmem2::bench::kDefaultPatterns,
          "destination patterns to time, comma-separated: hot, seq, rand, and not by default same (the first "
          "bytes of the mapping at every size, a buffer written again) and move (copies from a source as cold as "
          "the destination, within the cold window)");
ABSL_FLAG(std::string, sizes, "",
          "copy sizes in bytes, comma-separated, optionally with K or M (e.g. 512,1K,2K); multiples of 64, or of 8 "
          "below 64 (e.g. 8,16,32: records smaller than a line); default: 64 B-64 MiB");
ABSL_FLAG(std::string, strategies, "",
          "print every limit strategy's timings per size and pattern: all, or a comma-separated list of the "
          "strategies to time (this CPU's: see the error for a wrong name)");
ABSL_FLAG(bool, own_mappings, false,
          "each side writes through its own mapping of the file (as applications do) instead of all through "
          "libpmem2's page mapping; cold rows then also measure how the kernel (or a hypervisor shadowing page "
          "tables) treats each mapping (tools/bench/destinations.h)");

namespace {

constexpr char kUsage[] =
    "compare_benchmark [--cpu=N|-1(last)|-2(no pinning)] [--repetitions=N] [--min_time=SECONDS]\n"
    "                  [--patterns=hot,seq,rand,same,move] [--strategies=all|LIST] [--sizes=LIST]\n"
    "                  [--window_mib=N] [--cold_window_mib=N] [--own_mappings]\n"
    "                  [--benchmark_*=...]\n"
    "pmem2 against PMDK's libpmem2 and the limit on this machine; --benchmark_* flags go to Google Benchmark.";

int Fail(const std::string& message) {
  std::cerr << "compare_benchmark: " << message << "\n";
  return 1;
}

// Takes the --benchmark_* flags (for Google Benchmark) out of argv; absl parses the rest.
std::vector<std::string> TakeBenchmarkFlags(int* argc, char** argv) {
  std::vector<std::string> taken;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    if (absl::StartsWith(argv[i], "--benchmark_")) {
      taken.emplace_back(argv[i]);
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  argv[kept] = nullptr;
  return taken;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  pmem2::bench::RunOptions options;
  options.benchmark_flags = TakeBenchmarkFlags(&argc, argv);
  const std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() > 1) return Fail(absl::StrCat("unknown argument ", positional[1], "\n", kUsage));
  options.repetitions = absl::GetFlag(FLAGS_repetitions);
  options.min_time = absl::GetFlag(FLAGS_min_time);
  options.progress = &std::cerr;
  const size_t window_mib = absl::GetFlag(FLAGS_window_mib);
  if (absl::Status s = pmem2::bench::CheckRunValues(options.repetitions, options.min_time, absl::GetFlag(FLAGS_cpu));
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  if (window_mib < 128) return Fail(absl::StrCat("--window_mib=", window_mib, ": give 128 or more"));
  absl::StatusOr<std::vector<pmem2::bench::Pattern>> patterns =
      pmem2::bench::ParsePatterns(absl::GetFlag(FLAGS_patterns));
  if (!patterns.ok()) return Fail(std::string(patterns.status().message()));
  options.patterns = *patterns;
  absl::StatusOr<pmem2::bench::StrategySelection> strategies =
      pmem2::bench::ParseStrategies(absl::GetFlag(FLAGS_strategies), pmem2::bench::AvailableStrategyNames());
  if (!strategies.ok()) return Fail(std::string(strategies.status().message()));
  options.strategies = strategies->names;
  if (const std::string sizes = absl::GetFlag(FLAGS_sizes); !sizes.empty()) {
    absl::StatusOr<std::vector<size_t>> parsed = pmem2::bench::ParseSizes(sizes);
    if (!parsed.ok()) return Fail(std::string(parsed.status().message()));
    options.copy_sizes = *parsed;
    options.copy_sizes_given = true;
  }
  // The cold window, only where a cold pattern is timed: the hot-only run keeps its 128 MiB file.
  const size_t cold_window_mib =
      pmem2::bench::HasColdPattern(options.patterns) ? absl::GetFlag(FLAGS_cold_window_mib) : 0;
  // Sizes given on the command line are not capped by /dev/shm's free space as the default cold window is: refuse
  // them here, in MiB (no overflow for absurd values), before the reference library is loaded or anything mapped.
  if (const uint64_t free_mib = pmem2::bench::FreeBytes("/dev/shm") >> 20;
      window_mib > free_mib || cold_window_mib > free_mib - window_mib) {
    return Fail(absl::StrCat("the /dev/shm file of ", window_mib, " + ", cold_window_mib,
                             " MiB (--window_mib=", window_mib, ", --cold_window_mib=", cold_window_mib,
                             ") does not fit: ", free_mib, " MiB free there; free space or pass smaller windows"));
  }
  size_t cold_window = 0;
  if (pmem2::bench::HasColdPattern(options.patterns)) {
    cold_window = cold_window_mib << 20;
    if (cold_window == 0) {
      cold_window =
          pmem2::bench::ColdWindowBytes(pmem2::bench::LastLevelCacheBytes(), pmem2::bench::AvailableMemoryBytes(),
                                        pmem2::bench::FreeBytes("/dev/shm"));
    }
  }

  // Pinned before the file's pages are allocated and faulted in, so that on a host of several memory nodes they
  // are the timed CPU's; Measure pins again and reports how that went.
  if (const int cpu = absl::GetFlag(FLAGS_cpu); cpu != -2) {
    if (absl::StatusOr<int> pinned = pmem2::bench::PinToCpu(cpu); !pinned.ok()) {
      return Fail(std::string(pinned.status().message()));
    }
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::unique_ptr<pmem2::bench::Destinations>> destinations =
      pmem2::bench::Destinations::ForComparison(window_mib << 20, cold_window,
                                                absl::GetFlag(FLAGS_own_mappings) ? pmem2::bench::MappingUse::kOwn
                                                                                  : pmem2::bench::MappingUse::kShared);
  if (!destinations.ok()) return Fail(std::string(destinations.status().message()));
  std::cerr << "compare_benchmark: timing (progress below; the table follows)\n";
  absl::StatusOr<pmem2::bench::Measurement> m =
      pmem2::bench::Measure(**destinations, absl::GetFlag(FLAGS_cpu), pmem2::bench::Pinning::kRequired, options);
  if (!m.ok()) return Fail(std::string(m.status().message()));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m->notes.push_back(absl::StrCat("run took ", static_cast<int>(seconds), " s"));
  const pmem2::bench::CpuKind& cpu = pmem2::bench::ThisCpuKind();
  std::cout << pmem2::bench::FormatTable(m->rows, m->notes,
                                         pmem2::bench::TargetsFor(cpu.vendor, cpu.family, cpu.model));
  if (const std::string summary = pmem2::bench::FormatPatternSummary(m->rows); !summary.empty()) {
    std::cout << "\n" << summary;
  }
  if (strategies->print) {
    if (const std::string timings = pmem2::bench::FormatStrategies(m->rows); !timings.empty()) {
      std::cout << "\n" << timings;
    }
  }
  return 0;
}
