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

enum class CpuVendor { kOther, kIntel, kAmd };

struct CpuFeatures {
  // CPUID leaf 0 vendor string and leaf 1 display family / model (extended fields folded in as the SDM and
  // APM define them). Selection uses them only to pick defaults that were measured on that CPU kind.
  CpuVendor vendor = CpuVendor::kOther;
  unsigned family = 0;
  unsigned model = 0;

  bool sse2 = false;
  // The vector extensions count only if the OS saves their register state (XCR0), not merely if CPUID lists
  // them: otherwise the first instruction would fault.
  bool avx = false;
  bool avx2 = false;
  bool avx512f = false;  // also needs XCR0 opmask, ZMM_Hi256 and Hi16_ZMM (0xE6 with XMM and YMM), and AVX2
  bool clflush = false;
  bool clflushopt = false;
  bool clwb = false;
  bool movdir64b = false;

  // Space-separated names of the features present, e.g. "sse2 avx avx2 clflush clwb".
  std::string Names() const;
};

// The raw CPUID/XGETBV words DetectCpuFeatures() reads, so the decoding can be tested for CPUs and OS
// configurations this machine is not (e.g. AVX-512 in CPUID but ZMM state not enabled in XCR0).
struct CpuidWords {
  char vendor[13] = {};  // leaf 0: EBX, EDX, ECX, NUL-terminated
  unsigned leaf1_eax = 0, leaf1_ecx = 0, leaf1_edx = 0;
  bool has_leaf7 = false;
  unsigned leaf7_ebx = 0, leaf7_ecx = 0;
  unsigned long long xcr0 = 0;  // 0 when CPUID.1:ECX.OSXSAVE is clear (XGETBV then faults)
};
CpuFeatures DecodeCpuFeatures(const CpuidWords& words);

// Runs CPUID/XGETBV now.
CpuFeatures DetectCpuFeatures();

// DetectCpuFeatures() of the first call, cached (thread-safe).
const CpuFeatures& ProcessCpuFeatures();

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_X86_64_CPU_FEATURES_H_
