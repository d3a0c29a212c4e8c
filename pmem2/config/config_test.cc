// Copyright 2026 The pmem2 Authors.

#include "pmem2/config/config.h"

#include <cstdint>
#include <limits>

#include <libpmem2.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"

namespace pmem2 {
namespace {

using ::testing::HasSubstr;

TEST(ConfigTest, Defaults) {
  Config config;
  EXPECT_FALSE(config.required_store_granularity().has_value());
  EXPECT_EQ(config.offset(), 0u);
  EXPECT_EQ(config.length(), 0u);
  EXPECT_EQ(config.sharing(), Sharing::kShared);
  EXPECT_EQ(config.protection(), kProtRead | kProtWrite);
}

TEST(ConfigTest, ValuesMatchLibpmem2) {
  EXPECT_EQ(static_cast<int>(StoreGranularity::kByte), PMEM2_GRANULARITY_BYTE);
  EXPECT_EQ(static_cast<int>(StoreGranularity::kCacheLine), PMEM2_GRANULARITY_CACHE_LINE);
  EXPECT_EQ(static_cast<int>(StoreGranularity::kPage), PMEM2_GRANULARITY_PAGE);
  EXPECT_EQ(static_cast<int>(Sharing::kShared), PMEM2_SHARED);
  EXPECT_EQ(static_cast<int>(Sharing::kPrivate), PMEM2_PRIVATE);
  EXPECT_EQ(kProtRead, PMEM2_PROT_READ);
  EXPECT_EQ(kProtWrite, PMEM2_PROT_WRITE);
  EXPECT_EQ(kProtExec, PMEM2_PROT_EXEC);
  EXPECT_EQ(kProtNone, static_cast<unsigned>(PMEM2_PROT_NONE));
}

TEST(ConfigTest, SetsEveryGranularity) {
  for (StoreGranularity g : {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
    Config config;
    ASSERT_TRUE(config.set_required_store_granularity(g).ok());
    EXPECT_EQ(config.required_store_granularity(), g);
  }
}

TEST(ConfigTest, RejectsUnknownGranularityAndKeepsOldValue) {
  Config config;
  ASSERT_TRUE(config.set_required_store_granularity(StoreGranularity::kPage).ok());
  absl::Status s = config.set_required_store_granularity(static_cast<StoreGranularity>(7));
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kGranularityNotSupported);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("7"));
  EXPECT_EQ(config.required_store_granularity(), StoreGranularity::kPage);
  EXPECT_EQ(GetErrorCode(config.set_required_store_granularity(static_cast<StoreGranularity>(-1))),
            ErrorCode::kGranularityNotSupported);
}

TEST(ConfigTest, OffsetUpToInt64Max) {
  Config config;
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(config.set_offset(max).ok());
  EXPECT_EQ(config.offset(), max);
  absl::Status s = config.set_offset(max + 1);
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kOffsetOutOfRange);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("9223372036854775808"));
  EXPECT_EQ(config.offset(), max);
  EXPECT_EQ(GetErrorCode(config.set_offset(UINT64_MAX)), ErrorCode::kOffsetOutOfRange);
}

TEST(ConfigTest, AnyLength) {
  Config config;
  EXPECT_TRUE(config.set_length(SIZE_MAX).ok());
  EXPECT_EQ(config.length(), SIZE_MAX);
  EXPECT_TRUE(config.set_length(0).ok());
}

TEST(ConfigTest, Sharing) {
  Config config;
  EXPECT_TRUE(config.set_sharing(Sharing::kPrivate).ok());
  EXPECT_EQ(config.sharing(), Sharing::kPrivate);
  absl::Status s = config.set_sharing(static_cast<Sharing>(2));
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidSharingValue);
  EXPECT_THAT(std::string(s.message()), HasSubstr("sharing 2"));
  EXPECT_EQ(config.sharing(), Sharing::kPrivate);
}

TEST(ConfigTest, Protection) {
  Config config;
  for (unsigned prot : {kProtNone, kProtRead, kProtWrite, kProtExec, kProtRead | kProtWrite | kProtExec}) {
    EXPECT_TRUE(config.set_protection(prot).ok()) << prot;
    EXPECT_EQ(config.protection(), prot);
  }
  absl::Status s = config.set_protection(kProtRead | 0x1);
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidProtFlag);
  EXPECT_THAT(std::string(s.message()), HasSubstr("0x1"));
  EXPECT_EQ(config.protection(), kProtRead | kProtWrite | kProtExec);
}

TEST(ConfigTest, GranularityNames) {
  EXPECT_EQ(StoreGranularityName(StoreGranularity::kByte), "byte");
  EXPECT_EQ(StoreGranularityName(StoreGranularity::kCacheLine), "cache_line");
  EXPECT_EQ(StoreGranularityName(StoreGranularity::kPage), "page");
  EXPECT_EQ(StoreGranularityName(static_cast<StoreGranularity>(9)), "invalid");
  EXPECT_EQ(ParseStoreGranularity("BYTE"), StoreGranularity::kByte);
  EXPECT_EQ(ParseStoreGranularity("Cache_Line"), StoreGranularity::kCacheLine);
  EXPECT_EQ(ParseStoreGranularity("cacheline"), StoreGranularity::kCacheLine);
  EXPECT_EQ(ParseStoreGranularity("page"), StoreGranularity::kPage);
  EXPECT_EQ(ParseStoreGranularity(""), absl::nullopt);
  EXPECT_EQ(ParseStoreGranularity("pages"), absl::nullopt);
}

}  // namespace
}  // namespace pmem2
