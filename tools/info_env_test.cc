// Copyright 2026 The pmem2 Authors.
//
// `pmem2 info` under PMEM_* variables that change the page-granularity copy path. The engine reads them once per
// process, so each value runs in a process of its own (the info_env_* targets in BUILD.bazel set it).

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "testing/temp_files.h"
#include "tools/info.h"

namespace pmem2 {
namespace tools {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedTempDir;
using ::testing::HasSubstr;

absl::StatusOr<std::string> InfoOfATmpfsFile() {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  ScopedTempDir dir("/dev/shm");
  CreateFile(dir.Join("f"), 1 << 20, O_RDWR);
  return Info(dir.Join("f"), InfoOptions());
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

// The copy lines must say what really happens: which stores, and that msync still makes them durable.
TEST(InfoEnvTest, PageCopyPathIsDescribedTruthfully) {
  absl::StatusOr<std::string> report = InfoOfATmpfsFile();
  if (Env("PMEM_MOVNT_THRESHOLD") == "abc") {
    ASSERT_FALSE(report.ok());
    EXPECT_THAT(std::string(report.status().message()), HasSubstr("PMEM_MOVNT_THRESHOLD=\"abc\""));
    EXPECT_THAT(std::string(report.status().message()), HasSubstr("PMEM2_E_INVALID_ENVIRONMENT"));
    EXPECT_EQ(GetErrorCode(report.status()), ErrorCode::kInvalidEnvironment) << report.status();
    // With --create, nothing is made for a mapping that cannot happen.
    ScopedTempDir dir("/dev/shm");
    InfoOptions create;
    create.create_size = 1 << 20;
    absl::StatusOr<std::string> created = Info(dir.Join("new"), create);
    EXPECT_EQ(GetErrorCode(created.status()), ErrorCode::kInvalidEnvironment);
    EXPECT_NE(access(dir.Join("new").c_str(), F_OK), 0) << "info created a file it could not map";
    return;
  }
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_THAT(*report, HasSubstr("granularity: page\n"));
  EXPECT_THAT(*report, HasSubstr("flush: msync\n"));
  if (Env("PMEM_NO_MOVNT") == "1") {
    EXPECT_THAT(*report, HasSubstr("temporal (PMEM_NO_MOVNT), then msync\n"));
    EXPECT_THAT(*report, ::testing::Not(HasSubstr(" nt >= ")));
  } else if (Env("PMEM_MOVNT_THRESHOLD") == "0") {
    // The fill's line ends at the threshold; the copy's may name its 32-line batches (Intel 6/167, x86_64/ops.cc).
    // From 129 B: the page copies' first 128 B are one step of ordinary stores whatever the variable says.
    EXPECT_THAT(*report, HasSubstr(" nt >= 129 B, then msync\n"));
    EXPECT_THAT(*report, ::testing::ContainsRegex("\nmemmove: [a-z0-9]+ nt >= 129 B(, 32-line batches >= 16 KiB)?, "
                                                  "then msync\n"));
    EXPECT_THAT(*report, ::testing::ContainsRegex("\nmemset: [a-z0-9]+ nt >= 129 B, then msync\n"));
    // Not the page threshold of the default row (16 KiB, kPageNtThreshold): the variable sets it to 0.
    EXPECT_THAT(*report, ::testing::Not(HasSubstr("nt >= 16 KiB")));
  } else {
    GTEST_FAIL() << "run through an info_env_* target, which sets the environment";
  }
}

}  // namespace
}  // namespace tools
}  // namespace pmem2
