// Copyright 2026 The pmem2 Authors.
//
// tools/bench/options_test.cc
// -----------------------------------------------------------------------------
//
// --patterns, --strategies and --sizes: what they accept, and errors that name the bad value.

#include "tools/bench/options.h"

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
