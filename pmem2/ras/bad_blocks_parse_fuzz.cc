// Copyright 2026 The pmem2 Authors.
//
// Fuzz target (testing/fuzz/driver.h): ParseBadBlocks() over any text, as a kernel or a fake sysfs could hand it.
// No crash; a list it accepts has ranges of at least one sector that end within 2^64 bytes, one per non-empty line,
// and reads back the same when written out in the kernel's format; one it refuses names the line.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/ascii.h"
#include "pmem2/ras/region.h"
#include "testing/fuzz/driver.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "bad_blocks_parse_fuzz: %s\n", what.c_str());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Digits, spaces and newlines most of the time, so that the input is often a list, else any bytes.
  std::string text(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] % 4 != 0) {
    static const char kAlphabet[] = "0123456789 \n\t\n 0";
    for (char& c : text) c = kAlphabet[static_cast<unsigned char>(c) % (sizeof kAlphabet - 1)];
  }
  const absl::StatusOr<std::vector<::pmem2::ras_internal::ByteRange>> ranges =
      ::pmem2::ras_internal::ParseBadBlocks(text, "badblocks");
  if (!ranges.ok()) {
    if (ranges.status().message().find("badblocks line ") == absl::string_view::npos) {
      Fail(absl::StrCat("a refusal names no line: ", ranges.status().ToString()));
    }
    return 0;
  }
  size_t lines = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) lines += !absl::StripAsciiWhitespace(line).empty();
  if (ranges->size() != lines) Fail(absl::StrCat(ranges->size(), " ranges from ", lines, " lines"));
  std::string written;
  for (const auto& r : *ranges) {
    if (r.length < 512 || r.length % 512 != 0 || r.offset % 512 != 0) Fail("a range of no whole sector");
    if (r.offset + r.length < r.offset) Fail("a range past 2^64 bytes");
    absl::StrAppend(&written, r.offset / 512, " ", r.length / 512, "\n");
  }
  const absl::StatusOr<std::vector<::pmem2::ras_internal::ByteRange>> again =
      ::pmem2::ras_internal::ParseBadBlocks(written, "badblocks");
  if (!again.ok() || again->size() != ranges->size()) Fail("the list written out does not read back");
  for (size_t i = 0; i < again->size(); ++i) {
    if ((*again)[i].offset != (*ranges)[i].offset || (*again)[i].length != (*ranges)[i].length) {
      Fail("a range written out reads back otherwise");
    }
  }
  return 0;
}
