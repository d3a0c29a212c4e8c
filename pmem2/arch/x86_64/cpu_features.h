// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/cpu_features.h
// -----------------------------------------------------------------------------
//
// What this x86-64 CPU (and its operating system) lets pmem2 use, from CPUID and XGETBV. Detection runs once
// per process; tests substitute other feature sets through testing/cpu, never by editing these values.

#ifndef PMEM2_ARCH_X86_64_CPU_FEATURES_H_
#define PMEM2_ARCH_X86_64_CPU_FEATURES_H_

#include <string>

namespace pmem2 {
namespace arch {
namespace x86_64 {

struct CpuFeatures {
  bool sse2 = false;
  // The vector extensions count only if the OS saves their register state (XCR0), not merely if CPUID lists
  // them: otherwise the first instruction would fault.
  bool avx = false;
  bool avx2 = false;
  bool avx512f = false;
  bool clflush = false;
  bool clflushopt = false;
  bool clwb = false;
  bool movdir64b = false;

  // Space-separated names of the features present, e.g. "sse2 avx avx2 clflush clwb".
  std::string Names() const;
};

// Runs CPUID/XGETBV now.
CpuFeatures DetectCpuFeatures();

// DetectCpuFeatures() of the first call, cached (thread-safe).
const CpuFeatures& ProcessCpuFeatures();

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_X86_64_CPU_FEATURES_H_
