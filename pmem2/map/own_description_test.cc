// Copyright 2026 The pmem2 Authors.
//
// The file descriptions Maps are made through (map_registry.h, OwnDescription): a shared writable mapping of a
// regular file goes through a description of the process's own, one per file, and a forked child maps it again
// through one of its own. That Linux then tells each description of a write-back failure is tested on a failing
// file system in persistence_failure_test.cc (root only); these tests check the mechanism without root. Two
// descriptions are told apart by their file offset, which belongs to the description.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::map_internal::OwnDescriptionCountForTest;
using ::pmem2::map_internal::OwnDescriptionFdForTest;
using ::pmem2::map_internal::RemapsInChildForTest;
using ::pmem2::testing::ChildResult;
using ::pmem2::testing::CreateFile;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::testing::WriteToParent;
using ::testing::HasSubstr;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

absl::StatusOr<Map> MapFd(int fd, Protection protection = kProtRead | kProtWrite) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_protection(protection);
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return source.status();
  return Map::Create(config, *source);
}

struct stat Stat(int fd) {
  struct stat st {};
  EXPECT_EQ(fstat(fd, &st), 0) << std::strerror(errno);
  return st;
}

class OwnDescriptionTest : public ::testing::Test {
 protected:
  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{"/dev/shm"};
};

TEST_F(OwnDescriptionTest, TheMapsOfAFileShareOneDescriptionThatIsNotTheCallers) {
  const size_t before = OwnDescriptionCountForTest();
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  const struct stat st = Stat(fd.get());
  absl::StatusOr<Map> first = MapFd(fd.get());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Map> second = MapFd(fd.get());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(first->diagnostics().own_file_description);
  EXPECT_EQ(first->diagnostics().no_own_file_description, "");
  EXPECT_EQ(OwnDescriptionCountForTest(), before + 1) << "one per file, not per Map";
  const int own = OwnDescriptionFdForTest(st.st_dev, st.st_ino);
  ASSERT_GE(own, 0);
  EXPECT_NE(own, fd.get());
  EXPECT_EQ(fcntl(own, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(fcntl(own, F_GETFL) & O_ACCMODE, O_RDWR);
  ASSERT_EQ(lseek(fd.get(), 77, SEEK_SET), 77);
  EXPECT_EQ(lseek(own, 0, SEEK_CUR), 0) << "the caller's description, not one of pmem2's own";

  // The caller may close its descriptor: the Maps still persist to the file.
  fd = ScopedFd();
  std::memcpy(first->address(), "first", 5);
  EXPECT_TRUE(first->Persist(first->address(), 5).ok());
  char read_back[5] = {};
  ASSERT_EQ(pread(own, read_back, 5, 0), 5);
  EXPECT_EQ(std::string(read_back, 5), "first");

  first = absl::InternalError("destroyed");
  EXPECT_EQ(OwnDescriptionCountForTest(), before + 1) << "the second Map still uses it";
  second = absl::InternalError("destroyed");
  EXPECT_EQ(OwnDescriptionCountForTest(), before) << "closed with the file's last Map";
  EXPECT_EQ(OwnDescriptionFdForTest(st.st_dev, st.st_ino), -1);
}

TEST_F(OwnDescriptionTest, OnlySharedWritableMappingsOfFilesGetOne) {
  const size_t before = OwnDescriptionCountForTest();
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> read_only = MapFd(fd.get(), kProtRead);  // nothing to write back
  ASSERT_TRUE(read_only.ok()) << read_only.status();
  EXPECT_FALSE(read_only->diagnostics().own_file_description);
  EXPECT_EQ(read_only->diagnostics().no_own_file_description, "");
  EXPECT_FALSE(RemapsInChildForTest(read_only->address()));

  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_sharing(Sharing::kPrivate);  // stores never reach the file
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<Map> private_map = Map::Create(config, *source);
  ASSERT_TRUE(private_map.ok()) << private_map.status();
  EXPECT_FALSE(private_map->diagnostics().own_file_description);

  absl::StatusOr<Source> anonymous = Source::Anonymous(kPage);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  absl::StatusOr<Map> anonymous_map = Map::Create(config, *anonymous);
  ASSERT_TRUE(anonymous_map.ok()) << anonymous_map.status();
  EXPECT_FALSE(anonymous_map->diagnostics().own_file_description);
  EXPECT_EQ(OwnDescriptionCountForTest(), before);

  absl::StatusOr<Map> shared = MapFd(fd.get());
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_TRUE(RemapsInChildForTest(shared->address()));
}

// The parent's stores are in the child's mapping, the child's reach the file and the parent, and the child's own
// description is not the parent's: moving its offset leaves the parent's where it was. Control: without the
// child's description (RemapThroughOwnDescriptionsInChild doing nothing), the parent's offset moved too.
TEST_F(OwnDescriptionTest, AForkedChildMapsThroughADescriptionOfItsOwn) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  const struct stat st = Stat(fd.get());
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* base = static_cast<char*>(map->address());
  std::memcpy(base + kPage, "parent", 6);
  const int own = OwnDescriptionFdForTest(st.st_dev, st.st_ino);
  ASSERT_GE(own, 0);
  ASSERT_EQ(lseek(own, 0, SEEK_SET), 0);

  ChildResult child = RunInChild([&](int out) {
    const int mine = OwnDescriptionFdForTest(st.st_dev, st.st_ino);
    if (mine != own) WriteToParent(out, "the descriptor's number changed; ");
    if (std::memcmp(base + kPage, "parent", 6) != 0) WriteToParent(out, "the parent's stores are gone; ");
    if (lseek(mine, 100, SEEK_SET) != 100) WriteToParent(out, "lseek failed; ");
    std::memcpy(base + 2 * kPage, "child", 5);
    const absl::Status persisted = map->Persist(base + 2 * kPage, 5);
    if (!persisted.ok()) WriteToParent(out, persisted.ToString());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(lseek(own, 0, SEEK_CUR), 0) << "the child moved the parent's description: it is shared";
  EXPECT_EQ(std::string(base + 2 * kPage, 5), "child");
  char read_back[5] = {};
  ASSERT_EQ(pread(own, read_back, 5, static_cast<off_t>(2 * kPage)), 5);
  EXPECT_EQ(std::string(read_back, 5), "child");
  EXPECT_TRUE(map->PersistError().ok()) << map->PersistError();
}

// A child that cannot open a description of its own cannot vouch for its persists of the file: the kernel may tell
// its parent of their failures instead. Its Maps of the file say so, and keep their memory.
TEST_F(OwnDescriptionTest, AChildWithoutADescriptionOfItsOwnCannotVouchForItsPersists) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "no seccomp filters here";
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* base = static_cast<char*>(map->address());
  std::memcpy(base, "kept", 4);

  ChildResult child = RunInChild([&](int out) {
    testing::DenySystemCall(__NR_openat, EACCES);
    const uint64_t failures = PersistErrorCount();
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      const absl::Status error = map->PersistError();
      const bool says_so = !error.ok() && GetErrno(error) == EACCES &&
                           absl::StrContains(error.message(), "could not map") &&
                           absl::StrContains(error.message(), "file description of its own");
      const bool memory_kept = std::memcmp(base, "kept", 4) == 0;
      const bool persist_fails = !map->Persist(base, 4).ok();
      _exit(says_so && memory_kept && persist_fails && PersistErrorCount() == failures + 1 ? 0 : 1);
    }
    int status = 0;
    if (waitpid(grandchild, &status, 0) != grandchild) return 2;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) WriteToParent(out, "the grandchild's Map did not say so");
    if (!map->PersistError().ok()) WriteToParent(out, "the child's own Map failed");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_TRUE(map->PersistError().ok()) << map->PersistError();
}

}  // namespace
}  // namespace pmem2
