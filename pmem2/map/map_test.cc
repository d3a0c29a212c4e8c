// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/map.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <libpmem2.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/adopt_for_test.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/fake_sysfs.h"
#include "testing/huge_pages.h"
#include "testing/proc_maps.h"
#if defined(__x86_64__)
#include "testing/cpu/scoped_cpu_features.h"
#endif
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::FileSystem;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr size_t kPage = 4096;

// The same request made of Debian's libpmem2, the reference implementation: its return value.
int ReferenceMapNew(int fd, uint64_t offset, size_t length, StoreGranularity granularity,
                    Sharing sharing = Sharing::kShared, Protection protection = kProtRead | kProtWrite) {
  struct pmem2_config* config = nullptr;
  struct pmem2_source* source = nullptr;
  struct pmem2_map* map = nullptr;
  pmem2_config_new(&config);
  pmem2_config_set_required_store_granularity(config, static_cast<pmem2_granularity>(granularity));
  pmem2_config_set_offset(config, offset);
  pmem2_config_set_length(config, length);
  pmem2_config_set_sharing(config, static_cast<pmem2_sharing_type>(sharing));
  pmem2_config_set_protection(config, static_cast<unsigned>(protection));
  int ret = pmem2_source_from_fd(&source, fd);
  if (ret == 0) ret = pmem2_map_new(&map, config, source);
  if (map != nullptr) pmem2_map_delete(&map);
  pmem2_source_delete(&source);
  pmem2_config_delete(&config);
  return ret;
}

Config MakeConfig(StoreGranularity granularity, uint64_t offset = 0, size_t length = 0) {
  Config config;
  config.set_required_store_granularity(granularity);
  config.set_offset(offset);
  config.set_length(length);
  return config;
}

absl::StatusOr<Map> MapFd(int fd, const Config& config) {
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return source.status();
  return Map::Create(config, *source);
}

std::string ReadFile(int fd, size_t size, off_t offset = 0) {
  std::string data(size, '\0');
  EXPECT_EQ(pread(fd, data.data(), size, offset), static_cast<ssize_t>(size));
  return data;
}

class MapOnFileSystemTest : public ::testing::TestWithParam<FileSystem> {
 protected:
  // Every test here is about detection: no forced granularity from the environment leaks in.
  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{GetParam().base};
};

TEST_P(MapOnFileSystemTest, PageGranularityMapsAndPersistsToTheFile) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), 4 * kPage);
  EXPECT_EQ(map->store_granularity(), StoreGranularity::kPage);
  EXPECT_FALSE(map->diagnostics().map_sync);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(map->address()) % (2 << 20), 0u) << "2 MiB-aligned for huge pages";
  EXPECT_STREQ(map->diagnostics().flush_name, "msync");

  char* base = static_cast<char*>(map->address());
  map->memcpy_fn()(base + 10, "hello", 5, 0);
  map->memset_fn()(base + kPage, 'x', 3, 0);
  std::memcpy(base + 2 * kPage, "raw", 3);
  map->persist_fn()(base + 2 * kPage, 3);
  map->memmove_fn()(base + 11, base + 10, 5, 0);  // overlapping
  EXPECT_EQ(ReadFile(fd.get(), 6, 10), "hhello");
  EXPECT_EQ(ReadFile(fd.get(), 3, kPage), "xxx");
  EXPECT_EQ(ReadFile(fd.get(), 3, 2 * kPage), "raw");
  EXPECT_TRUE(map->PersistError().ok());
}

TEST_P(MapOnFileSystemTest, FinerGranularityThanThePageCacheIsRefused) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  for (StoreGranularity g : {StoreGranularity::kByte, StoreGranularity::kCacheLine}) {
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(g));
    EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kGranularityNotSupported);
    EXPECT_EQ(map.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(map.status().message()), HasSubstr(std::string(StoreGranularityName(g))));
    EXPECT_THAT(std::string(map.status().message()), HasSubstr("msync"));
    EXPECT_EQ(ToLibpmem2ReturnValue(map.status()), ReferenceMapNew(fd.get(), 0, 0, g));
  }
}

TEST_P(MapOnFileSystemTest, ForcedGranularitiesSelectTheirFunctions) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  struct Case {
    const char* env;
    StoreGranularity expected;
    const arch::PersistOps* ops;  // nullptr for page
  };
  for (const Case& c : {Case{"byte", StoreGranularity::kByte, &arch::ByteOps()},
                        Case{"CACHE_LINE", StoreGranularity::kCacheLine, &arch::CacheLineOps()},
                        Case{"cacheline", StoreGranularity::kCacheLine, &arch::CacheLineOps()},
                        Case{"Page", StoreGranularity::kPage, nullptr}}) {
    ScopedEnv env("PMEM2_FORCE_GRANULARITY", c.env);
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
    ASSERT_TRUE(map.ok()) << c.env << ": " << map.status();
    EXPECT_EQ(map->store_granularity(), c.expected) << c.env;
    EXPECT_TRUE(map->diagnostics().forced);
    EXPECT_EQ(map->diagnostics().detected_granularity, StoreGranularity::kPage);
    if (c.ops != nullptr) {
      EXPECT_EQ(map->persist_fn(), c.ops->persist);
      EXPECT_EQ(map->flush_fn(), c.ops->flush);
      EXPECT_EQ(map->drain_fn(), c.ops->drain);
      EXPECT_EQ(map->memcpy_fn(), c.ops->memmove);
      EXPECT_EQ(map->memset_fn(), c.ops->memset);
    }
    char* base = static_cast<char*>(map->address());
    map->memcpy_fn()(base + 100, "forced", 6, 0);
    map->persist_fn()(base, 2 * kPage);
    EXPECT_EQ(ReadFile(fd.get(), 6, 100), "forced");
  }
}

TEST_P(MapOnFileSystemTest, ForcedCacheLineSatisfiesACacheLineRequest) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ScopedEnv env("PMEM2_FORCE_GRANULARITY", "cache_line");
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kCacheLine));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
  absl::StatusOr<Map> byte = MapFd(fd.get(), MakeConfig(StoreGranularity::kByte));
  EXPECT_EQ(GetErrorCode(byte.status()), ErrorCode::kGranularityNotSupported);
  EXPECT_THAT(std::string(byte.status().message()), HasSubstr("PMEM2_FORCE_GRANULARITY"));
}

// IsPersistentMemory answers from the live Maps: the whole range must lie in Maps whose stores become durable
// through the CPU.
TEST_P(MapOnFileSystemTest, IsPersistentMemoryAnswersFromTheLiveMaps) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> page = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(IsPersistentMemory(page->address(), kPage));
  {
    ScopedEnv env("PMEM2_FORCE_GRANULARITY", "cache_line");
    absl::StatusOr<Map> cache_line = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
    ASSERT_TRUE(cache_line.ok());
    char* base = static_cast<char*>(cache_line->address());
    EXPECT_TRUE(IsPersistentMemory(base, 4 * kPage));
    EXPECT_TRUE(IsPersistentMemory(base + 4 * kPage - 1, 1));
    EXPECT_TRUE(IsPersistentMemory(base, 0));
    EXPECT_FALSE(IsPersistentMemory(base, 4 * kPage + 1)) << "the last byte is in no Map";
    EXPECT_FALSE(IsPersistentMemory(base + 4 * kPage, 1));
    // A Map whose end is no page boundary holds the rest of its last page (map.h), but only its own bytes are
    // persistent memory: the rest is past the file's end, where a flush makes nothing durable (as libpmem, which counts
    // the mapped length). They counted once (found by review). An adopted one: its exact range as well.
    ScopedFd odd = CreateFile(dir_.Join("odd"), kPage + 100, O_RDWR);
    absl::StatusOr<Map> partial = MapFd(odd.get(), MakeConfig(StoreGranularity::kPage));
    ASSERT_TRUE(partial.ok()) << partial.status();
    const char* const partial_at = static_cast<const char*>(partial->address());
    EXPECT_TRUE(IsPersistentMemory(partial_at + kPage + 99, 1)) << "its last byte";
    EXPECT_TRUE(IsPersistentMemory(partial_at, kPage + 100));
    EXPECT_FALSE(IsPersistentMemory(partial_at + kPage + 100, 1)) << "the rest of a created Map's last page";
    EXPECT_FALSE(IsPersistentMemory(partial_at, kPage + 101));
    EXPECT_FALSE(IsPersistentMemory(partial_at + 2 * kPage, 1));
    void* const raw = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, odd.get(), 0);
    ASSERT_NE(raw, MAP_FAILED);
    {
      map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax;  // else page: the file is not DAX
      absl::StatusOr<Map> adopted =
          Map::FromExisting(*Source::FromFd(odd.get()), raw, kPage + 100, StoreGranularity::kCacheLine);
      ASSERT_TRUE(adopted.ok()) << adopted.status();
      EXPECT_TRUE(IsPersistentMemory(static_cast<char*>(raw) + kPage + 99, 1));
      EXPECT_FALSE(IsPersistentMemory(static_cast<char*>(raw) + kPage + 100, 1)) << "an adopted Map: its exact range";
    }
    munmap(raw, 2 * kPage);
    const void* gone = base;
    cache_line = absl::StatusOr<Map>(absl::UnknownError("destroyed"));
    EXPECT_FALSE(IsPersistentMemory(gone, 1)) << "a destroyed Map no longer counts";
  }
  absl::StatusOr<Source> anonymous = Source::Anonymous(kPage);
  ASSERT_TRUE(anonymous.ok());
  absl::StatusOr<Map> byte = Map::Create(MakeConfig(StoreGranularity::kByte), *anonymous);
  ASSERT_TRUE(byte.ok());
  EXPECT_EQ(byte->store_granularity(), StoreGranularity::kByte);
  EXPECT_FALSE(IsPersistentMemory(byte->address(), 1)) << "anonymous memory is never durable";
  int on_stack = 0;
  EXPECT_FALSE(IsPersistentMemory(&on_stack, sizeof on_stack));
  EXPECT_FALSE(IsPersistentMemory(nullptr, SIZE_MAX));
}

TEST_P(MapOnFileSystemTest, InvalidForcedGranularityIsAnError) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  ScopedEnv env("PMEM2_FORCE_GRANULARITY", "bytes");
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidForcedGranularity);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("\"bytes\""));
}

TEST_P(MapOnFileSystemTest, GranularityNotSet) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok());
  absl::StatusOr<Map> map = Map::Create(Config(), *source);
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kGranularityNotSet);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_P(MapOnFileSystemTest, EmptyFile) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 0, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kSourceEmpty);
  EXPECT_THAT(map.status().message(), HasSubstr("the file has size 0"));
  EXPECT_EQ(ToLibpmem2ReturnValue(map.status()), ReferenceMapNew(fd.get(), 0, 0, StoreGranularity::kPage));
}

TEST_P(MapOnFileSystemTest, RangeErrorsMatchTheReference) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  struct Case {
    uint64_t offset;
    size_t length;
    ErrorCode expected;
    const char* message_part;
  };
  for (const Case& c : {
           Case{1, 0, ErrorCode::kOffsetUnaligned, "offset 1 "},
           Case{kPage + 512, kPage, ErrorCode::kOffsetUnaligned, "4096"},
           Case{0, 100, ErrorCode::kLengthUnaligned, "length 100 "},
           Case{kPage, 4 * kPage, ErrorCode::kMapRange, "passes the end"},
           Case{8 * kPage, kPage, ErrorCode::kMapRange, "passes the end"},
           Case{kPage, SIZE_MAX - kPage + 1, ErrorCode::kMapRange, "overflows"},
           Case{8 * kPage, 0, ErrorCode::kMapRange, "past the end"},
       }) {
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, c.offset, c.length));
    EXPECT_EQ(GetErrorCode(map.status()), c.expected) << c.offset << "+" << c.length << ": " << map.status();
    EXPECT_THAT(std::string(map.status().message()), HasSubstr(c.message_part));
    EXPECT_EQ(ToLibpmem2ReturnValue(map.status()),
              ReferenceMapNew(fd.get(), c.offset, c.length, StoreGranularity::kPage))
        << c.offset << "+" << c.length;
  }
}

// libpmem2 1.12.1 hands this case to mmap and returns its -EINVAL; pmem2 names the range error.
TEST_P(MapOnFileSystemTest, OffsetAtTheEndIsARangeErrorNotEinval) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, 2 * kPage, 0));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kMapRange);
  EXPECT_EQ(ReferenceMapNew(fd.get(), 2 * kPage, 0, StoreGranularity::kPage), -EINVAL)
      << "the reference's bug was fixed; drop this comparison";
}

// Every combination of these inputs gets the same answer from pmem2 as from libpmem2 1.12.1, except where the
// reference has a bug (listed below and asserted, so a fixed reference shows up here).
TEST_P(MapOnFileSystemTest, ExhaustiveDifferentialAgainstTheReference) {
  const uint64_t sizes[] = {0, 1, 4095, kPage, kPage + 4, 2 * kPage, 16 * kPage};
  const uint64_t offsets[] = {0, 1, kPage, 2 * kPage, 16 * kPage, uint64_t{1} << 62};
  const size_t lengths[] = {0, 1, kPage, 2 * kPage, 16 * kPage, SIZE_MAX - kPage + 1};
  const StoreGranularity granularities[] = {StoreGranularity::kByte, StoreGranularity::kCacheLine,
                                            StoreGranularity::kPage};
  const Protection protections[] = {kProtRead | kProtWrite, kProtRead, kProtNone, kProtRead | kProtWrite | kProtExec};
  int compared = 0, reference_bugs = 0;
  for (int open_mode : {O_RDWR, O_RDONLY}) {
    for (uint64_t size : sizes) {
      ScopedFd fd = CreateFile(dir_.Join("f"), size, open_mode);
      for (uint64_t offset : offsets) {
        for (size_t length : lengths) {
          for (StoreGranularity granularity : granularities) {
            for (Sharing sharing : {Sharing::kShared, Sharing::kPrivate}) {
              for (Protection protection : protections) {
                Config config = MakeConfig(granularity, offset, length);
                config.set_sharing(sharing);
                config.set_protection(protection);
                const int ours = ToLibpmem2ReturnValue(MapFd(fd.get(), config).status());
                const int reference = ReferenceMapNew(fd.get(), offset, length, granularity, sharing, protection);
                ++compared;
                const std::string where = absl::StrCat("size ", size, " offset ", offset, " length ", length,
                                                       " granularity ", static_cast<int>(granularity), " sharing ",
                                                       static_cast<int>(sharing), " prot ", protection, " mode ",
                                                       open_mode);
                if (length == 0 && size != 0 && offset == size && offset % kPage == 0) {
                  // Reference bug: mmap of length 0 leaks -EINVAL.
                  EXPECT_EQ(ours, PMEM2_E_MAP_RANGE) << where;
                  EXPECT_EQ(reference, -EINVAL) << where;
                  ++reference_bugs;
                  continue;
                }
                EXPECT_EQ(ours, reference) << where;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(reference_bugs, 0);
  RecordProperty("compared", compared);
}

TEST_P(MapOnFileSystemTest, OffsetAndLengthSelectTheWindow) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  ASSERT_EQ(pwrite(fd.get(), "window", 6, 2 * kPage), 6);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, 2 * kPage, kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), kPage);
  EXPECT_EQ(std::string(static_cast<char*>(map->address()), 6), "window");
  absl::StatusOr<Map> rest = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, kPage, 0));
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), 3 * kPage);
}

TEST_P(MapOnFileSystemTest, UnalignedFileSizeMapsWholeFileWithLengthZero) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage + 4, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), kPage + 4);
  char* base = static_cast<char*>(map->address());
  map->memcpy_fn()(base + kPage, "tail", 4, 0);
  EXPECT_EQ(ReadFile(fd.get(), 4, kPage), "tail");
  EXPECT_EQ(ReferenceMapNew(fd.get(), 0, 0, StoreGranularity::kPage), 0);
}

TEST_P(MapOnFileSystemTest, ReadOnlyDescriptor) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDONLY);
  // Shared + write on a read-only descriptor: refused before mmap.
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kNoAccess);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("read-only"));
  EXPECT_EQ(ToLibpmem2ReturnValue(map.status()), ReferenceMapNew(fd.get(), 0, 0, StoreGranularity::kPage));

  // Shared read-only protection works.
  Config read_only = MakeConfig(StoreGranularity::kPage);
  read_only.set_protection(kProtRead);
  map = MapFd(fd.get(), read_only);
  EXPECT_TRUE(map.ok()) << map.status();

  // Private + write: copy on write, the file never changes.
  Config private_config = MakeConfig(StoreGranularity::kPage);
  private_config.set_sharing(Sharing::kPrivate);
  map = MapFd(fd.get(), private_config);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->store_granularity(), StoreGranularity::kByte);
  map->memcpy_fn()(map->address(), "private", 7, 0);
  EXPECT_EQ(ReadFile(fd.get(), 7), std::string(7, '\0'));
}

TEST_P(MapOnFileSystemTest, ProtectionNoneMaps) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  Config config = MakeConfig(StoreGranularity::kPage);
  config.set_protection(kProtNone);
  absl::StatusOr<Map> map = MapFd(fd.get(), config);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->protection(), kProtNone);
  EXPECT_FALSE(map->writes_back_cache_lines()) << "a page Map's persist is msync";
  EXPECT_EQ(ToLibpmem2ReturnValue(map.status()),
            ReferenceMapNew(fd.get(), 0, 0, StoreGranularity::kPage, Sharing::kShared, kProtNone));
}

// The Status methods of a Map made without the access a function needs ask the kernel, and refuse (kNoAccess)
// rather than crash: no store into a read-only Map, no cache-line write-back of an inaccessible one (a flush faults
// like a load). After mprotect(2) gives the access, they run.
TEST_P(MapOnFileSystemTest, StatusMethodsRefuseWhatTheProtectionDoesNotAllow) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ScopedEnv env("PMEM2_FORCE_GRANULARITY", "cache_line");
  for (Protection protection : {kProtNone, kProtRead}) {
    Config config = MakeConfig(StoreGranularity::kCacheLine);
    config.set_protection(protection);
    absl::StatusOr<Map> map = MapFd(fd.get(), config);
    ASSERT_TRUE(map.ok()) << map.status();
    ASSERT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
    EXPECT_EQ(map->protection(), protection) << "the Config's, which pmem2/uring's engine keeps";
    EXPECT_TRUE(map->writes_back_cache_lines()) << "a cache-line Map's persist writes lines back";
    char* base = static_cast<char*>(map->address());
    const char bytes[] = "stored";
    for (const absl::Status& s : {map->Memcpy(base + 100, bytes, sizeof bytes), map->Memmove(base, bytes, 1),
                                  map->Memset(base + kPage, 'x', 64)}) {
      EXPECT_EQ(GetErrorCode(s), ErrorCode::kNoAccess) << s;
      EXPECT_THAT(std::string(s.message()), HasSubstr("cannot be stored to")) << s;
    }
    for (const absl::Status& s : {map->Persist(base, 64), map->Flush(base + kPage, kPage), map->DeepFlush(base, 1)}) {
      if (protection == kProtRead) {
        EXPECT_NE(GetErrorCode(s), ErrorCode::kNoAccess) << "a readable range can be written back: " << s;
      } else {
        EXPECT_EQ(GetErrorCode(s), ErrorCode::kNoAccess) << s;
        EXPECT_THAT(std::string(s.message()), HasSubstr("cannot be written back")) << s;
      }
    }
    EXPECT_TRUE(map->Memcpy(base, bytes, 0).ok()) << "an empty range touches nothing";
    ASSERT_EQ(mprotect(base, kPage, PROT_READ | PROT_WRITE), 0);
    EXPECT_TRUE(map->Memcpy(base + 100, bytes, sizeof bytes).ok());
    EXPECT_TRUE(map->Persist(base, kPage).ok());
    EXPECT_EQ(GetErrorCode(map->Memset(base + kPage - 1, 'x', 2)), ErrorCode::kNoAccess)
        << "the second page was not made writable";
    EXPECT_EQ(ReadFile(fd.get(), sizeof bytes, 100), std::string(bytes, sizeof bytes));
  }
}

TEST_P(MapOnFileSystemTest, DescriptorMayBeClosedAfterCreate) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok());
  close(fd.release());
  map->memcpy_fn()(map->address(), "still", 5, 0);
  EXPECT_TRUE(map->PersistError().ok());
  ScopedFd again(open(dir_.Join("f").c_str(), O_RDONLY));
  EXPECT_EQ(ReadFile(again.get(), 5), "still");
}

TEST_P(MapOnFileSystemTest, ClosedDescriptorBeforeCreate) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok());
  close(fd.release());
  absl::StatusOr<Map> map = Map::Create(MakeConfig(StoreGranularity::kPage), *source);
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidFileHandle);
}

// The descriptor closed and its number given to another file: neither Create() nor FromExisting() takes that
// file for the Source's (Create would map it; both would charge it with the Map's failures).
TEST_P(MapOnFileSystemTest, ADescriptorNumberReusedByAnotherFileIsRefused) {
  ScopedFd fd = CreateFile(dir_.Join("f"), kPage, O_RDWR);
  const Source source = Source::FromFd(fd.get()).value();
  ScopedFd other = CreateFile(dir_.Join("other"), kPage, O_RDWR);
  ASSERT_EQ(dup2(other.get(), fd.get()), fd.get());
  absl::StatusOr<Map> map = Map::Create(MakeConfig(StoreGranularity::kPage), source);
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidFileHandle) << map.status();
  void* mapped = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, other.get(), 0);
  ASSERT_NE(mapped, MAP_FAILED);
  absl::StatusOr<Map> adopted = Map::FromExisting(source, mapped, kPage, StoreGranularity::kPage);
  EXPECT_EQ(GetErrorCode(adopted.status()), ErrorCode::kInvalidFileHandle) << adopted.status();
  munmap(mapped, kPage);
}

// An mmap of a file that the kernel refuses with EACCES (the descriptor's mode does not allow the protection: a file
// system's own rule, here a filter) is kNoAccess naming the descriptor, as map.h lists, not a bare errno error.
TEST_P(MapOnFileSystemTest, AnMmapRefusedWithEaccesIsNoAccess) {
  if (!::pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ::pmem2::testing::DenySystemCallWithFlags(__NR_mmap, 3, MAP_SHARED, EACCES);
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
    ::pmem2::testing::WriteToParent(
        out, absl::StrCat(static_cast<int>(GetErrorCode(map.status())), " ", map.status().message()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, ::testing::StartsWith(absl::StrCat(static_cast<int>(ErrorCode::kNoAccess), " ")));
  // The protection asked for, and both causes the kernel has (the access mode, a file marked append-only).
  EXPECT_THAT(child.output,
              HasSubstr(absl::StrCat("with protection 0x", absl::Hex(static_cast<unsigned>(kProtRead | kProtWrite)),
                                     " refused (EACCES)")));
  EXPECT_THAT(child.output, HasSubstr("marked append-only (chattr +a)"));
  EXPECT_THAT(child.output, Not(HasSubstr("O_APPEND"))) << "the kernel looks at the inode, not the descriptor's flag";
}

// Which is why the message does not name O_APPEND: a descriptor opened with it maps shared and writable.
TEST_P(MapOnFileSystemTest, ADescriptorOpenedAppendOnlyMapsSharedAndWritable) {
  ScopedFd created = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ScopedFd fd(open(dir_.Join("f").c_str(), O_RDWR | O_APPEND));
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_TRUE(map->Memcpy(map->address(), "appended?", 9).ok());
}

// Into a reservation, MAP_SYNC is asked first of a mapping the kernel places, never with MAP_FIXED over the
// placeholder: where the file system refuses it (not DAX), a MAP_FIXED attempt had unmapped the placeholder before
// Linux 6.12, a hole another thread's mmap could take. A filter fails every MAP_FIXED | MAP_SYNC mmap with EPERM
// (negative control: without the probe, Create failed with EPERM).
TEST_P(MapOnFileSystemTest, IntoAReservationMapSyncIsNeverTriedOverThePlaceholder) {
  if (!::pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  void* sync = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd.get(), 0);
  if (sync != MAP_FAILED) {
    munmap(sync, kPage);
    GTEST_SKIP() << "this file system takes MAP_SYNC (DAX): the MAP_FIXED mmap rightly carries it";
  }
  ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    absl::StatusOr<VmReservation> reservation = VmReservation::Create(8 * kPage);
    if (!reservation.ok()) return 2;
    ::pmem2::testing::DenySystemCallWithFlags(__NR_mmap, 3, MAP_FIXED | MAP_SYNC, EPERM);
    Config config = MakeConfig(StoreGranularity::kPage);
    config.set_vm_reservation(&*reservation, 2 * kPage);
    absl::StatusOr<Map> map = MapFd(fd.get(), config);
    if (!map.ok()) {
      ::pmem2::testing::WriteToParent(out, map.status().ToString());
      return 0;
    }
    ::pmem2::testing::WriteToParent(
        out, map->address() == static_cast<char*>(reservation->address()) + 2 * kPage ? "ok" : "placed elsewhere");
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "ok");
}

// The same without a reservation: MapAligned's MAP_FIXED mmap into its reserve, refused, left a hole there before Linux
// 6.12, which its munmap of the reserve then unmapped whatever another thread had put there. So MAP_SYNC is asked of
// a probe first here too (before, Create failed: the denied MAP_FIXED | MAP_SYNC was the first try).
TEST_P(MapOnFileSystemTest, WithoutAReservationMapSyncIsNeverTriedOverTheReserve) {
  if (!::pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  void* sync = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd.get(), 0);
  if (sync != MAP_FAILED) {
    munmap(sync, kPage);
    GTEST_SKIP() << "this file system takes MAP_SYNC (DAX): the MAP_FIXED mmap rightly carries it";
  }
  ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ::pmem2::testing::DenySystemCallWithFlags(__NR_mmap, 3, MAP_FIXED | MAP_SYNC, EPERM);
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
    ::pmem2::testing::WriteToParent(out, map.ok() ? "ok" : map.status().ToString());
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "ok");
}

// Anonymous PROT_NONE mappings of this process (the reserves MapAligned places its mappings in).
int InaccessibleAnonymousMappings() {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  for (std::string line; std::getline(maps, line);) {
    count += line.find(" ---p 00000000 00:00 0") != std::string::npos;
  }
  return count;
}

// The mapping into the reserve fails (here a seccomp filter refuses every shared mmap with EOPNOTSUPP, which the
// MAP_SYNC probe takes for "no MAP_SYNC", as tmpfs and disk file systems without DAX answer it; then MapAligned's
// MAP_FIXED mmap fails): Create fails with the errno and no part of the reserve is left, also after the PROT_NONE
// mapping that MapAligned first places, without replacing anything, where the failed mmap may have left a hole.
TEST_P(MapOnFileSystemTest, AFailedMappingIntoTheReserveGivesTheReserveBack) {
  if (!::pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  ScopedFd fd = CreateFile(dir_.Join("f"), 2 * kPage, O_RDWR);
  ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    const int before = InaccessibleAnonymousMappings();
    // Private mappings (the reserve's, a sanitizer runtime's) are left alone.
    ::pmem2::testing::DenySystemCallWithFlags(__NR_mmap, 3, MAP_SHARED, EOPNOTSUPP);
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
    ::pmem2::testing::WriteToParent(out, absl::StrCat(map.ok() ? "mapped" : map.status().ToString(), "; ",
                                                      InaccessibleAnonymousMappings() - before, " left"));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, HasSubstr("Operation not supported"));
  EXPECT_THAT(child.output, ::testing::EndsWith("; 0 left"));
}

// Where the mapping starts in its file: the config's offset for a shared Map of a file; kNoFileOffset where its
// bytes are in no file (anonymous, private) or pmem2 does not know (FromExisting), and for a moved-from Map.
TEST_P(MapOnFileSystemTest, FileOffsetIsTheConfigsForSharedFileMapsOnly) {
  ScopedFd fd = CreateFile(dir_.Join("f"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> shared = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, 2 * kPage));
  ASSERT_TRUE(shared.ok()) << shared.status();
  EXPECT_EQ(shared->file_offset(), 2 * kPage);
  Config private_config = MakeConfig(StoreGranularity::kPage, kPage);
  private_config.set_sharing(Sharing::kPrivate);
  absl::StatusOr<Map> private_map = MapFd(fd.get(), private_config);
  ASSERT_TRUE(private_map.ok()) << private_map.status();
  EXPECT_EQ(private_map->file_offset(), Map::kNoFileOffset);
  absl::StatusOr<Map> anonymous = Map::Create(MakeConfig(StoreGranularity::kPage), Source::Anonymous(kPage).value());
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ(anonymous->file_offset(), Map::kNoFileOffset);
  void* mapped = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(mapped, MAP_FAILED);
  {
    absl::StatusOr<Map> adopted =
        Map::FromExisting(Source::FromFd(fd.get()).value(), mapped, kPage, StoreGranularity::kPage);
    ASSERT_TRUE(adopted.ok()) << adopted.status();
    EXPECT_EQ(adopted->file_offset(), Map::kNoFileOffset);
  }
  munmap(mapped, kPage);
  Map moved = *std::move(shared);
  EXPECT_EQ(moved.file_offset(), 2 * kPage);
  EXPECT_EQ(shared->file_offset(), Map::kNoFileOffset) << "moved from";  // NOLINT(bugprone-use-after-move)
}

TEST_P(MapOnFileSystemTest, LargeMappingsAlignToOneGib) {
  ScopedFd fd = CreateFile(dir_.Join("f"), uint64_t{2} << 30, O_RDWR);  // sparse
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(map->address()) % (uint64_t{1} << 30), 0u);
  EXPECT_EQ(map->diagnostics().address_alignment, size_t{1} << 30);
}

INSTANTIATE_TEST_SUITE_P(FileSystems, MapOnFileSystemTest, ::testing::ValuesIn(::pmem2::testing::TestFileSystems()),
                         ::pmem2::testing::FileSystemName);

// DeepFlush writes the CPU caches back at byte granularity too: of an inaccessible anonymous Map, kNoAccess.
TEST(MapTest, DeepFlushOfAnInaccessibleAnonymousMapIsRefusedNotACrash) {
  Config config = MakeConfig(StoreGranularity::kByte);
  config.set_protection(kProtNone);
  absl::StatusOr<Map> map = Map::Create(config, Source::Anonymous(kPage).value());
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(GetErrorCode(map->DeepFlush(map->address(), kPage)), ErrorCode::kNoAccess);
  EXPECT_EQ(GetErrorCode(map->Memset(map->address(), 0, kPage)), ErrorCode::kNoAccess);
  ASSERT_EQ(mprotect(map->address(), kPage, PROT_READ), 0);
  EXPECT_TRUE(map->DeepFlush(map->address(), kPage).ok());
}

TEST(MapTest, AnonymousIsByteGranularityAndZeroed) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  absl::StatusOr<Source> source = Source::Anonymous(3 * kPage);
  Config config = MakeConfig(StoreGranularity::kByte, /*offset=*/kPage);  // checked, then selects nothing
  absl::StatusOr<Map> map = Map::Create(config, *source);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->store_granularity(), StoreGranularity::kByte);
  EXPECT_EQ(map->size(), 3 * kPage);
  const char* base = static_cast<const char*>(map->address());
  EXPECT_EQ(std::string(base, 3 * kPage), std::string(3 * kPage, '\0'));
  EXPECT_EQ(map->persist_fn(), arch::ByteOps().persist);
}

// The reference for anonymous sources.
int ReferenceAnonymousMapNew(size_t source_size, uint64_t offset, size_t length, size_t* mapped) {
  struct pmem2_config* config = nullptr;
  struct pmem2_source* source = nullptr;
  struct pmem2_map* map = nullptr;
  pmem2_config_new(&config);
  pmem2_config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE);
  pmem2_config_set_offset(config, offset);
  pmem2_config_set_length(config, length);
  int ret = pmem2_source_from_anon(&source, source_size);
  if (ret == 0) ret = pmem2_map_new(&map, config, source);
  *mapped = map != nullptr ? pmem2_map_get_size(map) : 0;
  if (map != nullptr) pmem2_map_delete(&map);
  pmem2_source_delete(&source);
  pmem2_config_delete(&config);
  return ret;
}

TEST(MapTest, AnonymousOffsetsAndLengthsMatchTheReference) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  int mapped = 0, refused = 0;  // both outcomes must be compared, or the loop proves little
  for (size_t size : {size_t{0}, kPage, 3 * kPage}) {
    for (uint64_t offset : {uint64_t{0}, uint64_t{1}, kPage, 3 * kPage, 7 * kPage, uint64_t{1} << 62}) {
      for (size_t length : {size_t{0}, size_t{100}, kPage, 2 * kPage, 3 * kPage, 4 * kPage}) {
        absl::StatusOr<Map> map =
            Map::Create(MakeConfig(StoreGranularity::kPage, offset, length), *Source::Anonymous(size));
        size_t reference_size = 0;
        const int reference = ReferenceAnonymousMapNew(size, offset, length, &reference_size);
        EXPECT_EQ(ToLibpmem2ReturnValue(map.status()), reference)
            << "size " << size << " offset " << offset << " length " << length;
        if (map.ok()) {
          EXPECT_EQ(map->size(), reference_size) << "size " << size << " offset " << offset;
        }
        ++(reference == 0 ? mapped : refused);
      }
    }
  }
  EXPECT_GT(mapped, 10);
  EXPECT_GT(refused, 10);
}

// PMDK's own test suites set PMEM2_FORCE_GRANULARITY for a whole run. libpmem2 decides anonymous and private
// mappings (byte) before it reads the variable, so they keep mapping under any forced value; a C program moved to
// pmem2 must see the same. Compared with the reference for every forced value and required granularity.
TEST(MapTest, ForcedGranularityLeavesAnonymousAndPrivateMappingsAloneAsTheReferenceDoes) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kPage, O_RDWR);
  for (const char* forced : {"PAGE", "CACHE_LINE", "BYTE"}) {
    ScopedEnv env("PMEM2_FORCE_GRANULARITY", forced);
    for (StoreGranularity required : {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
      const std::string what = absl::StrCat(forced, ", required ", StoreGranularityName(required));
      struct pmem2_config* config = nullptr;
      struct pmem2_source* source = nullptr;
      struct pmem2_map* map = nullptr;
      pmem2_config_new(&config);
      pmem2_config_set_required_store_granularity(config, static_cast<pmem2_granularity>(required));
      ASSERT_EQ(pmem2_source_from_anon(&source, kPage), 0);
      const int reference_anonymous = pmem2_map_new(&map, config, source);
      const int reference_anonymous_granularity = map != nullptr ? pmem2_map_get_store_granularity(map) : -1;
      if (map != nullptr) pmem2_map_delete(&map);
      pmem2_source_delete(&source);
      pmem2_config_delete(&config);

      absl::StatusOr<Map> anonymous = Map::Create(MakeConfig(required), *Source::Anonymous(kPage));
      EXPECT_EQ(ToLibpmem2ReturnValue(anonymous.status()), reference_anonymous) << what;
      ASSERT_TRUE(anonymous.ok()) << what << ": " << anonymous.status();
      EXPECT_EQ(static_cast<int>(anonymous->store_granularity()), reference_anonymous_granularity) << what;
      EXPECT_FALSE(anonymous->diagnostics().forced) << what;

      Config private_config = MakeConfig(required);
      private_config.set_sharing(Sharing::kPrivate);
      absl::StatusOr<Map> private_map = MapFd(fd.get(), private_config);
      EXPECT_EQ(ToLibpmem2ReturnValue(private_map.status()),
                ReferenceMapNew(fd.get(), 0, 0, required, Sharing::kPrivate))
          << what;
      ASSERT_TRUE(private_map.ok()) << what;
      EXPECT_EQ(private_map->store_granularity(), StoreGranularity::kByte) << what;

      // Shared file mappings still take the forced value, as in libpmem2.
      absl::StatusOr<Map> shared = MapFd(fd.get(), MakeConfig(required));
      EXPECT_EQ(ToLibpmem2ReturnValue(shared.status()), ReferenceMapNew(fd.get(), 0, 0, required)) << what;
    }
  }
}

// Config::set_fully_allocated: a sparse file's holes are allocated before mapping, so no store can meet a full
// file system (SIGBUS); the file keeps its size and contents. (persistence_failure_test.cc fills a real one.)
TEST(MapTest, FullyAllocatedMappingHasNoHoles) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 64 * kPage, O_RDWR);
  ASSERT_EQ(pwrite(fd.get(), "keep", 4, 10 * kPage), 4);
  auto allocated = [&] {
    struct stat st;
    EXPECT_EQ(fstat(fd.get(), &st), 0);
    return static_cast<uint64_t>(st.st_blocks) * 512;
  };
  ASSERT_LT(allocated(), 64 * kPage) << "the test needs a sparse file";

  Config plain = MakeConfig(StoreGranularity::kPage, 0, 0);
  ASSERT_TRUE(MapFd(fd.get(), plain).ok());
  EXPECT_LT(allocated(), 64 * kPage) << "without the option nothing is allocated";

  // A request refused after the mmap (a granularity tmpfs cannot give) spends no block: the allocation comes last.
  const uint64_t before_refusal = allocated();
  Config refused = MakeConfig(StoreGranularity::kByte);
  refused.set_fully_allocated(true);
  EXPECT_EQ(GetErrorCode(MapFd(fd.get(), refused).status()), ErrorCode::kGranularityNotSupported);
  EXPECT_EQ(allocated(), before_refusal) << "a refused request allocated blocks";

  // A private writable mapping's stores never reach the file: nothing to allocate either.
  Config private_writable = MakeConfig(StoreGranularity::kPage);
  private_writable.set_fully_allocated(true);
  private_writable.set_sharing(Sharing::kPrivate);
  ASSERT_TRUE(MapFd(fd.get(), private_writable).ok());
  EXPECT_EQ(allocated(), before_refusal) << "a private mapping allocated blocks";

  Config read_only = MakeConfig(StoreGranularity::kPage);
  read_only.set_fully_allocated(true);
  read_only.set_protection(kProtRead);
  ASSERT_TRUE(MapFd(fd.get(), read_only).ok());
  EXPECT_LT(allocated(), 64 * kPage) << "a read-only mapping stores nothing, so needs no blocks";

  Config window = MakeConfig(StoreGranularity::kPage, 8 * kPage, 16 * kPage);
  window.set_fully_allocated(true);
  absl::StatusOr<Map> map = MapFd(fd.get(), window);
  ASSERT_TRUE(map.ok()) << map.status();
  const uint64_t after_window = allocated();
  EXPECT_GE(after_window, 16 * kPage);
  EXPECT_LT(after_window, 64 * kPage) << "only the mapped window";

  Config whole = MakeConfig(StoreGranularity::kPage);
  whole.set_fully_allocated(true);
  map = MapFd(fd.get(), whole);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_GE(allocated(), 64 * kPage);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 64 * kPage) << "the size is unchanged";
  EXPECT_EQ(std::string(static_cast<char*>(map->address()) + 10 * kPage, 4), "keep") << "contents unchanged";
}

TEST(MapTest, AnonymousOfSizeZeroIsEmpty) {
  absl::StatusOr<Map> map = Map::Create(MakeConfig(StoreGranularity::kPage), *Source::Anonymous(0));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kSourceEmpty);
  EXPECT_THAT(map.status().message(), HasSubstr("the anonymous source has size 0"));
}

TEST(MapTest, AnonymousTooLargeIsAnErrnoErrorNotACrash) {
  absl::StatusOr<Map> map = Map::Create(MakeConfig(StoreGranularity::kPage), *Source::Anonymous(size_t{1} << 62));
  EXPECT_FALSE(map.ok());
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kErrno);
  EXPECT_EQ(GetErrno(map.status()), ENOMEM);
}

// A range inside the source that no address space can hold is mmap's ENOMEM (as libpmem2 1.12.1 returns), not
// a range error: the request is valid. Offsets and lengths that leave the source stay kMapRange.
TEST(MapTest, AnAnonymousRangeLargerThanTheAddressSpaceIsEnomem) {
  for (size_t size : {SIZE_MAX - kPage + 1, (SIZE_MAX / 2 + 1) & ~(kPage - 1)}) {
    absl::StatusOr<Source> source = Source::Anonymous(size);
    ASSERT_TRUE(source.ok()) << source.status();
    for (size_t length : {size_t{0}, size}) {
      absl::StatusOr<Map> map = Map::Create(MakeConfig(StoreGranularity::kPage, 0, length), *source);
      EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kErrno) << size << " length " << length << map.status();
      EXPECT_EQ(GetErrno(map.status()), ENOMEM) << size << " length " << length;
      EXPECT_EQ(ToLibpmem2ReturnValue(map.status()), -ENOMEM);
    }
    absl::StatusOr<Map> past_end = Map::Create(MakeConfig(StoreGranularity::kPage, kPage, size), *source);
    EXPECT_EQ(GetErrorCode(past_end.status()), ErrorCode::kMapRange) << size << past_end.status();
  }
}

// Whether the process may read the byte at `p` (a write(2) from it fails with EFAULT otherwise, no signal).
bool Readable(const char* p) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const bool readable = write(fds[1], p, 1) == 1;
  close(fds[0]);
  close(fds[1]);
  return readable;
}

// libpmem's pmem_map_file forgets a Map whose range its caller released with munmap(2) once another mapping has
// those addresses (pmem2/c/libpmem.cc): destroyed, the Map must leave them alone, also in a reservation (where
// PMEM_MMAP_HINT places it), whose release would put a placeholder over them.
TEST(MapTest, AForgottenMapLeavesItsAddressesToTheMappingThereNow) {
  std::vector<char*> others;
  {
    absl::StatusOr<VmReservation> reservation = VmReservation::Create(4 * kPage);
    ASSERT_TRUE(reservation.ok()) << reservation.status();
    for (bool in_reservation : {false, true}) {
      Config config = MakeConfig(StoreGranularity::kPage);
      if (in_reservation) config.set_vm_reservation(&*reservation, kPage);
      absl::StatusOr<Map> created = Map::Create(config, *Source::Anonymous(kPage));
      ASSERT_TRUE(created.ok()) << created.status();
      auto map = std::make_unique<Map>(*std::move(created));
      char* at = static_cast<char*>(map->address());
      ASSERT_EQ(munmap(at, kPage), 0);  // the application's, behind pmem2's back
      void* other =
          mmap(at, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      ASSERT_EQ(other, at) << "the range was not free after munmap";
      others.push_back(at);
      at[0] = 'x';
      map_internal::ForgetUnmappedForCApi(*map);
      map.reset();
      ASSERT_TRUE(Readable(at)) << (in_reservation ? "in a reservation" : "alone") << ": the new mapping is gone";
      EXPECT_EQ(at[0], 'x');
    }
  }  // the reservation unmaps everything but the forgotten range
  for (char* at : others) {
    EXPECT_TRUE(Readable(at));
    EXPECT_EQ(munmap(at, kPage), 0);
  }
}

TEST(MapTest, MoveTransfersOwnershipAndDestructorUnmaps) {
  absl::StatusOr<Map> map = Map::Create(MakeConfig(StoreGranularity::kByte), *Source::Anonymous(kPage));
  ASSERT_TRUE(map.ok());
  void* address = map->address();
  Map moved = std::move(*map);
  EXPECT_EQ(map->address(), nullptr);
  EXPECT_EQ(map->size(), 0u);
  EXPECT_EQ(moved.address(), address);
  {
    Map sink = std::move(moved);
  }
  unsigned char resident;
  EXPECT_EQ(mincore(address, kPage, &resident), -1) << "the mapping should be gone";
  EXPECT_EQ(errno, ENOMEM);
}

#if defined(__x86_64__)
// A CPU without a usable write-back instruction must not get a cache-line persist that persists nothing:
// such mappings fall back to msync, and a cache-line requirement is refused.
TEST(MapTest, NoWriteBackInstructionFallsBackToMsync) {
  arch::x86_64::CpuFeatures no_flush = ::pmem2::testing::RestrictedFeatures(
      ::pmem2::testing::IsaLevel::kSse2, ::pmem2::testing::FlushInstruction::kClflush);
  no_flush.clflush = false;
  ::pmem2::testing::ScopedCpuFeatures cpu(no_flush);
  ASSERT_FALSE(arch::CacheLineOps().writes_back_cache_lines);
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->store_granularity(), StoreGranularity::kPage);
  EXPECT_TRUE(map->diagnostics().cpu_cannot_write_back);
  EXPECT_STREQ(map->diagnostics().flush_name, "msync");
  absl::StatusOr<Map> refused = MapFd(fd.get(), MakeConfig(StoreGranularity::kCacheLine));
  EXPECT_EQ(GetErrorCode(refused.status()), ErrorCode::kGranularityNotSupported);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("write-back instruction"));
}

// With any real flush instruction, a cache-line mapping keeps cache-line granularity and flushes with that
// instruction: it is not demoted to msync (which the "cannot write back" path above does).
TEST(MapTest, EveryRealFlushInstructionKeepsCacheLineGranularity) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kPage, O_RDWR);
  struct Case {
    ::pmem2::testing::FlushInstruction flush;
    const char* name;
  };
  int tried = 0;
  for (const Case& c : {Case{::pmem2::testing::FlushInstruction::kClflush, "clflush"},
                        Case{::pmem2::testing::FlushInstruction::kClflushopt, "clflushopt"},
                        Case{::pmem2::testing::FlushInstruction::kClwb, "clwb"}}) {
    if (!::pmem2::testing::CpuHas(c.flush)) continue;
    ++tried;
    ::pmem2::testing::ScopedCpuFeatures cpu(::pmem2::testing::IsaLevel::kSse2, c.flush);
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kCacheLine));
    ASSERT_TRUE(map.ok()) << c.name << ": " << map.status();
    EXPECT_EQ(map->store_granularity(), StoreGranularity::kCacheLine) << c.name;
    EXPECT_FALSE(map->diagnostics().cpu_cannot_write_back) << c.name;
    EXPECT_STREQ(map->diagnostics().flush_name, c.name);
    EXPECT_EQ(map->persist_fn(), arch::CacheLineOps().persist) << c.name;
  }
  EXPECT_GT(tried, 0) << "every x86-64 CPU has CLFLUSH";
}

// This CPU's features under another CPU kind's name, so that the kind's row (pmem2/arch/x86_64/ops.cc) is selected.
arch::x86_64::CpuFeatures ThisCpuAsKind(arch::x86_64::CpuVendor vendor, unsigned family, unsigned model) {
  arch::x86_64::CpuFeatures f = arch::x86_64::ProcessCpuFeatures();
  f.vendor = vendor;
  f.family = family;
  f.model = model;
  return f;
}

// Intel 6/167's row writes a page rewrite from 128 KiB with REP MOVSQ / REP STOSQ (pmem2/arch/x86_64/ops.cc): the
// mapping's diagnostics say so, and a buffer written again that way, then persisted, holds the right bytes, with the
// bytes around it untouched.
TEST(MapTest, PageRewritesByStringInstructionsOnIntel167) {
  ::pmem2::testing::ScopedCpuFeatures cpu(ThisCpuAsKind(arch::x86_64::CpuVendor::kIntel, 6, 167));
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "page");
  ScopedTempDir dir("/dev/shm");
  constexpr size_t kSize = size_t{1} << 20, kBuffer = (size_t{256} << 10) + 13;
  ScopedFd fd = CreateFile(dir.Join("f"), kSize, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_THAT(map->diagnostics().memmove_name, HasSubstr(" on a rewrite (rep movsq from 128 KiB),"));
  EXPECT_THAT(map->diagnostics().memset_name, HasSubstr(" on a rewrite (rep stosq from 128 KiB),"));
  char* base = static_cast<char*>(map->address());
  // The source 8-aligned where the destination is (base + 3 and a heap block + 3): the copies take the strings too.
  std::string from(kBuffer + 3, '\0');
  ASSERT_EQ(reinterpret_cast<uintptr_t>(from.data()) % 8, 0u);
  for (size_t i = 0; i < from.size(); ++i) from[i] = static_cast<char>(i * 7 + 1);
  const std::string src = from.substr(3);
  // The first fill is far (NT); every write after it is the same buffer again (string instructions).
  for (int round = 0; round < 2; ++round) {
    map->memset_fn()(base + 3, 'z', kBuffer, 0);
    EXPECT_EQ(std::string(base + 3, kBuffer), std::string(kBuffer, 'z')) << round;
    map->memcpy_fn()(base + 3, from.data() + 3, kBuffer, 0);
    EXPECT_EQ(std::string(base + 3, kBuffer), src) << round;
  }
  EXPECT_EQ(std::string(base, 3), std::string(3, '\0'));
  EXPECT_EQ(base[3 + kBuffer], 0);
  std::string back(kBuffer, '\0');
  ASSERT_EQ(pread(fd.get(), back.data(), kBuffer, 3), static_cast<ssize_t>(kBuffer));
  EXPECT_EQ(back, src) << "the file holds what the mapping wrote";
  EXPECT_TRUE(map->PersistError().ok());
}

// A page mapping's memset has thresholds of its own where the CPU kind's row sets them (Zen 5: ordinary stores
// up to 48 MiB where copies go non-temporal from 8 MiB), names them, and fills right.
TEST(MapTest, PageFillsTakeTheirOwnThresholdsAndSayWhich) {
  ::pmem2::testing::ScopedCpuFeatures cpu(ThisCpuAsKind(arch::x86_64::CpuVendor::kAmd, 26, 2));
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "page");
  ScopedTempDir dir("/dev/shm");
  constexpr size_t kSize = size_t{10} << 20;
  ScopedFd fd = CreateFile(dir.Join("f"), kSize, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_THAT(map->diagnostics().memmove_name, HasSubstr(" nt >= 8 MiB on a rewrite,"));
  EXPECT_THAT(map->diagnostics().memset_name, HasSubstr(" nt >= 48 MiB on a rewrite,"));
  EXPECT_THAT(map->diagnostics().memmove_name, Not(HasSubstr("48 MiB")));
  EXPECT_THAT(map->diagnostics().memset_name, HasSubstr(", then msync"));
  char* base = static_cast<char*>(map->address());
  map->memset_fn()(base + 1, 'a', kSize - 2, 0);  // 10 MiB: far (NT) or a rewrite, by this thread's history
  map->memset_fn()(base + 1, 'b', kSize - 2, 0);  // the same lines again: ordinary stores
  EXPECT_EQ(base[0], 0);
  EXPECT_EQ(base[kSize - 1], 0);
  EXPECT_EQ(std::string(base + 1, kSize - 2), std::string(kSize - 2, 'b'));
  std::string back(kSize, '\0');
  ASSERT_EQ(pread(fd.get(), back.data(), kSize, 0), static_cast<ssize_t>(kSize));
  EXPECT_EQ(back, std::string(base, kSize));
}
#endif

// Device DAX up to mmap, with /dev/null dressed as a 4 GiB Device DAX with 2 MiB alignment in a fake sysfs.
class FakeDeviceDaxMapTest : public ::testing::Test {
 protected:
  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ::pmem2::testing::FakeSysfs sysfs_;
  std::string device_ = sysfs_.MakeDevNullDeviceDaxOnRegion("4294967296", "2097152");
  ScopedFd fd_{open("/dev/null", O_RDWR)};
};

TEST_F(FakeDeviceDaxMapTest, PrivateMappingIsRefused) {
  Config config = MakeConfig(StoreGranularity::kCacheLine);
  config.set_sharing(Sharing::kPrivate);
  absl::StatusOr<Map> map = MapFd(fd_.get(), config);
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kSrcDevdaxPrivate);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kFailedPrecondition);
}

// libpmem2 1.12.1's order (map_posix.c): the offset, then the sharing, then the length. So an unaligned length or a
// range past the end is reported as kSrcDevdaxPrivate for a private map, an unaligned offset as kOffsetUnaligned.
// (Found by review: the length came first.)
TEST_F(FakeDeviceDaxMapTest, PrivateIsReportedAfterTheOffsetBeforeTheLength) {
  Config unaligned_length = MakeConfig(StoreGranularity::kCacheLine, 0, kPage);
  unaligned_length.set_sharing(Sharing::kPrivate);
  EXPECT_EQ(GetErrorCode(MapFd(fd_.get(), unaligned_length).status()), ErrorCode::kSrcDevdaxPrivate);
  Config past_the_end = MakeConfig(StoreGranularity::kCacheLine, 0, uint64_t{8} << 30);
  past_the_end.set_sharing(Sharing::kPrivate);
  EXPECT_EQ(GetErrorCode(MapFd(fd_.get(), past_the_end).status()), ErrorCode::kSrcDevdaxPrivate);
  Config unaligned_offset = MakeConfig(StoreGranularity::kCacheLine, kPage, 0);
  unaligned_offset.set_sharing(Sharing::kPrivate);
  EXPECT_EQ(GetErrorCode(MapFd(fd_.get(), unaligned_offset).status()), ErrorCode::kOffsetUnaligned);
}

TEST_F(FakeDeviceDaxMapTest, OffsetAndLengthMustBeMultiplesOfTheDeviceAlignment) {
  absl::StatusOr<Map> map = MapFd(fd_.get(), MakeConfig(StoreGranularity::kCacheLine, kPage, 0));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kOffsetUnaligned);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("2097152"));
  map = MapFd(fd_.get(), MakeConfig(StoreGranularity::kCacheLine, 2 << 20, kPage));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kLengthUnaligned);
  map = MapFd(fd_.get(), MakeConfig(StoreGranularity::kCacheLine, uint64_t{4} << 30, 2 << 20));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kMapRange);
}

TEST_F(FakeDeviceDaxMapTest, MalformedSizeIsReported) {
  std::ofstream(device_ + "/size") << "garbage";
  absl::StatusOr<Map> map = MapFd(fd_.get(), MakeConfig(StoreGranularity::kCacheLine));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidSizeFormat);
  // With the alignment malformed too, the alignment's error: libpmem2 asks for it first (found by audit).
  std::ofstream(device_ + "/align") << "garbage";
  map = MapFd(fd_.get(), MakeConfig(StoreGranularity::kCacheLine));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidAlignmentFormat);
}

// A Device DAX whose size is no multiple of its alignment, mapped whole (length 0): the message says what is wrong
// with the device (it named a hugetlbfs file's huge page before; found by audit).
TEST_F(FakeDeviceDaxMapTest, ASizeThatIsNoMultipleOfTheAlignmentIsNamed) {
  std::ofstream(device_ + "/size") << (3 << 20);
  absl::StatusOr<Map> map = MapFd(fd_.get(), MakeConfig(StoreGranularity::kCacheLine));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kLengthUnaligned);
  EXPECT_THAT(std::string(map.status().message()),
              HasSubstr("the Device DAX's size 3145728 less the offset 0 is not a multiple of its alignment 2097152"));
  EXPECT_THAT(std::string(map.status().message()), ::testing::Not(HasSubstr("hugetlbfs")));
}

// A Device DAX on no NVDIMM region is memory that a power loss erases: one the hmem driver made from soft-reserved
// memory (HBM, CXL memory the firmware set aside), or a CXL RAM region's. No store granularity is met there, so it
// is refused before anything is mapped, whatever the granularity asked, naming the device. (libpmem2 1.12.1 maps it
// as persistent memory: its persists report success and the data does not survive.) The same device on an NVDIMM
// region gets past the check to mmap, which /dev/null refuses (ENODEV), unless the region is one of volatile memory
// (devtype nd_volatile; found by audit: only the region's presence was asked).
TEST(VolatileDeviceDaxMapTest, ADeviceDaxOnNoNvdimmRegionIsRefused) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  for (const char* parent :
       {"devices/platform/hmem.0", "devices/platform/ACPI0017:00/root0/decoder0.0/region0/dax_region0",
        "devices/ndbus0/region0/dax0.1", "devices/ndbus0/region1/dax1.0",
        "devices/pci0000:00/0000:00:02.0/virtio0/ndbus1/region1/dax1.0"}) {
    SCOPED_TRACE(parent);
    ::pmem2::testing::FakeSysfs sysfs;
    sysfs.MakeDevNullDeviceDaxUnder(parent, "4294967296", "2097152");
    const bool volatile_region = absl::StartsWith(parent, "devices/ndbus0/region1/");
    const bool virtio = absl::StrContains(parent, "/virtio0/");
    std::ofstream(sysfs.root() + "/devices/ndbus0/region0/devtype") << "nd_pmem\n";
    std::ofstream(sysfs.root() + "/devices/ndbus0/region1/devtype") << "nd_volatile\n";
    std::ofstream(sysfs.root() + "/devices/ndbus0/provider") << "ACPI.NFIT\n";
    if (virtio) {
      const std::string bus = sysfs.root() + "/devices/pci0000:00/0000:00:02.0/virtio0/ndbus1";
      std::ofstream(bus + "/provider") << "virtio-pmem\n";
      std::ofstream(bus + "/region1/devtype") << "nd_pmem\n";
    }
    const bool on_nvdimm = absl::StartsWith(parent, "devices/ndbus0/") && !volatile_region;
    ScopedFd fd(open("/dev/null", O_RDWR));
    for (StoreGranularity g : {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
      absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(g));
      ASSERT_FALSE(map.ok());
      if (on_nvdimm) {
        EXPECT_NE(GetErrorCode(map.status()), ErrorCode::kGranularityNotSupported) << map.status();
        EXPECT_THAT(std::string(map.status().message()), ::testing::Not(HasSubstr("power loss")));
      } else {
        EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kGranularityNotSupported) << map.status();
        EXPECT_THAT(std::string(map.status().message()),
                    HasSubstr(volatile_region ? "(dax0.0) is on region1, an NVDIMM region of volatile memory"
                              : virtio        ? "(dax0.0) is on region1 of a virtio-pmem device"
                                              : "(dax0.0) is not on an NVDIMM region"));
        EXPECT_THAT(std::string(map.status().message()),
                    HasSubstr(virtio ? "durable only by the device's flush" : "does not survive a power loss"));
      }
    }
  }
}

// [begin, begin + length) is reserved (PROT_NONE, private) and nothing else: one mapping of /proc/self/maps, or
// several such side by side.
void ExpectReservedOnly(const char* begin, size_t length) {
  for (const char* at = begin; at < begin + length;) {
    const absl::optional<::pmem2::testing::Mapping> mapping = ::pmem2::testing::MappingAt(at);
    ASSERT_TRUE(mapping.has_value()) << static_cast<const void*>(at) << " is not mapped";
    ASSERT_EQ(mapping->protection, "---p") << "at " << static_cast<const void*>(at);
    at = reinterpret_cast<const char*>(mapping->end);
  }
}

// A hugetlbfs file is mapped in whole huge pages: Source::Alignment() is its huge page size, and an offset, a
// length or a reservation address that is not a multiple of it is refused before anything is mapped. (Before, a
// one-page Map of such a file was a one-page MAP_FIXED mmap, which the kernel rounded up to a huge page over
// whatever followed; where a huge page was free, that was this test's own code: a SIGSEGV. Without one, the mmap
// failed with ENOMEM or EINVAL.)
TEST(HugetlbfsMapTest, OffsetLengthAndReservationAddressMustBeHugePageMultiples) {
  const size_t huge = ::pmem2::testing::DefaultHugePageSize();
  ScopedFd fd = ::pmem2::testing::CreateHugetlbFile(3 * huge);
  if (huge == 0 || fd.get() < 0) GTEST_SKIP() << "no hugetlbfs here: " << std::strerror(errno);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, kPage, 0));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kOffsetUnaligned);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr(std::to_string(huge)));
  map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, 0, kPage));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kLengthUnaligned);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr(std::to_string(huge)));

  absl::StatusOr<VmReservation> reservation = VmReservation::Create(4 * huge);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  const size_t misaligned = huge - reinterpret_cast<uintptr_t>(reservation->address()) % huge + kPage;
  Config config = MakeConfig(StoreGranularity::kPage, 0, huge);
  config.set_vm_reservation(&*reservation, misaligned);
  map = MapFd(fd.get(), config);
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kAddressUnaligned);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr(std::to_string(huge)));
  ExpectReservedOnly(static_cast<char*>(reservation->address()), 4 * huge);
}

// fallocate can give a hugetlbfs file a size that is no multiple of its huge page (ftruncate refuses that): a Map
// of the rest of the file (length 0) is refused too, since the kernel would map a whole huge page past the end, over
// what follows, and grow the file. Found by review: the first fix checked given lengths only.
TEST(HugetlbfsMapTest, TheRestOfAFileWhoseSizeIsNoHugePageMultipleIsRefused) {
  const size_t huge = ::pmem2::testing::DefaultHugePageSize();
  ::pmem2::testing::ScopedFreeHugePages pages(2);
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  ScopedFd fd = ::pmem2::testing::CreateHugetlbFile(0);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  ASSERT_EQ(fallocate(fd.get(), 0, 0, static_cast<off_t>(huge + kPage)), 0) << std::strerror(errno);
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  ASSERT_EQ(static_cast<size_t>(st.st_size), huge + kPage);
  absl::StatusOr<VmReservation> reservation = VmReservation::Create(4 * huge);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  const size_t aligned = (huge - reinterpret_cast<uintptr_t>(reservation->address()) % huge) % huge;
  for (uint64_t offset : {uint64_t{0}, uint64_t{huge}}) {
    SCOPED_TRACE(offset);
    absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, offset, 0));
    EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kLengthUnaligned);
    EXPECT_THAT(std::string(map.status().message()), HasSubstr(std::to_string(huge + kPage)));
    Config config = MakeConfig(StoreGranularity::kPage, offset, 0);
    config.set_vm_reservation(&*reservation, aligned);
    map = MapFd(fd.get(), config);
    EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kLengthUnaligned);
    ExpectReservedOnly(static_cast<char*>(reservation->address()), 4 * huge);
  }
  absl::StatusOr<Map> whole = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, 0, huge));
  ASSERT_TRUE(whole.ok()) << whole.status();
  whole = absl::InternalError("unmapped");
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), huge + kPage) << "the file grew";
}

// Coverage: whole huge pages map, persist, and go into a reservation (these pass on the code before the fix too).
TEST(HugetlbfsMapTest, MapsPersistsAndLeavesItsNeighboursAlone) {
  const size_t huge = ::pmem2::testing::DefaultHugePageSize();
  ::pmem2::testing::ScopedFreeHugePages pages(3);
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  ScopedFd fd = ::pmem2::testing::CreateHugetlbFile(3 * huge);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage, huge, 0));
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->size(), 2 * huge);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(map->address()) % huge, 0u);
  char* base = static_cast<char*>(map->address());
  map->memcpy_fn()(base + huge + 3, "huge", 4, 0);
  EXPECT_TRUE(map->Persist(base + huge + 3, 4).ok());
  EXPECT_EQ(ReadFile(fd.get(), 4, static_cast<off_t>(2 * huge + 3)), "huge");

  absl::StatusOr<VmReservation> reservation = VmReservation::Create(4 * huge);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  const size_t aligned = (huge - reinterpret_cast<uintptr_t>(reservation->address()) % huge) % huge;
  Config config = MakeConfig(StoreGranularity::kPage, 0, huge);
  config.set_vm_reservation(&*reservation, aligned + huge);
  {
    absl::StatusOr<Map> placed = MapFd(fd.get(), config);
    ASSERT_TRUE(placed.ok()) << placed.status();
    EXPECT_EQ(placed->address(), static_cast<char*>(reservation->address()) + aligned + huge);
    EXPECT_TRUE(placed->Memcpy(placed->address(), "first", 5).ok());
    EXPECT_EQ(ReadFile(fd.get(), 5, 0), "first");
    char* reserved = static_cast<char*>(reservation->address());
    char* placed_at = reserved + aligned + huge;
    ExpectReservedOnly(reserved, aligned + huge);
    const absl::optional<::pmem2::testing::Mapping> mapping = ::pmem2::testing::MappingAt(placed_at);
    ASSERT_TRUE(mapping.has_value());
    EXPECT_EQ(mapping->begin, reinterpret_cast<uintptr_t>(placed_at));
    EXPECT_EQ(mapping->end, reinterpret_cast<uintptr_t>(placed_at + huge));
    EXPECT_EQ(mapping->protection, "rw-s");
    ExpectReservedOnly(placed_at + huge, 2 * huge - aligned);
  }
  ExpectReservedOnly(static_cast<char*>(reservation->address()), 4 * huge);
}

// libpmem2 1.12.1 gives a hugetlbfs file the page size as alignment and maps one page of it as asked, with
// MAP_FIXED in a range it reserved: the kernel maps a whole huge page there, past what was asked (and, as the
// range reserved is only the length + 2 MiB, possibly past the range too, over another mapping). In a child, which
// that can kill: a huge page mapped over the child's own memory (a stack, the heap) ends it with SIGSEGV or SIGBUS,
// seen in two of many CI runs; that is the same defect at its worst, not a fix.
TEST(HugetlbfsMapTest, Libpmem2MapsAWholeHugePageForOnePage) {
  const size_t huge = ::pmem2::testing::DefaultHugePageSize();
  ::pmem2::testing::ScopedFreeHugePages pages(1);
  if (!pages.why_not().empty()) GTEST_SKIP() << pages.why_not();
  ScopedFd fd = ::pmem2::testing::CreateHugetlbFile(huge);
  ASSERT_GE(fd.get(), 0) << std::strerror(errno);
  ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    struct pmem2_config* config = nullptr;
    struct pmem2_source* source = nullptr;
    struct pmem2_map* map = nullptr;
    pmem2_config_new(&config);
    pmem2_config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE);
    pmem2_config_set_length(config, kPage);
    if (pmem2_source_from_fd(&source, fd.get()) != 0) return 2;
    if (const int ret = pmem2_map_new(&map, config, source); ret != 0) {
      ::pmem2::testing::WriteToParent(out, absl::StrCat("pmem2_map_new: ", ret));
      return 0;
    }
    const absl::optional<::pmem2::testing::Mapping> mapping = ::pmem2::testing::MappingAt(pmem2_map_get_address(map));
    ::pmem2::testing::WriteToParent(
        out, absl::StrCat("size ", pmem2_map_get_size(map), ", mapped ", mapping ? mapping->end - mapping->begin : 0));
    return 0;
  });
  if (!child.exited && (child.signal == SIGSEGV || child.signal == SIGBUS) && child.output.empty()) {
    return;  // the huge page landed over memory the child was using
  }
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, absl::StrCat("size ", kPage, ", mapped ", huge)) << "libpmem2 is fixed";
}

// Content checks through each granularity's functions: many sizes, destination offsets and flags, including
// overlapping moves in both directions. (The kernels themselves are tested exhaustively in pmem2/arch.)
class MapContentTest : public ::testing::TestWithParam<const char*> {};

TEST_P(MapContentTest, CopyMoveSetMatchAReferenceBuffer) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", GetParam());
  ScopedTempDir dir("/dev/shm");
  constexpr size_t kSize = 128 * 1024;  // > largest offset + size + gap + size / 2
  ScopedFd fd = CreateFile(dir.Join("f"), kSize, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get(), MakeConfig(StoreGranularity::kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  unsigned char* pm = static_cast<unsigned char*>(map->address());
  std::vector<unsigned char> expected(kSize), src(kSize);
  for (size_t i = 0; i < kSize; ++i) src[i] = static_cast<unsigned char>(i * 131 + 7);
  std::memcpy(pm, expected.data(), kSize);

  const unsigned flag_sets[] = {0,           kMemNoDrain, kMemNonTemporal,         kMemTemporal, kMemWc,
                                kMemWb,      kMemNoFlush, kMemNonTemporal | kMemNoDrain};
  const size_t sizes[] = {0, 1, 7, 8, 63, 64, 65, 127, 128, 255, 256, 1000, 4095, 4096, 4097, 65536 + 3};
  const size_t offsets[] = {0, 1, 31, 63};
  unsigned round = 0;
  for (size_t size : sizes) {
    for (size_t off : offsets) {
      for (unsigned flags : flag_sets) {
        ++round;
        const size_t src_off = (round * 17) % 64;
        map->memcpy_fn()(pm + off, src.data() + src_off, size, flags);
        std::memcpy(expected.data() + off, src.data() + src_off, size);
        map->memset_fn()(pm + off + size + 5, static_cast<int>(round), size / 2, flags);
        std::memset(expected.data() + off + size + 5, static_cast<int>(round & 0xff), size / 2);
        // Overlapping moves: forward (dest after source) and backward; memcpy_fn too, which the header promises
        // accepts overlapping ranges (found by audit: tested only for memmove_fn).
        const size_t shift = 1 + round % 70;
        map->memmove_fn()(pm + off + shift, pm + off, size, flags);
        std::memmove(expected.data() + off + shift, expected.data() + off, size);
        map->memmove_fn()(pm + off, pm + off + shift, size, flags);
        std::memmove(expected.data() + off, expected.data() + off + shift, size);
        map->memcpy_fn()(pm + off + shift, pm + off, size, flags);
        std::memmove(expected.data() + off + shift, expected.data() + off, size);
        map->memcpy_fn()(pm + off, pm + off + shift, size, flags);
        std::memmove(expected.data() + off, expected.data() + off + shift, size);
        if (flags & kMemNoFlush) map->persist_fn()(pm, kSize);
        if (flags & kMemNoDrain) map->drain_fn()();
        ASSERT_EQ(std::memcmp(pm, expected.data(), kSize), 0)
            << "size " << size << " offset " << off << " flags " << flags;
      }
    }
  }
  map->persist_fn()(pm, kSize);
  EXPECT_EQ(ReadFile(fd.get(), kSize), std::string(expected.begin(), expected.end()));
  EXPECT_TRUE(map->PersistError().ok());
}

INSTANTIATE_TEST_SUITE_P(Granularities, MapContentTest, ::testing::Values("byte", "cache_line", "page"));

}  // namespace
}  // namespace pmem2
