// Copyright 2026 The pmem2 Authors.
//
// tools/bench/comparison_smoke_test.cc
// -----------------------------------------------------------------------------
//
// Proves the comparison harness works: the reference loads, every lane maps, pmem2, the reference and the limit
// leave identical destination bytes, and a run of a few iterations at one size yields a number for every
// column. Deliberately no assertion about which side is faster: timing claims do not belong in tests.

#include <fcntl.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "testing/temp_files.h"
#include "tools/bench/comparison.h"
#include "tools/bench/reference_library.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr size_t kWindow = size_t{8} << 20;

TEST(ReferenceLibraryTest, MissingLibraryNamesThePackage) {
  // Load() caches its result per process, so ask in a child process.
  EXPECT_EXIT(
      {
        setenv("PMEM2_BENCH_REFERENCE_LIBRARY", "/nonexistent/libpmem2.so.1", 1);
        absl::StatusOr<const ReferenceLibrary*> lib = ReferenceLibrary::Load();
        const bool good = !lib.ok() && lib.status().code() == absl::StatusCode::kNotFound &&
                          std::string(lib.status().message()).find("apt-get install libpmem2") != std::string::npos;
        std::exit(good ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

class ComparisonSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Destinations>> d = Destinations::ForComparison(kWindow);
    ASSERT_TRUE(d.ok()) << d.status();
    destinations_ = std::move(*d);
  }

  testing::ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  std::unique_ptr<Destinations> destinations_;
};

TEST_F(ComparisonSmokeTest, LanesAreCacheLinePageAndByte) {
  ASSERT_EQ(destinations_->lanes().size(), 3u);
  EXPECT_EQ(destinations_->lanes()[0].granularity, "cache_line");
  EXPECT_EQ(destinations_->lanes()[1].granularity, "page");
  EXPECT_EQ(destinations_->lanes()[2].granularity, "byte");
  for (const Lane& lane : destinations_->lanes()) {
    EXPECT_NE(lane.pmem2.base, lane.reference.base);
    EXPECT_NE(lane.pmem2.memcpy, lane.reference.memcpy) << "both columns would time the same function";
  }
}

TEST_F(ComparisonSmokeTest, MappingLeavesTheEnvironmentAsItFoundIt) {
  EXPECT_EQ(std::getenv("PMEM2_FORCE_GRANULARITY"), nullptr) << "the lanes' forced values must not leak";
  testing::ScopedEnv inherited("PMEM2_FORCE_GRANULARITY", "PAGE");
  absl::StatusOr<std::unique_ptr<Destinations>> again = Destinations::ForComparison(kWindow);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)->lanes()[0].granularity, "cache_line") << "the cache_line lane overrides an inherited value";
  ASSERT_NE(std::getenv("PMEM2_FORCE_GRANULARITY"), nullptr);
  EXPECT_STREQ(std::getenv("PMEM2_FORCE_GRANULARITY"), "PAGE");
}

TEST_F(ComparisonSmokeTest, BothLibrariesAndTheLimitWriteIdenticalBytes) {
  for (size_t n : {size_t{64}, size_t{128}, size_t{256}, size_t{4096}, size_t{65536}, size_t{2} << 20}) {
    EXPECT_TRUE(destinations_->VerifySameBytes(n).ok()) << destinations_->VerifySameBytes(n);
  }
  EXPECT_FALSE(destinations_->VerifySameBytes(100).ok());  // not a multiple of 64
}

TEST_F(ComparisonSmokeTest, AShortRunFillsEveryColumn) {
  RunOptions options;
  options.copy_sizes = {4096};
  options.persist_sizes = {4096};
  options.byte_sizes = {64};
  options.repetitions = 2;
  options.min_time = 0.001;
  absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  // memcpy + memset + persist at cache line and page, and the byte lane's memcpy.
  ASSERT_EQ(rows->size(), 7u);
  for (const Row& row : *rows) {
    SCOPED_TRACE(row.op + "/" + row.granularity);
    EXPECT_GT(row.pmem2_ns, 0);
    EXPECT_GT(row.reference_ns, 0);
    EXPECT_GT(row.limit_ns, 0);
    EXPECT_TRUE(std::isfinite(Ratio(row)));
  }
  EXPECT_EQ(rows->back().granularity, "byte");
  EXPECT_EQ(rows->back().limit_kind, "glibc");
  // The timed calls wrote the same bytes: the run did not disturb what the libraries compute.
  EXPECT_TRUE(destinations_->VerifySameBytes(4096).ok());
  const std::string table = FormatTable(*rows, destinations_->notes());
  EXPECT_NE(table.find("memcpy   cache_line"), std::string::npos) << table;
}

TEST_F(ComparisonSmokeTest, UnknownBenchmarkFlagIsAnError) {
  RunOptions options;
  options.copy_sizes = {64};
  options.persist_sizes = {};
  options.repetitions = 1;
  options.min_time = 0.001;
  options.benchmark_flags = {"--no_such_flag=1"};
  EXPECT_FALSE(RunComparison(*destinations_, options).ok());
}

TEST(ComparisonForFileTest, MapsTheUsersFileWithBothLibraries) {
  testing::ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  testing::ScopedTempDir dir("/dev/shm");
  testing::ScopedFd fd = testing::CreateFile(dir.Join("f"), 1 << 20, O_RDWR);
  absl::StatusOr<std::unique_ptr<Destinations>> d = Destinations::ForFile(fd.get(), dir.Join("f"), kWindow);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ((*d)->lanes().size(), 1u);
  EXPECT_EQ((*d)->lanes()[0].granularity, "page");
  EXPECT_EQ((*d)->lanes()[0].window, size_t{1} << 20);
  EXPECT_TRUE((*d)->lanes()[0].on_tmpfs);
  EXPECT_TRUE((*d)->VerifySameBytes(4096).ok());
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
