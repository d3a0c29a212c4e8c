// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/x86_64/cpu_features.h"

#include <cpuid.h>

#include <cstdint>

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace {

// CPUID leaf 1.
constexpr uint32_t kEdxClflush = 1u << 19;
constexpr uint32_t kEdxSse2 = 1u << 26;
constexpr uint32_t kEcxOsxsave = 1u << 27;
constexpr uint32_t kEcxAvx = 1u << 28;
// CPUID leaf 7, sub-leaf 0.
constexpr uint32_t kEbxAvx2 = 1u << 5;
constexpr uint32_t kEbxAvx512f = 1u << 16;
constexpr uint32_t kEbxClflushopt = 1u << 23;
constexpr uint32_t kEbxClwb = 1u << 24;
constexpr uint32_t kEcxMovdir64b = 1u << 28;
// XCR0: state components the OS saves on a context switch.
constexpr uint64_t kXcr0SseAvx = 0x6;          // XMM and YMM
constexpr uint64_t kXcr0Avx512 = 0x6 | 0xe0;   // plus opmask, ZMM_Hi256, Hi16_ZMM

// XGETBV without a target attribute: the instruction exists whenever CPUID reports OSXSAVE.
uint64_t ReadXcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

}  // namespace

std::string CpuFeatures::Names() const {
  std::string out;
  auto add = [&out](bool present, const char* name) {
    if (!present) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(sse2, "sse2");
  add(avx, "avx");
  add(avx2, "avx2");
  add(avx512f, "avx512f");
  add(clflush, "clflush");
  add(clflushopt, "clflushopt");
  add(clwb, "clwb");
  add(movdir64b, "movdir64b");
  return out;
}

CpuFeatures DetectCpuFeatures() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return f;
  f.clflush = (edx & kEdxClflush) != 0;
  f.sse2 = (edx & kEdxSse2) != 0;
  const uint64_t xcr0 = (ecx & kEcxOsxsave) != 0 ? ReadXcr0() : 0;
  const bool os_avx = (xcr0 & kXcr0SseAvx) == kXcr0SseAvx;
  const bool os_avx512 = (xcr0 & kXcr0Avx512) == kXcr0Avx512;
  f.avx = os_avx && (ecx & kEcxAvx) != 0;

  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0) {
    f.avx2 = f.avx && (ebx & kEbxAvx2) != 0;
    f.avx512f = f.avx && os_avx512 && (ebx & kEbxAvx512f) != 0;
    f.clflushopt = (ebx & kEbxClflushopt) != 0;
    f.clwb = (ebx & kEbxClwb) != 0;
    f.movdir64b = (ecx & kEcxMovdir64b) != 0;
  }
  return f;
}

const CpuFeatures& ProcessCpuFeatures() {
  static const CpuFeatures features = DetectCpuFeatures();
  return features;
}

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
