// Copyright 2026 The pmem2 Authors.
//
// tools/bench/statistics.h
// -----------------------------------------------------------------------------
//
// The figures of the table: every repetition Google Benchmark runs is kept (SampleCollector), and each
// (case, side) is reduced to its median and its spread, the interquartile range over the median (Summarize).
// Aggregates are computed here rather than by Google Benchmark, so one repetition works too.

#ifndef PMEM2_TOOLS_BENCH_STATISTICS_H_
#define PMEM2_TOOLS_BENCH_STATISTICS_H_

#include <cmath>
#include <cstddef>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"

namespace pmem2 {
namespace bench {

// The repetitions of one benchmark.
struct Samples {
  std::vector<double> real_ns;  // time per call of each repetition
  std::vector<double> cpu_ns;
  std::string error;  // non-empty if a repetition reported an error
};

struct Summary {
  double median = NAN;
  double spread = NAN;  // (third quartile - first quartile) / median; NaN if the median is not positive
};

// Median and spread of `values`, quartiles by linear interpolation between order statistics. NaNs if empty.
Summary Summarize(std::vector<double> values);

// A Google Benchmark reporter that files every repetition under its benchmark's name in `samples` and, if
// `progress` is not null, prints a line there every 100 repetitions (of `total` benchmarks).
class SampleCollector : public benchmark::BenchmarkReporter {
 public:
  SampleCollector(std::map<std::string, Samples>* samples, std::ostream* progress, size_t total)
      : samples_(samples), progress_(progress), total_(total) {}

  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override;

 private:
  static constexpr size_t kProgressEvery = 100;
  std::map<std::string, Samples>* samples_;
  std::ostream* progress_;
  size_t total_;
  size_t reports_ = 0;
};

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_STATISTICS_H_
