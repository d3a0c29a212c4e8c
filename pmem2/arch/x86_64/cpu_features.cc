// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/x86_64/cpu_features.h"

#include <cpuid.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "pmem2/internal/fork_safe_lazy.h"

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
constexpr uint64_t kXcr0Avx512 = 0x6 | 0xe0;   // plus opmask, ZMM_Hi256, Hi16_ZMM: 0xE6

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

CpuFeatures DecodeCpuFeatures(const CpuidWords& w) {
  CpuFeatures f;
  if (std::strcmp(w.vendor, "GenuineIntel") == 0) {
    f.vendor = CpuVendor::kIntel;
  } else if (std::strcmp(w.vendor, "AuthenticAMD") == 0) {
    f.vendor = CpuVendor::kAmd;
  }
  const unsigned base_family = (w.leaf1_eax >> 8) & 0xf;
  const unsigned base_model = (w.leaf1_eax >> 4) & 0xf;
  f.family = base_family == 0xf ? base_family + ((w.leaf1_eax >> 20) & 0xff) : base_family;
  f.model = base_family == 0x6 || base_family == 0xf ? (((w.leaf1_eax >> 16) & 0xf) << 4) | base_model : base_model;

  f.clflush = (w.leaf1_edx & kEdxClflush) != 0;
  f.sse2 = (w.leaf1_edx & kEdxSse2) != 0;
  const uint64_t xcr0 = (w.leaf1_ecx & kEcxOsxsave) != 0 ? w.xcr0 : 0;
  const bool os_avx = (xcr0 & kXcr0SseAvx) == kXcr0SseAvx;
  const bool os_avx512 = (xcr0 & kXcr0Avx512) == kXcr0Avx512;
  f.avx = os_avx && (w.leaf1_ecx & kEcxAvx) != 0;
  if (w.has_leaf7) {
    f.avx2 = f.avx && (w.leaf7_ebx & kEbxAvx2) != 0;
    // With AVX2 too: GCC's avx512f target implies avx2, so the AVX-512 kernels may contain AVX2 encodings (a
    // hypervisor can offer AVX512F without AVX2, e.g. qemu -cpu host,-avx2; no real CPU does).
    f.avx512f = f.avx2 && os_avx512 && (w.leaf7_ebx & kEbxAvx512f) != 0;
    f.clflushopt = (w.leaf7_ebx & kEbxClflushopt) != 0;
    f.clwb = (w.leaf7_ebx & kEbxClwb) != 0;
    f.movdir64b = (w.leaf7_ecx & kEcxMovdir64b) != 0;
  }
  return f;
}

CpuFeatures DetectCpuFeatures() {
  CpuidWords w;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0, &eax, &ebx, &ecx, &edx) == 0) return CpuFeatures();
  std::memcpy(w.vendor, &ebx, 4);
  std::memcpy(w.vendor + 4, &edx, 4);
  std::memcpy(w.vendor + 8, &ecx, 4);
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return CpuFeatures();
  w.leaf1_eax = eax;
  w.leaf1_ecx = ecx;
  w.leaf1_edx = edx;
  if ((ecx & kEcxOsxsave) != 0) w.xcr0 = ReadXcr0();
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) != 0) {
    w.has_leaf7 = true;
    w.leaf7_ebx = ebx;
    w.leaf7_ecx = ecx;
  }
  return DecodeCpuFeatures(w);
}

namespace {
internal::ForkSafeLazy<CpuFeatures> process_features;  // fork-safe (fork_safe_lazy.h)
}  // namespace

const CpuFeatures& ProcessCpuFeatures() {
  return process_features.Get([] { return std::make_unique<CpuFeatures>(DetectCpuFeatures()); });
}

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
