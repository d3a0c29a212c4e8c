// Copyright 2026 The pmem2 Authors.
//
// tools/bench/statistics_test.cc
// -----------------------------------------------------------------------------
//
// The table's figures on made-up repetitions: medians and interquartile ranges with interpolated quartiles,
// and the reporter that files every repetition (not Google Benchmark's aggregates) under its benchmark.

#include "tools/bench/statistics.h"

#include <cmath>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pmem2 {
namespace bench {
namespace {

TEST(SummarizeTest, NothingMeasuredIsNaN) {
  const Summary s = Summarize({});
  EXPECT_TRUE(std::isnan(s.median));
  EXPECT_TRUE(std::isnan(s.spread));
}

TEST(SummarizeTest, OneRepetitionHasNoSpread) {
  const Summary s = Summarize({7.5});
  EXPECT_DOUBLE_EQ(s.median, 7.5);
  EXPECT_DOUBLE_EQ(s.spread, 0.0);
}

TEST(SummarizeTest, QuartilesInterpolateBetweenOrderStatistics) {
  // Sorted: 1 2 3 4. Median at position 1.5 -> 2.5; quartiles at 0.75 -> 1.75 and 2.25 -> 3.25.
  const Summary s = Summarize({4, 1, 3, 2});
  EXPECT_DOUBLE_EQ(s.median, 2.5);
  EXPECT_DOUBLE_EQ(s.spread, (3.25 - 1.75) / 2.5);
}

TEST(SummarizeTest, OneOutlierMovesNeitherMedianNorSpread) {
  const Summary calm = Summarize({10, 20, 30, 40, 50});
  const Summary noisy = Summarize({10, 20, 30, 40, 5000});
  EXPECT_DOUBLE_EQ(calm.median, 30);
  EXPECT_DOUBLE_EQ(noisy.median, 30);
  EXPECT_DOUBLE_EQ(calm.spread, (40.0 - 20.0) / 30.0);
  EXPECT_DOUBLE_EQ(noisy.spread, calm.spread);
}

TEST(SummarizeTest, SpreadOfAZeroMedianIsNaN) {
  EXPECT_TRUE(std::isnan(Summarize({0, 0, 0}).spread));
}

benchmark::BenchmarkReporter::Run MakeRun(const std::string& name, double real_ns, double cpu_ns) {
  benchmark::BenchmarkReporter::Run run;
  run.run_name.function_name = name;
  run.iterations = 10;
  run.time_unit = benchmark::kNanosecond;
  run.real_accumulated_time = real_ns * 10 / 1e9;  // seconds, over all iterations
  run.cpu_accumulated_time = cpu_ns * 10 / 1e9;
  return run;
}

TEST(SampleCollectorTest, KeepsEveryRepetitionPerBenchmarkAndSkipsAggregates) {
  std::map<std::string, Samples> samples;
  SampleCollector collector(&samples, nullptr, 2);
  benchmark::BenchmarkReporter::Run mean = MakeRun("a", 999, 999);
  mean.run_type = benchmark::BenchmarkReporter::Run::RT_Aggregate;
  collector.ReportRuns({MakeRun("a", 100, 90), MakeRun("b", 200, 180), mean});
  collector.ReportRuns({MakeRun("a", 110, 95)});
  ASSERT_EQ(samples.size(), 2u);
  ASSERT_EQ(samples["a"].real_ns.size(), 2u);
  EXPECT_NEAR(samples["a"].real_ns[0], 100, 1e-6);
  EXPECT_NEAR(samples["a"].real_ns[1], 110, 1e-6);
  EXPECT_NEAR(samples["a"].cpu_ns[1], 95, 1e-6);
  ASSERT_EQ(samples["b"].cpu_ns.size(), 1u);
  EXPECT_NEAR(samples["b"].cpu_ns[0], 180, 1e-6);
  EXPECT_TRUE(samples["a"].error.empty());
}

TEST(SampleCollectorTest, RecordsAnErrorAndPrintsProgressEveryHundredRepetitions) {
  std::map<std::string, Samples> samples;
  std::ostringstream progress;
  SampleCollector collector(&samples, &progress, 3);
  benchmark::BenchmarkReporter::Run failed = MakeRun("f", 1, 1);
  failed.error_occurred = true;
  failed.error_message = "mmap failed";
  collector.ReportRuns({failed});
  EXPECT_EQ(samples["f"].error, "mmap failed");
  EXPECT_TRUE(samples["f"].real_ns.empty());
  for (int i = 0; i < 99; ++i) collector.ReportRuns({MakeRun("g", 1, 1)});
  EXPECT_EQ(progress.str(), "");
  collector.ReportRuns({MakeRun("g", 1, 1)});
  EXPECT_EQ(progress.str(), "  measured 100 repetitions (3 benchmarks)\n");
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
