// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/raw_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "pmem2/map/page_persist_for_test.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/vm_reservation/vm_reservation.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;

constexpr size_t kSize = 1 << 16;

absl::StatusOr<Map> PageMap(int fd) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return source.status();
  return Map::Create(config, *source);
}

TEST(RawMemoryTest, PmemFunctionsCopyAndPersist) {
  const RawPersistFunctions& f = PmemFunctions();
  ASSERT_NE(f.persist, nullptr);
  ASSERT_NE(f.flush, nullptr);
  ASSERT_NE(f.drain, nullptr);
  ASSERT_NE(f.memmove, nullptr);
  ASSERT_NE(f.memset, nullptr);
  char buffer[300] = {};
  f.memmove(buffer + 1, "raw pointers", 12, 0);
  f.memset(buffer + 100, 'x', 150, kMemNoDrain);
  f.drain();
  f.persist(buffer, sizeof buffer);
  if (f.deep_flush != nullptr) f.deep_flush(buffer, sizeof buffer);
  EXPECT_EQ(std::string(buffer + 1, 12), "raw pointers");
  EXPECT_EQ(buffer[249], 'x');
  EXPECT_EQ(buffer[250], 0);
  EXPECT_EQ(&PmemFunctions(), &f) << "chosen once";
}

TEST(RawMemoryTest, SyncPagesReportsItsOwnFailureAndThenTheStickyOne) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kSize, O_RDWR);
  absl::StatusOr<Map> map = PageMap(fd.get());
  ASSERT_TRUE(map.ok());
  char* base = static_cast<char*>(map->address());
  std::memcpy(base + 5000, "synced", 6);
  ASSERT_TRUE(SyncPages(base + 5000, 6).ok());
  char back[6];
  ASSERT_EQ(pread(fd.get(), back, 6, 5000), 6);
  EXPECT_EQ(std::string(back, 6), "synced");

  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  absl::Status failed = SyncPages(base, 1);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(failed), EIO) << failed;
  absl::Status later = SyncPages(base + 100, 1);  // its own msync succeeds; the pages may still be lost
  EXPECT_EQ(GetErrno(later), EIO) << later;
  EXPECT_TRUE(map->ClearPersistError().ok() == false);
  EXPECT_TRUE(SyncPages(base, 1).ok());
}

TEST(RawMemoryTest, SyncPagesOfMemoryNoMapHoldsIsTheMsyncsAnswer) {
  char on_stack[16] = {};
  EXPECT_TRUE(SyncPages(on_stack, sizeof on_stack).ok());  // msync accepts any mapped memory
  void* gone = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(gone, MAP_FAILED);
  munmap(gone, 4096);
  absl::Status status = SyncPages(gone, 1);
  EXPECT_EQ(GetErrno(status), ENOMEM) << status;  // not mapped
  // Seen by the caller, and not a lost write-back: nothing sticky is left behind.
  EXPECT_TRUE(SyncPages(on_stack, sizeof on_stack).ok());
  EXPECT_TRUE(PersistErrorAt(gone).ok());
}

// Page-cache memory has no region to drain: the deep drain is msync there (libpmem does the same), and its
// failure is the answer.
TEST(RawMemoryTest, DeepDrainOfPageCacheMemoryIsMsync) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kSize, O_RDWR);
  absl::StatusOr<Map> map = PageMap(fd.get());
  ASSERT_TRUE(map.ok());
  static int msyncs = 0;
  msyncs = 0;
  map_internal::SetMsyncForTest([](void* address, size_t length, int flags) {
    ++msyncs;
    return ::msync(address, length, flags);
  });
  EXPECT_TRUE(DeepDrain(map->address(), kSize).ok());
  EXPECT_EQ(msyncs, 1);
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  absl::Status failed = DeepDrain(map->address(), 1);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(failed), EIO) << failed;
  int on_stack = 0;
  EXPECT_TRUE(DeepDrain(&on_stack, sizeof on_stack).ok());  // mapped memory: msync succeeds
}

// A file on fsdax (a disk file forced to cache-line granularity, its block device placed on a fake NVDIMM region):
// the deep drain is msync, as libpmem's (the kernel's fsync flushes the device, without root), not a write of the
// region's deep_flush, which needs root (negative control: the attribute was written, "1\n" became "1").
TEST(RawMemoryTest, DeepDrainOfAFileOnFsdaxIsMsyncNotTheRegionsDeepFlush) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  ScopedTempDir dir(tmp != nullptr ? tmp : "/var/tmp");
  ScopedFd fd = CreateFile(dir.Join("f"), kSize, O_RDWR);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  if (major(st.st_dev) == 0) GTEST_SKIP() << "the test folder is on a virtual file system, with no block device";
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {{"deep_flush", "1\n"}});
  fake.AddBlockDevice(region + "/pfn0.1", "pmem0", st.st_dev, {});
  absl::StatusOr<Map> map = absl::UnknownError("not made");
  {
    ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
    Config config;
    config.set_required_store_granularity(StoreGranularity::kCacheLine);
    map = Map::Create(config, *Source::FromFd(fd.get()));
  }
  ASSERT_TRUE(map.ok()) << map.status();
  static int msyncs = 0;
  msyncs = 0;
  map_internal::SetMsyncForTest([](void* address, size_t length, int flags) {
    ++msyncs;
    return ::msync(address, length, flags);
  });
  const absl::Status drained = DeepDrain(map->address(), kSize);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_TRUE(drained.ok()) << drained;
  EXPECT_EQ(msyncs, 1);
  std::ifstream deep_flush(region + "/deep_flush");
  std::string content((std::istreambuf_iterator<char>(deep_flush)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "1\n") << "the region's deep_flush was written";
}

// A range over two Maps reports the second's sticky error too.
TEST(RawMemoryTest, SyncPagesReportsEveryMapOfTheRange) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd_a = CreateFile(dir.Join("a"), kSize, O_RDWR);
  ScopedFd fd_b = CreateFile(dir.Join("b"), kSize, O_RDWR);
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kSize);
  ASSERT_TRUE(rsv.ok());
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_vm_reservation(&*rsv, 0);
  absl::StatusOr<Map> a = Map::Create(config, *Source::FromFd(fd_a.get()));
  config.set_vm_reservation(&*rsv, kSize);
  absl::StatusOr<Map> b = Map::Create(config, *Source::FromFd(fd_b.get()));
  ASSERT_TRUE(a.ok() && b.ok());
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = ENOSPC;
    return -1;
  });
  b->persist_fn()(b->address(), 1);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_TRUE(SyncPages(a->address(), kSize).ok());
  EXPECT_EQ(GetErrno(SyncPages(a->address(), 2 * kSize)), ENOSPC);
}

}  // namespace
}  // namespace pmem2
