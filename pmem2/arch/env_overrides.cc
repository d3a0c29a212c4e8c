// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/env_overrides.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/cleanup/cleanup.h"
#include "pmem2/internal/fork_safe_lazy.h"

namespace pmem2 {
namespace arch {
namespace {

// Not in a set-user-ID or set-group-ID program (secure_getenv(3)): whoever runs it would choose how its persists work
// (PMEM_NO_FLUSH=1 skips the write-back), or have its mappings refused (an invalid value).
const char* Get(const char* name) { return secure_getenv(name); }

void Note(EnvOverrides* out, const char* name, const char* value) {
  if (!out->description.empty()) out->description += ' ';
  out->description += name;
  out->description += '=';
  out->description += value;
}

void Invalid(EnvOverrides* out, const char* name, const char* value, const char* takes) {
  if (!out->invalid.empty()) out->invalid += "; ";
  out->invalid += name;
  out->invalid += "=\"";
  out->invalid += value;
  out->invalid += "\" is not ";
  out->invalid += takes;
}

// A "0"/"1" switch. Returns the value, or -1 for unset (missing or empty) and invalid values; `*text`, if given: the
// variable as read (one read: another thread's setenv may change it between two).
int ReadSwitch(EnvOverrides* out, const char* name, const char** text = nullptr) {
  const char* value = Get(name);
  if (text != nullptr) *text = value;
  if (value == nullptr || *value == '\0') return -1;
  if (std::strcmp(value, "0") == 0 || std::strcmp(value, "1") == 0) return value[0] - '0';
  Invalid(out, name, value, "0 or 1");
  return -1;
}

// Sets *flag and notes the variable when the switch holds `wanted` (PMDK compares with strcmp).
void ReadExact(EnvOverrides* out, const char* name, int wanted, bool* flag) {
  const char* value = nullptr;
  if (ReadSwitch(out, name, &value) == wanted) {
    *flag = true;
    Note(out, name, value);
  }
}

// True if `text` is a whole decimal number without sign that fits 64 bits.
bool ParseUnsigned(const char* text, unsigned long long* value) {
  if (*text < '0' || *text > '9') return false;
  char* end = nullptr;
  errno = 0;
  *value = std::strtoull(text, &end, 10);
  return errno == 0 && *end == '\0';
}

// A byte count (decimal, no sign or suffix): sets *has and *bytes and notes the variable, or records it as invalid.
void ReadByteCount(EnvOverrides* out, const char* name, bool* has, size_t* bytes) {
  const char* value = Get(name);
  if (value == nullptr || *value == '\0') return;
  unsigned long long parsed = 0;
  if (ParseUnsigned(value, &parsed) && parsed <= std::numeric_limits<size_t>::max()) {
    *has = true;
    *bytes = static_cast<size_t>(parsed);
    Note(out, name, value);
  } else {
    Invalid(out, name, value, "a byte count (a decimal number from 0, no sign or suffix)");
  }
}

}  // namespace

EnvOverrides ReadEnvOverrides() {
  // strtoull and strtoll report through errno: the caller's errno is left as it was (the engine reads the
  // environment on its first use, inside whatever pmem2 call that is).
  const int saved_errno = errno;
  const absl::Cleanup restore_errno = [saved_errno] { errno = saved_errno; };
  EnvOverrides out;
  ReadExact(&out, "PMEM_NO_CLWB", 1, &out.no_clwb);
  ReadExact(&out, "PMEM_NO_CLFLUSHOPT", 1, &out.no_clflushopt);

  switch (ReadSwitch(&out, "PMEM_NO_FLUSH")) {
    case 1:
      out.flush = EnvOverrides::Flush::kNever;
      Note(&out, "PMEM_NO_FLUSH", "1");
      break;
    case 0:
      out.flush = EnvOverrides::Flush::kAlways;
      Note(&out, "PMEM_NO_FLUSH", "0");
      break;
    default:
      break;
  }

  ReadExact(&out, "PMEM_NO_MOVNT", 1, &out.no_movnt);

  ReadByteCount(&out, "PMEM_MOVNT_THRESHOLD", &out.has_movnt_threshold, &out.movnt_threshold);
  ReadByteCount(&out, "PMEM2_NEAR_TEMPORAL_BELOW", &out.has_near_temporal_below, &out.near_temporal_below);

  ReadExact(&out, "PMEM_AVX", 0, &out.no_avx);
  switch (ReadSwitch(&out, "PMEM_AVX512F")) {
    case 0:
      out.no_avx512f = true;
      Note(&out, "PMEM_AVX512F", "0");
      break;
    case 1:
      out.force_avx512f = true;
      Note(&out, "PMEM_AVX512F", "1");
      break;
    default:
      break;
  }
  ReadExact(&out, "PMEM_MOVDIR64B", 0, &out.no_movdir64b);

  if (const char* value = Get("PMEM_NO_GENERIC_MEMCPY"); value != nullptr && *value != '\0') {
    // PMDK reads this one as a number: any non-zero value switches to the C library.
    char* end = nullptr;
    errno = 0;
    const long long parsed = std::strtoll(value, &end, 10);
    if (errno != 0 || *end != '\0' || end == value) {
      Invalid(&out, "PMEM_NO_GENERIC_MEMCPY", value, "an integer");
    } else if (parsed != 0) {
      out.no_generic_memcpy = true;
      Note(&out, "PMEM_NO_GENERIC_MEMCPY", value);
    }
  }
  return out;
}

namespace {
internal::ForkSafeLazy<EnvOverrides> process_overrides;  // fork-safe (fork_safe_lazy.h)
}  // namespace

const EnvOverrides& ProcessEnvOverrides() {
  return process_overrides.Get([] { return std::make_unique<EnvOverrides>(ReadEnvOverrides()); });
}

}  // namespace arch
}  // namespace pmem2
