// Copyright 2026 The pmem2 Authors.

#include "tools/bench/limit_kernels.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace pmem2 {
namespace bench {
namespace {

#if defined(__x86_64__)

struct Cpu {
  bool avx2 = false;
  bool clwb = false;
  bool clflushopt = false;
};

// CPUID leaf 7 plus the OS check that YMM state is enabled (XGETBV), as any AVX user must.
Cpu DetectCpu() {
  Cpu cpu;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return cpu;
  const bool osxsave = (c & bit_OSXSAVE) != 0;
  const bool avx = (c & bit_AVX) != 0;
  bool ymm_enabled = false;
  if (osxsave && avx) {
    unsigned lo, hi;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    ymm_enabled = (lo & 0x6) == 0x6;
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    cpu.avx2 = ymm_enabled && (b & bit_AVX2) != 0;
    cpu.clwb = (b & (1u << 24)) != 0;
    cpu.clflushopt = (b & (1u << 23)) != 0;
  }
  return cpu;
}

const Cpu& GetCpu() {
  static const Cpu cpu = DetectCpu();
  return cpu;
}

__attribute__((target("avx2"))) void NtCopyAvx2(char* d, const char* s, size_t len) {
  for (; len >= 128; len -= 128, d += 128, s += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 64));
    const __m256i e = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 96));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32), b);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 64), c);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 96), e);
  }
  if (len != 0) {  // one 64-byte line left
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32));
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), a);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32), b);
  }
  _mm_sfence();
}

__attribute__((target("avx2"))) void NtFillAvx2(char* d, int c, size_t len) {
  const __m256i v = _mm256_set1_epi8(static_cast<char>(c));
  for (; len >= 128; len -= 128, d += 128) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), v);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32), v);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 64), v);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 96), v);
  }
  if (len != 0) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d), v);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(d + 32), v);
  }
  _mm_sfence();
}

// SSE2 is part of x86-64: no target attribute needed.
void NtCopySse2(char* d, const char* s, size_t len) {
  for (; len >= 64; len -= 64, d += 64, s += 64) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
    const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
    const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), e);
  }
  _mm_sfence();
}

void NtFillSse2(char* d, int c, size_t len) {
  const __m128i v = _mm_set1_epi8(static_cast<char>(c));
  for (; len >= 64; len -= 64, d += 64) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), v);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), v);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), v);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), v);
  }
  _mm_sfence();
}

// Inline assembly needs no target attribute; the CPU check picks the instruction at run time.
template <int kKind>
void FlushLines(const void* ptr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + len;
  for (uintptr_t p = reinterpret_cast<uintptr_t>(ptr) & ~uintptr_t{63}; p < end; p += 64) {
    const char* line = reinterpret_cast<const char*>(p);
    if (kKind == 0) {
      __asm__ volatile("clwb (%0)" : : "r"(line) : "memory");
    } else if (kKind == 1) {
      __asm__ volatile("clflushopt (%0)" : : "r"(line) : "memory");
    } else {
      __asm__ volatile("clflush (%0)" : : "r"(line) : "memory");
    }
  }
  __asm__ volatile("sfence" : : : "memory");
}

#endif  // __x86_64__

}  // namespace

void* LimitMemcpy(void* dst, const void* src, size_t len, unsigned /*flags*/) {
#if defined(__x86_64__)
  if (GetCpu().avx2) {
    NtCopyAvx2(static_cast<char*>(dst), static_cast<const char*>(src), len);
  } else {
    NtCopySse2(static_cast<char*>(dst), static_cast<const char*>(src), len);
  }
#else
  std::memcpy(dst, src, len);
#endif
  return dst;
}

void* LimitMemset(void* dst, int c, size_t len, unsigned /*flags*/) {
#if defined(__x86_64__)
  if (GetCpu().avx2) {
    NtFillAvx2(static_cast<char*>(dst), c, len);
  } else {
    NtFillSse2(static_cast<char*>(dst), c, len);
  }
#else
  std::memset(dst, c, len);
#endif
  return dst;
}

void LimitPersistCacheLine(const void* ptr, size_t len) {
#if defined(__x86_64__)
  if (GetCpu().clwb) {
    FlushLines<0>(ptr, len);
  } else if (GetCpu().clflushopt) {
    FlushLines<1>(ptr, len);
  } else {
    FlushLines<2>(ptr, len);
  }
#else
  (void)ptr;
  (void)len;
#endif
}

void LimitPersistPage(const void* ptr, size_t len) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(ptr) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + len;
  msync(reinterpret_cast<void*>(start), end - start, MS_SYNC);
}

void* LimitMemcpyPage(void* dst, const void* src, size_t len, unsigned flags) {
  LimitMemcpy(dst, src, len, flags);
  LimitPersistPage(dst, len);
  return dst;
}

void* LimitMemsetPage(void* dst, int c, size_t len, unsigned flags) {
  LimitMemset(dst, c, len, flags);
  LimitPersistPage(dst, len);
  return dst;
}

const char* DescribeLimitKernels() {
#if defined(__x86_64__)
  const Cpu& cpu = GetCpu();
  if (cpu.avx2) {
    return cpu.clwb         ? "avx2 nt + sfence; clwb + sfence"
           : cpu.clflushopt ? "avx2 nt + sfence; clflushopt + sfence"
                            : "avx2 nt + sfence; clflush + sfence";
  }
  return cpu.clwb         ? "sse2 nt + sfence; clwb + sfence"
         : cpu.clflushopt ? "sse2 nt + sfence; clflushopt + sfence"
                          : "sse2 nt + sfence; clflush + sfence";
#else
  return "memcpy (no x86-64 limit kernels)";
#endif
}

}  // namespace bench
}  // namespace pmem2
