// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/env_overrides.h
// -----------------------------------------------------------------------------
//
// The PMEM_* environment variables that libpmem/libpmem2 users already know, parsed once into a plain struct
// that every backend reads. The meanings follow PMDK (libpmem(7), libpmem2(7)); as PMDK, none is read in a
// set-user-ID or set-group-ID program (secure_getenv(3)):
//
//   PMEM_NO_CLWB=1          never use CLWB (fall back to CLFLUSHOPT, then CLFLUSH)
//   PMEM_NO_CLFLUSHOPT=1    never use CLFLUSHOPT (fall back to CLFLUSH)
//   PMEM_NO_FLUSH=1         libpmem's functions never write CPU caches back (the platform is trusted to do it); a
//                           store fence still orders the stores. Not Maps: a cache-line Map's persist writes back
//                           whatever this says (libpmem2 does not read it; persist_ops.h, LibpmemOps)
//   PMEM_NO_FLUSH=0         always write CPU caches back, even where the platform says it need not (eADR):
//                           libpmem's functions, and byte-granularity Maps of files
//   PMEM_NO_MOVNT=1         never use non-temporal stores
//   PMEM_MOVNT_THRESHOLD=N  copies of N bytes or more use non-temporal stores (0: always); no effect with
//                           PMEM_NO_MOVNT=1. N is a decimal byte count without sign or suffix. At byte and page
//                           granularity from 129 B whatever N: their copies and fills of up to 128 B are one step
//                           of loads and ordinary stores (libpmem2's go non-temporal there; durable either way, by
//                           msync or eADR), and `pmem2 info` names that size
//   PMEM2_NEAR_TEMPORAL_BELOW=N  (pmem2's own) cache-line copies and fills of fewer than N bytes whose
//                           destination is near the calling thread's previous one use ordinary stores + write-back
//                           instead of non-temporal stores (0: never; see x86_64/ops.h). Unset, the CPU kind's
//                           measured row decides, and PMEM_MOVNT_THRESHOLD (the user's own threshold) turns it off;
//                           no effect with PMEM_NO_MOVNT=1
//   PMEM_AVX=0              do not use the AVX kernels, nor the AVX-512 ones a CPU kind's row would pick (libpmem2
//                           keeps AVX-512 then): SSE2 unless PMEM_AVX512F=1
//   PMEM_AVX512F=0          do not use the AVX-512 kernels
//   PMEM_AVX512F=1          use the AVX-512 kernels wherever the CPU and OS support them (even with PMEM_AVX=0);
//                           unset, they are used only on CPUs where they were measured to win (x86_64/ops.cc)
//   PMEM_MOVDIR64B=0        do not use MOVDIR64B (pmem2 does not use it yet)
//   PMEM_NO_GENERIC_MEMCPY=N (N != 0) where the portable copy loop would be used, use the C library's
//                           memmove/memset plus a flush instead; the 8-byte store guarantee is then lost. On x86-64
//                           the loop is never used (every x86-64 CPU has the SSE2 kernels), so it does nothing
//                           there: PMDK applies it under PMEM_NO_MOVNT=1, where pmem2 keeps its kernels' ordinary
//                           stores (and their 8-byte store guarantee). N is read with strtoll(3), so unlike the
//                           other numbers here it may start with whitespace and a sign (" -1" and "+1" turn it on).
//
// An empty variable counts as unset. The switches take "0" or "1" ("0" is PMDK's "not set" for the PMEM_NO_*
// ones, "1" is the default for PMEM_AVX / PMEM_MOVDIR64B), PMEM_NO_GENERIC_MEMCPY an integer. PMEM_AVX512F=1
// is not neutral: PMDK uses AVX-512 wherever it exists, pmem2 only where measured, so "1" asks for PMDK's choice.
// Any other value is recorded in `invalid` and makes Map::Create() fail with ErrorCode::kInvalidEnvironment:
// PMDK silently ignores such values, so a run that believes it set PMEM_MOVNT_THRESHOLD=4k would measure
// something else. The engine itself treats an invalid variable as unset.

#ifndef PMEM2_ARCH_ENV_OVERRIDES_H_
#define PMEM2_ARCH_ENV_OVERRIDES_H_

#include <cstddef>
#include <string>

namespace pmem2 {
namespace arch {

struct EnvOverrides {
  enum class Flush { kAuto, kNever, kAlways };

  bool no_clwb = false;
  bool no_clflushopt = false;
  Flush flush = Flush::kAuto;
  bool no_movnt = false;
  bool has_movnt_threshold = false;
  size_t movnt_threshold = 0;  // meaningful only if has_movnt_threshold
  bool has_near_temporal_below = false;  // PMEM2_NEAR_TEMPORAL_BELOW
  size_t near_temporal_below = 0;        // meaningful only if has_near_temporal_below
  bool no_avx = false;
  bool no_avx512f = false;
  bool force_avx512f = false;  // PMEM_AVX512F=1
  bool no_movdir64b = false;
  bool no_generic_memcpy = false;

  // The variables read with a valid value, as "NAME=value" separated by spaces; empty if none. (Some change nothing
  // on some machines: PMEM_NO_GENERIC_MEMCPY on x86-64, PMEM_MOVDIR64B=0 anywhere, a switch naming what the CPU
  // lacks.)
  std::string description;
  // The variables with values they do not take, one sentence each naming the variable, the value and what it
  // takes, separated by "; "; empty if none.
  std::string invalid;
};

// Parses the environment now. Tests use this with setenv(); the library itself uses ProcessEnvOverrides().
EnvOverrides ReadEnvOverrides();

// The environment as it was on first use, parsed once per process (thread-safe).
const EnvOverrides& ProcessEnvOverrides();

}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_ENV_OVERRIDES_H_
