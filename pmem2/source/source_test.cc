// Copyright 2026 The pmem2 Authors.

#include "pmem2/source/source.h"

#include "pmem2/source/device_dax.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include <libpmem2.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "testing/fake_sysfs.h"
#include "testing/huge_pages.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::FileSystem;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::testing::HasSubstr;

// What Debian's libpmem2 (the reference) answers for the same descriptor.
int ReferenceSourceFromFd(int fd) {
  struct pmem2_source* src = nullptr;
  int ret = pmem2_source_from_fd(&src, fd);
  pmem2_source_delete(&src);
  return ret;
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

class SourceOnFileSystemTest : public ::testing::TestWithParam<FileSystem> {};

TEST_P(SourceOnFileSystemTest, RegularFile) {
  ScopedTempDir dir(GetParam().base);
  ScopedFd fd = CreateFile(dir.Join("f"), 3 * 4096 + 5, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->kind(), SourceKind::kRegularFile);
  EXPECT_EQ(source->fd(), fd.get());
  EXPECT_EQ(source->Size().value(), 3u * 4096 + 5);
  EXPECT_EQ(source->Alignment().value(), static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  EXPECT_TRUE(source->Writable().value());
  EXPECT_TRUE(source->sysfs_device_dir().empty());
  ASSERT_EQ(ftruncate(fd.get(), 10), 0);
  EXPECT_EQ(source->Size().value(), 10u) << "Size() must follow the file";
  EXPECT_EQ(ReferenceSourceFromFd(fd.get()), 0);
}

TEST_P(SourceOnFileSystemTest, ReadOnlyFileIsAcceptedButNotWritable) {
  ScopedTempDir dir(GetParam().base);
  ScopedFd fd = CreateFile(dir.Join("f"), 4096, O_RDONLY);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_FALSE(source->Writable().value());
}

TEST_P(SourceOnFileSystemTest, WriteOnlyDescriptorIsRefused) {
  ScopedTempDir dir(GetParam().base);
  ScopedFd fd = CreateFile(dir.Join("f"), 4096, O_WRONLY);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileHandle);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("O_WRONLY"));
  EXPECT_EQ(ToLibpmem2ReturnValue(source.status()), ReferenceSourceFromFd(fd.get()));
}

TEST_P(SourceOnFileSystemTest, DirectoryIsRefused) {
  ScopedTempDir dir(GetParam().base);
  ScopedFd fd(open(dir.path().c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType);
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("directory"));
  EXPECT_EQ(ToLibpmem2ReturnValue(source.status()), ReferenceSourceFromFd(fd.get()));
}

TEST_P(SourceOnFileSystemTest, OPathDescriptorIsRefused) {
  ScopedTempDir dir(GetParam().base);
  CreateFile(dir.Join("f"), 4096, O_RDONLY);
  ScopedFd fd(open(dir.Join("f").c_str(), O_PATH));
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileHandle);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("O_PATH"));
  // A difference (README): libpmem2 takes it, and its pmem2_map_new fails later with -EBADF.
  EXPECT_EQ(ReferenceSourceFromFd(fd.get()), 0) << "libpmem2 refuses O_PATH now: say so in the README's table";
}

// Access mode 3 (neither read nor write: Linux's mode for ioctls only, which needs both permissions to open) is
// refused as O_WRONLY is, naming the mode. A difference (README): libpmem2 takes it, and every map of it fails.
TEST_P(SourceOnFileSystemTest, AccessModeThreeDescriptorIsRefused) {
  ScopedTempDir dir(GetParam().base);
  CreateFile(dir.Join("f"), 4096, O_RDWR);
  ScopedFd fd(open(dir.Join("f").c_str(), O_ACCMODE | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0) << strerror(errno);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileHandle) << source.status();
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("access mode 3"));
  EXPECT_EQ(ReferenceSourceFromFd(fd.get()), 0) << "libpmem2 refuses mode 3 now: say so in the README's table";
}

// A character device that sysfs does not list (a pseudo-terminal's slave end on most machines) is no Device DAX:
// PMEM2_E_INVALID_FILE_TYPE, as pmem2_source_from_fd(3) says for "a character device other than Device DAX". A
// difference (README): libpmem2 fails the realpath(3) of its sysfs entry and returns its errno (-ENOENT).
TEST(SourceTest, ACharacterDeviceSysfsDoesNotListIsRefusedAsNoDeviceDax) {
  ScopedFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (master.get() < 0 || grantpt(master.get()) != 0 || unlockpt(master.get()) != 0) {
    GTEST_SKIP() << "no pseudo-terminal here: " << strerror(errno);
  }
  ScopedFd slave(open(ptsname(master.get()), O_RDWR | O_NOCTTY | O_CLOEXEC));
  ASSERT_GE(slave.get(), 0) << strerror(errno);
  struct stat st;
  ASSERT_EQ(fstat(slave.get(), &st), 0);
  const std::string entry = absl::StrCat("/sys/dev/char/", major(st.st_rdev), ":", minor(st.st_rdev));
  if (access(entry.c_str(), F_OK) == 0) GTEST_SKIP() << entry << " exists: sysfs lists this pseudo-terminal";
  if (access("/sys/dev/char", F_OK) != 0) GTEST_SKIP() << "no /sys/dev/char here";
  absl::StatusOr<Source> source = Source::FromFd(slave.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType) << source.status();
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("character device"));
  EXPECT_EQ(ReferenceSourceFromFd(slave.get()), -ENOENT) << "libpmem2 answers otherwise now: update the README's table";
}

// A block device is no source (pmem2 maps regular files and Device DAX), as in libpmem2. Any block device node this
// process can open will do (loop devices on most machines); none: skipped.
TEST(SourceTest, ABlockDeviceIsRefused) {
  ScopedFd fd;
  std::string name;
  if (DIR* dev = opendir("/dev")) {
    while (dirent* entry = readdir(dev)) {
      const std::string path = absl::StrCat("/dev/", entry->d_name);
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) continue;
      fd = ScopedFd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
      if (fd.get() >= 0) {
        name = path;
        break;
      }
    }
    closedir(dev);
  }
  if (fd.get() < 0) GTEST_SKIP() << "no block device under /dev that this process can open";
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType) << name << ": " << source.status();
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("block device")) << name;
  EXPECT_EQ(ToLibpmem2ReturnValue(source.status()), ReferenceSourceFromFd(fd.get())) << name;
}

TEST_P(SourceOnFileSystemTest, ClosedAfterCreationIsReportedBySize) {
  ScopedTempDir dir(GetParam().base);
  ScopedFd fd = CreateFile(dir.Join("f"), 4096, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok());
  close(fd.release());
  EXPECT_EQ(GetErrorCode(source->Size().status()), ErrorCode::kInvalidFileHandle);
  EXPECT_EQ(GetErrorCode(source->Writable().status()), ErrorCode::kInvalidFileHandle);
}

INSTANTIATE_TEST_SUITE_P(FileSystems, SourceOnFileSystemTest,
                         ::testing::ValuesIn(::pmem2::testing::TestFileSystems()),
                         ::pmem2::testing::FileSystemName);

TEST(SourceTest, ClosedDescriptorIsRefused) {
  int fd = open("/dev/null", O_RDONLY);
  ASSERT_GE(fd, 0);
  close(fd);
  absl::StatusOr<Source> source = Source::FromFd(fd);
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileHandle);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr(std::to_string(fd)));
  EXPECT_EQ(ToLibpmem2ReturnValue(source.status()), ReferenceSourceFromFd(fd));
  EXPECT_EQ(GetErrorCode(Source::FromFd(-1).status()), ErrorCode::kInvalidFileHandle);
  EXPECT_EQ(GetErrorCode(Source::FromFd(1 << 30).status()), ErrorCode::kInvalidFileHandle);
}

TEST(SourceTest, PipeSocketAndOtherCharacterDevicesAreRefused) {
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  ScopedFd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  absl::StatusOr<Source> source = Source::FromFd(read_end.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("pipe"));
  EXPECT_EQ(ToLibpmem2ReturnValue(source.status()), ReferenceSourceFromFd(read_end.get()));

  ScopedFd sock(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_GE(sock.get(), 0);
  source = Source::FromFd(sock.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("socket"));

  ScopedFd null_dev(open("/dev/null", O_RDWR));
  source = Source::FromFd(null_dev.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("not Device DAX"));
  EXPECT_EQ(ToLibpmem2ReturnValue(source.status()), ReferenceSourceFromFd(null_dev.get()));
}

TEST(SourceTest, Anonymous) {
  absl::StatusOr<Source> source = Source::Anonymous(1 << 20);
  ASSERT_TRUE(source.ok());
  EXPECT_EQ(source->kind(), SourceKind::kAnonymous);
  EXPECT_EQ(source->fd(), -1);
  EXPECT_EQ(source->Size().value(), 1u << 20);
  EXPECT_EQ(source->Alignment().value(), static_cast<size_t>(sysconf(_SC_PAGESIZE)));
  EXPECT_TRUE(source->Writable().value());
  EXPECT_EQ(Source::Anonymous(0)->Size().value(), 0u);
}

// A hugetlbfs file is mapped in whole huge pages, so that is its alignment. libpmem2 1.12.1 answers the page size,
// and a one-page mapping it then places with MAP_FIXED covers a whole huge page (pmem2/map/map_test.cc).
TEST(SourceTest, HugetlbfsFileAlignmentIsItsHugePageSize) {
  const size_t huge = ::pmem2::testing::DefaultHugePageSize();
  ScopedFd fd = ::pmem2::testing::CreateHugetlbFile(2 * huge);
  if (huge == 0 || fd.get() < 0) GTEST_SKIP() << "no hugetlbfs here: " << std::strerror(errno);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->kind(), SourceKind::kRegularFile);
  EXPECT_EQ(source->Size().value(), 2 * huge);
  EXPECT_EQ(source->Alignment().value(), huge);

  struct pmem2_source* reference = nullptr;
  ASSERT_EQ(pmem2_source_from_fd(&reference, fd.get()), 0);
  size_t reference_alignment = 0;
  EXPECT_EQ(pmem2_source_alignment(reference, &reference_alignment), 0);
  pmem2_source_delete(&reference);
  EXPECT_EQ(reference_alignment, static_cast<size_t>(sysconf(_SC_PAGESIZE))) << "libpmem2 learned of huge pages";

  const int number = fd.get();
  fd = ScopedFd(-1);
  EXPECT_EQ(GetErrorCode(source->Alignment().status()), ErrorCode::kInvalidFileHandle);
  EXPECT_THAT(std::string(source->Alignment().status().message()), HasSubstr(std::to_string(number)));
}

// A memfd_secret(2) file is a regular file that can be mapped, but its msync fails (EINVAL): every persist would
// report data loss. Refused, naming it; libpmem2 1.12.1 takes it (and aborts the process at the first persist).
TEST(SourceTest, AMemfdSecretFileIsRefused) {
#ifdef SYS_memfd_secret
  ScopedFd fd(static_cast<int>(syscall(SYS_memfd_secret, 0)));
#else
  ScopedFd fd(static_cast<int>(syscall(447, 0)));  // x86-64's number, in kernels from 5.14
#endif
  if (fd.get() < 0)
    GTEST_SKIP() << "no memfd_secret here (secretmem.enable=0 or an older kernel): " << std::strerror(errno);
  ASSERT_EQ(ftruncate(fd.get(), 4096), 0) << std::strerror(errno);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("memfd_secret"));
  EXPECT_EQ(ReferenceSourceFromFd(fd.get()), 0) << "libpmem2 learned of memfd_secret";
}

TEST(SourceTest, KindNames) {
  EXPECT_EQ(SourceKindName(SourceKind::kAnonymous), "anonymous");
  EXPECT_EQ(SourceKindName(SourceKind::kRegularFile), "regular_file");
  EXPECT_EQ(SourceKindName(SourceKind::kDeviceDax), "device_dax");
}

// A fake sysfs in which /dev/null is a Device DAX, to test detection and the attribute parsers.
class FakeDeviceDaxTest : public ::testing::Test {
 protected:
  ::pmem2::testing::FakeSysfs sysfs_;
  std::string device_dir_ = sysfs_.MakeDevNullDeviceDax("", "");
};

// Only code in the process can fake sysfs: an environment variable could make a process trust a fake eADR.
// That no environment variable can redirect sysfs is tested in pmem2/sysfs/sysfs_test.cc.

TEST_F(FakeDeviceDaxTest, DetectedWithSizeAndAlignment) {
  WriteFile(device_dir_ + "/size", "4294967296\n");
  WriteFile(device_dir_ + "/align", "2097152\n");
  ScopedFd fd(open("/dev/null", O_RDWR));
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ(source->kind(), SourceKind::kDeviceDax);
  EXPECT_EQ(source->Size().value(), 4294967296u);
  EXPECT_EQ(source->Alignment().value(), 2097152u);
  EXPECT_EQ(source->sysfs_device_dir(), device_dir_);
}

TEST_F(FakeDeviceDaxTest, OlderKernelsKeepAlignmentInTheRegion) {
  ASSERT_EQ(mkdir((device_dir_ + "/device").c_str(), 0700), 0);
  WriteFile(device_dir_ + "/device/align", "1073741824");
  EXPECT_EQ(source_internal::ReadDeviceDaxAlignment(device_dir_).value(), 1073741824u);
}

// A soft-reserved memory range's Device DAX before 5.10 (hmem): its parent has no `align`, only the region's
// `dax_region/align`, which PMDK's libpmem looks for among the device's ancestors (here the parent's).
TEST_F(FakeDeviceDaxTest, OlderKernelsWithoutAnAlignOfTheParentHaveTheDaxRegions) {
  const std::string parent = device_dir_.substr(0, device_dir_.rfind('/'));
  ASSERT_EQ(mkdir((device_dir_ + "/device").c_str(), 0700), 0);  // no align there
  ASSERT_EQ(mkdir((parent + "/dax_region").c_str(), 0700), 0);
  WriteFile(parent + "/dax_region/align", "2097152\n");
  EXPECT_EQ(source_internal::ReadDeviceDaxAlignment(device_dir_).value(), 2097152u);
  // The device's own, where there is one, comes first.
  WriteFile(device_dir_ + "/align", "4096\n");
  EXPECT_EQ(source_internal::ReadDeviceDaxAlignment(device_dir_).value(), 4096u);
}

// The Device DAX's descriptor closed and its number given to another file: not the device's size and alignment.
TEST_F(FakeDeviceDaxTest, ADescriptorNumberReusedByAnotherFileIsNoLongerTheDevice) {
  WriteFile(device_dir_ + "/size", "4294967296\n");
  WriteFile(device_dir_ + "/align", "2097152\n");
  ScopedFd fd(open("/dev/null", O_RDWR));
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  ASSERT_EQ(source->kind(), SourceKind::kDeviceDax);
  // Another character device (the same type, another st_rdev), then a regular file.
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  for (const std::string& path : {std::string("/dev/zero"), dir.Join("file")}) {
    ScopedFd other(open(path.c_str(), O_RDWR | O_CREAT, 0600));
    ASSERT_GE(other.get(), 0) << path;
    ASSERT_EQ(dup2(other.get(), fd.get()), fd.get());
    for (const absl::Status& s : {source->Size().status(), source->Alignment().status(), source->VerifyDescriptor()}) {
      EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidFileHandle) << path << ": " << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr("no longer refers to the Device DAX")) << path;
    }
  }
  fd = ScopedFd(-1);  // closed
  EXPECT_EQ(GetErrorCode(source->Size().status()), ErrorCode::kInvalidFileHandle);
}

// A regular file's descriptor closed and its number given to another file: VerifyDescriptor() says so (what must not
// touch another file asks it; bad_blocks_test has Clear()).
TEST(SourceTest, VerifyDescriptorTellsAReusedNumberOfARegularFile) {
  ::pmem2::testing::ScopedTempDir dir("/dev/shm");
  ScopedFd fd = ::pmem2::testing::CreateFile(dir.Join("first"), 4096, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_TRUE(source->VerifyDescriptor().ok());
  ScopedFd second = ::pmem2::testing::CreateFile(dir.Join("second"), 4096, O_RDWR);
  ASSERT_EQ(dup2(second.get(), fd.get()), fd.get());
  const absl::Status s = source->VerifyDescriptor();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidFileHandle) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("no longer refers to the file it had"));
  // Nor does it answer the other file's size, alignment or access mode (the other one read-only here).
  EXPECT_EQ(GetErrorCode(source->Size().status()), ErrorCode::kInvalidFileHandle);
  EXPECT_EQ(GetErrorCode(source->Alignment().status()), ErrorCode::kInvalidFileHandle);
  ScopedFd read_only(open(dir.Join("second").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(dup2(read_only.get(), fd.get()), fd.get());
  EXPECT_EQ(GetErrorCode(source->Writable().status()), ErrorCode::kInvalidFileHandle);
  fd = ScopedFd(-1);
  EXPECT_EQ(GetErrorCode(source->VerifyDescriptor()), ErrorCode::kInvalidFileHandle);
  EXPECT_TRUE(Source::Anonymous(4096)->VerifyDescriptor().ok());
}

// A disk file system (ext4, XFS) gives a deleted file's inode number to the next file created, at once: a descriptor
// closed, its file deleted and the number reused by a new file then names the same device and inode, and only the
// inode's generation or birth tells them apart. (pmem2 took the new file for the Source's: its size, its mapping,
// and a bad block's clear deallocated its blocks.) A file that is only changed stays the Source's.
TEST(SourceTest, VerifyDescriptorTellsAFileCreatedWhereADeletedOneWas) {
  std::string base;
  for (const ::pmem2::testing::FileSystem& file_system : ::pmem2::testing::TestFileSystems()) {
    if (file_system.name == "disk") base = file_system.base;
  }
  if (base.empty()) GTEST_SKIP() << "no disk file system to test on";
  ScopedTempDir dir(base);
  int reused = 0;
  for (int attempt = 0; attempt < 20 && reused < 3; ++attempt) {
    ScopedFd first = ::pmem2::testing::CreateFile(dir.Join("first"), 4096, O_RDWR);
    absl::StatusOr<Source> source = Source::FromFd(first.get());
    ASSERT_TRUE(source.ok()) << source.status();
    struct stat was;
    ASSERT_EQ(fstat(first.get(), &was), 0);
    if (attempt == 0) {
      ASSERT_EQ(ftruncate(first.get(), 8192), 0);
      ASSERT_EQ(pwrite(first.get(), "x", 1, 100), 1);
      ASSERT_EQ(fchmod(first.get(), 0640), 0);
      ASSERT_EQ(fsync(first.get()), 0);
      EXPECT_TRUE(source->VerifyDescriptor().ok()) << source->VerifyDescriptor();
    }
    const int number = first.get();
    ASSERT_EQ(unlink(dir.Join("first").c_str()), 0);
    first = ScopedFd(-1);
    ScopedFd second = ::pmem2::testing::CreateFile(dir.Join("second"), 1 << 20, O_RDWR);
    struct stat now;
    ASSERT_EQ(fstat(second.get(), &now), 0);
    if (now.st_ino == was.st_ino && now.st_dev == was.st_dev) {
      ++reused;
      ScopedFd reused_number;  // the number, where the new file was given another
      if (second.get() != number) {
        ASSERT_EQ(dup2(second.get(), number), number);
        reused_number = ScopedFd(number);
      }
      const absl::Status s = source->VerifyDescriptor();
      EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidFileHandle) << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr("by a file created since"));
      EXPECT_EQ(GetErrorCode(source->Size().status()), ErrorCode::kInvalidFileHandle);
      EXPECT_EQ(GetErrorCode(source->Alignment().status()), ErrorCode::kInvalidFileHandle);
      EXPECT_EQ(GetErrorCode(source->Writable().status()), ErrorCode::kInvalidFileHandle);
    }
    ASSERT_EQ(unlink(dir.Join("second").c_str()), 0);
  }
  if (reused == 0) GTEST_SKIP() << "the file system at " << base << " gave no deleted file's inode number to the next";
}

// sysfs that cannot say what a character device is (here a link loop; EACCES in a confined container): still not
// Device DAX (PMEM2_E_INVALID_FILE_TYPE, as libpmem2's man page has it for a character device), but the message
// says why instead of calling a Device DAX something else.
TEST_F(FakeDeviceDaxTest, ASysfsThatCannotSayIsNamedInTheError) {
  const std::string subsystem = device_dir_ + "/subsystem";
  ASSERT_EQ(unlink(subsystem.c_str()), 0);
  ASSERT_EQ(symlink(subsystem.c_str(), subsystem.c_str()), 0);
  ScopedFd fd(open("/dev/null", O_RDWR));
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType);
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("realpath(" + subsystem + "): "));
  EXPECT_THAT(std::string(source.status().message()), HasSubstr(std::strerror(ELOOP)));
  // Without the link, sysfs says plainly that it is no Device DAX.
  ASSERT_EQ(unlink(subsystem.c_str()), 0);
  source = Source::FromFd(fd.get());
  EXPECT_EQ(GetErrorCode(source.status()), ErrorCode::kInvalidFileType);
  EXPECT_THAT(std::string(source.status().message()), ::testing::Not(HasSubstr("realpath")));
}

// The class layout before 5.10 (.../region0/dax0.1/dax/dax0.0): the region's dax_region is the grandparent's. The
// search stops there: a dax_region further up is another device's.
TEST_F(FakeDeviceDaxTest, OlderKernelsKeepTheDaxRegionAtMostTwoLevelsUp) {
  const std::string parent = device_dir_.substr(0, device_dir_.rfind('/'));
  const std::string grandparent = parent.substr(0, parent.rfind('/'));
  const std::string great_grandparent = grandparent.substr(0, grandparent.rfind('/'));
  ASSERT_EQ(mkdir((great_grandparent + "/dax_region").c_str(), 0700), 0);
  WriteFile(great_grandparent + "/dax_region/align", "1073741824\n");
  EXPECT_EQ(GetErrno(source_internal::ReadDeviceDaxAlignment(device_dir_).status()), ENOENT) << "three levels up";
  ASSERT_EQ(mkdir((grandparent + "/dax_region").c_str(), 0700), 0);
  WriteFile(grandparent + "/dax_region/align", "2097152\n");
  EXPECT_EQ(source_internal::ReadDeviceDaxAlignment(device_dir_).value(), 2097152u);
}

TEST_F(FakeDeviceDaxTest, NoAlignmentAnywhereIsAnErrnoError) {
  absl::Status s = source_internal::ReadDeviceDaxAlignment(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kErrno);
  EXPECT_EQ(GetErrno(s), ENOENT);
  EXPECT_THAT(std::string(s.message()), HasSubstr("align"));
}

TEST_F(FakeDeviceDaxTest, MalformedAttributes) {
  WriteFile(device_dir_ + "/size", "lots");
  EXPECT_EQ(GetErrorCode(source_internal::ReadDeviceDaxSize(device_dir_).status()), ErrorCode::kInvalidSizeFormat);
  WriteFile(device_dir_ + "/size", "-5");
  EXPECT_EQ(GetErrorCode(source_internal::ReadDeviceDaxSize(device_dir_).status()), ErrorCode::kInvalidSizeFormat);
  WriteFile(device_dir_ + "/align", "2M");
  absl::Status s = source_internal::ReadDeviceDaxAlignment(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidAlignmentFormat);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"2M\""));
  WriteFile(device_dir_ + "/align", "3000");
  s = source_internal::ReadDeviceDaxAlignment(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidAlignmentValue);
  EXPECT_THAT(std::string(s.message()), HasSubstr("3000"));
  WriteFile(device_dir_ + "/align", "0");
  EXPECT_EQ(GetErrorCode(source_internal::ReadDeviceDaxAlignment(device_dir_).status()),
            ErrorCode::kInvalidAlignmentValue);
  // A power of two below the page size: no mapping can be placed at that granule (libpmem2 takes it).
  WriteFile(device_dir_ + "/align", "512");
  s = source_internal::ReadDeviceDaxAlignment(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidAlignmentValue);
  EXPECT_THAT(std::string(s.message()), HasSubstr("smaller than the page size"));
  // A number past 64 bits: strtoull's ERANGE, as libpmem2 answers (man pmem2_source_size, pmem2_source_alignment:
  // "-errno set by failing strtoull(3)"), not a format error.
  WriteFile(device_dir_ + "/size", "18446744073709551616");
  s = source_internal::ReadDeviceDaxSize(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kErrno) << s;
  EXPECT_EQ(GetErrno(s), ERANGE) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("18446744073709551616, does not fit in 64 bits"));
  WriteFile(device_dir_ + "/size", "18446744073709551615");
  EXPECT_EQ(source_internal::ReadDeviceDaxSize(device_dir_).value_or(0), UINT64_MAX);
  WriteFile(device_dir_ + "/align", "99999999999999999999999");
  s = source_internal::ReadDeviceDaxAlignment(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kErrno) << s;
  EXPECT_EQ(GetErrno(s), ERANGE) << s;
  // What sysfs held is quoted escaped: a NUL or a control character would cut or garble pmem2_errormsg().
  WriteFile(device_dir_ + "/align", std::string("4096\0\x01", 6));
  s = source_internal::ReadDeviceDaxAlignment(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidAlignmentFormat);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"4096\\x00\\x01\""));
  EXPECT_EQ(std::string(s.message()).find('\0'), std::string::npos);
  WriteFile(device_dir_ + "/size", std::string("1\0", 2));
  s = source_internal::ReadDeviceDaxSize(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidSizeFormat);
  EXPECT_THAT(std::string(s.message()), HasSubstr("\"1\\x00\""));
}

TEST_F(FakeDeviceDaxTest, MissingAttributeIsAnErrnoError) {
  absl::Status s = source_internal::ReadDeviceDaxSize(device_dir_).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kErrno);
  EXPECT_EQ(GetErrno(s), ENOENT);
}

TEST_F(FakeDeviceDaxTest, OtherSubsystemIsNotDeviceDax) {
  EXPECT_TRUE(source_internal::IsDeviceDax(sysfs_.root(), 1, 3));
  EXPECT_FALSE(source_internal::IsDeviceDax(sysfs_.root(), 1, 4));
  EXPECT_FALSE(source_internal::IsDeviceDax("/nonexistent", 1, 3));
  // No sysfs there at all: it cannot say, and says why (a device not in a present sysfs is simply no Device DAX).
  std::string why;
  EXPECT_FALSE(source_internal::IsDeviceDax("/nonexistent", 1, 3, &why));
  EXPECT_THAT(why, HasSubstr("sysfs is not mounted at /nonexistent"));
  why.clear();
  EXPECT_FALSE(source_internal::IsDeviceDax(sysfs_.root(), 1, 4, &why));
  EXPECT_EQ(why, "");
}

}  // namespace
}  // namespace pmem2
