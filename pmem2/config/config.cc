// Copyright 2026 The pmem2 Authors.

#include "pmem2/config/config.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/str_format.h"

namespace pmem2 {

absl::string_view StoreGranularityName(StoreGranularity granularity) {
  switch (granularity) {
    case StoreGranularity::kByte: return "byte";
    case StoreGranularity::kCacheLine: return "cache_line";
    case StoreGranularity::kPage: return "page";
  }
  return "invalid";
}

absl::optional<StoreGranularity> ParseStoreGranularity(absl::string_view text) {
  std::string lower = absl::AsciiStrToLower(text);
  if (lower == "byte") return StoreGranularity::kByte;
  if (lower == "cache_line" || lower == "cacheline") return StoreGranularity::kCacheLine;
  if (lower == "page") return StoreGranularity::kPage;
  return absl::nullopt;
}

absl::Status Config::Validate() const {
  if (!granularity_.has_value()) {
    return MakeError(ErrorCode::kGranularityNotSet,
                     "no required store granularity: call Config::set_required_store_granularity()");
  }
  if (StoreGranularityName(*granularity_) == "invalid") {
    return MakeError(ErrorCode::kGranularityNotSupported,
                     absl::StrCat("store granularity ", static_cast<int>(*granularity_),
                                  " is not byte (0), cache_line (1) or page (2)"));
  }
  if (offset_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return MakeError(ErrorCode::kOffsetOutOfRange, absl::StrCat("offset ", offset_, " is greater than INT64_MAX"));
  }
  if (sharing_ != Sharing::kShared && sharing_ != Sharing::kPrivate) {
    return MakeError(ErrorCode::kInvalidSharingValue,
                     absl::StrCat("sharing ", static_cast<int>(sharing_), " is not shared (0) or private (1)"));
  }
  const unsigned bits = static_cast<unsigned>(protection_);
  if ((bits & ~kValidProtectionBits) != 0) {
    return MakeError(ErrorCode::kInvalidProtFlag,
                     internal::StrFormat("protection 0x%x has bits 0x%x outside PMEM2_PROT_READ|WRITE|EXEC", bits,
                                         bits & ~kValidProtectionBits));
  }
  return absl::OkStatus();
}

}  // namespace pmem2
