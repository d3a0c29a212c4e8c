// Copyright 2026 The pmem2 Authors.
//
// `pmem2 bench`: argument errors come before anything is written, a short run on a new file prints the table,
// writes the plot and leaves no file (not even when killed halfway), a file system without room for the file is
// a clear error (not a SIGBUS) that leaves no file, and a PATH smaller than a page is refused. No timing claims.

#include "tools/bench/bench_command.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <limits>
#include <ostream>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/machine.h"

namespace pmem2 {
namespace bench {
namespace {

using ::testing::HasSubstr;

// A progress stream whose first line kills the process with SIGKILL: a run interrupted halfway, after the file
// was created and mapped, with no chance to clean up (as after Ctrl-C or SIGTERM, which run no destructors).
class KillOnFirstWrite : public std::streambuf {
 protected:
  int overflow(int c) override {
    raise(SIGKILL);
    return c;
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    raise(SIGKILL);
    return n;
  }
};

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

// An existing FILE.svg is replaced only with --replace_plot (not --overwrite, which is about PATH) and only if it
// is a regular file: a symbolic link would be written through, a FIFO would block after the whole run. (Found by
// review: all three were written to.)
TEST_F(BenchCommandTest, AnExistingPlotIsReplacedOnlyWhenAskedAndOnlyARegularFile) {
  const std::string path = dir_.Join("f");
  const std::string plot = dir_.Join("keep.svg");
  {
    std::ofstream out(plot);
    out << "precious";
  }
  options_.plot = plot;
  EXPECT_THAT(Error({path}).message(), HasSubstr("exists; pass --replace_plot"));
  options_.overwrite = true;
  EXPECT_THAT(Error({path}).message(), HasSubstr("exists; pass --replace_plot")) << "--overwrite is about PATH";
  const std::string victim = dir_.Join("victim");
  { std::ofstream(victim) << "victim"; }
  ASSERT_EQ(symlink(victim.c_str(), dir_.Join("link.svg").c_str()), 0);
  ASSERT_EQ(mkfifo(dir_.Join("fifo.svg").c_str(), 0644), 0);
  options_.replace_plot = true;
  for (const char* name : {"link.svg", "fifo.svg"}) {
    options_.plot = dir_.Join(name);
    EXPECT_THAT(Error({path}).message(), HasSubstr("is not a regular file")) << name;
  }
  EXPECT_FALSE(Exists(path)) << "nothing may be created before the arguments are checked";
  std::string content;
  std::getline(std::ifstream(plot), content);
  EXPECT_EQ(content, "precious");
  std::getline(std::ifstream(victim), content);
  EXPECT_EQ(content, "victim");
}

// Bounded, so that a typo cannot start a run of days or run out of memory for the repetitions' records (a
// repetition count of 10^8 ended in std::bad_alloc before); the values are named.
TEST_F(BenchCommandTest, RepetitionsMinTimeAndCpuMustBeInRange) {
  for (int repetitions : {0, kMaxRepetitions + 1, 100000000}) {
    options_.run.repetitions = repetitions;
    EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr(absl::StrCat("--repetitions=", repetitions)));
  }
  options_.run.repetitions = 1;
  for (double min_time : {0.0, -1.0, kMaxMinTime * 2, std::numeric_limits<double>::infinity(),
                          std::numeric_limits<double>::quiet_NaN()}) {
    options_.run.min_time = min_time;
    EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr("--min_time=")) << min_time;
  }
  options_.run.min_time = 0.001;
  options_.cpu = -3;
  EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr("--cpu=-3"));
  options_.cpu = CPU_SETSIZE + 7;  // refused before PATH's blocks are allocated
  EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr("not a CPU this process may run on"));
  EXPECT_FALSE(Exists(dir_.Join("f")));
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
  EXPECT_THAT(*table, HasSubstr("window touched again through the reference's mapping, which every side writes "
                                "through, before timing: "));
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

// Before: the file bench created was removed only by a cleanup at the end of the run, so an interrupted run
// left it (GiBs by default). Now it is unlinked as soon as it is created.
TEST_F(BenchCommandTest, AKilledRunLeavesNoFile) {
  const std::string path = dir_.Join("bench");
  options_.run.patterns = {Pattern::kHot};
  options_.run.repetitions = 100;  // far more reports than SampleCollector::kProgressEvery: a line comes mid-run
  testing::ChildResult r = testing::RunInChild(
      [&](int out) {
        KillOnFirstWrite killer;
        std::ostream progress(&killer);
        options_.run.progress = &progress;
        absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
        testing::WriteToParent(out, table.status().ToString());
        return 0;
      },
      testing::ChildOptions{absl::Seconds(120)});
  ASSERT_FALSE(r.timed_out) << r.Describe();
  ASSERT_EQ(r.signal, SIGKILL) << r.Describe() << " (the run ended before its first progress line)";
  EXPECT_FALSE(Exists(path)) << "a killed run left the file bench created";
}

// Before: a PATH below one page left both windows empty, every case was skipped, and bench printed empty tables
// and exited 0.
TEST_F(BenchCommandTest, RefusesAPathSmallerThanAPage) {
  const std::string path = dir_.Join("tiny");
  testing::CreateFile(path, 100, O_RDWR);
  options_.overwrite = true;
  const absl::Status s = Error({path});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat(path, ": 100 bytes; bench needs at least one page (",
                                                  sysconf(_SC_PAGESIZE), " bytes)")));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0) << "an existing PATH is never removed";
  EXPECT_EQ(st.st_size, 100);
}

TEST_F(BenchCommandTest, PrintsTheCpuKindEveryPatternAndOnRequestTheStrategies) {
  const std::string path = dir_.Join("bench");
  options_.print_strategies = true;
  absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(*table, HasSubstr("cpu: " + DescribeCpuKind(ThisCpuKind()) + "; last-level cache "));
  EXPECT_THAT(*table, HasSubstr("\npattern hot"));
  EXPECT_THAT(*table, HasSubstr("\npattern seq"));
  EXPECT_THAT(*table, HasSubstr("\npattern rand"));
  EXPECT_THAT(*table, HasSubstr("ratio reference/pmem2 by pattern (hot / seq / rand"));
  EXPECT_THAT(*table, HasSubstr("note: the cold window (1 MiB) is smaller than"));
  // Page granularity (tmpfs): NT or ordinary stores, each + msync.
  EXPECT_THAT(*table, HasSubstr("nt+msync"));
  EXPECT_THAT(*table, HasSubstr("glibc+msync"));
  options_.run.patterns = {Pattern::kSeq};
  {
    testing::ScopedEnv force("PMEM2_FORCE_GRANULARITY", "CACHE_LINE");
    table = RunBenchCommand({path}, options_);
  }
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(*table, ::testing::Not(HasSubstr("pattern hot")));
  EXPECT_THAT(*table, HasSubstr("limit strategies: median ns per call"));
  for (const LimitStrategy& s : CacheLineLimitStrategies()) EXPECT_THAT(*table, HasSubstr(s.name));
  EXPECT_FALSE(Exists(path));
}

TEST_F(BenchCommandTest, NeedsAPatternAndHotForThePlot) {
  options_.run.patterns = {};
  EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr("--patterns"));
  options_.run.patterns = {Pattern::kSeq, Pattern::kRand};
  options_.plot = dir_.Join("plot.svg");
  EXPECT_THAT(Error({dir_.Join("f")}).message(), HasSubstr("add hot to --patterns"));
  EXPECT_FALSE(Exists(dir_.Join("f")));
}

TEST_F(BenchCommandTest, OverwriteUsesAnExistingFileAndKeepsIt) {
  const std::string path = dir_.Join("existing");
  testing::CreateFile(path, 1 << 20, O_RDWR);  // sparse
  options_.overwrite = true;
  absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
  ASSERT_TRUE(table.ok()) << table.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{1} << 20) << "its holes were not allocated";
}

// Of a sparse file larger than what bench stores into, only that is allocated: the first 128 MiB (the hot window)
// with the hot pattern alone. (Before, the whole file was, whatever its size.)
TEST_F(BenchCommandTest, OverwriteAllocatesOnlyWhatTheRunStoresInto) {
  struct statvfs shm;
  if (statvfs(dir_.path().c_str(), &shm) != 0 || static_cast<uint64_t>(shm.f_bavail) * shm.f_frsize < (256u << 20)) {
    GTEST_SKIP() << "needs 256 MiB free in " << dir_.path();
  }
  const std::string path = dir_.Join("large");
  testing::CreateFile(path, 200 << 20, O_RDWR);  // sparse
  options_.overwrite = true;
  options_.run.patterns = {Pattern::kHot};
  absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
  ASSERT_TRUE(table.ok()) << table.status();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 200 << 20);
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kDefaultBenchFileSize);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, kDefaultBenchFileSize + (uint64_t{1} << 20));
}

// A sparse file whose holes the file system has no room for is refused before anything is allocated: an allocation
// failing halfway keeps what it took, and left the file system full (found by review). In a child with a 1 MiB
// tmpfs of its own, as the test below.
TEST_F(BenchCommandTest, OverwriteOfHolesWithoutRoomAllocatesNothing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a 1 MiB tmpfs (in a mount namespace of its own)";
  testing::ScopedTempDir mount_point("/tmp");
  const std::string path = mount_point.Join("sparse");
  options_.overwrite = true;
  options_.run.patterns = {Pattern::kHot};
  testing::ChildResult r = testing::RunInChild([&](int out) {
    if (absl::Status s = testing::MountPrivateTmpfs(mount_point.path(), "1m"); !s.ok()) {
      testing::WriteToParent(out, absl::StrCat("skip: ", s.message()));
      return 3;
    }
    absl::Cleanup unmount = [&] { umount2(mount_point.path().c_str(), MNT_DETACH); };
    testing::CreateFile(path, 64 << 20, O_RDWR);  // sparse, 64 MiB on a 1 MiB tmpfs
    absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
    struct stat st;
    const bool untouched = stat(path.c_str(), &st) == 0 && st.st_blocks == 0;
    testing::WriteToParent(out, absl::StrCat(static_cast<int>(table.status().code()), "|", table.status().message(),
                                             "|", untouched ? "nothing allocated" : "allocated"));
    return 0;
  });
  if (r.exited && r.exit_code == 3) GTEST_SKIP() << r.output;
  ASSERT_FALSE(r.timed_out) << r.Describe();
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
  const std::vector<std::string> parts = absl::StrSplit(r.output, '|');
  ASSERT_EQ(parts.size(), 3u) << r.output;
  EXPECT_EQ(parts[0], absl::StrCat(static_cast<int>(absl::StatusCode::kResourceExhausted))) << parts[1];
  EXPECT_THAT(parts[1], HasSubstr("of which at least 67108864 are holes"));
  EXPECT_EQ(parts[2], "nothing allocated");
}

// The pre-check never refuses what the allocation would manage: a file allocated ahead (fallocate: blocks not yet
// written, which SEEK_DATA counts as holes) on a nearly full file system, and a sparse file on a tmpfs without a
// size limit (statvfs: 0 blocks, 0 free). (A first version refused both, found by review.)
TEST_F(BenchCommandTest, OverwriteIsNotRefusedForBlocksAllocatedAheadOrOnAnUnlimitedTmpfs) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount tmpfs (in a mount namespace of its own)";
  testing::ScopedTempDir small("/tmp");
  testing::ScopedTempDir unlimited("/tmp");
  options_.overwrite = true;
  options_.run.patterns = {Pattern::kHot};
  testing::ChildResult r = testing::RunInChild([&](int out) {
    absl::Status s = testing::MountPrivateTmpfs(small.path(), "2m");
    if (s.ok()) s = testing::MountPrivateTmpfs(unlimited.path(), "0");
    if (!s.ok()) {
      testing::WriteToParent(out, absl::StrCat("skip: ", s.message()));
      return 3;
    }
    absl::Cleanup unmount = [&] {
      umount2(small.path().c_str(), MNT_DETACH);
      umount2(unlimited.path().c_str(), MNT_DETACH);
    };
    const std::string ahead = small.Join("ahead");
    testing::ScopedFd fd = testing::CreateFile(ahead, 0, O_RDWR);
    if (posix_fallocate(fd.get(), 0, 1536 << 10) != 0) return 4;  // 1.5 MiB of the 2 MiB, none written
    const std::string sparse = unlimited.Join("sparse");
    testing::CreateFile(sparse, 4 << 20, O_RDWR);
    const absl::Status a = RunBenchCommand({ahead}, options_).status();
    const absl::Status b = RunBenchCommand({sparse}, options_).status();
    testing::WriteToParent(out, absl::StrCat(a.ToString(), "|", b.ToString()));
    return 0;
  });
  if (r.exited && r.exit_code == 3) GTEST_SKIP() << r.output;
  ASSERT_FALSE(r.timed_out) << r.Describe();
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
  EXPECT_EQ(r.output, "OK|OK");
}

// Before: the file was only ftruncate()d, the first store to a page tmpfs could not back killed the process
// with SIGBUS (exit 135, no message), and the 128 MiB file stayed. The run happens in a child in a mount
// namespace of its own, so neither a crash nor a hang can leave the small tmpfs mounted or the test stuck;
// the error comes before the reference library is loaded or anything is timed.
TEST_F(BenchCommandTest, NoSpaceIsAClearErrorAndLeavesNoFile) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a 1 MiB tmpfs (in a mount namespace of its own)";
  testing::ScopedTempDir mount_point("/tmp");
  const std::string path = mount_point.Join("bench");
  options_.create_size = 4 << 20;  // the tmpfs holds 1 MiB
  testing::ChildResult r = testing::RunInChild([&](int out) {
    if (absl::Status s = testing::MountPrivateTmpfs(mount_point.path(), "1m"); !s.ok()) {
      testing::WriteToParent(out, absl::StrCat("skip: ", s.message()));
      return 3;
    }
    absl::Cleanup unmount = [&] { umount2(mount_point.path().c_str(), MNT_DETACH); };
    absl::StatusOr<std::string> table = RunBenchCommand({path}, options_);
    // The file would be on the child's tmpfs: look for it here, before unmounting.
    testing::WriteToParent(out, absl::StrCat(static_cast<int>(table.status().code()), "|", table.status().message(),
                                           "|", Exists(path) ? "left behind" : "removed"));
    return 0;
  });
  if (r.exited && r.exit_code == 3) GTEST_SKIP() << r.output;
  ASSERT_FALSE(r.timed_out) << r.Describe();
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe() << " (SIGBUS: the file was not allocated up front)";
  const std::vector<std::string> parts = absl::StrSplit(r.output, '|');
  ASSERT_EQ(parts.size(), 3u) << r.output;
  EXPECT_EQ(parts[0], absl::StrCat(static_cast<int>(absl::StatusCode::kResourceExhausted))) << parts[1];
  EXPECT_THAT(parts[1], HasSubstr(path + ": cannot allocate 4194304 bytes: No space left on device"));
  EXPECT_THAT(parts[1], HasSubstr("pass a smaller --create_size"));
  EXPECT_EQ(parts[2], "removed");
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
