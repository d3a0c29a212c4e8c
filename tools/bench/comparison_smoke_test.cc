// Copyright 2026 The pmem2 Authors.
//
// tools/bench/comparison_smoke_test.cc
// -----------------------------------------------------------------------------
//
// Proves the comparison harness works: the reference loads, every lane maps, pmem2, the reference and the limit
// leave identical destination bytes, and a run of a few iterations at one size yields a number for every
// column. Deliberately no assertion about which side is faster: timing claims do not belong in tests.

#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"
#include "tools/bench/comparison.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/machine.h"
#include "tools/bench/mappings.h"
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

// Before: the /dev/shm file was only ftruncate()d, and with less room there than the window the first store to a
// page tmpfs could not provide (Prefault) killed the process with SIGBUS (exit 135, no message). The child gets a
// 1 MiB tmpfs on /dev/shm in a mount namespace of its own, so neither a crash nor a hang leaves it mounted.
TEST(ComparisonNoRoomTest, AFullDevShmIsAnErrorNamingTheSizeAndTheFreeSpace) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a 1 MiB tmpfs on /dev/shm (in a mount namespace of its own)";
  testing::ChildResult r = testing::RunInChild(
      [&](int out) {
        if (absl::Status s = testing::MountPrivateTmpfs("/dev/shm", "1m"); !s.ok()) {
          testing::WriteToParent(out, absl::StrCat("skip: ", s.message()));
          return 3;
        }
        absl::Cleanup unmount = [] { umount2("/dev/shm", MNT_DETACH); };
        absl::StatusOr<std::unique_ptr<Destinations>> d = Destinations::ForComparison(kWindow);
        testing::WriteToParent(out, absl::StrCat(static_cast<int>(d.status().code()), "|", d.status().message()));
        return 0;
      },
      testing::ChildOptions{absl::Seconds(60)});
  if (r.exited && r.exit_code == 3) GTEST_SKIP() << r.output;
  ASSERT_FALSE(r.timed_out) << r.Describe();
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe() << " (SIGBUS: the /dev/shm file was not allocated)";
  const std::string code = r.output.substr(0, r.output.find('|'));
  EXPECT_EQ(code, absl::StrCat(static_cast<int>(absl::StatusCode::kResourceExhausted))) << r.output;
  EXPECT_THAT(r.output, ::testing::HasSubstr(
                            absl::StrCat("/dev/shm: cannot allocate ", kWindow, " bytes: No space left on device (")));
  EXPECT_THAT(r.output, ::testing::ContainsRegex("\\([0-9]+ bytes free\\)"));
  EXPECT_THAT(r.output, ::testing::HasSubstr("--cold_window_mib"));
}

class ComparisonSmokeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<Destinations>> d = Destinations::ForComparison(kWindow, kWindow);
    ASSERT_TRUE(d.ok()) << d.status();
    destinations_ = std::move(*d);
  }

  testing::ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  std::unique_ptr<Destinations> destinations_;

  // A run of one repetition of at least 1 ms per benchmark: persist and byte rows at 64 B where the patterns have them.
  static RunOptions Quick(std::vector<Pattern> patterns, std::vector<size_t> copy_sizes) {
    RunOptions options;
    options.patterns = std::move(patterns);
    options.copy_sizes = std::move(copy_sizes);
    options.persist_sizes = {64};
    options.byte_sizes = {64};
    options.repetitions = 1;
    options.min_time = 0.001;
    return options;
  }
};

TEST_F(ComparisonSmokeTest, LanesAreCacheLinePageAndByte) {
  ASSERT_EQ(destinations_->lanes().size(), 3u);
  EXPECT_EQ(destinations_->lanes()[0].granularity, "cache_line");
  EXPECT_EQ(destinations_->lanes()[1].granularity, "page");
  EXPECT_EQ(destinations_->lanes()[2].granularity, "byte");
  char* const shared = destinations_->lanes()[1].reference.base;
  for (const Lane& lane : destinations_->lanes()) {
    SCOPED_TRACE(lane.granularity);
    EXPECT_NE(lane.pmem2.memcpy, lane.reference.memcpy) << "both columns would time the same function";
    if (lane.granularity == "byte") {
      EXPECT_NE(lane.pmem2.base, lane.reference.base) << "anonymous memory, a region per side";
      continue;
    }
    // MappingUse::kShared (the default): the columns of both file lanes differ in their code only, not in their
    // page tables; the mapping is libpmem2's page one, the only one whose persist cares which it is given.
    EXPECT_EQ(lane.pmem2.base, shared);
    EXPECT_EQ(lane.reference.base, shared);
    EXPECT_EQ(lane.limit.base, shared);
  }
}

// --own_mappings: every side writes through a mapping of its own, as applications do, and still the same bytes.
TEST_F(ComparisonSmokeTest, OwnMappingsGiveEverySideItsOwn) {
  absl::StatusOr<std::unique_ptr<Destinations>> d = Destinations::ForComparison(kWindow, 0, MappingUse::kOwn);
  ASSERT_TRUE(d.ok()) << d.status();
  for (const Lane& lane : (*d)->lanes()) {
    SCOPED_TRACE(lane.granularity);
    EXPECT_NE(lane.pmem2.base, lane.reference.base);
    EXPECT_NE(lane.pmem2.base, lane.limit.base);
    EXPECT_NE(lane.reference.base, lane.limit.base);
  }
  for (size_t n : {size_t{64}, size_t{4096}}) EXPECT_TRUE((*d)->VerifySameBytes(n).ok()) << (*d)->VerifySameBytes(n);
  EXPECT_NE((*d)->notes()[0].find("mapped by each side on its own"), std::string::npos) << (*d)->notes()[0];
  EXPECT_NE(destinations_->notes()[0].find("through libpmem2's page mapping"), std::string::npos)
      << destinations_->notes()[0];
}

// The last note says what touching the shared mapping again cost per page, a number on any machine.
TEST_F(ComparisonSmokeTest, SaysWhatTouchingTheWindowAgainCostPerPage) {
  const std::string& note = destinations_->notes().back();
  EXPECT_EQ(note.rfind("the file (both windows) touched again through the shared mapping before timing: ", 0), 0u)
      << note;
  EXPECT_NE(note.find(" ns per page"), std::string::npos) << note;
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
  for (size_t n : {size_t{8}, size_t{24}, size_t{56}, size_t{64}, size_t{128}, size_t{256}, size_t{4096}, size_t{65536},
                   size_t{2} << 20}) {
    EXPECT_TRUE(destinations_->VerifySameBytes(n).ok()) << destinations_->VerifySameBytes(n);
  }
  EXPECT_FALSE(destinations_->VerifySameBytes(100).ok());  // not a multiple of 64
  EXPECT_FALSE(destinations_->VerifySameBytes(12).ok());   // below 64 but not a multiple of 8
}

TEST_F(ComparisonSmokeTest, AShortRunFillsEveryColumn) {
  RunOptions options;
  options.patterns = {Pattern::kHot};
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
  const std::string table = FormatTable(*rows, destinations_->notes(), Targets());
  EXPECT_NE(table.find("memcpy   cache_line"), std::string::npos) << table;
}

// The hot window is the file's start, the cold one follows it: the cold patterns never walk the lines the hot
// columns and the persist rows keep rewriting (they walked the whole file, the hot window included, before).
TEST_F(ComparisonSmokeTest, TheColdWindowFollowsTheHotOne) {
  ASSERT_EQ(destinations_->lanes().size(), 3u);
  EXPECT_EQ(destinations_->lanes()[0].cold_window, kWindow);
  EXPECT_EQ(destinations_->lanes()[0].cold_offset, kWindow);
  absl::StatusOr<std::unique_ptr<Destinations>> hot_only = Destinations::ForComparison(kWindow);
  ASSERT_TRUE(hot_only.ok()) << hot_only.status();
  EXPECT_EQ((*hot_only)->lanes()[0].cold_window, 0u) << "no cold window asked for: none (the file is the hot one)";
  absl::StatusOr<std::vector<Row>> no_cold_rows =
      RunComparison(**hot_only, Quick({Pattern::kHot, Pattern::kSeq}, {4096}));
  ASSERT_TRUE(no_cold_rows.ok()) << no_cold_rows.status();
  for (const Row& row : *no_cold_rows) EXPECT_EQ(row.pattern, "hot");
  hot_only->reset();
  absl::StatusOr<std::unique_ptr<Destinations>> d = Destinations::ForComparison(kWindow, 2 * kWindow);
  ASSERT_TRUE(d.ok()) << d.status();
  for (const Lane& lane : (*d)->lanes()) {
    SCOPED_TRACE(lane.granularity);
    if (lane.granularity == "byte") {
      EXPECT_EQ(lane.cold_window, 0u) << "the byte lane is measured hot only";
      continue;
    }
    EXPECT_EQ(lane.window, kWindow);
    EXPECT_EQ(lane.cold_window, 2 * kWindow);
    EXPECT_EQ(lane.cold_offset, kWindow);
  }
  // A seq and a rand run leave the hot window as it was, and write only inside the cold one.
  constexpr char kMark = 0x5a;
  const Lane& page = (*d)->lanes()[1];
  char* const base = page.reference.base;  // every side's (MappingUse::kShared)
  std::memset(base, kMark, 3 * kWindow);
  RunOptions options = Quick({Pattern::kSeq, Pattern::kRand}, {4096});
  absl::StatusOr<std::vector<Row>> rows = RunComparison(**d, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(std::count(base, base + kWindow, kMark), static_cast<long>(kWindow)) << "the hot window was written";
  EXPECT_LT(std::count(base + kWindow, base + 3 * kWindow, kMark), static_cast<long>(2 * kWindow));
  EXPECT_EQ((*d)->lanes()[0].copy_strategies.size(), CacheLineLimitStrategies().size());
  ASSERT_EQ((*d)->lanes()[1].copy_strategies.size(), 2u);
  EXPECT_EQ((*d)->lanes()[1].copy_strategies[0].name, "nt+msync");
  EXPECT_EQ((*d)->lanes()[1].copy_strategies[1].name, "glibc+msync") << "ordinary stores + msync";
}

TEST_F(ComparisonSmokeTest, EveryPatternAndEveryStrategyIsTimed) {
  absl::StatusOr<std::vector<Row>> rows =
      RunComparison(*destinations_, Quick({Pattern::kHot, Pattern::kSeq, Pattern::kRand}, {64, 4096}));
  ASSERT_TRUE(rows.ok()) << rows.status();
  // hot: 4 copy/fill rows and persist per file lane, the byte lane's memcpy; seq and rand: the copy/fill rows.
  ASSERT_EQ(rows->size(), 11u + 8u + 8u);
  std::string previous = "hot";
  for (const Row& row : *rows) {
    SCOPED_TRACE(row.pattern + "/" + row.op + "/" + row.granularity + "/" + FormatSize(row.size));
    EXPECT_GT(row.pmem2_ns, 0);
    EXPECT_GT(row.reference_ns, 0);
    EXPECT_GT(row.limit_ns, 0);
    if (row.pattern != previous) {
      EXPECT_TRUE((previous == "hot" && row.pattern == "seq") || (previous == "seq" && row.pattern == "rand"));
      previous = row.pattern;
    }
    if (row.pattern != "hot") {
      EXPECT_NE(row.op, "persist");
      EXPECT_NE(row.granularity, "byte");
    }
    if (row.granularity == "cache_line" && row.op != "persist") {
      // Every strategy for a copy; for a fill those that have one (nt-avx512-batch is for copies only).
      size_t strategies = 0;
      for (const LimitStrategy& s : CacheLineLimitStrategies()) strategies += row.op == "memcpy" || s.memset != nullptr;
      ASSERT_EQ(row.strategies.size(), strategies);
      double fastest = row.strategies[0].ns;
      for (const StrategyTime& s : row.strategies) {
        EXPECT_GT(s.ns, 0) << s.name;
        fastest = std::min(fastest, s.ns);
      }
      EXPECT_EQ(row.limit_ns, fastest);
    }
  }
  EXPECT_EQ(previous, "rand");
  EXPECT_TRUE(destinations_->VerifySameBytes(4096).ok());
  EXPECT_NE(FormatStrategies(*rows).find("store"), std::string::npos) << FormatStrategies(*rows);
}

// same (on request): copies and fills of both file lanes, at sizes the hot pattern would walk too (8 KiB), with no
// persist or byte rows.
TEST_F(ComparisonSmokeTest, SameTimesCopiesAndFillsOnly) {
  absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, Quick({Pattern::kSame}, {64, 8192}));
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 8u) << "memcpy and memset, 2 sizes, cache line and page";
  for (const Row& row : *rows) {
    SCOPED_TRACE(row.op + "/" + row.granularity + "/" + FormatSize(row.size));
    EXPECT_EQ(row.pattern, "same");
    EXPECT_NE(row.op, "persist");
    EXPECT_NE(row.granularity, "byte");
    EXPECT_GT(row.pmem2_ns, 0);
    EXPECT_GT(row.reference_ns, 0);
    EXPECT_GT(row.limit_ns, 0);
  }
  EXPECT_NE(FormatTable(*rows, {}, Targets()).find("pattern same"), std::string::npos);
}

// same writes the first bytes only: 8 KiB fills leave the next 8 KiB of every side's window as they were, which hot
// (from 4 KiB: the next bytes of the window at every call) would overwrite.
TEST_F(ComparisonSmokeTest, SameWritesOnlyTheFirstBytes) {
  constexpr size_t kSize = 8192;
  std::vector<char*> next;
  for (const Lane& lane : destinations_->lanes()) {
    if (lane.memcpy_only) continue;
    for (Side side : kSides) next.push_back(TargetOf(lane, side).base + kSize);
  }
  for (const bool same : {true, false}) {
    for (char* p : next) std::memset(p, 0x77, kSize);
    RunOptions options = Quick({same ? Pattern::kSame : Pattern::kHot}, {kSize});
    options.persist_sizes = {};
    options.byte_sizes = {};
    absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, options);
    ASSERT_TRUE(rows.ok()) << rows.status();
    size_t untouched = 0;
    for (const char* p : next) untouched += std::count(p, p + kSize, 0x77) == static_cast<long>(kSize);
    EXPECT_EQ(untouched, same ? next.size() : 0) << (same ? "same" : "hot");
  }
}

// move (on request): copies only, of both file lanes, from the cold window's second half into its first. Every side's
// window holds 0 in its first half and a mark in its second before the run: afterwards the second half is untouched
// and the first holds nothing but 0 and the mark, some of it copied.
TEST_F(ComparisonSmokeTest, MoveCopiesFromTheSecondHalfIntoTheFirst) {
  constexpr char kMark = 0x6d;
  const size_t half = MoveWindow(kWindow);
  for (const Lane& lane : destinations_->lanes()) {
    if (lane.memcpy_only) continue;
    ASSERT_EQ(lane.cold_window, kWindow);
    for (Side side : kSides) {
      std::memset(TargetOf(lane, side).base + lane.cold_offset, 0, half);
      std::memset(TargetOf(lane, side).base + lane.cold_offset + half, kMark, kWindow - half);
    }
  }
  RunOptions options = Quick({Pattern::kMove}, {64, 4096});
  absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u) << "memcpy only, 2 sizes, cache line and page";
  for (const Row& row : *rows) {
    SCOPED_TRACE(row.op + "/" + row.granularity + "/" + FormatSize(row.size));
    EXPECT_EQ(row.pattern, "move");
    EXPECT_EQ(row.op, "memcpy");
    EXPECT_GT(row.pmem2_ns, 0);
    EXPECT_GT(row.reference_ns, 0);
    EXPECT_GT(row.limit_ns, 0);
  }
  for (const Lane& lane : destinations_->lanes()) {
    if (lane.memcpy_only) continue;
    for (Side side : kSides) {
      SCOPED_TRACE(lane.granularity + " side " + std::to_string(static_cast<int>(side)));
      const char* base = TargetOf(lane, side).base + lane.cold_offset;
      EXPECT_EQ(std::count(base + half, base + kWindow, kMark), static_cast<long>(kWindow - half));
      const long marked = std::count(base, base + half, kMark);
      EXPECT_GT(marked, 0);
      EXPECT_EQ(marked + std::count(base, base + half, 0), static_cast<long>(half));
    }
  }
  EXPECT_NE(FormatTable(*rows, {}, Targets()).find("pattern move"), std::string::npos);
}

TEST_F(ComparisonSmokeTest, OnlyTheChosenStrategiesAreTimed) {
  RunOptions options = Quick({Pattern::kRand}, {128});
  options.strategies = {"nt"};
  absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 4u);  // memcpy and memset at cache line and page
  EXPECT_EQ((*rows)[0].granularity, "cache_line");
  ASSERT_EQ((*rows)[0].strategies.size(), 1u);
  EXPECT_EQ((*rows)[0].limit_kind, "nt");
  // --strategies names cache-line strategies; the page lane times both of its own whatever it says.
  ASSERT_EQ((*rows)[2].granularity, "page");
  ASSERT_EQ((*rows)[2].strategies.size(), 2u);
  EXPECT_TRUE((*rows)[2].limit_kind == "nt+msync" || (*rows)[2].limit_kind == "glibc+msync")
      << (*rows)[2].limit_kind;
}

// A strategy for copies only, chosen alone: cache-line copies are timed against it, cache-line fills not at all
// (not against the lane's own limit, which was not asked for).
TEST_F(ComparisonSmokeTest, ACopyOnlyStrategyAloneTimesNoCacheLineFill) {
  bool has_batches = false;
  for (const LimitStrategy& s : CacheLineLimitStrategies()) has_batches |= std::string(s.name) == "nt-avx512-batch";
  if (!has_batches) GTEST_SKIP() << "no AVX-512 here: no nt-avx512-batch";
  RunOptions options = Quick({Pattern::kHot}, {4096});
  options.persist_sizes = {};
  options.strategies = {"nt-avx512-batch"};
  absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, options);
  ASSERT_TRUE(rows.ok()) << rows.status();
  size_t cache_line_copies = 0;
  for (const Row& row : *rows) {
    if (row.granularity != "cache_line") continue;
    EXPECT_EQ(row.op, "memcpy") << "a cache-line fill with no fill strategy to time against";
    ASSERT_EQ(row.strategies.size(), 1u);
    EXPECT_EQ(row.limit_kind, "nt-avx512-batch");
    ++cache_line_copies;
  }
  EXPECT_EQ(cache_line_copies, 1u);
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

// Google Benchmark flags the method sets, or that would leave the table wrong, are refused (another time unit made
// the "ns" columns microseconds; aggregates only left a table of no rows, exit 0; repetitions and min time went
// against the header's note).
TEST_F(ComparisonSmokeTest, BenchmarkFlagsTheMethodSetsAreRefused) {
  RunOptions options = Quick({Pattern::kHot}, {64});
  for (const char* flag :
       {"--benchmark_time_unit=us", "--benchmark_display_aggregates_only=true", "--benchmark_report_aggregates_only",
        "--benchmark_repetitions=3", "--benchmark_min_time=1", "--benchmark_enable_random_interleaving=false"}) {
    options.benchmark_flags = {flag};
    const absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, options);
    EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_THAT(std::string(rows.status().message()), ::testing::HasSubstr(flag));
  }
  options.benchmark_flags = {"--benchmark_repetitions=3"};
  EXPECT_THAT(std::string(RunComparison(*destinations_, options).status().message()),
              ::testing::HasSubstr("use --repetitions"));
  options.benchmark_flags = {"--benchmark_filter=memcpy/cache_line"};  // one that stays the user's
  const absl::StatusOr<std::vector<Row>> filtered = RunComparison(*destinations_, options);
  ASSERT_TRUE(filtered.ok()) << filtered.status();
  EXPECT_FALSE(filtered->empty());
}

// A filter that leaves nothing is an error, not an empty table with exit 0.
TEST_F(ComparisonSmokeTest, AFilterThatMatchesNothingIsAnError) {
  RunOptions options = Quick({Pattern::kHot}, {64});
  options.benchmark_flags = {"--benchmark_filter=no_such_benchmark"};
  const absl::StatusOr<std::vector<Row>> rows = RunComparison(*destinations_, options);
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(rows.status().message()), ::testing::HasSubstr("no benchmark ran"));
}

// A size the user asked for that no lane can time is refused, naming the largest; the defaults' are left out.
TEST_F(ComparisonSmokeTest, ASizeGivenThatNoLaneCanTimeIsRefused) {
  RunOptions options = Quick({Pattern::kHot}, {kWindow * 4});
  options.copy_sizes_given = true;
  const absl::StatusOr<Measurement> m = Measure(*destinations_, -2, Pinning::kBestEffort, options);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(m.status().message()),
              ::testing::HasSubstr(
                  absl::StrCat("copy size ", kWindow * 4, " is larger than this run can time (", kWindow, " bytes")));
  options.copy_sizes = {64, kWindow * 4};
  options.copy_sizes_given = false;
  const absl::StatusOr<Measurement> defaults = Measure(*destinations_, -2, Pinning::kBestEffort, options);
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  for (const Row& row : defaults->rows) EXPECT_NE(row.size, kWindow * 4);
}

// The notes speak of the cold window only where one is timed, and of a hot window the last-level cache could hold.
TEST(CpuNotesTest, NotesFollowTheWindows) {
  const uint64_t llc = LastLevelCacheBytes();
  if (llc == 0) GTEST_SKIP() << "no last-level cache size in sysfs here";
  const std::string hot_only = absl::StrJoin(CpuNotes(size_t{128} << 20, 0), "\n");
  EXPECT_EQ(hot_only.find("cold window"), std::string::npos) << hot_only;
  EXPECT_EQ(hot_only.find("hot window") != std::string::npos, (size_t{128} << 20) <= llc) << hot_only;
  const std::string small_cold = absl::StrJoin(CpuNotes(4 * llc, size_t{1} << 20), "\n");
  EXPECT_NE(small_cold.find("the cold window (1 MiB)"), std::string::npos) << small_cold;
  EXPECT_EQ(small_cold.find("hot window"), std::string::npos) << small_cold;
}

TEST(ComparisonForFileTest, MapsTheUsersFileWithBothLibraries) {
  testing::ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  testing::ScopedTempDir dir("/dev/shm");
  testing::ScopedFd fd = testing::CreateFile(dir.Join("f"), 1 << 20, O_RDWR);
  absl::StatusOr<std::unique_ptr<Destinations>> d = Destinations::ForFile(fd.get(), dir.Join("f"), kWindow, kWindow);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ((*d)->lanes().size(), 1u);
  EXPECT_EQ((*d)->lanes()[0].granularity, "page");
  EXPECT_EQ((*d)->lanes()[0].window, size_t{1} << 20);
  EXPECT_EQ((*d)->lanes()[0].cold_window, size_t{1} << 20) << "capped by the file";
  EXPECT_TRUE((*d)->lanes()[0].on_tmpfs);
  // Every side through the reference's mapping: libpmem2's page persist syncs only its own.
  EXPECT_EQ((*d)->lanes()[0].pmem2.base, (*d)->lanes()[0].reference.base);
  EXPECT_EQ((*d)->lanes()[0].limit.base, (*d)->lanes()[0].reference.base);
  EXPECT_NE((*d)->lanes()[0].pmem2.persist, (*d)->lanes()[0].reference.persist) << "each side's own code";
  EXPECT_TRUE((*d)->VerifySameBytes(4096).ok());
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
