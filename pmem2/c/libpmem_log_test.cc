// Copyright 2026 The pmem2 Authors.
//
// PMEM_LOG_LEVEL and PMEM_LOG_FILE, read once per process at the first call that logs: this binary runs with
// them set from the start (BUILD.bazel: level 3 as libpmem_log_test, level 1 as libpmem_log_errors_test), with
// a PMEM_LOG_FILE that ends in "-", so that the process id is appended to it.

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "testing/temp_files.h"

namespace {

using ::pmem2::testing::ScopedTempDir;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(LibpmemLogTest, WritesTheLevelsAskedForToTheFileWithThePid) {
  const char* level_text = getenv("PMEM_LOG_LEVEL");
  const char* name = getenv("PMEM_LOG_FILE");
  const char* tmp = getenv("TEST_TMPDIR");
  int level = 0;
  ASSERT_TRUE(level_text != nullptr && absl::SimpleAtoi(level_text, &level) && name != nullptr && tmp != nullptr)
      << "run through bazel test (BUILD.bazel sets PMEM_LOG_LEVEL and PMEM_LOG_FILE)";
  // Into this test's own folder, before the first call that logs (which reads the variable): a run that is
  // killed leaves nothing behind, and no other process can have made the file.
  const std::string file = absl::StrCat(tmp, "/", name);
  ASSERT_EQ(setenv("PMEM_LOG_FILE", file.c_str(), 1), 0);
  ASSERT_EQ(file.back(), '-');
  const std::string log_path = absl::StrCat(file, getpid());
  unlink(log_path.c_str());  // opened (appending) at the first call that logs, below

  ScopedTempDir dir("/dev/shm");
  const std::string path = dir.Join("logged");
  size_t len = 0;
  void* p = pmem_map_file(path.c_str(), 4097, PMEM_FILE_CREATE, 0640, &len, nullptr);
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  pmem_memset_persist(p, 1, len);  // data path: never logged
  pmem_persist(p, len);
  EXPECT_EQ(pmem_msync(p, len), 0);
  EXPECT_EQ(pmem_unmap(p, len), 0);
  EXPECT_EQ(pmem_map_file(dir.Join("missing").c_str(), 0, 0, 0, nullptr, nullptr), nullptr);
  EXPECT_EQ(errno, ENOENT);

  const std::string log = ReadAll(log_path);
  unlink(log_path.c_str());
  EXPECT_EQ(ReadAll(file), "") << "the pid is appended to a name that ends in \"-\"";
  // Level 1: errors, with the function's name.
  EXPECT_THAT(log, ContainsRegex("<libpmem>: <1> pmem_map_file: .*missing"));
  if (level >= 2) {
    EXPECT_THAT(log, HasSubstr(absl::StrCat("<libpmem>: <2> mapped ", path, " at 0x")));
    EXPECT_THAT(log, HasSubstr("4097 bytes, is_pmem 0"));
    EXPECT_THAT(log, ContainsRegex("<libpmem>: <2> pmem_unmap\\(0x[0-9a-f]+, 4097\\)"));
  } else {
    EXPECT_THAT(log, Not(HasSubstr("<2>")));
  }
  if (level >= 3) {
    EXPECT_THAT(log, HasSubstr(absl::StrCat("<libpmem>: <3> pmem_map_file(\"", path, "\", 4097, 0x1, 640)")));
  } else {
    EXPECT_THAT(log, Not(HasSubstr("<3>")));
  }
  EXPECT_THAT(log, Not(HasSubstr("memset"))) << "data-path functions are not logged";
  EXPECT_THAT(log, Not(HasSubstr("msync")));
}

}  // namespace
