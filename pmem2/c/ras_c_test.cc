// Copyright 2026 The pmem2 Authors.
//
// The reliability functions of libpmem2.h (device id, unsafe shutdown count, NUMA node, bad blocks,
// machine-check-safe I/O) through the C ABI: argument checks, the two-call protocol of pmem2_source_device_id,
// bad blocks from a fake NVDIMM sysfs, and the same calls against Debian's libpmem2 1.12.1 (dlopen'ed with
// RTLD_LOCAL, as in differential_test.cc) on sources both can see: a tmpfs file, a file on the disk, and
// anonymous memory. Neither is on an NVDIMM here, so both must say "not supported" / "no bad blocks" the same
// way. Deliberate differences, asserted on both sides under their names:
//   R1  pmem2_source_pread_mcsafe of 0 bytes at an offset past the end: the reference returns 0, pmem2
//       PMEM2_E_LENGTH_OUT_OF_RANGE (the offset is outside the source whatever the size).
//   R2  pmem2_badblock_context_new failing: the reference leaves *bbctx as it was, pmem2 sets it to NULL as
//       pmem2_badblock_context_new(3) says.
//   R3  pmem2_badblock_next at the end: the reference leaves *bb as it was ("undefined" in its man page), pmem2
//       zeroes it.
//   R4  pmem2_badblock_clear of a range past the end of a file: the reference allocates it (fallocate), pmem2
//       refuses it with PMEM2_E_LENGTH_OUT_OF_RANGE (it is no bad block of the source).
//   R5  pmem2_source_pwrite_mcsafe to a hugetlbfs file (which has no write(2)): the reference returns -EINVAL,
//       pmem2 writes it through a mapping.
//   R6  pmem2_source_pwrite_mcsafe / pread_mcsafe after the source's descriptor was closed and its number given to
//       another file: the reference writes into and reads from that file, pmem2 returns
//       PMEM2_E_INVALID_FILE_HANDLE and touches nothing.
//   R7  pmem2_badblock_clear of a bad block of length 0: the reference passes it to fallocate(2) and returns -EINVAL;
//       pmem2 clears nothing and returns 0 (libpmem2.h).
//   R8  pmem2_deep_flush of anonymous memory adopted with pmem2_map_from_existing at cache-line or page granularity:
//       the reference returns 0 (it refuses byte granularity's, and every pmem2_map_new map's of an anonymous source,
//       with PMEM2_E_NOSUPP); pmem2 refuses them all: nothing is durable there.
//   R9  pmem2_deep_flush of an anonymous source's map over a range that wraps around the address space: the reference
//       returns PMEM2_E_NOSUPP (its end wraps below the map's), pmem2 PMEM2_E_DEEP_FLUSH_RANGE.

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/c/libpmem2_api_for_test.h"
#include "pmem2/map/adopt_for_test.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "testing/huge_pages.h"

// LeakSanitizer (--config=asan-ubsan): the reference leaks what pmem2_map_from_existing allocated for a map of an
// anonymous source even after its pmem2_map_delete succeeded (ADeepFlushOfAnonymousMemoryIsNotSupported: 432 bytes
// in 6 allocations, every frame in libpmem2.so.1). Ours is linked in statically, so its leaks are still reported.
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() { return "leak:libpmem2.so.1\n"; }

namespace {

using ::testing::HasSubstr;

using Api = ::pmem2::testing::Libpmem2Api;

const Api& Ours() { return ::pmem2::testing::OurLibpmem2(); }

// The reference, or nullptr with `*why` set.
const Api* Reference(std::string* why) { return ::pmem2::testing::ReferenceLibpmem2(why); }

// A scratch file of 8 KiB of 'r' in `base`, removed with its folder when destroyed.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& base) {
    std::string pattern = base + "/pmem2_ras_c.XXXXXX";
    char* made = mkdtemp(&pattern[0]);
    EXPECT_NE(made, nullptr) << pattern;
    dir_ = pattern;
    path_ = dir_ + "/f";
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    EXPECT_GE(fd_, 0) << path_;
    std::string data(8192, 'r');
    EXPECT_EQ(pwrite(fd_, data.data(), data.size(), 0), 8192);
  }
  ~ScratchFile() {
    close(fd_);
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  int fd() const { return fd_; }
  dev_t dev() const {
    struct stat st;
    EXPECT_EQ(fstat(fd_, &st), 0);
    return st.st_dev;
  }

 private:
  std::string dir_, path_;
  int fd_ = -1;
};

std::string DiskBase() {
  const char* tmp = getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/var/tmp";
}

// Every RAS call on one source: their return values and outputs, for comparing the two libraries.
struct Outcome {
  int id_len_rc, usc_rc, numa_rc, bb_new_rc, bb_next_rc, bb_clear_rc, bb_clear_past_rc;
  int read_rc, read_past_rc, read_empty_past_rc, write_rc, write_past_rc;
  // pmem2_deep_flush of a shared page-granularity map of the source: the whole map, a byte before it, one byte past
  // its end, and nothing at its start.
  int map_rc, deep_flush_rc, deep_flush_before_rc, deep_flush_past_rc, deep_flush_empty_rc;
  bool bbctx_null_after_failure;  // R2
  size_t bb_after_end_offset;     // R3
  int bb_clear_empty_rc;          // R7
  uint64_t usc_after_failure;     // R10: the count given, 99, after a failed pmem2_source_device_usc
  std::string read_back;
};

Outcome RunAll(const Api& api, int fd /* -1: anonymous */) {
  Outcome o{};
  struct pmem2_source* src = nullptr;
  EXPECT_EQ(fd < 0 ? api.source_from_anon(&src, 8192) : api.source_from_fd(&src, fd), 0);
  size_t len = 0;
  o.id_len_rc = api.source_device_id(src, nullptr, &len);
  uint64_t usc = 99;
  o.usc_rc = api.source_device_usc(src, &usc);
  o.usc_after_failure = usc;
  int node = 0;
  o.numa_rc = api.source_numa_node(src, &node);
  struct pmem2_badblock_context* bbctx = reinterpret_cast<struct pmem2_badblock_context*>(0x1);
  o.bb_new_rc = api.badblock_context_new(&bbctx, src);
  if (o.bb_new_rc == 0) {
    struct pmem2_badblock bb = {77, 77};
    o.bb_next_rc = api.badblock_next(bbctx, &bb);
    o.bb_after_end_offset = bb.offset;
    struct pmem2_badblock inside = {4096, 512};
    o.bb_clear_rc = api.badblock_clear(bbctx, &inside);
    struct pmem2_badblock past = {8192, 4096};
    o.bb_clear_past_rc = api.badblock_clear(bbctx, &past);
    struct pmem2_badblock empty = {4096, 0};
    o.bb_clear_empty_rc = api.badblock_clear(bbctx, &empty);
    api.badblock_context_delete(&bbctx);
    EXPECT_EQ(bbctx, nullptr);
  } else {
    o.bbctx_null_after_failure = bbctx == nullptr;
  }
  char buffer[16] = {};
  o.read_rc = api.source_pread_mcsafe(src, buffer, 8, 100);
  o.read_back = std::string(buffer, 8);
  o.read_past_rc = api.source_pread_mcsafe(src, buffer, 16, 8190);
  o.read_empty_past_rc = api.source_pread_mcsafe(src, buffer, 0, 9000);
  char text[] = "ras";
  o.write_rc = api.source_pwrite_mcsafe(src, text, 3, 200);
  o.write_past_rc = api.source_pwrite_mcsafe(src, text, 3, 8190);
  struct pmem2_config* cfg = nullptr;
  EXPECT_EQ(api.config_new(&cfg), 0);
  EXPECT_EQ(api.config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE), 0);
  struct pmem2_map* map = nullptr;
  o.map_rc = api.map_new(&map, cfg, src);
  if (o.map_rc == 0) {
    char* const address = static_cast<char*>(api.map_get_address(map));
    o.deep_flush_rc = api.deep_flush(map, address, 8192);
    o.deep_flush_before_rc = api.deep_flush(map, address - 1, 1);
    o.deep_flush_past_rc = api.deep_flush(map, address, 8193);
    o.deep_flush_empty_rc = api.deep_flush(map, address, 0);
    EXPECT_EQ(api.map_delete(&map), 0);
  }
  api.config_delete(&cfg);
  api.source_delete(&src);
  return o;
}

class RasDifferentialTest : public ::testing::TestWithParam<std::string> {};

TEST_P(RasDifferentialTest, NoNvdimmAnswersMatchTheReferenceExceptTheNamedDifferences) {
  std::string why;
  const Api* reference = Reference(&why);
  if (reference == nullptr) GTEST_SKIP() << why;
  const std::string kind = GetParam();
  Outcome theirs, ours;
  if (kind == "anonymous") {
    theirs = RunAll(*reference, -1);
    ours = RunAll(Ours(), -1);
  } else {
    ScratchFile for_reference(kind == "tmpfs" ? "/dev/shm" : DiskBase());
    ScratchFile for_ours(kind == "tmpfs" ? "/dev/shm" : DiskBase());
    theirs = RunAll(*reference, for_reference.fd());
    ours = RunAll(Ours(), for_ours.fd());
  }
  SCOPED_TRACE(kind);
  EXPECT_EQ(ours.id_len_rc, theirs.id_len_rc);
  EXPECT_EQ(ours.usc_rc, theirs.usc_rc);
  EXPECT_EQ(ours.numa_rc, theirs.numa_rc);
  EXPECT_EQ(ours.bb_new_rc, theirs.bb_new_rc);
  EXPECT_EQ(ours.bb_next_rc, theirs.bb_next_rc);
  EXPECT_EQ(ours.bb_clear_rc, theirs.bb_clear_rc);
  EXPECT_EQ(ours.read_rc, theirs.read_rc);
  EXPECT_EQ(ours.read_back, theirs.read_back);
  EXPECT_EQ(ours.read_past_rc, theirs.read_past_rc);
  EXPECT_EQ(ours.write_rc, theirs.write_rc);
  EXPECT_EQ(ours.write_past_rc, theirs.write_past_rc);
  EXPECT_EQ(ours.map_rc, 0);
  EXPECT_EQ(ours.map_rc, theirs.map_rc);
  EXPECT_EQ(ours.deep_flush_rc, theirs.deep_flush_rc);
  EXPECT_EQ(ours.deep_flush_before_rc, theirs.deep_flush_before_rc);
  EXPECT_EQ(ours.deep_flush_past_rc, theirs.deep_flush_past_rc);
  EXPECT_EQ(ours.deep_flush_empty_rc, theirs.deep_flush_empty_rc);
  EXPECT_EQ(ours.deep_flush_before_rc, PMEM2_E_DEEP_FLUSH_RANGE);
  EXPECT_EQ(ours.deep_flush_past_rc, PMEM2_E_DEEP_FLUSH_RANGE);
  if (kind == "anonymous") {
    // Memory of no file: nothing is durable there, and a deep flush that said 0 would claim it is.
    EXPECT_EQ(ours.deep_flush_rc, PMEM2_E_NOSUPP);
    EXPECT_EQ(ours.deep_flush_empty_rc, PMEM2_E_NOSUPP);
    EXPECT_EQ(ours.id_len_rc, PMEM2_E_NOSUPP);
    EXPECT_EQ(ours.numa_rc, PMEM2_E_NOSUPP);
    EXPECT_EQ(ours.bb_new_rc, PMEM2_E_NOSUPP);
    EXPECT_EQ(ours.read_rc, PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED);
    EXPECT_EQ(ours.read_empty_past_rc, theirs.read_empty_past_rc);
    // R2
    EXPECT_FALSE(theirs.bbctx_null_after_failure);
    EXPECT_TRUE(ours.bbctx_null_after_failure);
    return;
  }
  EXPECT_EQ(ours.id_len_rc, PMEM2_E_NOSUPP);
  EXPECT_EQ(ours.usc_rc, PMEM2_E_NOSUPP);
  EXPECT_EQ(ours.numa_rc, PMEM2_E_DAX_REGION_NOT_FOUND);
  EXPECT_EQ(ours.bb_new_rc, 0);
  EXPECT_EQ(ours.bb_next_rc, PMEM2_E_NO_BAD_BLOCK_FOUND);
  EXPECT_EQ(ours.read_back, "rrrrrrrr");
  EXPECT_EQ(ours.read_past_rc, PMEM2_E_LENGTH_OUT_OF_RANGE);
  // R1
  EXPECT_EQ(theirs.read_empty_past_rc, 0);
  EXPECT_EQ(ours.read_empty_past_rc, PMEM2_E_LENGTH_OUT_OF_RANGE);
  // R3
  EXPECT_EQ(theirs.bb_after_end_offset, 77u);
  EXPECT_EQ(ours.bb_after_end_offset, 0u);
  // R7
  EXPECT_EQ(theirs.bb_clear_empty_rc, -EINVAL);
  EXPECT_EQ(ours.bb_clear_empty_rc, 0);
  // R4
  EXPECT_EQ(theirs.bb_clear_past_rc, 0);
  EXPECT_EQ(ours.bb_clear_past_rc, PMEM2_E_LENGTH_OUT_OF_RANGE);
  // R10: a failed call leaves the count as it was, as its man page says (libpmem2 1.12.1 sets it to 0).
  EXPECT_EQ(theirs.usc_after_failure, 0u) << "libpmem2 leaves it now: drop the README's row";
  EXPECT_EQ(ours.usc_after_failure, 99u);
}

INSTANTIATE_TEST_SUITE_P(Sources, RasDifferentialTest, ::testing::Values("tmpfs", "disk", "anonymous"));

// R5. (A memfd_create(MFD_HUGETLB) file; writing it takes a huge page.)
TEST(RasCTest, AHugetlbfsFileIsWrittenWhereTheReferenceFails) {
  std::string why;
  const Api* reference = Reference(&why);
  if (reference == nullptr) GTEST_SKIP() << why;
  const size_t huge = ::pmem2::testing::DefaultHugePageSize();
  ::pmem2::testing::ScopedFreeHugePages pages(1);
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  ::pmem2::testing::ScopedFd fd = ::pmem2::testing::CreateHugetlbFile(huge);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  int written[2] = {};
  int index = 0;
  for (const Api* api : {&Ours(), reference}) {
    struct pmem2_source* src = nullptr;
    ASSERT_EQ(api->source_from_fd(&src, fd.get()), 0);
    char text[] = "huge";
    written[index++] = api->source_pwrite_mcsafe(src, text, 4, 100);
    api->source_delete(&src);
  }
  EXPECT_EQ(written[0], 0) << pmem2_errormsg();
  EXPECT_EQ(written[1], -EINVAL) << "the reference's R5 was fixed? drop it";
  char back[4] = {};
  ASSERT_EQ(pread(fd.get(), back, 4, 100), 4);
  EXPECT_EQ(std::string(back, 4), "huge");
}

// R6.
TEST(RasCTest, AReusedDescriptorNumberIsRefusedWhereTheReferenceWritesIntoTheOtherFile) {
  std::string why;
  const Api* reference = Reference(&why);
  if (reference == nullptr) GTEST_SKIP() << why;
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  int results[2][2] = {};
  std::string others[2];
  int index = 0;
  for (const Api* api : {&Ours(), reference}) {
    ::pmem2::testing::ScopedFd first = ::pmem2::testing::CreateFile(dir.Join("first"), 100, O_RDWR);
    struct pmem2_source* src = nullptr;
    ASSERT_EQ(api->source_from_fd(&src, first.get()), 0);
    ::pmem2::testing::ScopedFd second = ::pmem2::testing::CreateFile(dir.Join("second"), 100, O_RDWR);
    ASSERT_EQ(dup2(second.get(), first.get()), first.get());
    char text[] = "into";
    results[index][0] = api->source_pwrite_mcsafe(src, text, 4, 0);
    char read_back[4] = {};
    results[index][1] = api->source_pread_mcsafe(src, read_back, 4, 0);
    api->source_delete(&src);
    char back[4] = {};
    ASSERT_EQ(pread(second.get(), back, 4, 0), 4);
    others[index++] = std::string(back, 4);
  }
  EXPECT_EQ(results[0][0], PMEM2_E_INVALID_FILE_HANDLE);
  EXPECT_EQ(results[0][1], PMEM2_E_INVALID_FILE_HANDLE);
  EXPECT_EQ(others[0], std::string(4, '\0')) << "pmem2 wrote into the other file";
  EXPECT_EQ(results[1][0], 0) << "the reference's R6 was fixed? drop it";
  EXPECT_EQ(results[1][1], 0);
  EXPECT_EQ(others[1], "into");
}

// A deep flush of anonymous memory, adopted at each granularity (R8), and of pmem2_map_new's anonymous map over a
// range that wraps around (R9) and over nothing at its end (both libraries: PMEM2_E_NOSUPP).
TEST(RasCTest, ADeepFlushOfAnonymousMemoryIsNotSupported) {
  std::string why;
  const Api* reference = Reference(&why);
  if (reference == nullptr) GTEST_SKIP() << why;
  constexpr size_t kSize = 8192;
  for (const pmem2_granularity granularity :
       {PMEM2_GRANULARITY_BYTE, PMEM2_GRANULARITY_CACHE_LINE, PMEM2_GRANULARITY_PAGE}) {
    int answers[2] = {1, 1};
    for (const Api* api : {reference, &Ours()}) {
      struct pmem2_source* src = nullptr;
      ASSERT_EQ(api->source_from_anon(&src, kSize), 0);
      void* memory = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ASSERT_NE(memory, MAP_FAILED);
      struct pmem2_map* map = nullptr;
      ASSERT_EQ(api->map_from_existing(&map, src, memory, kSize, granularity), 0) << granularity;
      answers[api == reference ? 0 : 1] = api->deep_flush(map, memory, kSize);
      EXPECT_EQ(api->map_delete(&map), 0);
      api->source_delete(&src);
      munmap(memory, kSize);
    }
    EXPECT_EQ(answers[1], PMEM2_E_NOSUPP) << "granularity " << granularity;
    EXPECT_EQ(answers[0], granularity == PMEM2_GRANULARITY_BYTE ? PMEM2_E_NOSUPP : 0)
        << "R8, granularity " << granularity;
  }
  int wraps[2] = {1, 1}, end_empty[2] = {1, 1};
  for (const Api* api : {reference, &Ours()}) {
    struct pmem2_source* src = nullptr;
    struct pmem2_config* cfg = nullptr;
    struct pmem2_map* map = nullptr;
    ASSERT_EQ(api->source_from_anon(&src, kSize), 0);
    ASSERT_EQ(api->config_new(&cfg), 0);
    ASSERT_EQ(api->config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE), 0);
    ASSERT_EQ(api->map_new(&map, cfg, src), 0);
    char* const address = static_cast<char*>(api->map_get_address(map));
    const int which = api == reference ? 0 : 1;
    wraps[which] = api->deep_flush(map, address + 10, SIZE_MAX - 5);
    end_empty[which] = api->deep_flush(map, address + kSize, 0);
    EXPECT_EQ(api->map_delete(&map), 0);
    api->config_delete(&cfg);
    api->source_delete(&src);
  }
  EXPECT_EQ(end_empty[0], PMEM2_E_NOSUPP);
  EXPECT_EQ(end_empty[1], PMEM2_E_NOSUPP);
  EXPECT_EQ(wraps[0], PMEM2_E_NOSUPP) << "R9";
  EXPECT_EQ(wraps[1], PMEM2_E_DEEP_FLUSH_RANGE) << "R9";
}

// PMEM2_E_NO_ACCESS for a map made without read and write whose range is still neither (the CPU's write-back would
// fault there; libpmem2 crashes): a shared file mapping made PROT_NONE, adopted at cache-line granularity. Once
// mprotect opens it, the deep flush runs.
TEST(RasCTest, ADeepFlushOfARangeNeitherReadableNorWritableIsNoAccess) {
  ScratchFile file("/dev/shm");
  pmem2::map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax;  // a tmpfs file: else adopted at page granularity
  void* const memory = mmap(nullptr, 8192, PROT_NONE, MAP_SHARED, file.fd(), 0);
  ASSERT_NE(memory, MAP_FAILED);
  struct pmem2_source* src = nullptr;
  ASSERT_EQ(pmem2_source_from_fd(&src, file.fd()), 0) << pmem2_errormsg();
  struct pmem2_map* map = nullptr;
  ASSERT_EQ(pmem2_map_from_existing(&map, src, memory, 8192, PMEM2_GRANULARITY_CACHE_LINE), 0) << pmem2_errormsg();
  if (pmem2_map_get_store_granularity(map) != PMEM2_GRANULARITY_CACHE_LINE) {
    pmem2_map_delete(&map);
    pmem2_source_delete(&src);
    munmap(memory, 8192);
    GTEST_SKIP() << "no cache-line write-back on this CPU: the adopted map is page granularity";
  }
  EXPECT_EQ(pmem2_deep_flush(map, memory, 64), PMEM2_E_NO_ACCESS) << pmem2_errormsg();
  ASSERT_EQ(mprotect(memory, 8192, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(pmem2_deep_flush(map, memory, 64), 0) << pmem2_errormsg();
  EXPECT_EQ(pmem2_map_delete(&map), 0);
  pmem2_source_delete(&src);
  munmap(memory, 8192);
}

TEST(RasCTest, NullArgumentsAreEinval) {
  struct pmem2_source* src = nullptr;
  ASSERT_EQ(pmem2_source_from_anon(&src, 4096), 0);
  size_t len = 0;
  uint64_t usc = 0;
  int node = 0;
  char buffer[4];
  struct pmem2_badblock bb = {0, 0};
  struct pmem2_badblock_context* bbctx = nullptr;
  EXPECT_EQ(pmem2_source_device_id(nullptr, nullptr, &len), -EINVAL);
  EXPECT_EQ(pmem2_source_device_id(src, nullptr, nullptr), -EINVAL);
  EXPECT_THAT(pmem2_errormsg(), HasSubstr("len is NULL"));
  EXPECT_EQ(pmem2_source_device_usc(nullptr, &usc), -EINVAL);
  EXPECT_EQ(pmem2_source_device_usc(src, nullptr), -EINVAL);
  EXPECT_EQ(pmem2_source_numa_node(nullptr, &node), -EINVAL);
  EXPECT_EQ(pmem2_source_numa_node(src, nullptr), -EINVAL);
  EXPECT_EQ(pmem2_source_pread_mcsafe(nullptr, buffer, 4, 0), -EINVAL);
  EXPECT_EQ(pmem2_source_pread_mcsafe(src, nullptr, 4, 0), -EINVAL);
  EXPECT_EQ(pmem2_source_pwrite_mcsafe(src, nullptr, 4, 0), -EINVAL);
  EXPECT_EQ(pmem2_badblock_context_new(nullptr, src), -EINVAL);
  EXPECT_EQ(pmem2_badblock_context_new(&bbctx, nullptr), -EINVAL);
  EXPECT_EQ(pmem2_badblock_next(nullptr, &bb), -EINVAL);
  EXPECT_EQ(pmem2_badblock_clear(nullptr, &bb), -EINVAL);
  pmem2_badblock_context_delete(nullptr);
  pmem2_badblock_context_delete(&bbctx);
  pmem2_source_delete(&src);
}

// A file on the disk that a fake sysfs places on an NVDIMM region with two DIMMs.
class RasFakeNvdimmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (major(file_.dev()) == 0) GTEST_SKIP() << "the test folder has no block device";
    fake_.AddDimm("nmem0", {{"nfit/id", "8089-a2-1837-00000b21"}, {"nfit/dirty_shutdown", "2"}});
    fake_.AddDimm("nmem1", {{"nfit/id", "8089-a2-1837-00000b22"}, {"nfit/dirty_shutdown", "5"}});
    const std::string region =
        fake_.AddRegion(0, {{"numa_node", "1"},
                            {"mappings", "2"},
                            {"mapping0", "nmem0,0,1073741824,0"},
                            {"mapping1", "nmem1,0,1073741824,1"}});
    fake_.AddBlockDevice(region + "/pfn0.1", "pmem0", file_.dev(), {});
    ASSERT_EQ(pmem2_source_from_fd(&src_, file_.fd()), 0);
  }
  void TearDown() override { pmem2_source_delete(&src_); }

  ScratchFile file_{DiskBase()};
  pmem2::testing::FakeNvdimm fake_;
  struct pmem2_source* src_ = nullptr;
};

TEST_F(RasFakeNvdimmTest, DeviceIdTwoCallProtocol) {
  std::string want;  // in the order libndctl walks the DIMMs, as libpmem2's (region.h, RegionDimms)
  for (const std::string& dimm : fake_.DimmsInLibndctlOrder()) {
    want += dimm == "nmem0" ? "8089-a2-1837-00000b21" : "8089-a2-1837-00000b22";
  }
  size_t len = 0;
  ASSERT_EQ(pmem2_source_device_id(src_, nullptr, &len), 0);
  EXPECT_EQ(len, want.size() + 1);
  std::string id(len, 'x');
  size_t short_len = len - 1;
  EXPECT_EQ(pmem2_source_device_id(src_, &id[0], &short_len), PMEM2_E_BUFFER_TOO_SMALL);
  EXPECT_EQ(short_len, len - 1) << "left unchanged";
  EXPECT_EQ(id, std::string(len, 'x')) << "left unchanged";
  EXPECT_THAT(pmem2_errormsg(), HasSubstr(std::to_string(len)));
  ASSERT_EQ(pmem2_source_device_id(src_, &id[0], &len), 0);
  EXPECT_STREQ(id.c_str(), want.c_str());
  uint64_t usc = 0;
  ASSERT_EQ(pmem2_source_device_usc(src_, &usc), 0);
  EXPECT_EQ(usc, 7u);
  int node = -5;
  ASSERT_EQ(pmem2_source_numa_node(src_, &node), 0);
  EXPECT_EQ(node, 1);
}

TEST_F(RasFakeNvdimmTest, WithoutDirtyShutdownTheCountIsNotSupportedAndLeftUnchanged) {
  fake_.Write(fake_.root() + "/devices/ndbus0/nmem1/nfit/dirty_shutdown", "");
  ASSERT_EQ(unlink((fake_.root() + "/devices/ndbus0/nmem1/nfit/dirty_shutdown").c_str()), 0);
  uint64_t usc = 99;
  EXPECT_EQ(pmem2_source_device_usc(src_, &usc), PMEM2_E_NOSUPP);
  EXPECT_EQ(usc, 99u);
  EXPECT_THAT(pmem2_errormsg(), HasSubstr("nmem1"));
}

// The disk sector that holds file byte `offset` of `fd` (FIEMAP, after an fsync so that its blocks are placed), or
// an empty optional with the reason in `why`: no FIEMAP, or the byte in no extent.
std::optional<uint64_t> SectorOf(int fd, uint64_t offset, std::string* why) {
  if (fsync(fd) != 0) {
    *why = absl::StrCat("fsync: ", std::strerror(errno));
    return std::nullopt;
  }
  constexpr unsigned kExtents = 32;
  alignas(struct fiemap) char space[sizeof(struct fiemap) + kExtents * sizeof(struct fiemap_extent)] = {};
  struct fiemap* map = reinterpret_cast<struct fiemap*>(space);
  map->fm_start = 0;
  map->fm_length = FIEMAP_MAX_OFFSET;
  map->fm_flags = FIEMAP_FLAG_SYNC;
  map->fm_extent_count = kExtents;
  if (ioctl(fd, FS_IOC_FIEMAP, map) != 0) {
    *why = absl::StrCat("no FIEMAP here: ", std::strerror(errno));
    return std::nullopt;
  }
  for (unsigned i = 0; i < map->fm_mapped_extents; ++i) {
    const struct fiemap_extent& e = map->fm_extents[i];
    if ((e.fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_NOT_ALIGNED)) != 0) continue;
    if (offset >= e.fe_logical && offset < e.fe_logical + e.fe_length) {
      return (e.fe_physical + (offset - e.fe_logical)) / 512;
    }
  }
  *why = absl::StrCat("file offset ", offset, " is in no placed extent");
  return std::nullopt;
}

// A bad block of the file through the C ABI: pmem2_badblock_next copies its offset and length out (the list named
// disk sector 0 before, no data of the file, so only the end was ever seen here), then says there are no more, and
// pmem2_badblock_clear gives the range new blocks, read back as zeros. A malformed list is an error naming the line.
TEST_F(RasFakeNvdimmTest, BadBlocksAreIteratedAndAMalformedListIsAnError) {
  struct statfs fs;
  ASSERT_EQ(fstatfs(file_.fd(), &fs), 0);
  const uint64_t block = static_cast<uint64_t>(fs.f_bsize);
  if (block > 4096 || block < 512)
    GTEST_SKIP() << "file system blocks of " << block << " bytes: 4096 is no block start";
  std::string why;
  const std::optional<uint64_t> sector = SectorOf(file_.fd(), 4096, &why);
  if (!sector.has_value()) GTEST_SKIP() << why;
  const std::string list_path = fake_.root() + "/devices/ndbus0/region0/pfn0.1/block/pmem0/badblocks";
  fake_.Write(list_path, absl::StrCat(*sector, " ", block / 512, "\n"));
  struct pmem2_badblock_context* bbctx = nullptr;
  ASSERT_EQ(pmem2_badblock_context_new(&bbctx, src_), 0) << pmem2_errormsg();
  struct pmem2_badblock bb = {1, 1};
  ASSERT_EQ(pmem2_badblock_next(bbctx, &bb), 0) << pmem2_errormsg();
  EXPECT_EQ(bb.offset, 4096u);
  EXPECT_EQ(bb.length, block);
  struct pmem2_badblock end = {1, 1};
  EXPECT_EQ(pmem2_badblock_next(bbctx, &end), PMEM2_E_NO_BAD_BLOCK_FOUND);
  EXPECT_EQ(end.offset, 0u);
  EXPECT_EQ(end.length, 0u);
  ASSERT_EQ(pmem2_badblock_clear(bbctx, &bb), 0) << pmem2_errormsg();
  pmem2_badblock_context_delete(&bbctx);
  std::string back(block, 'x');
  ASSERT_EQ(pread(file_.fd(), &back[0], back.size(), 4096), static_cast<ssize_t>(back.size()));
  EXPECT_EQ(back, std::string(block, '\0')) << "the cleared range";
  char before = 0;
  ASSERT_EQ(pread(file_.fd(), &before, 1, 4095), 1);
  EXPECT_EQ(before, 'r') << "the byte before it is the file's";

  fake_.Write(list_path, "0 zero\n");
  bbctx = reinterpret_cast<struct pmem2_badblock_context*>(0x1);
  EXPECT_EQ(pmem2_badblock_context_new(&bbctx, src_), PMEM2_E_INVALID_REGION_FORMAT);
  EXPECT_EQ(bbctx, nullptr);
  EXPECT_THAT(pmem2_errormsg(), HasSubstr("0 zero"));
}

// A stale copy of a deleted bad block context: refused with -EINVAL naming it (libpmem2 reads it after free), and
// pmem2_badblock_context_delete (void) leaves it alone instead of freeing it twice.
TEST_F(RasFakeNvdimmTest, AStaleBadBlockContextIsRefusedAndNotFreedTwice) {
  fake_.Write(fake_.root() + "/devices/ndbus0/region0/pfn0.1/block/pmem0/badblocks", "");
  struct pmem2_badblock_context* bbctx = nullptr;
  ASSERT_EQ(pmem2_badblock_context_new(&bbctx, src_), 0);
  struct pmem2_badblock_context* copy = bbctx;
  pmem2_badblock_context_delete(&bbctx);
  EXPECT_EQ(bbctx, nullptr);
  struct pmem2_badblock bb = {1, 1};
  EXPECT_EQ(pmem2_badblock_next(copy, &bb), -EINVAL);
  EXPECT_THAT(pmem2_errormsg(), HasSubstr("no live bad block context"));
  EXPECT_EQ(pmem2_badblock_clear(copy, &bb), -EINVAL);
  pmem2_badblock_context_delete(&copy);  // under ASan, a second free would be reported
  EXPECT_NE(copy, nullptr) << "left alone";
}

}  // namespace
