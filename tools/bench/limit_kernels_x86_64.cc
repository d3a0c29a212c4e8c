// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels_x86_64.cc
// -----------------------------------------------------------------------------
//
// The limit's x86-64 kernels (selected in BUILD): NT copy/fill with AVX2 or SSE2, and CLWB / CLFLUSHOPT / CLFLUSH
// per line, chosen with the CPU features pmem2's engine detects (pmem2/arch/x86_64/cpu_features.h). Per-function
// target attributes only, no -m flags.

#include <immintrin.h>

#include <cstdint>

#include "pmem2/arch/x86_64/cpu_features.h"
#include "tools/bench/limit_kernels.h"

namespace pmem2 {
namespace bench {
namespace {

using arch::x86_64::CpuFeatures;
using arch::x86_64::ProcessCpuFeatures;

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

enum class WriteBack { kClwb, kClflushopt, kClflush };

// The best write-back instruction this CPU has: what LimitPersistCacheLine runs and DescribeLimitKernels names.
WriteBack ChosenWriteBack() {
  const CpuFeatures& cpu = ProcessCpuFeatures();
  return cpu.clwb ? WriteBack::kClwb : cpu.clflushopt ? WriteBack::kClflushopt : WriteBack::kClflush;
}

// Inline assembly needs no target attribute; ChosenWriteBack() picks the instruction at run time.
template <WriteBack kKind>
void FlushLines(const void* ptr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + len;
  for (uintptr_t p = reinterpret_cast<uintptr_t>(ptr) & ~uintptr_t{63}; p < end; p += 64) {
    const char* line = reinterpret_cast<const char*>(p);
    if (kKind == WriteBack::kClwb) {
      __asm__ volatile("clwb (%0)" : : "r"(line) : "memory");
    } else if (kKind == WriteBack::kClflushopt) {
      __asm__ volatile("clflushopt (%0)" : : "r"(line) : "memory");
    } else {
      __asm__ volatile("clflush (%0)" : : "r"(line) : "memory");
    }
  }
  __asm__ volatile("sfence" : : : "memory");
}

}  // namespace

void* LimitMemcpy(void* dst, const void* src, size_t len, unsigned /*flags*/) {
  if (ProcessCpuFeatures().avx2) {
    NtCopyAvx2(static_cast<char*>(dst), static_cast<const char*>(src), len);
  } else {
    NtCopySse2(static_cast<char*>(dst), static_cast<const char*>(src), len);
  }
  return dst;
}

void* LimitMemset(void* dst, int c, size_t len, unsigned /*flags*/) {
  if (ProcessCpuFeatures().avx2) {
    NtFillAvx2(static_cast<char*>(dst), c, len);
  } else {
    NtFillSse2(static_cast<char*>(dst), c, len);
  }
  return dst;
}

void LimitPersistCacheLine(const void* ptr, size_t len) {
  switch (ChosenWriteBack()) {
    case WriteBack::kClwb: return FlushLines<WriteBack::kClwb>(ptr, len);
    case WriteBack::kClflushopt: return FlushLines<WriteBack::kClflushopt>(ptr, len);
    case WriteBack::kClflush: return FlushLines<WriteBack::kClflush>(ptr, len);
  }
}

const char* DescribeLimitKernels() {
  const bool avx2 = ProcessCpuFeatures().avx2;
  switch (ChosenWriteBack()) {
    case WriteBack::kClwb: return avx2 ? "avx2 nt + sfence; clwb + sfence" : "sse2 nt + sfence; clwb + sfence";
    case WriteBack::kClflushopt:
      return avx2 ? "avx2 nt + sfence; clflushopt + sfence" : "sse2 nt + sfence; clflushopt + sfence";
    case WriteBack::kClflush: break;
  }
  return avx2 ? "avx2 nt + sfence; clflush + sfence" : "sse2 nt + sfence; clflush + sfence";
}

}  // namespace bench
}  // namespace pmem2
