// Copyright 2026 The pmem2 Authors.
//
// The error contract (map.h) at the operating-system boundary, on real file systems that fail
// (testing/scratch_fs.h; root only, skipped with the reason elsewhere):
//
//   * ext4 on a loop device whose backing store runs out: the kernel's write-back of one thread's record fails,
//     another thread's msync of an unrelated page is the one that receives the error, and the first thread's own
//     later msync succeeds. Every thread and every Map of the file must still see the failure. Nor may a forked
//     child's msync take the report from its parent's Map.
//   * a full tmpfs: a store into a hole of a sparse file raises SIGBUS; Config::set_fully_allocated turns that
//     into a kResourceExhausted error from Map::Create.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "testing/child_process.h"
#include "testing/scratch_fs.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::ChildOptions;
using ::pmem2::testing::ChildResult;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScratchFs;
using ::pmem2::testing::WriteToParent;
using ::testing::AnyOf;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
constexpr size_t kMiB = size_t{1} << 20;

absl::StatusOr<Map> MapFd(int fd, bool fully_allocated) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_fully_allocated(fully_allocated);
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return source.status();
  return Map::Create(config, *source);
}

// A 32 MiB file on ext4 that believes it has 64 MiB, on a device that can store only about 8 MiB, mapped at page
// granularity (fully allocated: ext4 has the blocks, the device not). Skipped where ScratchFs cannot make one.
class FailingDiskTest : public ::testing::Test {
 protected:
  static constexpr size_t kFile = 32 * kMiB;

  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ScratchFs>> made = ScratchFs::Ext4OnFailingLoop(64 * kMiB, 8 * kMiB);
    // Skipped only where the machine cannot give one (FailedPrecondition); any other error is the helper's failure.
    if (absl::IsFailedPrecondition(made.status())) GTEST_SKIP() << made.status().message();
    ASSERT_TRUE(made.ok()) << made.status();
    fs_ = std::move(*made);
    path_ = fs_->Join("log");
    fd_ = ScopedFd(open(path_.c_str(), O_RDWR | O_CREAT, 0600));
    ASSERT_GE(fd_.get(), 0);
    ASSERT_EQ(ftruncate(fd_.get(), kFile), 0);
    map_ = MapFd(fd_.get(), /*fully_allocated=*/true);
    ASSERT_TRUE(map_.ok()) << map_.status();
    ASSERT_EQ(map_->store_granularity(), StoreGranularity::kPage);
    base_ = static_cast<char*>(map_->address());
  }

  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  std::unique_ptr<ScratchFs> fs_;
  std::string path_;
  ScopedFd fd_;
  absl::StatusOr<Map> map_ = absl::UnknownError("not made");
  char* base_ = nullptr;
};

// Case 1 of the durability issue, reproduced as a user met it: thread B stores a record without flushing; the
// kernel writes B's pages back and fails; thread A persists its own records and its msyncs are the ones that
// report the failure; thread B's msync then succeeds (asserted). Before the error contract, B's check said OK and
// B committed a record that was gone after a reboot.
TEST_F(FailingDiskTest, AWriteBackFailureReachesEveryThreadAndEveryMapOfTheFile) {
  const std::string& path = path_;
  absl::StatusOr<Map>& map = map_;
  char* const base = base_;
  // Another component of the application maps the same file through its own descriptor.
  ScopedFd other_fd(open(path.c_str(), O_RDWR));
  absl::StatusOr<Map> other = MapFd(other_fd.get(), false);
  ASSERT_TRUE(other.ok()) << other.status();

  // Thread B: a large record, stored without flushing (it will persist later).
  std::thread b_store([&] { map->memset_fn()(base + kPage, 'B', kFile - kPage, kMemNoFlush); });
  b_store.join();
  // The kernel writes B's pages back, and fails (started here through a third descriptor, as the flusher thread
  // would, until nothing is left to write: the failed pages are dropped from the page cache).
  {
    ScopedFd flusher(open(path.c_str(), O_RDWR));
    const int attempts = ScratchFs::FlushUntilClean(flusher.get());
    ASSERT_LT(attempts, ScratchFs::kMaxFlushes) << "the write-back kept failing";
    ASSERT_GT(attempts, 0) << "the device did not fail: the test proves nothing";
  }
  // Thread A persists its own, unrelated records: its msyncs are the ones that receive the file's write-back
  // errors (Linux reports them once per open file description), until one succeeds.
  std::thread a([&] {
    map->memcpy_fn()(base, "A", 1, 0);
    for (int i = 0; i < 10; ++i) {  // A retries its persist until it reports nothing new
      const uint64_t before = PersistErrorCount();
      map->persist_fn()(base, 1);
      if (PersistErrorCount() == before) break;
    }
  });
  a.join();
  ASSERT_FALSE(map->PersistError().ok()) << "A saw no failure: the test proves nothing";

  // Thread B persists its record. Its own msync now succeeds: the kernel has nothing more to say to this file
  // description. B must still not be told that the record is durable.
  const uint64_t before_b = PersistErrorCount();
  absl::Status b_status;
  std::thread b_persist([&] { b_status = map->Persist(base + kPage, kFile - kPage); });
  b_persist.join();
  ASSERT_EQ(PersistErrorCount(), before_b) << "B's own msync failed too; the scenario needs it to succeed";
  EXPECT_FALSE(b_status.ok());
  EXPECT_THAT(GetErrno(b_status), AnyOf(EIO, ENOSPC));
  EXPECT_THAT(b_status.code(), AnyOf(absl::StatusCode::kDataLoss, absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(PersistErrorAt(base + kFile - 1).ok());
  // The other Map of the file, whose own descriptor may never see the error, has it too.
  EXPECT_FALSE(other->PersistError().ok());
  EXPECT_FALSE(other->Persist(other->address(), 1).ok());
  // Acknowledging on one Map does not acknowledge for the other.
  EXPECT_FALSE(map->ClearPersistError().ok());
  EXPECT_FALSE(other->PersistError().ok());
}

// Across fork(): parent and child share the file descriptions they inherited, and Linux hands a write-back error to
// one sync per description. Here the parent stores a record and forks; the kernel's write-back of the record fails;
// the child's msync is the one the kernel tells. The parent's own msync must not then say its record is durable.
// Before a forked child mapped its Maps again through a file description of its own, the parent's Persist returned
// OK. Control: with the child's handler doing nothing, it does again.
TEST_F(FailingDiskTest, AWriteBackFailureAForkedChildSawReachesTheParentToo) {
  absl::StatusOr<Map>& map = map_;
  char* const base = base_;
  map->memset_fn()(base + kPage, 'P', kFile - kPage, kMemNoFlush);  // the parent's record, not yet persisted

  ChildResult child = RunInChild(
      [&](int out) {
        // The kernel writes the pages back, and fails (the flusher's own description is told too).
        ScopedFd flusher(open(path_.c_str(), O_RDWR));
        const int attempts = ScratchFs::FlushUntilClean(flusher.get());
        if (attempts == 0) WriteToParent(out, "the device did not fail: the test proves nothing");
        if (attempts == ScratchFs::kMaxFlushes) WriteToParent(out, "the write-back kept failing");
        // The child persists (nothing of its own to write): its msyncs are told of the failure, until one succeeds.
        for (int i = 0; i < 10; ++i) {
          const uint64_t before = PersistErrorCount();
          map->persist_fn()(base, kFile);
          if (PersistErrorCount() == before) break;
        }
        if (map->PersistError().ok()) WriteToParent(out, "the child saw no failure");
        return 0;
      },
      ChildOptions{absl::Seconds(60)});
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  ASSERT_EQ(child.output, "");
  EXPECT_TRUE(map->PersistError().ok()) << "nothing the parent persisted has failed yet";
  const absl::Status parent = map->Persist(base + kPage, kFile - kPage);
  EXPECT_FALSE(parent.ok()) << "the parent was told its lost record is durable";
  EXPECT_THAT(GetErrno(parent), AnyOf(EIO, ENOSPC));
}

// A store that the file system cannot back kills the process with SIGBUS; a handler makes the death testable
// under the sanitizers too (they would otherwise report the signal and abort).
void ExitOnSigbus(int) {
  static const char kMessage[] = "SIGBUS\n";
  (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
  _exit(42);
}

TEST(PersistenceFailureTest, FullFileSystemIsSigbusUnlessFullyAllocated) {
  // "fast": the child is a fork that shares this ScratchFs. "threadsafe" would re-run the test in a new process
  // that mounts a tmpfs of its own and dies before unmounting it (ScratchFs refuses that).
  GTEST_FLAG_SET(death_test_style, "fast");
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  absl::StatusOr<std::unique_ptr<ScratchFs>> fs = ScratchFs::Tmpfs(2 * kMiB);
  if (absl::IsFailedPrecondition(fs.status())) GTEST_SKIP() << fs.status().message();
  ASSERT_TRUE(fs.ok()) << fs.status();
  const std::string path = (*fs)->Join("sparse");
  ScopedFd fd(open(path.c_str(), O_RDWR | O_CREAT, 0600));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(ftruncate(fd.get(), 256 * 1024), 0) << "a sparse file needs no space";
  absl::StatusOr<uint64_t> filled = (*fs)->Fill("filler");
  ASSERT_TRUE(filled.ok()) << filled.status();

  absl::StatusOr<Map> refused = MapFd(fd.get(), /*fully_allocated=*/true);
  EXPECT_EQ(GetErrno(refused.status()), ENOSPC) << refused.status();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.status().message()), ::testing::HasSubstr("Config::set_fully_allocated"));
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 256 * 1024) << "a failed allocation leaves the file as it was";

  // Without the option the mapping is made, and the first store into the hole is fatal.
  absl::StatusOr<Map> sparse = MapFd(fd.get(), /*fully_allocated=*/false);
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  EXPECT_EXIT(
      {
        signal(SIGBUS, ExitOnSigbus);
        static_cast<volatile char*>(sparse->address())[0] = 1;
        _exit(0);
      },
      ::testing::ExitedWithCode(42), "SIGBUS");

  // Once there is room, the same option succeeds and every store is backed.
  ASSERT_EQ(unlink((*fs)->Join("filler").c_str()), 0);
  absl::StatusOr<Map> allocated = MapFd(fd.get(), /*fully_allocated=*/true);
  ASSERT_TRUE(allocated.ok()) << allocated.status();
  absl::StatusOr<uint64_t> refilled = (*fs)->Fill("filler");
  ASSERT_TRUE(refilled.ok()) << refilled.status();
  EXPECT_TRUE(allocated->Memset(allocated->address(), 7, allocated->size()).ok())
      << "every page was allocated before the file system filled up again";
}

}  // namespace
}  // namespace pmem2
