// Copyright 2026 The pmem2 Authors.
//
// tools/bench/machine.cc
// -----------------------------------------------------------------------------
//
// CPU kind, last-level cache and the cold window (see machine.h).

#include "tools/bench/machine.h"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace pmem2 {
namespace bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return "";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

CpuKind ParseCpuInfo(absl::string_view text) {
  CpuKind kind;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StripAsciiWhitespace(line).empty()) {
      if (!kind.vendor.empty() || !kind.model_name.empty()) break;  // the end of the first processor's block
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos) continue;
    const absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, colon));
    const absl::string_view value = absl::StripAsciiWhitespace(line.substr(colon + 1));
    int number = 0;
    if (key == "vendor_id") {
      kind.vendor = std::string(value);
    } else if (key == "cpu family" && absl::SimpleAtoi(value, &number)) {
      kind.family = number;
    } else if (key == "model" && absl::SimpleAtoi(value, &number)) {
      kind.model = number;
    } else if (key == "model name") {
      kind.model_name = std::string(value);
    }
  }
  return kind;
}

std::string DescribeCpuKind(const CpuKind& kind) {
  std::string out;
  if (!kind.vendor.empty()) {
    out = kind.vendor;
    if (kind.family >= 0) absl::StrAppend(&out, " family ", kind.family);
    if (kind.model >= 0) absl::StrAppend(&out, " model ", kind.model);
  }
  if (!kind.model_name.empty()) {
    out = out.empty() ? kind.model_name : absl::StrCat(out, " (", kind.model_name, ")");
  }
  return out.empty() ? "unknown CPU kind" : out;
}

const CpuKind& ThisCpuKind() {
  static const CpuKind* const kind = new CpuKind(ParseCpuInfo(ReadFile("/proc/cpuinfo")));
  return *kind;
}

uint64_t ParseCacheSize(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  uint64_t unit = 1;
  if (!text.empty()) {
    switch (absl::ascii_toupper(static_cast<unsigned char>(text.back()))) {
      case 'K': unit = uint64_t{1} << 10; break;
      case 'M': unit = uint64_t{1} << 20; break;
      case 'G': unit = uint64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) text.remove_suffix(1);
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) return 0;
  return value * unit;
}

uint64_t LastLevelCacheBytes() {
  uint64_t largest = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = absl::StrCat("/sys/devices/system/cpu/cpu0/cache/index", i, "/");
    const std::string type = std::string(absl::StripAsciiWhitespace(ReadFile(dir + "type")));
    if (type.empty()) continue;
    if (type == "Instruction") continue;
    largest = std::max(largest, ParseCacheSize(ReadFile(dir + "size")));
  }
  if (largest != 0) return largest;
  for (int name : {_SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE}) {
    const long size = sysconf(name);
    if (size > 0) return static_cast<uint64_t>(size);
  }
  return 0;
}

uint64_t AvailableMemoryBytes() {
  for (absl::string_view line : absl::StrSplit(ReadFile("/proc/meminfo"), '\n')) {
    if (!absl::ConsumePrefix(&line, "MemAvailable:")) continue;
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, "kB");
    uint64_t kib = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) return kib << 10;
  }
  return UINT64_MAX;
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs fs;
  if (statvfs(path.c_str(), &fs) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(fs.f_bavail) * static_cast<uint64_t>(fs.f_frsize);
}

uint64_t ColdWindowBytes(uint64_t llc, uint64_t available_memory, uint64_t free_space) {
  constexpr uint64_t kGranule = uint64_t{2} << 20;
  const uint64_t per_llc = llc <= UINT64_MAX / kColdWindowPerLlc ? kColdWindowPerLlc * llc : UINT64_MAX;
  uint64_t window = std::max(kMinColdWindow, per_llc);
  window = std::min({window, available_memory / 2, free_space / 2});
  return window / kGranule * kGranule;
}

}  // namespace bench
}  // namespace pmem2
