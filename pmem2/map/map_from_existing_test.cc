// Copyright 2026 The pmem2 Authors.
//
// Map::FromExisting: a Map for a mapping made elsewhere.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <libpmem2.h>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/adopt_for_test.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist.h"
#include "pmem2/map/page_persist_for_test.h"
#include "pmem2/map/raw_memory.h"
#include "pmem2/vm_reservation/vm_reservation.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/fake_sysfs.h"
#include "testing/temp_files.h"

#if defined(__x86_64__)
#include "testing/cpu/scoped_cpu_features.h"
#endif

namespace pmem2 {
namespace {

using ::pmem2::testing::ChildOptions;
using ::pmem2::testing::ChildResult;
using ::pmem2::testing::CreateFile;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::testing::WriteToParent;
using ::testing::HasSubstr;

constexpr size_t kLength = size_t{1} << 20;

class MapFromExistingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = CreateFile(dir_.Join("file"), kLength, O_RDWR);
    mapping_ = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
    ASSERT_NE(mapping_, MAP_FAILED);
    absl::StatusOr<Source> source = Source::FromFd(fd_.get());
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *source;
  }
  void TearDown() override {
    if (mapping_ != MAP_FAILED) munmap(mapping_, kLength);
  }

  char* bytes() const { return static_cast<char*>(mapping_); }

  // The file is on tmpfs, not DAX: these tests adopt it at the caller's word to exercise the functions of each
  // granularity (MapFromExistingNonDaxTest checks that without this the file is adopted at page granularity).
  map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax_;
  ScopedTempDir dir_{"/dev/shm"};
  ScopedFd fd_;
  void* mapping_ = MAP_FAILED;
  std::optional<Source> source_;
};

// A file that is not DAX (tmpfs, a disk's file system) is mapped through the page cache, whose pages only msync writes
// back: a byte or cache-line claim for it is page, as Create() gives it, so its persists msync. libpmem2 1.12.1 keeps
// the claim, and its persists then report success over pages nothing wrote back (differential_test R13).
class MapFromExistingNonDaxTest : public ::testing::TestWithParam<const char*> {};

TEST_P(MapFromExistingNonDaxTest, AByteOrCacheLineClaimForAFileThatIsNotDaxIsPage) {
  const char* base = GetParam()[0] == '/' ? GetParam() : std::getenv(GetParam());
  ScopedTempDir dir(base != nullptr ? base : "/var/tmp");
  ScopedFd fd = CreateFile(dir.Join("f"), kLength, O_RDWR);
  struct statx st;
  ASSERT_EQ(statx(fd.get(), "", AT_EMPTY_PATH, 0, &st), 0) << std::strerror(errno);
  if ((st.stx_attributes_mask & STATX_ATTR_DAX) == 0) GTEST_SKIP() << "the kernel does not say whether it is DAX";
  if ((st.stx_attributes & STATX_ATTR_DAX) != 0) GTEST_SKIP() << dir.path() << " is DAX";
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  char* const memory = static_cast<char*>(mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0));
  ASSERT_NE(memory, MAP_FAILED);
  static int msyncs;
  map_internal::SetMsyncForTest([](void* address, size_t length, int flags) {
    ++msyncs;
    return msync(address, length, flags);
  });
  const absl::Cleanup no_seam = [memory] {
    map_internal::SetMsyncForTest(nullptr);
    munmap(memory, kLength);
  };
  for (StoreGranularity given : {StoreGranularity::kByte, StoreGranularity::kCacheLine}) {
    SCOPED_TRACE(StoreGranularityName(given));
    absl::StatusOr<Map> map = Map::FromExisting(*source, memory, kLength, given);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(map->store_granularity(), StoreGranularity::kPage);
    EXPECT_EQ(map->diagnostics().detected_granularity, given) << "the caller's word, as given";
    EXPECT_THAT(map->diagnostics().reason, HasSubstr("the file cannot be mapped with MAP_SYNC"));
    EXPECT_FALSE(IsPersistentMemory(memory, kLength));
    msyncs = 0;
    std::memcpy(memory + 100, "durable?", 8);
    map->persist_fn()(memory + 100, 8);
    EXPECT_TRUE(map->Persist(memory + 100, 8).ok());
    EXPECT_EQ(msyncs, 2) << "each persist msyncs";
  }
  {
    map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax;  // the control: the seam keeps the caller's word
    absl::StatusOr<Map> map = Map::FromExisting(*source, memory, kLength, StoreGranularity::kCacheLine);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
  }
}

INSTANTIATE_TEST_SUITE_P(FileSystems, MapFromExistingNonDaxTest, ::testing::Values("/dev/shm", "TEST_TMPDIR"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param[0] == '/' ? "tmpfs" : "test_tmpdir");
                         });

// Where the MAP_SYNC question cannot be asked (here a filter refuses the probe's mmap), statx answers: tmpfs is not
// DAX.
TEST(MapFromExistingStatxTest, WhereMapSyncCannotBeAskedStatxTells) {
  if (!::pmem2::testing::SystemCallsCanBeDenied()) {
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  }
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kLength, O_RDWR);
  struct statx st;
  ASSERT_EQ(statx(fd.get(), "", AT_EMPTY_PATH, 0, &st), 0) << std::strerror(errno);
  if ((st.stx_attributes_mask & STATX_ATTR_DAX) == 0) GTEST_SKIP() << "the kernel does not say whether it is DAX";
  void* const memory = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(memory, MAP_FAILED);
  const ChildResult child = RunInChild([&](int out) {
    ::pmem2::testing::DenySystemCallWithFlags(__NR_mmap, 3, MAP_SYNC, EPERM);
    absl::StatusOr<Map> map =
        Map::FromExisting(*Source::FromFd(fd.get()), memory, kLength, StoreGranularity::kCacheLine);
    ::pmem2::testing::WriteToParent(
        out, map.ok() ? absl::StrCat(StoreGranularityName(map->store_granularity()), ": ", map->diagnostics().reason)
                      : std::string(map.status().message()));
    return 0;
  });
  munmap(memory, kLength);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, ::testing::StartsWith("page: "));
  EXPECT_THAT(child.output, HasSubstr("the file is not DAX (statx)"));
}

// Byte, whose persists only fence, is kept only where every region has the CPU caches in its persistence domain: a
// file (taken as DAX by the seam) adopted at byte on a platform whose region is memory_controller is cache line, its
// functions the cache-line table's; with eADR it stays byte.
TEST(MapFromExistingEadrTest, AByteClaimWithoutEadrIsCacheLine) {
  if (!arch::CacheLineOps().writes_back_cache_lines) GTEST_SKIP() << "this CPU cannot write cache lines back";
  map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax;
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kLength, O_RDWR);
  void* const memory = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(memory, MAP_FAILED);
  const absl::Cleanup unmap = [memory] { munmap(memory, kLength); };
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  {
    ::pmem2::testing::FakeSysfs sysfs;
    sysfs.AddRegion("memory_controller");
    absl::StatusOr<Map> map = Map::FromExisting(*source, memory, kLength, StoreGranularity::kByte);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
    EXPECT_THAT(map->diagnostics().reason, HasSubstr("byte made cache line"));
    EXPECT_EQ(map->persist_fn(), arch::CacheLineOps().persist);
    EXPECT_TRUE(map->writes_back_cache_lines());
    // (This binary's pmem2_* C functions are Debian's libpmem2, the reference; ours call FromExisting.)
  }
  ::pmem2::testing::FakeSysfs eadr;
  eadr.AddRegion("cpu_cache");
  absl::StatusOr<Map> byte = Map::FromExisting(*source, memory, kLength, StoreGranularity::kByte);
  ASSERT_TRUE(byte.ok()) << byte.status();
  EXPECT_EQ(byte->store_granularity(), StoreGranularity::kByte) << byte->diagnostics().reason;
}

TEST_F(MapFromExistingTest, APagePersistReturnsAndTheDataReachesTheFile) {
  absl::StatusOr<Map> map = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kPage);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->address(), mapping_);
  EXPECT_EQ(map->size(), kLength);
  EXPECT_EQ(map->store_granularity(), StoreGranularity::kPage);
  std::memcpy(bytes() + 4097, "adopted", 7);
  map->persist_fn()(bytes() + 4097, 7);  // libpmem2 1.12.1 never returns from this call (see below)
  ASSERT_TRUE(map->Persist(bytes() + 4097, 7).ok());
  ASSERT_TRUE(map->Memcpy(bytes() + 10, "copy", 4).ok());
  char read_back[7];
  ASSERT_EQ(pread(fd_.get(), read_back, 7, 4097), 7);
  EXPECT_EQ(std::string(read_back, 7), "adopted");
}

// A range that is not all a shared mapping: a private mapping of the file (its stores never reach it, and msync of it
// succeeds: every persist would have said OK over data the file never got), memory mapped nowhere, and a shared
// mapping running into either. libpmem2 1.12.1 adopts them all (differential_test R10).
// A page is one mapping's, of one file: ranges of one page adopted under one file's Source are taken side by side, but
// one adopted under another file's Source, or under an anonymous Source, beside them is refused (kMapExists, naming
// both ranges), in either order. (FromExisting checks the sharing, not the file: one of the two names the wrong
// Source, and that page's failures could not be told apart.)
TEST_F(MapFromExistingTest, APageHoldsAdoptedRangesOfOneFileOnly) {
  char* const page = static_cast<char*>(mapping_);
  absl::StatusOr<Map> first = Map::FromExisting(*source_, page, 100, StoreGranularity::kPage);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<Map> beside = Map::FromExisting(*source_, page + 1000, 100, StoreGranularity::kPage);
  EXPECT_TRUE(beside.ok()) << "the same file, beside it: " << beside.status();
  ScopedFd other_fd = CreateFile(dir_.Join("other"), kLength, O_RDWR);
  absl::StatusOr<Source> other = Source::FromFd(other_fd.get());
  ASSERT_TRUE(other.ok()) << other.status();
  absl::StatusOr<Map> misnamed = Map::FromExisting(*other, page + 2000, 100, StoreGranularity::kPage);
  EXPECT_EQ(GetErrorCode(misnamed.status()), ErrorCode::kMapExists) << misnamed.status();
  EXPECT_THAT(std::string(misnamed.status().message()), HasSubstr("shares a page with the live mapping"));
  absl::StatusOr<Source> anonymous = Source::Anonymous(kLength);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ(GetErrorCode(Map::FromExisting(*anonymous, page + 3000, 100, StoreGranularity::kPage).status()),
            ErrorCode::kMapExists);
  first = absl::InternalError("released");
  beside = absl::InternalError("released");
  // The other order: the other file's range first, then this file's beside it.
  absl::StatusOr<Map> other_first = Map::FromExisting(*other, page + 2000, 100, StoreGranularity::kPage);
  ASSERT_TRUE(other_first.ok()) << other_first.status();
  EXPECT_EQ(GetErrorCode(Map::FromExisting(*source_, page, 100, StoreGranularity::kPage).status()),
            ErrorCode::kMapExists);
}

TEST_F(MapFromExistingTest, ARangeThatIsNotAllASharedMappingIsRefused) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* const area = static_cast<char*>(mmap(nullptr, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(area, MAP_FAILED);
  ASSERT_EQ(mmap(area, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_.get(), 0), area);
  ASSERT_EQ(mmap(area + page, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd_.get(), page), area + page);
  ASSERT_EQ(munmap(area + 2 * page, page), 0);
  const std::pair<char*, size_t> refused[] = {
      {area + page, page}, {area + 2 * page, page}, {area, 2 * page}, {area + page, 2 * page}};
  for (const auto& [at, length] : refused) {
    for (StoreGranularity granularity :
         {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
      absl::StatusOr<Map> map = Map::FromExisting(*source_, at, length, granularity);
      EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidSharingValue)
          << "area + " << (at - area) << ", length " << length << ": " << map.status();
      EXPECT_THAT(std::string(map.status().message()), HasSubstr("not all a shared mapping"));
    }
  }
  // Refused without a trace: the shared page alone is adopted afterwards.
  absl::StatusOr<Map> shared = Map::FromExisting(*source_, area, page, StoreGranularity::kPage);
  EXPECT_TRUE(shared.ok()) << shared.status();
  shared = absl::InternalError("destroyed");
  munmap(area, 2 * page);
}

// Promised (map.h, FromExisting): where /proc/self/maps cannot be read, the adoption still succeeds, read and write
// are assumed as the protection, and not even the sharing is checked (a private mapping is adopted). In a child whose
// opens with O_CLOEXEC fail (a seccomp filter; the maps are opened O_RDONLY | O_CLOEXEC, and the child opens nothing
// else after it): a read-write shared mapping is adopted with kProtRead | kProtWrite and persists; a read-only one is
// taken as read and write too; a private one is adopted. With the maps readable (before the filter) the read-only one
// is kProtRead and the private one refused: the filter, nothing else, makes the difference.
TEST_F(MapFromExistingTest, WithoutReadableProcMapsReadWriteIsAssumedAndTheSharingIsNotChecked) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* const read_only = static_cast<char*>(mmap(nullptr, page, PROT_READ, MAP_SHARED, fd_.get(), 0));
  ASSERT_NE(read_only, MAP_FAILED);
  char* const private_copy =
      static_cast<char*>(mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_.get(), page));
  ASSERT_NE(private_copy, MAP_FAILED);
  const absl::Cleanup unmap = [&] {
    munmap(read_only, page);
    munmap(private_copy, page);
  };
  {
    absl::StatusOr<Map> seen = Map::FromExisting(*source_, read_only, page, StoreGranularity::kPage);
    ASSERT_TRUE(seen.ok()) << seen.status();
    EXPECT_EQ(seen->protection(), kProtRead) << "the maps are readable here";
    EXPECT_EQ(GetErrorCode(Map::FromExisting(*source_, private_copy, page, StoreGranularity::kPage).status()),
              ErrorCode::kInvalidSharingValue);
  }
  const ChildResult child = RunInChild([&](int out) {
    testing::DenySystemCallWithFlags(__NR_openat, 2, O_CLOEXEC, EACCES);
    if (open("/proc/self/maps", O_RDONLY | O_CLOEXEC) >= 0 || errno != EACCES) return 2;  // the filter acts
    absl::StatusOr<Map> shared = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kPage);
    if (!shared.ok()) {
      WriteToParent(out, absl::StrCat("shared: ", shared.status().ToString()));
      return 0;
    }
    std::memcpy(bytes() + 3 * page + 1, "no maps", 7);
    const absl::Status persisted = shared->Persist(bytes() + 3 * page + 1, 7);
    absl::StatusOr<Map> read = Map::FromExisting(*source_, read_only, page, StoreGranularity::kPage);
    absl::StatusOr<Map> unshared = Map::FromExisting(*source_, private_copy, page, StoreGranularity::kPage);
    WriteToParent(out, absl::StrCat("shared protection ", static_cast<unsigned>(shared->protection()), ", persist ",
                                    persisted.ToString(), "; read-only: ",
                                    read.ok() ? absl::StrCat(static_cast<unsigned>(read->protection()))
                                              : read.status().ToString(),
                                    "; private: ", unshared.status().ToString()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  const unsigned read_write = static_cast<unsigned>(kProtRead | kProtWrite);
  EXPECT_EQ(child.output,
            absl::StrCat("shared protection ", read_write, ", persist OK; read-only: ", read_write, "; private: OK"));
  char read_back[7];
  ASSERT_EQ(pread(fd_.get(), read_back, 7, static_cast<off_t>(3 * page + 1)), 7);
  EXPECT_EQ(std::string(read_back, 7), "no maps");
}

// An adopted range keeps the protection it had when adopted, as a created Map keeps its Config's: the Status methods
// refuse (kNoAccess) a store into a read-only range and a cache-line write-back of an inaccessible one, instead of
// running into a SIGSEGV, and run once mprotect(2) gives the access. (Found by review: FromExisting assumed read and
// write, and Persist, Flush, DeepFlush, Memcpy and Memset crashed.)
TEST_F(MapFromExistingTest, TheStatusMethodsRefuseWhatTheAdoptedRangeDoesNotAllow) {
  for (int protection : {PROT_NONE, PROT_READ}) {
    for (StoreGranularity granularity : {StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
      SCOPED_TRACE(::testing::Message() << "protection " << protection << ", granularity "
                                        << StoreGranularityName(granularity));
      ASSERT_EQ(mprotect(mapping_, kLength, protection), 0);
      absl::StatusOr<Map> map = Map::FromExisting(*source_, mapping_, kLength, granularity);
      ASSERT_TRUE(map.ok()) << map.status();
      for (const absl::Status& s : {map->Memcpy(bytes() + 8, "x", 1), map->Memset(bytes(), 'y', 64)}) {
        EXPECT_EQ(GetErrorCode(s), ErrorCode::kNoAccess) << s;
      }
      if (granularity == StoreGranularity::kCacheLine) {
        for (const absl::Status& s :
             {map->Persist(bytes(), 64), map->Flush(bytes(), 64), map->DeepFlush(bytes(), 64)}) {
          if (protection == PROT_NONE) {
            EXPECT_EQ(GetErrorCode(s), ErrorCode::kNoAccess) << s;
          } else {
            EXPECT_TRUE(s.ok()) << "a readable range can be written back: " << s;
          }
        }
      }
      ASSERT_EQ(mprotect(mapping_, kLength, PROT_READ | PROT_WRITE), 0);
      EXPECT_TRUE(map->Memcpy(bytes() + 8, "x", 1).ok());
      EXPECT_TRUE(map->Persist(bytes(), 64).ok());
    }
  }
}

// A hole in the adopted range allows nothing: a store into it is kNoAccess, not a SIGSEGV, while the mapped pages
// around it take stores. (Found by review: the maps walk skipped the mapping after a hole, and the range was taken as
// readable and writable.) An anonymous source's range, since a file's with a hole is refused as not all shared.
TEST(MapFromExistingAnonymousTest, AStoreIntoAHoleOfTheAdoptedRangeIsRefused) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* const area =
      static_cast<char*>(mmap(nullptr, 3 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(area, MAP_FAILED);
  ASSERT_EQ(munmap(area + page, page), 0);
  {
    absl::StatusOr<Map> map = Map::FromExisting(*Source::Anonymous(3 * page), area, 3 * page, StoreGranularity::kByte);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(GetErrorCode(map->Memset(area + page + 8, 'h', 8)), ErrorCode::kNoAccess);
    EXPECT_EQ(GetErrorCode(map->Memset(area + page - 8, 'h', 16)), ErrorCode::kNoAccess) << "into the hole";
    EXPECT_TRUE(map->Memset(area, 'a', 8).ok());
    EXPECT_TRUE(map->Memset(area + 2 * page, 'c', 8).ok());
  }
  munmap(area, page);
  munmap(area + 2 * page, page);
}

// IsPersistentMemory() counts adopted Maps with the granularity FromExisting() settled on: cache line (the caller's
// word, the fixture's file taken as DAX) is persistent memory, page is not, and neither once the Map is gone.
TEST_F(MapFromExistingTest, IsPersistentMemoryCountsAnAdoptedMapByItsSettledGranularity) {
  EXPECT_FALSE(IsPersistentMemory(bytes(), kLength));
  {
    absl::StatusOr<Map> map = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kCacheLine);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(IsPersistentMemory(bytes(), kLength), map->store_granularity() == StoreGranularity::kCacheLine)
        << StoreGranularityName(map->store_granularity()) << " (" << map->diagnostics().reason << ")";
    EXPECT_FALSE(IsPersistentMemory(bytes() + kLength - 1, 2)) << "one byte past the Map";
  }
  EXPECT_FALSE(IsPersistentMemory(bytes(), kLength));
  absl::StatusOr<Map> page = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kPage);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_FALSE(IsPersistentMemory(bytes(), kLength));
}

TEST_F(MapFromExistingTest, DestroyingTheMapLeavesTheMappingInPlace) {
  {
    absl::StatusOr<Map> map = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kCacheLine);
    ASSERT_TRUE(map.ok());
    Map moved = std::move(*map);
    EXPECT_EQ(moved.store_granularity(), StoreGranularity::kCacheLine);
  }
  bytes()[kLength - 1] = 'x';  // still mapped
  EXPECT_EQ(bytes()[kLength - 1], 'x');
  // And registered no longer: it can be adopted again.
  EXPECT_TRUE(Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kPage).ok());
}

TEST_F(MapFromExistingTest, RefusesARangeThatOverlapsALiveMap) {
  absl::StatusOr<Map> whole = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kPage);
  ASSERT_TRUE(whole.ok());
  absl::StatusOr<Map> inside = Map::FromExisting(*source_, bytes() + 4096, 4096, StoreGranularity::kPage);
  EXPECT_EQ(GetErrorCode(inside.status()), ErrorCode::kMapExists) << inside.status();
  EXPECT_EQ(GetErrorCode(Map::FromExisting(*source_, bytes() + kLength - 1, 2, StoreGranularity::kPage).status()),
            ErrorCode::kMapExists);
  // A Map made by Map::Create() is known too.
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> created = Map::Create(config, *source_);
  ASSERT_TRUE(created.ok());
  absl::StatusOr<Map> over = Map::FromExisting(*source_, created->address(), 1, StoreGranularity::kPage);
  EXPECT_EQ(GetErrorCode(over.status()), ErrorCode::kMapExists);
  EXPECT_THAT(over.status().message(), HasSubstr("overlaps"));
}

// A Map of a file whose size is no page multiple maps its last page whole, and unmaps it whole: that page is the Map's,
// as inside a reservation. Before, only its size was registered: the rest of the page could be adopted, and the
// adopted Map's Status methods then stored into an unmapped page (SIGSEGV) once the first Map was gone.
TEST(MapFromExistingTailTest, TheRestOfACreatedMapsLastPageCannotBeAdopted) {
  ScopedTempDir dir("/dev/shm");
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  ScopedFd fd = CreateFile(dir.Join("f"), page + 4, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> map = Map::Create(config, *source);
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->size(), page + 4);
  char* const tail = static_cast<char*>(map->address()) + page + 8;
  absl::StatusOr<Map> adopted = Map::FromExisting(*source, tail, page - 8, StoreGranularity::kPage);
  EXPECT_EQ(GetErrorCode(adopted.status()), ErrorCode::kMapExists) << adopted.status();
}

// A range adopted inside a reservation (the application mapped there itself): Create() must not map over it and
// leave two live Maps of one range. libpmem2 1.12.1 refuses with -EEXIST (differential_test: MapFromExisting).
TEST_F(MapFromExistingTest, ACreateIntoAReservationRangeThatAnAdoptedMapHoldsIsRefused) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(8 * 4096);
  ASSERT_TRUE(rsv.ok()) << rsv.status();
  char* const base = static_cast<char*>(rsv->address());
  ASSERT_EQ(mmap(base + 2 * 4096, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_.get(), 0), base + 2 * 4096);
  absl::optional<absl::StatusOr<Map>> adopted =
      Map::FromExisting(*source_, base + 2 * 4096, 4096, StoreGranularity::kPage);
  ASSERT_TRUE(adopted->ok()) << adopted->status();
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_length(2 * 4096);
  for (size_t offset : {size_t{2 * 4096}, size_t{4096}}) {  // over it, and straddling its start
    config.set_vm_reservation(&*rsv, offset);
    absl::StatusOr<Map> over = Map::Create(config, *source_);
    EXPECT_EQ(GetErrorCode(over.status()), ErrorCode::kErrno) << over.status();
    EXPECT_EQ(GetErrno(over.status()), EEXIST);
    EXPECT_THAT(over.status().message(), HasSubstr("overlaps"));
  }
  EXPECT_EQ(rsv->map_count(), 0u);  // the refused claims were given back
  EXPECT_EQ(rsv->FindMap(0, 8 * 4096), nullptr);
  // Right after it is free, and so is its range once the adopted Map is gone.
  config.set_vm_reservation(&*rsv, 3 * 4096);
  absl::StatusOr<Map> after = Map::Create(config, *source_);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->address(), base + 3 * 4096);
  adopted.reset();
  config.set_vm_reservation(&*rsv, 4096);  // refused above
  absl::StatusOr<Map> now = Map::Create(config, *source_);
  ASSERT_TRUE(now.ok()) << now.status();
  EXPECT_EQ(now->address(), base + 4096);
  EXPECT_EQ(rsv->map_count(), 2u);
}

TEST_F(MapFromExistingTest, RefusesNullEmptyAndWrappingRangesAndUnknownGranularities) {
  EXPECT_EQ(GetErrorCode(Map::FromExisting(*source_, nullptr, kLength, StoreGranularity::kPage).status()),
            ErrorCode::kAddressNull);
  EXPECT_EQ(GetErrorCode(Map::FromExisting(*source_, mapping_, 0, StoreGranularity::kPage).status()),
            ErrorCode::kLengthOutOfRange);
  EXPECT_EQ(GetErrorCode(Map::FromExisting(*source_, mapping_, SIZE_MAX, StoreGranularity::kPage).status()),
            ErrorCode::kLengthOutOfRange);
  EXPECT_EQ(
      GetErrorCode(Map::FromExisting(*source_, mapping_, kLength, static_cast<StoreGranularity>(7)).status()),
      ErrorCode::kGranularityNotSupported);
}

TEST_F(MapFromExistingTest, AFailedWriteBackIsRecordedOnTheAdoptedMap) {
  absl::StatusOr<Map> map = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kPage);
  ASSERT_TRUE(map.ok());
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  map->persist_fn()(bytes(), 1);
  map_internal::SetMsyncForTest(nullptr);
  absl::Status error = map->PersistError();
  EXPECT_EQ(GetErrorCode(error), ErrorCode::kErrno) << error;
  EXPECT_EQ(GetErrno(error), EIO);
  EXPECT_EQ(GetErrorCode(PersistErrorAt(bytes() + 5)), ErrorCode::kErrno);
}

// The reference's behaviour, recorded: libpmem2 1.12.1's page-granularity persist on a map from
// pmem2_map_from_existing() never returns (strace shows msync(addr, 0, MS_SYNC) repeated forever: it steps
// through the range by a length that is 0 for such maps). Run in a child with a deadline; if a fixed libpmem2
// ever ships, this test says so.
TEST_F(MapFromExistingTest, Libpmem2sPagePersistOnAnAdoptedMapNeverReturnsButOursDoes) {
  ChildOptions options;
  options.timeout = absl::Seconds(2);
  ChildResult reference = RunInChild(
      [&](int out) {
        struct pmem2_source* src = nullptr;
        struct pmem2_map* map = nullptr;
        if (pmem2_source_from_fd(&src, fd_.get()) != 0) return 2;
        if (pmem2_map_from_existing(&map, src, mapping_, kLength, PMEM2_GRANULARITY_PAGE) != 0) return 3;
        pmem2_get_persist_fn(map)(bytes(), 1);
        WriteToParent(out, "returned");
        return 0;
      },
      options);
  EXPECT_TRUE(reference.timed_out) << "libpmem2's persist returned: " << reference.Describe();

  // The reference is expected to hang, so its deadline is short; ours must return, so its deadline only bounds a
  // hang (a fork and an msync on a loaded machine can take more than 2 s).
  options.timeout = absl::Seconds(20);
  ChildResult ours = RunInChild(
      [&](int out) {
        absl::StatusOr<Map> map = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kPage);
        if (!map.ok()) return 3;
        map->persist_fn()(bytes(), 1);
        WriteToParent(out, "returned");
        return 0;
      },
      options);
  EXPECT_FALSE(ours.timed_out);
  EXPECT_EQ(ours.output, "returned") << ours.Describe();
}

// Counts the cache-line persists, so a test can see the write-back that stands in for a failed msync run.
int write_backs = 0;
std::vector<std::pair<const void*, size_t>> written_back;  // each write-back's range, when a test clears it
PersistFn real_persist = nullptr;
void CountingPersist(const void* address, size_t size) {
  ++write_backs;
  written_back.emplace_back(address, size);
  real_persist(address, size);
}

// msync answers EINVAL, as Device DAX's does (it has no fsync), and counts its calls.
int failed_syncs = 0;
int EinvalMsync(void*, size_t, int) {
  ++failed_syncs;
  errno = EINVAL;
  return -1;
}

// msync(MS_SYNC) as the kernel answers over one Device DAX mapping at [device_dax_begin, device_dax_end) and memory
// mapped by nobody around it: it steps over holes (ENOMEM unless something fails) and fsyncs each shared mapping, so
// a range that meets the device fails with EINVAL there (it has no fsync); one that does not, with ENOMEM.
uintptr_t device_dax_begin = 0;
uintptr_t device_dax_end = 0;
int DeviceDaxMsync(void* start, size_t length, int) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(start);
  errno = at < device_dax_end && at + length > device_dax_begin ? EINVAL : ENOMEM;
  return -1;
}

// Over a file of the page cache (here a cache-line Map of it, whose functions write back through the CPU), msync's
// EINVAL comes from the file's fsync and is a lost write-back: recorded, and returned. The control of the test below.
TEST_F(MapFromExistingTest, MsyncsEinvalOverAFileIsRecorded) {
  absl::StatusOr<Map> map = Map::FromExisting(*source_, mapping_, kLength, StoreGranularity::kCacheLine);
  ASSERT_TRUE(map.ok()) << map.status();
  map_internal::SetMsyncForTest(&EinvalMsync);
  const int syncs_before = failed_syncs;
  const absl::Status synced = SyncPages(bytes() + 10, 100);
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(failed_syncs, syncs_before + 1);
  EXPECT_EQ(GetErrno(synced), EINVAL) << synced;
  EXPECT_EQ(GetErrno(map->ClearPersistError()), EINVAL);
}

// Device DAX played by /dev/null on a fake NVDIMM region (`source_`, its sysfs link `link_`), with the engine's
// write-back counted on x86-64 (`counted_`: write_backs, written_back): for the syncs that stand in for msync there.
class DeviceDaxWriteBackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!arch::CacheLineOps().writes_back_cache_lines) GTEST_SKIP() << "Device DAX needs a cache-line write-back";
#if defined(__x86_64__)
    arch::x86_64::Selection counting = arch::x86_64::CurrentSelection();
    // The engine's write-back (Map::DeepFlush's too), which the syncs use whatever PMEM_NO_FLUSH says.
    real_persist = counting.write_back;
    counting.write_back = &CountingPersist;
    cpu_.emplace(counting);
    counted_ = true;
#endif
    link_ = sysfs_.MakeDevNullDeviceDaxOnRegion(std::to_string(kLength), "4096");
    absl::StatusOr<Source> source = Source::FromFd(fd_.get());
    ASSERT_TRUE(source.ok()) << source.status();
    ASSERT_EQ(source->kind(), SourceKind::kDeviceDax);
    source_.emplace(*std::move(source));
  }

  bool counted_ = false;
#if defined(__x86_64__)
  std::optional<::pmem2::testing::ScopedCpuFeatures> cpu_;
#endif
  ::pmem2::testing::FakeSysfs sysfs_;
  std::string link_;
  ScopedFd fd_{open("/dev/null", O_RDWR | O_CLOEXEC)};
  std::optional<Source> source_;
};

// Device DAX has no fsync, so msync fails there with EINVAL (testing/dax_vm's probe checks it on a real device).
// An adopted page Map of it would fail every persist: it is cache line instead, as Create() makes a forced page.
// And a sync that meets that EINVAL over its Maps (pmem_msync, pmem2::SyncPages, the C API's NULL-map persist)
// writes the range back from the CPU caches (also under PMEM_NO_FLUSH=1, as the kernel's msync on fsdax does),
// and succeeds, recording nothing: nothing was
// lost, and a recorded EINVAL would fail every later persist of those Maps. Over a range that leaves them, EINVAL
// is recorded as before. /dev/null plays the device (fake sysfs), anonymous memory its pages, the msync seam its
// answer.
TEST_F(DeviceDaxWriteBackTest, APageMapIsCacheLineAndMsyncsEinvalOverItLosesNothing) {
  const bool counted = counted_;
  const std::optional<Source>& source = source_;
  // Shared, as a Device DAX mapping is (FromExisting refuses a private mapping of a file or device). With unmapped
  // pages either side, which the overruns below reach: msync's ENOMEM there is theirs (a hole), as the fake says.
  const size_t guard = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* const region = static_cast<char*>(
      mmap(nullptr, kLength + 2 * guard, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  ASSERT_EQ(munmap(region, guard), 0);
  ASSERT_EQ(munmap(region + guard + kLength, guard), 0);
  void* memory = region + guard;
  char* const bytes = static_cast<char*>(memory);
  {
    absl::StatusOr<Map> map = Map::FromExisting(*source, memory, kLength, StoreGranularity::kPage);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
    EXPECT_EQ(map->persist_fn(), arch::CacheLineOps().persist);
    EXPECT_THAT(map->diagnostics().reason, HasSubstr("msync cannot persist Device DAX"));
    EXPECT_TRUE(map_internal::RangeIsCpuPersistentDeviceDax(bytes, kLength));

    const uint64_t errors_before = PersistErrorCount();
    const int syncs_before = failed_syncs;
    const int write_backs_before = write_backs;
    map_internal::SetMsyncForTest(&EinvalMsync);
    std::memcpy(bytes + 10, "devdax", 6);
    EXPECT_EQ(map_internal::SyncPages(bytes + 10, 6, /*caller_sees_result=*/true), 0);
    EXPECT_TRUE(SyncPages(bytes + 10, 6).ok());
    map_internal::PagePersistFn()(bytes + 10, 6);
    EXPECT_EQ(failed_syncs, syncs_before + 3) << "each tried msync first";
    if (counted) {
      EXPECT_EQ(write_backs, write_backs_before + 3) << "each wrote the range back instead";
    }
    EXPECT_EQ(PersistErrorCount(), errors_before);
    EXPECT_TRUE(map->PersistError().ok());
    EXPECT_TRUE(map->Persist(bytes + 10, 6).ok()) << "the Map's persists still succeed";

    // From the Map's last page into the page after it (a caller's overrun), as the kernel answers: EINVAL at the
    // Device DAX mapping (msync stops there), ENOMEM for the page after it, mapped by nobody here. The Map's part is
    // written back and the rest synced on its own: its ENOMEM is the answer, a usage error to a caller that sees it,
    // and the EINVAL, which lost nothing, is charged to no Map (it was recorded on this one, failing every later
    // persist of the device's Maps until acknowledged). The same from the page before the Map into it.
    device_dax_begin = reinterpret_cast<uintptr_t>(bytes);
    device_dax_end = device_dax_begin + kLength;
    map_internal::SetMsyncForTest(&DeviceDaxMsync);
    const int write_backs_at_overrun = write_backs;
    EXPECT_EQ(map_internal::SyncPages(bytes + kLength - 10, 20, /*caller_sees_result=*/true), ENOMEM);
    EXPECT_EQ(GetErrno(SyncPages(bytes + kLength - 10, 20)), ENOMEM);
    EXPECT_EQ(PersistErrorCount(), errors_before);
    EXPECT_EQ(map_internal::SyncPages(bytes - 10, 20, /*caller_sees_result=*/true), ENOMEM);
    if (counted) {
      EXPECT_EQ(write_backs, write_backs_at_overrun + 3) << "the Map's part of each written back";
    }
    // Without the caller seeing it (persist_fn's own sync), the ENOMEM is recorded, on the memory after the Map,
    // which no Map holds: not on the Map.
    map_internal::PagePersistFn()(bytes + kLength - 10, 20);
    map_internal::SetMsyncForTest(nullptr);
    EXPECT_TRUE(map->PersistError().ok()) << map->PersistError();
    EXPECT_TRUE(map->Persist(bytes + 10, 6).ok()) << "the Map's persists still succeed";
  }
  munmap(memory, kLength);
}

// msync(MS_SYNC) as the kernel answers over the Device DAX mappings and file mappings of `layout`: it fsyncs the
// mappings in address order and stops at the first failure, so a range that meets a Device DAX mapping fails with
// EINVAL (it has no fsync) unless a file mapping before it failed first (`file_error`); a range only of file mappings
// fails with `file_error` (0: succeeds); one of neither, ENOMEM.
struct MsyncLayout {
  std::vector<std::pair<uintptr_t, uintptr_t>> device_dax;
  std::vector<std::pair<uintptr_t, uintptr_t>> files;
  int file_error = 0;
};
MsyncLayout layout;
std::vector<std::pair<const void*, size_t>> msynced;  // each call's range
int LayoutMsync(void* start, size_t length, int) {
  msynced.emplace_back(start, length);
  const uintptr_t from = reinterpret_cast<uintptr_t>(start);
  const uintptr_t to = from + length;
  uintptr_t first_file = UINTPTR_MAX, first_device_dax = UINTPTR_MAX;
  for (const auto& [b, e] : layout.files) {
    if (b < to && from < e) first_file = std::min(first_file, std::max(b, from));
  }
  for (const auto& [b, e] : layout.device_dax) {
    if (b < to && from < e) first_device_dax = std::min(first_device_dax, std::max(b, from));
  }
  int error = 0;
  if (first_file < first_device_dax && layout.file_error != 0) {
    error = layout.file_error;
  } else if (first_device_dax != UINTPTR_MAX) {
    error = EINVAL;
  } else if (first_file != UINTPTR_MAX) {
    error = layout.file_error;
  } else {
    error = ENOMEM;
  }
  if (error == 0) return 0;
  errno = error;
  return -1;
}

std::pair<const void*, size_t> Range(const void* address, size_t size) { return {address, size}; }

// A sync over Device DAX Maps and other Maps (pmem_msync, pmem_deep_persist of a range across adjacent mappings):
// msync stops at the first Device DAX mapping with an EINVAL that lost nothing. The Device DAX Maps' parts are written
// back (just those bytes), the other pieces synced each on its own, a failure recorded on its own piece's Maps; the
// EINVAL is charged to no Device DAX Map, but to the Maps of files before the first of them: their fsync may have been
// what failed, and its one report would not come again (here the seam says the device gave it: A is charged all the
// same, a failure that may not have happened rather than one lost). A Device DAX Map that allows no access is EFAULT,
// not a fault, and recorded where the caller cannot see it (persist_fn).
// Layout in a reservation: file Map A | Device DAX D1 | file Map B | Device DAX D2 | anonymous Map C | Device DAX D3,
// each kLength.
TEST_F(DeviceDaxWriteBackTest, ASyncOverDeviceDaxAndFileMapsSyncsEachApart) {
  const bool counted = counted_;
  const std::optional<Source>& dax = source_;
  ScopedTempDir dir("/dev/shm");
  ScopedFd a_fd = CreateFile(dir.Join("a"), kLength, O_RDWR);
  ScopedFd b_fd = CreateFile(dir.Join("b"), kLength, O_RDWR);
  absl::StatusOr<VmReservation> reservation = VmReservation::Create(6 * kLength);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  char* const base = static_cast<char*>(reservation->address());
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_vm_reservation(&*reservation, 0);
  absl::StatusOr<Map> a = Map::Create(config, *Source::FromFd(a_fd.get()));
  config.set_vm_reservation(&*reservation, 2 * kLength);
  absl::StatusOr<Map> b = Map::Create(config, *Source::FromFd(b_fd.get()));
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  // And a shared anonymous Map C before a third Device DAX Map D3 (slots 4 and 5).
  Config anonymous = config;
  anonymous.set_sharing(Sharing::kShared);
  anonymous.set_vm_reservation(&*reservation, 4 * kLength);
  absl::StatusOr<Map> c = Map::Create(anonymous, *Source::Anonymous(kLength));
  ASSERT_TRUE(c.ok()) << c.status();
  for (char* at : {base + kLength, base + 3 * kLength, base + 5 * kLength}) {
    ASSERT_EQ(mmap(at, kLength, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, -1, 0), at);
  }
  absl::StatusOr<Map> d1 = Map::FromExisting(*dax, base + kLength, kLength, StoreGranularity::kCacheLine);
  absl::StatusOr<Map> d2 = Map::FromExisting(*dax, base + 3 * kLength, kLength, StoreGranularity::kCacheLine);
  absl::StatusOr<Map> d3 = Map::FromExisting(*dax, base + 5 * kLength, kLength, StoreGranularity::kCacheLine);
  ASSERT_TRUE(d1.ok() && d2.ok() && d3.ok()) << d1.status() << d2.status() << d3.status();
  const auto at = [base](size_t offset) { return reinterpret_cast<uintptr_t>(base) + offset; };
  // (C's msync succeeds, as shared memory's does: the seam counts it with the files.)
  layout.files = {{at(0), at(kLength)}, {at(2 * kLength), at(3 * kLength)}, {at(4 * kLength), at(5 * kLength)}};
  layout.device_dax = {
      {at(kLength), at(2 * kLength)}, {at(3 * kLength), at(4 * kLength)}, {at(5 * kLength), at(6 * kLength)}};
  map_internal::SetMsyncForTest(&LayoutMsync);
  absl::Cleanup no_seam = [] { map_internal::SetMsyncForTest(nullptr); };

  // From A's last page to D2's first bytes: the EINVAL charged to A (before the first Device DAX Map), not D1 or D2.
  layout.file_error = 0;
  written_back.clear();
  EXPECT_EQ(map_internal::SyncPages(base + kLength - 10, 2 * kLength + 20, /*caller_sees_result=*/true), EINVAL);
  EXPECT_EQ(GetErrno(a->PersistError()), EINVAL);
  EXPECT_TRUE(d1->PersistError().ok()) << d1->PersistError();
  EXPECT_TRUE(b->PersistError().ok()) << b->PersistError();
  EXPECT_TRUE(d2->PersistError().ok()) << d2->PersistError();
  if (counted) {
    EXPECT_THAT(written_back, ::testing::ElementsAre(Range(base + kLength, kLength), Range(base + 3 * kLength, 10)))
        << "each Device DAX Map's part of the range, and only that";
  }
  EXPECT_EQ(GetErrno(a->ClearPersistError()), EINVAL);

  // From inside D1 over B into D2, B's file failing: B's EIO is B's alone, and the answer.
  layout.file_error = EIO;
  written_back.clear();
  EXPECT_EQ(map_internal::SyncPages(base + kLength + 10, 2 * kLength, /*caller_sees_result=*/true), EIO);
  EXPECT_EQ(GetErrno(b->PersistError()), EIO);
  EXPECT_TRUE(a->PersistError().ok()) << a->PersistError();
  EXPECT_TRUE(d1->PersistError().ok()) << d1->PersistError();
  EXPECT_TRUE(d2->PersistError().ok()) << d2->PersistError();
  if (counted) {
    EXPECT_THAT(written_back,
                ::testing::ElementsAre(Range(base + kLength + 10, kLength - 10), Range(base + 3 * kLength, 10)));
  }
  EXPECT_EQ(GetErrno(b->ClearPersistError()), EIO);

  // D1 made inaccessible: EFAULT for the sync over it alone and over it and B (B's piece synced all the same), no
  // write-back (it would fault), nothing recorded where the caller sees the result; persist_fn's is recorded on D1.
  layout.file_error = 0;
  ASSERT_EQ(mprotect(base + kLength, kLength, PROT_NONE), 0);
  absl::Cleanup accessible = [base] { mprotect(base + kLength, kLength, PROT_READ | PROT_WRITE); };
  written_back.clear();
  EXPECT_EQ(map_internal::SyncPages(base + kLength + 10, 100, /*caller_sees_result=*/true), EFAULT);
  msynced.clear();
  EXPECT_EQ(map_internal::SyncPages(base + kLength + 10, kLength + 100, /*caller_sees_result=*/true), EFAULT);
  EXPECT_THAT(msynced, ::testing::Contains(Range(base + 2 * kLength, 110))) << "B's piece";
  EXPECT_THAT(written_back, ::testing::IsEmpty());
  EXPECT_TRUE(d1->PersistError().ok()) << d1->PersistError();
  EXPECT_TRUE(b->PersistError().ok()) << b->PersistError();
  map_internal::PagePersistFn()(base + kLength + 10, 100);
  EXPECT_EQ(GetErrno(d1->PersistError()), EFAULT) << "persist_fn cannot return it";
  EXPECT_THAT(written_back, ::testing::IsEmpty());
  // Recorded as every persist failure is, on the file's (here the device's) other Maps too: a failure reported more
  // widely than it happened rather than one kept from a Map that shares the device.
  for (absl::StatusOr<Map>* on_device : {&d1, &d2, &d3}) EXPECT_EQ(GetErrno((*on_device)->ClearPersistError()), EFAULT);

  // From C's last page into D3: C has no file whose fsync could have failed, so the EINVAL (D3's) is charged to no Map
  // and the sync succeeds.
  written_back.clear();
  EXPECT_EQ(map_internal::SyncPages(base + 5 * kLength - 10, 20, /*caller_sees_result=*/true), 0);
  EXPECT_TRUE(c->PersistError().ok()) << c->PersistError();
  EXPECT_TRUE(d3->PersistError().ok()) << d3->PersistError();
  if (counted) {
    EXPECT_THAT(written_back, ::testing::ElementsAre(Range(base + 5 * kLength, 10)));
  }
}

// The deep drain of Device DAX (pmem_deep_drain, pmem_deep_persist; libpmem.h): where all of the range is such Maps,
// a fence and then the region's deep_flush written once per device, and no msync (Device DAX has no fsync); OK.
TEST_F(DeviceDaxWriteBackTest, DeepDrainWritesTheRegionsDeepFlushAndSyncsNothing) {
  const std::string deep_flush = link_.substr(0, link_.find("/dev/char/")) + "/devices/ndbus0/region0/deep_flush";
  {
    std::ofstream attribute(deep_flush);
    attribute << "1\n";
  }
  const std::optional<Source>& source = source_;
  void* memory = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  {
    absl::StatusOr<Map> map = Map::FromExisting(*source, memory, kLength, StoreGranularity::kCacheLine);
    ASSERT_TRUE(map.ok()) << map.status();
    const int syncs_before = failed_syncs;
    map_internal::SetMsyncForTest(&EinvalMsync);
    static_cast<char*>(memory)[1] = 'x';
    const absl::Status drained = DeepDrain(memory, kLength);
    map_internal::SetMsyncForTest(nullptr);
    EXPECT_TRUE(drained.ok()) << drained;
    EXPECT_EQ(failed_syncs, syncs_before) << "no msync";
    std::ifstream attribute(deep_flush);
    const std::string content((std::istreambuf_iterator<char>(attribute)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "1") << "the region's deep_flush was not written";
  }
  munmap(memory, kLength);
}

#if defined(__x86_64__)
// An SSE2 CPU without even CLFLUSH: no cache-line write-back at all.
arch::x86_64::CpuFeatures CpuWithoutAFlushInstruction() {
  arch::x86_64::CpuFeatures features = ::pmem2::testing::RestrictedFeatures(
      ::pmem2::testing::IsaLevel::kSse2, ::pmem2::testing::FlushInstruction::kClflush);
  features.clflush = false;
  return features;
}

// On a CPU without a cache-line write-back only byte (eADR) Maps of Device DAX exist (granularity.h, rule 5), and
// msync's EINVAL over them is answered with a fence: nothing recorded, 0 returned. A page adoption there is refused,
// and so is a byte one where the CPU caches are not in the persistence domain (its persists would only fence: it was
// adopted, found by review).
TEST(MapFromExistingDeviceDaxTest, OnACpuWithoutWriteBackAByteMapsEinvalIsAFence) {
  ::pmem2::testing::ScopedCpuFeatures cpu(CpuWithoutAFlushInstruction());
  ASSERT_FALSE(arch::CacheLineOps().writes_back_cache_lines);
  ::pmem2::testing::FakeSysfs sysfs;
  sysfs.MakeDevNullDeviceDaxOnRegion(std::to_string(kLength), "4096");
  sysfs.AddRegion("cpu_cache");
  ScopedFd fd(open("/dev/null", O_RDWR | O_CLOEXEC));
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  // Shared, as a Device DAX mapping is (FromExisting refuses a private mapping of a file or device).
  void* memory = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  char* const bytes = static_cast<char*>(memory);
  EXPECT_EQ(GetErrorCode(Map::FromExisting(*source, memory, kLength, StoreGranularity::kPage).status()),
            ErrorCode::kGranularityNotSupported);
  {
    absl::StatusOr<Map> map = Map::FromExisting(*source, memory, kLength, StoreGranularity::kByte);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_EQ(map->store_granularity(), StoreGranularity::kByte);
    const uint64_t errors_before = PersistErrorCount();
    map_internal::SetMsyncForTest(&EinvalMsync);
    EXPECT_EQ(map_internal::SyncPages(bytes + 10, 6, /*caller_sees_result=*/true), 0);
    map_internal::SetMsyncForTest(nullptr);
    EXPECT_EQ(PersistErrorCount(), errors_before);
    EXPECT_TRUE(map->PersistError().ok());
  }
  {
    ::pmem2::testing::FakeSysfs no_eadr;
    no_eadr.MakeDevNullDeviceDaxOnRegion(std::to_string(kLength), "4096");
    no_eadr.AddRegion("memory_controller");
    const absl::Status byte = Map::FromExisting(*source, memory, kLength, StoreGranularity::kByte).status();
    EXPECT_EQ(GetErrorCode(byte), ErrorCode::kGranularityNotSupported) << byte;
  }
  munmap(memory, kLength);
}

// Where the cache-line flush is the byte tables' none (a CPU without CLFLUSH), a byte
// Map writes nothing back, so its Persist and Flush need no access: an inaccessible range is persisted (nothing to
// do) without a look at the maps, not refused. (Review: the check keyed on the cache-line table's flush, which then is
// the byte tables'.)
TEST(MapFromExistingAnonymousTest, AByteMapThatWritesNothingBackNeedsNoAccessToPersist) {
  ::pmem2::testing::ScopedCpuFeatures cpu(CpuWithoutAFlushInstruction());
  ASSERT_EQ(arch::CacheLineOps().flush, arch::ByteOps().flush);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* area = mmap(nullptr, page, PROT_NONE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  {
    absl::StatusOr<Map> map = Map::FromExisting(*Source::Anonymous(page), area, page, StoreGranularity::kByte);
    ASSERT_TRUE(map.ok()) << map.status();
    EXPECT_TRUE(map->Persist(area, 64).ok());
    EXPECT_TRUE(map->Flush(area, 64).ok());
  }
  munmap(area, page);
}
#endif

// A mapping of a Device DAX of volatile memory (on no NVDIMM region: hmem, a CXL RAM region; or on an NVDIMM region of
// volatile memory, devtype nd_volatile) cannot be vouched for at any granularity: Create() refuses such a device
// (map_test.cc), and so does FromExisting().
TEST(MapFromExistingDeviceDaxTest, ADeviceDaxOfVolatileMemoryIsRefused) {
  struct Case {
    const char* parent;
    const char* devtype;  // of the region, if any
    const char* says;
  };
  for (const Case& c : {Case{"devices/platform/hmem.0", nullptr, "(dax0.0) is not on an NVDIMM region"},
                        Case{"devices/ndbus0/region2", "nd_volatile", "an NVDIMM region of volatile memory"}}) {
    SCOPED_TRACE(c.parent);
    ::pmem2::testing::FakeSysfs sysfs;
    sysfs.MakeDevNullDeviceDaxUnder(c.parent, std::to_string(kLength), "4096");
    if (c.devtype != nullptr) std::ofstream(sysfs.root() + "/" + c.parent + "/devtype") << c.devtype << "\n";
    ScopedFd fd(open("/dev/null", O_RDWR | O_CLOEXEC));
    absl::StatusOr<Source> source = Source::FromFd(fd.get());
    ASSERT_TRUE(source.ok()) << source.status();
    ASSERT_EQ(source->kind(), SourceKind::kDeviceDax);
    void* memory = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(memory, MAP_FAILED);
    for (StoreGranularity g : {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
      const absl::Status status = Map::FromExisting(*source, memory, kLength, g).status();
      EXPECT_EQ(GetErrorCode(status), ErrorCode::kGranularityNotSupported) << status;
      EXPECT_THAT(std::string(status.message()), HasSubstr(c.says)) << status;
    }
    munmap(memory, kLength);
  }
}

// A file on a file system whose NVDIMM region is volatile memory (devtype nd_volatile; the kernel lets it take
// MAP_SYNC): adopted at page granularity whatever the caller vouches for, naming why, as Create() maps it (found by
// audit: cache line, and persistent memory to IsPersistentMemory). So is one whose block device is stacked over such
// a region (device-mapper over a pmem namespace of it), and one whose block device sysfs does not show (sysfs not
// mounted): their media's durability none or unknown (found by a later audit: cache line). A fake sysfs puts the test
// file's block device there; on a file system with no block device (tmpfs) there is none to put.
TEST(MapFromExistingRegionTest, AFileOnAVolatileNvdimmRegionOrOneSysfsCannotPlaceIsAdoptedAtPageGranularity) {
  const char* base = std::getenv("TEST_TMPDIR");
  ScopedTempDir dir(base != nullptr ? base : "/var/tmp");
  ScopedFd fd = CreateFile(dir.Join("f"), kLength, O_RDWR);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  if (major(st.st_dev) == 0) GTEST_SKIP() << "the test's folder is on no block device";
  enum class Where { kOnTheRegion, kStackedOverIt, kNotInSysfs };
  for (const Where where : {Where::kOnTheRegion, Where::kStackedOverIt, Where::kNotInSysfs}) {
    SCOPED_TRACE(static_cast<int>(where));
    ::pmem2::testing::FakeSysfs sysfs;
    const std::string region = sysfs.root() + "/devices/ndbus0/region7";
    const std::string pmem = region + "/pfn7.0/block/pmem7";
    const std::string dm = sysfs.root() + "/devices/virtual/block/dm-0";
    const std::string link = absl::StrCat(sysfs.root(), "/dev/block/", major(st.st_dev), ":", minor(st.st_dev));
    std::string expected_reason = "is not in sysfs";
    if (where != Where::kNotInSysfs) {
      ASSERT_EQ(std::system(("mkdir -p '" + pmem + "' '" + dm + "/slaves' '" + sysfs.root() + "/dev/block'").c_str()),
                0);
      std::ofstream(region + "/devtype") << "nd_volatile\n";
    }
    if (where == Where::kOnTheRegion) {
      ASSERT_EQ(symlink(pmem.c_str(), link.c_str()), 0) << link;
      expected_reason = "(pmem7) is on region7, an NVDIMM region of volatile memory";
    } else if (where == Where::kStackedOverIt) {
      ASSERT_EQ(symlink(pmem.c_str(), (dm + "/slaves/pmem7").c_str()), 0);
      ASSERT_EQ(symlink(dm.c_str(), link.c_str()), 0) << link;
      expected_reason = "(dm-0) is stacked over region7, an NVDIMM region of volatile memory";
    }
    absl::StatusOr<Source> source = Source::FromFd(fd.get());
    ASSERT_TRUE(source.ok()) << source.status();
    void* memory = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(memory, MAP_FAILED);
    {
      map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax;  // the medium's rule on its own (the file is not DAX either)
      for (StoreGranularity given : {StoreGranularity::kByte, StoreGranularity::kCacheLine}) {
        absl::StatusOr<Map> map = Map::FromExisting(*source, memory, kLength, given);
        ASSERT_TRUE(map.ok()) << map.status();
        EXPECT_EQ(map->store_granularity(), StoreGranularity::kPage);
        EXPECT_THAT(map->diagnostics().reason, HasSubstr(expected_reason));
        EXPECT_FALSE(IsPersistentMemory(memory, kLength));
      }
    }
    munmap(memory, kLength);
  }
}

}  // namespace
}  // namespace pmem2
