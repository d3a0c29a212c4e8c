// Copyright 2026 The pmem2 Authors.
//
// Runs with PMEM_NO_FLUSH=1 in the environment from process start (BUILD.bazel): the engine reads its variables once
// per process. PMEM_NO_FLUSH is libpmem's variable: libpmem's functions take "1" as libpmem(7) says (the platform is
// trusted to write the CPU caches back: no write-back). libpmem2 1.12.1 does not read it, so a libpmem2 map of cache-
// line granularity still writes its lines back there, and so does pmem2's (a C++ Map's too). pmem2's engine once made
// the cache-line table the byte one under "1": a variable set for libpmem in a process's environment turned a
// libpmem2 program's persists into a bare fence, with no error and the granularity still saying cache line.

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/map/map.h"
#include "pmem2/map/adopt_for_test.h"
#include "pmem2/map/raw_memory.h"
#include "pmem2/source/source.h"

namespace {

constexpr size_t kLength = size_t{1} << 16;

// A shared mapping of a file of kLength bytes in TEST_TMPDIR, and the file's descriptor.
class SharedFileMapping {
 public:
  SharedFileMapping() {
    const char* tmp = std::getenv("TEST_TMPDIR");
    std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/no-flush-one-XXXXXX";
    fd_ = mkstemp(path.data());
    if (fd_ < 0) return;
    unlink(path.c_str());
    if (ftruncate(fd_, kLength) != 0) return;
    void* address = mmap(nullptr, kLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (address != MAP_FAILED) address_ = address;
  }
  ~SharedFileMapping() {
    if (address_ != nullptr) munmap(address_, kLength);
    if (fd_ >= 0) close(fd_);
  }
  SharedFileMapping(const SharedFileMapping&) = delete;
  SharedFileMapping& operator=(const SharedFileMapping&) = delete;

  int fd() const { return fd_; }
  void* address() const { return address_; }

 private:
  int fd_ = -1;
  void* address_ = nullptr;
};

TEST(NoFlushOneTest, ACacheLineMapWritesItsLinesBackAllTheSame) {
  ASSERT_STREQ(std::getenv("PMEM_NO_FLUSH"), "1");
  const pmem2::arch::PersistOps& line = pmem2::arch::CacheLineOps();
  if (!line.writes_back_cache_lines) GTEST_SKIP() << "this CPU cannot write cache lines back";
  EXPECT_STRNE(line.flush_name, "none");
  EXPECT_NE(line.flush, pmem2::arch::ByteOps().flush);
  EXPECT_NE(line.persist, pmem2::arch::ByteOps().persist);
  SharedFileMapping file;
  ASSERT_NE(file.address(), nullptr) << "setup";
  pmem2::map_internal::ScopedNonDaxFilesAdoptedAsDax as_dax;  // the file is not DAX: else adopted at page granularity

  // The C ABI: a map of the file the caller declares cache line (pmem2_map_from_existing).
  pmem2_source* source = nullptr;
  ASSERT_EQ(pmem2_source_from_fd(&source, file.fd()), 0) << pmem2_errormsg();
  pmem2_map* map = nullptr;
  ASSERT_EQ(pmem2_map_from_existing(&map, source, file.address(), kLength, PMEM2_GRANULARITY_CACHE_LINE), 0)
      << pmem2_errormsg();
  EXPECT_EQ(pmem2_map_get_store_granularity(map), PMEM2_GRANULARITY_CACHE_LINE);
  EXPECT_EQ(pmem2_get_persist_fn(map), line.persist);
  EXPECT_EQ(pmem2_get_flush_fn(map), line.flush);
  EXPECT_EQ(pmem2_get_drain_fn(map), line.drain);
  static_cast<char*>(file.address())[0] = 'x';
  pmem2_get_persist_fn(map)(file.address(), 1);
  EXPECT_EQ(pmem2_map_delete(&map), 0);
  EXPECT_EQ(pmem2_source_delete(&source), 0);

  // The C++ API, the same.
  absl::StatusOr<pmem2::Source> cc_source = pmem2::Source::FromFd(file.fd());
  ASSERT_TRUE(cc_source.ok()) << cc_source.status();
  absl::StatusOr<pmem2::Map> cc_map =
      pmem2::Map::FromExisting(*cc_source, file.address(), kLength, pmem2::StoreGranularity::kCacheLine);
  ASSERT_TRUE(cc_map.ok()) << cc_map.status();
  EXPECT_TRUE(cc_map->writes_back_cache_lines());
  EXPECT_EQ(cc_map->flush_fn(), line.flush);
  EXPECT_STREQ(cc_map->diagnostics().flush_name, line.flush_name);
}

// libpmem's functions take the user's word: no write-back, a fence (as Debian's libpmem under PMEM_NO_FLUSH=1);
// its deep flush writes back all the same (pmem_deep_flush, libpmem.h).
TEST(NoFlushOneTest, LibpmemsFunctionsOnlyFence) {
  ASSERT_STREQ(std::getenv("PMEM_NO_FLUSH"), "1");
  const pmem2::RawPersistFunctions& f = pmem2::PmemFunctions();
  const pmem2::arch::PersistOps& byte = pmem2::arch::ByteOps();
  EXPECT_EQ(f.persist, byte.persist);
  EXPECT_EQ(f.flush, byte.flush);
  EXPECT_EQ(f.drain, byte.drain);
  EXPECT_EQ(f.memmove, byte.memmove);
  EXPECT_EQ(f.memset, byte.memset);
  EXPECT_EQ(f.deep_flush, pmem2::arch::WriteBackFlush());
  if (pmem2::arch::CacheLineOps().writes_back_cache_lines) {
    EXPECT_NE(f.deep_flush, nullptr);
  }
}

}  // namespace
