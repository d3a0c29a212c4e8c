// Copyright 2026 The pmem2 Authors.
//
// PMEM_MMAP_HINT, read once per process at the first pmem_map_file: this binary sets it before that call, to a
// range it has just seen free (a fixed address in BUILD.bazel could fall into a sanitizer's shadow memory).

#include <stdlib.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "testing/temp_files.h"

namespace {

using ::pmem2::testing::ScopedTempDir;

constexpr size_t kMiB = size_t{1} << 20;

TEST(LibpmemMmapHintTest, MapsAtTheHintWhenItIsFree) {
  ASSERT_EQ(getenv("PMEM_MMAP_HINT"), nullptr);
  // A free, 2 MiB-aligned range.
  void* probe = mmap(nullptr, 8 * kMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(probe, MAP_FAILED);
  const uintptr_t hint = (reinterpret_cast<uintptr_t>(probe) + 2 * kMiB - 1) & ~(2 * kMiB - 1);
  ASSERT_EQ(munmap(probe, 8 * kMiB), 0);
  // Hexadecimal without "0x", as PMDK's test setups write it (libpmem reads the variable in base 16).
  ASSERT_EQ(setenv("PMEM_MMAP_HINT", absl::StrFormat("%x", hint).c_str(), 1), 0);

  ScopedTempDir dir("/dev/shm");
  size_t len = 0;
  void* a = pmem_map_file(dir.Join("a").c_str(), kMiB + 1, PMEM_FILE_CREATE, 0600, &len, nullptr);
  ASSERT_NE(a, nullptr) << pmem_errormsg();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a), hint);
  pmem_memset_persist(a, 'a', len);
  size_t b_len = 0;
  void* b = pmem_map_file(dir.Join("b").c_str(), kMiB, PMEM_FILE_CREATE, 0600, &b_len, nullptr);
  ASSERT_NE(b, nullptr) << pmem_errormsg();
  EXPECT_NE(reinterpret_cast<uintptr_t>(b), hint) << "the hint is taken: elsewhere";
  EXPECT_EQ(static_cast<char*>(a)[kMiB], 'a');
  EXPECT_EQ(pmem_unmap(a, len), 0);
  EXPECT_EQ(pmem_unmap(b, b_len), 0);
  // Free again: the next mapping lands there again (the variable was read once, at the first call).
  ASSERT_EQ(setenv("PMEM_MMAP_HINT", "0x1000", 1), 0);
  void* c = pmem_map_file(dir.Join("c").c_str(), 4096, PMEM_FILE_CREATE, 0600, &len, nullptr);
  ASSERT_NE(c, nullptr) << pmem_errormsg();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(c), hint);
  EXPECT_EQ(pmem_unmap(c, len), 0);
  unsetenv("PMEM_MMAP_HINT");
}

}  // namespace
