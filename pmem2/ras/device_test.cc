// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/device.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/source/source.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::testing::HasSubstr;

// A file on a disk file system, whose st_dev the fake sysfs then places on an NVDIMM region.
class DeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_.emplace(tmp != nullptr ? tmp : "/var/tmp");
    fd_ = testing::CreateFile(dir_->Join("file"), 4096, O_RDWR);
    struct stat st;
    ASSERT_EQ(fstat(fd_.get(), &st), 0);
    dev_ = st.st_dev;
    if (major(dev_) == 0) GTEST_SKIP() << "the test folder is on a virtual file system, with no block device";
    source_ = Source::FromFd(fd_.get()).value();
  }

  // Region 0 with `dimms` DIMMs nmem0.. whose nfit attributes are `nfit`, and the test file's device on it.
  std::string PlaceOnRegion(testing::FakeNvdimm& fake, int dimms, const testing::Attributes& nfit,
                            const testing::Attributes& region_attributes = {{"numa_node", "1\n"}}) {
    testing::Attributes attributes = region_attributes;
    attributes["mappings"] = std::to_string(dimms);
    for (int i = 0; i < dimms; ++i) {
      attributes["mapping" + std::to_string(i)] = "nmem" + std::to_string(i) + ",0,536870912," + std::to_string(i);
      testing::Attributes dimm;
      for (const auto& a : nfit) dimm["nfit/" + a.first] = a.second;
      fake.AddDimm("nmem" + std::to_string(i), dimm);
    }
    const std::string region = fake.AddRegion(0, attributes);
    fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_, {});
    return region;
  }

  absl::optional<testing::ScopedTempDir> dir_;
  testing::ScopedFd fd_;
  dev_t dev_ = 0;
  absl::optional<Source> source_;
};

// In the order libndctl walks the DIMMs, as libpmem2's id (region.h, RegionDimms).
TEST_F(DeviceTest, IdConcatenatesTheDimmIdsInLibndctlsOrder) {
  testing::FakeNvdimm fake;
  const std::string region = PlaceOnRegion(fake, 2, {{"dirty_shutdown", "3\n"}});
  fake.Write(fake.root() + "/devices/ndbus0/nmem0/nfit/id", "8089-a2-1837-00000b21\n");
  fake.Write(fake.root() + "/devices/ndbus0/nmem1/nfit/id", "8089-a2-1837-00000b22\n");
  std::string want;
  for (const std::string& dimm : fake.DimmsInLibndctlOrder()) {
    want += dimm == "nmem0" ? "8089-a2-1837-00000b21" : "8089-a2-1837-00000b22";
  }
  ASSERT_EQ(want.size(), 2 * std::string("8089-a2-1837-00000b21").size());
  EXPECT_EQ(DeviceId(*source_).value(), want);
  EXPECT_EQ(UnsafeShutdownCount(*source_).value(), 6u);
  EXPECT_EQ(NumaNode(*source_).value(), 1);
  EXPECT_EQ(NvdimmRegion(*source_).value(), "region0");
}

// Out of descriptors when the bus's folder is listed: an error, not the ids joined in the region's mapping order
// (another device's id, for which the application would reset its unsafe shutdown count). Found by review.
TEST_F(DeviceTest, TheDimmsOrderUnreadableForWantOfDescriptorsIsAnError) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  testing::FakeNvdimm fake;
  PlaceOnRegion(fake, 2, {{"dirty_shutdown", "3\n"}});
  fake.Write(fake.root() + "/devices/ndbus0/nmem0/nfit/id", "8089-a2-1837-00000b21\n");
  fake.Write(fake.root() + "/devices/ndbus0/nmem1/nfit/id", "8089-a2-1837-00000b22\n");
  ASSERT_TRUE(DeviceId(*source_).ok());
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    testing::DenySystemCallWithFlags(__NR_openat, 2, O_DIRECTORY, EMFILE);
    const absl::StatusOr<std::string> id = DeviceId(*source_);
    testing::WriteToParent(out, id.ok() ? "id " + *id : std::string(id.status().message()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, HasSubstr("(the DIMMs' order)"));
  EXPECT_THAT(child.output, HasSubstr("Too many open files"));
}

TEST_F(DeviceTest, EmulatedDimmsWithoutNfitAttributesAreNotSupportedNamingTheDimm) {
  testing::FakeNvdimm fake;
  PlaceOnRegion(fake, 1, {{"id", "8086-00123456\n"}});
  EXPECT_EQ(DeviceId(*source_).value(), "8086-00123456");
  absl::StatusOr<uint64_t> usc = UnsafeShutdownCount(*source_);
  EXPECT_EQ(GetErrorCode(usc.status()), ErrorCode::kNoSupp);
  EXPECT_THAT(std::string(usc.status().message()), HasSubstr("NVDIMM nmem0 does not report one"));
  EXPECT_THAT(std::string(usc.status().message()), HasSubstr("nfit/dirty_shutdown"));

  testing::FakeNvdimm no_id;
  PlaceOnRegion(no_id, 1, {});
  absl::StatusOr<std::string> id = DeviceId(*source_);
  EXPECT_EQ(GetErrorCode(id.status()), ErrorCode::kNoSupp);
  EXPECT_THAT(std::string(id.status().message()), HasSubstr("nfit/id"));
}

TEST_F(DeviceTest, ARegionWithoutDimmsHasNoIdOrCountButANode) {
  testing::FakeNvdimm fake;
  PlaceOnRegion(fake, 0, {});
  EXPECT_EQ(GetErrorCode(DeviceId(*source_).status()), ErrorCode::kNoSupp);
  EXPECT_THAT(std::string(UnsafeShutdownCount(*source_).status().message()), HasSubstr("has no DIMMs"));
  EXPECT_EQ(NumaNode(*source_).value(), 1);
}

TEST_F(DeviceTest, MalformedValuesAreErrorsNamingThem) {
  testing::FakeNvdimm fake;
  PlaceOnRegion(fake, 1, {{"dirty_shutdown", "many\n"}}, {{"numa_node", "node0\n"}});
  absl::StatusOr<uint64_t> usc = UnsafeShutdownCount(*source_);
  EXPECT_EQ(GetErrorCode(usc.status()), ErrorCode::kInvalidRegionFormat);
  EXPECT_THAT(std::string(usc.status().message()), HasSubstr("many"));
  absl::StatusOr<int> node = NumaNode(*source_);
  EXPECT_EQ(GetErrorCode(node.status()), ErrorCode::kInvalidRegionFormat);
  EXPECT_THAT(std::string(node.status().message()), HasSubstr("node0"));
}

TEST_F(DeviceTest, CountsThatOverflowTogetherAreAnError) {
  testing::FakeNvdimm fake;
  PlaceOnRegion(fake, 2, {{"dirty_shutdown", "18446744073709551615\n"}});
  EXPECT_EQ(GetErrorCode(UnsafeShutdownCount(*source_).status()), ErrorCode::kInvalidRegionFormat);
}

TEST_F(DeviceTest, NoNumaNodeIsNotSupported) {
  testing::FakeNvdimm minus_one;
  PlaceOnRegion(minus_one, 1, {}, {{"numa_node", "-1\n"}});
  absl::StatusOr<int> node = NumaNode(*source_);
  EXPECT_EQ(GetErrorCode(node.status()), ErrorCode::kNoSupp);
  EXPECT_THAT(std::string(node.status().message()), HasSubstr("-1"));
  testing::FakeNvdimm absent;
  PlaceOnRegion(absent, 1, {}, {});
  EXPECT_EQ(GetErrorCode(NumaNode(*source_).status()), ErrorCode::kNoSupp);
}

TEST_F(DeviceTest, AFileOffNvdimmsHasNoIdCountOrRegion) {
  testing::FakeNvdimm fake;
  fake.AddBlockDevice("", "vda", dev_, {});
  for (const absl::Status& s : {DeviceId(*source_).status(), UnsafeShutdownCount(*source_).status()}) {
    EXPECT_EQ(GetErrorCode(s), ErrorCode::kNoSupp);
    EXPECT_THAT(std::string(s.message()), HasSubstr("is not on an NVDIMM region"));
  }
  EXPECT_EQ(GetErrorCode(NumaNode(*source_).status()), ErrorCode::kDaxRegionNotFound);
  EXPECT_EQ(GetErrorCode(NvdimmRegion(*source_).status()), ErrorCode::kDaxRegionNotFound);
}

// A regular file's descriptor closed and its number given to a file elsewhere (tmpfs here): no answer for that one.
TEST_F(DeviceTest, ADescriptorNumberReusedByAnotherFileAnswersNothing) {
  testing::FakeNvdimm fake;
  PlaceOnRegion(fake, 1, {{"id", "8089-00000001\n"}, {"dirty_shutdown", "0\n"}});
  ASSERT_EQ(NumaNode(*source_).value(), 1);
  testing::ScopedTempDir shm("/dev/shm");
  testing::ScopedFd other = testing::CreateFile(shm.Join("other"), 4096, O_RDWR);
  ASSERT_EQ(dup2(other.get(), fd_.get()), fd_.get());
  for (const absl::Status& s : {DeviceId(*source_).status(), UnsafeShutdownCount(*source_).status(),
                                NumaNode(*source_).status(), NvdimmRegion(*source_).status()}) {
    EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidFileHandle) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("no longer refers to the file it had")) << s;
  }
}

TEST(DeviceOnTmpfsTest, ATmpfsFileHasNoIdCountOrRegion) {
  testing::ScopedTempDir dir("/dev/shm");
  testing::ScopedFd fd = testing::CreateFile(dir.Join("f"), 4096, O_RDWR);
  Source source = Source::FromFd(fd.get()).value();
  EXPECT_EQ(GetErrorCode(DeviceId(source).status()), ErrorCode::kNoSupp);
  EXPECT_THAT(std::string(DeviceId(source).status().message()), HasSubstr("not a block device"));
  EXPECT_EQ(GetErrorCode(UnsafeShutdownCount(source).status()), ErrorCode::kNoSupp);
  EXPECT_EQ(GetErrorCode(NumaNode(source).status()), ErrorCode::kDaxRegionNotFound);
}

TEST(DeviceAnonymousTest, AnonymousSourcesAreNotSupported) {
  Source source = Source::Anonymous(4096).value();
  EXPECT_EQ(GetErrorCode(DeviceId(source).status()), ErrorCode::kNoSupp);
  EXPECT_EQ(GetErrorCode(UnsafeShutdownCount(source).status()), ErrorCode::kNoSupp);
  EXPECT_EQ(GetErrorCode(NumaNode(source).status()), ErrorCode::kNoSupp);
  EXPECT_EQ(GetErrorCode(NvdimmRegion(source).status()), ErrorCode::kNoSupp);
}

TEST(DeviceDaxTest, ADeviceDaxOnARegionReportsItsDimmsAndNode) {
  testing::FakeNvdimm fake;
  fake.AddDimm("nmem4", {{"nfit/id", "8089-00000001"}, {"nfit/dirty_shutdown", "0"}});
  const std::string region =
      fake.AddRegion(4, {{"numa_node", "0"}, {"mappings", "1"}, {"mapping0", "nmem4,0,268435456,0"}});
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  fake.AddDaxDevice(region + "/dax4.0", "dax4.0", st.st_rdev, {{"size", "268435456"}, {"align", "2097152"}});
  testing::ScopedFd fd(open("/dev/null", O_RDWR));
  Source source = Source::FromFd(fd.get()).value();
  ASSERT_EQ(source.kind(), SourceKind::kDeviceDax);
  EXPECT_EQ(DeviceId(source).value(), "8089-00000001");
  EXPECT_EQ(UnsafeShutdownCount(source).value(), 0u);
  EXPECT_EQ(NumaNode(source).value(), 0);
  EXPECT_EQ(NvdimmRegion(source).value(), "region4");
}

// The descriptor closed and its number given to another character device that sysfs also places on a region: the
// lookups answer for neither, as they would answer for the wrong device.
TEST(DeviceDaxTest, ADescriptorNumberReusedByAnotherDeviceAnswersNothing) {
  testing::FakeNvdimm fake;
  fake.AddDimm("nmem4", {{"nfit/id", "8089-00000001"}, {"nfit/dirty_shutdown", "0"}});
  const std::string region =
      fake.AddRegion(4, {{"numa_node", "0"}, {"mappings", "1"}, {"mapping0", "nmem4,0,268435456,0"}});
  struct stat null_st, zero_st;
  ASSERT_EQ(stat("/dev/null", &null_st), 0);
  ASSERT_EQ(stat("/dev/zero", &zero_st), 0);
  fake.AddDaxDevice(region + "/dax4.0", "dax4.0", null_st.st_rdev, {{"size", "268435456"}, {"align", "2097152"}});
  fake.AddDaxDevice(region + "/dax4.1", "dax4.1", zero_st.st_rdev, {{"size", "268435456"}, {"align", "2097152"}});
  testing::ScopedFd fd(open("/dev/null", O_RDWR));
  Source source = Source::FromFd(fd.get()).value();
  ASSERT_EQ(NumaNode(source).value(), 0);
  testing::ScopedFd zero(open("/dev/zero", O_RDWR));
  ASSERT_EQ(dup2(zero.get(), fd.get()), fd.get());
  EXPECT_EQ(GetErrorCode(DeviceId(source).status()), ErrorCode::kInvalidFileHandle);
  EXPECT_EQ(GetErrorCode(UnsafeShutdownCount(source).status()), ErrorCode::kInvalidFileHandle);
  EXPECT_EQ(GetErrorCode(NumaNode(source).status()), ErrorCode::kInvalidFileHandle);
  EXPECT_EQ(GetErrorCode(NvdimmRegion(source).status()), ErrorCode::kInvalidFileHandle);
}

TEST(DeviceDaxTest, ADeviceDaxOffNvdimmsHasNoRegion) {
  testing::FakeNvdimm fake;
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  fake.AddDaxDevice("", "dax0.0", st.st_rdev, {{"size", "268435456"}, {"align", "2097152"}});
  testing::ScopedFd fd(open("/dev/null", O_RDWR));
  Source source = Source::FromFd(fd.get()).value();
  EXPECT_EQ(GetErrorCode(DeviceId(source).status()), ErrorCode::kNoSupp);
  absl::StatusOr<int> node = NumaNode(source);
  EXPECT_EQ(GetErrorCode(node.status()), ErrorCode::kDaxRegionNotFound);
  EXPECT_THAT(std::string(node.status().message()), HasSubstr("dax0.0"));
}

}  // namespace
}  // namespace pmem2
