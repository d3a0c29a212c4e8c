// Copyright 2026 The pmem2 Authors.
//
// PMEM_IS_PMEM_FORCE, read once per process: this binary runs with it set from the start (BUILD.bazel: once
// with 1, as libpmem_is_pmem_force_test, and once with 0, as libpmem_is_pmem_force_0_test).

#include <errno.h>
#include <stdlib.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "testing/temp_files.h"

namespace {

using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedTempDir;

int Forced() {
  const char* value = getenv("PMEM_IS_PMEM_FORCE");
  return value != nullptr && std::strcmp(value, "1") == 0 ? 1 : 0;
}

TEST(LibpmemIsPmemForceTest, EveryAnswerIsTheForcedOne) {
  const char* value = getenv("PMEM_IS_PMEM_FORCE");
  ASSERT_TRUE(value != nullptr && (std::strcmp(value, "0") == 0 || std::strcmp(value, "1") == 0))
      << "run through bazel test (BUILD.bazel sets PMEM_IS_PMEM_FORCE)";
  const int forced = Forced();
  std::vector<char> heap(100);
  EXPECT_EQ(pmem_is_pmem(heap.data(), heap.size()), forced) << "memory pmem_map_file did not map";
  EXPECT_EQ(pmem_is_pmem(heap.data(), 0), 0) << "an empty range, forced or not (as libpmem)";
  ScopedTempDir dir("/dev/shm");
  size_t len = 0;
  int is_pmem = 7;
  void* p = pmem_map_file(dir.Join("page").c_str(), 4096, PMEM_FILE_CREATE, 0600, &len, &is_pmem);
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(is_pmem, forced) << "a page-granularity (tmpfs) mapping";
  EXPECT_EQ(pmem_is_pmem(p, len), forced);
  EXPECT_EQ(pmem_unmap(p, len), 0);
  {
    ScopedEnv cache_line("PMEM2_FORCE_GRANULARITY", "cache_line");
    p = pmem_map_file(dir.Join("cache_line").c_str(), 4096, PMEM_FILE_CREATE, 0600, &len, &is_pmem);
  }
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(is_pmem, forced) << "a cache-line-granularity mapping";
  EXPECT_EQ(pmem_is_pmem(p, len), forced);
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

TEST(LibpmemIsPmemForceTest, ReadOnce) {
  const int forced = Forced();
  char byte = 0;
  ASSERT_EQ(pmem_is_pmem(&byte, 1), forced);
  ScopedEnv flipped("PMEM_IS_PMEM_FORCE", forced ? "0" : "1");
  EXPECT_EQ(pmem_is_pmem(&byte, 1), forced) << "a later change of the variable is not seen";
}

}  // namespace
