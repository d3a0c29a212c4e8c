// Copyright 2026 The pmem2 Authors.
//
// PMEM_MMAP_HINT, read once per process at the first pmem_map_file: this binary sets it before that call, to a
// range it has just seen free (a fixed address in BUILD.bazel could fall into a sanitizer's shadow memory).

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace {

using ::pmem2::testing::ChildResult;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::testing::WriteToParent;

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
  // As libpmem: the hint is taken, so the first free 2 MiB-aligned range above it (a's pages end below).
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b), hint + 2 * kMiB) << "the first free range above the hint";
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

// Debian's libpmem, in a child that sets the variable before loading it (dlopen, which also loads the libraries it
// needs; the hint's range is held meanwhile, so that they go elsewhere): a page below a 2 MiB boundary, rounded up
// to it, then in the first free range above it, 2 MiB further, as ours.
TEST(LibpmemMmapHintTest, DebiansLibpmemPlacesAsWeDo) {
  ScopedTempDir dir("/dev/shm");
  ChildResult child = RunInChild([&](int out) {
    void* held = mmap(nullptr, 8 * kMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (held == MAP_FAILED) return 2;
    const uintptr_t hint = (reinterpret_cast<uintptr_t>(held) + 2 * kMiB - 1) & ~(2 * kMiB - 1);
    // Not 2 MiB-aligned: libpmem rounds it up (as MapFileTest.MapsInTheFirstFreeAlignedRangeFromTheHint checks ours).
    if (setenv("PMEM_MMAP_HINT", absl::StrFormat("%x", hint - 4096).c_str(), 1) != 0) return 2;
    void* handle = dlopen("libpmem.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      WriteToParent(out, absl::StrCat("SKIP cannot load Debian's libpmem.so.1: ", dlerror()));
      return 0;
    }
    using MapFile = void* (*)(const char*, size_t, int, mode_t, size_t*, int*);
    auto map_file = reinterpret_cast<MapFile>(dlsym(handle, "pmem_map_file"));
    if (map_file == nullptr || munmap(held, 8 * kMiB) != 0) return 3;
    size_t len = 0;
    void* a = map_file(dir.Join("a").c_str(), kMiB + 1, PMEM_FILE_CREATE, 0600, &len, nullptr);
    void* b = map_file(dir.Join("b").c_str(), kMiB, PMEM_FILE_CREATE, 0600, &len, nullptr);
    WriteToParent(out, absl::StrCat(reinterpret_cast<intptr_t>(a) - static_cast<intptr_t>(hint), " ",
                                    reinterpret_cast<intptr_t>(b) - static_cast<intptr_t>(hint)));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  if (child.output.rfind("SKIP ", 0) == 0) GTEST_SKIP() << child.output.substr(5);
  EXPECT_EQ(child.output, absl::StrCat(0, " ", 2 * kMiB)) << "a and b, from the hint";
}

}  // namespace
