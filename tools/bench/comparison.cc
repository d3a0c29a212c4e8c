// Copyright 2026 The pmem2 Authors.
//
// tools/bench/comparison.cc
// -----------------------------------------------------------------------------
//
// The runner: which cases each lane gets, their registration and interleaved run, and the rows of the table
// (see comparison.h).

#include "tools/bench/comparison.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "benchmark/benchmark.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/statistics.h"
#include "tools/bench/timing.h"

namespace pmem2 {
namespace bench {
namespace {

// One row of the table: an op of one size on one lane in one pattern, timed once per side (the limit once per
// strategy).
struct Case {
  std::string op;
  const Lane* lane;
  size_t size;
  Pattern pattern;
  std::vector<const CopyStrategy*> strategies;  // copy and fill rows; empty for persist
};

// The limit's columns: "limit" for persist, "limit:<strategy>" for copies and fills.
std::string SideLabel(Side side, const CopyStrategy* strategy) {
  if (side != kLimit || strategy == nullptr) return SideName(side);
  return absl::StrCat("limit:", strategy->name);
}

std::string BenchmarkName(const Case& c, Side side, const CopyStrategy* strategy = nullptr) {
  return absl::StrCat(c.op, "/", c.lane->granularity, "/", c.size, "/", PatternName(c.pattern), "/",
                      SideLabel(side, strategy));
}

// The lane's strategies that `options` asks for: at cache-line granularity those named (all if none are, or if
// none of the names is the lane's), elsewhere all of the lane's.
std::vector<const CopyStrategy*> SelectStrategies(const Lane& lane, const RunOptions& options) {
  std::vector<const CopyStrategy*> all;
  std::vector<const CopyStrategy*> chosen;
  for (const CopyStrategy& s : lane.copy_strategies) {
    all.push_back(&s);
    if (std::find(options.strategies.begin(), options.strategies.end(), s.name) != options.strategies.end()) {
      chosen.push_back(&s);
    }
  }
  return lane.granularity == "cache_line" && !chosen.empty() ? chosen : all;
}

std::vector<Case> ListCases(const Destinations& destinations, const RunOptions& options) {
  std::vector<Case> cases;
  for (Pattern pattern : options.patterns) {
    const bool hot = pattern == Pattern::kHot;
    for (const Lane& lane : destinations.lanes()) {
      // move: its destinations' half of the cold window (a copy must fit there).
      const size_t window = !IsCold(pattern)            ? lane.window
                            : pattern == Pattern::kMove ? MoveWindow(lane.cold_window)
                                                        : lane.cold_window;
      if (window == 0) continue;  // a lane measured hot only
      if (lane.memcpy_only && !hot) continue;  // the byte lane: hot only
      const std::vector<const CopyStrategy*> strategies = SelectStrategies(lane, options);
      for (const char* op : {"memcpy", "memset"}) {
        if ((lane.memcpy_only || pattern == Pattern::kMove) && std::strcmp(op, "memcpy") != 0) continue;
        // A strategy for copies only (no memset: nt-avx512-batch) is not timed as a fill.
        std::vector<const CopyStrategy*> for_op;
        for (const CopyStrategy* s : strategies) {
          if (std::strcmp(op, "memset") != 0 || s->memset != nullptr) for_op.push_back(s);
        }
        // Only copy strategies asked for (--strategies=nt-avx512-batch): no limit to time fills against. (An empty
        // list would mean the lane's own limit, a strategy the user left out.)
        if (for_op.empty() && !strategies.empty()) continue;
        for (size_t n : lane.memcpy_only ? options.byte_sizes : options.copy_sizes) {
          if (n > window || n > destinations.source_size() || !LimitKernelsTake(n)) continue;
          cases.push_back(Case{op, &lane, n, pattern, for_op});
        }
      }
      if (lane.memcpy_only || !hot) continue;
      for (size_t n : options.persist_sizes) {
        if (n > lane.window) continue;
        cases.push_back(Case{"persist", &lane, n, pattern, {}});
      }
    }
  }
  return cases;
}

// Registers every side of every case; returns how many benchmarks there are. `cold` is shared by every seq and
// rand benchmark and must outlive the run.
size_t RegisterCases(const std::vector<Case>& cases, const char* source, ColdState* cold) {
  benchmark::ClearRegisteredBenchmarks();
  size_t registered = 0;
  for (const Case& c : cases) {
    auto add = [&](Side side, const CopyStrategy* strategy) {
      TimedCall call;
      call.name = BenchmarkName(c, side, strategy);
      call.op = c.op;
      call.target = strategy != nullptr ? StrategyTarget(*c.lane, *strategy) : TargetOf(*c.lane, side);
      call.glibc = side == kLimit && c.lane->limit_kind == LimitKind::kGlibc;
      call.pattern = c.pattern;
      call.window = IsCold(c.pattern) ? c.lane->cold_window : c.lane->window;
      if (IsCold(c.pattern)) call.target.base += c.lane->cold_offset;
      call.cold = cold;
      call.source = source;
      call.size = c.size;
      call.cpu_time = c.lane->cpu_time;
      registered += RegisterTimedCall(call) ? 1 : 0;
    };
    add(kPmem2, nullptr);
    add(kReference, nullptr);
    if (c.strategies.empty()) {
      add(kLimit, nullptr);
    } else {
      for (const CopyStrategy* s : c.strategies) add(kLimit, s);
    }
  }
  return registered;
}

// The Google Benchmark flags the method sets (comparison.h), or that would leave the table wrong: another time unit
// (the columns say ns, and the byte lane's target is in ns) or aggregates only (the table is made of every
// repetition). With the tool's own flag for each, where there is one.
constexpr std::pair<const char*, const char*> kRefusedBenchmarkFlags[] = {
    {"--benchmark_repetitions", "--repetitions"},        {"--benchmark_min_time", "--min_time"},
    {"--benchmark_enable_random_interleaving", nullptr}, {"--benchmark_time_unit", nullptr},
    {"--benchmark_display_aggregates_only", nullptr},    {"--benchmark_report_aggregates_only", nullptr},
};

// Hands Google Benchmark the run's flags. Fails on a flag it does not know, and on one the method sets.
absl::Status InitializeBenchmark(const RunOptions& options) {
  for (const std::string& flag : options.benchmark_flags) {
    for (const auto& [name, ours] : kRefusedBenchmarkFlags) {
      if (flag != name && !absl::StartsWith(flag, absl::StrCat(name, "="))) continue;
      return absl::InvalidArgumentError(absl::StrCat(flag,
                                                     ": set by this tool (the method of tools/bench/comparison.h)",
                                                     ours != nullptr ? absl::StrCat("; use ", ours) : std::string()));
    }
  }
  std::vector<std::string> flags = {
      "pmem2-bench",
      absl::StrCat("--benchmark_repetitions=", options.repetitions),
      absl::StrCat("--benchmark_min_time=", options.min_time),
      "--benchmark_enable_random_interleaving=true",
      "--benchmark_filter=.",  // Google Benchmark keeps flags between runs of a process: an earlier run's goes
  };
  flags.insert(flags.end(), options.benchmark_flags.begin(), options.benchmark_flags.end());
  std::vector<char*> argv;
  for (std::string& f : flags) argv.push_back(f.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(flags.size());
  benchmark::Initialize(&argc, argv.data());
  if (argc > 1) return absl::InvalidArgumentError(absl::StrCat("unknown benchmark flag: ", argv[1]));
  return absl::OkStatus();
}

// One row per case with a measured side; an error if any side reported one.
absl::StatusOr<std::vector<Row>> MakeRows(const std::vector<Case>& cases,
                                          const std::map<std::string, Samples>& samples) {
  std::vector<Row> rows;
  for (const Case& c : cases) {
    bool any = false;
    absl::Status error;
    // The summary of one side's repetitions; NaNs if it was not run (filtered out).
    auto summarize = [&](Side side, const CopyStrategy* strategy) {
      auto it = samples.find(BenchmarkName(c, side, strategy));
      if (it == samples.end()) return Summary();
      if (!it->second.error.empty() && error.ok()) {
        error = absl::InternalError(absl::StrCat(BenchmarkName(c, side, strategy), ": ", it->second.error));
      }
      any = true;
      return Summarize(c.lane->cpu_time ? it->second.cpu_ns : it->second.real_ns);
    };
    Row row;
    row.pattern = PatternName(c.pattern);
    row.op = c.op;
    row.granularity = c.lane->granularity;
    row.size = c.size;
    row.on_tmpfs = c.lane->on_tmpfs;
    const Summary pmem2 = summarize(kPmem2, nullptr);
    const Summary reference = summarize(kReference, nullptr);
    if (c.strategies.empty()) {
      row.limit_ns = summarize(kLimit, nullptr).median;
      row.limit_kind = c.lane->persist_limit;
    } else {
      for (const CopyStrategy* s : c.strategies) {
        const Summary limit = summarize(kLimit, s);
        row.strategies.push_back(StrategyTime{s->name, limit.median, limit.spread});
      }
      PickLimit(&row);
    }
    if (!error.ok()) return error;
    if (!any) continue;  // filtered out
    row.pmem2_ns = pmem2.median;
    row.reference_ns = reference.median;
    row.pmem2_spread = pmem2.spread;
    row.reference_spread = reference.spread;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

std::vector<size_t> DefaultCopySizes() { return {64, 128, 256, 4096, 64 << 10, 2 << 20, 64 << 20}; }

std::vector<size_t> DefaultPersistSizes() { return {64, 4096, 2 << 20}; }

absl::StatusOr<std::vector<Row>> RunComparison(const Destinations& destinations, const RunOptions& options) {
  const std::vector<Case> cases = ListCases(destinations, options);
  ColdState cold;
  const size_t registered = RegisterCases(cases, destinations.source(), &cold);
  if (absl::Status s = InitializeBenchmark(options); !s.ok()) {
    benchmark::ClearRegisteredBenchmarks();
    return s;
  }
  std::map<std::string, Samples> samples;
  SampleCollector collector(&samples, options.progress, registered);
  const size_t ran = benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::ClearRegisteredBenchmarks();
  if (ran == 0) {
    return absl::InvalidArgumentError(
        "no benchmark ran: the --benchmark_filter (or the sizes and patterns asked for) left none");
  }
  return MakeRows(cases, samples);
}

absl::StatusOr<int> PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
      const int err = errno;
      return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat("sched_getaffinity: ", std::strerror(err)));
    }
    for (int i = CPU_SETSIZE - 1; i >= 0; --i) {
      if (CPU_ISSET(i, &allowed)) {
        cpu = i;
        break;
      }
    }
    if (cpu < 0) return absl::FailedPreconditionError("no CPU in this thread's affinity mask");
  }
  if (cpu >= CPU_SETSIZE) return absl::InvalidArgumentError(absl::StrCat("CPU ", cpu, " is out of range"));
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    const int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat("sched_setaffinity to CPU ", cpu, ": ", std::strerror(err)));
  }
  return cpu;
}

absl::StatusOr<Measurement> Measure(const Destinations& destinations, int cpu, Pinning pinning,
                                    const RunOptions& options) {
  // A size no lane can time would leave no row and no word: refused, naming the largest.
  size_t largest_window = 0;
  for (const Lane& lane : destinations.lanes()) {
    if (!lane.memcpy_only) largest_window = std::max({largest_window, lane.window, lane.cold_window});
  }
  const size_t largest = std::min(largest_window, destinations.source_size());
  for (size_t n : options.copy_sizes) {
    if (options.copy_sizes_given && n > largest) {
      return absl::InvalidArgumentError(absl::StrCat("copy size ", n, " is larger than this run can time (", largest,
                                                     " bytes: the source buffer, at most 64 MiB, and the windows)"));
    }
  }
  std::vector<size_t> verified = {64, 4096};
  for (size_t n : options.copy_sizes) {
    if (n < 64 && LimitKernelsTake(n)) verified.push_back(n);  // records below a line: their own code paths
  }
  for (size_t n : verified) {
    if (absl::Status s = destinations.VerifySameBytes(n); !s.ok()) return s;
  }
  Measurement m;
  m.notes = destinations.notes();
  if (cpu != -2) {
    absl::StatusOr<int> pinned = PinToCpu(cpu);
    if (!pinned.ok() && pinning == Pinning::kRequired) return pinned.status();
    m.notes.push_back(pinned.ok() ? absl::StrCat("pinned to CPU ", *pinned)
                                  : absl::StrCat("not pinned: ", pinned.status().message()));
  }
  m.notes.push_back(absl::StrCat("medians of ", options.repetitions, " randomly interleaved repetitions of >= ",
                                 options.min_time, " s each (Google Benchmark)"));
  std::vector<std::string> patterns;
  for (Pattern p : options.patterns) patterns.push_back(PatternName(p));
  m.notes.push_back(
      absl::StrCat("patterns: ", absl::StrJoin(patterns, ", "), " (persist and the byte lane: hot only)"));
  for (const Lane& lane : destinations.lanes()) {
    if (lane.copy_strategies.size() < 2) continue;
    std::vector<std::string> names;
    for (const CopyStrategy* s : SelectStrategies(lane, options)) {
      names.push_back(s->memset != nullptr ? s->name : absl::StrCat(s->name, " (copies only)"));
    }
    m.notes.push_back(absl::StrCat("limit of the ", lane.granularity, " copies and fills: the fastest of ",
                                   absl::StrJoin(names, ", "), " (per row; the \"limit\" column names it)"));
  }
  absl::StatusOr<std::vector<Row>> rows = RunComparison(destinations, options);
  if (!rows.ok()) return rows.status();
  m.rows = *std::move(rows);
  return m;
}

}  // namespace bench
}  // namespace pmem2
