// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/granularity.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "testing/fake_sysfs.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace map_internal {
namespace {

using ::pmem2::testing::ScopedEnv;
using ::testing::HasSubstr;

// A fake sysfs with one NVDIMM region per entry of `domains`.
class FakeRegions {
 public:
  explicit FakeRegions(const std::vector<const char*>& domains) {
    for (const char* domain : domains) sysfs_.AddRegion(domain);
  }
  const std::string& root() const { return sysfs_.root(); }

 private:
  ::pmem2::testing::FakeSysfs sysfs_;
};

TEST(PersistenceDomainTest, NoRegions) {
  FakeRegions sysfs({});
  PersistenceDomain d = ReadPersistenceDomain(sysfs.root());
  EXPECT_EQ(d.summary, "none");
  EXPECT_FALSE(d.cpu_caches_are_persistent);
  EXPECT_EQ(ReadPersistenceDomain("/nonexistent").summary, "none");
}

TEST(PersistenceDomainTest, AllCpuCacheIsEadr) {
  FakeRegions sysfs({"cpu_cache", "cpu_cache"});
  PersistenceDomain d = ReadPersistenceDomain(sysfs.root());
  EXPECT_EQ(d.summary, "cpu_cache");
  EXPECT_TRUE(d.cpu_caches_are_persistent);
}

TEST(PersistenceDomainTest, OneRegionWithoutEadrSpoilsIt) {
  FakeRegions sysfs({"cpu_cache", "memory_controller"});
  PersistenceDomain d = ReadPersistenceDomain(sysfs.root());
  EXPECT_EQ(d.summary, "mixed");
  EXPECT_FALSE(d.cpu_caches_are_persistent);
}

TEST(PersistenceDomainTest, MemoryControllerAndEmpty) {
  FakeRegions mc({"memory_controller"});
  EXPECT_EQ(ReadPersistenceDomain(mc.root()).summary, "memory_controller");
  EXPECT_FALSE(ReadPersistenceDomain(mc.root()).cpu_caches_are_persistent);
  FakeRegions empty({""});
  EXPECT_EQ(ReadPersistenceDomain(empty.root()).summary, "unknown");
  EXPECT_FALSE(ReadPersistenceDomain(empty.root()).cpu_caches_are_persistent);
}

TEST(PersistenceDomainTest, RegionWithoutTheAttributeIsUnknownNotAbsent) {
  FakeRegions sysfs({nullptr});
  EXPECT_EQ(ReadPersistenceDomain(sysfs.root()).summary, "unknown");
  FakeRegions with_eadr({"cpu_cache", nullptr});
  EXPECT_EQ(ReadPersistenceDomain(with_eadr.root()).summary, "mixed");
  EXPECT_FALSE(ReadPersistenceDomain(with_eadr.root()).cpu_caches_are_persistent);
}

TEST(ForcedGranularityTest, UnsetAndEmptyMeanNotForced) {
  {
    ScopedEnv env("PMEM2_FORCE_GRANULARITY", absl::nullopt);
    EXPECT_EQ(ForcedGranularity().value(), absl::nullopt);
  }
  ScopedEnv env("PMEM2_FORCE_GRANULARITY", "");
  EXPECT_EQ(ForcedGranularity().value(), absl::nullopt);
}

TEST(ForcedGranularityTest, EverySpellingInAnyCase) {
  const std::vector<std::pair<std::string, StoreGranularity>> cases = {
      {"byte", StoreGranularity::kByte},         {"BYTE", StoreGranularity::kByte},
      {"cache_line", StoreGranularity::kCacheLine}, {"CACHE_LINE", StoreGranularity::kCacheLine},
      {"CacheLine", StoreGranularity::kCacheLine},  {"page", StoreGranularity::kPage},
      {"Page", StoreGranularity::kPage}};
  for (const auto& [text, expected] : cases) {
    ScopedEnv env("PMEM2_FORCE_GRANULARITY", text);
    EXPECT_EQ(ForcedGranularity().value(), expected) << text;
  }
}

TEST(ForcedGranularityTest, UnknownValueIsAnErrorNamingIt) {
  ScopedEnv env("PMEM2_FORCE_GRANULARITY", "cache-line");
  absl::Status s = ForcedGranularity().status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidForcedGranularity);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"cache-line\""));
}

TEST(DecideGranularityTest, Rules) {
  PersistenceDomain eadr{"cpu_cache", true};
  PersistenceDomain adr{"memory_controller", false};
  PersistenceDomain none{"none", false};
  EXPECT_EQ(DecideGranularity(true, false, none).granularity, StoreGranularity::kByte);
  EXPECT_EQ(DecideGranularity(true, true, adr).granularity, StoreGranularity::kByte);
  EXPECT_EQ(DecideGranularity(false, true, eadr).granularity, StoreGranularity::kByte);
  EXPECT_EQ(DecideGranularity(false, true, adr).granularity, StoreGranularity::kCacheLine);
  EXPECT_EQ(DecideGranularity(false, true, none).granularity, StoreGranularity::kCacheLine);
  EXPECT_EQ(DecideGranularity(false, false, eadr).granularity, StoreGranularity::kPage);
  EXPECT_EQ(DecideGranularity(false, false, none).granularity, StoreGranularity::kPage);
  EXPECT_THAT(DecideGranularity(false, true, eadr).reason, HasSubstr("eADR"));
  EXPECT_THAT(DecideGranularity(false, false, none).reason, HasSubstr("msync"));
}

TEST(ChooseGranularityTest, ForcedPageOnDeviceDaxIsCacheLine) {
  if (!arch::CacheLineOps().writes_back_cache_lines) GTEST_SKIP() << "this CPU cannot write cache lines back";
  // Device DAX is synchronous (rule 2); msync cannot persist it, so a forced page becomes cache line (rule 4).
  absl::StatusOr<GranularityChoice> devdax =
      ChooseGranularity(StoreGranularity::kPage, StoreGranularity::kPage, /*shared_file=*/true,
                        /*synchronous=*/true, /*device_dax=*/true);
  ASSERT_TRUE(devdax.ok()) << devdax.status();
  EXPECT_EQ(devdax->effective, StoreGranularity::kCacheLine);
  EXPECT_TRUE(devdax->forced);
  EXPECT_TRUE(devdax->forced_page_on_device_dax);
  EXPECT_THAT(devdax->reason, HasSubstr("msync cannot persist Device DAX"));
  // A forced page anywhere else, and every other forced granularity, is taken as it is.
  absl::StatusOr<GranularityChoice> file =
      ChooseGranularity(StoreGranularity::kPage, StoreGranularity::kPage, /*shared_file=*/true,
                        /*synchronous=*/true, /*device_dax=*/false);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->effective, StoreGranularity::kPage);
  EXPECT_FALSE(file->forced_page_on_device_dax);
  absl::StatusOr<GranularityChoice> byte =
      ChooseGranularity(StoreGranularity::kPage, StoreGranularity::kByte, /*shared_file=*/true,
                        /*synchronous=*/true, /*device_dax=*/true);
  ASSERT_TRUE(byte.ok()) << byte.status();
  EXPECT_EQ(byte->effective, StoreGranularity::kByte);
}

}  // namespace
}  // namespace map_internal
}  // namespace pmem2
