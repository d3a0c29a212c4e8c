// Copyright 2026 The pmem2 Authors.
//
// tools/bench/statistics.cc
// -----------------------------------------------------------------------------
//
// Medians, interquartile ranges and the reporter that gathers the repetitions (see statistics.h).

#include "tools/bench/statistics.h"

#include <algorithm>

namespace pmem2 {
namespace bench {

Summary Summarize(std::vector<double> values) {
  Summary s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  auto quantile = [&values](double q) {
    const double pos = q * static_cast<double>(values.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, values.size() - 1);
    return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
  };
  s.median = quantile(0.5);
  s.spread = s.median > 0 ? (quantile(0.75) - quantile(0.25)) / s.median : NAN;
  return s;
}

void SampleCollector::ReportRuns(const std::vector<Run>& runs) {
  for (const Run& run : runs) {
    if (run.run_type != Run::RT_Iteration) continue;
    Samples& s = (*samples_)[run.run_name.function_name];
    if (run.error_occurred) {
      s.error = run.error_message;
      continue;
    }
    s.real_ns.push_back(run.GetAdjustedRealTime());
    s.cpu_ns.push_back(run.GetAdjustedCPUTime());
    if (progress_ != nullptr && ++reports_ % kProgressEvery == 0) {
      *progress_ << "  measured " << reports_ << " repetitions (" << total_ << " benchmarks)\n";
      progress_->flush();
    }
  }
}

}  // namespace bench
}  // namespace pmem2
