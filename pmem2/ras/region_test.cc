// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/region.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/fake_nvdimm.h"

namespace pmem2 {
namespace ras_internal {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct GoodCase {
  const char* name;
  const char* text;
  std::vector<std::pair<uint64_t, uint64_t>> bytes;
};

class ParseBadBlocksGoodTest : public ::testing::TestWithParam<GoodCase> {};

TEST_P(ParseBadBlocksGoodTest, TurnsSectorLinesIntoByteRanges) {
  absl::StatusOr<std::vector<ByteRange>> ranges = ParseBadBlocks(GetParam().text, "region0/badblocks");
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  std::vector<std::pair<uint64_t, uint64_t>> got;
  for (const ByteRange& r : *ranges) got.emplace_back(r.offset, r.length);
  EXPECT_EQ(got, GetParam().bytes);
}

INSTANTIATE_TEST_SUITE_P(
    Lines, ParseBadBlocksGoodTest,
    ::testing::Values(GoodCase{"empty", "", {}}, GoodCase{"newline_only", "\n", {}},
                      GoodCase{"one", "8 1\n", {{4096, 512}}},
                      GoodCase{"two_in_file_order", "100 8\n0 2\n", {{51200, 4096}, {0, 1024}}},
                      GoodCase{"tabs_and_blank_lines", "\n 16\t4 \n\n", {{8192, 2048}}},
                      GoodCase{"no_final_newline", "1 1", {{512, 512}}},
                      GoodCase{"largest", "36028797018963966 1", {{UINT64_MAX - 1023, 512}}}),
    [](const ::testing::TestParamInfo<GoodCase>& param_info) { return std::string(param_info.param.name); });

class ParseBadBlocksMalformedTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ParseBadBlocksMalformedTest, IsAnInvalidRegionFormatNamingTheLine) {
  absl::StatusOr<std::vector<ByteRange>> ranges = ParseBadBlocks(GetParam(), "/sys/x/badblocks");
  ASSERT_FALSE(ranges.ok());
  EXPECT_EQ(GetErrorCode(ranges.status()), ErrorCode::kInvalidRegionFormat);
  EXPECT_THAT(std::string(ranges.status().message()), HasSubstr("/sys/x/badblocks line"));
}

INSTANTIATE_TEST_SUITE_P(Lines, ParseBadBlocksMalformedTest,
                         ::testing::Values("8", "8 1 2", "x 1", "8 y", "-8 1", "8 -1", "8 0", "+8 1", "0x10 1",
                                           "1 1\ngarbage", "99999999999999999999 1", "36028797018963968 1",
                                           "0 36028797018963968", "36028797018963967 1", "8 1 # x",
                                           "8,1"));

TEST(ReadUnsignedAttributeTest, ReadsDecimalAndHexAndRefusesTheRest) {
  testing::FakeNvdimm fake;
  fake.Write("a", "4096\n");
  fake.Write("b", "0x100000000\n");
  fake.Write("c", "12k\n");
  fake.Write("d", "0x\n");
  fake.Write("e", "-1\n");
  EXPECT_EQ(ReadUnsignedAttribute(fake.root() + "/a", ErrorCode::kCannotReadBounds).value(), 4096u);
  EXPECT_EQ(ReadUnsignedAttribute(fake.root() + "/b", ErrorCode::kCannotReadBounds).value(), 0x100000000u);
  for (const char* bad : {"c", "d", "e"}) {
    absl::StatusOr<uint64_t> v = ReadUnsignedAttribute(fake.root() + "/" + bad, ErrorCode::kCannotReadBounds);
    EXPECT_EQ(GetErrorCode(v.status()), ErrorCode::kCannotReadBounds) << bad;
    EXPECT_THAT(std::string(v.status().message()), HasSubstr(fake.root() + "/" + bad));
  }
  EXPECT_EQ(GetErrno(ReadUnsignedAttribute(fake.root() + "/none", ErrorCode::kCannotReadBounds).status()), ENOENT);
}

TEST(LocateTest, FindsTheRegionAboveAPmemBlockDevice) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(3, {});
  const std::string disk = fake.AddBlockDevice(region + "/pfn3.1", "pmem3", makedev(259, 7), {});
  absl::StatusOr<Location> l = LocateBlockDevice(makedev(259, 7));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_THAT(l->region_dir, ::testing::EndsWith("/devices/ndbus0/region3"));
  EXPECT_EQ(l->region_name, "region3");
  EXPECT_THAT(l->device_dir, ::testing::EndsWith("/region3/pfn3.1/block/pmem3"));
  EXPECT_EQ(l->partition_start, 0u);
}

// A region of volatile memory (devtype nd_volatile) holds no durable store, for a file system's block device and a
// Device DAX alike; a virtio-pmem device's region, for Device DAX only (a file system there is synced by msync, whose
// fsync reaches the device's flush). A devtype that cannot be read leaves durability unknown, said so: never a claim
// of durability, and no error (the RAS questions do not ask it).
TEST(LocateTest, ARegionWhereNoPersistIsDurableIsNamed) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(3, {});
  fake.AddBlockDevice(region + "/pfn3.1", "pmem3", makedev(259, 7), {});
  absl::StatusOr<Location> l = LocateBlockDevice(makedev(259, 7));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->not_durable, "") << "no devtype: nothing said";
  fake.Write(region + "/devtype", "nd_pmem\n");
  fake.Write(fake.root() + "/devices/ndbus0/provider", "virtio-pmem\n");
  l = LocateBlockDevice(makedev(259, 7));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->not_durable, "") << "a file system on virtio-pmem is synced by msync";
  fake.Write(region + "/devtype", "nd_volatile\n");
  l = LocateBlockDevice(makedev(259, 7));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_THAT(l->not_durable, ::testing::HasSubstr("block device 259:7 (pmem3) is on region3, an NVDIMM region of "
                                                   "volatile memory"));
  ASSERT_EQ(unlink((region + "/devtype").c_str()), 0);
  ASSERT_EQ(mkdir((region + "/devtype").c_str(), 0755), 0);  // read(2) fails: EISDIR
  l = LocateBlockDevice(makedev(259, 7));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_THAT(l->not_durable, ::testing::HasSubstr("(pmem3) is on region3, whose durability cannot be told"));
}

// A file system on a block device stacked (device-mapper, md) over NVDIMM regions: which region a file's blocks lie
// on cannot be told, so any of them of volatile memory makes the medium's durability none (found by audit: only a
// region directly under the file system was asked). Over durable regions only, nothing is said.
TEST(LocateTest, AStackedDeviceOverAVolatileRegionIsNamed) {
  for (const bool volatile_second : {false, true}) {
    SCOPED_TRACE(volatile_second ? "second region volatile" : "both regions durable");
    testing::FakeNvdimm fake;
    const std::string first = fake.AddRegion(0, {{"devtype", "nd_pmem"}});
    const std::string second = fake.AddRegion(1, {{"devtype", volatile_second ? "nd_volatile" : "nd_pmem"}});
    const std::string pmem0 = fake.AddBlockDevice(first + "/pfn0.1", "pmem0", makedev(259, 70), {});
    const std::string pmem1 = fake.AddBlockDevice(second + "/pfn1.1", "pmem1", makedev(259, 71), {});
    const std::string dm = fake.AddBlockDevice("", "dm-0", makedev(253, 0), {});
    ASSERT_EQ(mkdir((dm + "/slaves").c_str(), 0755), 0) << std::strerror(errno);
    ASSERT_EQ(symlink(pmem0.c_str(), (dm + "/slaves/pmem0").c_str()), 0) << std::strerror(errno);
    ASSERT_EQ(symlink(pmem1.c_str(), (dm + "/slaves/pmem1").c_str()), 0) << std::strerror(errno);
    absl::StatusOr<Location> l = LocateBlockDevice(makedev(253, 0));
    ASSERT_TRUE(l.ok()) << l.status();
    EXPECT_EQ(l->region_dir, "");
    EXPECT_THAT(l->stacked_over_nvdimm, ::testing::HasSubstr("(dm-0) is stacked"));
    if (volatile_second) {
      EXPECT_THAT(l->not_durable, ::testing::HasSubstr("(dm-0) is stacked over region1, an NVDIMM region of volatile "
                                                       "memory"));
    } else {
      EXPECT_EQ(l->not_durable, "");
    }
  }
}

TEST(LocateTest, APartitionIsFoundThroughItsDiskWithItsStart) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {});
  const std::string disk = fake.AddBlockDevice(region + "/namespace0.0", "pmem0", makedev(259, 0), {});
  fake.AddPartition(disk, "pmem0p1", makedev(259, 1), "2048");
  absl::StatusOr<Location> l = LocateBlockDevice(makedev(259, 1));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->region_name, "region0");
  EXPECT_THAT(l->device_dir, ::testing::EndsWith("/block/pmem0"));
  EXPECT_EQ(l->partition_start, 2048u * 512);
}

TEST(LocateTest, AMalformedPartitionStartIsAnError) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {});
  const std::string disk = fake.AddBlockDevice(region + "/namespace0.0", "pmem0", makedev(259, 0), {});
  fake.AddPartition(disk, "pmem0p1", makedev(259, 1), "two");
  absl::StatusOr<Location> l = LocateBlockDevice(makedev(259, 1));
  EXPECT_EQ(GetErrorCode(l.status()), ErrorCode::kInvalidRegionFormat);
  EXPECT_THAT(std::string(l.status().message()), HasSubstr("two"));
}

TEST(LocateTest, DevicesOffNvdimmsAreReportedWithTheReason) {
  testing::FakeNvdimm fake;
  fake.AddBlockDevice("", "sda", makedev(8, 0), {});
  absl::StatusOr<Location> disk = LocateBlockDevice(makedev(8, 0));
  ASSERT_TRUE(disk.ok());
  EXPECT_THAT(disk->region_dir, IsEmpty());
  EXPECT_THAT(disk->not_on_nvdimm, HasSubstr("8:0 (sda) is not on an NVDIMM region"));

  absl::StatusOr<Location> virt = LocateBlockDevice(makedev(0, 45));
  ASSERT_TRUE(virt.ok());
  EXPECT_THAT(virt->not_on_nvdimm, HasSubstr("0:45 is not a block device"));

  absl::StatusOr<Location> unknown = LocateBlockDevice(makedev(9, 9));
  ASSERT_TRUE(unknown.ok());
  EXPECT_THAT(unknown->not_on_nvdimm, HasSubstr("9:9 is not in sysfs"));

  fake.AddDaxDevice("", "dax0.0", makedev(252, 0), {});
  absl::StatusOr<Location> hmem = LocateDaxDevice(makedev(252, 0));
  ASSERT_TRUE(hmem.ok());
  EXPECT_THAT(hmem->not_on_nvdimm, HasSubstr("(dax0.0) is not on an NVDIMM region"));
}

// A Device DAX of CXL memory sits under a CXL region, named regionN like an NVDIMM region but under a decoder, not
// an NVDIMM bus: it has no NVDIMM region (no deep_flush, badblocks or dimms).
TEST(LocateTest, ACxlRegionIsNoNvdimmRegion) {
  testing::FakeNvdimm fake;
  const std::string cxl_region = fake.root() + "/devices/platform/ACPI0017:00/root0/decoder0.0/region0";
  fake.AddDaxDevice(cxl_region + "/dax_region0", "dax0.0", makedev(252, 7), {});
  absl::StatusOr<Location> l = LocateDaxDevice(makedev(252, 7));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_THAT(l->region_dir, IsEmpty()) << l->region_dir;
  EXPECT_THAT(l->not_on_nvdimm, HasSubstr("(dax0.0) is not on an NVDIMM region"));
}

TEST(LocateTest, FindsTheRegionAboveADeviceDax) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(1, {});
  fake.AddDaxDevice(region + "/dax1.0", "dax1.0", makedev(252, 1), {});
  absl::StatusOr<Location> l = LocateDaxDevice(makedev(252, 1));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->region_name, "region1");
  EXPECT_THAT(l->device_dir, ::testing::EndsWith("/region1/dax1.0/dax1.0"));
}

// libndctl walks a region's DIMMs in its bus's list, which it builds from the bus folder's listing (readdir), each DIMM
// added at the head: libpmem2's device id concatenates their ids in that order, and an id is compared with the one an
// application stored beside its unsafe shutdown count (another order: a "new" device, whose count it resets). Before,
// pmem2 took the region's mapping order.
TEST(RegionDimmsTest, NamesTheDimmsInTheOrderLibndctlWalksThem) {
  testing::FakeNvdimm fake;
  for (const char* name : {"nmem2", "nmem0", "nmem3", "nmem1"}) fake.AddDimm(name, {});
  const std::string region = fake.AddRegion(0, {{"mappings", "3\n"},
                                                {"mapping0", "nmem0,0,1073741824,0\n"},
                                                {"mapping1", "nmem2,0,1073741824,1\n"},
                                                {"mapping2", "nmem3,0,1073741824,2\n"}});
  // The bus folder as readdir lists it, last first, the region's DIMMs only.
  std::vector<std::string> expected;
  DIR* const bus = opendir((fake.root() + "/devices/ndbus0").c_str());
  ASSERT_NE(bus, nullptr);
  while (const struct dirent* entry = readdir(bus)) {
    const std::string name = entry->d_name;
    if (name == "nmem2" || name == "nmem0" || name == "nmem3") {
      expected.insert(expected.begin(), fake.root() + "/bus/nd/devices/" + name);
    }
  }
  closedir(bus);
  ASSERT_EQ(expected.size(), 3u);
  const std::string devices = fake.root() + "/bus/nd/devices/";
  // (Made 2, 0, 3: listed so or the other way round, neither is the mapping order 0, 2, 3.)
  ASSERT_NE(expected, (std::vector<std::string>{devices + "nmem0", devices + "nmem2", devices + "nmem3"}))
      << "the test needs a bus folder whose listing, reversed, is not the mapping order";
  absl::StatusOr<std::vector<std::string>> dimms = RegionDimms(region);
  ASSERT_TRUE(dimms.ok()) << dimms.status();
  EXPECT_EQ(*dimms, expected);
}

// Where the bus folder does not list them all (here none), the region's mapping order.
TEST(RegionDimmsTest, NamesTheDimmsInMappingOrderWhereTheBusDoesNotListThem) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(
      0, {{"mappings", "2\n"}, {"mapping0", "nmem1,0,1073741824,0\n"}, {"mapping1", "nmem0,0,1073741824,1\n"}});
  absl::StatusOr<std::vector<std::string>> dimms = RegionDimms(region);
  ASSERT_TRUE(dimms.ok()) << dimms.status();
  EXPECT_EQ(*dimms, (std::vector<std::string>{fake.root() + "/bus/nd/devices/nmem1",
                                              fake.root() + "/bus/nd/devices/nmem0"}));
}

TEST(RegionDimmsTest, ARegionWithoutMappingsHasNoDimms) {
  testing::FakeNvdimm fake;
  EXPECT_THAT(RegionDimms(fake.AddRegion(0, {{"mappings", "0\n"}})).value(), IsEmpty());
  EXPECT_THAT(RegionDimms(fake.AddRegion(1, {})).value(), IsEmpty());
}

TEST(RegionDimmsTest, MalformedMappingsAreErrorsNamingThem) {
  for (const char* text : {"nmem0", "dimm0,0,1,0", "nmemX,0,1,0", ",0,1,0", ""}) {
    testing::FakeNvdimm fake;
    const std::string region = fake.AddRegion(0, {{"mappings", "1"}, {"mapping0", text}});
    absl::StatusOr<std::vector<std::string>> dimms = RegionDimms(region);
    EXPECT_EQ(GetErrorCode(dimms.status()), ErrorCode::kInvalidRegionFormat) << text;
    EXPECT_THAT(std::string(dimms.status().message()), HasSubstr("mapping0")) << text;
  }
  testing::FakeNvdimm fake;
  EXPECT_EQ(GetErrorCode(RegionDimms(fake.AddRegion(0, {{"mappings", "lots"}})).status()),
            ErrorCode::kInvalidRegionFormat);
  EXPECT_EQ(GetErrno(RegionDimms(fake.AddRegion(1, {{"mappings", "2"}, {"mapping0", "nmem0,0,1,0"}})).status()),
            ENOENT);
}

}  // namespace
}  // namespace ras_internal
}  // namespace pmem2
