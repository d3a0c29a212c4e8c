// Copyright 2026 The pmem2 Authors.
//
// Fuzz target (testing/fuzz/driver.h): ParseBadBlocks() over any text, as a kernel or a fake sysfs could hand it.
// No crash; it accepts exactly what the same rules written apart accept (FirstBadLine), and a refusal names the first
// line that breaks them; an accepted list has ranges of whole sectors within 2^64 bytes, one per non-blank line, and
// reads back the same when written out in the kernel's format.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "pmem2/ras/region.h"
#include "testing/fuzz/driver.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "bad_blocks_parse_fuzz: %s\n", what.c_str());
  abort();
}

bool Space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

// An unsigned decimal of at most 64 bits, digits only.
bool Decimal(const std::string& text, uint64_t* value) {
  if (text.empty()) return false;
  uint64_t v = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *value = v;
  return true;
}

// The same rules written apart from the parser, as the kernel's format says them: lines split at '\n'; blank ones
// (ASCII whitespace only) skipped; others, trimmed, exactly two fields split by spaces and tabs, "SECTOR COUNT" in
// decimal with COUNT >= 1 and the byte range within 2^64. Returns the number (from 1) of the first line that breaks
// them, or 0 with `*count` the number of ranges.
int FirstBadLine(const std::string& text, size_t* count) {
  *count = 0;
  int number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++number;
    size_t b = start, e = end;
    while (b < e && Space(text[b])) ++b;
    while (e > b && Space(text[e - 1])) --e;
    if (b < e) {
      std::vector<std::string> fields;
      std::string field;
      for (size_t k = b; k <= e; ++k) {
        if (k == e || text[k] == ' ' || text[k] == '\t') {
          if (!field.empty()) fields.push_back(field);
          field.clear();
        } else {
          field += text[k];
        }
      }
      uint64_t sector = 0, sectors = 0;
      if (fields.size() != 2 || !Decimal(fields[0], &sector) || !Decimal(fields[1], &sectors) || sectors == 0 ||
          sector > UINT64_MAX / 512 || sectors > UINT64_MAX / 512 || sector * 512 > UINT64_MAX - sectors * 512) {
        return number;
      }
      ++*count;
    }
    start = end + 1;
  }
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Digits, spaces and newlines most of the time, so that the input is often a list, else any bytes.
  std::string text(reinterpret_cast<const char*>(data), size);
  if (size > 0 && data[0] % 4 != 0) {
    static const char kAlphabet[] = "0123456789 \n\t\n 0\r\v\f+-9";
    for (char& c : text) c = kAlphabet[static_cast<unsigned char>(c) % (sizeof kAlphabet - 1)];
  }
  const absl::StatusOr<std::vector<::pmem2::ras_internal::ByteRange>> ranges =
      ::pmem2::ras_internal::ParseBadBlocks(text, "badblocks");
  size_t lines = 0;
  const int bad = FirstBadLine(text, &lines);
  if (!ranges.ok()) {
    if (bad == 0) Fail(absl::StrCat("a list the rules accept was refused: ", ranges.status().ToString()));
    if (ranges.status().message().find(absl::StrCat("badblocks line ", bad, " ")) == absl::string_view::npos) {
      Fail(absl::StrCat("a refusal names another line than ", bad, ": ", ranges.status().ToString()));
    }
    return 0;
  }
  if (bad != 0) Fail(absl::StrCat("line ", bad, " breaks the rules and was accepted"));
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
