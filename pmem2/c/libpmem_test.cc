// Copyright 2026 The pmem2 Authors.
//
// Every function of our libpmem (pmem2/c/libpmem.h), linked statically: pmem_map_file with each flag and
// combination and the files it leaves, pmem_unmap, pmem_is_pmem, the flush functions, pmem_msync (with injected
// write-back failures: sticky), the copy functions with every flag, pmem_check_version and pmem_errormsg.
// PMEM_IS_PMEM_FORCE, PMEM_LOG_LEVEL / PMEM_LOG_FILE and PMEM_MMAP_HINT are read once per process: their tests
// are binaries of their own: libpmem_is_pmem_force_test.cc, libpmem_log_test.cc and
// libpmem_mmap_hint_test.cc.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "pmem2/pmem2.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist_for_test.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/proc_maps.h"
#include "testing/temp_files.h"

namespace {

using ::pmem2::testing::FolderEntries;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::testing::StatOrZero;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr size_t kPage = 4096;
constexpr size_t kMiB = size_t{1} << 20;

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void WriteFile(const std::string& path, size_t size, char fill) {
  const int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  std::vector<char> bytes(size, fill);
  ASSERT_EQ(write(fd, bytes.data(), size), static_cast<ssize_t>(size));
  close(fd);
}

bool IsMapped(const void* address) {
  const uintptr_t page = reinterpret_cast<uintptr_t>(address) & ~(kPage - 1);
  return msync(reinterpret_cast<void*>(page), kPage, MS_ASYNC) == 0;
}

class LibpmemTest : public ::testing::Test {
 protected:
  void SetUp() override { old_umask_ = umask(022); }
  void TearDown() override { umask(old_umask_); }

  // A failing pmem_map_file: NULL, `err`, outputs untouched, a message.
  void ExpectMapFails(const std::string& path, size_t len, int flags, mode_t mode, int err) {
    size_t mapped_len = 1234;
    int is_pmem = 5678;
    errno = 0;
    EXPECT_EQ(pmem_map_file(path.c_str(), len, flags, mode, &mapped_len, &is_pmem), nullptr)
        << path << " len " << len << " flags " << flags;
    EXPECT_EQ(errno, err) << path << " len " << len << " flags " << flags << ": " << std::strerror(errno);
    EXPECT_EQ(mapped_len, 1234u);
    EXPECT_EQ(is_pmem, 5678);
    EXPECT_STRNE(pmem_errormsg(), "");
  }

  // A pmem_map_file mapping of two pages (its length in *len) that the application then released with munmap(2),
  // behind pmem_unmap's back (its entry stays until pmem_map_file maps over it); nullptr if a step failed.
  char* MapThenReleaseWithMunmap(size_t* len) {
    void* p = pmem_map_file(dir_.Join("f").c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, len, nullptr);
    if (p == nullptr || munmap(p, *len) != 0) return nullptr;
    return static_cast<char*>(p);
  }

  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{"/dev/shm"};
  mode_t old_umask_ = 0;
};

TEST_F(LibpmemTest, CreateMakesAFullyAllocatedFileWithTheModeUnderTheUmask) {
  for (mode_t mode : {mode_t{0600}, mode_t{0640}, mode_t{0666}, mode_t{0777}, mode_t{0444}}) {
    const std::string path = dir_.Join(absl::StrCat("new", mode));
    size_t len = 0;
    int is_pmem = 7;
    void* p = pmem_map_file(path.c_str(), kMiB + 100, PMEM_FILE_CREATE, mode, &len, &is_pmem);
    ASSERT_NE(p, nullptr) << pmem_errormsg();
    EXPECT_EQ(len, kMiB + 100);
    EXPECT_EQ(is_pmem, 0) << "tmpfs is no persistent memory";
    const struct stat st = StatOrZero(path);
    EXPECT_EQ(st.st_size, static_cast<off_t>(kMiB + 100));
    EXPECT_EQ(st.st_mode & 07777, mode & ~022u) << std::oct << mode;
    EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kMiB + 100) << "posix_fallocate allocated every block";
    static_cast<char*>(p)[kMiB + 99] = 'z';
    EXPECT_EQ(pmem_msync(static_cast<char*>(p) + kMiB + 99, 1), 0);
    EXPECT_EQ(pmem_unmap(p, len), 0);
  }
}

// The descriptors of this process open on the file at `path`, of every kind (O_PATH too).
size_t DescriptorsOfTheFile(const std::string& path) {
  const struct stat file = StatOrZero(path);
  size_t count = 0;
  for (const std::string& entry : FolderEntries("/proc/self/fd")) {
    struct stat st;
    if (stat(absl::StrCat("/proc/self/fd/", entry).c_str(), &st) == 0 && st.st_dev == file.st_dev &&
        st.st_ino == file.st_ino) {
      ++count;
    }
  }
  return count;
}

// A C++ Map of all of the file open as `fd`, at page granularity.
absl::StatusOr<pmem2::Map> PageMapOf(int fd) {
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  if (!source.ok()) return source.status();
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  return pmem2::Map::Create(config, *source);
}

// The file's path as the kernel names it (what pmem_map_file keeps for a forked child).
std::string RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  return realpath(path.c_str(), resolved) != nullptr ? std::string(resolved) : std::string();
}

// Opens of a file, as inotify reports them (IN_OPEN: not for O_PATH lookups, which open nothing, on Linux 6.1 and
// later; LookupsCountAsOpens() tells). inotify merges an event with the unread one before it if they are alike, so
// Count() tells none from some, not one from two.
class OpensOf {
 public:
  explicit OpensOf(const std::string& path) : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) {
    if (fd_ >= 0) watch_ = inotify_add_watch(fd_, path.c_str(), IN_OPEN);
  }
  ~OpensOf() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0 && watch_ >= 0; }
  // Whether this kernel reports an O_PATH lookup of `path` as an open (before Linux 6.1 it did).
  static bool LookupsCountAsOpens(const std::string& path) {
    OpensOf opens(path);
    if (!opens.ok()) return true;  // cannot tell: leave the checks out
    const int found = open(path.c_str(), O_PATH | O_CLOEXEC);
    if (found >= 0) close(found);
    return opens.Count() > 0;
  }
  // The opens since the last call.
  int Count() {
    int count = 0;
    alignas(struct inotify_event) char events[4096];
    ssize_t n;
    while ((n = read(fd_, events, sizeof events)) > 0) {
      for (ssize_t at = 0; at < n;) {
        const auto* event = reinterpret_cast<const struct inotify_event*>(events + at);
        if ((event->mask & IN_OPEN) != 0) ++count;
        at += static_cast<ssize_t>(sizeof(struct inotify_event) + event->len);
      }
    }
    return count;
  }

 private:
  int fd_;
  int watch_ = -1;
};

// A forked child's way of reading /proc/self/maps, for this scope: PROCMAP_QUERY (where the kernel has it) or all of
// the file (as on kernels before 6.11, Debian 12's among them).
class ScopedMapsReading {
 public:
  explicit ScopedMapsReading(bool query) { pmem2::map_internal::UseProcmapQueryInChildForTest(query); }
  ~ScopedMapsReading() { pmem2::map_internal::UseProcmapQueryInChildForTest(true); }
  ScopedMapsReading(const ScopedMapsReading&) = delete;
  ScopedMapsReading& operator=(const ScopedMapsReading&) = delete;
};

// Its caller may release a pmem_map_file mapping with munmap(2), which pmem2 does not see: the mapping keeps no
// descriptor of the file open (it would keep the file, and a deleted file's blocks, until the process ends). A forked
// child still maps it again through a file description of its own (pmem2/map/map.h, "fork()"), which it opens by the
// file's path, so that a write-back failure reaches both processes (pmem_map_file_fork_failure_test.cc). Before, the
// child shared its parent's description, and either process's pmem_msync could take the report of the other's loss.
void MapsAgainThroughThePath(const std::string& path, bool query) {
  const size_t handles_before = pmem2::map_internal::ChildReopenHandleCountForTest();
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(path.c_str(), kMiB, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  std::memcpy(p, "first", 5);
  std::memcpy(p + len - 4, "last", 4);
  const struct stat st = StatOrZero(path);
  EXPECT_TRUE(pmem2::map_internal::RemapsInChildForTest(p));
  EXPECT_EQ(pmem2::map_internal::ChildReopenHandleForTest(st.st_dev, st.st_ino), -1) << "no descriptor";
  EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino), ElementsAre(RealPath(path)));
  EXPECT_EQ(DescriptorsOfTheFile(path), 0u);
  OpensOf opens(path);  // where inotify has no instance left for this user, its checks are left out
  const bool queries = query && pmem2::map_internal::KernelHasProcmapQueryForTest();
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    if (pmem2::map_internal::MappedAgainInChildForTest() != 1) {
      pmem2::testing::WriteToParent(out, "not mapped again; ");
    }
    if (pmem2::map_internal::OpenedByPathInChildForTest() != 1) {
      pmem2::testing::WriteToParent(
          out, absl::StrCat("opened by its path ", pmem2::map_internal::OpenedByPathInChildForTest(), " times; "));
    }
    if (pmem2::map_internal::ChildQueriedMapsForTest() != queries) {
      pmem2::testing::WriteToParent(out, "/proc/self/maps read the other way; ");
    }
    if (std::memcmp(p, "first", 5) != 0 || std::memcmp(p + len - 4, "last", 4) != 0) {
      pmem2::testing::WriteToParent(out, "its bytes are not the parent's; ");
    }
    std::memcpy(p + kPage, "child", 5);  // through the file: shared with the parent
    if (pmem_msync(p + kPage, 5) != 0) pmem2::testing::WriteToParent(out, pmem_errormsg());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(std::string(p + kPage, 5), "child");
  if (opens.ok()) {
    EXPECT_EQ(opens.Count(), 1) << "the child's fork handler opened the file (inotify: once or more)";
  }
  EXPECT_EQ(pmem_msync(p, len), 0) << pmem_errormsg();
  EXPECT_EQ(pmem_unmap(p, len), 0);
  EXPECT_EQ(pmem2::map_internal::ChildReopenHandleCountForTest(), handles_before) << "the path goes with the mapping";
  EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino), IsEmpty());
}

TEST_F(LibpmemTest, AForkedChildMapsAPmemMapFileMappingAgainThroughTheFilesPath) {
  for (bool query : {true, false}) {
    SCOPED_TRACE(query ? "PROCMAP_QUERY" : "all of /proc/self/maps");
    const ScopedMapsReading reading(query);
    MapsAgainThroughThePath(dir_.Join(query ? "queried" : "read"), query);
  }
}

// Where the path no longer leads to the mapped file as a regular file (a symbolic link at its end is not followed), the
// child shares its parent's description, as every child did before: no error (nothing could have been done), nothing
// mapped again, no hang, and what took the name is not opened (inotify: a child's fork handler runs before a tracer
// could attach to it).
TEST_F(LibpmemTest, AForkedChildSharesTheDescriptionWhereThePathNoLongerNamesTheFile) {
  enum class Change { kRenamed, kUnlinked, kReplacedByAnotherFile, kReplacedByALinkToIt, kReplacedByAFifo };
  for (Change change : {Change::kRenamed, Change::kUnlinked, Change::kReplacedByAnotherFile,
                        Change::kReplacedByALinkToIt, Change::kReplacedByAFifo}) {
    SCOPED_TRACE(static_cast<int>(change));
    const std::string path = dir_.Join("f");
    const std::string moved = dir_.Join("moved");
    size_t len = 0;
    char* p = static_cast<char*>(pmem_map_file(path.c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
    ASSERT_NE(p, nullptr) << pmem_errormsg();
    std::memcpy(p, "parent", 6);
    ASSERT_EQ(rename(path.c_str(), moved.c_str()), 0);
    switch (change) {
      case Change::kRenamed:
        break;
      case Change::kUnlinked:
        ASSERT_EQ(unlink(moved.c_str()), 0);
        break;
      case Change::kReplacedByAnotherFile:
        WriteFile(path, 2 * kPage, 'o');
        break;
      case Change::kReplacedByALinkToIt:
        ASSERT_EQ(symlink(moved.c_str(), path.c_str()), 0);
        break;
      case Change::kReplacedByAFifo:
        ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
        break;
    }
    // Whatever took the name (a FIFO's open could wait, a device's act) is looked up, never opened.
    std::unique_ptr<OpensOf> opens_of_the_name;
    if (change != Change::kRenamed && change != Change::kUnlinked && !OpensOf::LookupsCountAsOpens(path)) {
      opens_of_the_name = std::make_unique<OpensOf>(path);
      if (!opens_of_the_name->ok()) opens_of_the_name.reset();
    }
    const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
      if (pmem2::map_internal::MappedAgainInChildForTest() != 0) {
        pmem2::testing::WriteToParent(out, "mapped again; ");
      }
      if (pmem2::map_internal::OpenedByPathInChildForTest() != 0) pmem2::testing::WriteToParent(out, "opened; ");
      if (std::memcmp(p, "parent", 6) != 0) pmem2::testing::WriteToParent(out, "its bytes changed; ");
      if (pmem_msync(p, len) != 0) pmem2::testing::WriteToParent(out, pmem_errormsg());
      return 0;
    });
    ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    EXPECT_EQ(child.output, "");
    if (opens_of_the_name != nullptr) {
      EXPECT_EQ(opens_of_the_name->Count(), 0) << "opened what took the file's name";
    }
    EXPECT_EQ(pmem_unmap(p, len), 0);
    unlink(path.c_str());
    unlink(moved.c_str());
  }
}

// A range the caller released with munmap(2) and then used otherwise is left to the new mapping in a child (what
// /proc/self/maps shows there is not the file's at the mapping's offsets), and the file is not even opened (it may be
// leased to another process, or watched); one the caller mapped again from the same file at the same offsets is the
// mapping's, and is mapped again.
TEST_F(LibpmemTest, AForkedChildLeavesARangeTheCallerUnmappedAndUsedOtherwise) {
  const std::string path = dir_.Join("f");
  const std::string other_path = dir_.Join("other");
  WriteFile(other_path, 2 * kPage, 'o');
  const int other = open(other_path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(other, 0);
  const int same = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(same, 0);
  const bool lookups_count_as_opens = OpensOf::LookupsCountAsOpens(path);
  enum class Use { kAnonymous, kAnotherFile, kTheFileAtAnotherOffset, kTheFileAtItsOffset };
  for (int round = 0; round < 8; ++round) {
    const Use use = static_cast<Use>(round % 4);
    const bool query = round < 4;
    SCOPED_TRACE(absl::StrCat(round % 4, query ? ", PROCMAP_QUERY" : ", all of /proc/self/maps"));
    const ScopedMapsReading reading(query);
    size_t len = 0;
    char* p = static_cast<char*>(pmem_map_file(path.c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
    ASSERT_NE(p, nullptr) << pmem_errormsg();
    std::memcpy(p, "mapped", 6);
    std::memcpy(p + kPage, "second", 6);
    ASSERT_EQ(munmap(p, len), 0);
    void* reused = MAP_FAILED;
    switch (use) {
      case Use::kAnonymous:
        reused = mmap(p, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (reused != MAP_FAILED) std::memcpy(p, "anon", 4);
        break;
      case Use::kAnotherFile:
        reused = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, other, 0);
        break;
      case Use::kTheFileAtAnotherOffset:
        reused = mmap(p, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, same, kPage);
        break;
      case Use::kTheFileAtItsOffset:
        reused = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, same, 0);
        break;
    }
    ASSERT_EQ(reused, p) << std::strerror(errno);
    const std::string expected = use == Use::kAnonymous                ? "anon"
                                 : use == Use::kAnotherFile            ? "oooo"
                                 : use == Use::kTheFileAtAnotherOffset ? "seco"
                                                                       : "mapp";
    const size_t mapped_again = use == Use::kTheFileAtItsOffset ? 1 : 0;
    // The process holds the file open nowhere: the child opens it only where a shared mapping at the record's offsets
    // could be the file's (another file's there is told apart only by the probe, which needs the file open).
    const size_t expected_opens = use == Use::kTheFileAtItsOffset || use == Use::kAnotherFile ? 1 : 0;
    OpensOf opens(path);
    const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
      if (pmem2::map_internal::MappedAgainInChildForTest() != mapped_again) {
        pmem2::testing::WriteToParent(
            out, absl::StrCat(pmem2::map_internal::MappedAgainInChildForTest(), " mapped again; "));
      }
      if (pmem2::map_internal::OpenedByPathInChildForTest() != expected_opens) {
        pmem2::testing::WriteToParent(
            out, absl::StrCat("opened ", pmem2::map_internal::OpenedByPathInChildForTest(), " times; "));
      }
      if (std::string(p, 4) != expected) pmem2::testing::WriteToParent(out, "its bytes: " + std::string(p, 4));
      return 0;
    });
    ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    EXPECT_EQ(child.output, "");
    EXPECT_EQ(std::string(p, 4), expected);
    if (expected_opens == 0 && !lookups_count_as_opens && opens.ok()) {
      EXPECT_EQ(opens.Count(), 0) << "the child opened a file it had no piece of (inotify)";
    }
    ASSERT_EQ(munmap(p, use == Use::kTheFileAtAnotherOffset ? kPage : len), 0);
    EXPECT_EQ(pmem_unmap(p, len), 0);  // the mapping's own entry, whose range is free now
  }
  close(other);
  close(same);
}

// A file mapped both ways: a C++ Map of it holds the O_PATH handle (and a child opens the file through that), the
// pmem_map_file mappings its path; the file's entry goes with the last of either, the descriptor with the last Map.
TEST_F(LibpmemTest, AFileMappedByPmemMapFileAndByAMapKeepsOneEntryUntilTheLastOfThem) {
  const std::string path = dir_.Join("f");
  const size_t before = pmem2::map_internal::ChildReopenHandleCountForTest();
  const auto mapped_again_in_a_child = [] {
    const pmem2::testing::ChildResult child = pmem2::testing::RunInChild(
        [](int) { return static_cast<int>(pmem2::map_internal::MappedAgainInChildForTest()); });
    return child.exited ? child.exit_code : -1;
  };
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(path.c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  const struct stat st = StatOrZero(path);
  {
    pmem2::testing::ScopedFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
    absl::StatusOr<pmem2::Map> map = PageMapOf(fd.get());
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_GE(pmem2::map_internal::ChildReopenHandleForTest(st.st_dev, st.st_ino), 0) << "the Map's handle";
    EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino), ElementsAre(RealPath(path)));
    EXPECT_EQ(pmem2::map_internal::ChildReopenHandleCountForTest(), before + 1) << "one entry per file";
    EXPECT_EQ(mapped_again_in_a_child(), 2);
  }
  EXPECT_EQ(pmem2::map_internal::ChildReopenHandleForTest(st.st_dev, st.st_ino), -1) << "closed with the Map";
  EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino), ElementsAre(RealPath(path)));
  EXPECT_EQ(mapped_again_in_a_child(), 1);
  // A second pmem_map_file mapping of the file, then a Map made after them (its handle on an entry that had only
  // the path), destroyed again; the first mapping unmapped: the second still has the path.
  size_t len2 = 0;
  char* q = static_cast<char*>(pmem_map_file(path.c_str(), 0, 0, 0, &len2, nullptr));
  ASSERT_NE(q, nullptr) << pmem_errormsg();
  {
    pmem2::testing::ScopedFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
    absl::StatusOr<pmem2::Map> map = PageMapOf(fd.get());
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_GE(pmem2::map_internal::ChildReopenHandleForTest(st.st_dev, st.st_ino), 0);
    EXPECT_EQ(mapped_again_in_a_child(), 3);
  }
  EXPECT_EQ(pmem_unmap(p, len), 0);
  EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino), ElementsAre(RealPath(path)));
  EXPECT_EQ(pmem2::map_internal::ChildReopenHandleCountForTest(), before + 1);
  EXPECT_EQ(mapped_again_in_a_child(), 1);
  EXPECT_EQ(pmem_unmap(q, len2), 0);
  EXPECT_EQ(pmem2::map_internal::ChildReopenHandleCountForTest(), before);
  EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino), IsEmpty());
  EXPECT_EQ(DescriptorsOfTheFile(path), 0u);
}

// A child that cannot read /proc/self/maps cannot tell what is still a mapping's: one whose file's name still leads to
// the file records that (for good: nothing persisted there can be vouched for), one whose name does not shares, as
// it would have anyway. The lookup that tells opens nothing.
TEST_F(LibpmemTest, AForkedChildThatCannotReadItsMapsFailsOnlyWhatItCouldHaveMappedAgain) {
  const std::string kept = dir_.Join("kept");
  const std::string renamed = dir_.Join("renamed");
  size_t kept_len = 0;
  size_t renamed_len = 0;
  char* k = static_cast<char*>(pmem_map_file(kept.c_str(), kPage, PMEM_FILE_CREATE, 0600, &kept_len, nullptr));
  ASSERT_NE(k, nullptr) << pmem_errormsg();
  char* r = static_cast<char*>(pmem_map_file(renamed.c_str(), kPage, PMEM_FILE_CREATE, 0600, &renamed_len, nullptr));
  ASSERT_NE(r, nullptr) << pmem_errormsg();
  ASSERT_EQ(rename(renamed.c_str(), dir_.Join("moved").c_str()), 0);
  pmem2::map_internal::MapsUnreadableInChildForTest(true);
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    for (int i = 0; i < 2; ++i) {
      errno = 0;
      if (pmem_msync(k, kept_len) != -1 || errno != EIO) {
        pmem2::testing::WriteToParent(out, absl::StrCat("kept: errno ", errno, "; "));
      }
    }
    if (pmem_msync(r, renamed_len) != 0) pmem2::testing::WriteToParent(out, pmem_errormsg());
    if (pmem2::map_internal::OpenedByPathInChildForTest() != 0) pmem2::testing::WriteToParent(out, "opened; ");
    return 0;
  });
  pmem2::map_internal::MapsUnreadableInChildForTest(false);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(pmem_msync(k, kept_len), 0) << pmem_errormsg();
  EXPECT_EQ(pmem_unmap(k, kept_len), 0);
  EXPECT_EQ(pmem_unmap(r, renamed_len), 0);
}

// The second look at /proc/self/maps, which names the probes of files known by their path: where its PROCMAP_QUERY
// fails the child reads all of the file instead and goes on; where that fails too, the mapping records the failure.
TEST_F(LibpmemTest, AForkedChildWhoseSecondLookFailsReadsTheFileOrSaysSo) {
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(dir_.Join("f").c_str(), kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  for (int how : {1, 2}) {
    SCOPED_TRACE(how);
    pmem2::map_internal::FailSecondLookInChildForTest(how);
    const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
      const size_t mapped_again = pmem2::map_internal::MappedAgainInChildForTest();
      errno = 0;
      const int synced = pmem_msync(p, len);
      if (how == 1 && (mapped_again != 1 || synced != 0)) {
        pmem2::testing::WriteToParent(out, absl::StrCat(mapped_again, " mapped again, msync ", synced, "; "));
      }
      if (how == 2 && (mapped_again != 0 || synced != -1 || errno != EIO)) {
        pmem2::testing::WriteToParent(out, absl::StrCat(mapped_again, " mapped again, errno ", errno, "; "));
      }
      if (how == 1 && pmem2::map_internal::ChildQueriedMapsForTest()) {
        pmem2::testing::WriteToParent(out, "says it queried; ");
      }
      return 0;
    });
    pmem2::map_internal::FailSecondLookInChildForTest(0);
    ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    EXPECT_EQ(child.output, "");
  }
  EXPECT_EQ(pmem_msync(p, len), 0) << pmem_errormsg();
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// A probe (the page of the file a child maps to learn how the kernel names it) of a file known by its path is made
// after /proc/self/maps was read: where it falls into a hole the caller made in the mapping (munmap of a page), it is
// no piece of the mapping, and the hole stays a hole.
TEST_F(LibpmemTest, AForkedChildsProbeInAHoleOfAPmemMapFileMappingStaysOutOfIt) {
  for (bool query : {true, false}) {
    SCOPED_TRACE(query ? "PROCMAP_QUERY" : "all of /proc/self/maps");
    const ScopedMapsReading reading(query);
    size_t len = 0;
    char* p = static_cast<char*>(
        pmem_map_file(dir_.Join(query ? "q" : "r").c_str(), 3 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
    ASSERT_NE(p, nullptr) << pmem_errormsg();
    std::memcpy(p, "head", 4);
    std::memcpy(p + 2 * kPage, "tail", 4);
    ASSERT_EQ(munmap(p + kPage, kPage), 0);
    pmem2::map_internal::ProbeAtInChildForTest(p + kPage);
    const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
      if (pmem2::map_internal::MappedAgainInChildForTest() != 2) {
        pmem2::testing::WriteToParent(
            out, absl::StrCat(pmem2::map_internal::MappedAgainInChildForTest(), " mapped again, not 2; "));
      }
      if (IsMapped(p + kPage)) pmem2::testing::WriteToParent(out, "the hole is mapped; ");
      if (std::memcmp(p, "head", 4) != 0 || std::memcmp(p + 2 * kPage, "tail", 4) != 0) {
        pmem2::testing::WriteToParent(out, "its bytes changed; ");
      }
      if (pmem_msync(p, kPage) != 0) pmem2::testing::WriteToParent(out, pmem_errormsg());
      return 0;
    });
    pmem2::map_internal::ProbeAtInChildForTest(nullptr);
    ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    EXPECT_EQ(child.output, "");
    EXPECT_EQ(pmem_unmap(p, len), 0);
  }
}

// A file has a name per hard link: each mapping keeps the name it was mapped by (not that of a C++ Map's handle on the
// file, which may have been opened through another), and a child opens the file by the newest name that still leads
// to it.
TEST_F(LibpmemTest, AForkedChildFindsAFileByAnyNameAMappingOfItWasMadeBy) {
  const std::string a = dir_.Join("a");
  const std::string b = dir_.Join("b");
  size_t a_len = 0;
  char* pa = static_cast<char*>(pmem_map_file(a.c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, &a_len, nullptr));
  ASSERT_NE(pa, nullptr) << pmem_errormsg();
  ASSERT_EQ(link(a.c_str(), b.c_str()), 0) << std::strerror(errno);
  const struct stat st = StatOrZero(a);
  {
    // A C++ Map made through "a", whose handle the file keeps while it lives; "a" then removed.
    pmem2::testing::ScopedFd fd(open(a.c_str(), O_RDWR | O_CLOEXEC));
    absl::StatusOr<pmem2::Map> map = PageMapOf(fd.get());
    ASSERT_TRUE(map.ok()) << map.status();
    ASSERT_EQ(unlink(a.c_str()), 0);
    size_t b_len = 0;
    char* pb = static_cast<char*>(pmem_map_file(b.c_str(), 0, 0, 0, &b_len, nullptr));
    ASSERT_NE(pb, nullptr) << pmem_errormsg();
    EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino),
                ElementsAre(RealPath(dir_.path()) + "/a", RealPath(b)))
        << "the name each mapping was made by";
    ASSERT_EQ(link(b.c_str(), a.c_str()), 0);  // "a" again, as a link
    ASSERT_EQ(pmem_unmap(pb, b_len), 0);
  }
  // Only the first mapping is left, kept by "a"; with "a" gone again the child cannot find the file ("b" is no
  // mapping's name now) and shares.
  ASSERT_EQ(unlink(a.c_str()), 0);
  pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    if (pmem2::map_internal::MappedAgainInChildForTest() != 0) pmem2::testing::WriteToParent(out, "mapped again; ");
    if (pmem_msync(pa, a_len) != 0) pmem2::testing::WriteToParent(out, pmem_errormsg());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  // A second mapping by "b": the newest name leads to the file, and both mappings are mapped again through it.
  size_t b_len = 0;
  char* pb = static_cast<char*>(pmem_map_file(b.c_str(), 0, 0, 0, &b_len, nullptr));
  ASSERT_NE(pb, nullptr) << pmem_errormsg();
  child = pmem2::testing::RunInChild([&](int out) {
    if (pmem2::map_internal::MappedAgainInChildForTest() != 2) {
      pmem2::testing::WriteToParent(
          out, absl::StrCat(pmem2::map_internal::MappedAgainInChildForTest(), " mapped again, not 2; "));
    }
    if (pmem2::map_internal::OpenedByPathInChildForTest() != 1) pmem2::testing::WriteToParent(out, "not opened once");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  // The older name back, the newer gone: the child tries each.
  ASSERT_EQ(link(b.c_str(), a.c_str()), 0);
  ASSERT_EQ(unlink(b.c_str()), 0);
  child = pmem2::testing::RunInChild([&](int out) {
    if (pmem2::map_internal::MappedAgainInChildForTest() != 2) pmem2::testing::WriteToParent(out, "not mapped again");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(pmem_unmap(pb, b_len), 0);
  EXPECT_EQ(pmem_unmap(pa, a_len), 0);
  EXPECT_THAT(pmem2::map_internal::ChildReopenPathsForTest(st.st_dev, st.st_ino), IsEmpty());
}

// A name that may lead to the file, where the child may no longer search a directory on the way (its credentials
// changed, or the directory's permissions, since the mapping was made): the child cannot tell, and so fails the
// mapping's every pmem_msync (EACCES) rather than share its parent's description without a word. Only without
// privileges: root may search any directory.
TEST_F(LibpmemTest, AForkedChildThatMayNoLongerSearchTheFilesDirectorySaysSo) {
  if (geteuid() == 0) GTEST_SKIP() << "root may search a directory without permissions";
  const std::string folder = dir_.Join("closed");
  ASSERT_EQ(mkdir(folder.c_str(), 0700), 0);
  const std::string path = folder + "/f";
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(path.c_str(), kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  ASSERT_EQ(chmod(folder.c_str(), 0), 0);
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    for (int i = 0; i < 2; ++i) {
      errno = 0;
      if (pmem_msync(p, len) != -1 || errno != EACCES) {
        pmem2::testing::WriteToParent(out, absl::StrCat("pmem_msync: errno ", errno, "; "));
      }
    }
    return 0;
  });
  ASSERT_EQ(chmod(folder.c_str(), 0700), 0);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(pmem_msync(p, len), 0) << pmem_errormsg();
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// Nothing leads to a temporary file (O_TMPFILE): a child shares its parent's description, and nothing is kept.
TEST_F(LibpmemTest, AForkedChildSharesATemporaryFilesDescription) {
  const size_t handles_before = pmem2::map_internal::ChildReopenHandleCountForTest();
  size_t len = 0;
  char* p = static_cast<char*>(
      pmem_map_file(dir_.path().c_str(), kMiB, PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_FALSE(pmem2::map_internal::RemapsInChildForTest(p));
  EXPECT_EQ(pmem2::map_internal::ChildReopenHandleCountForTest(), handles_before);
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    if (pmem2::map_internal::MappedAgainInChildForTest() != 0) pmem2::testing::WriteToParent(out, "mapped again");
    if (pmem_msync(p, len) != 0) pmem2::testing::WriteToParent(out, pmem_errormsg());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// Found by its path but no longer open to the process for writing (its permissions taken away after it was mapped):
// the child has no description of its own, and says so in every pmem_msync of the mapping, as for a C++ Map
// (child_description_test.cc). Only without privileges: root may open it.
TEST_F(LibpmemTest, AForkedChildThatMayNoLongerOpenThePathSaysSo) {
  if (geteuid() == 0) GTEST_SKIP() << "root may open a file without permissions";
  const std::string path = dir_.Join("f");
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(path.c_str(), kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  ASSERT_EQ(chmod(path.c_str(), 0), 0) << std::strerror(errno);
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    for (int i = 0; i < 2; ++i) {
      errno = 0;
      if (pmem_msync(p, len) != -1 || errno != EACCES) {
        pmem2::testing::WriteToParent(out, absl::StrCat("pmem_msync: errno ", errno, "; "));
      }
    }
    if (pmem2::map_internal::MappedAgainInChildForTest() != 0) pmem2::testing::WriteToParent(out, "mapped again");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(pmem_msync(p, len), 0) << "the parent's description is its own: " << pmem_errormsg();
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

TEST_F(LibpmemTest, SparseCreatesHoles) {
  const std::string path = dir_.Join("sparse");
  size_t len = 0;
  void* p = pmem_map_file(path.c_str(), kMiB, PMEM_FILE_CREATE | PMEM_FILE_SPARSE, 0600, &len, nullptr);
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(len, kMiB);
  EXPECT_EQ(StatOrZero(path).st_size, static_cast<off_t>(kMiB));
  EXPECT_EQ(StatOrZero(path).st_blocks, 0);
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

TEST_F(LibpmemTest, CreateResizesAnExistingFileAndKeepsItsModeAndContents) {
  const std::string path = dir_.Join("existing");
  WriteFile(path, 3 * kPage + 5, 'e');
  ASSERT_EQ(chmod(path.c_str(), 0604), 0);
  for (size_t len : {size_t{5 * kPage}, size_t{kPage + 1}, size_t{1}}) {
    size_t mapped = 0;
    char* p = static_cast<char*>(pmem_map_file(path.c_str(), len, PMEM_FILE_CREATE, 0600, &mapped, nullptr));
    ASSERT_NE(p, nullptr) << pmem_errormsg();
    EXPECT_EQ(mapped, len);
    EXPECT_EQ(StatOrZero(path).st_size, static_cast<off_t>(len));
    EXPECT_EQ(StatOrZero(path).st_mode & 07777, 0604u) << "mode is for new files only";
    EXPECT_EQ(p[0], 'e');
    if (len > 3 * kPage + 5) {
      EXPECT_EQ(p[len - 1], 0) << "extended with zeros";
    }
    EXPECT_EQ(pmem_unmap(p, mapped), 0);
  }
}

TEST_F(LibpmemTest, ExclusiveCreateFailsOnAnExistingPathAndLeavesItAlone) {
  const std::string path = dir_.Join("existing");
  WriteFile(path, kPage, 'x');
  ExpectMapFails(path, kMiB, PMEM_FILE_CREATE | PMEM_FILE_EXCL, 0600, EEXIST);
  ExpectMapFails(path, kMiB, PMEM_FILE_CREATE | PMEM_FILE_EXCL | PMEM_FILE_SPARSE, 0600, EEXIST);
  EXPECT_EQ(StatOrZero(path).st_size, static_cast<off_t>(kPage));
  ExpectMapFails(dir_.path(), kPage, PMEM_FILE_CREATE | PMEM_FILE_EXCL, 0600, EEXIST);
  const std::string fresh = dir_.Join("fresh");
  size_t len = 0;
  void* p = pmem_map_file(fresh.c_str(), kPage, PMEM_FILE_CREATE | PMEM_FILE_EXCL, 0640, &len, nullptr);
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(StatOrZero(fresh).st_mode & 07777, 0640u);
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

TEST_F(LibpmemTest, TmpfileLeavesNothingBehind) {
  for (int extra : {0, PMEM_FILE_EXCL, PMEM_FILE_SPARSE, PMEM_FILE_EXCL | PMEM_FILE_SPARSE}) {
    size_t len = 0;
    int is_pmem = 7;
    char* p = static_cast<char*>(pmem_map_file(dir_.path().c_str(), 2 * kMiB + 3, PMEM_FILE_CREATE |
                                                   PMEM_FILE_TMPFILE | extra, 0777, &len, &is_pmem));
    ASSERT_NE(p, nullptr) << pmem_errormsg();
    EXPECT_EQ(len, 2 * kMiB + 3);
    EXPECT_EQ(is_pmem, 0);
    std::memset(p, 1, len);
    EXPECT_EQ(pmem_msync(p, len), 0);
    EXPECT_THAT(FolderEntries(dir_.path()), IsEmpty());
    EXPECT_EQ(pmem_unmap(p, len), 0);
  }
  const std::string file = dir_.Join("file");
  WriteFile(file, 1, 'f');
  ExpectMapFails(file, kPage, PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0600, ENOTDIR);
  ExpectMapFails(dir_.Join("missing"), kPage, PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0600, ENOENT);
  ExpectMapFails(dir_.path(), kPage, PMEM_FILE_TMPFILE, 0600, EINVAL);
  ExpectMapFails(dir_.path(), 0, PMEM_FILE_CREATE | PMEM_FILE_TMPFILE, 0600, EINVAL);
  EXPECT_THAT(FolderEntries(dir_.path()), ::testing::ElementsAre("file"));
}

TEST_F(LibpmemTest, MapsAllOfAnExistingFileWithoutCreate) {
  for (size_t size : {size_t{1}, kPage, kPage + 1, 3 * kMiB + 7}) {
    const std::string path = dir_.Join(absl::StrCat("f", size));
    WriteFile(path, size, 'a');
    for (int flags : {0, PMEM_FILE_EXCL, PMEM_FILE_SPARSE, PMEM_FILE_EXCL | PMEM_FILE_SPARSE}) {
      size_t len = 0;
      int is_pmem = 7;
      char* p = static_cast<char*>(pmem_map_file(path.c_str(), 0, flags, 0, &len, &is_pmem));
      ASSERT_NE(p, nullptr) << pmem_errormsg();
      EXPECT_EQ(len, size);
      EXPECT_EQ(is_pmem, 0);
      EXPECT_EQ(p[0], 'a');
      EXPECT_EQ(p[size - 1], 'a');
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kPage, 0u);
      EXPECT_EQ(pmem_unmap(p, len), 0);
      EXPECT_EQ(StatOrZero(path).st_size, static_cast<off_t>(size));
    }
  }
}

TEST_F(LibpmemTest, OutputPointersMayBeNull) {
  const std::string path = dir_.Join("f");
  void* p = pmem_map_file(path.c_str(), kPage, PMEM_FILE_CREATE, 0600, nullptr, nullptr);
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(pmem_unmap(p, kPage), 0);
  int is_pmem = 7;
  p = pmem_map_file(path.c_str(), 0, 0, 0, nullptr, &is_pmem);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(is_pmem, 0);
  EXPECT_EQ(pmem_unmap(p, kPage), 0);
  errno = 0;
  EXPECT_EQ(pmem_map_file(dir_.Join("missing").c_str(), 0, 0, 0, nullptr, nullptr), nullptr);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(LibpmemTest, RefusedInputs) {
  const std::string empty = dir_.Join("empty");
  WriteFile(empty, 0, 0);
  const std::string file = dir_.Join("file");
  WriteFile(file, kPage, 'f');
  ExpectMapFails(empty, 0, 0, 0, EINVAL);  // nothing to map (libpmem: mmap of length 0)
  EXPECT_EQ(StatOrZero(empty).st_size, 0);
  ExpectMapFails(dir_.Join("missing"), 0, 0, 0, ENOENT);
  ExpectMapFails(dir_.Join("no/such/folder/f"), kPage, PMEM_FILE_CREATE, 0600, ENOENT);
  ExpectMapFails(dir_.path(), 0, 0, 0, EISDIR);
  ExpectMapFails(dir_.path(), kPage, PMEM_FILE_CREATE, 0600, EISDIR);
  ExpectMapFails("/dev/null", 0, 0, 0, EINVAL);
  ExpectMapFails(dir_.Join("new"), 0, PMEM_FILE_CREATE, 0600, EINVAL);     // len 0 with create
  ExpectMapFails(file, kPage, 0, 0, EINVAL);                               // len without create
  ExpectMapFails(file, kPage, PMEM_FILE_EXCL | PMEM_FILE_SPARSE, 0, EINVAL);
  ExpectMapFails(dir_.Join("new"), SIZE_MAX, PMEM_FILE_CREATE, 0600, EINVAL);  // negative as an off_t
  ExpectMapFails(dir_.Join("new"), size_t{INT64_MAX} + 1, PMEM_FILE_CREATE | PMEM_FILE_SPARSE, 0600, EINVAL);
  for (int bad : {1 << 4, 1 << 5, 1 << 30, -1}) {
    ExpectMapFails(file, 0, bad, 0, EINVAL);
    ExpectMapFails(dir_.Join("new"), kPage, PMEM_FILE_CREATE | bad, 0600, EINVAL);
  }
  errno = 0;
  EXPECT_EQ(pmem_map_file(nullptr, 0, 0, 0, nullptr, nullptr), nullptr);
  EXPECT_EQ(errno, EINVAL);
  // A path that cannot be looked up is reported before the flags and length (as libpmem does).
  ExpectMapFails(file + "/below", 0, 1 << 4, 0, ENOTDIR);
  ExpectMapFails(file + "/below", kPage, 0, 0, ENOTDIR);
  ExpectMapFails(file + "/below", kPage, PMEM_FILE_CREATE, 0600, ENOTDIR);
  EXPECT_THAT(FolderEntries(dir_.path()), ::testing::UnorderedElementsAre("empty", "file")) << "nothing created";
}

TEST_F(LibpmemTest, AFileItCreatedIsRemovedWhenALaterStepFails) {
  // posix_fallocate of 1 TiB fails at once with ENOSPC on a tmpfs smaller than that.
  struct statfs fs;
  ASSERT_EQ(statfs(dir_.path().c_str(), &fs), 0);
  const size_t kTiB = size_t{1} << 40;
  if (fs.f_type != TMPFS_MAGIC || static_cast<uint64_t>(fs.f_blocks) * fs.f_bsize >= kTiB) {
    GTEST_SKIP() << dir_.path() << " is no tmpfs smaller than 1 TiB";
  }
  ExpectMapFails(dir_.Join("huge"), kTiB, PMEM_FILE_CREATE, 0600, ENOSPC);
  EXPECT_FALSE(Exists(dir_.Join("huge")));
  const std::string existing = dir_.Join("existing");
  WriteFile(existing, kPage, 'e');
  ExpectMapFails(existing, kTiB, PMEM_FILE_CREATE, 0600, ENOSPC);
  EXPECT_TRUE(Exists(existing)) << "a file that existed is never removed";
  // Nor cut back once grown, as in libpmem (libpmem.h): another process may have mapped and written the grown part.
  EXPECT_EQ(StatOrZero(existing).st_size, static_cast<off_t>(kTiB));
}

TEST_F(LibpmemTest, AsNonRootAnUnwritableFileIsEacces) {
  if (geteuid() == 0) GTEST_SKIP() << "root may write any file (needs a non-root user)";
  const std::string path = dir_.Join("read-only");
  WriteFile(path, kPage, 'r');
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);
  ExpectMapFails(path, 0, 0, 0, EACCES);
  ExpectMapFails(path, kPage, PMEM_FILE_CREATE, 0600, EACCES);
}

// ---- pmem_unmap ----

TEST_F(LibpmemTest, UnmapOfAWholeMapping) {
  size_t len = 0;
  char* p = static_cast<char*>(
      pmem_map_file(dir_.Join("f").c_str(), 3 * kPage + 1, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pmem_unmap(p, 0), -1) << "munmap's EINVAL for length 0";
  EXPECT_EQ(errno, EINVAL);
  EXPECT_TRUE(IsMapped(p));
  EXPECT_EQ(pmem_unmap(p, len), 0);
  EXPECT_FALSE(IsMapped(p));
  EXPECT_FALSE(IsMapped(p + 3 * kPage));
  EXPECT_EQ(pmem_is_pmem(p, len), 0);
  EXPECT_EQ(pmem_unmap(p, len), 0) << "unmapping twice is munmap's: nothing there, no error";
}

TEST_F(LibpmemTest, UnmapOfARangeCoveringAMappingAndMore) {
  size_t len = 0;
  char* p = static_cast<char*>(
      pmem_map_file(dir_.Join("f").c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  void* next = mmap(p + len, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (next != p + len) {
    if (next != MAP_FAILED) munmap(next, kPage);
    EXPECT_EQ(pmem_unmap(p, len), 0);
    GTEST_SKIP() << "the page after the mapping is taken";
  }
  EXPECT_EQ(pmem_unmap(p, len + kPage), 0);
  EXPECT_FALSE(IsMapped(p));
  EXPECT_FALSE(IsMapped(p + len)) << "the rest of the range is munmap'ed too";
}

TEST_F(LibpmemTest, UnmapOfARangeCuttingAMappingIsEinvalAndKeepsIt) {
  size_t len = 0;
  char* p = static_cast<char*>(
      pmem_map_file(dir_.Join("f").c_str(), 3 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  for (std::pair<char*, size_t> cut : {std::make_pair(p, kPage), std::make_pair(p + kPage, kPage),
                                       std::make_pair(p + kPage, 2 * kPage), std::make_pair(p - kPage, 2 * kPage),
                                       std::make_pair(p + 1, len - 1)}) {
    errno = 0;
    EXPECT_EQ(pmem_unmap(cut.first, cut.second), -1) << static_cast<void*>(cut.first) << " +" << cut.second;
    EXPECT_EQ(errno, EINVAL);
    EXPECT_THAT(pmem_errormsg(), HasSubstr("unmap all of it"));
  }
  p[0] = 1;
  p[len - 1] = 2;  // still all mapped
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// munmap(2) releases whole pages, so a range ending anywhere in a mapping's last page releases all of it: no cut
// (libpmem 1.12.1 unmaps it too; it was refused here as cutting the mapping).
TEST_F(LibpmemTest, UnmapOfARangeEndingInTheMappingsLastPageReleasesIt) {
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(dir_.Join("f").c_str(), 3 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(len, 3 * kPage);
  EXPECT_EQ(pmem_unmap(p, len - 1), 0) << pmem_errormsg();
  EXPECT_FALSE(IsMapped(p));
  EXPECT_FALSE(IsMapped(p + len - 1));
  EXPECT_EQ(pmem_is_pmem(p, 1), 0);
}

// A pmem2 map that pmem_map_file did not make (pmem2_map_new's, a C++ Map) is refused, alone or with a pmem_map_file
// mapping in the same range, and nothing is unmapped: munmap'ed behind its back, its record would stay (pmem_is_pmem
// of its addresses, and its deletion would unmap whatever is mapped there by then). libpmem knows no such maps.
TEST_F(LibpmemTest, UnmapOfAPmem2MapItDidNotMakeIsEinvalAndKeepsIt) {
  const std::string path = dir_.Join("pmem2-map");
  ::pmem2::testing::ScopedFd fd(::pmem2::testing::CreateFile(path, 2 * kPage, O_RDWR));
  absl::StatusOr<pmem2::Map> map = PageMapOf(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* const m = static_cast<char*>(map->address());
  errno = 0;
  EXPECT_EQ(pmem_unmap(m, 2 * kPage), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(pmem_errormsg(), HasSubstr("pmem_map_file did not make"));
  EXPECT_EQ(pmem_unmap(m + kPage, kPage), -1) << "a part of it too";
  m[0] = 1;
  m[2 * kPage - 1] = 2;  // still all mapped
  EXPECT_TRUE(map->Persist(m, 2 * kPage).ok());
}

// Also a pmem2 map that starts inside the range's last page (FromExisting adopts any range): munmap(2) unmaps every
// page the range touches, so that page is the map's too. (The range was asked about byte for byte, and the adopted
// map's page unmapped under it: found by review.)
TEST_F(LibpmemTest, UnmapOfARangeEndingInAPageOfAPmem2MapIsEinvalAndKeepsIt) {
  ::pmem2::testing::ScopedFd fd(::pmem2::testing::CreateFile(dir_.Join("adopted-part"), 2 * kPage, O_RDWR));
  ASSERT_GE(fd.get(), 0);
  char* const m = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0));
  ASSERT_NE(m, MAP_FAILED);
  const absl::Cleanup unmap = [m] { munmap(m, 2 * kPage); };  // adopted: the Map leaves it mapped
  absl::StatusOr<pmem2::Map> part =
      pmem2::Map::FromExisting(*pmem2::Source::FromFd(fd.get()), m + kPage + 100, 1000, pmem2::StoreGranularity::kPage);
  ASSERT_TRUE(part.ok()) << part.status();
  errno = 0;
  EXPECT_EQ(pmem_unmap(m, kPage + 50), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(pmem_errormsg(), HasSubstr("pmem_map_file did not make"));
  EXPECT_TRUE(IsMapped(m + kPage));
  EXPECT_TRUE(IsMapped(m)) << "nothing is unmapped";
  m[kPage + 100] = 1;  // still mapped
  EXPECT_TRUE(part->Persist(m + kPage + 100, 1000).ok());
}

// The same where the pmem2 map lies at the address of a pmem_map_file mapping the application released with munmap(2)
// (its entry stays until pmem_map_file maps over it): that entry is not the map, so the range is refused, not
// munmap'ed under the live map as the stale entry's pages.
TEST_F(LibpmemTest, UnmapOfAPmem2MapWhereAMappingWasUnmappedBehindItsBackIsEinval) {
  size_t len = 0;
  char* const p = MapThenReleaseWithMunmap(&len);
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  {
    // A reservation made there drops the mapping's record from the registry (its range was unmapped behind pmem2's
    // back), and its end leaves the range empty again.
    absl::StatusOr<pmem2::VmReservation> reservation = pmem2::VmReservation::CreateAt(p, len);
    ASSERT_TRUE(reservation.ok()) << reservation.status();
  }
  // A pmem2 map at p, of no reservation (pmem_unmap refuses a reservation's range before it looks at maps): another
  // file mapped there and adopted.
  ::pmem2::testing::ScopedFd fd(::pmem2::testing::CreateFile(dir_.Join("g"), 2 * kPage, O_RDWR));
  ASSERT_GE(fd.get(), 0);
  void* again = mmap(p, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd.get(), 0);
  if (again != p) {
    if (again != MAP_FAILED) munmap(again, len);
    GTEST_SKIP() << "the range was taken meanwhile, or the kernel has no MAP_FIXED_NOREPLACE";
  }
  absl::StatusOr<pmem2::Map> map =
      pmem2::Map::FromExisting(*pmem2::Source::FromFd(fd.get()), p, len, pmem2::StoreGranularity::kPage);
  ASSERT_TRUE(map.ok()) << map.status();
  const absl::Cleanup unmap = [p, len] { munmap(p, len); };  // adopted: the Map leaves it mapped
  errno = 0;
  EXPECT_EQ(pmem_unmap(p, len), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(pmem_errormsg(), HasSubstr("pmem_map_file did not make"));
  EXPECT_THAT(pmem_errormsg(), HasSubstr("pmem2 map"));
  p[0] = 1;
  p[len - 1] = 2;  // still all mapped
  EXPECT_TRUE(map->Persist(p, len).ok());
}

// Nor a pmem2 reservation's placeholder, whole or in part, empty or holding a map, nor once the reservation is
// destroyed while a map still holds its range: libpmem would munmap it, and whatever the kernel put in the hole next
// would be unmapped by a map placed there (MAP_FIXED) or by the reservation's end. (Unmapped before.)
TEST_F(LibpmemTest, UnmapOfAPmem2ReservationIsEinvalAndKeepsItsPlaceholder) {
  absl::optional<pmem2::VmReservation> reservation;
  {
    absl::StatusOr<pmem2::VmReservation> made = pmem2::VmReservation::Create(4 * kPage);
    ASSERT_TRUE(made.ok()) << made.status();
    reservation.emplace(std::move(*made));
  }
  char* const r = static_cast<char*>(reservation->address());
  const auto still_reserved = [](const char* at, size_t length) {
    for (size_t page = 0; page < length / kPage; ++page) {
      if (::pmem2::testing::ProtectionAt(at + page * kPage) != "---p") return false;
    }
    return true;
  };
  for (const auto& [offset, length] : {std::pair<size_t, size_t>{0, 4 * kPage}, {kPage, kPage}, {3 * kPage, kPage}}) {
    SCOPED_TRACE(offset);
    errno = 0;
    EXPECT_EQ(pmem_unmap(r + offset, length), -1);
    EXPECT_EQ(errno, EINVAL);
    EXPECT_THAT(pmem_errormsg(), HasSubstr("pmem2 reservation"));
    EXPECT_TRUE(still_reserved(r, 4 * kPage));
  }
  errno = 0;
  EXPECT_EQ(pmem_unmap(r - kPage, 2 * kPage), -1) << "a range that runs into it";
  EXPECT_EQ(errno, EINVAL);

  ::pmem2::testing::ScopedFd fd(::pmem2::testing::CreateFile(dir_.Join("placed"), kPage, O_RDWR));
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  config.set_vm_reservation(&*reservation, 2 * kPage);
  absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *pmem2::Source::FromFd(fd.get()));
  ASSERT_TRUE(map.ok()) << map.status();
  reservation.reset();  // the map still holds the range
  errno = 0;
  EXPECT_EQ(pmem_unmap(r, kPage), -1) << "a destroyed reservation's range its map still holds";
  EXPECT_EQ(errno, EINVAL);
  EXPECT_TRUE(still_reserved(r, kPage));
  map = absl::CancelledError("destroyed");  // the range's last holder: it is unmapped now
  EXPECT_EQ(::pmem2::testing::ProtectionAt(r), "");
}

// Also where a pmem_map_file mapping of the same address and size was released with munmap(2) and the reservation made
// in its place (its entry stays until pmem_map_file maps over it): the reservation is told from the ones pmem_map_file
// makes for its own mappings (PMEM_MMAP_HINT) by identity, not by its address and size. (Found by review: the check by
// address and size took it for the mapping's own and munmap'ed its placeholder.)
TEST_F(LibpmemTest, UnmapOfAReservationWhereAReleasedMappingWasIsEinval) {
  size_t len = 0;
  char* const p = MapThenReleaseWithMunmap(&len);
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  absl::StatusOr<pmem2::VmReservation> reservation = pmem2::VmReservation::CreateAt(p, len);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  errno = 0;
  EXPECT_EQ(pmem_unmap(p, len), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(pmem_errormsg(), HasSubstr("pmem2 reservation"));
  EXPECT_EQ(::pmem2::testing::ProtectionAt(p), "---p") << "the placeholder was unmapped";
}

// A page of our own at `at`, where nothing is mapped (MAP_FIXED_NOREPLACE), or nullptr if something is.
char* ClaimFree(char* at, size_t len) {
  void* got = mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (got == at) return at;
  if (got != MAP_FAILED) munmap(got, len);  // a kernel without MAP_FIXED_NOREPLACE placed it elsewhere
  return nullptr;
}

// A range from a mapping past the top of user space: munmap(2) refuses the whole of it (EINVAL) and so does
// pmem_unmap, before it releases anything, also the process's memory between two mappings in the range (negative
// control: the page between them was unmapped, then EINVAL).
TEST_F(LibpmemTest, UnmapOfARangePastTheTopOfUserSpaceReleasesNothing) {
#if defined(__SANITIZE_THREAD__)
  // ThreadSanitizer's munmap clears its metadata over the whole range (2^60 bytes here) before the kernel refuses
  // it, and crashes (as in differential_test's huge ranges).
  GTEST_SKIP() << "ThreadSanitizer's munmap cannot take a range this large";
#endif
  size_t len = 0, other_len = 0;
  char* a = static_cast<char*>(pmem_map_file(dir_.Join("a").c_str(), kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  char* b =
      static_cast<char*>(pmem_map_file(dir_.Join("b").c_str(), kPage, PMEM_FILE_CREATE, 0600, &other_len, nullptr));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  char* const low = std::min(a, b);
  char* const high = std::max(a, b);
  char* between = low + kPage < high ? ClaimFree(low + kPage, kPage) : nullptr;
  if (between == nullptr) {
    EXPECT_EQ(pmem_unmap(a, len), 0);
    EXPECT_EQ(pmem_unmap(b, other_len), 0);
    GTEST_SKIP() << "no free page between the two mappings";
  }
  errno = 0;
  EXPECT_EQ(pmem_unmap(low, size_t{1} << 60), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_TRUE(IsMapped(between)) << "the process's page between the mappings was released";
  a[0] = 1;  // both still mapped
  b[0] = 1;
  EXPECT_EQ(pmem_unmap(a, len), 0);
  EXPECT_EQ(pmem_unmap(b, other_len), 0);
  munmap(between, kPage);
}

// "Deletes all the mappings for the specified address range" (man pmem_unmap): a range that starts before a
// mapping and covers it whole releases it and unmaps the rest, as libpmem 1.12.1 does (t2.c: 0 there).
TEST_F(LibpmemTest, UnmapOfARangeStartingBeforeAMappingAndCoveringItReleasesIt) {
  size_t len = 0;
  char* p = static_cast<char*>(
      pmem_map_file(dir_.Join("f").c_str(), 10000, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  if (ClaimFree(p - kPage, kPage) == nullptr) {
    EXPECT_EQ(pmem_unmap(p, len), 0);
    GTEST_SKIP() << "the page before the mapping is taken";
  }
  EXPECT_EQ(pmem_unmap(p - kPage, 4 * kPage), 0) << pmem_errormsg();
  EXPECT_FALSE(IsMapped(p - kPage));
  EXPECT_FALSE(IsMapped(p));
  EXPECT_FALSE(IsMapped(p + 2 * kPage));
  EXPECT_EQ(pmem_unmap(p, len), 0) << "released: nothing left to refuse";
}

// Two mappings and what lies between them, unmapped with one call; a range that covers one and cuts the other
// is refused and unmaps nothing.
TEST_F(LibpmemTest, UnmapOfARangeCoveringTwoMappingsReleasesBoth) {
  size_t a_len = 0, b_len = 0;
  char* a = static_cast<char*>(
      pmem_map_file(dir_.Join("a").c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, &a_len, nullptr));
  char* b = static_cast<char*>(
      pmem_map_file(dir_.Join("b").c_str(), 3 * kPage, PMEM_FILE_CREATE, 0600, &b_len, nullptr));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  char* low = a < b ? a : b;
  char* high = a < b ? b : a;
  const size_t low_len = low == a ? a_len : b_len;
  const size_t high_len = high == a ? a_len : b_len;
  // The gap between them must be free (then it is ours for the test), or the range would unmap foreign memory.
  const size_t gap = static_cast<size_t>(high - (low + low_len));
  if (gap != 0 && ClaimFree(low + low_len, gap) == nullptr) {
    EXPECT_EQ(pmem_unmap(a, a_len), 0);
    EXPECT_EQ(pmem_unmap(b, b_len), 0);
    GTEST_SKIP() << "something else is mapped between the two mappings";
  }
  const size_t whole = static_cast<size_t>(high + high_len - low);
  errno = 0;
  EXPECT_EQ(pmem_unmap(low, whole - kPage), -1) << "covers the lower mapping, cuts the higher one";
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(pmem_errormsg(), HasSubstr("unmap all of it"));
  EXPECT_TRUE(IsMapped(low));
  EXPECT_TRUE(IsMapped(high + high_len - 1));
  if (gap != 0) {
    EXPECT_TRUE(IsMapped(low + low_len)) << "nothing unmapped";
  }

  EXPECT_EQ(pmem_unmap(low, whole), 0) << pmem_errormsg();
  EXPECT_FALSE(IsMapped(low));
  EXPECT_FALSE(IsMapped(high));
  if (gap != 0) {
    EXPECT_FALSE(IsMapped(low + low_len)) << "the rest of the range is munmap'ed";
  }
  EXPECT_EQ(pmem_unmap(a, a_len), 0);
  EXPECT_EQ(pmem_unmap(b, b_len), 0);
}

// An application that releases a pmem_map_file mapping with munmap(2) instead of pmem_unmap: the kernel often
// gives the next mapping the same addresses. Its stale entry must be dropped without unmapping them (they are
// the new mapping's), not the new mapping destroyed (t4.c: SIGSEGV at the first store).
TEST_F(LibpmemTest, AMappingReleasedWithMunmapDoesNotTakeTheNextOneAtItsAddressWithIt) {
  int reused = 0;
  for (int attempt = 0; attempt < 8; ++attempt) {
    size_t a_len = 0, b_len = 0;
    char* a = static_cast<char*>(pmem_map_file(dir_.Join("a").c_str(), kMiB, PMEM_FILE_CREATE, 0600, &a_len,
                                               nullptr));
    ASSERT_NE(a, nullptr) << pmem_errormsg();
    ASSERT_EQ(munmap(a, a_len), 0);
    // The same size: the same placement (libpmem_mmap_hint_test places it there for sure).
    char* b = static_cast<char*>(pmem_map_file(dir_.Join("b").c_str(), kMiB, PMEM_FILE_CREATE, 0600, &b_len,
                                               nullptr));
    ASSERT_NE(b, nullptr) << pmem_errormsg();
    if (b < a + a_len && a < b + b_len) ++reused;
    ASSERT_TRUE(IsMapped(b)) << "the new mapping was unmapped";
    b[0] = 'b';
    b[b_len - 1] = 'e';
    EXPECT_EQ(pmem_msync(b, b_len), 0) << pmem_errormsg();
    EXPECT_EQ(pmem_unmap(b, b_len), 0) << pmem_errormsg();
    EXPECT_FALSE(IsMapped(b));
    EXPECT_EQ(pmem_unmap(a, a_len), 0) << "nothing of a is left: munmap of free memory";
  }
  if (reused == 0) GTEST_SKIP() << "the kernel never placed the second mapping over the first";
}

// Part of a pmem_map_file mapping released with munmap(2), and mapped again by other code (a pmem2 reservation):
// its Map no longer unmaps its range itself (part of it is another's), but a pmem_unmap of the whole range still
// unmaps all of it, as munmap(2) of that range would (the Map's own pages stayed mapped, with 0 returned).
TEST_F(LibpmemTest, UnmapOfAMappingPartlyMappedAgainBehindItsBackUnmapsTheRange) {
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(dir_.Join("f").c_str(), 4 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  ASSERT_EQ(munmap(p + 3 * kPage, kPage), 0);
  {
    // A reservation made in the hole drops the mapping's record from the registry (part of its range was unmapped
    // behind pmem2's back); its end leaves the hole empty again (pmem_unmap refuses a live reservation's range).
    absl::StatusOr<pmem2::VmReservation> newcomer = pmem2::VmReservation::CreateAt(p + 3 * kPage, kPage);
    ASSERT_TRUE(newcomer.ok()) << newcomer.status();
  }
  // Other code's page in the hole.
  ASSERT_EQ(mmap(p + 3 * kPage, kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
            p + 3 * kPage);
  EXPECT_EQ(pmem_unmap(p, len), 0) << pmem_errormsg();
  EXPECT_FALSE(IsMapped(p)) << "the mapping's own pages stayed";
  EXPECT_FALSE(IsMapped(p + 2 * kPage));
  EXPECT_FALSE(IsMapped(p + 3 * kPage)) << "the range asked for, as munmap(2) of it";
}

TEST_F(LibpmemTest, UnmapOfMemoryItDidNotMapIsMunmap) {
  void* anon = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(anon, MAP_FAILED);
  EXPECT_EQ(pmem_unmap(anon, 2 * kPage), 0);
  EXPECT_FALSE(IsMapped(anon));
  EXPECT_EQ(pmem_unmap(anon, 2 * kPage), 0);
  errno = 0;
  EXPECT_EQ(pmem_unmap(static_cast<char*>(anon) + 1, kPage), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(LibpmemTest, TwoMappingsAreUnmappedIndependently) {
  size_t a_len = 0, b_len = 0;
  char* a = static_cast<char*>(pmem_map_file(dir_.Join("a").c_str(), kPage, PMEM_FILE_CREATE, 0600, &a_len, nullptr));
  char* b = static_cast<char*>(pmem_map_file(dir_.Join("b").c_str(), kPage, PMEM_FILE_CREATE, 0600, &b_len, nullptr));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(pmem_unmap(a, a_len), 0);
  b[0] = 'b';
  EXPECT_EQ(pmem_msync(b, 1), 0);
  EXPECT_EQ(pmem_unmap(b, b_len), 0);
}

// ---- pmem_is_pmem ----

TEST_F(LibpmemTest, IsPmemIsZeroOnTmpfsAndOnMemoryItDidNotMap) {
  size_t len = 0;
  void* p = pmem_map_file(dir_.Join("f").c_str(), kMiB, PMEM_FILE_CREATE, 0600, &len, nullptr);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pmem_is_pmem(p, len), 0);
  EXPECT_EQ(pmem_is_pmem(p, 1), 0);
  std::vector<char> heap(100);
  EXPECT_EQ(pmem_is_pmem(heap.data(), heap.size()), 0);
  EXPECT_EQ(pmem_is_pmem(nullptr, 0), 0);
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// The granularity, and so is_pmem, is decided when the file is mapped: PMEM2_FORCE_GRANULARITY counts then.
TEST_F(LibpmemTest, IsPmemIsOneForAMappingOfCacheLineGranularity) {
  char* p = nullptr;
  size_t len = 0;
  int is_pmem = 7;
  {
    ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
    p = static_cast<char*>(pmem_map_file(dir_.Join("f").c_str(), 2 * kPage + 1, PMEM_FILE_CREATE, 0600, &len,
                                         &is_pmem));
  }
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(is_pmem, 1);
  EXPECT_EQ(pmem_is_pmem(p, len), 1) << "decided at map time, not now";
  EXPECT_EQ(pmem_is_pmem(p + len - 1, 1), 1);
  EXPECT_EQ(pmem_is_pmem(p + 5, 100), 1);
  EXPECT_EQ(pmem_is_pmem(p, len + kPage), 0) << "the range reaches past the mapping";
  // The rest of the last page is mapped, but past the file's end: no flush makes it durable, and libpmem counts the
  // mapped length only (pmem2 counted the page whole once; found by review).
  EXPECT_EQ(pmem_is_pmem(p, len + 1), 0);
  EXPECT_EQ(pmem_is_pmem(p + len, 1), 0);
  EXPECT_EQ(pmem_is_pmem(p - 1, 2), 0);
  EXPECT_EQ(pmem_is_pmem(p, SIZE_MAX), 0);
  EXPECT_EQ(pmem_is_pmem(p, 0), 0) << "an empty range is no persistent memory, as in libpmem";
  EXPECT_EQ(pmem_is_pmem(p + 5, 0), 0);
  // The cache-line functions make it durable.
  pmem_memcpy_persist(p, "durable", 8);
  pmem_persist(p, len);
  EXPECT_EQ(pmem_deep_persist(p, len), 0);
  EXPECT_STREQ(p, "durable");
  EXPECT_EQ(pmem_unmap(p, len), 0);
  EXPECT_EQ(pmem_is_pmem(p, 1), 0) << "no longer mapped";
  // A page mapping next to nothing pmem.
  ScopedEnv page("PMEM2_FORCE_GRANULARITY", "page");
  void* q = pmem_map_file(dir_.Join("g").c_str(), kPage, PMEM_FILE_CREATE, 0600, &len, &is_pmem);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(is_pmem, 0);
  EXPECT_EQ(pmem_unmap(q, len), 0);
}

// One process, one registry of mappings: pmem_is_pmem also answers for pmem2's own Maps, by the granularity they
// were made with (here forced, on tmpfs): cache line is pmem to libpmem, page is not.
TEST_F(LibpmemTest, IsPmemAnswersForThePmem2MapsOfTheProcessToo) {
  pmem2::testing::ScopedFd fd = pmem2::testing::CreateFile(dir_.Join("m"), kMiB, O_RDWR);
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  absl::StatusOr<pmem2::Map> line = absl::UnknownError("not made"), page = absl::UnknownError("not made");
  {
    ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
    line = pmem2::Map::Create(config, *source);
  }
  {
    ScopedEnv force("PMEM2_FORCE_GRANULARITY", "page");
    page = pmem2::Map::Create(config, *source);
  }
  ASSERT_TRUE(line.ok()) << line.status();
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(pmem_is_pmem(line->address(), line->size()), 1);
  EXPECT_EQ(pmem_is_pmem(page->address(), page->size()), 0);
}

// ---- Flushing ----

TEST_F(LibpmemTest, FlushFunctionsOnAMappingAndOnPlainMemory) {
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(dir_.Join("f").c_str(), 3 * kPage, PMEM_FILE_CREATE, 0600, &len,
                                             nullptr));
  ASSERT_NE(p, nullptr);
  std::vector<char> heap(3 * kPage, 'h');
  for (char* base : {p, heap.data()}) {
    std::memset(base, 'x', 3 * kPage);
    pmem_persist(base + 1, 3 * kPage - 1);
    pmem_persist(base, 0);
    pmem_flush(base + 63, 2);
    pmem_drain();
    pmem_deep_flush(base, 3 * kPage);
    pmem_deep_flush(base, 0);
    EXPECT_EQ(pmem_deep_drain(base, 3 * kPage), 0);
    EXPECT_EQ(pmem_deep_drain(base, 0), 0);
    EXPECT_EQ(pmem_deep_persist(base + 10, 100), 0);
    EXPECT_EQ(pmem_deep_persist(base, 0), 0);
    EXPECT_EQ(base[3 * kPage - 1], 'x');
  }
  EXPECT_EQ(pmem_has_hw_drain(), 0);
  const int auto_flush = pmem_has_auto_flush();
  EXPECT_TRUE(auto_flush == 0 || auto_flush == 1) << auto_flush;
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

TEST_F(LibpmemTest, MsyncReturnsZeroOrTheErrno) {
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(dir_.Join("f").c_str(), 3 * kPage, PMEM_FILE_CREATE, 0600, &len,
                                             nullptr));
  ASSERT_NE(p, nullptr);
  p[kPage + 5] = 1;
  EXPECT_EQ(pmem_msync(p + kPage + 5, 1), 0) << "an unaligned address is aligned down";
  EXPECT_EQ(pmem_msync(p, len), 0);
  EXPECT_EQ(pmem_msync(p, 0), 0);
  EXPECT_EQ(pmem_unmap(p, len), 0);
  errno = 0;
  EXPECT_EQ(pmem_msync(p, len), -1);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_STRNE(pmem_errormsg(), "");
}

// A page of a mapping that the application unmapped behind pmem_unmap's back fails the msync over it (ENOMEM, as
// memory that is not mapped), and that call only: no write-back failed, so neither the mapping's other pages nor
// another mapping of the file fail afterwards. (They did, for good, with the message that data may be lost: the ENOMEM
// was recorded as a lost write-back of the file, which no libpmem call acknowledges.)
TEST_F(LibpmemTest, AHoleTheApplicationUnmappedFailsOnlyTheSyncOverIt) {
  const std::string path = dir_.Join("f");
  size_t len = 0;
  size_t whole = 0;
  char* p = static_cast<char*>(pmem_map_file(path.c_str(), 3 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  char* q = static_cast<char*>(pmem_map_file(path.c_str(), 0, 0, 0, &whole, nullptr));
  ASSERT_NE(q, nullptr);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  errno = 0;
  EXPECT_EQ(pmem_msync(p, len), -1);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_EQ(pmem_msync(p, kPage), 0) << pmem_errormsg();
  EXPECT_EQ(pmem_msync(p + 2 * kPage, kPage), 0) << pmem_errormsg();
  EXPECT_EQ(pmem_msync(q, whole), 0) << pmem_errormsg();
  EXPECT_EQ(pmem_unmap(q, whole), 0);
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// A failed write-back stays with the mapping (libpmem.h, "Errors"): a later successful msync of the same mapping
// still returns -1 with that errno; a new mapping starts clean.
TEST_F(LibpmemTest, MsyncFailureIsStickyForTheMapping) {
  const std::string path = dir_.Join("f");
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(path.c_str(), 2 * kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  static int calls = 0;
  calls = 0;
  pmem2::map_internal::SetMsyncForTest([](void*, size_t, int) {
    ++calls;
    errno = EIO;
    return -1;
  });
  errno = 0;
  EXPECT_EQ(pmem_msync(p, 1), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_GE(calls, 1);
  pmem2::map_internal::SetMsyncForTest(nullptr);
  errno = 0;
  EXPECT_EQ(pmem_msync(p + kPage, 1), -1) << "sticky: the lost pages are not brought back";
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(pmem_msync(p, len), -1);
  // len 0 syncs nothing and returns 0, as the header says and as pmem_deep_drain: it asks about no byte.
  EXPECT_EQ(pmem_msync(p, 0), 0);
  EXPECT_EQ(pmem_msync(p + 1, 0), 0);
  EXPECT_EQ(pmem_deep_drain(p, 0), 0);
  EXPECT_EQ(pmem_unmap(p, len), 0);
  p = static_cast<char*>(pmem_map_file(path.c_str(), 0, 0, 0, &len, nullptr));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pmem_msync(p, len), 0) << "a new mapping starts without the old failure";
  EXPECT_EQ(pmem_unmap(p, len), 0);
  // ENOSPC too, with its own errno.
  p = static_cast<char*>(pmem_map_file(dir_.Join("g").c_str(), kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  pmem2::map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = ENOSPC;
    return -1;
  });
  errno = 0;
  EXPECT_EQ(pmem_msync(p, 1), -1);
  EXPECT_EQ(errno, ENOSPC);
  pmem2::map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(pmem_msync(p, 1), -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// pmem_msync is no cancellation point (unlike libpmem's, which calls glibc's msync(): README, "Differences from
// libpmem2"): in a thread with a cancellation request pending it syncs and returns, and the thread ends at its
// next cancellation point. In a child whose msync(2) fails (a seccomp filter), so that the result shows the system
// call ran.
struct MsyncInACanceledThread {
  char* address = nullptr;
  int result = 0;
  int error = 0;
  bool returned = false;
};

void* MsyncWithCancellationPending(void* arg) {
  MsyncInACanceledThread* m = static_cast<MsyncInACanceledThread*>(arg);
  pthread_cancel(pthread_self());
  m->result = pmem_msync(m->address, 1);
  m->error = errno;
  m->returned = true;
  pthread_testcancel();
  return nullptr;
}

TEST_F(LibpmemTest, MsyncIsNoCancellationPoint) {
  if (!pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  size_t len = 0;
  char* p = static_cast<char*>(pmem_map_file(dir_.Join("f").c_str(), kPage, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    pmem2::testing::DenySystemCall(__NR_msync, EIO);  // inherited by the thread made next
    MsyncInACanceledThread m;
    m.address = p;
    pthread_t thread;
    void* exit_value = nullptr;
    if (pthread_create(&thread, nullptr, MsyncWithCancellationPending, &m) != 0) return 2;
    if (pthread_join(thread, &exit_value) != 0) return 3;
    pmem2::testing::WriteToParent(
        out, absl::StrCat(exit_value == PTHREAD_CANCELED ? "canceled" : "not canceled",
                          m.returned ? " after" : " inside", " pmem_msync, ", m.result, " errno ", m.error));
    return 0;
  });
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, absl::StrCat("canceled after pmem_msync, -1 errno ", EIO));
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

// ---- Copies ----

std::vector<unsigned> AllMemFlags() {
  std::vector<unsigned> flags;
  for (unsigned f = 0; f <= PMEM_F_MEM_VALID_FLAGS; ++f) flags.push_back(f);
  flags.push_back(1u << 6);  // outside PMEM_F_MEM_VALID_FLAGS: ignored
  flags.push_back(0xffffffffu);
  return flags;
}

void Fill(std::vector<unsigned char>* v, unsigned seed) {
  for (size_t i = 0; i < v->size(); ++i) (*v)[i] = static_cast<unsigned char>(i * 31 + seed);
}

TEST_F(LibpmemTest, CopiesWithEveryFlagOnAMapping) {
  size_t len = 0;
  auto* p = static_cast<unsigned char*>(
      pmem_map_file(dir_.Join("f").c_str(), 256 * 1024, PMEM_FILE_CREATE, 0600, &len, nullptr));
  ASSERT_NE(p, nullptr);
  std::vector<unsigned char> expected(len), source(70000);
  Fill(&source, 3);
  for (unsigned flags : AllMemFlags()) {
    for (size_t size : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{200}, size_t{4097}, size_t{65537}}) {
      for (size_t offset : {size_t{0}, size_t{5}, size_t{64}}) {
        std::memset(p, 0, len);
        std::memset(expected.data(), 0, len);
        EXPECT_EQ(pmem_memcpy(p + offset, source.data() + 1, size, flags), p + offset);
        std::memcpy(expected.data() + offset, source.data() + 1, size);
        const size_t o2 = offset + 70000;
        EXPECT_EQ(pmem_memmove(p + o2, source.data(), size, flags), p + o2);
        std::memmove(expected.data() + o2, source.data(), size);
        const size_t o3 = o2 + 70000;
        EXPECT_EQ(pmem_memset(p + o3, static_cast<int>(0x100 | flags), size, flags), p + o3);
        std::memset(expected.data() + o3, static_cast<int>(0x100 | flags), size);
        pmem_drain();
        ASSERT_EQ(std::memcmp(p, expected.data(), len), 0) << "flags " << flags << " size " << size;
      }
    }
  }
  EXPECT_EQ(pmem_msync(p, len), 0);
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

TEST_F(LibpmemTest, OverlappingMovesBothWays) {
  for (unsigned flags : AllMemFlags()) {
    for (size_t size : {size_t{1}, size_t{17}, size_t{64}, size_t{255}, size_t{4096}, size_t{20000}}) {
      for (size_t shift : {size_t{1}, size_t{8}, size_t{63}, size_t{64}, size_t{1000}}) {
        std::vector<unsigned char> buf(size + shift + 128), expected;
        Fill(&buf, static_cast<unsigned>(size));
        expected = buf;
        EXPECT_EQ(pmem_memmove(buf.data() + shift, buf.data(), size, flags), buf.data() + shift);
        std::memmove(expected.data() + shift, expected.data(), size);
        ASSERT_EQ(buf, expected) << "forward, flags " << flags << " size " << size << " shift " << shift;
        EXPECT_EQ(pmem_memmove(buf.data(), buf.data() + shift, size, flags), buf.data());
        std::memmove(expected.data(), expected.data() + shift, size);
        ASSERT_EQ(buf, expected) << "backward, flags " << flags << " size " << size << " shift " << shift;
      }
    }
  }
  std::vector<unsigned char> buf(10000), expected;
  Fill(&buf, 9);
  expected = buf;
  pmem_memmove_persist(buf.data() + 3, buf.data(), 9000);
  std::memmove(expected.data() + 3, expected.data(), 9000);
  pmem_memmove_nodrain(buf.data(), buf.data() + 100, 9000);
  std::memmove(expected.data(), expected.data() + 100, 9000);
  pmem_drain();
  EXPECT_EQ(buf, expected);
}

TEST_F(LibpmemTest, PersistAndNodrainForms) {
  std::vector<unsigned char> src(5000), dst(5200, 0), expected(5200, 0);
  Fill(&src, 1);
  EXPECT_EQ(pmem_memcpy_persist(dst.data() + 1, src.data(), 5000), dst.data() + 1);
  std::memcpy(expected.data() + 1, src.data(), 5000);
  EXPECT_EQ(dst, expected);
  EXPECT_EQ(pmem_memcpy_nodrain(dst.data() + 100, src.data(), 3000), dst.data() + 100);
  std::memcpy(expected.data() + 100, src.data(), 3000);
  EXPECT_EQ(pmem_memmove_persist(dst.data() + 7, src.data() + 2, 999), dst.data() + 7);
  std::memmove(expected.data() + 7, src.data() + 2, 999);
  EXPECT_EQ(pmem_memset_persist(dst.data() + 3, 0x1ab, 4000), dst.data() + 3);
  std::memset(expected.data() + 3, 0xab, 4000);
  EXPECT_EQ(pmem_memset_nodrain(dst.data() + 4001, 'n', 1000), dst.data() + 4001);
  std::memset(expected.data() + 4001, 'n', 1000);
  EXPECT_EQ(pmem_memmove_nodrain(dst.data(), dst.data() + 1, 0), dst.data());
  pmem_drain();
  EXPECT_EQ(dst, expected);
  EXPECT_EQ(pmem_memcpy_persist(dst.data(), src.data(), 0), dst.data());
  EXPECT_EQ(pmem_memset_persist(dst.data(), 0, 0), dst.data());
}

// ---- Version and messages ----

TEST_F(LibpmemTest, CheckVersion) {
  EXPECT_EQ(pmem_check_version(1, 0), nullptr);
  EXPECT_EQ(pmem_check_version(1, 1), nullptr);
  EXPECT_EQ(pmem_check_version(PMEM_MAJOR_VERSION, PMEM_MINOR_VERSION), nullptr);
  const char* minor = pmem_check_version(1, 2);
  ASSERT_NE(minor, nullptr);
  EXPECT_STREQ(minor, "libpmem minor version mismatch (need 2, found 1)");
  EXPECT_STREQ(pmem_errormsg(), minor);
  ASSERT_NE(pmem_check_version(2, 0), nullptr);
  EXPECT_STREQ(pmem_check_version(2, 0), "libpmem major version mismatch (need 2, found 1)");
  EXPECT_STREQ(pmem_check_version(0, 9), "libpmem major version mismatch (need 0, found 1)");
  EXPECT_STREQ(pmem_check_version(0, 0), "libpmem major version mismatch (need 0, found 1)");
}

TEST_F(LibpmemTest, ErrorMessagesArePerThread) {
  ExpectMapFails(dir_.Join("missing-main"), 0, 0, 0, ENOENT);
  const std::string main_message = pmem_errormsg();
  EXPECT_THAT(main_message, HasSubstr("missing-main"));
  std::string thread_before, thread_after;
  std::thread other([&] {
    thread_before = pmem_errormsg();
    errno = 0;
    if (pmem_map_file(dir_.Join("missing-thread").c_str(), 0, 0, 0, nullptr, nullptr) == nullptr) {
      thread_after = pmem_errormsg();
    }
  });
  other.join();
  EXPECT_EQ(thread_before, "") << "a new thread has no message";
  EXPECT_THAT(thread_after, HasSubstr("missing-thread"));
  EXPECT_EQ(pmem_errormsg(), main_message);
}

TEST_F(LibpmemTest, ConcurrentMapsAndUnmaps) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 20; ++i) {
        size_t len = 0;
        auto* p = static_cast<char*>(pmem_map_file(dir_.Join(absl::StrCat("t", t, "_", i)).c_str(), kPage + i,
                                                   PMEM_FILE_CREATE, 0600, &len, nullptr));
        ASSERT_NE(p, nullptr);
        pmem_memset_persist(p, t, len);
        EXPECT_EQ(pmem_msync(p, len), 0);
        EXPECT_EQ(pmem_unmap(p, len), 0);
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
