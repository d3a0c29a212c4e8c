// Copyright 2026 The pmem2 Authors.
//
// A forked child maps its shared writable Maps of files again through file descriptions of its own
// (map_registry.h, ChildReopenHandle), so that parent and child each hear of every write-back failure. That the
// kernel then tells both is tested on a failing file system in persistence_failure_test.cc (root only); these
// tests check the mechanism without root: the handle per file, which Maps get one, that a child's Maps keep their
// memory and file offsets after being mapped again, and what a child that cannot do it says.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/vm_reservation/vm_reservation.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/huge_pages.h"
#include "testing/proc_maps.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::map_internal::ChildQueriedMapsForTest;
using ::pmem2::map_internal::ChildReopenHandleCountForTest;
using ::pmem2::map_internal::ChildReopenHandleForTest;
using ::pmem2::map_internal::FailProcmapQueryInChildForTest;
using ::pmem2::map_internal::KernelHasProcmapQueryForTest;
using ::pmem2::map_internal::MappedAgainInChildForTest;
using ::pmem2::map_internal::MapsUnreadableInChildForTest;
using ::pmem2::map_internal::ProbeAtInChildForTest;
using ::pmem2::map_internal::RemapsInChildForTest;
using ::pmem2::map_internal::UseProcmapQueryInChildForTest;
using ::pmem2::testing::ChildResult;
using ::pmem2::testing::CreateFile;
using ::pmem2::testing::Mapping;
using ::pmem2::testing::MappingAt;
using ::pmem2::testing::ProtectionAt;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::testing::WriteToParent;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

absl::StatusOr<Map> MapFd(int fd, Protection protection = kProtRead | kProtWrite, uint64_t offset = 0,
                          VmReservation* reservation = nullptr) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_protection(protection);
  config.set_offset(offset);
  if (reservation != nullptr) config.set_vm_reservation(reservation, 0);
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return source.status();
  return Map::Create(config, *source);
}

struct stat Stat(int fd) {
  struct stat st {};
  EXPECT_EQ(fstat(fd, &st), 0) << std::strerror(errno);
  return st;
}

// The lines of /proc/self/maps that map a file of testing::CreateHugetlbFile().
int LinesOfTheHugetlbFile() {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  for (std::string line; std::getline(maps, line);) count += absl::StrContains(line, "pmem2-test-hugetlb");
  return count;
}

class ChildDescriptionTest : public ::testing::Test {
 protected:
  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{"/dev/shm"};
};

// The tests of what a child maps again run twice: the child asking /proc/self/maps about the Maps' ranges
// (PROCMAP_QUERY, where the kernel has it: Linux 6.11), and the child reading all of it (as on older kernels).
class ChildMapsAgainTest : public ChildDescriptionTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override { UseProcmapQueryInChildForTest(GetParam()); }
  void TearDown() override { UseProcmapQueryInChildForTest(true); }

  // For the child to say: "" if it learned its mappings the way this run asks.
  static std::string ReaderMismatch() {
    const bool expected = GetParam() && KernelHasProcmapQueryForTest();
    if (ChildQueriedMapsForTest() == expected) return "";
    return expected ? "the child did not use PROCMAP_QUERY; " : "the child used PROCMAP_QUERY; ";
  }
};

INSTANTIATE_TEST_SUITE_P(Readers, ChildMapsAgainTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& reader) { return reader.param ? "Query" : "Read"; });

TEST_F(ChildDescriptionTest, EachFileMappedSharedAndWritableHasOneOPathHandle) {
  const size_t before = ChildReopenHandleCountForTest();
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  const struct stat st = Stat(fd.get());
  absl::StatusOr<Map> first = MapFd(fd.get());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Map> second = MapFd(fd.get());
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(first->diagnostics().forked_child_gets_own_description);
  EXPECT_EQ(first->diagnostics().why_forked_child_shares_description, "");
  EXPECT_TRUE(RemapsInChildForTest(first->address()));
  EXPECT_EQ(ChildReopenHandleCountForTest(), before + 1) << "one per file, not per Map";
  const int handle = ChildReopenHandleForTest(st.st_dev, st.st_ino);
  ASSERT_GE(handle, 0);
  EXPECT_NE(handle, fd.get());
  EXPECT_EQ(fcntl(handle, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  EXPECT_EQ(fcntl(handle, F_GETFL) & O_PATH, O_PATH) << "closing it must release no fcntl lock";

  // The caller may close its descriptor: the Maps still persist to the file.
  fd = ScopedFd();
  std::memcpy(first->address(), "first", 5);
  EXPECT_TRUE(first->Persist(first->address(), 5).ok());

  first = absl::InternalError("destroyed");
  EXPECT_EQ(ChildReopenHandleCountForTest(), before + 1) << "the second Map still uses it";
  second = absl::InternalError("destroyed");
  EXPECT_EQ(ChildReopenHandleCountForTest(), before) << "closed with the file's last Map";
  EXPECT_EQ(ChildReopenHandleForTest(st.st_dev, st.st_ino), -1);
}

// A Map adopted with FromExisting() leaves its mapping to whoever made it (map.h: not covered): no handle, and a
// forked child maps nothing again over it (that would replace another library's mapping under it), so the child's
// stores through the range still reach the file.
TEST_F(ChildDescriptionTest, AnAdoptedMapGetsNoHandleAndIsNotMappedAgainInAChild) {
  const size_t before = ChildReopenHandleCountForTest();
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  void* mapping = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(mapping, MAP_FAILED);
  const absl::Cleanup unmap = [mapping] { munmap(mapping, 2 * kPage); };
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<Map> adopted = Map::FromExisting(*source, mapping, 2 * kPage, StoreGranularity::kPage);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_FALSE(RemapsInChildForTest(mapping));
  EXPECT_EQ(ChildReopenHandleCountForTest(), before);
  char* const bytes = static_cast<char*>(mapping);
  ChildResult child = RunInChild([&](int out) {
    if (MappedAgainInChildForTest() != 0) WriteToParent(out, "the adopted Map was mapped again; ");
    std::memcpy(bytes + kPage, "child", 5);
    const absl::Status persisted = adopted->Persist(bytes + kPage, 5);
    if (!persisted.ok()) WriteToParent(out, persisted.ToString());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  char read_back[5];
  ASSERT_EQ(pread(fd.get(), read_back, 5, static_cast<off_t>(kPage)), 5);
  EXPECT_EQ(std::string(read_back, 5), "child");
}

// The count of a forked child's Maps that cannot vouch for a persist and whose callers were not told yet
// (page_sync_shared.untold_unvouched_maps, which every page persist looks at) follows the Maps: one counted, then
// dropped as stale (part of its range unmapped behind pmem2's back and mapped again: no persist's look finds it any
// more), none; and a grandchild that cannot map it again either counts it afresh. (A dropped Map stayed counted, and
// its destruction in a grandchild took away another Map's count. Found by review.)
TEST_F(ChildDescriptionTest, TheCountOfMapsToTellFollowsAMapDroppedAsStale) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  const ChildResult child = RunInChild([&](int out) {
    absl::StatusOr<Map> map = MapFd(fd.get());
    if (!map.ok()) return 2;
    // Every descriptor number below the limit taken: the children's fork handlers cannot open one.
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 3;
    limit.rlim_cur = 64;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 4;
    std::vector<int> fillers;
    fillers.reserve(64);
    for (int filler = dup(STDIN_FILENO); filler >= 0; filler = dup(STDIN_FILENO)) fillers.push_back(filler);
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      std::string seen = absl::StrCat("forked ", map_internal::page_sync_shared.untold_unvouched_maps.load());
      // The failure is recorded (by the fork): numbers given back for the sanitizers, whose checks of memory make a
      // pipe (with none, UBSan took a live object's vptr for invalid).
      for (size_t i = 0; i < 4 && i < fillers.size(); ++i) close(fillers[fillers.size() - 1 - i]);
      char* const base = static_cast<char*>(map->address());
      if (munmap(base + kPage, kPage) != 0) _exit(5);
      absl::StatusOr<VmReservation> placed = VmReservation::CreateAt(base + kPage, kPage);  // drops the Map's record
      if (!placed.ok()) _exit(6);
      absl::StrAppend(&seen, ", dropped ", map_internal::page_sync_shared.untold_unvouched_maps.load());
      WriteToParent(out, seen);
      _exit(0);
    }
    int status = 0;
    if (grandchild < 0 || waitpid(grandchild, &status, 0) != grandchild || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
      return 7;
    }
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "forked 1, dropped 0");
}

// fcntl(2) record locks are released when the process closes any descriptor of the file that is not O_PATH: the
// handle's coming and going must leave the caller's lock alone. Seen from a child, which is refused the lock while
// the parent holds it.
TEST_F(ChildDescriptionTest, MapsComingAndGoingKeepTheCallersRecordLocks) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  ASSERT_EQ(fcntl(fd.get(), F_SETLK, &lock), 0) << std::strerror(errno);
  {
    absl::StatusOr<Map> map = MapFd(fd.get());
    ASSERT_TRUE(map.ok()) << map.status();
  }
  const std::string path = dir_.Join("f");
  ChildResult child = RunInChild([&](int out) {
    ScopedFd other(open(path.c_str(), O_RDWR));
    struct flock mine {};
    mine.l_type = F_WRLCK;
    mine.l_whence = SEEK_SET;
    if (fcntl(other.get(), F_SETLK, &mine) == 0) WriteToParent(out, "the parent's lock was gone");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// Shared Maps of files made through a descriptor opened for writing get one, read-only Maps too: the kernel makes
// such a mapping VM_SHARED whatever its protection, and its msync syncs the file through the description (a child's
// persist of it would take the parent's write-back error report). Through a read-only descriptor, private and
// anonymous Maps, none.
TEST_F(ChildDescriptionTest, OnlySharedMappingsOfFilesThroughAWritableDescriptorGetOne) {
  const size_t before = ChildReopenHandleCountForTest();
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  {
    absl::StatusOr<Map> read_only = MapFd(fd.get(), kProtRead);
    ASSERT_TRUE(read_only.ok()) << read_only.status();
    EXPECT_TRUE(read_only->diagnostics().forked_child_gets_own_description);
    EXPECT_TRUE(RemapsInChildForTest(read_only->address()));
    EXPECT_EQ(ChildReopenHandleCountForTest(), before + 1);
  }
  ScopedFd read_only_fd(open(dir_.Join("f").c_str(), O_RDONLY));
  ASSERT_GE(read_only_fd.get(), 0);
  absl::StatusOr<Map> read_only = MapFd(read_only_fd.get(), kProtRead);  // its msync syncs nothing
  ASSERT_TRUE(read_only.ok()) << read_only.status();
  EXPECT_FALSE(read_only->diagnostics().forked_child_gets_own_description);
  EXPECT_EQ(read_only->diagnostics().why_forked_child_shares_description, "");
  EXPECT_FALSE(RemapsInChildForTest(read_only->address()));

  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_sharing(Sharing::kPrivate);  // stores never reach the file
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<Map> private_map = Map::Create(config, *source);
  ASSERT_TRUE(private_map.ok()) << private_map.status();
  EXPECT_FALSE(private_map->diagnostics().forked_child_gets_own_description);

  absl::StatusOr<Source> anonymous = Source::Anonymous(kPage);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  absl::StatusOr<Map> anonymous_map = Map::Create(config, *anonymous);
  ASSERT_TRUE(anonymous_map.ok()) << anonymous_map.status();
  EXPECT_FALSE(anonymous_map->diagnostics().forked_child_gets_own_description);
  EXPECT_EQ(ChildReopenHandleCountForTest(), before);
}

// A file this process could not open again for writing (created read-only through a writable descriptor): a child
// could not either, so there is no handle, and a child shares the description instead of failing every persist.
// Only without privileges: root may open it.
TEST_F(ChildDescriptionTest, AFileTheProcessCouldNotOpenAgainForWritingGetsNoHandle) {
  if (geteuid() == 0) GTEST_SKIP() << "root may open a read-only file for writing";
  const std::string path = dir_.Join("read-only");
  ScopedFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0444));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  ASSERT_EQ(ftruncate(fd.get(), static_cast<off_t>(kPage)), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_FALSE(map->diagnostics().forked_child_gets_own_description);
  EXPECT_THAT(map->diagnostics().why_forked_child_shares_description,
              ::testing::HasSubstr("could not open the file again for writing"));
  EXPECT_FALSE(RemapsInChildForTest(map->address()));
  ChildResult child = RunInChild([&](int out) {
    std::memcpy(map->address(), "child", 5);
    const absl::Status persisted = map->Persist(map->address(), 5);
    if (!persisted.ok()) WriteToParent(out, persisted.ToString());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// Maps at a file offset, one of them in a reservation: in the child each is mapped again (counted), still shows
// what the parent stored at its offset, and the child's stores reach the file there and the parent.
TEST_P(ChildMapsAgainTest, AForkedChildMapsItsMapsAgainWithTheirMemoryAndOffsets) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 8 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> at_offset = MapFd(fd.get(), kProtRead | kProtWrite, 2 * kPage);
  ASSERT_TRUE(at_offset.ok()) << at_offset.status();
  absl::StatusOr<VmReservation> reservation = VmReservation::Create(16 * kPage);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  absl::StatusOr<Map> reserved = MapFd(fd.get(), kProtRead | kProtWrite, 4 * kPage, &*reservation);
  ASSERT_TRUE(reserved.ok()) << reserved.status();
  char* offset_base = static_cast<char*>(at_offset->address());
  char* reserved_base = static_cast<char*>(reserved->address());
  std::memcpy(offset_base, "parent-2", 8);
  std::memcpy(reserved_base, "parent-4", 8);

  ChildResult child = RunInChild([&](int out) {
    WriteToParent(out, ReaderMismatch());
    if (MappedAgainInChildForTest() != 2) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " Maps mapped again, not 2; "));
    }
    if (std::memcmp(offset_base, "parent-2", 8) != 0) WriteToParent(out, "the Map at offset 2 pages lost it; ");
    if (std::memcmp(reserved_base, "parent-4", 8) != 0) WriteToParent(out, "the reserved Map lost it; ");
    std::memcpy(offset_base + 8, "child-2", 7);
    std::memcpy(reserved_base + 8, "child-4", 7);
    for (const Map* map : {&*at_offset, &*reserved}) {
      const absl::Status persisted = map->Persist(map->address(), 15);
      if (!persisted.ok()) WriteToParent(out, persisted.ToString());
    }
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(std::string(offset_base, 15), "parent-2child-2");
  EXPECT_EQ(std::string(reserved_base, 15), "parent-4child-4");
  char read_back[15] = {};
  ASSERT_EQ(pread(fd.get(), read_back, 15, static_cast<off_t>(2 * kPage)), 15);
  EXPECT_EQ(std::string(read_back, 15), "parent-2child-2");
  ASSERT_EQ(pread(fd.get(), read_back, 15, static_cast<off_t>(4 * kPage)), 15);
  EXPECT_EQ(std::string(read_back, 15), "parent-4child-4");
  EXPECT_TRUE(at_offset->PersistError().ok()) << at_offset->PersistError();
  EXPECT_EQ(MappedAgainInChildForTest(), 0u) << "this process is no forked child";
}

// A read-only Map made through a writable descriptor is mapped again in a child, read-only, with the file's bytes;
// the child's persist of it goes through the child's own description.
TEST_P(ChildMapsAgainTest, AReadOnlyMapIsMappedAgainReadOnly) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(pwrite(fd.get(), "in the file", 11, 0), 11);
  absl::StatusOr<Map> read_only = MapFd(fd.get(), kProtRead);
  ASSERT_TRUE(read_only.ok()) << read_only.status();
  const char* base = static_cast<const char*>(read_only->address());
  ChildResult child = RunInChild([&](int out) {
    WriteToParent(out, ReaderMismatch());
    if (MappedAgainInChildForTest() != 1) WriteToParent(out, "the read-only Map was not mapped again; ");
    if (std::memcmp(base, "in the file", 11) != 0) WriteToParent(out, "its bytes are not the file's; ");
    const absl::Status persisted = read_only->Persist(base, kPage);
    if (!persisted.ok()) WriteToParent(out, persisted.ToString());
    WriteToParent(out, ProtectionAt(base));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "r--s");
}

// Two Maps of a file's consecutive pages side by side in a reservation, which the kernel merges into one mapping:
// each is mapped again, once.
TEST_P(ChildMapsAgainTest, TwoMapsInOneMappingOfTheKernelAreEachMappedAgain) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<VmReservation> reservation = VmReservation::Create(2 * kPage);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  std::vector<Map> maps;
  for (size_t page = 0; page < 2; ++page) {
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    config.set_offset(page * kPage);
    config.set_length(kPage);
    config.set_vm_reservation(&*reservation, page * kPage);
    absl::StatusOr<Map> map = Map::Create(config, *source);
    ASSERT_TRUE(map.ok()) << map.status();
    static_cast<char*>(map->address())[0] = static_cast<char>('a' + page);
    maps.push_back(*std::move(map));
  }
  const absl::optional<Mapping> first = MappingAt(maps[0].address());
  ASSERT_TRUE(first.has_value());
  if (first->end < reinterpret_cast<uintptr_t>(maps[1].address()) + kPage) {
    GTEST_SKIP() << "the kernel kept the two mappings apart";
  }
  ChildResult child = RunInChild([&](int out) {
    WriteToParent(out, ReaderMismatch());
    if (MappedAgainInChildForTest() != 2) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 2; "));
    }
    for (size_t page = 0; page < 2; ++page) {
      if (static_cast<const char*>(maps[page].address())[0] != static_cast<char>('a' + page)) {
        WriteToParent(out, absl::StrCat("Map ", page, " lost its memory; "));
      }
      if (ProtectionAt(maps[page].address()) != "rw-s") WriteToParent(out, absl::StrCat("Map ", page, " is gone; "));
    }
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// A grandchild that cannot open its description or learn what it has of its Maps (openat refused), or cannot map
// through its description (mremap refused): its Map says so (a sticky error with the errno) and
// keeps its memory; nothing it persists is vouched for. The child that forked it, which could, is unaffected.
TEST_F(ChildDescriptionTest, AChildThatCannotMapThroughItsOwnDescriptionSaysSoAndKeepsItsMemory) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* base = static_cast<char*>(map->address());
  std::memcpy(base, "kept", 4);

  for (const auto& [call, error] : {std::pair<unsigned, int>{__NR_openat, EACCES}, {__NR_mremap, ENOMEM}}) {
    SCOPED_TRACE(call == __NR_openat ? "openat refused" : "mremap refused");
    ChildResult child = RunInChild([&, call = call, error = error](int out) {
      testing::DenySystemCall(call, error);
      const uint64_t failures = PersistErrorCount();
      const pid_t grandchild = fork();
      if (grandchild == 0) {
        const absl::Status sticky = map->PersistError();
        const bool says_so = !sticky.ok() && GetErrno(sticky) == error &&
                             absl::StrContains(sticky.message(), "could not map") &&
                             absl::StrContains(sticky.message(), "file description of its own");
        const bool memory_kept = std::memcmp(base, "kept", 4) == 0;
        const bool persist_fails = !map->Persist(base, 4).ok();
        // No acknowledgement ends it: the child's persists still share its parent's description.
        const bool kept_after_clear = !map->ClearPersistError().ok() && !map->PersistError().ok();
        _exit(says_so && memory_kept && persist_fails && kept_after_clear && PersistErrorCount() == failures + 1 ? 0
                                                                                                                 : 1);
      }
      int status = 0;
      if (waitpid(grandchild, &status, 0) != grandchild) return 2;
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) WriteToParent(out, "the grandchild's Map did not say so");
      if (!map->PersistError().ok()) WriteToParent(out, "the child's own Map failed");
      return 0;
    });
    ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    EXPECT_EQ(child.output, "");
  }
  EXPECT_TRUE(map->PersistError().ok()) << map->PersistError();
}

// A child refused PROCMAP_QUERY (a seccomp filter that denies ioctl, or a sandbox's kernel without it that answers
// otherwise than ENOTTY) reads all of /proc/self/maps instead, and maps its Maps again all the same.
TEST_F(ChildDescriptionTest, AChildRefusedProcmapQueryReadsTheFileInstead) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  for (const int error : {EPERM, ENOSYS, EINVAL}) {
    SCOPED_TRACE(std::strerror(error));
    ChildResult child = RunInChild([&, error = error](int) {
      testing::DenySystemCall(__NR_ioctl, error);
      const pid_t grandchild = fork();
      if (grandchild == 0) {
        _exit(map->PersistError().ok() && MappedAgainInChildForTest() == 1 && !ChildQueriedMapsForTest() ? 0 : 1);
      }
      int status = 0;
      return waitpid(grandchild, &status, 0) == grandchild && WIFEXITED(status) ? WEXITSTATUS(status) : 2;
    });
    EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  }
}

// A file whose permissions were taken away after it was mapped: the child cannot open its own description of it,
// and says so. Only without privileges: root may open it.
TEST_F(ChildDescriptionTest, AChildThatMayNoLongerOpenTheFileSaysSo) {
  if (geteuid() == 0) GTEST_SKIP() << "root may open a file without permissions";
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_TRUE(RemapsInChildForTest(map->address()));
  ASSERT_EQ(fchmod(fd.get(), 0), 0) << std::strerror(errno);
  ChildResult child = RunInChild([&](int out) {
    const absl::Status sticky = map->PersistError();
    if (sticky.ok() || GetErrno(sticky) != EACCES) WriteToParent(out, "the child's Map: " + sticky.ToString());
    if (MappedAgainInChildForTest() != 0) WriteToParent(out, "mapped again; ");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_TRUE(map->PersistError().ok()) << map->PersistError();
}

// A Map the child does not have at all (MADV_DONTFORK on all of it) is left alone; of one it has only in part, the
// part it has is mapped again and the missing part stays missing. Neither is an error: the child has its own
// description for all of the Maps' memory it has.
TEST_P(ChildMapsAgainTest, AChildMapsAgainOnlyWhatItHasOfAMap) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> whole = MapFd(fd.get(), kProtRead | kProtWrite, 0);
  ASSERT_TRUE(whole.ok()) << whole.status();
  absl::StatusOr<Map> part = MapFd(fd.get(), kProtRead | kProtWrite, 2 * kPage);
  ASSERT_TRUE(part.ok()) << part.status();
  char* const kept = static_cast<char*>(part->address()) + kPage;
  std::memcpy(kept, "parent", 6);
  ASSERT_EQ(madvise(whole->address(), whole->size(), MADV_DONTFORK), 0) << std::strerror(errno);
  ASSERT_EQ(madvise(part->address(), kPage, MADV_DONTFORK), 0) << std::strerror(errno);
  ChildResult child = RunInChild([&](int out) {
    WriteToParent(out, ReaderMismatch());
    if (MappedAgainInChildForTest() != 1) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 1; "));
    }
    if (!whole->PersistError().ok()) WriteToParent(out, "the missing Map: " + whole->PersistError().ToString());
    if (!part->PersistError().ok()) WriteToParent(out, "the part: " + part->PersistError().ToString());
    // Missing, or (under ThreadSanitizer, whose runtime maps pages while the child is made) someone else's page:
    // never the Map's file again.
    if (ProtectionAt(part->address()) == "rw-s") WriteToParent(out, "the missing page was mapped; ");
    if (ProtectionAt(kept) != "rw-s" || std::memcmp(kept, "parent", 6) != 0) WriteToParent(out, "the kept page; ");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// The application's own mappings over parts of a Map (MAP_FIXED) are the application's in the child too, however
// much they look like the Map's: a shared anonymous page (offset 0, like the Map's first page) and a memfd page
// (other devices) at the Map's offsets; an anonymous page; another file's page on the same file system at the very
// file offset the Map had there; and the Map's own file at another offset. Only the Map's pages between them are
// mapped again.
TEST_P(ChildMapsAgainTest, MappingsTheApplicationPutOverPartsOfAMapAreKeptInTheChild) {
  constexpr size_t kPages = 7;
  ScopedFd fd = CreateFile(dir_.Join("f"), kPages * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  ScopedFd other = CreateFile(dir_.Join("other"), kPages * kPage, O_RDWR);
  ASSERT_GE(other.get(), 0);
  ASSERT_EQ(pwrite(other.get(), "other file", 10, static_cast<off_t>(2 * kPage)), 10) << std::strerror(errno);
  ScopedFd memfd(static_cast<int>(syscall(SYS_memfd_create, "pmem2-test", 0)));
  ASSERT_GE(memfd.get(), 0) << std::strerror(errno);
  ASSERT_EQ(ftruncate(memfd.get(), static_cast<off_t>(kPages * kPage)), 0) << std::strerror(errno);
  ASSERT_EQ(pwrite(memfd.get(), "memfd", 5, static_cast<off_t>(4 * kPage)), 5) << std::strerror(errno);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* const base = static_cast<char*>(map->address());
  for (size_t page = 0; page < kPages; ++page) base[page * kPage] = static_cast<char>('a' + page);
  const auto put = [&](size_t page, int flags, int file, size_t offset) {
    return mmap(base + page * kPage, kPage, PROT_READ | PROT_WRITE, MAP_FIXED | flags, file,
                static_cast<off_t>(offset));
  };
  ASSERT_NE(put(1, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), MAP_FAILED) << std::strerror(errno);
  std::memcpy(base + kPage, "application", 11);
  ASSERT_NE(put(2, MAP_SHARED, other.get(), 2 * kPage), MAP_FAILED) << std::strerror(errno);
  ASSERT_NE(put(0, MAP_SHARED | MAP_ANONYMOUS, -1, 0), MAP_FAILED) << std::strerror(errno);
  std::memcpy(base, "shared", 6);
  ASSERT_NE(put(4, MAP_SHARED, memfd.get(), 4 * kPage), MAP_FAILED) << std::strerror(errno);
  ASSERT_NE(put(5, MAP_SHARED, fd.get(), 0), MAP_FAILED) << std::strerror(errno);
  ChildResult child = RunInChild([&](int out) {
    WriteToParent(out, ReaderMismatch());
    if (MappedAgainInChildForTest() != 2) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 2; "));
    }
    if (ProtectionAt(base + kPage) != "rw-p" || std::memcmp(base + kPage, "application", 11) != 0) {
      WriteToParent(out, "the anonymous page was replaced; ");
    }
    if (std::memcmp(base + 2 * kPage, "other file", 10) != 0) {
      WriteToParent(out, "the other file's page was replaced; ");
    }
    if (std::memcmp(base, "shared", 6) != 0) WriteToParent(out, "the shared anonymous page was replaced; ");
    std::memcpy(base, "child!", 6);  // the parent sees it if the page is still the one it shares
    if (std::memcmp(base + 4 * kPage, "memfd", 5) != 0) WriteToParent(out, "the memfd page was replaced; ");
    if (base[5 * kPage] != 'a') WriteToParent(out, "the page of the file's offset 0 was replaced; ");
    if (base[3 * kPage] != 'd' || base[6 * kPage] != 'g') WriteToParent(out, "the Map's pages lost their memory; ");
    if (!map->PersistError().ok()) WriteToParent(out, map->PersistError().ToString());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(std::string(base, 6), "child!");
}

// The child's probe (a page of the file mapped through the child's description, to learn how the kernel names the
// file) in a hole MADV_DONTFORK left in a Map, at the very offset the Map had there: it is no piece of the Map, and
// the hole is a hole again afterwards. Nothing of the probe stays in the child.
TEST_F(ChildDescriptionTest, AProbeInAHoleOfAMapIsNoPieceOfItAndIsGoneAfterwards) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer's runtime maps a page into such a hole in the child before the fork handler runs";
#endif
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(madvise(map->address(), kPage, MADV_DONTFORK), 0) << std::strerror(errno);
  ProbeAtInChildForTest(map->address());
  ChildResult child = RunInChild([&](int out) {
    if (MappedAgainInChildForTest() != 1) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 1; "));
    }
    if (!map->PersistError().ok()) WriteToParent(out, map->PersistError().ToString());
    if (ProtectionAt(map->address()) != "") WriteToParent(out, "the hole holds " + ProtectionAt(map->address()));
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);) {
      if (absl::StrContains(line, dir_.path()) && absl::StrContains(line, "---s")) WriteToParent(out, line + "; ");
    }
    return 0;
  });
  ProbeAtInChildForTest(nullptr);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// A child whose probe cannot be mapped (here: asked for an address the Map holds, MAP_FIXED_NOREPLACE) cannot tell
// the Map's own mappings from others, maps nothing again, and says so with the errno.
TEST_F(ChildDescriptionTest, AChildWhoseProbeCannotBeMappedSaysSo) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  std::memcpy(map->address(), "kept", 4);
  ProbeAtInChildForTest(map->address());
  ChildResult child = RunInChild([&](int out) {
    const absl::Status sticky = map->PersistError();
    if (sticky.ok() || GetErrno(sticky) != EEXIST) WriteToParent(out, "the child's Map: " + sticky.ToString());
    if (MappedAgainInChildForTest() != 0) WriteToParent(out, "mapped again; ");
    if (std::memcmp(map->address(), "kept", 4) != 0) WriteToParent(out, "the memory was lost; ");
    return 0;
  });
  ProbeAtInChildForTest(nullptr);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_TRUE(map->PersistError().ok()) << map->PersistError();
}

// A PROCMAP_QUERY that fails after others succeeded: the child starts again reading the whole file, and maps each
// Map again once.
TEST_F(ChildDescriptionTest, AChildWhoseQueryFailsHalfWayReadsTheFileInstead) {
  if (!KernelHasProcmapQueryForTest()) GTEST_SKIP() << "no PROCMAP_QUERY here";
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> first = MapFd(fd.get());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Map> second = MapFd(fd.get());
  ASSERT_TRUE(second.ok()) << second.status();
  FailProcmapQueryInChildForTest(2);
  ChildResult child = RunInChild([&](int out) {
    if (ChildQueriedMapsForTest()) WriteToParent(out, "the child kept its queries; ");
    if (MappedAgainInChildForTest() != 2) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 2; "));
    }
    for (const Map* map : {&*first, &*second}) {
      if (!map->PersistError().ok()) WriteToParent(out, map->PersistError().ToString());
    }
    return 0;
  });
  FailProcmapQueryInChildForTest(-1);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// An mprotect(2) of part of a Map: each part is mapped again with the protection it has.
TEST_P(ChildMapsAgainTest, AProtectionChangedOverPartOfAMapIsKeptInTheChild) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* const read_only = static_cast<char*>(map->address()) + kPage;
  ASSERT_EQ(mprotect(read_only, kPage, PROT_READ), 0) << std::strerror(errno);
  ChildResult child = RunInChild([&](int out) {
    WriteToParent(out, ReaderMismatch());
    if (MappedAgainInChildForTest() != 2) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 2; "));
    }
    const std::string first = ProtectionAt(map->address());
    const std::string second = ProtectionAt(read_only);
    if (first != "rw-s" || second != "r--s") WriteToParent(out, "protections " + first + ", " + second);
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// The child reads /proc/self/maps in parts of a page: a Map of a file whose path is longer than that, and a Map after
// it, are both mapped again.
TEST_P(ChildMapsAgainTest, AMapOfAFileWhosePathIsLongerThanAPageIsMappedAgain) {
  // Folders of 200 characters, opened one below the other: the whole path is longer than PATH_MAX.
  const std::string name(200, 'd');
  std::vector<ScopedFd> folders;
  folders.emplace_back(open(dir_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_GE(folders.back().get(), 0) << std::strerror(errno);
  while (folders.size() < 24) {
    ASSERT_EQ(mkdirat(folders.back().get(), name.c_str(), 0700), 0) << std::strerror(errno);
    ScopedFd below(openat(folders.back().get(), name.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_GE(below.get(), 0) << std::strerror(errno);
    folders.push_back(std::move(below));
  }
  ScopedFd deep(openat(folders.back().get(), "f", O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_GE(deep.get(), 0) << std::strerror(errno);
  ASSERT_EQ(ftruncate(deep.get(), static_cast<off_t>(kPage)), 0) << std::strerror(errno);
  ScopedFd shallow = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(shallow.get(), 0);
  {
    absl::StatusOr<Map> first = MapFd(shallow.get());
    ASSERT_TRUE(first.ok()) << first.status();
    absl::StatusOr<Map> long_path = MapFd(deep.get());
    ASSERT_TRUE(long_path.ok()) << long_path.status();
    absl::StatusOr<Map> last = MapFd(shallow.get());
    ASSERT_TRUE(last.ok()) << last.status();
    ChildResult child = RunInChild([&](int out) {
      WriteToParent(out, ReaderMismatch());
      if (MappedAgainInChildForTest() != 3) {
        WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 3"));
      }
      return 0;
    });
    EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    EXPECT_EQ(child.output, "");
  }
  // Removed here: the temporary folder's own removal goes by path, and this one is too long for that.
  ASSERT_EQ(unlinkat(folders.back().get(), "f", 0), 0) << std::strerror(errno);
  while (folders.size() > 1) {
    folders.pop_back();
    ASSERT_EQ(unlinkat(folders.back().get(), name.c_str(), AT_REMOVEDIR), 0) << std::strerror(errno);
  }
}

// The handle's number closed by the application and reused for another file (close_range, dup2): a child must not
// map the Map through that other file (ESTALE instead), and the Map's end must not close the application's descriptor.
TEST_F(ChildDescriptionTest, AHandleNumberReusedForAnotherFileIsNeitherMappedNorClosed) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  ScopedFd other = CreateFile(dir_.Join("other"), kPage, O_RDWR);
  ASSERT_GE(other.get(), 0);
  const struct stat st = Stat(fd.get());
  ChildResult child = RunInChild([&](int out) {
    absl::StatusOr<Map> map = MapFd(fd.get());
    if (!map.ok()) return 2;
    const int handle = ChildReopenHandleForTest(st.st_dev, st.st_ino);
    if (handle < 0 || dup2(other.get(), handle) != handle) return 3;
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      const absl::Status error = map->PersistError();
      _exit(!error.ok() && GetErrno(error) == ESTALE && MappedAgainInChildForTest() == 0 ? 0 : 1);
    }
    int status = 0;
    if (waitpid(grandchild, &status, 0) != grandchild) return 4;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) WriteToParent(out, "the grandchild did not refuse it; ");
    map = absl::InternalError("destroyed");
    if (fcntl(handle, F_GETFD) < 0) WriteToParent(out, "the application's descriptor was closed");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// The handle's number closed by the application and reused for a descriptor of the same file: the Map's end must not
// close it (it passed the file's identity check before, and the close also released the process's record locks).
TEST_F(ChildDescriptionTest, AHandleNumberReusedForTheSameFileIsNotClosed) {
  const std::string path = dir_.Join("f");
  ScopedFd fd = CreateFile(path, kPage, O_RDWR);
  ASSERT_GE(fd.get(), 0);
  const struct stat st = Stat(fd.get());
  ChildResult child = RunInChild([&](int out) {
    absl::StatusOr<Map> map = MapFd(fd.get());
    if (!map.ok()) return 2;
    const int handle = ChildReopenHandleForTest(st.st_dev, st.st_ino);
    ScopedFd mine(open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (handle < 0 || mine.get() < 0 || dup2(mine.get(), handle) != handle) return 3;
    map = absl::InternalError("destroyed");
    if (fcntl(handle, F_GETFD) < 0) WriteToParent(out, "the application's descriptor of the file was closed");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// A hugetlbfs file's Map (a memfd here) is mapped in whole huge pages: the child maps it again huge page by huge
// page as it finds it, each part with its own protection, and its probe (rounded up to a huge page by the kernel)
// leaves nothing behind. (Coverage: this passed before hugetlbfs had its own alignment.)
TEST_P(ChildMapsAgainTest, AHugetlbfsMapIsMappedAgainWithItsProtections) {
  const size_t huge = testing::DefaultHugePageSize();
  testing::ScopedFreeHugePages pages(2);
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  ScopedFd fd = testing::CreateHugetlbFile(3 * huge);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  absl::StatusOr<Map> map = MapFd(fd.get(), kProtRead | kProtWrite, huge);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->size(), 2 * huge);
  char* base = static_cast<char*>(map->address());
  std::memcpy(base, "parent", 6);
  ASSERT_EQ(mprotect(base + huge, huge, PROT_READ), 0) << std::strerror(errno);
  ASSERT_EQ(LinesOfTheHugetlbFile(), 2);
  ChildResult child = RunInChild([&](int out) {
    WriteToParent(out, ReaderMismatch());
    if (MappedAgainInChildForTest() != 2) {
      WriteToParent(out, absl::StrCat(MappedAgainInChildForTest(), " ranges mapped again, not 2; "));
    }
    if (LinesOfTheHugetlbFile() != 2) WriteToParent(out, absl::StrCat(LinesOfTheHugetlbFile(), " lines of the file; "));
    if (ProtectionAt(base) != "rw-s" || ProtectionAt(base + huge) != "r--s") {
      WriteToParent(out, absl::StrCat("protections ", ProtectionAt(base), " ", ProtectionAt(base + huge), "; "));
    }
    if (std::memcmp(base, "parent", 6) != 0) WriteToParent(out, "lost the parent's bytes; ");
    std::memcpy(base + 6, "child", 5);
    const absl::Status persisted = map->Persist(base, 11);
    if (!persisted.ok()) WriteToParent(out, persisted.ToString());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
  EXPECT_EQ(std::string(base, 11), "parentchild");
}

// Linux before 5.16 refuses mremap of a hugetlb mapping (EINVAL), made here with a filter in a child that then forks:
// the grandchild keeps the inherited mapping, with no failure recorded (hugetlbfs writes nothing back, so sharing the
// description loses no report; negative control: every persist of the Map failed in the grandchild for good).
TEST_F(ChildDescriptionTest, AHugetlbfsMapTheKernelCannotMoveStaysSharedWithoutAFailure) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  const size_t huge = testing::DefaultHugePageSize();
  testing::ScopedFreeHugePages pages(1);
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  ScopedFd fd = testing::CreateHugetlbFile(huge);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* base = static_cast<char*>(map->address());
  std::memcpy(base, "parent", 6);
  ChildResult child = RunInChild([&](int out) {
    testing::DenySystemCall(__NR_mremap, EINVAL);
    ChildResult grandchild = RunInChild([&](int grandchild_out) {
      if (MappedAgainInChildForTest() != 0) WriteToParent(grandchild_out, "mapped again; ");
      if (std::memcmp(base, "parent", 6) != 0) WriteToParent(grandchild_out, "lost the parent's bytes; ");
      const absl::Status persisted = map->Persist(base, 6);
      if (!persisted.ok()) WriteToParent(grandchild_out, persisted.ToString());
      return 0;
    });
    WriteToParent(out, grandchild.exited && grandchild.exit_code == 0 ? grandchild.output : grandchild.Describe());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// A child that cannot read /proc/self/maps records that on the Map, and still unmaps its probe: of a hugetlbfs file,
// a whole huge page (the kernel rounds the one page asked up), which a page-long munmap cannot undo.
TEST_F(ChildDescriptionTest, AHugetlbfsProbeIsUnmappedWholeWhenTheMapsCannotBeRead) {
  const size_t huge = testing::DefaultHugePageSize();
  testing::ScopedFreeHugePages pages(1);
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  ScopedFd fd = testing::CreateHugetlbFile(huge);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  std::memset(map->address(), 'h', 16);
  MapsUnreadableInChildForTest(true);
  ChildResult child = RunInChild([&](int out) {
    const absl::Status sticky = map->PersistError();
    if (sticky.ok() || GetErrno(sticky) != EIO) WriteToParent(out, "the Map does not say EIO: " + sticky.ToString());
    if (LinesOfTheHugetlbFile() != 1)
      WriteToParent(out, absl::StrCat(LinesOfTheHugetlbFile(), " lines of the file, not 1"));
    return 0;
  });
  MapsUnreadableInChildForTest(false);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "");
}

// A Map of a file on overlayfs (copied up from the lower layer when opened for writing) is mapped again in a child.
// Linux 6.18 names such a mapping in /proc/self/maps as fstat names the file; Linux 6.1 by the upper layer's file
// beneath it, another device and inode, which the child's probe must find (testing/dax_vm checks that case). Root only
// (the mounts are made in a mount namespace of a child of its own, and vanish with it).
TEST_P(ChildMapsAgainTest, AMapOfAnOverlayfsFileIsMappedAgain) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting overlayfs needs root";
  const std::string root = dir_.Join("mnt");
  ASSERT_EQ(mkdir(root.c_str(), 0700), 0) << std::strerror(errno);
  ChildResult child = RunInChild([&](int out) {
    if (absl::Status s = testing::MountPrivateTmpfs(root, "16m"); !s.ok()) {
      WriteToParent(out, absl::StrCat("SKIP ", s.ToString()));  // root without CAP_SYS_ADMIN (a container)
      return 0;
    }
    for (const char* sub : {"/lower", "/upper", "/work", "/merged"}) {
      if (mkdir((root + sub).c_str(), 0700) != 0) return 3;
    }
    {
      ScopedFd lower = CreateFile(root + "/lower/f", 4 * kPage, O_RDWR);
      if (lower.get() < 0 || pwrite(lower.get(), "lower", 5, 0) != 5) return 4;
    }
    const std::string options =
        absl::StrCat("lowerdir=", root, "/lower,upperdir=", root, "/upper,workdir=", root, "/work");
    if (mount("overlay", (root + "/merged").c_str(), "overlay", 0, options.c_str()) != 0) {
      WriteToParent(out, absl::StrCat("SKIP mount -t overlay: ", std::strerror(errno)));
      return 0;
    }
    ScopedFd fd(open((root + "/merged/f").c_str(), O_RDWR | O_CLOEXEC));  // copies the file up
    if (fd.get() < 0) return 5;
    absl::StatusOr<Map> map = MapFd(fd.get());
    if (!map.ok()) {
      WriteToParent(out, map.status().ToString());
      return 6;
    }
    char* base = static_cast<char*>(map->address());
    const pid_t grandchild = fork();
    if (grandchild == 0) {
      std::string said = ReaderMismatch();
      if (MappedAgainInChildForTest() != 1) absl::StrAppend(&said, MappedAgainInChildForTest(), " mapped again; ");
      if (!map->PersistError().ok()) absl::StrAppend(&said, map->PersistError().ToString());
      std::memcpy(base + 5, "+grandchild", 11);
      if (!map->Persist(base, 16).ok()) absl::StrAppend(&said, "persist failed; ");
      WriteToParent(out, said);
      _exit(0);
    }
    int status = 0;
    if (waitpid(grandchild, &status, 0) != grandchild || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 7;
    char back[16] = {};
    if (pread(fd.get(), back, 16, 0) != 16 || std::string(back, 16) != "lower+grandchild") {
      WriteToParent(out, absl::StrCat("the file holds \"", std::string(back, 16), "\""));
    }
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  if (absl::StartsWith(child.output, "SKIP ")) GTEST_SKIP() << child.output.substr(5);
  EXPECT_EQ(child.output, "");
}

}  // namespace
}  // namespace pmem2
