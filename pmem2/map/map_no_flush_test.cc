// Copyright 2026 The pmem2 Authors.
//
// Runs with PMEM_NO_FLUSH=0 in the environment from process start (see BUILD.bazel).

#include <fcntl.h>

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;

Config ByteConfig() {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kByte);
  return config;
}

TEST(PmemNoFlushZeroTest, ByteGranularityFileMappingsStillFlush) {
  ASSERT_STREQ(std::getenv("PMEM_NO_FLUSH"), "0");
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "byte");
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4096, O_RDWR);
  absl::StatusOr<Map> map = Map::Create(ByteConfig(), *Source::FromFd(fd.get()));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->store_granularity(), StoreGranularity::kByte);
  EXPECT_EQ(map->persist_fn(), arch::CacheLineOps().persist);
  EXPECT_EQ(map->memcpy_fn(), arch::CacheLineOps().memmove);
  EXPECT_NE(std::string(map->diagnostics().flush_name), "none");
}

// Those byte Maps write lines back, so their Persist and Flush need read access like a cache-line Map's: of an
// inaccessible one, kNoAccess instead of a SIGSEGV in the flush (found by review: only cache-line Maps were checked).
TEST(PmemNoFlushZeroTest, AByteMapThatFlushesRefusesToWriteBackAnInaccessibleRange) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "byte");
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4096, O_RDWR);
  Config config = ByteConfig();
  config.set_protection(kProtNone);
  absl::StatusOr<Map> map = Map::Create(config, *Source::FromFd(fd.get()));
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->store_granularity(), StoreGranularity::kByte);
  EXPECT_EQ(GetErrorCode(map->Persist(map->address(), 64)), ErrorCode::kNoAccess);
  EXPECT_EQ(GetErrorCode(map->Flush(map->address(), 64)), ErrorCode::kNoAccess);
}

TEST(PmemNoFlushZeroTest, AnonymousMemoryHasNothingToFlush) {
  absl::StatusOr<Map> map = Map::Create(ByteConfig(), *Source::Anonymous(4096));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->persist_fn(), arch::ByteOps().persist);
}

}  // namespace
}  // namespace pmem2
