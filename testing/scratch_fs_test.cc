// Copyright 2026 The pmem2 Authors.

#include "testing/scratch_fs.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace testing {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

// Skips when the machine cannot provide the file system (kFailedPrecondition); any other error is a bug here.
#define PMEM2_SCRATCH_FS_OR_SKIP(var, factory_call)                                           \
  std::unique_ptr<ScratchFs> var;                                                             \
  {                                                                                           \
    absl::StatusOr<std::unique_ptr<ScratchFs>> made_ = (factory_call);                        \
    if (absl::IsFailedPrecondition(made_.status())) GTEST_SKIP() << made_.status().message(); \
    ASSERT_TRUE(made_.ok()) << made_.status();                                                \
    var = *std::move(made_);                                                                  \
  }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// What a ScratchFs leaves in the system, recorded before it is destroyed.
struct Trace {
  std::string path;
  std::string loop_sysfs;  // /sys/block/loopN/loop, or empty
};

Trace TraceOf(const ScratchFs& fs) {
  Trace trace{fs.path(), ""};
  if (!fs.loop_device().empty()) {
    const std::string name = fs.loop_device().substr(fs.loop_device().rfind('/') + 1);
    trace.loop_sysfs = absl::StrCat("/sys/block/", name, "/loop");
  }
  return trace;
}

// The mkdtemp folder a mount point is in (or is).
std::string RootOf(const std::string& path) { return path.substr(0, path.find('/', std::strlen("/tmp/"))); }

// The mount point, its mkdtemp parent, the mounts and the loop binding are gone.
void ExpectGone(const Trace& trace) {
  EXPECT_FALSE(Exists(trace.path)) << trace.path;
  const std::string root = RootOf(trace.path);
  EXPECT_FALSE(Exists(root)) << root;
  EXPECT_FALSE(absl::StrContains(ReadFile("/proc/self/mountinfo"), root)) << ReadFile("/proc/self/mountinfo");
  if (!trace.loop_sysfs.empty()) {
    // The device may already serve someone else (tests run in parallel), but not with our image. Detaching
    // finishes in the kernel's own time after the last close, which a udev probe may hold: allow it 20 s.
    const std::string backing_file = trace.loop_sysfs + "/backing_file";
    for (int i = 0; i < 2000 && absl::StrContains(ReadFile(backing_file), root); ++i) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, nullptr);
    }
    EXPECT_FALSE(absl::StrContains(ReadFile(backing_file), root)) << backing_file;
  }
}

// Which mount namespace process `pid` is in: the ID of the mount at "/" in its /proc/PID/mountinfo (empty if
// unreadable). Mount IDs are unique across namespaces, and a new namespace gets copies with new IDs; compared
// this way because /proc/1/ns/mnt itself may not be readable (EACCES in a container), its mountinfo is.
std::string MountNamespaceOf(const std::string& pid) {
  std::istringstream mountinfo(ReadFile(absl::StrCat("/proc/", pid, "/mountinfo")));
  std::string root_id;
  for (std::string line; std::getline(mountinfo, line);) {
    std::istringstream fields(line);
    std::string id, parent, numbers, root, mount_point;
    if (fields >> id >> parent >> numbers >> root >> mount_point && mount_point == "/") root_id = id;  // the top one
  }
  return root_id;
}
// Read before main(), and so before any factory call has moved the process into a namespace of its own.
const std::string kStartingMountNamespace = MountNamespaceOf("self");

// A mount point folder: " path " as a whole field of a mountinfo line.
bool MountedIn(const std::string& mountinfo_path, const std::string& mount_point) {
  return absl::StrContains(ReadFile(mountinfo_path), absl::StrCat(" ", mount_point, " "));
}

// write(2) of one block to a new file.
int WriteOneBlockErrno(const ScratchFs& fs) {
  ScopedFd fd(open(fs.Join("one_more").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
  if (fd.get() < 0) return errno;
  const std::vector<char> block(4096, 'x');
  if (write(fd.get(), block.data(), block.size()) == static_cast<ssize_t>(block.size()) && fsync(fd.get()) == 0) {
    return 0;
  }
  return errno;
}

TEST(ScratchFsTest, TmpfsHasTheSizeAsked) {
  PMEM2_SCRATCH_FS_OR_SKIP(fs, ScratchFs::Tmpfs(4 * kMiB));
  EXPECT_TRUE(absl::StartsWith(fs->path(), "/tmp/pmem2_scratch.")) << fs->path();
  EXPECT_EQ(fs->Join("a"), fs->path() + "/a");
  EXPECT_TRUE(fs->loop_device().empty());
  struct statfs fs_stat;
  ASSERT_EQ(statfs(fs->path().c_str(), &fs_stat), 0) << std::strerror(errno);
  EXPECT_EQ(fs_stat.f_type, TMPFS_MAGIC);
  struct statvfs st;
  ASSERT_EQ(statvfs(fs->path().c_str(), &st), 0) << std::strerror(errno);
  EXPECT_EQ(uint64_t{st.f_blocks} * st.f_frsize, 4 * kMiB);
  EXPECT_EQ(uint64_t{st.f_bavail} * st.f_frsize, 4 * kMiB);
  EXPECT_TRUE(absl::StrContains(ReadFile("/proc/self/mountinfo"), fs->path()));
  const Trace trace = TraceOf(*fs);
  fs.reset();
  ExpectGone(trace);
}

TEST(ScratchFsTest, TmpfsFillLeavesNoBlock) {
  PMEM2_SCRATCH_FS_OR_SKIP(fs, ScratchFs::Tmpfs(2 * kMiB));
  absl::StatusOr<uint64_t> written = fs->Fill("filler");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 2 * kMiB);
  EXPECT_EQ(WriteOneBlockErrno(*fs), ENOSPC);
  ScopedFd fd(open(fs->Join("allocated").c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  EXPECT_EQ(posix_fallocate(fd.get(), 0, 4096), ENOSPC);
  // Space comes back when the filler goes.
  ASSERT_EQ(unlink(fs->Join("filler").c_str()), 0) << std::strerror(errno);
  EXPECT_EQ(WriteOneBlockErrno(*fs), 0);
}

// A store to a hole of a MAP_SHARED mapping of a full tmpfs gets SIGBUS: the other failure tests need to see.
TEST(ScratchFsDeathTest, TmpfsStoreBeyondCapacityRaisesSigbus) {
  PMEM2_SCRATCH_FS_OR_SKIP(fs, ScratchFs::Tmpfs(1 * kMiB));
  ScopedFd fd = CreateFile(fs->Join("sparse"), 4 * kMiB, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  void* map = mmap(nullptr, 4 * kMiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  // "fast": the child is a fork that shares this mount and never runs the destructor; "threadsafe" would
  // re-run the test in a new process that would make (and leak) a mount of its own.
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(
      {
        signal(SIGBUS, SIG_DFL);  // sanitizers install their own handler
        std::memset(map, 1, 4 * kMiB);
      },
      ::testing::KilledBySignal(SIGBUS), "");
  munmap(map, 4 * kMiB);
}

TEST(ScratchFsTest, Ext4FillLeavesNoBlock) {
  // Backing larger than the image: a plain small ext4 whose write-back never fails.
  PMEM2_SCRATCH_FS_OR_SKIP(fs, ScratchFs::Ext4OnFailingLoop(8 * kMiB, 16 * kMiB));
  struct statfs fs_stat;
  ASSERT_EQ(statfs(fs->path().c_str(), &fs_stat), 0) << std::strerror(errno);
  EXPECT_EQ(fs_stat.f_type, EXT4_SUPER_MAGIC);
  EXPECT_TRUE(absl::StrContains(ReadFile("/proc/self/mountinfo"), absl::StrCat(fs->path(), " ")));
  const Trace trace = TraceOf(*fs);
  EXPECT_TRUE(absl::StrContains(ReadFile(trace.loop_sysfs + "/backing_file"), RootOf(fs->path()))) << trace.loop_sysfs;
  absl::StatusOr<uint64_t> written = fs->Fill("filler");
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_GT(*written, 6 * kMiB);
  EXPECT_LE(*written, 8 * kMiB);
  EXPECT_EQ(WriteOneBlockErrno(*fs), ENOSPC);
  fs.reset();
  ExpectGone(trace);
}

TEST(ScratchFsTest, Ext4FsyncBeyondTheBackingFails) {
  PMEM2_SCRATCH_FS_OR_SKIP(fs, ScratchFs::Ext4OnFailingLoop(64 * kMiB, 4 * kMiB));
  ScopedFd fd(open(fs->Join("data").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  const std::vector<char> data(kMiB, 'd');
  for (int i = 0; i < 16; ++i) {
    // ext4 believes it has the space: the writes themselves succeed.
    ASSERT_EQ(write(fd.get(), data.data(), data.size()), static_cast<ssize_t>(data.size())) << std::strerror(errno);
  }
  const int result = fsync(fd.get());
  const int err = errno;
  EXPECT_EQ(result, -1);
  EXPECT_TRUE(err == EIO || err == ENOSPC) << std::strerror(err);
  fd = ScopedFd();
  const Trace trace = TraceOf(*fs);
  fs.reset();
  ExpectGone(trace);
}

// The case pmem2 cares about: stores to a mapping are accepted, msync reports that write-back failed.
TEST(ScratchFsTest, Ext4MsyncBeyondTheBackingFails) {
  PMEM2_SCRATCH_FS_OR_SKIP(fs, ScratchFs::Ext4OnFailingLoop(64 * kMiB, 4 * kMiB));
  constexpr size_t kSize = 16 * kMiB;
  ScopedFd fd(open(fs->Join("mapped").c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  ASSERT_EQ(posix_fallocate(fd.get(), 0, kSize), 0);
  void* map = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
  std::memset(map, 'm', kSize);
  const int result = msync(map, kSize, MS_SYNC);
  const int err = errno;
  EXPECT_EQ(result, -1);
  EXPECT_TRUE(err == EIO || err == ENOSPC) << std::strerror(err);
  munmap(map, kSize);
  fd = ScopedFd();
  const Trace trace = TraceOf(*fs);
  fs.reset();
  ExpectGone(trace);
}

TEST(ScratchFsTest, Ext4FillReportsTheFailedWriteBack) {
  PMEM2_SCRATCH_FS_OR_SKIP(fs, ScratchFs::Ext4OnFailingLoop(16 * kMiB, 2 * kMiB));
  absl::StatusOr<uint64_t> written = fs->Fill("filler");
  EXPECT_TRUE(absl::IsDataLoss(written.status())) << written.status();
}

TEST(ScratchFsTest, RefusesABackingTooSmallForMkfs) {
  absl::StatusOr<std::unique_ptr<ScratchFs>> fs = ScratchFs::Ext4OnFailingLoop(64 * kMiB, 64 * 1024);
  if (absl::IsFailedPrecondition(fs.status())) GTEST_SKIP() << fs.status().message();
  EXPECT_TRUE(absl::IsInvalidArgument(fs.status())) << fs.status();
  EXPECT_TRUE(absl::StrContains(fs.status().message(), "too small")) << fs.status();
}

// A test process that dies (a sanitizer's abort, SIGSEGV, a timeout's SIGKILL) runs no destructor: its file
// systems must go with it, not stay mounted in the machine's mount namespace. Checked with a forked child that
// makes a tmpfs and leaves with _exit(2), as a process that dies does.
TEST(ScratchFsTest, AProcessThatDiesWithoutDestructorsLeavesNoMountOnTheMachine) {
  if (geteuid() != 0) GTEST_SKIP() << "the factories need root";
  const std::string machine = MountNamespaceOf("1");
  if (kStartingMountNamespace.empty() || kStartingMountNamespace != machine) {
    GTEST_SKIP() << "this process started in a mount namespace whose / is mount " << kStartingMountNamespace
                 << ", not the machine's (" << machine << "): nothing it mounts could reach the machine's";
  }
  ChildResult child = RunInChild([](int out) -> int {
    absl::StatusOr<std::unique_ptr<ScratchFs>> fs = ScratchFs::Tmpfs(kMiB);
    if (!fs.ok()) {
      WriteToParent(out, fs.status().message());
      _exit(absl::IsFailedPrecondition(fs.status()) ? 3 : 2);
    }
    WriteToParent(out, (*fs)->path());
    _exit(MountedIn("/proc/self/mountinfo", (*fs)->path()) ? 0 : 4);  // no destructor runs
  });
  if (child.exited && child.exit_code == 3) GTEST_SKIP() << child.output;
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe() << " (4: not mounted in its own view)";
  const std::string path = child.output;
  ASSERT_TRUE(absl::StartsWith(path, "/tmp/pmem2_scratch.")) << path;
  const bool left_on_the_machine = MountedIn("/proc/1/mountinfo", path);
  EXPECT_FALSE(left_on_the_machine) << path << " is still mounted in the machine's mount namespace";
  // Tidy up: what the machine was left (only when this fails), a mount in this process's own namespace (when an
  // earlier test had moved it there, the child mounted in it), and the folder, which always stays.
  if (left_on_the_machine) {
    RunInChild([&path](int) {
      const int machine_ns = open("/proc/1/ns/mnt", O_RDONLY | O_CLOEXEC);
      return machine_ns >= 0 && setns(machine_ns, CLONE_NEWNS) == 0 && umount2(path.c_str(), MNT_DETACH) == 0 ? 0 : 1;
    });
  }
  if (MountedIn("/proc/self/mountinfo", path)) umount2(path.c_str(), MNT_DETACH);
  EXPECT_EQ(rmdir(path.c_str()), 0) << path << ": " << std::strerror(errno);
}

// A "threadsafe" death test runs the test again in a child that dies without destructors, so a file system made
// there would stay mounted for good (persistence_failure_test's SIGBUS test left a 2 MiB tmpfs behind on every
// run that way). The factories refuse in such a child, root or not; checked with the flag GoogleTest sets there.
TEST(ScratchFsTest, RefusesInADeathTestChildThatReRanTheTest) {
  const std::string saved = GTEST_FLAG_GET(internal_run_death_test);
  absl::Cleanup restore = [&saved] { GTEST_FLAG_SET(internal_run_death_test, saved); };
  GTEST_FLAG_SET(internal_run_death_test, "scratch_fs_test.cc|1|0|-1");
  static absl::Status tmpfs, ext4;  // EXPECT_NONFATAL_FAILURE's statement sees no locals
  EXPECT_NONFATAL_FAILURE(tmpfs = ScratchFs::Tmpfs(kMiB).status(), "death_test_style");
  EXPECT_NONFATAL_FAILURE(ext4 = ScratchFs::Ext4OnFailingLoop(8 * kMiB, 8 * kMiB).status(), "\"fast\"");
  for (const absl::Status& status : {tmpfs, ext4}) {
    EXPECT_TRUE(absl::IsInternal(status)) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "scratch_fs_test.cc|1|0|-1")) << status;
    EXPECT_FALSE(absl::StrContains(status.message(), "\n")) << status;
  }
}

// Without root the factories give a one-line reason to skip with. As root, checked in a child that drops to
// nobody.
TEST(ScratchFsDeathTest, RefusesWithoutRootWithAReason) {
  const auto check = [] {
    for (const absl::Status& status :
         {ScratchFs::Tmpfs(kMiB).status(), ScratchFs::Ext4OnFailingLoop(8 * kMiB, 8 * kMiB).status()}) {
      if (!absl::IsFailedPrecondition(status) || !absl::StrContains(status.message(), "needs root") ||
          absl::StrContains(status.message(), "\n")) {
        std::fprintf(stderr, "unexpected: %s\n", status.ToString().c_str());
        return false;
      }
    }
    return true;
  };
  if (geteuid() != 0) {
    EXPECT_TRUE(check());
    return;
  }
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(
      {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
        _exit(check() ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace testing
}  // namespace pmem2
