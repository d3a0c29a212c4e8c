// Copyright 2026 The pmem2 Authors.
//
// `pmem2 info`: the report for files it maps; one-line errors for everything else, found without opening
// (FIFOs, sockets, /dev/ptmx, /dev/tty, /dev/null) and without blocking; nothing created unless asked, and what
// it creates fully allocated; the --create=SIZE values it takes. Anything that could block runs in a child
// with a deadline, so a regression fails after 10 s instead of hanging the test.

#include "tools/info.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/pmem2.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/uring/async_persister.h"
#include "testing/temp_files.h"
#include "testing/child_process.h"
#include "tools/create_file.h"

namespace pmem2 {
namespace tools {
namespace {

using ::pmem2::testing::BecomeUser;
using ::pmem2::testing::ChildOptions;
using ::pmem2::testing::ChildResult;
using ::pmem2::testing::CreateFile;
using ::pmem2::testing::MountPrivateTmpfs;
using ::pmem2::testing::OpenCall;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::testing::WriteToParent;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTypeError[] = "(PMEM2_E_INVALID_FILE_TYPE)";
constexpr uid_t kNobody = 65534;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

// Info()'s result as it came back from a child: the status code, the report or the error message, and how
// the child ended.
struct ChildInfo {
  ChildResult child;
  absl::StatusCode code = absl::StatusCode::kUnknown;
  std::string message;  // the report if code is kOk
};

// Runs Info(path, options) in a child with a 10 s deadline, as user `nobody` if `as_nobody` and root (a
// non-root user is refused writing to a 0444 file already).
ChildInfo InfoInChild(const std::string& path, const InfoOptions& options, bool as_nobody = false,
                      bool trace_opens = false) {
  ChildOptions child_options;
  child_options.trace_opens = trace_opens;
  ChildInfo result;
  result.child = RunInChild(
      [&](int out) {
        if (as_nobody && geteuid() == 0 && !BecomeUser(kNobody, kNobody)) return 2;
        absl::StatusOr<std::string> report = Info(path, options);
        WriteToParent(out, absl::StrCat(static_cast<int>(report.status().code()), "\n",
                                        report.ok() ? *report : report.status().message()));
        return 0;
      },
      child_options);
  const size_t newline = result.child.output.find('\n');
  if (newline != std::string::npos) {
    result.code = static_cast<absl::StatusCode>(std::stoi(result.child.output.substr(0, newline)));
    result.message = result.child.output.substr(newline + 1);
  }
  return result;
}

// The entries of a folder, or -1 if it cannot be read.
int CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

class InfoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Children that drop to `nobody` must reach the files in it.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  }

  // Expects the child to have finished in time with Info() refusing `path` for its type, in one line.
  void ExpectTypeError(const ChildInfo& r, const std::string& path, absl::string_view type) {
    ASSERT_FALSE(r.child.timed_out) << "Info(" << path << ") blocked: " << r.child.Describe();
    ASSERT_TRUE(r.child.exited && r.child.exit_code == 0) << r.child.Describe();
    EXPECT_EQ(r.code, absl::StatusCode::kInvalidArgument) << r.message;
    EXPECT_THAT(r.message, ::testing::StartsWith(path + ": is a " + std::string(type)));
    EXPECT_THAT(r.message, EndsWith(kTypeError));
    EXPECT_THAT(r.message, Not(HasSubstr("\n")));
  }

  const long page_ = sysconf(_SC_PAGESIZE);
  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{"/dev/shm"};
};

TEST_F(InfoTest, CreatesAMissingFileAndReportsPageGranularity) {
  InfoOptions options;
  options.create_size = 1 << 20;
  absl::StatusOr<std::string> report = Info(dir_.Join("new"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("(created)"));
  EXPECT_THAT(*report, HasSubstr("\nsource: regular_file\n"));
  EXPECT_THAT(*report, HasSubstr("\nsize: 1048576\n"));
  EXPECT_THAT(*report, HasSubstr(absl::StrCat("\nalignment: ", page_, "\n")));
  EXPECT_THAT(*report, HasSubstr("\nmap_sync: no\n"));
  EXPECT_THAT(*report, HasSubstr("\ngranularity: page\n"));
  EXPECT_THAT(*report, HasSubstr("\nflush: msync\n"));
  EXPECT_THAT(*report, HasSubstr("\nforked_child_description: own\n"));
  EXPECT_THAT(*report, HasSubstr("\ncpu: "));
  struct stat st;
  ASSERT_EQ(stat(dir_.Join("new").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 20);
}

TEST_F(InfoTest, SaysWhichAsyncPersistenceBackendTheMappingGetsAndWhy) {
  InfoOptions options;
  options.create_size = 1 << 20;
  absl::StatusOr<std::string> report = Info(dir_.Join("async"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr(ProbeIoUring().available ? "\nasync_persistence: io_uring (ranged IORING_OP_FSYNC"
                                                          : "\nasync_persistence: synchronous (io_uring unavailable"));
  {
    ScopedEnv no_uring("PMEM2_NO_IO_URING", std::string("1"));
    report = Info(dir_.Join("async"), InfoOptions());
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_THAT(*report, HasSubstr("\nasync_persistence: synchronous (io_uring not used: PMEM2_NO_IO_URING=1)\n"));
  }
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", std::string("cache_line"));
  report = Info(dir_.Join("async"), InfoOptions());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("\nasync_persistence: cpu (completes at once: flush + fence)\n"));
}

TEST_F(InfoTest, ATmpfsFileHasNoNvdimmAndSaysSo) {
  ::pmem2::testing::ScopedFd fd = CreateFile(dir_.Join("f"), 1 << 20, O_RDWR);
  absl::StatusOr<std::string> report = Info(dir_.Join("f"), {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("\nnvdimm_region: not supported: no NVDIMM region: its file system's device 0:"));
  EXPECT_THAT(*report, HasSubstr("\nnuma_node: not supported: "));
  EXPECT_THAT(*report, HasSubstr("\ndevice_id: not supported: no device id: "));
  EXPECT_THAT(*report, HasSubstr("\nunsafe_shutdown_count: not supported: "));
  EXPECT_THAT(*report, HasSubstr("\nbad_blocks: 0\n"));
}

TEST_F(InfoTest, AFileOnAnNvdimmRegionShowsWhatTheDimmsReport) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  ScopedTempDir disk(tmp != nullptr ? tmp : "/var/tmp");
  ::pmem2::testing::ScopedFd fd = CreateFile(disk.Join("f"), 1 << 20, O_RDWR);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  if (major(st.st_dev) == 0) GTEST_SKIP() << "the test folder has no block device";
  ::pmem2::testing::FakeNvdimm fake;
  fake.AddDimm("nmem0", {{"nfit/id", "8086-00123456"}});  // as qemu's emulated NVDIMMs: no dirty_shutdown
  const std::string region = fake.AddRegion(2, {{"numa_node", "0"}, {"mappings", "1"}, {"mapping0", "nmem0,0,1,0"}});
  fake.AddBlockDevice(region + "/pfn2.1", "pmem2", st.st_dev, {{"badblocks", "oops"}});
  absl::StatusOr<std::string> report = Info(disk.Join("f"), {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("\nnvdimm_region: region2\n"));
  EXPECT_THAT(*report, HasSubstr("\nnuma_node: 0\n"));
  EXPECT_THAT(*report, HasSubstr("\ndevice_id: 8086-00123456\n"));
  EXPECT_THAT(*report, HasSubstr("\nunsafe_shutdown_count: not supported: no unsafe shutdown count: NVDIMM nmem0"));
  EXPECT_THAT(*report, HasSubstr("\nbad_blocks: error: "));
  EXPECT_THAT(*report, HasSubstr("(PMEM2_E_INVALID_REGION_FORMAT)\n"));
}

TEST_F(InfoTest, CreatedFilesAreFullyAllocated) {
  // A sparse file would map on a full file system and die of SIGBUS at the first store.
  for (const ::pmem2::testing::FileSystem& fs : ::pmem2::testing::TestFileSystems()) {
    ScopedTempDir dir(fs.base);
    InfoOptions options;
    options.create_size = 1 << 20;
    absl::StatusOr<std::string> report = Info(dir.Join("new"), options);
    ASSERT_TRUE(report.ok()) << fs.name << ": " << report.status();
    struct stat st;
    ASSERT_EQ(stat(dir.Join("new").c_str(), &st), 0) << fs.name;
    EXPECT_EQ(st.st_size, 1 << 20) << fs.name;
    EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{1} << 20) << fs.name << ": sparse";
  }
}

TEST_F(InfoTest, AFileItCreatedIsRemovedWhenMappingFails) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "bogus");  // Map::Create() refuses, after the file exists
  InfoOptions options;
  options.create_size = 1 << 20;
  absl::Status s = Info(dir_.Join("new"), options).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("PMEM2_E_INVALID_FORCED_GRANULARITY"));
  EXPECT_FALSE(Exists(dir_.Join("new"))) << "the file pmem2 info created must be gone";
}

TEST_F(InfoTest, MissingPathIsNotCreatedWithoutCreate) {
  // The mistake this guards against: `pmem2 info /dev/dax9.9` used to leave a 16 MiB regular file there.
  const std::string path = dir_.Join("dax9.9");
  ChildInfo r = InfoInChild(path, InfoOptions());
  ASSERT_FALSE(r.child.timed_out) << r.child.Describe();
  EXPECT_EQ(r.code, absl::StatusCode::kNotFound);
  EXPECT_EQ(r.message, path + ": no such file or directory (pass --create=SIZE to create it)");
  EXPECT_FALSE(Exists(path)) << "pmem2 info created " << path << " without --create";
}

TEST_F(InfoTest, ZeroCreateSizeIsRefusedAndCreatesNothing) {
  InfoOptions options;
  options.create_size = 0;
  absl::Status s = Info(dir_.Join("new"), options).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("--create=0"));
  EXPECT_FALSE(Exists(dir_.Join("new")));
}

TEST_F(InfoTest, CreateOnAFullFileSystemSaysNoSpaceAndLeavesNothing) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount a 1 MiB tmpfs (in a mount namespace of its own)";
  const std::string mount_point = dir_.Join("small");
  ASSERT_EQ(mkdir(mount_point.c_str(), 0755), 0);
  const std::string path = mount_point + "/new";
  ChildResult r = RunInChild([&](int out) {
    if (absl::Status s = MountPrivateTmpfs(mount_point, "1m"); !s.ok()) {
      WriteToParent(out, absl::StrCat("skip: ", s.message()));
      return 3;
    }
    // The namespace dies with the child anyway; unmounting says the test cleans up after itself.
    absl::Cleanup unmount = [&] { umount2(mount_point.c_str(), MNT_DETACH); };
    InfoOptions options;
    options.create_size = 4 << 20;
    absl::Status s = Info(path, options).status();
    // The file lives on the child's tmpfs: look for it here.
    WriteToParent(out, absl::StrCat(static_cast<int>(s.code()), "|", s.message(), "|",
                                    Exists(path) ? "left behind" : "removed"));
    return 0;
  });
  if (r.exited && r.exit_code == 3) GTEST_SKIP() << r.output;
  ASSERT_FALSE(r.timed_out) << r.Describe();
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe() << " (a SIGBUS means the file was not allocated)";
  const std::vector<std::string> parts = absl::StrSplit(r.output, '|');
  ASSERT_EQ(parts.size(), 3u) << r.output;
  EXPECT_EQ(parts[0], absl::StrCat(static_cast<int>(absl::StatusCode::kResourceExhausted)));
  EXPECT_THAT(parts[1], HasSubstr(path + ": cannot allocate 4194304 bytes: No space left on device"));
  EXPECT_THAT(parts[1], HasSubstr("--create=SIZE"));
  EXPECT_EQ(parts[2], "removed");
}

TEST_F(InfoTest, ExistingFileIsNotResized) {
  CreateFile(dir_.Join("f"), 8192, O_RDWR);
  absl::StatusOr<std::string> report = Info(dir_.Join("f"), InfoOptions());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, Not(HasSubstr("(created)")));
  EXPECT_THAT(*report, HasSubstr("\nsize: 8192\n"));
}

TEST_F(InfoTest, ExistingFileIsUsedUnchangedWithCreate) {
  CreateFile(dir_.Join("f"), 8192, O_RDWR);  // sparse: no blocks
  struct stat before;
  ASSERT_EQ(stat(dir_.Join("f").c_str(), &before), 0);
  InfoOptions options;
  options.create_size = 1 << 20;
  absl::StatusOr<std::string> report = Info(dir_.Join("f"), options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, Not(HasSubstr("(created)")));
  EXPECT_THAT(*report, HasSubstr("\nsize: 8192\n"));
  struct stat after;
  ASSERT_EQ(stat(dir_.Join("f").c_str(), &after), 0);
  EXPECT_EQ(after.st_size, 8192);
  EXPECT_EQ(after.st_blocks, before.st_blocks) << "info allocated blocks of a file it did not create";
}

TEST_F(InfoTest, ShowsAForcedGranularity) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
  CreateFile(dir_.Join("f"), 8192, O_RDWR);
  absl::StatusOr<std::string> report = Info(dir_.Join("f"), InfoOptions());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("\ngranularity: cache_line\n"));
  EXPECT_THAT(*report, HasSubstr("\ndetected_granularity: page\n"));
  EXPECT_THAT(*report, HasSubstr("\nforced: yes"));
}

TEST_F(InfoTest, MissingFolderIsOneLine) {
  absl::Status s = Info(dir_.Join("no/such/file"), InfoOptions()).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), dir_.Join("no/such/file") + ": no such file or directory");
}

TEST_F(InfoTest, DirectoryIsOneLine) {
  absl::Status s = Info(dir_.path(), InfoOptions()).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("is a directory"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("\n")));
}

TEST_F(InfoTest, ReadOnlyFifoIsRefusedWithoutBlocking) {
  // Before: the read-write open was refused (EACCES), and the read-only fallback, opened without O_NONBLOCK,
  // waited forever for a writer. Root may open anything read-write, so the child drops to `nobody`.
  const std::string path = dir_.Join("fifo");
  ASSERT_EQ(mkfifo(path.c_str(), 0444), 0);
  ASSERT_EQ(chmod(path.c_str(), 0444), 0);  // past the umask
  ExpectTypeError(InfoInChild(path, InfoOptions(), /*as_nobody=*/true), path, "FIFO");
}

TEST_F(InfoTest, ReadWriteFifoIsRefusedWithoutBlocking) {
  const std::string path = dir_.Join("fifo");
  ASSERT_EQ(mkfifo(path.c_str(), 0666), 0);
  ASSERT_EQ(chmod(path.c_str(), 0666), 0);
  ExpectTypeError(InfoInChild(path, InfoOptions()), path, "FIFO");
  InfoOptions create;
  create.create_size = 1 << 20;  // an existing path is used as it is, never replaced by a new file
  ExpectTypeError(InfoInChild(path, create), path, "FIFO");
}

TEST_F(InfoTest, SocketIsRefused) {
  const std::string path = dir_.Join("sock");
  const int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(s, 0);
  ::pmem2::testing::ScopedFd sock(s);
  struct sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof address.sun_path);
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(s, reinterpret_cast<const struct sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
  ASSERT_EQ(listen(s, 1), 0);
  ExpectTypeError(InfoInChild(path, InfoOptions()), path, "socket");
}

TEST_F(InfoTest, DevNullIsACharacterDeviceThatIsNotDeviceDax) {
  ChildInfo r = InfoInChild("/dev/null", InfoOptions());
  ExpectTypeError(r, "/dev/null", "character device (1:3) that is not Device DAX");
  absl::Status s = Info("/dev/null", InfoOptions()).status();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidFileType) << s;
}

// Opening /dev/ptmx allocates a pseudo-terminal, and opening /dev/tty may reach the session's terminal; info
// must refuse both from their metadata. Closing /dev/ptmx leaves no trace (the pty disappears from /dev/pts,
// and current kernels send no inotify/fanotify events for character devices), so the child is traced and
// every open it starts is recorded.
TEST_F(InfoTest, TerminalDevicesAreNeverOpened) {
  for (const std::string path : {"/dev/ptmx", "/dev/tty"}) {
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) continue;
    SCOPED_TRACE(path);
    ChildResult child = RunInChild(
        [&](int out) {
          absl::Status s = Info(path, InfoOptions()).status();
          WriteToParent(out, s.message());
          // The canary: an open the tracer must see, or an empty list proves nothing.
          const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
          if (fd >= 0) close(fd);
          return 0;
        },
        ChildOptions{absl::Seconds(10), /*trace_opens=*/true});
    if (!child.trace_error.empty()) GTEST_SKIP() << "trace_opens: cannot trace a child's opens: " << child.trace_error;
    ASSERT_FALSE(child.timed_out) << child.Describe();
    ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    EXPECT_THAT(child.output, ::testing::StartsWith(path + ": is a character device"));
    EXPECT_THAT(child.output, EndsWith(kTypeError));
    bool saw_canary = false;
    for (const OpenCall& call : child.opens) {
      if (call.path == "/dev/null") saw_canary = true;
      // O_PATH opens nothing: no driver's open runs. Anything else naming the device, directly or through
      // /proc/self/fd, would have.
      const bool opens_the_device =
          (call.path == path && (call.flags & O_PATH) == 0) || absl::StartsWith(call.path, "/proc/self/fd/");
      EXPECT_FALSE(opens_the_device) << "opened " << call.path << " with flags 0x" << std::hex << call.flags;
    }
    EXPECT_TRUE(saw_canary) << "the tracer recorded " << child.opens.size() << " opens but not the canary";
    // No count of /dev/pts entries: they are the machine's, and any terminal opened elsewhere meanwhile would fail
    // it; the list of opens above is the proof that no device was opened.
  }
}

TEST_F(InfoTest, RefusingADeviceLeavesNoDescriptorOpen) {
  const int before = CountEntries("/proc/self/fd");
  ASSERT_GE(before, 0);
  for (const char* path : {"/dev/ptmx", "/dev/null"}) {
    EXPECT_FALSE(Info(path, InfoOptions()).ok()) << path;
  }
  EXPECT_EQ(CountEntries("/proc/self/fd"), before);
}

TEST_F(InfoTest, EmptyFileIsRefusedWithTheErrorName) {
  CreateFile(dir_.Join("empty"), 0, O_RDWR);
  absl::Status s = Info(dir_.Join("empty"), InfoOptions()).status();
  EXPECT_THAT(std::string(s.message()), HasSubstr("PMEM2_E_SOURCE_EMPTY"));
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kSourceEmpty) << s;
  EXPECT_EQ(s.code(), CanonicalCode(ErrorCode::kSourceEmpty)) << s;
}

TEST_F(InfoTest, ReadOnlyFileIsMappedReadOnly) {
  CreateFile(dir_.Join("ro"), 4096, O_RDWR);
  ASSERT_EQ(chmod(dir_.Join("ro").c_str(), 0444), 0);
  // Root may open any file read-write: the child drops to `nobody`, so the read-only fallback runs.
  ChildInfo r = InfoInChild(dir_.Join("ro"), InfoOptions(), /*as_nobody=*/true);
  ASSERT_FALSE(r.child.timed_out) << r.child.Describe();
  ASSERT_TRUE(r.child.exited && r.child.exit_code == 0) << r.child.Describe();
  ASSERT_EQ(r.code, absl::StatusCode::kOk) << r.message;
  EXPECT_THAT(r.message, HasSubstr("\naccess: read-only\n"));
}

TEST_F(InfoTest, NoPermissionIsOneLine) {
  // As anyone else, the file would be the test's own, and readable.
  if (geteuid() != 0) GTEST_SKIP() << "needs root, to check from a child that drops to user nobody (65534)";
  CreateFile(dir_.Join("secret"), 4096, O_RDWR);
  ASSERT_EQ(chmod(dir_.Join("secret").c_str(), 0600), 0);
  ASSERT_EQ(chmod(dir_.path().c_str(), 0755), 0);
  // Root reads anything: check from a child that drops to an unprivileged user.
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (!BecomeUser(kNobody, kNobody)) _exit(2);
    absl::Status s = Info(dir_.Join("secret"), InfoOptions()).status();
    _exit(s.code() == absl::StatusCode::kPermissionDenied &&
                  s.message() == dir_.Join("secret") + ": permission denied"
              ? 0
              : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "exit 1: wrong error; exit 2: could not drop privileges";
}

TEST(ParseByteSizeTest, TakesBytesAndPowersOf1024) {
  const std::vector<std::pair<std::string, uint64_t>> cases = {
      {"1", 1},          {"4096", 4096},        {"1K", 1024},
      {"16M", 16 << 20}, {"2G", uint64_t{2} << 30}, {"1KiB", 1024},
      {"16MiB", 16 << 20}, {"3GiB", uint64_t{3} << 30}, {"9223372036854775807", 9223372036854775807u},
  };
  for (const auto& [text, bytes] : cases) {
    absl::StatusOr<uint64_t> parsed = ParseByteSize("--create", text);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(*parsed, bytes) << text;
  }
}

TEST(ParseByteSizeTest, RefusesWithTheValueNamed) {
  for (const std::string text : {"", "0", "0M", "-1", "+1", " 1", "1 ", "1.5M", "16MB", "16KB", "16m", "M", "abc",
                                 "0x10", "1e6"}) {
    absl::StatusOr<uint64_t> parsed = ParseByteSize("--create", text);
    ASSERT_FALSE(parsed.ok()) << "\"" << text << "\" parsed as " << *parsed;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(parsed.status().message()), ::testing::StartsWith("--create=" + text + ": ")) << text;
  }
  EXPECT_THAT(std::string(ParseByteSize("--create", "0").status().message()), HasSubstr("at least 1 byte"));
  EXPECT_THAT(std::string(ParseByteSize("--create", "16MB").status().message()), HasSubstr("e.g. 16M"));
  for (const std::string text : {"9223372036854775808", "18446744073709551616", "99999999999999999999999",
                                 "8589934592G", "8796093022208MiB"}) {
    absl::StatusOr<uint64_t> parsed = ParseByteSize("--create_size", text);
    ASSERT_FALSE(parsed.ok()) << text << " parsed as " << *parsed;
    EXPECT_EQ(parsed.status().message(),
              "--create_size=" + text + ": too large; at most 9223372036854775807 bytes");
  }
}

}  // namespace
}  // namespace tools
}  // namespace pmem2
