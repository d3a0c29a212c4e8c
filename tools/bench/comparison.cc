// Copyright 2026 The pmem2 Authors.
//
// tools/bench/comparison.cc
// -----------------------------------------------------------------------------
//
// The runner: which cases each lane gets, their registration and interleaved run, and the rows of the table
// (see comparison.h).

#include "tools/bench/comparison.h"

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "tools/bench/statistics.h"
#include "tools/bench/timing.h"

namespace pmem2 {
namespace bench {
namespace {

// One row of the table: an op of one size on one lane, timed once per side.
struct Case {
  std::string op;
  const Lane* lane;
  size_t size;
  std::string limit_kind;  // the table's "limit" column
};

std::string BenchmarkName(const Case& c, Side side) {
  return absl::StrCat(c.op, "/", c.lane->granularity, "/", c.size, "/", SideName(side));
}

std::vector<Case> ListCases(const Destinations& destinations, const RunOptions& options) {
  std::vector<Case> cases;
  for (const Lane& lane : destinations.lanes()) {
    for (const char* op : {"memcpy", "memset"}) {
      if (lane.memcpy_only && std::strcmp(op, "memcpy") != 0) continue;
      for (size_t n : lane.memcpy_only ? options.byte_sizes : options.copy_sizes) {
        if (n > lane.window || n > destinations.source_size() || n % 64 != 0) continue;
        cases.push_back(Case{op, &lane, n, lane.copy_limit});
      }
    }
    if (lane.memcpy_only) continue;
    for (size_t n : options.persist_sizes) {
      if (n > lane.window) continue;
      cases.push_back(Case{"persist", &lane, n, lane.persist_limit});
    }
  }
  return cases;
}

// Registers every side of every case; returns how many benchmarks there are.
size_t RegisterCases(const std::vector<Case>& cases, const char* source) {
  benchmark::ClearRegisteredBenchmarks();
  size_t registered = 0;
  for (const Case& c : cases) {
    for (Side side : kSides) {
      TimedCall call;
      call.name = BenchmarkName(c, side);
      call.op = c.op;
      call.target = TargetOf(*c.lane, side);
      call.glibc = side == kLimit && c.lane->limit_kind == LimitKind::kGlibc;
      call.window = c.lane->window;
      call.source = source;
      call.size = c.size;
      call.cpu_time = c.lane->cpu_time;
      registered += RegisterTimedCall(call) ? 1 : 0;
    }
  }
  return registered;
}

// Hands Google Benchmark the run's flags. Fails on a flag it does not know.
absl::Status InitializeBenchmark(const RunOptions& options) {
  std::vector<std::string> flags = {
      "pmem2-bench",
      absl::StrCat("--benchmark_repetitions=", options.repetitions),
      absl::StrCat("--benchmark_min_time=", options.min_time),
      "--benchmark_enable_random_interleaving=true",
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
    Summary summary[3];
    bool any = false;
    for (Side side : kSides) {
      auto it = samples.find(BenchmarkName(c, side));
      if (it == samples.end()) continue;
      if (!it->second.error.empty()) {
        return absl::InternalError(absl::StrCat(BenchmarkName(c, side), ": ", it->second.error));
      }
      summary[side] = Summarize(c.lane->cpu_time ? it->second.cpu_ns : it->second.real_ns);
      any = true;
    }
    if (!any) continue;  // filtered out
    Row row;
    row.op = c.op;
    row.granularity = c.lane->granularity;
    row.size = c.size;
    row.limit_kind = c.limit_kind;
    row.on_tmpfs = c.lane->on_tmpfs;
    row.pmem2_ns = summary[kPmem2].median;
    row.reference_ns = summary[kReference].median;
    row.limit_ns = summary[kLimit].median;
    row.pmem2_spread = summary[kPmem2].spread;
    row.reference_spread = summary[kReference].spread;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

std::vector<size_t> DefaultCopySizes() { return {64, 128, 256, 4096, 64 << 10, 2 << 20, 64 << 20}; }

std::vector<size_t> DefaultPersistSizes() { return {64, 4096, 2 << 20}; }

absl::StatusOr<std::vector<Row>> RunComparison(const Destinations& destinations, const RunOptions& options) {
  const std::vector<Case> cases = ListCases(destinations, options);
  const size_t registered = RegisterCases(cases, destinations.source());
  if (absl::Status s = InitializeBenchmark(options); !s.ok()) {
    benchmark::ClearRegisteredBenchmarks();
    return s;
  }
  std::map<std::string, Samples> samples;
  SampleCollector collector(&samples, options.progress, registered);
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::ClearRegisteredBenchmarks();
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
  for (size_t n : {size_t{64}, size_t{4096}}) {
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
  absl::StatusOr<std::vector<Row>> rows = RunComparison(destinations, options);
  if (!rows.ok()) return rows.status();
  m.rows = *std::move(rows);
  return m;
}

}  // namespace bench
}  // namespace pmem2
