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

#if defined(__x86_64__)
#include "testing/cpu/scoped_cpu_features.h"
#endif

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
  // MAP_SYNC on a medium that keeps no store (an NVDIMM region of volatile memory): page, naming why.
  const GranularityDecision volatile_medium = DecideGranularity(false, true, eadr, "the file is on region9, volatile");
  EXPECT_EQ(volatile_medium.granularity, StoreGranularity::kPage);
  EXPECT_THAT(volatile_medium.reason, HasSubstr("MAP_SYNC, but the file is on region9, volatile"));
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

// Map::FromExisting(): page on Device DAX becomes cache line, as a forced page does in Create() (rule 4); anything
// else is taken as the caller gives it.
TEST(AdoptGranularityTest, PageOnDeviceDaxIsCacheLineAndTheRestIsAsGiven) {
  if (!arch::CacheLineOps().writes_back_cache_lines) GTEST_SKIP() << "this CPU cannot write cache lines back";
  absl::StatusOr<AdoptedGranularity> devdax =
      AdoptGranularity(StoreGranularity::kPage, /*shared_file=*/true, /*device_dax=*/true);
  ASSERT_TRUE(devdax.ok()) << devdax.status();
  EXPECT_EQ(devdax->effective, StoreGranularity::kCacheLine);
  EXPECT_FALSE(devdax->cpu_cannot_write_back);
  EXPECT_THAT(devdax->reason, HasSubstr("msync cannot persist Device DAX"));
  FakeRegions eadr({"cpu_cache"});  // byte is kept only there
  for (StoreGranularity given : {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
    for (bool shared_file : {true, false}) {
      for (bool device_dax : {true, false}) {
        if (given == StoreGranularity::kPage && shared_file && device_dax) continue;
        absl::StatusOr<AdoptedGranularity> adopted = AdoptGranularity(given, shared_file, device_dax);
        ASSERT_TRUE(adopted.ok()) << adopted.status();
        EXPECT_EQ(adopted->effective, given) << StoreGranularityName(given) << shared_file << device_dax;
        EXPECT_THAT(adopted->reason, HasSubstr("granularity given by the caller"));
      }
    }
  }
}

// Byte, whose persists only fence, is kept for a file or Device DAX only where every region has the CPU caches in its
// persistence domain, as Create() decides (rule 2): elsewhere it is cache line. Anonymous memory keeps it.
TEST(AdoptGranularityTest, ByteWithoutEadrIsCacheLine) {
  if (!arch::CacheLineOps().writes_back_cache_lines) GTEST_SKIP() << "this CPU cannot write cache lines back";
  for (const std::vector<const char*>& domains :
       {std::vector<const char*>{}, std::vector<const char*>{"memory_controller"},
        std::vector<const char*>{"cpu_cache", "memory_controller"}, std::vector<const char*>{nullptr}}) {
    FakeRegions regions(domains);
    for (bool device_dax : {true, false}) {
      absl::StatusOr<AdoptedGranularity> adopted =
          AdoptGranularity(StoreGranularity::kByte, /*shared_file=*/true, device_dax);
      ASSERT_TRUE(adopted.ok()) << adopted.status();
      EXPECT_EQ(adopted->effective, StoreGranularity::kCacheLine) << domains.size() << device_dax;
      EXPECT_THAT(adopted->reason, HasSubstr("byte made cache line: the CPU caches are not in the persistence domain"));
    }
    absl::StatusOr<AdoptedGranularity> anonymous =
        AdoptGranularity(StoreGranularity::kByte, /*shared_file=*/false, /*device_dax=*/false);
    ASSERT_TRUE(anonymous.ok()) << anonymous.status();
    EXPECT_EQ(anonymous->effective, StoreGranularity::kByte);
  }
}

#if defined(__x86_64__)
// A CPU without any cache-line write-back (no CLFLUSH): cache line falls back to msync, except on Device DAX, which
// msync cannot persist and which is refused whatever granularity is required or forced (rule 5), in Create() and
// in FromExisting() alike.
TEST(ChooseGranularityTest, DeviceDaxOnACpuThatCannotWriteBackIsRefused) {
  arch::x86_64::CpuFeatures no_flush = ::pmem2::testing::RestrictedFeatures(
      ::pmem2::testing::IsaLevel::kSse2, ::pmem2::testing::FlushInstruction::kClflush);
  no_flush.clflush = false;
  ::pmem2::testing::ScopedCpuFeatures cpu(no_flush);
  ASSERT_FALSE(arch::CacheLineOps().writes_back_cache_lines);
  FakeRegions regions({"memory_controller"});
  for (absl::optional<StoreGranularity> forced :
       {absl::optional<StoreGranularity>(), absl::optional<StoreGranularity>(StoreGranularity::kPage),
        absl::optional<StoreGranularity>(StoreGranularity::kCacheLine)}) {
    absl::StatusOr<GranularityChoice> devdax = ChooseGranularity(StoreGranularity::kPage, forced, /*shared_file=*/true,
                                                                 /*synchronous=*/true, /*device_dax=*/true);
    EXPECT_EQ(GetErrorCode(devdax.status()), ErrorCode::kGranularityNotSupported) << forced.has_value();
    EXPECT_THAT(std::string(devdax.status().message()), HasSubstr("msync cannot persist Device DAX"));
    absl::StatusOr<GranularityChoice> fsdax = ChooseGranularity(StoreGranularity::kPage, forced, /*shared_file=*/true,
                                                                /*synchronous=*/true, /*device_dax=*/false);
    ASSERT_TRUE(fsdax.ok()) << fsdax.status();
    EXPECT_EQ(fsdax->effective, StoreGranularity::kPage) << "msync persists a file system DAX mapping";
    EXPECT_EQ(fsdax->cpu_cannot_write_back, !forced.has_value() || *forced == StoreGranularity::kCacheLine);
  }
  for (StoreGranularity given : {StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
    absl::StatusOr<AdoptedGranularity> devdax = AdoptGranularity(given, /*shared_file=*/true, /*device_dax=*/true);
    EXPECT_EQ(GetErrorCode(devdax.status()), ErrorCode::kGranularityNotSupported) << StoreGranularityName(given);
    EXPECT_THAT(std::string(devdax.status().message()), HasSubstr("msync cannot persist Device DAX"));
  }
  absl::StatusOr<AdoptedGranularity> file =
      AdoptGranularity(StoreGranularity::kCacheLine, /*shared_file=*/true, /*device_dax=*/false);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(file->effective, StoreGranularity::kPage);
  EXPECT_TRUE(file->cpu_cannot_write_back);
  EXPECT_THAT(file->reason, HasSubstr("cache line made page (msync)"));
  // Byte on Device DAX without eADR (these regions: memory_controller) is cache line, which this CPU cannot write
  // back: refused too. Anonymous memory keeps it.
  EXPECT_EQ(GetErrorCode(AdoptGranularity(StoreGranularity::kByte, /*shared_file=*/true, true).status()),
            ErrorCode::kGranularityNotSupported);
  absl::StatusOr<AdoptedGranularity> anonymous_byte = AdoptGranularity(StoreGranularity::kByte, false, true);
  ASSERT_TRUE(anonymous_byte.ok()) << anonymous_byte.status();
  EXPECT_EQ(anonymous_byte->effective, StoreGranularity::kByte) << "nothing to write back";
  absl::StatusOr<AdoptedGranularity> anonymous =
      AdoptGranularity(StoreGranularity::kCacheLine, /*shared_file=*/false, /*device_dax=*/false);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ(anonymous->effective, StoreGranularity::kCacheLine) << "nothing anonymous is durable";
}

// ...but with eADR, Device DAX is byte granularity, which needs no write-back: it maps on such a CPU too.
TEST(ChooseGranularityTest, DeviceDaxWithEadrMapsOnACpuThatCannotWriteBack) {
  arch::x86_64::CpuFeatures no_flush = ::pmem2::testing::RestrictedFeatures(
      ::pmem2::testing::IsaLevel::kSse2, ::pmem2::testing::FlushInstruction::kClflush);
  no_flush.clflush = false;
  ::pmem2::testing::ScopedCpuFeatures cpu(no_flush);
  FakeRegions regions({"cpu_cache"});
  for (absl::optional<StoreGranularity> forced :
       {absl::optional<StoreGranularity>(), absl::optional<StoreGranularity>(StoreGranularity::kByte)}) {
    absl::StatusOr<GranularityChoice> devdax = ChooseGranularity(StoreGranularity::kByte, forced, /*shared_file=*/true,
                                                                 /*synchronous=*/true, /*device_dax=*/true);
    ASSERT_TRUE(devdax.ok()) << devdax.status();
    EXPECT_EQ(devdax->effective, StoreGranularity::kByte);
    EXPECT_FALSE(devdax->cpu_cannot_write_back);
  }
  absl::StatusOr<GranularityChoice> forced_page =
      ChooseGranularity(StoreGranularity::kPage, StoreGranularity::kPage, /*shared_file=*/true, /*synchronous=*/true,
                        /*device_dax=*/true);
  EXPECT_EQ(GetErrorCode(forced_page.status()), ErrorCode::kGranularityNotSupported)
      << "a forced page is cache line on Device DAX, which this CPU cannot write back";
  for (bool shared_file : {true, false}) {  // adopted at byte: kept, with eADR
    absl::StatusOr<AdoptedGranularity> byte = AdoptGranularity(StoreGranularity::kByte, shared_file, true);
    ASSERT_TRUE(byte.ok()) << byte.status();
    EXPECT_EQ(byte->effective, StoreGranularity::kByte) << "eADR: nothing to write back";
  }
}
#endif

}  // namespace
}  // namespace map_internal
}  // namespace pmem2
