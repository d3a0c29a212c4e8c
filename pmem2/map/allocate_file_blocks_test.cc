// Copyright 2026 The pmem2 Authors.
//
// Config::set_fully_allocated against a file that another process shrinks while Map::Create runs. The window between
// the request's check (which reads the size) and the allocation is opened here by interposing fallocate and
// posix_fallocate: this test executable's definitions come before libc's for the library's calls. A process of its
// own, so that no other test's calls meet them.

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "gtest/gtest.h"
#include "pmem2/map/map.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/temp_files.h"

namespace {

std::atomic<int> shrink_fd{-1};  // the descriptor whose file the next allocation call truncates first
constexpr off_t kShrunk = 4096;

void ShrinkIfArmed(int fd) {
  int armed = fd;
  if (shrink_fd.compare_exchange_strong(armed, -1) && ftruncate(fd, kShrunk) != 0) std::abort();
}

template <typename Fn>
Fn Next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int fallocate(int fd, int mode, off_t offset, off_t length) {
  static const auto real = Next<int (*)(int, int, off_t, off_t)>("fallocate");
  ShrinkIfArmed(fd);
  return real(fd, mode, offset, length);
}

int fallocate64(int fd, int mode, off_t offset, off_t length) { return fallocate(fd, mode, offset, length); }

int posix_fallocate(int fd, off_t offset, off_t length) {
  static const auto real = Next<int (*)(int, off_t, off_t)>("posix_fallocate");
  ShrinkIfArmed(fd);
  return real(fd, offset, length);
}

int posix_fallocate64(int fd, off_t offset, off_t length) { return posix_fallocate(fd, offset, length); }

}  // extern "C"

namespace pmem2 {
namespace {

// The Config promises that the allocation never changes the file's size. It allocated up to the size read when the
// request was checked, with posix_fallocate, which extends a file: one shrunk meanwhile grew back to that size, zeros
// where the other process had cut it (found by review). Now the allocation keeps the size.
TEST(AllocateFileBlocksTest, AFileShrunkBeforeItsBlocksAreAllocatedIsNotGrownBack) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  ::pmem2::testing::ScopedFd fd = ::pmem2::testing::CreateFile(dir.Join("f"), 1 << 20, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_fully_allocated(true);
  shrink_fd = fd.get();
  absl::StatusOr<Map> map = Map::Create(config, *source);
  EXPECT_EQ(shrink_fd.load(), -1) << "no allocation call was made";
  ASSERT_TRUE(map.ok()) << map.status();
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, kShrunk) << "the allocation grew the shrunk file back";
}

// Without a race, the blocks the file holds are all allocated, and its size stays.
TEST(AllocateFileBlocksTest, TheBlocksOfTheMappedRangeAreAllocated) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  ::pmem2::testing::ScopedFd fd = ::pmem2::testing::CreateFile(dir.Join("f"), 1 << 20, O_RDWR);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  ASSERT_LT(st.st_blocks * 512, 1 << 20) << "CreateFile made a sparse file";
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_fully_allocated(true);
  absl::StatusOr<Map> map = Map::Create(config, *Source::FromFd(fd.get()));
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_GE(st.st_blocks * 512, 1 << 20);
  EXPECT_EQ(st.st_size, 1 << 20);
}

// A file system without fallocate's FALLOC_FL_KEEP_SIZE (EOPNOTSUPP; here a seccomp filter refuses that mode alone):
// the blocks are allocated by posix_fallocate instead, and the size stays.
TEST(AllocateFileBlocksTest, WithoutKeepSizeThePosixFallocateFallbackAllocates) {
  if (!::pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  ::pmem2::testing::ScopedFd fd = ::pmem2::testing::CreateFile(dir.Join("f"), 1 << 20, O_RDWR);
  ::pmem2::testing::ChildResult r = ::pmem2::testing::RunInChild([&](int) {
    ::pmem2::testing::DenySystemCallWithFlags(__NR_fallocate, 1, FALLOC_FL_KEEP_SIZE, EOPNOTSUPP);
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    config.set_fully_allocated(true);
    absl::StatusOr<Map> map = Map::Create(config, *Source::FromFd(fd.get()));
    struct stat st;
    if (!map.ok() || fstat(fd.get(), &st) != 0) return 1;
    return st.st_blocks * 512 >= (1 << 20) && st.st_size == (1 << 20) ? 0 : 2;
  });
  EXPECT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
}

}  // namespace
}  // namespace pmem2
