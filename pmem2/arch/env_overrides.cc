// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/env_overrides.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pmem2 {
namespace arch {
namespace {

const char* Get(const char* name) { return std::getenv(name); }

void Note(EnvOverrides* out, const char* name, const char* value) {
  if (!out->description.empty()) out->description += ' ';
  out->description += name;
  out->description += '=';
  out->description += value;
}

// Sets *flag and notes the variable when it equals `wanted` exactly (PMDK compares with strcmp).
void ReadExact(EnvOverrides* out, const char* name, const char* wanted, bool* flag) {
  const char* value = Get(name);
  if (value != nullptr && std::strcmp(value, wanted) == 0) {
    *flag = true;
    Note(out, name, value);
  }
}

}  // namespace

EnvOverrides ReadEnvOverrides() {
  EnvOverrides out;
  ReadExact(&out, "PMEM_NO_CLWB", "1", &out.no_clwb);
  ReadExact(&out, "PMEM_NO_CLFLUSHOPT", "1", &out.no_clflushopt);

  if (const char* value = Get("PMEM_NO_FLUSH"); value != nullptr) {
    if (std::strcmp(value, "1") == 0) {
      out.flush = EnvOverrides::Flush::kNever;
      Note(&out, "PMEM_NO_FLUSH", value);
    } else if (std::strcmp(value, "0") == 0) {
      out.flush = EnvOverrides::Flush::kAlways;
      Note(&out, "PMEM_NO_FLUSH", value);
    }
  }

  ReadExact(&out, "PMEM_NO_MOVNT", "1", &out.no_movnt);

  if (const char* value = Get("PMEM_MOVNT_THRESHOLD"); value != nullptr && *value != '\0') {
    char* end = nullptr;
    errno = 0;
    const long long parsed = std::strtoll(value, &end, 10);
    if (errno == 0 && *end == '\0' && parsed >= 0) {
      out.has_movnt_threshold = true;
      out.movnt_threshold = static_cast<size_t>(parsed);
      Note(&out, "PMEM_MOVNT_THRESHOLD", value);
    }
  }

  ReadExact(&out, "PMEM_AVX", "0", &out.no_avx);
  ReadExact(&out, "PMEM_AVX512F", "0", &out.no_avx512f);
  ReadExact(&out, "PMEM_MOVDIR64B", "0", &out.no_movdir64b);

  if (const char* value = Get("PMEM_NO_GENERIC_MEMCPY"); value != nullptr) {
    // PMDK reads this one as a number: any non-zero value switches to the C library.
    if (std::strtoll(value, nullptr, 10) != 0) {
      out.no_generic_memcpy = true;
      Note(&out, "PMEM_NO_GENERIC_MEMCPY", value);
    }
  }
  return out;
}

const EnvOverrides& ProcessEnvOverrides() {
  static const EnvOverrides overrides = ReadEnvOverrides();
  return overrides;
}

}  // namespace arch
}  // namespace pmem2
