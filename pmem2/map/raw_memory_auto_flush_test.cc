// Copyright 2026 The pmem2 Authors.
//
// libpmem's functions (PmemFunctions(), HasAutoFlush()) chosen while every NVDIMM region reported eADR, then a region
// that does not turns up (a CXL or hot-added NVDIMM region) and a Map is made there: from then on they flush. PMDK
// reads the answer once and keeps skipping the flush, so persists to the new region only fence. A binary of its own:
// the first answer is read once per process, and nothing else here may read it first.

#include <fcntl.h>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/map/map.h"
#include "pmem2/map/raw_memory.h"
#include "testing/fake_sysfs.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

TEST(RawMemoryAutoFlushTest, ARegionWithoutEadrSeenLaterMakesLibpmemsFunctionsFlush) {
  ::pmem2::testing::ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  ::pmem2::testing::ScopedEnv no_flush_unset("PMEM_NO_FLUSH", absl::nullopt);
  ::pmem2::testing::FakeSysfs sysfs;
  sysfs.AddRegion("cpu_cache");
  ASSERT_TRUE(HasAutoFlush()) << "every region reports eADR";
  const arch::PersistOps& fence_only = arch::LibpmemOps(/*auto_flush=*/true);
  const arch::PersistOps& flushing = arch::LibpmemOps(/*auto_flush=*/false);
  ASSERT_NE(fence_only.flush, flushing.flush) << "this CPU's tables do not differ: nothing to tell apart";
  EXPECT_EQ(PmemFunctions().flush, fence_only.flush);

  sysfs.AddRegion("memory_controller");  // a region added while the process runs
  EXPECT_TRUE(HasAutoFlush()) << "not read again until a Map is made";
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  ::pmem2::testing::ScopedFd fd = ::pmem2::testing::CreateFile(dir.Join("f"), 4096, O_RDWR);
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> map = Map::Create(config, *Source::FromFd(fd.get()));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_FALSE(HasAutoFlush());
  EXPECT_EQ(PmemFunctions().flush, flushing.flush) << "libpmem's functions still skip the flush";
  EXPECT_EQ(PmemFunctions().persist, flushing.persist);
  EXPECT_EQ(PmemFunctions().memmove, flushing.memmove);
}

}  // namespace
}  // namespace pmem2
