// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/deep_flush.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {
namespace {

using ::testing::HasSubstr;

std::string Read(const std::string& path) { return sysfs_internal::ReadAttribute(path).value(); }

// The file's bytes, white space included.
std::string Raw(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(DeepFlushTest, WritesOneToTheRegionOfADeviceDax) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(1, {{"deep_flush", "1\n"}});
  fake.AddDaxDevice(region + "/dax1.0", "dax1.0", makedev(252, 4), {});
  ASSERT_TRUE(DeepFlushRegion(SourceKind::kDeviceDax, makedev(252, 4)).ok());
  EXPECT_EQ(Raw(region + "/deep_flush"), "1") << "\"1\\n\" read, exactly \"1\" written";
}

TEST(DeepFlushTest, WritesOneToTheRegionOfAFileOnFsdax) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {{"deep_flush", "1\n"}});
  fake.AddBlockDevice(region + "/pfn0.1", "pmem0", makedev(259, 0), {});
  ASSERT_TRUE(DeepFlushRegion(SourceKind::kRegularFile, makedev(259, 0)).ok());
  EXPECT_EQ(Raw(region + "/deep_flush"), "1");
}

TEST(DeepFlushTest, NothingToDoWhereThereIsNothingDeeper) {
  testing::FakeNvdimm fake;
  const std::string zero = fake.AddRegion(0, {{"deep_flush", "0\n"}});
  fake.AddDaxDevice(zero + "/dax0.0", "dax0.0", makedev(252, 0), {});
  EXPECT_TRUE(DeepFlushRegion(SourceKind::kDeviceDax, makedev(252, 0)).ok());
  EXPECT_EQ(Read(zero + "/deep_flush"), "0") << "not written";
  const std::string none = fake.AddRegion(1, {});
  fake.AddDaxDevice(none + "/dax1.0", "dax1.0", makedev(252, 1), {});
  EXPECT_TRUE(DeepFlushRegion(SourceKind::kDeviceDax, makedev(252, 1)).ok());
  // A file off NVDIMMs (a disk, tmpfs): the caller's msync is all there is.
  fake.AddBlockDevice("", "sda", makedev(8, 0), {});
  EXPECT_TRUE(DeepFlushRegion(SourceKind::kRegularFile, makedev(8, 0)).ok());
  EXPECT_TRUE(DeepFlushRegion(SourceKind::kRegularFile, makedev(0, 40)).ok());
  EXPECT_TRUE(DeepFlushRegion(SourceKind::kAnonymous, 0).ok());
}

TEST(DeepFlushTest, ADeviceDaxWithoutARegionIsDaxRegionNotFound) {
  testing::FakeNvdimm fake;
  fake.AddDaxDevice("", "dax0.0", makedev(252, 0), {});
  absl::Status hmem = DeepFlushRegion(SourceKind::kDeviceDax, makedev(252, 0));
  EXPECT_EQ(GetErrorCode(hmem), ErrorCode::kDaxRegionNotFound);
  EXPECT_THAT(std::string(hmem.message()), HasSubstr("dax0.0"));
  EXPECT_EQ(GetErrorCode(DeepFlushRegion(SourceKind::kDeviceDax, makedev(252, 9))), ErrorCode::kDaxRegionNotFound);
}

TEST(DeepFlushTest, AnUnexpectedStateIsAnErrorNamingIt) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {{"deep_flush", "maybe\n"}});
  fake.AddDaxDevice(region + "/dax0.0", "dax0.0", makedev(252, 0), {});
  absl::Status s = DeepFlushRegion(SourceKind::kDeviceDax, makedev(252, 0));
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidRegionFormat);
  EXPECT_THAT(std::string(s.message()), HasSubstr("maybe"));
}

TEST(DeepFlushTest, AFailedWriteIsReportedNotSkipped) {
  if (geteuid() == 0) GTEST_SKIP() << "root may write a read-only file";
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {{"deep_flush", "1\n"}});
  fake.AddDaxDevice(region + "/dax0.0", "dax0.0", makedev(252, 0), {});
  ASSERT_EQ(chmod((region + "/deep_flush").c_str(), 0444), 0);
  absl::Status s = DeepFlushRegion(SourceKind::kDeviceDax, makedev(252, 0));
  EXPECT_EQ(GetErrno(s), EACCES);
  EXPECT_THAT(std::string(s.message()), HasSubstr("deep_flush"));
}

}  // namespace
}  // namespace pmem2
