// Copyright 2026 The pmem2 Authors.
//
// tools/bench/options_test.cc
// -----------------------------------------------------------------------------
//
// --patterns, --strategies, --sizes and the run's values: what they accept, and errors that name the bad value.

#include "tools/bench/options.h"

#include <sched.h>

#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/limit_kernels.h"

namespace pmem2 {
namespace bench {
namespace {

using ::testing::HasSubstr;

TEST(OptionsTest, HasColdPatternIsTrueForSeqRandOrMove) {
  EXPECT_FALSE(HasColdPattern({Pattern::kHot}));
  EXPECT_FALSE(HasColdPattern({Pattern::kHot, Pattern::kSame})) << "same writes the hot window";
  EXPECT_TRUE(HasColdPattern({Pattern::kSeq}));
  EXPECT_TRUE(HasColdPattern({Pattern::kHot, Pattern::kRand}));
  EXPECT_TRUE(HasColdPattern({Pattern::kMove})) << "move copies within the cold window";
}

// Both front ends check these with this one function (compare_benchmark accepted --cpu=-3 and pinned to the last CPU).
TEST(RunValuesTest, ErrorsNameTheBadValue) {
  EXPECT_TRUE(CheckRunValues(1, 0.001, -2).ok());
  EXPECT_TRUE(CheckRunValues(kMaxRepetitions, kMaxMinTime, -1).ok());
  for (int repetitions : {0, -1, kMaxRepetitions + 1, 100000000}) {
    absl::Status s = CheckRunValues(repetitions, 0.1, -1);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.message()), HasSubstr(absl::StrCat("--repetitions=", repetitions, ":")));
  }
  for (double min_time : {0.0, -1.0, kMaxMinTime * 2, std::numeric_limits<double>::infinity(),
                          std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_THAT(std::string(CheckRunValues(1, min_time, -1).message()), HasSubstr("--min_time=")) << min_time;
  }
  EXPECT_THAT(std::string(CheckRunValues(1, 0.1, -3).message()), HasSubstr("--cpu=-3:"));
  EXPECT_THAT(std::string(CheckRunValues(1, 0.1, CPU_SETSIZE + 7).message()),
              HasSubstr(absl::StrCat("--cpu=", CPU_SETSIZE + 7, ": not a CPU this process may run on")));
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    EXPECT_EQ(CheckRunValues(1, 0.1, cpu).ok(), CPU_ISSET(cpu, &allowed) != 0) << cpu;
  }
}

TEST(PatternsTest, AnySubsetInTheTablesOrder) {
  EXPECT_EQ(*ParsePatterns(kDefaultPatterns), (std::vector<Pattern>{Pattern::kHot, Pattern::kSeq, Pattern::kRand}));
  EXPECT_EQ(*ParsePatterns("rand,hot"), (std::vector<Pattern>{Pattern::kHot, Pattern::kRand}));
  EXPECT_EQ(*ParsePatterns(" seq "), (std::vector<Pattern>{Pattern::kSeq}));
  EXPECT_EQ(*ParsePatterns("same,hot"), (std::vector<Pattern>{Pattern::kHot, Pattern::kSame}))
      << "same only on request, after the others";
  EXPECT_EQ(*ParsePatterns("move,same,seq"), (std::vector<Pattern>{Pattern::kSeq, Pattern::kSame, Pattern::kMove}));
}

TEST(PatternsTest, ErrorsNameTheBadValue) {
  absl::StatusOr<std::vector<Pattern>> r = ParsePatterns("hot,cold");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("--patterns=hot,cold"));
  EXPECT_THAT(r.status().message(), HasSubstr("unknown pattern \"cold\""));
  EXPECT_THAT(r.status().message(), HasSubstr("hot, seq, rand, same, move"));
  EXPECT_THAT(ParsePatterns("seq,seq").status().message(), HasSubstr("\"seq\" is listed twice"));
  EXPECT_THAT(ParsePatterns("hot,,rand").status().message(), HasSubstr("empty name"));
  EXPECT_THAT(ParsePatterns("").status().message(), HasSubstr("empty name"));
  EXPECT_FALSE(ParsePatterns("HOT").ok()) << "names are lower case, as printed";
}

TEST(SizesTest, BytesAndSuffixesInTheOrderGiven) {
  EXPECT_THAT(*ParseSizes("512,1K, 2K,4096,2M"),
              ::testing::ElementsAre(512u, 1024u, 2048u, 4096u, size_t{2} << 20));
  EXPECT_THAT(*ParseSizes("1024M"), ::testing::ElementsAre(size_t{1} << 30));
  EXPECT_THAT(*ParseSizes("8,16,56,64"), ::testing::ElementsAre(8u, 16u, 56u, 64u)) << "records below a line";
}

TEST(SizesTest, ErrorsNameTheBadValue) {
  for (const char* bad : {"", "64,", "0", "-64", "1.5K", "4k", "K", "1025M", "2G", "64,64", "1K,1024", "100", "12", "4",
                          "72", "9999999999999999999999"}) {
    const absl::StatusOr<std::vector<size_t>> sizes = ParseSizes(bad);
    ASSERT_FALSE(sizes.ok()) << bad;
    EXPECT_EQ(sizes.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(sizes.status().message()), ::testing::HasSubstr(absl::StrCat("--sizes=", bad, ":")));
  }
}

TEST(StrategiesTest, EmptyPrintsNothingAndTimesAll) {
  const StrategySelection s = *ParseStrategies("", {"nt", "store+clwb"});
  EXPECT_FALSE(s.print);
  EXPECT_TRUE(s.names.empty());
}

TEST(StrategiesTest, AllPrintsAndTimesAll) {
  const StrategySelection s = *ParseStrategies("all", {"nt", "store+clwb"});
  EXPECT_TRUE(s.print);
  EXPECT_TRUE(s.names.empty());
}

TEST(StrategiesTest, AListPrintsAndTimesThose) {
  const StrategySelection s = *ParseStrategies("store+clwb, nt", {"nt", "store+clwb", "movdir64b"});
  EXPECT_TRUE(s.print);
  EXPECT_EQ(s.names, (std::vector<std::string>{"store+clwb", "nt"}));
}

TEST(StrategiesTest, ErrorsNameTheBadValue) {
  const std::vector<std::string> available = {"nt", "store+clwb"};
  absl::Status unknown = ParseStrategies("nt,fast", available).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.message(), HasSubstr("--strategies=nt,fast"));
  EXPECT_THAT(unknown.message(), HasSubstr("unknown strategy \"fast\""));
  EXPECT_THAT(unknown.message(), HasSubstr("nt, store+clwb"));
  absl::Status absent = ParseStrategies("movdir64b", available).status();
  EXPECT_THAT(absent.message(), HasSubstr("\"movdir64b\" is not available on this CPU"));
  EXPECT_THAT(ParseStrategies("nt,nt", available).status().message(), HasSubstr("\"nt\" is listed twice"));
  EXPECT_THAT(ParseStrategies("nt,", available).status().message(), HasSubstr("empty name"));
}

TEST(StrategiesTest, ThisCpusStrategiesAreAccepted) {
  const std::vector<std::string> available = AvailableStrategyNames();
  ASSERT_FALSE(available.empty());
  EXPECT_EQ(available.size(), CacheLineLimitStrategies().size());
  for (const std::string& name : available) EXPECT_TRUE(ParseStrategies(name, available).ok()) << name;
}

// `pmem2 --help` once listed six of the nine x86-64 names by hand; the description now comes from the lists.
TEST(StrategiesTest, TheHelpNamesEveryKnownStrategyAndThisCpusOnes) {
  const std::string help = DescribeStrategyNames();
  for (const char* name : {"nt-avx512", "store+clflush", "store-all+clflush", "movdir64b"}) {
    EXPECT_THAT(help, HasSubstr(name));
  }
  for (const std::string& name : KnownLimitStrategyNames()) EXPECT_THAT(help, HasSubstr(name));
  std::string cpu;
  for (const std::string& name : AvailableStrategyNames()) absl::StrAppend(&cpu, cpu.empty() ? "" : ", ", name);
  EXPECT_THAT(help, HasSubstr(absl::StrCat("(this CPU: ", cpu, ")")));
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
