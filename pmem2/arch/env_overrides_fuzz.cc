// Copyright 2026 The pmem2 Authors.
//
// Fuzz target (testing/fuzz/driver.h): ReadEnvOverrides() over PMEM_* values an input chooses, checked against rules
// written out here apart from the parser's: a switch takes "0" or "1"; a byte count is decimal digits only that fit
// 64 bits; PMEM_NO_GENERIC_MEMCPY is an integer as strtoll(3) reads it whole. Every variable with a value is either
// noted ("NAME=value") or named invalid ("NAME=\"value\" is not ..."), never both, unset and empty ones neither; the
// fields follow the values; errno is left as it was. Each input sets every variable or unsets it, so none carries
// over.

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "pmem2/arch/env_overrides.h"
#include "testing/fuzz/driver.h"
#include "testing/fuzz/input.h"

namespace {

using ::pmem2::arch::EnvOverrides;

enum class Kind { kSwitch, kByteCount, kInteger };
struct Variable {
  const char* name;
  Kind kind;
};
constexpr Variable kVariables[] = {
    {"PMEM_NO_CLWB", Kind::kSwitch},
    {"PMEM_NO_CLFLUSHOPT", Kind::kSwitch},
    {"PMEM_NO_FLUSH", Kind::kSwitch},
    {"PMEM_NO_MOVNT", Kind::kSwitch},
    {"PMEM_MOVNT_THRESHOLD", Kind::kByteCount},
    {"PMEM2_NEAR_TEMPORAL_BELOW", Kind::kByteCount},
    {"PMEM_AVX", Kind::kSwitch},
    {"PMEM_AVX512F", Kind::kSwitch},
    {"PMEM_MOVDIR64B", Kind::kSwitch},
    {"PMEM_NO_GENERIC_MEMCPY", Kind::kInteger},
};
constexpr size_t kCount = sizeof kVariables / sizeof kVariables[0];

[[noreturn]] void Fail(const char* what, const char* name, const std::string& value, const EnvOverrides& got) {
  std::fprintf(stderr, "env_overrides_fuzz: %s: %s=\"%s\"\n  description: %s\n  invalid: %s\n", what, name,
               value.c_str(), got.description.c_str(), got.invalid.c_str());
  std::abort();
}

// The value of one variable an input chooses: its first byte picks a shape, so that pseudo-random inputs reach the
// valid values too, not only bytes no parser takes.
bool NextValue(pmem2::testing::FuzzInput& in, std::string* value) {
  const uint8_t shape = in.Byte();
  value->clear();
  switch (shape % 8) {
    case 0:
      return false;  // unset
    case 1:
      *value = (in.Byte() & 1) != 0 ? "1" : "0";
      return true;
    case 2:
      *value = std::to_string(in.Bytes(8) >> (in.Byte() % 64));
      return true;
    case 3: {  // a number with something around it: a sign, a space, a suffix, a leading zero, more digits
      static const char* const kAround[] = {
          "+", "-", " ", "\t", "0", "k", "K", "x", "0x", "e3", "99999999999999999999"};
      const std::string number = std::to_string(in.Bytes(2));
      const std::string around = kAround[in.Byte() % (sizeof kAround / sizeof kAround[0])];
      *value = (in.Byte() & 1) != 0 ? around + number : number + around;
      return true;
    }
    default: {  // bytes up to a NUL (a value cannot hold one) or the input's end
      while (!in.empty()) {
        const uint8_t byte = in.Byte();
        if (byte == 0) break;
        value->push_back(static_cast<char>(byte));
      }
      return true;
    }
  }
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Decimal digits only, fitting 64 bits (and size_t).
bool ByteCount(const std::string& text, uint64_t* value) {
  if (text.empty()) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (v > std::numeric_limits<size_t>::max()) return false;
  *value = v;
  return true;
}

// What strtoll(3) reads whole: white space (isspace in the C locale), a sign, at least one digit, then the end; in
// range of long long. *is_zero: its value is 0.
bool Integer(const std::string& text, bool* is_zero) {
  size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || (text[i] >= '\t' && text[i] <= '\r'))) ++i;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  if (i == text.size()) return false;
  const uint64_t limit = negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (; i < text.size(); ++i) {
    if (!IsDigit(text[i])) return false;
    const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
    if (v > (limit - digit) / 10) return false;
    v = v * 10 + digit;
  }
  *is_zero = v == 0;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pmem2::testing::FuzzInput in(data, size);
  std::string values[kCount];
  bool set[kCount];
  for (size_t i = 0; i < kCount; ++i) {
    set[i] = NextValue(in, &values[i]);
    if (set[i]) {
      setenv(kVariables[i].name, values[i].c_str(), 1);
    } else {
      unsetenv(kVariables[i].name);
    }
  }
  errno = 4321;
  const EnvOverrides got = pmem2::arch::ReadEnvOverrides();
  if (errno != 4321) Fail("errno changed", "errno", std::to_string(errno), got);

  size_t described = 0;  // the description's expected length
  bool any_invalid = false;
  for (size_t i = 0; i < kCount; ++i) {
    const char* const name = kVariables[i].name;
    const std::string& v = values[i];
    const bool has_value = set[i] && !v.empty();
    bool valid = false, noted = false;
    uint64_t bytes = 0;
    bool is_zero = false;
    switch (kVariables[i].kind) {
      case Kind::kSwitch:
        valid = v == "0" || v == "1";
        noted = (v == "1" && (std::strcmp(name, "PMEM_NO_CLWB") == 0 || std::strcmp(name, "PMEM_NO_CLFLUSHOPT") == 0 ||
                              std::strcmp(name, "PMEM_NO_MOVNT") == 0)) ||
                (v == "0" && (std::strcmp(name, "PMEM_AVX") == 0 || std::strcmp(name, "PMEM_MOVDIR64B") == 0)) ||
                (valid && (std::strcmp(name, "PMEM_NO_FLUSH") == 0 || std::strcmp(name, "PMEM_AVX512F") == 0));
        break;
      case Kind::kByteCount:
        valid = noted = ByteCount(v, &bytes);
        break;
      case Kind::kInteger:
        valid = Integer(v, &is_zero);
        noted = valid && !is_zero;
        break;
    }
    if (!has_value) {
      valid = true;
      noted = false;
    }
    const std::string as_noted = std::string(name) + "=" + v;
    const std::string as_invalid = std::string(name) + "=\"" + v + "\" is not ";
    if (noted) {
      if (got.description.find(as_noted) == std::string::npos) Fail("not noted", name, v, got);
      described += (described == 0 ? 0 : 1) + as_noted.size();
    }
    if (!valid) {
      any_invalid = true;
      if (got.invalid.find(as_invalid) == std::string::npos) Fail("not named invalid", name, v, got);
    }
    // The fields.
    const bool one = has_value && v == "1", zero = has_value && v == "0";
    bool field_ok = true;
    if (std::strcmp(name, "PMEM_NO_CLWB") == 0) field_ok = got.no_clwb == one;
    if (std::strcmp(name, "PMEM_NO_CLFLUSHOPT") == 0) field_ok = got.no_clflushopt == one;
    if (std::strcmp(name, "PMEM_NO_MOVNT") == 0) field_ok = got.no_movnt == one;
    if (std::strcmp(name, "PMEM_NO_FLUSH") == 0) {
      field_ok = got.flush == (one    ? EnvOverrides::Flush::kNever
                               : zero ? EnvOverrides::Flush::kAlways
                                      : EnvOverrides::Flush::kAuto);
    }
    if (std::strcmp(name, "PMEM_AVX") == 0) field_ok = got.no_avx == zero;
    if (std::strcmp(name, "PMEM_AVX512F") == 0) field_ok = got.no_avx512f == zero && got.force_avx512f == one;
    if (std::strcmp(name, "PMEM_MOVDIR64B") == 0) field_ok = got.no_movdir64b == zero;
    if (std::strcmp(name, "PMEM_NO_GENERIC_MEMCPY") == 0) field_ok = got.no_generic_memcpy == noted;
    if (std::strcmp(name, "PMEM_MOVNT_THRESHOLD") == 0) {
      field_ok = got.has_movnt_threshold == noted && (!noted || got.movnt_threshold == bytes);
    }
    if (std::strcmp(name, "PMEM2_NEAR_TEMPORAL_BELOW") == 0) {
      field_ok = got.has_near_temporal_below == noted && (!noted || got.near_temporal_below == bytes);
    }
    if (!field_ok) Fail("its field does not follow the value", name, v, got);
  }
  if (got.description.size() != described) Fail("the description holds more than the noted variables", "", "", got);
  if (got.invalid.empty() == any_invalid) Fail("invalid variables named or not as expected", "", "", got);
  for (const Variable& variable : kVariables) unsetenv(variable.name);
  return 0;
}
