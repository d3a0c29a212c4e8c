// Copyright 2026 The pmem2 Authors.
//
// Runs with PMEM_MOVNT_THRESHOLD=4k in the environment from process start (see BUILD.bazel): the engine reads
// the PMEM_* variables once per process, so a bad value can only be tested in a process of its own.

#include <sys/mman.h>

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"

namespace pmem2 {
namespace {

using ::testing::HasSubstr;

// libpmem2 ignores a value it cannot parse and runs with its default threshold; a benchmark that believes it
// set 4 KiB then measures something else. pmem2 refuses to map until the variable is fixed.
TEST(InvalidEnvironmentTest, MapCreateNamesTheVariableAndValue) {
  ASSERT_STREQ(std::getenv("PMEM_MOVNT_THRESHOLD"), "4k");
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> map = Map::Create(config, *Source::Anonymous(4096));
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidEnvironment);
  EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("PMEM_MOVNT_THRESHOLD=\"4k\""));
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("byte count"));
}

// An adopted mapping gets functions chosen by the same engine: it is refused as Create() is, not given the functions
// of the variable unset (libpmem2 1.12.1 maps both).
TEST(InvalidEnvironmentTest, FromExistingNamesTheVariableAndValue) {
  void* memory = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(memory, MAP_FAILED);
  absl::StatusOr<Map> map = Map::FromExisting(*Source::Anonymous(4096), memory, 4096, StoreGranularity::kCacheLine);
  EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kInvalidEnvironment);
  EXPECT_THAT(std::string(map.status().message()), HasSubstr("PMEM_MOVNT_THRESHOLD=\"4k\""));
  munmap(memory, 4096);
}

}  // namespace
}  // namespace pmem2
