// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/bad_blocks.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/extents.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/source/source.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::testing::HasSubstr;
using ras_internal::ByteRange;
using ras_internal::Extent;

std::vector<std::pair<uint64_t, uint64_t>> Pairs(const std::vector<ByteRange>& ranges) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const ByteRange& r : ranges) out.emplace_back(r.offset, r.length);
  return out;
}

std::vector<std::pair<uint64_t, uint64_t>> Drain(BadBlocks& bad) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (absl::StatusOr<BadBlock> b = bad.Next(); b.ok(); b = bad.Next()) out.emplace_back(b->offset, b->length);
  return out;
}

TEST(FileBadRangesTest, MapsDeviceRangesIntoTheFileThroughItsExtents) {
  // The file: [0, 8K) at device 1M, [8K, 16K) at device 64K.
  const std::vector<Extent> extents = {{0, 1 << 20, 8192}, {8192, 65536, 8192}};
  // Bad: 512 bytes straddling the first extent's start, 1K inside the second, one range outside both.
  const std::vector<ByteRange> bad = {{(1 << 20) - 512, 1024}, {65536 + 1024, 1024}, {0, 4096}};
  // Blocks of 512 bytes: the sectors themselves.
  EXPECT_EQ(Pairs(ras_internal::FileBadRanges(extents, bad, 0, 16384, 512)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 512}, {8192 + 1024, 1024}}));
  // On a partition that starts 1M into the disk, the same disk ranges fall elsewhere.
  EXPECT_EQ(Pairs(ras_internal::FileBadRanges({{0, 0, 8192}}, bad, 1 << 20, 8192, 512)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 512}}));
  // Cut at the file size (a preallocated extent past the end).
  EXPECT_EQ(Pairs(ras_internal::FileBadRanges({{0, 0, 8192}}, {{4096, 4096}}, 0, 5000, 512)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{4096, 904}}));
  // Extremes do not overflow, at any block size; a block that would end past the last offset ends there.
  const uint64_t top = UINT64_MAX - 8191;  // 8 KiB-aligned
  const struct {
    uint64_t block, offset, length;
  } widened[] = {{512, top + 4096, 512}, {4096, top + 4096, 4095}, {uint64_t{1} << 63, uint64_t{1} << 63, INT64_MAX}};
  for (const auto& w : widened) {
    EXPECT_TRUE(ras_internal::FileBadRanges({{UINT64_MAX - 10, UINT64_MAX - 10, 100}}, {{UINT64_MAX - 512, 512}},
                                            UINT64_MAX, UINT64_MAX, w.block)
                    .empty());
    EXPECT_EQ(Pairs(ras_internal::FileBadRanges({{top, 0, 8192}}, {{4096, 512}}, 0, UINT64_MAX, w.block)),
              (std::vector<std::pair<uint64_t, uint64_t>>{{w.offset, w.length}}))
        << "block " << w.block;
  }
}

// As libpmem2 does, a bad sector is reported as the file system block that holds it: the unit the file system
// allocates, and so the unit Clear() can replace.
TEST(FileBadRangesTest, WidensRangesToWholeBlocksAndMergesThoseThatThenOverlap) {
  const std::vector<Extent> extents = {{0, 1 << 20, 16384}};
  const uint64_t disk = 1 << 20;
  // A sector inside block 0; two sectors of block 1 (separate lines of the list); a range from inside block 2 to
  // inside block 3.
  const std::vector<ByteRange> bad = {
      {disk + 1024, 512}, {disk + 4096, 512}, {disk + 7680, 512}, {disk + 8192 + 100, 4096}};
  EXPECT_EQ(Pairs(ras_internal::FileBadRanges(extents, bad, 0, 16384, 4096)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 4096}, {4096, 4096}, {8192, 8192}}));
  // The file's last block is partly past its end: cut there.
  EXPECT_EQ(Pairs(ras_internal::FileBadRanges(extents, {{disk + 12288 + 512, 512}}, 0, 12288 + 1000, 4096)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{12288, 1000}}));
  // A block size that is no power of two (no file system has one) widens nothing.
  EXPECT_EQ(Pairs(ras_internal::FileBadRanges(extents, {{disk + 1024, 512}}, 0, 16384, 3000)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{1024, 512}}));
  EXPECT_EQ(Pairs(ras_internal::FileBadRanges(extents, {{disk + 1024, 512}}, 0, 16384, 0)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{1024, 512}}));
}

TEST(WindowBadRangesTest, KeepsWhatFallsInsideTheDeviceRelativeToItsStart) {
  const std::vector<ByteRange> bad = {{0, 4096}, {1 << 21, 512}, {(3 << 20) - 512, 1024}, {8 << 20, 512}};
  EXPECT_EQ(Pairs(ras_internal::WindowBadRanges(bad, 1 << 21, 1 << 20)),
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 512}, {(1 << 20) - 512, 512}}));
  EXPECT_TRUE(ras_internal::WindowBadRanges(bad, UINT64_MAX - 1, UINT64_MAX).empty());
}

// A file on the disk whose device the fake sysfs places on an NVDIMM region, its first 16 KiB written.
class FileBadBlocksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_.emplace(tmp != nullptr ? tmp : "/var/tmp");
    fd_ = testing::CreateFile(dir_->Join("file"), 0, O_RDWR);
    std::string data(16384, 'x');
    ASSERT_EQ(pwrite(fd_.get(), data.data(), data.size(), 0), 16384);
    ASSERT_EQ(fsync(fd_.get()), 0);
    struct stat st;
    ASSERT_EQ(fstat(fd_.get(), &st), 0);
    dev_ = st.st_dev;
    if (major(dev_) == 0) GTEST_SKIP() << "the test folder is on a virtual file system";
    absl::StatusOr<std::vector<Extent>> extents = ras_internal::ReadExtents(fd_.get());
    if (!extents.ok()) GTEST_SKIP() << "no FIEMAP here: " << extents.status();
    ASSERT_FALSE(extents->empty());
    extents_ = *extents;
    source_ = Source::FromFd(fd_.get()).value();
    struct statfs fs;
    ASSERT_EQ(fstatfs(fd_.get(), &fs), 0);
    block_ = static_cast<uint64_t>(fs.f_bsize);
    fs_type_ = static_cast<unsigned long>(fs.f_type);
  }
  // For the cases that place bad blocks by 4 KiB in the file's 16 KiB.
  bool BlocksOfAtMost4K() const { return block_ <= 4096; }

  // The device sector of file byte `offset`.
  uint64_t SectorOf(uint64_t offset) const {
    for (const Extent& e : extents_) {
      if (offset >= e.logical && offset < e.logical + e.length) return (e.physical + offset - e.logical) / 512;
    }
    ADD_FAILURE() << "file offset " << offset << " is in no extent";
    return 0;
  }

  absl::optional<testing::ScopedTempDir> dir_;
  testing::ScopedFd fd_;
  dev_t dev_ = 0;
  std::vector<Extent> extents_;
  absl::optional<Source> source_;
  uint64_t block_ = 0;  // the file system's (statfs f_bsize)
  unsigned long fs_type_ = 0;
};

TEST_F(FileBadBlocksTest, TheBlockDevicesListBecomesRangesOfTheFile) {
  if (!BlocksOfAtMost4K()) GTEST_SKIP() << "blocks of " << block_ << " bytes";
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {});
  fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_,
                      {{"badblocks", absl::StrCat(SectorOf(4096), " 8\n", SectorOf(12288) + 2, " 1\n")}});
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  ASSERT_TRUE(bad.ok()) << bad.status();
  // The second, one sector into the file's fourth 4 KiB, is the file system block that holds it.
  EXPECT_EQ(Drain(*bad), (std::vector<std::pair<uint64_t, uint64_t>>{
                             {4096, 4096}, {(12288 + 1024) / block_ * block_, std::max<uint64_t>(block_, 512)}}));
  absl::StatusOr<BadBlock> end = bad->Next();
  EXPECT_EQ(GetErrorCode(end.status()), ErrorCode::kNoBadBlockFound);
}

// The descriptor closed and its number given to another file of the same file system: not that file's list (its
// extents are elsewhere on the device, so it would be a wrong answer, here none).
TEST_F(FileBadBlocksTest, CreateRefusesAFileThatTookTheDescriptorsNumber) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {});
  fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_, {{"badblocks", absl::StrCat(SectorOf(0), " 8\n")}});
  ASSERT_EQ(BadBlocks::Create(*source_).value().all().size(), 1u);
  testing::ScopedFd other = testing::CreateFile(dir_->Join("other"), 0, O_RDWR);
  const std::string data(16384, 'o');
  ASSERT_EQ(pwrite(other.get(), data.data(), data.size(), 0), 16384);
  ASSERT_EQ(fsync(other.get()), 0);
  ASSERT_EQ(dup2(other.get(), fd_.get()), fd_.get());
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kInvalidFileHandle) << bad.status();
}

TEST_F(FileBadBlocksTest, OnAPartitionTheStartIsAddedBack) {
  if (!BlocksOfAtMost4K()) GTEST_SKIP() << "blocks of " << block_ << " bytes";
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {});
  const uint64_t start = 2048;
  const std::string disk = fake.AddBlockDevice(region + "/namespace0.0", "pmem0", makedev(259, 100),
                                               {{"badblocks", absl::StrCat(start + SectorOf(0), " 1\n")}});
  fake.AddPartition(disk, "pmem0p1", dev_, std::to_string(start));
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(Drain(*bad), (std::vector<std::pair<uint64_t, uint64_t>>{{0, std::max<uint64_t>(block_, 512)}}));
}

TEST_F(FileBadBlocksTest, AMalformedListIsAnErrorNotACrash) {
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {});
  fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_, {{"badblocks", "12 8\nbroken line\n"}});
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kInvalidRegionFormat);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("line 2 is \"broken line\""));
}

// The kernel cuts a badblocks list at one page (badblocks_show), perhaps in the middle of a line: a list that fills
// the page is refused, naming the file, rather than read as the whole list (a cut "SECTOR 16" reads as "SECTOR 1", a
// cut at a line's end loses the entries after it silently). A list just short of it is read.
TEST_F(FileBadBlocksTest, AListTheKernelMayHaveCutAtAPageIsAnError) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // Whole 14-byte lines up to `bytes`, then, if `cut`, the start of one more as the kernel leaves it ("SECTOR 1"
  // of "SECTOR 16"...) to make `bytes` exactly.
  auto list_of = [](size_t bytes, bool cut) {
    std::string list;
    uint64_t sector = 1000000000;
    for (; list.size() + 14 <= bytes; sector += 100) list += absl::StrCat(sector, " 16\n");
    if (cut) list += absl::StrCat(sector, " 16\n").substr(0, bytes - list.size());
    return list;
  };
  // Whole lines of 14 and 13 bytes making `bytes` exactly: a list the kernel cut at a line's end, or one that ends just
  // short of where it would cut.
  auto whole_lines_of = [](size_t bytes) {
    size_t thirteens = 0;
    while ((bytes - 13 * thirteens) % 14 != 0) ++thirteens;
    std::string list;
    uint64_t sector = 1000000000;
    for (size_t i = 0; i < (bytes - 13 * thirteens) / 14; ++i, sector += 100) list += absl::StrCat(sector, " 16\n");
    for (size_t i = 0; i < thirteens; ++i, sector += 100) list += absl::StrCat(sector / 10, " 16\n");
    return list;
  };
  for (const size_t bytes : {page - 1, page - 2}) {
    ASSERT_EQ(whole_lines_of(bytes).size(), bytes);
    testing::FakeNvdimm fake;
    const std::string region = fake.AddRegion(0, {});
    fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_, {{"badblocks", whole_lines_of(bytes)}});
    absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
    if (bytes == page - 1) {
      EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kInvalidRegionFormat) << "cut at a line's end: " << bad.status();
    } else {
      EXPECT_TRUE(bad.ok()) << bytes << ": " << bad.status();
    }
  }
  for (const size_t bytes : {page - 1, page - 40}) {
    testing::FakeNvdimm fake;
    const std::string region = fake.AddRegion(0, {});
    fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_, {{"badblocks", list_of(bytes, bytes == page - 1)}});
    absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
    if (bytes == page - 1) {
      EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kInvalidRegionFormat) << bad.status();
      EXPECT_THAT(std::string(bad.status().message()), HasSubstr("a whole page"));
    } else {
      EXPECT_TRUE(bad.ok()) << bytes << ": " << bad.status();
    }
  }
}

// A file system on a block device stacked over an NVDIMM's (device-mapper, md: its `slaves`) has persistent memory
// under it whose bad blocks cannot be mapped to the file through the stacking: kNoSupp naming both, not "none" (a
// confident wrong answer before; libpmem2 answers none too). A stacked device over no NVDIMM has none.
TEST_F(FileBadBlocksTest, AFileOnADeviceStackedOverAnNvdimmCannotTell) {
  for (bool over_nvdimm : {true, false}) {
    testing::FakeNvdimm fake;
    const std::string region = fake.AddRegion(0, {});
    const std::string pmem =
        fake.AddBlockDevice(over_nvdimm ? region + "/pfn0.1" : "", "pmem0", makedev(259, 77), {{"badblocks", "8 8\n"}});
    const std::string dm = fake.AddBlockDevice("", "dm-0", dev_, {});
    ASSERT_EQ(mkdir((dm + "/slaves").c_str(), 0755), 0) << std::strerror(errno);
    ASSERT_EQ(symlink(pmem.c_str(), (dm + "/slaves/pmem0").c_str()), 0) << std::strerror(errno);
    absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
    if (over_nvdimm) {
      EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kNoSupp) << bad.status();
      EXPECT_THAT(std::string(bad.status().message()), HasSubstr("dm-0) is stacked"));
      EXPECT_THAT(std::string(bad.status().message()), HasSubstr("pmem0 of NVDIMM region region0"));
    } else {
      ASSERT_TRUE(bad.ok()) << bad.status();
      EXPECT_TRUE(bad->all().empty());
    }
  }
}

TEST_F(FileBadBlocksTest, NoListOrAnEmptyOneMeansNoBadBlocks) {
  for (bool with_file : {false, true}) {
    testing::FakeNvdimm fake;
    const std::string region = fake.AddRegion(0, {});
    testing::Attributes attributes;
    if (with_file) attributes["badblocks"] = "";
    fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_, attributes);
    absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
    ASSERT_TRUE(bad.ok()) << bad.status();
    EXPECT_EQ(GetErrorCode(bad->Next().status()), ErrorCode::kNoBadBlockFound);
  }
}

// A sector-mode (BTT) namespace's block device keeps no badblocks list (the kernel hides the attribute): its region's
// list has the poison, which cannot be placed in the file through the BTT's remapping. kNoSupp naming the device, not
// "none" (the answer before); none only where the region's list is empty too.
TEST_F(FileBadBlocksTest, AFileOnASectorModeNamespaceCannotTellWhereTheRegionHasBadBlocks) {
  for (const char* region_list : {"0 8\n", ""}) {
    testing::FakeNvdimm fake;
    const std::string region = fake.AddRegion(0, {{"badblocks", region_list}});
    fake.AddBlockDevice(region + "/btt0.1", "pmem0s", dev_, {});
    absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
    if (*region_list != '\0') {
      EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kNoSupp) << bad.status();
      EXPECT_THAT(std::string(bad.status().message()),
                  HasSubstr("pmem0s is a sector-mode (BTT) namespace: its blocks cannot be mapped to the region's"));
    } else {
      ASSERT_TRUE(bad.ok()) << bad.status();
      EXPECT_TRUE(bad->all().empty());
    }
  }
}

TEST_F(FileBadBlocksTest, ClearGivesTheRangeNewZeroedBlocks) {
  testing::FakeNvdimm fake;
  fake.AddBlockDevice("", "vda", dev_, {});
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  ASSERT_TRUE(bad.ok()) << bad.status();
  ASSERT_TRUE(bad->Clear(BadBlock{4096, 4096}).ok());
  char buffer[16384];
  ASSERT_EQ(pread(fd_.get(), buffer, sizeof buffer, 0), 16384);
  EXPECT_EQ(std::string(buffer, 4096), std::string(4096, 'x'));
  EXPECT_EQ(std::string(buffer + 4096, 4096), std::string(4096, '\0'));
  EXPECT_EQ(std::string(buffer + 8192, 8192), std::string(8192, 'x'));
  struct stat st;
  ASSERT_EQ(fstat(fd_.get(), &st), 0);
  EXPECT_EQ(st.st_size, 16384);
  EXPECT_GE(st.st_blocks * 512, 16384) << "the cleared range is allocated again";
}

// Whether the file's block at `offset` is allocated and unwritten (FIEMAP: allocated by fallocate, never written);
// nullopt where FIEMAP cannot say.
absl::optional<bool> UnwrittenAt(int fd, uint64_t offset) {
  alignas(struct fiemap) unsigned char buffer[sizeof(struct fiemap) + sizeof(struct fiemap_extent)];
  std::memset(buffer, 0, sizeof buffer);
  struct fiemap* map = reinterpret_cast<struct fiemap*>(buffer);
  map->fm_start = offset;
  map->fm_length = 1;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = 1;
  if (ioctl(fd, FS_IOC_FIEMAP, map) != 0 || map->fm_mapped_extents == 0) return absl::nullopt;
  return (map->fm_extents[0].fe_flags & FIEMAP_EXTENT_UNWRITTEN) != 0;
}

// The file ends 100 bytes into a block, and the bad block Next() gives there ends with the file: Clear() gives up the
// rest of that block too (no data is there), so the whole block is replaced instead of 100 bytes of it zeroed in
// place, which on fsdax the kernel refuses (negative control: without this the block stayed the written one).
TEST_F(FileBadBlocksTest, ClearOfARangeThatEndsTheFileReplacesItsWholeLastBlock) {
  if (!BlocksOfAtMost4K()) GTEST_SKIP() << "blocks of " << block_ << " bytes";
  // File systems whose FIEMAP marks blocks allocated by fallocate and never written, and which fsdax can mount.
  if (fs_type_ != EXT4_SUPER_MAGIC && fs_type_ != XFS_SUPER_MAGIC) {
    GTEST_SKIP() << "file system type 0x" << std::hex << fs_type_ << ": not ext4 or xfs";
  }
  const uint64_t last = 2 * block_;
  ASSERT_EQ(ftruncate(fd_.get(), static_cast<off_t>(last + 100)), 0);
  ASSERT_EQ(fsync(fd_.get()), 0);
  const absl::optional<bool> before = UnwrittenAt(fd_.get(), last);
  if (!before.has_value()) GTEST_SKIP() << "FIEMAP does not describe the last block here";
  ASSERT_FALSE(*before) << "the test wrote it";
  testing::FakeNvdimm fake;
  const std::string region = fake.AddRegion(0, {});
  fake.AddBlockDevice(region + "/pfn0.1", "pmem0", dev_, {{"badblocks", absl::StrCat(SectorOf(last), " 1\n")}});
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  ASSERT_TRUE(bad.ok()) << bad.status();
  absl::StatusOr<BadBlock> at_the_end = bad->Next();
  ASSERT_TRUE(at_the_end.ok()) << at_the_end.status();
  EXPECT_EQ(at_the_end->offset, last);
  EXPECT_EQ(at_the_end->length, 100u) << "cut at the end of the file";
  ASSERT_TRUE(bad->Clear(*at_the_end).ok());
  EXPECT_TRUE(UnwrittenAt(fd_.get(), last).value_or(false))
      << "the last block is still the one written: part of it was zeroed in place instead of the block replaced";
  struct stat st;
  ASSERT_EQ(fstat(fd_.get(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(last + 100)) << "the file's size stays";
  char buffer[100];
  ASSERT_EQ(pread(fd_.get(), buffer, sizeof buffer, static_cast<off_t>(last)), 100);
  EXPECT_EQ(std::string(buffer, 100), std::string(100, '\0'));
  ASSERT_EQ(pread(fd_.get(), buffer, sizeof buffer, static_cast<off_t>(last - 100)), 100);
  EXPECT_EQ(std::string(buffer, 100), std::string(100, 'x')) << "the block before is left alone";
}

// The descriptor closed and its number given to another file: Clear() deallocates nothing there.
TEST(BadBlocksTest, ClearRefusesAFileThatTookTheDescriptorsNumber) {
  testing::ScopedTempDir dir("/dev/shm");
  testing::ScopedFd fd = testing::CreateFile(dir.Join("first"), 8192, O_RDWR);
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(Source::FromFd(fd.get()).value());
  ASSERT_TRUE(bad.ok()) << bad.status();
  testing::ScopedFd other = testing::CreateFile(dir.Join("other"), 0, O_RDWR);
  const std::string data(8192, 'o');
  ASSERT_EQ(pwrite(other.get(), data.data(), data.size(), 0), 8192);
  ASSERT_EQ(dup2(other.get(), fd.get()), fd.get());
  const absl::Status s = bad->Clear(BadBlock{0, 4096});
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidFileHandle) << s;
  char buffer[8192];
  ASSERT_EQ(pread(other.get(), buffer, sizeof buffer, 0), 8192);
  EXPECT_EQ(std::string(buffer, sizeof buffer), data) << "the other file is left alone";
}

TEST_F(FileBadBlocksTest, ClearRefusesRangesOutsideTheFileOrInt64) {
  testing::FakeNvdimm fake;
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(GetErrorCode(bad->Clear(BadBlock{uint64_t{1} << 63, 1})), ErrorCode::kOffsetOutOfRange);
  EXPECT_EQ(GetErrorCode(bad->Clear(BadBlock{0, uint64_t{1} << 63})), ErrorCode::kLengthOutOfRange);
  absl::Status past = bad->Clear(BadBlock{16384, 512});
  EXPECT_EQ(GetErrorCode(past), ErrorCode::kLengthOutOfRange);
  EXPECT_THAT(std::string(past.message()), HasSubstr("16384"));
  EXPECT_TRUE(bad->Clear(BadBlock{100, 0}).ok());
}

TEST(BadBlocksTest, AFileOffNvdimmsHasNone) {
  testing::ScopedTempDir dir("/dev/shm");
  testing::ScopedFd fd = testing::CreateFile(dir.Join("f"), 4096, O_RDWR);
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(Source::FromFd(fd.get()).value());
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_TRUE(bad->all().empty());
  EXPECT_EQ(GetErrorCode(bad->Next().status()), ErrorCode::kNoBadBlockFound);
  EXPECT_EQ(GetErrorCode(bad->Next().status()), ErrorCode::kNoBadBlockFound);
}

// A file on an overlay has an anonymous st_dev (major 0) like tmpfs, but its upper layer may be on an NVDIMM: the
// bad blocks cannot be told, kNoSupp naming overlayfs (as for device-mapper stacked over an NVDIMM); "none" before
// was a guess. The overlay is made in a child, in a mount namespace of its own, over a private tmpfs.
TEST(BadBlocksTest, AFileOnAnOverlayCannotTell) {
  testing::ScopedTempDir dir("/tmp");
  const std::string root = dir.Join("mnt");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0) << std::strerror(errno);
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    if (absl::Status s = testing::MountPrivateTmpfs(root, "4m"); !s.ok()) {
      testing::WriteToParent(out, absl::StrCat("SKIP ", s.message()));
      return 0;
    }
    for (const char* sub : {"/lower", "/upper", "/work", "/merged"}) {
      if (mkdir((root + sub).c_str(), 0700) != 0) return 2;
    }
    const std::string options =
        absl::StrCat("lowerdir=", root, "/lower,upperdir=", root, "/upper,workdir=", root, "/work");
    if (mount("overlay", (root + "/merged").c_str(), "overlay", 0, options.c_str()) != 0) {
      testing::WriteToParent(out, absl::StrCat("SKIP mount -t overlay: ", std::strerror(errno)));
      return 0;
    }
    testing::ScopedFd fd = testing::CreateFile(root + "/merged/f", 4096, O_RDWR);
    if (fd.get() < 0) return 3;
    struct stat st;
    if (fstat(fd.get(), &st) != 0 || major(st.st_dev) != 0) return 4;
    const absl::StatusOr<BadBlocks> bad = BadBlocks::Create(Source::FromFd(fd.get()).value());
    testing::WriteToParent(out, absl::StrCat(ErrorCodeName(GetErrorCode(bad.status())), " ", bad.status().message()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  if (absl::StartsWith(child.output, "SKIP ")) GTEST_SKIP() << child.output.substr(5);
  EXPECT_THAT(child.output, ::testing::StartsWith("PMEM2_E_NOSUPP "));
  EXPECT_THAT(child.output, HasSubstr("overlayfs"));
}

TEST(BadBlocksTest, AnonymousSourcesAreNotSupported) {
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(Source::Anonymous(4096).value());
  EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kNoSupp);
}

// /dev/null as a Device DAX 2 MiB into region 2.
class DaxBadBlocksTest : public ::testing::Test {
 protected:
  void Make(const std::string& region_badblocks, const std::string& region_resource, const std::string& dax_resource,
            const std::string& region_size = "8388608") {
    region_ =
        fake_.AddRegion(2, {{"badblocks", region_badblocks}, {"resource", region_resource}, {"size", region_size}});
    struct stat st;
    ASSERT_EQ(stat("/dev/null", &st), 0);
    device_ = fake_.AddDaxDevice(region_ + "/dax2.0", "dax2.0", st.st_rdev,
                                 {{"size", "4194304"}, {"align", "2097152"}, {"resource", dax_resource}});
    fd_ = testing::ScopedFd(open("/dev/null", O_RDWR));
    source_ = Source::FromFd(fd_.get()).value();
    ASSERT_EQ(source_->kind(), SourceKind::kDeviceDax);
  }

  testing::FakeNvdimm fake_;
  std::string region_;
  std::string device_;  // the device's folder in the fake sysfs
  testing::ScopedFd fd_;
  absl::optional<Source> source_;
};

TEST_F(DaxBadBlocksTest, TheRegionsListInsideTheDeviceRelativeToItsStart) {
  // Region at 4 GiB, device at 4 GiB + 2 MiB; bad: sector 0 (before it), 2 MiB + 4 KiB, 6 MiB - 512 (straddling
  // its end).
  Make("0 1\n4104 8\n12287 2\n", "0x100000000\n", "0x100200000\n");
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  ASSERT_TRUE(bad.ok()) << bad.status();
  EXPECT_EQ(Drain(*bad), (std::vector<std::pair<uint64_t, uint64_t>>{{4096, 4096}, {4194304 - 512, 512}}));
}

// A device that reaches past its region's end (sysfs that cannot be right): the region's list cannot speak for the
// device's last bytes, so no list rather than one that may miss bad blocks. (Only the start was checked before.)
TEST_F(DaxBadBlocksTest, ADeviceEndingPastItsRegionIsCannotReadBounds) {
  Make("4104 8\n", "0x100000000\n", "0x100200000\n", "4194304\n");  // the device's 4 MiB from 2 MiB into 4 MiB
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kCannotReadBounds) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("ends past its region region2"));
  fake_.Write(region_ + "/size", "6291456\n");  // exactly to its end
  EXPECT_TRUE(BadBlocks::Create(*source_).ok());
}

TEST_F(DaxBadBlocksTest, UnreadableBoundsAreCannotReadBounds) {
  Make("1 1\n", "0x100000000\n", "somewhere\n");
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kCannotReadBounds);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("somewhere"));
}

// Bounds the system will not let be read (EACCES for a caller that is not root; here a directory: EISDIR) are
// kCannotReadBounds as libpmem2 answers, the reason in the message (they were the errno's error).
TEST_F(DaxBadBlocksTest, BoundsThatCannotBeReadAreCannotReadBounds) {
  Make("1 1\n", "0x100000000\n", "0x100200000\n");
  const std::string resource = device_ + "/resource";
  ASSERT_EQ(unlink(resource.c_str()), 0) << std::strerror(errno);
  ASSERT_EQ(mkdir(resource.c_str(), 0755), 0) << std::strerror(errno);
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kCannotReadBounds) << bad.status();
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr(resource));
  EXPECT_EQ(ToLibpmem2ReturnValue(bad.status()), static_cast<int>(ErrorCode::kCannotReadBounds));
}

TEST_F(DaxBadBlocksTest, ADeviceBeforeItsRegionIsCannotReadBounds) {
  Make("1 1\n", "0x100000000\n", "0x1000\n");
  EXPECT_EQ(GetErrorCode(BadBlocks::Create(*source_).status()), ErrorCode::kCannotReadBounds);
}

TEST_F(DaxBadBlocksTest, ClearIsNotSupportedAndSaysWhy) {
  Make("4096 8\n", "0x100000000\n", "0x100000000\n");
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source_);
  ASSERT_TRUE(bad.ok()) << bad.status();
  absl::StatusOr<BadBlock> first = bad->Next();
  ASSERT_TRUE(first.ok());
  absl::Status clear = bad->Clear(*first);
  EXPECT_EQ(GetErrorCode(clear), ErrorCode::kNoSupp);
  EXPECT_THAT(std::string(clear.message()), HasSubstr("ND_IOCTL_CLEAR_ERROR"));
}

TEST(DaxBadBlocksOffRegionTest, ADeviceDaxOffNvdimmsIsDaxRegionNotFound) {
  testing::FakeNvdimm fake;
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  fake.AddDaxDevice("", "dax0.0", st.st_rdev, {{"size", "4194304"}, {"align", "2097152"}});
  testing::ScopedFd fd(open("/dev/null", O_RDWR));
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(Source::FromFd(fd.get()).value());
  EXPECT_EQ(GetErrorCode(bad.status()), ErrorCode::kDaxRegionNotFound);
}

}  // namespace
}  // namespace pmem2
