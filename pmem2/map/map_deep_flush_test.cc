// Copyright 2026 The pmem2 Authors.
//
// Map::DeepFlush on the media a build machine has (the NVDIMM region path of Device DAX is exercised in the DAX VM
// stage and, with a fake sysfs, in pmem2/ras/deep_flush_test.cc).

#include <fcntl.h>
#include <unistd.h>

#include <atomic>

#include <cerrno>
#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "pmem2/map/page_persist_for_test.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;

constexpr size_t kSize = 1 << 16;

class MapDeepFlushTest : public ::testing::Test {
 protected:
  absl::StatusOr<Map> MapFile(absl::optional<std::string> forced) {
    ScopedEnv env("PMEM2_FORCE_GRANULARITY", forced);
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    absl::StatusOr<Source> source = Source::FromFd(fd_.get());
    if (!source.ok()) return source.status();
    return Map::Create(config, *source);
  }

  ScopedTempDir dir_{"/dev/shm"};
  ScopedFd fd_ = CreateFile(dir_.Join("file"), kSize, O_RDWR);
};

TEST_F(MapDeepFlushTest, PageGranularityIsMsyncAndReachesTheFile) {
  absl::StatusOr<Map> map = MapFile(absl::nullopt);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->store_granularity(), StoreGranularity::kPage);
  char* base = static_cast<char*>(map->address());
  std::memcpy(base + 100, "deep", 4);
  ASSERT_TRUE(map->DeepFlush(base + 100, 4).ok());
  char back[4];
  ASSERT_EQ(pread(fd_.get(), back, 4, 100), 4);
  EXPECT_EQ(std::string(back, 4), "deep");
}

TEST_F(MapDeepFlushTest, AFailedMsyncIsTheDeepFlushsError) {
  absl::StatusOr<Map> map = MapFile(absl::nullopt);
  ASSERT_TRUE(map.ok());
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  absl::Status status = map->DeepFlush(map->address(), 1);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(status), EIO) << status;
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
}

TEST_F(MapDeepFlushTest, RangesOutsideTheMapAreDeepFlushRangeErrors) {
  absl::StatusOr<Map> map = MapFile(absl::nullopt);
  ASSERT_TRUE(map.ok());
  char* base = static_cast<char*>(map->address());
  EXPECT_EQ(GetErrorCode(map->DeepFlush(base, kSize + 1)), ErrorCode::kDeepFlushRange);
  EXPECT_EQ(GetErrorCode(map->DeepFlush(base - 1, 1)), ErrorCode::kDeepFlushRange);
  EXPECT_TRUE(map->DeepFlush(base + kSize, 0).ok());
  Map moved = std::move(*map);
  EXPECT_EQ(GetErrorCode(map->DeepFlush(base, 1)), ErrorCode::kDeepFlushRange);
}

// A cache-line Map of a file on no NVDIMM region (tmpfs): the caches are written back and there is no region
// to drain, which is success.
TEST_F(MapDeepFlushTest, CacheLineOnAFileSystemWithoutRegionWritesBackAndSucceeds) {
  absl::StatusOr<Map> map = MapFile("cache_line");
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
  EXPECT_TRUE(map->DeepFlush(map->address(), kSize).ok());
}

// The sticky error applies to the deep flush as to every Status method: a write-back failure seen through
// another Map of the file is the cache-line Map's too.
TEST_F(MapDeepFlushTest, CacheLineDeepFlushReturnsTheStickyError) {
  absl::StatusOr<Map> cache_line = MapFile("cache_line");
  absl::StatusOr<Map> page = MapFile(absl::nullopt);
  ASSERT_TRUE(cache_line.ok() && page.ok());
  ASSERT_EQ(cache_line->store_granularity(), StoreGranularity::kCacheLine);
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  page->persist_fn()(page->address(), 1);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(cache_line->DeepFlush(cache_line->address(), 1)), EIO);
}

// A cache-line Map of a file (fsdax, here a forced tmpfs one): after the write-back, the deep flush is the msync of
// the pages holding the range, whose failure is its answer (the kernel's fsync drains the NVDIMM region, as a write
// of its deep_flush attribute would, without needing root; before, that write was made, and failed for non-root).
std::atomic<int> deep_flush_syncs{0};
std::atomic<uintptr_t> deep_flush_synced_at{0};
TEST_F(MapDeepFlushTest, CacheLineDeepFlushOfAFileIsAnMsyncOfItsPages) {
  absl::StatusOr<Map> map = MapFile("cache_line");
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
  char* base = static_cast<char*>(map->address());
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  deep_flush_syncs = 0;
  map_internal::SetMsyncForTest([](void* address, size_t, int) {
    deep_flush_syncs.fetch_add(1);
    deep_flush_synced_at = reinterpret_cast<uintptr_t>(address);
    return 0;
  });
  EXPECT_TRUE(map->DeepFlush(base + page + 100, 10).ok());
  EXPECT_EQ(deep_flush_syncs.load(), 1);
  EXPECT_EQ(deep_flush_synced_at.load(), reinterpret_cast<uintptr_t>(base + page));
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  const absl::Status failed = map->DeepFlush(base, 1);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(failed), EIO) << failed;
  EXPECT_EQ(GetErrno(map->PersistError()), EIO) << "recorded as a persist's failure";
  map->ClearPersistError().IgnoreError();
}

TEST(MapDeepFlushAnonymousTest, AnonymousMemoryOnlyGetsTheWriteBack) {
  absl::StatusOr<Source> source = Source::Anonymous(kSize);
  ASSERT_TRUE(source.ok());
  Config config;
  config.set_required_store_granularity(StoreGranularity::kByte);
  absl::StatusOr<Map> map = Map::Create(config, *source);
  ASSERT_TRUE(map.ok());
  EXPECT_TRUE(map->DeepFlush(map->address(), kSize).ok());
}

}  // namespace
}  // namespace pmem2
