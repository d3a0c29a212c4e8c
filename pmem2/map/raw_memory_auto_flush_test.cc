// Copyright 2026 The pmem2 Authors.
//
// libpmem's functions (PmemFunctions(), HasAutoFlush()) chosen while every NVDIMM region reported eADR, then a region
// that does not turns up (a CXL or hot-added NVDIMM region) and a Map is made there: from then on they flush. PMDK
// reads the answer once and keeps skipping the flush, so persists to the new region only fence. A binary of its own:
// the first answer is read once per process, and nothing else here may read it first.

#include <fcntl.h>
#include <sys/mman.h>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/map/adopt_for_test.h"
#include "pmem2/map/map.h"
#include "pmem2/map/raw_memory.h"
#include "testing/child_process.h"
#include "testing/fake_sysfs.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

// Each test in a child process: the first answer is read once per process, and neither may see the other's.
TEST(RawMemoryAutoFlushTest, ARegionWithoutEadrSeenLaterMakesLibpmemsFunctionsFlush) {
  const arch::PersistOps& fence_only = arch::LibpmemOps(/*auto_flush=*/true);
  const arch::PersistOps& flushing = arch::LibpmemOps(/*auto_flush=*/false);
  if (fence_only.flush == flushing.flush) GTEST_SKIP() << "this backend's tables do not differ: nothing to tell apart";
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ::pmem2::testing::ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
    ::pmem2::testing::ScopedEnv no_flush_unset("PMEM_NO_FLUSH", absl::nullopt);
    ::pmem2::testing::FakeSysfs sysfs;
    sysfs.AddRegion("cpu_cache");
    if (!HasAutoFlush()) return 2;  // every region reports eADR
    std::string seen = PmemFunctions().flush == fence_only.flush ? "fence only" : "flushing";
    sysfs.AddRegion("memory_controller");                                 // a region added while the process runs
    absl::StrAppend(&seen, HasAutoFlush() ? ", still" : ", read again");  // not read again until a Map is made
    ::pmem2::testing::ScopedTempDir dir("/dev/shm");
    ::pmem2::testing::ScopedFd fd = ::pmem2::testing::CreateFile(dir.Join("f"), 4096, O_RDWR);
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    absl::StatusOr<Map> map = Map::Create(config, *Source::FromFd(fd.get()));
    if (!map.ok()) return 3;
    const RawPersistFunctions& now = PmemFunctions();
    absl::StrAppend(&seen, HasAutoFlush() ? "; auto flush" : "; no auto flush",
                    now.flush == flushing.flush && now.persist == flushing.persist && now.memmove == flushing.memmove
                        ? ", flushing"
                        : ", fence only");
    ::pmem2::testing::WriteToParent(out, seen);
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "fence only, still; no auto flush, flushing");
}

// So does a Map adopted with FromExisting at cache line: the caller's word that the range is persistent memory whose
// caches need writing back.
TEST(RawMemoryAutoFlushTest, AnAdoptedCacheLineMapOnARegionWithoutEadrMakesThemFlushToo) {
  const arch::PersistOps& fence_only = arch::LibpmemOps(/*auto_flush=*/true);
  const arch::PersistOps& flushing = arch::LibpmemOps(/*auto_flush=*/false);
  if (fence_only.flush == flushing.flush) GTEST_SKIP() << "this backend's tables do not differ: nothing to tell apart";
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ::pmem2::testing::ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
    ::pmem2::testing::ScopedEnv no_flush_unset("PMEM_NO_FLUSH", absl::nullopt);
    ::pmem2::testing::FakeSysfs sysfs;
    sysfs.AddRegion("cpu_cache");
    if (!HasAutoFlush()) return 2;
    if (PmemFunctions().flush != fence_only.flush) return 5;  // libpmem's functions took the eADR answer
    sysfs.AddRegion("memory_controller");
    ::pmem2::testing::ScopedTempDir dir("/dev/shm");
    ::pmem2::testing::ScopedFd fd = ::pmem2::testing::CreateFile(dir.Join("f"), 4096, O_RDWR);
    void* mapping = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    if (mapping == MAP_FAILED) return 3;
    map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax;  // a tmpfs file, else adopted at page granularity
    absl::StatusOr<Map> adopted =
        Map::FromExisting(*Source::FromFd(fd.get()), mapping, 4096, StoreGranularity::kCacheLine);
    if (!adopted.ok()) return 4;
    // The answer, and libpmem's functions (what pmem_persist and the others run; checked by audit: only the answer
    // was).
    const RawPersistFunctions& now = PmemFunctions();
    ::pmem2::testing::WriteToParent(out, absl::StrCat(HasAutoFlush() ? "auto flush" : "no auto flush",
                                                      now.flush == flushing.flush && now.persist == flushing.persist &&
                                                              now.memmove == flushing.memmove
                                                          ? ", flushing"
                                                          : ", fence only"));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "no auto flush, flushing");
}

}  // namespace
}  // namespace pmem2
