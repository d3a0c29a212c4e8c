// Copyright 2026 The pmem2 Authors.
//
// Runs with PMEM_NO_FLUSH=0 in the environment from process start (see BUILD.bazel): byte-granularity Maps of files
// then write cache lines back, and the CPU backend's Persist needs read access to them as Map::Persist() does.

#include <fcntl.h>
#include <sys/mman.h>

#include <cstdlib>

#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "pmem2/uring/async_persister.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;

// Of an inaccessible byte Map whose persist writes lines back: kNoAccess instead of a SIGSEGV in the write-back
// (found by review: the engine checked cache-line Maps only, as Map::Persist() once did).
TEST(AsyncPersisterNoFlushZeroTest, APersistOfAnInaccessibleByteMapThatWritesBackIsRefused) {
  ASSERT_STREQ(std::getenv("PMEM_NO_FLUSH"), "0");
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "byte");
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4096, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  Config config;
  config.set_required_store_granularity(StoreGranularity::kByte);
  config.set_protection(kProtNone);
  absl::StatusOr<Map> map = Map::Create(config, *source);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->store_granularity(), StoreGranularity::kByte);
  ASSERT_TRUE(map->writes_back_cache_lines());
  absl::StatusOr<AsyncPersister> persister = AsyncPersister::Create(*map, *source);
  ASSERT_TRUE(persister.ok()) << persister.status();
  ASSERT_EQ(persister->backend(), AsyncBackend::kCpu);
  EXPECT_EQ(GetErrorCode(persister->Persist(map->address(), 64)), ErrorCode::kNoAccess);
  ASSERT_EQ(mprotect(map->address(), 4096, PROT_READ), 0);
  EXPECT_TRUE(persister->Persist(map->address(), 64).ok());
  EXPECT_TRUE(persister->WaitAll().ok());
}

}  // namespace
}  // namespace pmem2
