// Copyright 2026 The pmem2 Authors.
//
// `pmem2 bench`: argument errors come before anything is written, and a short run on a new file prints the
// table, writes the plot and removes the file it created. No timing claims.

#include "tools/bench/bench_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace bench {
namespace {

using ::testing::HasSubstr;

class BenchCommandTest : public ::testing::Test {
 protected:
  BenchCommandTest() {
    options_.run.copy_sizes = {4096};
    options_.run.persist_sizes = {64};
    options_.run.repetitions = 1;
    options_.run.min_time = 0.001;
    options_.create_size = 1 << 20;
    options_.cpu = -2;
  }

  absl::Status Error(const std::vector<std::string>& args) {
    absl::StatusOr<std::string> r = RunBenchCommand(args, options_);
    return r.ok() ? absl::OkStatus() : r.status();
  }

  bool Exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
  }

  testing::ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  testing::ScopedTempDir dir_{"/dev/shm"};
  BenchCommandOptions options_;
};

TEST_F(BenchCommandTest, NeedsExactlyOnePath) {
  EXPECT_THAT(Error({}).message(), HasSubstr("bench needs a PATH"));
  EXPECT_EQ(Error({}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Error({dir_.Join("a"), dir_.Join("b")}).message(), HasSubstr("exactly one PATH, got 2"));
  EXPECT_FALSE(Exists(dir_.Join("a")));
}

TEST_F(BenchCommandTest, PlotMustBeAnSvgInAWritableFolder) {
  const std::string path = dir_.Join("f");
  options_.plot = dir_.Join("plot.png");
  EXPECT_THAT(Error({path}).message(), HasSubstr("name it FILE.svg"));
  options_.plot = dir_.Join("missing/plot.svg");
  EXPECT_THAT(Error({path}).message(), HasSubstr("does not exist"));
  options_.plot = dir_.path() + "/";
  EXPECT_EQ(Error({path}).code(), absl::StatusCode::kInvalidArgument);
  mkdir(dir_.Join("d.svg").c_str(), 0755);
  options_.plot = dir_.Join("d.svg");
  EXPECT_THAT(Error({path}).message(), HasSubstr("is a directory"));
  EXPECT_FALSE(Exists(path)) << "nothing may be created before the arguments are checked";
}

TEST_F(BenchCommandTest, RepetitionsAndMinTimeMustBePositive) {
  options_.run.repetitions = 0;
  EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr("--repetitions"));
  options_.run.repetitions = 1;
  options_.run.min_time = 0;
  EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr("--min_time"));
}

TEST_F(BenchCommandTest, RefusesADirectory) {
  EXPECT_THAT(Error({dir_.path()}).message(), HasSubstr("is a directory"));
}

TEST_F(BenchCommandTest, RefusesToOverwriteAnExistingFileUnlessAsked) {
  const std::string path = dir_.Join("precious");
  {
    std::ofstream out(path);
    out << "keep me";
  }
  const absl::Status s = Error({path});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("--overwrite"));
  std::ifstream in(path);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "keep me");
}

TEST_F(BenchCommandTest, ShortRunOnANewFilePrintsTheTableAndThePlot) {
  const std::string path = dir_.Join("bench");
  options_.plot = dir_.Join("plot.svg");
  absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(*table, HasSubstr("mapped by pmem2 at page granularity"));
  EXPECT_THAT(*table, HasSubstr("memcpy   page         4 KiB"));
  EXPECT_THAT(*table, HasSubstr("persist  page          64 B"));
  EXPECT_THAT(*table, HasSubstr("plot: " + options_.plot));
  EXPECT_FALSE(Exists(path)) << "the file bench created must be removed";
  std::ifstream in(options_.plot);
  std::stringstream svg;
  svg << in.rdbuf();
  EXPECT_THAT(svg.str(), HasSubstr("id=\"pmem2-memcpy-page\""));
  EXPECT_THAT(svg.str(), HasSubstr("id=\"reference-memcpy-page\""));
}

TEST_F(BenchCommandTest, OverwriteUsesAnExistingFileAndKeepsIt) {
  const std::string path = dir_.Join("existing");
  testing::CreateFile(path, 1 << 20, O_RDWR);
  options_.overwrite = true;
  absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_TRUE(Exists(path));
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
