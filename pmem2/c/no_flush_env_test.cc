// Copyright 2026 The pmem2 Authors.
//
// Runs with PMEM_NO_FLUSH=yes in the environment from process start (BUILD.bazel): both libraries read their
// variables once per process. PMEM_NO_FLUSH is libpmem's variable; libpmem2 1.12.1 does not read it at all, so a
// value it could not take changes nothing there. pmem2's engine, which libpmem and libpmem2 share here, reads it (1:
// libpmem's functions trust the platform to write caches back, no_flush_one_test; 0: byte maps of files write them
// back even where the platform says they need not) and refuses a value it does not take. The README's "Differences from
// libpmem2" names this; this test pins both sides.

#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/c/libpmem2_api_for_test.h"

// LeakSanitizer (--config=asan): the reference leaks 144 bytes (two objects it allocated) of the maps made and deleted
// here. That leak is libpmem2.so.1's, which this test only calls; ours is linked in statically, so its leaks are
// still reported (as differential_test).
extern "C" const char* __lsan_default_suppressions();
extern "C" const char* __lsan_default_suppressions() { return "leak:libpmem2.so.1\n"; }

namespace {

using ::testing::HasSubstr;

// pmem2_map_new and pmem2_map_from_existing of 64 KiB of anonymous memory through `api`: their return values.
struct Returns {
  int map_new;
  int from_existing;
};
Returns MapAnonymous(const pmem2::testing::Libpmem2Api& api) {
  Returns r{};
  pmem2_source* source = nullptr;
  pmem2_config* config = nullptr;
  if (api.source_from_anon(&source, 1 << 16) != 0 || api.config_new(&config) != 0 ||
      api.config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE) != 0) {
    ADD_FAILURE() << "setup: " << api.errormsg();
    return r;
  }
  pmem2_map* map = nullptr;
  r.map_new = api.map_new(&map, config, source);
  if (r.map_new == 0) api.map_delete(&map);
  void* memory = mmap(nullptr, 1 << 16, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    ADD_FAILURE() << "mmap";
    return r;
  }
  r.from_existing = api.map_from_existing(&map, source, memory, 1 << 16, PMEM2_GRANULARITY_CACHE_LINE);
  if (r.from_existing == 0) api.map_delete(&map);
  munmap(memory, 1 << 16);
  api.config_delete(&config);
  api.source_delete(&source);
  return r;
}

TEST(NoFlushEnvTest, Libpmem2DoesNotReadItPmem2RefusesAValueItDoesNotTake) {
  ASSERT_STREQ(std::getenv("PMEM_NO_FLUSH"), "yes");
  std::string why;
  const pmem2::testing::Libpmem2Api* reference = pmem2::testing::ReferenceLibpmem2(&why);
  if (reference == nullptr) GTEST_SKIP() << why;

  // The reference's own file holds the names of the variables it reads: PMEM_NO_CLWB, not PMEM_NO_FLUSH. (A PMDK
  // release that reads it would fail here, and the README's row would need a new look.)
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(reference->map_new), &info), 0);
  std::ifstream file(info.dli_fname, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_THAT(bytes, HasSubstr("PMEM_NO_CLWB")) << info.dli_fname;
  EXPECT_EQ(bytes.find("PMEM_NO_FLUSH"), std::string::npos) << info.dli_fname;

  const Returns theirs = MapAnonymous(*reference);
  EXPECT_EQ(theirs.map_new, 0) << reference->errormsg();
  EXPECT_EQ(theirs.from_existing, 0) << reference->errormsg();

  const Returns ours = MapAnonymous(pmem2::testing::OurLibpmem2());
  EXPECT_EQ(ours.map_new, -EINVAL);
  EXPECT_EQ(ours.from_existing, -EINVAL);
  EXPECT_THAT(pmem2_errormsg(), HasSubstr("PMEM_NO_FLUSH=\"yes\""));
}

// libpmem reads PMEM_NO_FLUSH itself, and ignores a value other than 0 and 1; pmem_map_file here fails with EINVAL
// naming it, as pmem2_map_new does (libpmem.h).
TEST(NoFlushEnvTest, PmemMapFileRefusesAValueItDoesNotTakeLibpmemIgnoresIt) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(tmp != nullptr ? tmp : "/tmp") + "/no-flush-env-" + std::to_string(getpid());
  size_t mapped = 0;
  errno = 0;
  EXPECT_EQ(pmem_map_file(path.c_str(), 1 << 16, PMEM_FILE_CREATE, 0600, &mapped, nullptr), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_THAT(pmem_errormsg(), HasSubstr("PMEM_NO_FLUSH=\"yes\""));
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "the file it created was removed";

  void* library = dlopen("libpmem.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) GTEST_SKIP() << "Debian's libpmem.so.1: " << dlerror();
  const auto map_file = reinterpret_cast<decltype(&pmem_map_file)>(dlsym(library, "pmem_map_file"));
  const auto unmap = reinterpret_cast<decltype(&pmem_unmap)>(dlsym(library, "pmem_unmap"));
  ASSERT_NE(map_file, nullptr);
  ASSERT_NE(unmap, nullptr);
  void* theirs = map_file(path.c_str(), 1 << 16, PMEM_FILE_CREATE, 0600, &mapped, nullptr);
  EXPECT_NE(theirs, nullptr);
  if (theirs != nullptr) unmap(theirs, mapped);
  unlink(path.c_str());
}

}  // namespace
