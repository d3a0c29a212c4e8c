// Copyright 2026 The pmem2 Authors.
//
// PMEM_IS_PMEM_FORCE is read as Debian's libpmem 1.12.1 reads it (atoi): each value in a child process of its own
// (the variable is read once per process), where both libraries answer for the first time. This process calls
// neither library itself.

#include <dlfcn.h>
#include <stdlib.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace testing {
namespace {

struct Case {
  const char* value;
  int forced;  // -1: no force
};

// What a child finds, one digit per answer: ours for 100 bytes of the heap, for 0 bytes, and for a cache-line
// mapping of a tmpfs file (persistent only if nothing forces it to 0); then Debian's for the heap and for 0 bytes.
std::string Answers(const Case& c, const std::string& dir) {
  ChildResult child = RunInChild([&](int out) {
    if (setenv("PMEM_IS_PMEM_FORCE", c.value, 1) != 0) return 2;
    std::vector<char> heap(100);
    std::string answers = absl::StrCat(pmem_is_pmem(heap.data(), heap.size()), pmem_is_pmem(heap.data(), 0));
    if (setenv("PMEM2_FORCE_GRANULARITY", "cache_line", 1) != 0) return 2;
    size_t len = 0;
    int is_pmem = 7;
    void* p = pmem_map_file(absl::StrCat(dir, "/cache_line").c_str(), 4096, PMEM_FILE_CREATE, 0600, &len, &is_pmem);
    if (p == nullptr) {
      WriteToParent(out, absl::StrCat("pmem_map_file: ", pmem_errormsg()));
      return 1;
    }
    absl::StrAppend(&answers, is_pmem, pmem_is_pmem(p, len));
    pmem_unmap(p, len);
    void* handle = dlopen("libpmem.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      WriteToParent(out,
                    absl::StrCat("SKIP cannot load Debian's libpmem.so.1 (apt-get install libpmem1): ", dlerror()));
      return 0;
    }
    auto reference = reinterpret_cast<int (*)(const void*, size_t)>(dlsym(handle, "pmem_is_pmem"));
    if (reference == nullptr) return 3;
    absl::StrAppend(&answers, " ", reference(heap.data(), heap.size()), reference(heap.data(), 0));
    WriteToParent(out, answers);
    return 0;
  });
  if (!child.exited || child.exit_code != 0) return "child: " + child.Describe();
  return child.output;
}

TEST(LibpmemIsPmemForceParseTest, ValuesReadAsLibpmemReadsThem) {
  ScopedTempDir dir("/dev/shm");
  const std::vector<Case> cases = {
      {"0", 0},          {"1", 1},          {"", 0},
      {"no", 0},         {"yes", 0},        {" 0", 0},
      {"01", 1},         {"+1", 1},         {" \t\n1", 1},
      {"1x", 1},         {"1 ", 1},         {"-0", 0},
      {"2", -1},         {"-1", -1},        {"10", -1},
      {"0x1", 0},        {"true", 0},       {"\v1", 1},
      {"4294967297", 1}, {"4294967296", 0}, {"99999999999999999999", -1},
  };
  for (const Case& c : cases) {
    const std::string answers = Answers(c, dir.path());
    if (answers.rfind("SKIP ", 0) == 0) GTEST_SKIP() << answers.substr(5);
    const std::string ours = absl::StrCat(c.forced == 1 ? 1 : 0, 0, c.forced == 0 ? 0 : 1, c.forced == 0 ? 0 : 1);
    const std::string reference = absl::StrCat(c.forced == 1 ? 1 : 0, 0);
    EXPECT_EQ(answers, ours + " " + reference) << "PMEM_IS_PMEM_FORCE=\"" << c.value << "\"";
  }
}

}  // namespace
}  // namespace testing
}  // namespace pmem2
