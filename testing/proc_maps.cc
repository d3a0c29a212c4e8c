// Copyright 2026 The pmem2 Authors.

#include "testing/proc_maps.h"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace pmem2 {
namespace testing {

absl::optional<Mapping> MappingAt(const void* address) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(address);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 2) continue;
    std::vector<std::string> range = absl::StrSplit(fields[0], '-');
    uint64_t begin = 0, end = 0;
    if (range.size() != 2 || !absl::SimpleHexAtoi(range[0], &begin) || !absl::SimpleHexAtoi(range[1], &end)) {
      continue;
    }
    if (at >= begin && at < end) return Mapping{begin, end, fields[1]};
  }
  return absl::nullopt;
}

std::string ProtectionAt(const void* address) {
  const absl::optional<Mapping> mapping = MappingAt(address);
  return mapping.has_value() ? mapping->protection : "";
}

}  // namespace testing
}  // namespace pmem2
