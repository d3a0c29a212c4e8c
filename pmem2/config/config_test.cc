// Copyright 2026 The pmem2 Authors.

#include "pmem2/config/config.h"

#include <cstdint>
#include <limits>
#include <string>

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
  EXPECT_FALSE(config.fully_allocated());
  EXPECT_EQ(GetErrorCode(config.Validate()), ErrorCode::kGranularityNotSet);
}

TEST(ConfigTest, ValuesMatchLibpmem2) {
  EXPECT_EQ(static_cast<int>(StoreGranularity::kByte), PMEM2_GRANULARITY_BYTE);
  EXPECT_EQ(static_cast<int>(StoreGranularity::kCacheLine), PMEM2_GRANULARITY_CACHE_LINE);
  EXPECT_EQ(static_cast<int>(StoreGranularity::kPage), PMEM2_GRANULARITY_PAGE);
  EXPECT_EQ(static_cast<int>(Sharing::kShared), PMEM2_SHARED);
  EXPECT_EQ(static_cast<int>(Sharing::kPrivate), PMEM2_PRIVATE);
  EXPECT_EQ(static_cast<unsigned>(kProtRead), PMEM2_PROT_READ);
  EXPECT_EQ(static_cast<unsigned>(kProtWrite), PMEM2_PROT_WRITE);
  EXPECT_EQ(static_cast<unsigned>(kProtExec), PMEM2_PROT_EXEC);
  EXPECT_EQ(static_cast<unsigned>(kProtNone), static_cast<unsigned>(PMEM2_PROT_NONE));
  EXPECT_EQ(kValidProtectionBits, PMEM2_PROT_READ | PMEM2_PROT_WRITE | PMEM2_PROT_EXEC);
}

Config WithGranularity(StoreGranularity g) {
  Config config;
  config.set_required_store_granularity(g);
  return config;
}

TEST(ConfigTest, EveryGranularityIsValid) {
  for (StoreGranularity g : {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage}) {
    Config config = WithGranularity(g);
    EXPECT_EQ(config.required_store_granularity(), g);
    EXPECT_TRUE(config.Validate().ok());
  }
}

TEST(ConfigTest, UnknownGranularityIsRefusedByValidate) {
  for (int raw : {7, -1}) {
    absl::Status s = WithGranularity(static_cast<StoreGranularity>(raw)).Validate();
    EXPECT_EQ(GetErrorCode(s), ErrorCode::kGranularityNotSupported) << raw;
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(s.message()), HasSubstr(std::to_string(raw)));
  }
}

TEST(ConfigTest, OffsetUpToInt64Max) {
  Config config = WithGranularity(StoreGranularity::kPage);
  const uint64_t max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  config.set_offset(max);
  EXPECT_EQ(config.offset(), max);
  EXPECT_TRUE(config.Validate().ok());
  config.set_offset(max + 1);
  absl::Status s = config.Validate();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kOffsetOutOfRange);
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(std::string(s.message()), HasSubstr("9223372036854775808"));
  config.set_offset(UINT64_MAX);
  EXPECT_EQ(GetErrorCode(config.Validate()), ErrorCode::kOffsetOutOfRange);
}

TEST(ConfigTest, AnyLength) {
  Config config = WithGranularity(StoreGranularity::kPage);
  config.set_length(SIZE_MAX);
  EXPECT_EQ(config.length(), SIZE_MAX);
  EXPECT_TRUE(config.Validate().ok());
}

TEST(ConfigTest, Sharing) {
  Config config = WithGranularity(StoreGranularity::kPage);
  config.set_sharing(Sharing::kPrivate);
  EXPECT_EQ(config.sharing(), Sharing::kPrivate);
  EXPECT_TRUE(config.Validate().ok());
  config.set_sharing(static_cast<Sharing>(2));
  absl::Status s = config.Validate();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidSharingValue);
  EXPECT_THAT(std::string(s.message()), HasSubstr("sharing 2"));
}

TEST(ConfigTest, Protection) {
  Config config = WithGranularity(StoreGranularity::kPage);
  for (Protection prot : {kProtNone, kProtRead, kProtWrite, kProtExec, kProtRead | kProtWrite | kProtExec}) {
    config.set_protection(prot);
    EXPECT_EQ(config.protection(), prot);
    EXPECT_TRUE(config.Validate().ok()) << static_cast<unsigned>(prot);
  }
  EXPECT_TRUE(HasAll(kProtRead | kProtWrite, kProtWrite));
  EXPECT_FALSE(HasAll(kProtRead, kProtRead | kProtWrite));
  EXPECT_TRUE(HasAll(kProtRead, kProtNone));
  config.set_protection(ProtectionFromBits(PMEM2_PROT_READ | 0x1));
  absl::Status s = config.Validate();
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kInvalidProtFlag);
  EXPECT_THAT(std::string(s.message()), HasSubstr("0x1"));
}

TEST(ConfigTest, ValidateReportsTheFirstProblemInLibpmem2Order) {
  Config config;
  config.set_offset(UINT64_MAX);
  config.set_protection(ProtectionFromBits(0x4));
  EXPECT_EQ(GetErrorCode(config.Validate()), ErrorCode::kGranularityNotSet);
  config.set_required_store_granularity(StoreGranularity::kByte);
  EXPECT_EQ(GetErrorCode(config.Validate()), ErrorCode::kOffsetOutOfRange);
  config.set_offset(0);
  EXPECT_EQ(GetErrorCode(config.Validate()), ErrorCode::kInvalidProtFlag);
  // The rest of the order (found by audit: untested): an invalid granularity before the offset, the sharing before
  // the protection.
  config.set_offset(UINT64_MAX);
  config.set_required_store_granularity(static_cast<StoreGranularity>(7));
  EXPECT_EQ(GetErrorCode(config.Validate()), ErrorCode::kGranularityNotSupported);
  config.set_required_store_granularity(StoreGranularity::kByte);
  config.set_offset(0);
  config.set_sharing(static_cast<Sharing>(2));
  EXPECT_EQ(GetErrorCode(config.Validate()), ErrorCode::kInvalidSharingValue);
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
