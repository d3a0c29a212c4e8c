// Copyright 2026 The pmem2 Authors.

#include "pmem2/config/config.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pmem2/errors/errors.h"

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

absl::Status Config::set_required_store_granularity(StoreGranularity granularity) {
  switch (granularity) {
    case StoreGranularity::kByte:
    case StoreGranularity::kCacheLine:
    case StoreGranularity::kPage:
      granularity_ = granularity;
      return absl::OkStatus();
  }
  return MakeError(ErrorCode::kGranularityNotSupported,
                   absl::StrCat("store granularity ", static_cast<int>(granularity),
                                " is not byte (0), cache_line (1) or page (2)"));
}

absl::Status Config::set_offset(uint64_t offset) {
  if (offset > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return MakeError(ErrorCode::kOffsetOutOfRange,
                     absl::StrCat("offset ", offset, " is greater than INT64_MAX"));
  }
  offset_ = offset;
  return absl::OkStatus();
}

absl::Status Config::set_length(size_t length) {
  length_ = length;
  return absl::OkStatus();
}

absl::Status Config::set_sharing(Sharing sharing) {
  switch (sharing) {
    case Sharing::kShared:
    case Sharing::kPrivate:
      sharing_ = sharing;
      return absl::OkStatus();
  }
  return MakeError(ErrorCode::kInvalidSharingValue,
                   absl::StrCat("sharing ", static_cast<int>(sharing), " is not shared (0) or private (1)"));
}

absl::Status Config::set_protection(unsigned protection) {
  constexpr unsigned kValid = kProtRead | kProtWrite | kProtExec;
  if ((protection & ~kValid) != 0) {
    return MakeError(ErrorCode::kInvalidProtFlag,
                     absl::StrFormat("protection 0x%x has bits 0x%x outside PMEM2_PROT_READ|WRITE|EXEC",
                                     protection, protection & ~kValid));
  }
  protection_ = protection;
  return absl::OkStatus();
}

}  // namespace pmem2
