// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/mcsafe_io.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/source/source.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/huge_pages.h"
#include "testing/temp_files.h"
#if defined(__x86_64__)
#include "testing/cpu/scoped_cpu_features.h"
#endif

namespace pmem2 {
namespace {

using ::testing::HasSubstr;

class McsafeFileTest : public ::testing::TestWithParam<testing::FileSystem> {
 protected:
  void SetUp() override {
    dir_.emplace(GetParam().base);
    fd_ = testing::CreateFile(dir_->Join("f"), 0, O_RDWR);
    std::string data;
    for (int i = 0; i < 10000; ++i) data.push_back(static_cast<char>('a' + i % 26));
    ASSERT_EQ(pwrite(fd_.get(), data.data(), data.size(), 0), 10000);
    data_ = data;
    source_ = Source::FromFd(fd_.get()).value();
  }

  absl::optional<testing::ScopedTempDir> dir_;
  testing::ScopedFd fd_;
  std::string data_;
  absl::optional<Source> source_;
};

TEST_P(McsafeFileTest, ReadsAndWritesWithinTheFile) {
  char buffer[5000];
  ASSERT_TRUE(ReadMcsafe(*source_, buffer, sizeof buffer, 4999).ok());
  EXPECT_EQ(std::string(buffer, sizeof buffer), data_.substr(4999, 5000));
  ASSERT_TRUE(ReadMcsafe(*source_, buffer, 1, 9999).ok());
  EXPECT_EQ(buffer[0], data_[9999]);
  EXPECT_TRUE(ReadMcsafe(*source_, buffer, 0, 10000).ok()) << "nothing, at the very end";
  const std::string text = "written";
  ASSERT_TRUE(WriteMcsafe(*source_, text.data(), text.size(), 9993).ok());
  char back[7];
  ASSERT_EQ(pread(fd_.get(), back, 7, 9993), 7);
  EXPECT_EQ(std::string(back, 7), text);
  struct stat st;
  ASSERT_EQ(fstat(fd_.get(), &st), 0);
  EXPECT_EQ(st.st_size, 10000) << "never extended";
}

// pwrite(2) ignores the offset on an O_APPEND descriptor: the write must still land at the offset asked, and
// the file must not grow (before the fix it returned OK with the bytes appended past the end).
TEST_P(McsafeFileTest, AnAppendModeDescriptorIsStillWrittenAtTheOffsetAsked) {
  testing::ScopedFd append(open(dir_->Join("f").c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  ASSERT_GE(append.get(), 0);
  absl::StatusOr<Source> source = Source::FromFd(append.get());
  ASSERT_TRUE(source.ok()) << source.status();
  const std::string text = "at offset 100";
  ASSERT_TRUE(WriteMcsafe(*source, text.data(), text.size(), 100).ok());
  struct stat st;
  ASSERT_EQ(fstat(append.get(), &st), 0);
  EXPECT_EQ(st.st_size, 10000) << "never extended";
  char back[13];
  ASSERT_EQ(pread(append.get(), back, sizeof back, 100), static_cast<ssize_t>(sizeof back));
  EXPECT_EQ(std::string(back, sizeof back), text);
  EXPECT_EQ(ReadMcsafe(*source, back, sizeof back, 0).ok(), true);
  EXPECT_EQ(std::string(back, sizeof back), data_.substr(0, sizeof back)) << "the rest untouched";
}

TEST_P(McsafeFileTest, RangesPastTheEndAreLengthOutOfRangeNamingThem) {
  char buffer[16];
  for (uint64_t offset : {uint64_t{9990}, uint64_t{10001}, UINT64_MAX - 4}) {
    absl::Status read = ReadMcsafe(*source_, buffer, sizeof buffer, offset);
    EXPECT_EQ(GetErrorCode(read), ErrorCode::kLengthOutOfRange) << offset;
    EXPECT_THAT(std::string(read.message()), HasSubstr(std::to_string(offset)));
    EXPECT_THAT(std::string(read.message()), HasSubstr("10000 bytes"));
    EXPECT_EQ(GetErrorCode(WriteMcsafe(*source_, buffer, sizeof buffer, offset)), ErrorCode::kLengthOutOfRange);
  }
  // libpmem2 1.12.1 accepts an empty read past the end; pmem2 names the offset instead.
  EXPECT_EQ(GetErrorCode(ReadMcsafe(*source_, buffer, 0, 10001)), ErrorCode::kLengthOutOfRange);
}

TEST_P(McsafeFileTest, AClosedDescriptorIsAnError) {
  testing::ScopedFd other = testing::CreateFile(dir_->Join("g"), 100, O_RDWR);
  Source closed = Source::FromFd(other.get()).value();
  close(other.release());
  char buffer[4];
  absl::Status read = ReadMcsafe(closed, buffer, sizeof buffer, 0);
  EXPECT_FALSE(read.ok());
  EXPECT_EQ(GetErrorCode(read), ErrorCode::kInvalidFileHandle);
}

// The descriptor closed and its number given to another file: refused, not read from or written into that file (the
// range check's size was the other file's before, and the write landed there: libpmem2 1.12.1 still does that,
// pmem2/c/ras_c_test.cc R6).
TEST_P(McsafeFileTest, ADescriptorNumberReusedByAnotherFileIsRefusedAndThatFileUntouched) {
  testing::ScopedFd first = testing::CreateFile(dir_->Join("first"), 100, O_RDWR);
  Source source = Source::FromFd(first.get()).value();
  testing::ScopedFd second = testing::CreateFile(dir_->Join("second"), 100, O_RDWR);
  ASSERT_EQ(dup2(second.get(), first.get()), first.get());
  char buffer[4] = {'a', 'b', 'c', 'd'};
  for (const absl::Status& s : {WriteMcsafe(source, buffer, sizeof buffer, 0), ReadMcsafe(source, buffer, 4, 0)}) {
    EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidFileHandle) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("no longer refers to the file it had")) << s;
  }
  char back[4] = {'x', 'x', 'x', 'x'};
  ASSERT_EQ(pread(second.get(), back, sizeof back, 0), 4);
  EXPECT_EQ(std::string(back, 4), std::string(4, '\0')) << "written into the other file";
  EXPECT_EQ(std::string(buffer, 4), "abcd") << "read from the other file";
}

// A read that fails with EFAULT is the caller's buffer, or the file's data: on DAX a machine check the block device
// does not list as a bad block yet ends the kernel's copy with EFAULT. The latter is PMEM2_E_IO_FAIL (libpmem2.h: "a
// bad block in the range"), naming the offset; the caller's own bad buffer stays an EFAULT errno error. Before, both
// were EFAULT. (The medium's EFAULT played by a filter that fails every pread with it.)
TEST_P(McsafeFileTest, AnEfaultOfTheFilesDataIsAnIoFailureNotTheCallersBuffer) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  Source* const source = &*source_;
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    void* const unreadable = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (unreadable == MAP_FAILED) return 2;
    const absl::Status bad_buffer = ReadMcsafe(*source, unreadable, 100, 10);
    testing::DenySystemCall(__NR_pread64, EFAULT);
    char buffer[100];
    const absl::Status bad_medium = ReadMcsafe(*source, buffer, sizeof buffer, 10);
    testing::WriteToParent(out, absl::StrCat(ErrorCodeName(GetErrorCode(bad_buffer)), " ", GetErrno(bad_buffer), "|",
                                             ErrorCodeName(GetErrorCode(bad_medium)), " ", bad_medium.message()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, ::testing::StartsWith(absl::StrCat("PMEM2_E_ERRNO ", EFAULT, "|PMEM2_E_IO_FAIL ")));
  EXPECT_THAT(child.output, HasSubstr("at offset 10 cannot be read"));
}

// On fsdax (Linux 6.0 on) a write over poison that is not a page-aligned write of whole pages fails with EFAULT: the
// file's fault where the caller's buffer can be read (kIoFail naming the offset; EFAULT before), still the caller's
// where it cannot, also when the denied pwrite cannot tell the two apart.
TEST_P(McsafeFileTest, AnEfaultOfAWriteFromAReadableBufferIsAnIoFailure) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  Source* const source = &*source_;
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    // A readable page, then an unreadable one: a buffer that runs into the second is the caller's fault.
    char* const pages =
        static_cast<char*>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (pages == MAP_FAILED || mprotect(pages + page, page, PROT_NONE) != 0) return 2;
    const absl::Status bad_buffer = WriteMcsafe(*source, pages + page, 100, 10);
    testing::DenySystemCall(__NR_pwrite64, EFAULT);
    const absl::Status bad_medium = WriteMcsafe(*source, pages + page - 50, 50, 10);
    const absl::Status partly_bad_buffer = WriteMcsafe(*source, pages + page - 50, 100, 10);
    testing::WriteToParent(
        out, absl::StrCat(ErrorCodeName(GetErrorCode(bad_buffer)), " ", GetErrno(bad_buffer), "|",
                          ErrorCodeName(GetErrorCode(partly_bad_buffer)), " ", GetErrno(partly_bad_buffer), "|",
                          ErrorCodeName(GetErrorCode(bad_medium)), " ", bad_medium.message()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, ::testing::StartsWith(absl::StrCat("PMEM2_E_ERRNO ", EFAULT, "|PMEM2_E_ERRNO ", EFAULT,
                                                               "|PMEM2_E_IO_FAIL ")));
  EXPECT_THAT(child.output, HasSubstr("at offset 10 cannot be written"));
  EXPECT_THAT(child.output, HasSubstr("only a page-aligned write of whole pages clears poison"));
}

// A descriptor with O_APPEND is written through a mapping and a copy that catches SIGBUS only: a caller's buffer that
// cannot be read (PROT_NONE) ended the process with SIGSEGV in that copy, and one in a mapping of a truncated file
// (SIGBUS at the buffer) was PMEM2_E_IO_FAIL, a bad block of the file. Both are the caller's EFAULT, as pwrite says
// it; also when the buffer check is refused (the system calls it uses denied) and the copy's SIGBUS is the buffer's.
// The file is left as it was. In a child: before the fix the first write killed it.
TEST_P(McsafeFileTest, AnUnreadableOrUnbackedBufferIsEfaultThroughAnAppendModeDescriptor) {
  testing::ScopedFd append(open(dir_->Join("f").c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  ASSERT_GE(append.get(), 0);
  Source source = Source::FromFd(append.get()).value();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  testing::ScopedFd cut = testing::CreateFile(dir_->Join("cut"), 2 * page, O_RDWR);
  char* const cut_map = static_cast<char*>(mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, cut.get(), 0));
  ASSERT_NE(cut_map, MAP_FAILED);
  ASSERT_EQ(ftruncate(cut.get(), static_cast<off_t>(page)), 0);
  const bool can_deny = testing::SystemCallsCanBeDenied();
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    void* const unreadable = mmap(nullptr, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (unreadable == MAP_FAILED) return 2;
    std::string result;
    const auto add = [&result](const absl::Status& s) {
      absl::StrAppend(&result, ErrorCodeName(GetErrorCode(s)), " ", GetErrno(s), "|");
    };
    add(WriteMcsafe(source, unreadable, 100, 10));
    add(WriteMcsafe(source, cut_map + page, 100, 10));
    if (can_deny) {
      testing::DenySystemCall(__NR_process_vm_writev, ENOSYS);
      testing::DenySystemCall(__NR_process_vm_readv, ENOSYS);
      const absl::Status unchecked = WriteMcsafe(source, cut_map + page, 100, 10);
      add(unchecked);
      absl::StrAppend(&result, unchecked.message());
    }
    testing::WriteToParent(out, result);
    return 0;
  });
  munmap(cut_map, 2 * page);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  const std::string efault = absl::StrCat("PMEM2_E_ERRNO ", EFAULT, "|");
  EXPECT_THAT(child.output, ::testing::StartsWith(efault + efault));
  if (can_deny) {
    EXPECT_THAT(child.output, ::testing::StartsWith(efault + efault + efault)) << "the copy's SIGBUS at the buffer";
    EXPECT_THAT(child.output,
                HasSubstr(absl::StrCat("faulted at 0x", absl::Hex(reinterpret_cast<uintptr_t>(cut_map + page)))));
  }
  char back[100];
  ASSERT_EQ(pread(fd_.get(), back, sizeof back, 10), static_cast<ssize_t>(sizeof back));
  EXPECT_EQ(std::string(back, sizeof back), data_.substr(10, 100)) << "the file was written";
}

// Through an O_APPEND descriptor a store to a hole of the mapping allocates the block in the fault: on a full file
// system that was a SIGBUS, reported as a bad block (PMEM2_E_IO_FAIL). The range is allocated first, so it is ENOSPC.
TEST(McsafeTest, AWriteThroughAnAppendModeDescriptorOntoAFullFileSystemIsEnospc) {
  testing::ScopedTempDir dir("/tmp");
  const std::string root = dir.Join("mnt");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0) << std::strerror(errno);
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    if (absl::Status s = testing::MountPrivateTmpfs(root, "256k"); !s.ok()) {
      testing::WriteToParent(out, absl::StrCat("SKIP ", s.message()));
      return 0;
    }
    testing::ScopedFd sparse = testing::CreateFile(root + "/sparse", 0, O_RDWR);
    if (sparse.get() < 0 || ftruncate(sparse.get(), 1 << 20) != 0) return 2;
    {
      testing::ScopedFd filler = testing::CreateFile(root + "/filler", 0, O_RDWR);
      const std::string chunk(4096, 'f');
      while (write(filler.get(), chunk.data(), chunk.size()) > 0) {
      }
      if (errno != ENOSPC) return 3;
    }
    testing::ScopedFd append(open((root + "/sparse").c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
    if (append.get() < 0) return 4;
    const absl::Status s = WriteMcsafe(Source::FromFd(append.get()).value(), "data", 4, 512 << 10);
    testing::WriteToParent(out, absl::StrCat(ErrorCodeName(GetErrorCode(s)), " ", GetErrno(s), " ", s.message()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  if (absl::StartsWith(child.output, "SKIP ")) GTEST_SKIP() << child.output.substr(5);
  EXPECT_THAT(child.output, ::testing::StartsWith(absl::StrCat("PMEM2_E_ERRNO ", ENOSPC, " ")));
  EXPECT_THAT(child.output, HasSubstr("at offset 524288"));
}

INSTANTIATE_TEST_SUITE_P(FileSystems, McsafeFileTest, ::testing::ValuesIn(testing::TestFileSystems()),
                         testing::FileSystemName);

// hugetlbfs has no write(2): its files are written through a mapping of whole huge pages, also across two of them
// and through an O_APPEND descriptor, and read with pread.
TEST(McsafeTest, AHugetlbfsFileIsWrittenThroughAMapping) {
  const size_t huge = testing::DefaultHugePageSize();
  testing::ScopedFreeHugePages pages(4);  // two files of two each
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  testing::ScopedFd fd = testing::CreateHugetlbFile(2 * huge);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  Source source = Source::FromFd(fd.get()).value();
  const std::string text = "across two huge pages";
  ASSERT_TRUE(WriteMcsafe(source, text.data(), text.size(), huge - 6).ok());
  std::string back(text.size(), '\0');
  ASSERT_TRUE(ReadMcsafe(source, back.data(), back.size(), huge - 6).ok());
  EXPECT_EQ(back, text);

  testing::ScopedFd append(open(absl::StrCat("/proc/self/fd/", fd.get()).c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  ASSERT_GE(append.get(), 0) << std::strerror(errno);
  Source appending = Source::FromFd(append.get()).value();
  ASSERT_TRUE(WriteMcsafe(appending, "appended", 8, 10).ok());
  ASSERT_TRUE(ReadMcsafe(source, back.data(), 8, 10).ok());
  EXPECT_EQ(back.substr(0, 8), "appended");
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), 2 * huge) << "never extended";
  EXPECT_EQ(GetErrorCode(WriteMcsafe(source, text.data(), text.size(), 2 * huge - 3)), ErrorCode::kLengthOutOfRange);

  // A size that is no huge page multiple (fallocate gives one): the last, partial huge page cannot be mapped without
  // growing the file, so it is refused, naming the bytes; the whole huge pages before it are written.
  testing::ScopedFd partial = testing::CreateHugetlbFile(0);
  ASSERT_GE(partial.get(), 0) << std::strerror(errno);
  ASSERT_EQ(fallocate(partial.get(), 0, 0, static_cast<off_t>(huge + 4096)), 0) << std::strerror(errno);
  Source partial_source = Source::FromFd(partial.get()).value();
  const absl::Status refused = WriteMcsafe(partial_source, "tail", 4, huge + 10);
  EXPECT_EQ(GetErrorCode(refused), ErrorCode::kLengthUnaligned) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr(absl::StrCat("past its ", huge + 4096, " bytes")));
  EXPECT_TRUE(WriteMcsafe(partial_source, "head", 4, 10).ok());
  ASSERT_EQ(fstat(partial.get(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), huge + 4096) << "the file grew";
}

TEST(McsafeTest, AnonymousSourcesAreNotSupported) {
  Source source = Source::Anonymous(4096).value();
  char buffer[16];
  EXPECT_EQ(GetErrorCode(ReadMcsafe(source, buffer, sizeof buffer, 0)), ErrorCode::kSourceTypeNotSupported);
  EXPECT_EQ(GetErrorCode(WriteMcsafe(source, buffer, sizeof buffer, 0)), ErrorCode::kSourceTypeNotSupported);
}

TEST(McsafeTest, ADeviceDaxThatCannotBeMappedIsAnErrnoError) {
  // /dev/null plays a 4 MiB Device DAX; mmap of it fails (ENODEV), which must come back as an error.
  testing::FakeNvdimm fake;
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  fake.AddDaxDevice("", "dax0.0", st.st_rdev, {{"size", "4194304"}, {"align", "2097152"}});
  testing::ScopedFd fd(open("/dev/null", O_RDWR));
  Source source = Source::FromFd(fd.get()).value();
  ASSERT_EQ(source.kind(), SourceKind::kDeviceDax);
  char buffer[16];
  absl::Status read = ReadMcsafe(source, buffer, sizeof buffer, 3 << 20);
  EXPECT_EQ(GetErrorCode(read), ErrorCode::kErrno);
  EXPECT_THAT(std::string(read.message()), HasSubstr("mmap of 2097152 bytes at offset 2097152"));
  EXPECT_EQ(GetErrorCode(ReadMcsafe(source, buffer, sizeof buffer, 4194300)), ErrorCode::kLengthOutOfRange);
}

#if defined(__x86_64__)
// A write to Device DAX on a CPU without a cache-line write-back (here: an x86 CPU without CLFLUSH; every CPU of the
// generic backend) would leave its data in the CPU caches, where a power failure loses it: refused before anything
// is written, unless the platform writes the caches back itself (eADR), where it goes ahead (to the mmap, which
// fails for /dev/null). A read is no concern. (Found by review: the write went ahead and returned OK.)
TEST(McsafeTest, ADeviceDaxWriteNeedsACacheLineWriteBackOrEadr) {
  arch::x86_64::CpuFeatures features =
      testing::RestrictedFeatures(testing::IsaLevel::kSse2, testing::FlushInstruction::kClflush);
  features.clflush = false;
  const testing::ScopedCpuFeatures cpu(features);
  ASSERT_FALSE(arch::CacheLineOps().writes_back_cache_lines);
  testing::FakeNvdimm fake;
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  fake.AddRegion(0, {{"persistence_domain", "memory_controller"}});
  fake.AddDaxDevice("", "dax0.0", st.st_rdev, {{"size", "4194304"}, {"align", "2097152"}});
  testing::ScopedFd fd(open("/dev/null", O_RDWR));
  Source source = Source::FromFd(fd.get()).value();
  ASSERT_EQ(source.kind(), SourceKind::kDeviceDax);
  char buffer[16] = "record";
  const absl::Status refused = WriteMcsafe(source, buffer, sizeof buffer, 4096);
  EXPECT_EQ(GetErrorCode(refused), ErrorCode::kNoSupp) << refused;
  EXPECT_THAT(std::string(refused.message()), HasSubstr("no eADR")) << refused;
  EXPECT_EQ(GetErrorCode(ReadMcsafe(source, buffer, sizeof buffer, 4096)), ErrorCode::kErrno) << "the mmap's ENODEV";

  fake.Write("devices/ndbus0/region0/persistence_domain", "cpu_cache\n");
  EXPECT_EQ(GetErrorCode(WriteMcsafe(source, buffer, sizeof buffer, 4096)), ErrorCode::kErrno) << "eADR: the mmap's";
}
#endif

}  // namespace
}  // namespace pmem2
