// Copyright 2026 The pmem2 Authors.
//
// libpmem's error contract across fork() at the operating-system boundary, on a real file system that fails
// (testing/scratch_fs.h; root only, skipped with the reason elsewhere): Linux reports a write-back failure once per
// open file description, and parent and child share every description they inherit. A pmem_map_file mapping keeps no
// descriptor open (its caller may munmap(2) it), so a forked child opens the file again by its path and maps the
// mapping again through that description of its own (pmem2/map/map_registry.h, RemapInChildThroughPath). The
// parent's pmem_msync must then hear of a failure the child's pmem_msync was told of. Before, when a child shared the
// description, the parent's pmem_msync returned 0 for its lost record (measured once: with the child's path handling
// disabled, this test fails that way).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "testing/child_process.h"
#include "testing/scratch_fs.h"
#include "testing/temp_files.h"

namespace {

using ::pmem2::testing::ChildOptions;
using ::pmem2::testing::ChildResult;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScratchFs;
using ::pmem2::testing::WriteToParent;
using ::testing::AnyOf;

constexpr size_t kMiB = size_t{1} << 20;


TEST(PmemMapFileForkFailureTest, AWriteBackFailureAForkedChildWasToldOfReachesTheParent) {
  // ext4 that believes it has 64 MiB on a device that can store about 8 MiB; the file's 32 MiB are allocated (ext4
  // has the blocks, the device not).
  absl::StatusOr<std::unique_ptr<ScratchFs>> fs = ScratchFs::Ext4OnFailingLoop(64 * kMiB, 8 * kMiB);
  if (absl::IsFailedPrecondition(fs.status())) GTEST_SKIP() << fs.status().message();
  ASSERT_TRUE(fs.ok()) << fs.status();
  const std::string path = (*fs)->Join("log");
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t len = 0;
  int is_pmem = -1;
  char* p = static_cast<char*>(pmem_map_file(path.c_str(), 32 * kMiB, PMEM_FILE_CREATE, 0600, &len, &is_pmem));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  ASSERT_EQ(is_pmem, 0);
  std::memset(p + page, 'P', len - page);  // the parent's record, not yet persisted

  const ChildResult child = RunInChild(
      [&](int out) {
        // The kernel writes the pages back, and fails (the flusher's own description is told too).
        ScopedFd flusher(open(path.c_str(), O_RDWR | O_CLOEXEC));
        const int attempts = ScratchFs::FlushUntilClean(flusher.get());
        if (attempts == 0) WriteToParent(out, "the device did not fail: the test proves nothing");
        if (attempts == ScratchFs::kMaxFlushes) WriteToParent(out, "the write-back kept failing");
        // The child's pmem_msync (nothing of its own to write) is told of the failure through its description.
        errno = 0;
        if (pmem_msync(p, page) != -1) WriteToParent(out, "the child saw no failure");
        return 0;
      },
      ChildOptions{absl::Seconds(60)});
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  ASSERT_EQ(child.output, "");
  errno = 0;
  EXPECT_EQ(pmem_msync(p + page, len - page), -1) << "the parent was told its lost record is durable";
  EXPECT_THAT(errno, AnyOf(EIO, ENOSPC));
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

}  // namespace
