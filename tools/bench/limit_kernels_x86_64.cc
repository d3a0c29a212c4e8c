// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels_x86_64.cc
// -----------------------------------------------------------------------------
//
// The limit's x86-64 kernels (selected in BUILD): NT copy/fill with AVX2 or SSE2, CLWB / CLFLUSHOPT / CLFLUSH
// per line, and the cache-line strategies of limit_kernels.h (temporal stores + write-back in both orders,
// MOVDIR64B), chosen with the CPU features pmem2's engine detects (pmem2/arch/x86_64/cpu_features.h).
// Per-function target attributes only, no -m flags.

#include <immintrin.h>

#include <cstdint>
#include <vector>

#include "pmem2/arch/x86_64/cpu_features.h"
#include "tools/bench/limit_kernels.h"

namespace pmem2 {
namespace bench {
namespace {

using arch::x86_64::CpuFeatures;
using arch::x86_64::ProcessCpuFeatures;

// A record below a line (len a multiple of 8 below 64, 8-byte aligned, perhaps across into the next line): 8-byte
// MOVNTIs, none of which crosses a line, the one non-temporal store a piece of a line can take, for every non-temporal
// strategy (nt, nt-avx512, nt-avx512-batch, movdir64b: MOVDIR64B writes whole lines only); SFENCE.
void SubLineNtCopy(char* d, const char* s, size_t len) {
  for (size_t off = 0; off < len; off += 8) {
    long long v;
    __builtin_memcpy(&v, s + off, 8);
    _mm_stream_si64(reinterpret_cast<long long*>(d + off), v);
  }
  _mm_sfence();
}

void SubLineNtFill(char* d, int c, size_t len) {
  const long long v = static_cast<long long>(0x0101010101010101ull * static_cast<unsigned char>(c));
  for (size_t off = 0; off < len; off += 8) _mm_stream_si64(reinterpret_cast<long long*>(d + off), v);
  _mm_sfence();
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

// One 64-byte VMOVNTDQ per line, with the libpmem2 signatures. On Intel family 6 model 167 it wrote cold lines
// 0-8 % (sequential) and 8-24 % (random) faster than two 32-byte ones from 16 KiB up and tied on hot ones
// (tools/bench/results/intel-6-167.md), so the limit has it where the CPU and the OS support AVX-512.
__attribute__((target("avx512f"))) void* Avx512NtCopy(void* dst, const void* src, size_t len, unsigned /*flags*/) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  if (len < 64) {
    SubLineNtCopy(d, s, len);
    return dst;
  }
  for (; len >= 64; len -= 64, d += 64, s += 64) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), _mm512_loadu_si512(s));
  }
  _mm_sfence();
  return dst;
}

// nt-avx512 in batches: 32 lines (2 KiB) loaded into zmm0-31, then stored, as libpmem2's AVX-512 copy does and
// pmem2's from a size per CPU kind (pmem2/arch/x86_64/ops.cc). On Intel family 6 model 167, with the page tables and
// the source cold, 64 MiB took 5-21 % less time so than one line at a time (tools/bench/results/intel-6-167.md,
// "Copies in batches of 32 lines").
__attribute__((target("avx512f"))) void* Avx512NtCopyBatches(void* dst, const void* src, size_t len,
                                                             unsigned /*flags*/) {
  constexpr size_t kLines = 32;
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  if (len < 64) {
    SubLineNtCopy(d, s, len);
    return dst;
  }
  for (; len >= kLines * 64; len -= kLines * 64, d += kLines * 64, s += kLines * 64) {
    __m512i v[kLines];
#pragma GCC unroll 32
    for (size_t i = 0; i < kLines; ++i) v[i] = _mm512_loadu_si512(s + 64 * i);
#pragma GCC unroll 32
    for (size_t i = 0; i < kLines; ++i) _mm512_stream_si512(reinterpret_cast<__m512i*>(d + 64 * i), v[i]);
  }
  for (; len >= 64; len -= 64, d += 64, s += 64) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), _mm512_loadu_si512(s));
  }
  _mm_sfence();
  return dst;
}

__attribute__((target("avx512f"))) void* Avx512NtFill(void* dst, int c, size_t len, unsigned /*flags*/) {
  if (len < 64) {
    SubLineNtFill(static_cast<char*>(dst), c, len);
    return dst;
  }
  const __m512i v = _mm512_set1_epi8(static_cast<char>(c));
  for (char* d = static_cast<char*>(dst); len >= 64; len -= 64, d += 64) {
    _mm512_stream_si512(reinterpret_cast<__m512i*>(d), v);
  }
  _mm_sfence();
  return dst;
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

// Inline assembly needs no target attribute; ChosenWriteBack() picks the instruction at run time. The "memory"
// clobber keeps the compiler from moving stores across the write-back.
template <WriteBack kKind>
inline void FlushLine(const char* line) {
  if (kKind == WriteBack::kClwb) {
    __asm__ volatile("clwb (%0)" : : "r"(line) : "memory");
  } else if (kKind == WriteBack::kClflushopt) {
    __asm__ volatile("clflushopt (%0)" : : "r"(line) : "memory");
  } else {
    __asm__ volatile("clflush (%0)" : : "r"(line) : "memory");
  }
}

// CLWB and CLFLUSHOPT are ordered by SFENCE on both vendors; AMD orders CLFLUSH only with MFENCE (and Linux
// fences its CLFLUSH loops with MFENCE), as pmem2's engine does.
template <WriteBack kKind>
inline void Drain() {
  if (kKind == WriteBack::kClflush) {
    __asm__ volatile("mfence" : : : "memory");
  } else {
    __asm__ volatile("sfence" : : : "memory");
  }
}

template <WriteBack kKind>
void FlushLines(const void* ptr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + len;
  for (uintptr_t p = reinterpret_cast<uintptr_t>(ptr) & ~uintptr_t{63}; p < end; p += 64) {
    FlushLine<kKind>(reinterpret_cast<const char*>(p));
  }
  Drain<kKind>();
}

// The temporal-store strategies: every 64-byte line written with ordinary vector stores, and written back either
// right after its stores (kPerLine) or all lines after all stores. `line(d, s)` stores one line.
__attribute__((target("avx2"))) inline void CopyLineAvx2(char* d, const char* s) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s));
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + 32));
  _mm256_store_si256(reinterpret_cast<__m256i*>(d), a);
  _mm256_store_si256(reinterpret_cast<__m256i*>(d + 32), b);
}

__attribute__((target("avx2"))) inline void FillLineAvx2(char* d, __m256i v) {
  _mm256_store_si256(reinterpret_cast<__m256i*>(d), v);
  _mm256_store_si256(reinterpret_cast<__m256i*>(d + 32), v);
}

inline void CopyLineSse2(char* d, const char* s) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
  const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
  const __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
  _mm_store_si128(reinterpret_cast<__m128i*>(d), a);
  _mm_store_si128(reinterpret_cast<__m128i*>(d + 16), b);
  _mm_store_si128(reinterpret_cast<__m128i*>(d + 32), c);
  _mm_store_si128(reinterpret_cast<__m128i*>(d + 48), e);
}

inline void FillLineSse2(char* d, __m128i v) {
  _mm_store_si128(reinterpret_cast<__m128i*>(d), v);
  _mm_store_si128(reinterpret_cast<__m128i*>(d + 16), v);
  _mm_store_si128(reinterpret_cast<__m128i*>(d + 32), v);
  _mm_store_si128(reinterpret_cast<__m128i*>(d + 48), v);
}

template <WriteBack kKind, bool kPerLine>
__attribute__((target("avx2"))) void StoreCopyAvx2(char* d, const char* s, size_t len) {
  for (size_t off = 0; off < len; off += 64) {
    CopyLineAvx2(d + off, s + off);
    if (kPerLine) FlushLine<kKind>(d + off);
  }
  if (!kPerLine) {
    for (size_t off = 0; off < len; off += 64) FlushLine<kKind>(d + off);
  }
  Drain<kKind>();
}

template <WriteBack kKind, bool kPerLine>
__attribute__((target("avx2"))) void StoreFillAvx2(char* d, int c, size_t len) {
  const __m256i v = _mm256_set1_epi8(static_cast<char>(c));
  for (size_t off = 0; off < len; off += 64) {
    FillLineAvx2(d + off, v);
    if (kPerLine) FlushLine<kKind>(d + off);
  }
  if (!kPerLine) {
    for (size_t off = 0; off < len; off += 64) FlushLine<kKind>(d + off);
  }
  Drain<kKind>();
}

template <WriteBack kKind, bool kPerLine>
void StoreCopySse2(char* d, const char* s, size_t len) {
  for (size_t off = 0; off < len; off += 64) {
    CopyLineSse2(d + off, s + off);
    if (kPerLine) FlushLine<kKind>(d + off);
  }
  if (!kPerLine) {
    for (size_t off = 0; off < len; off += 64) FlushLine<kKind>(d + off);
  }
  Drain<kKind>();
}

template <WriteBack kKind, bool kPerLine>
void StoreFillSse2(char* d, int c, size_t len) {
  const __m128i v = _mm_set1_epi8(static_cast<char>(c));
  for (size_t off = 0; off < len; off += 64) {
    FillLineSse2(d + off, v);
    if (kPerLine) FlushLine<kKind>(d + off);
  }
  if (!kPerLine) {
    for (size_t off = 0; off < len; off += 64) FlushLine<kKind>(d + off);
  }
  Drain<kKind>();
}

// The write-back of a record below a line: its line, and the next one when the record crosses into it (a packed
// log, timing.h's seq pattern).
template <WriteBack kKind>
void FlushRecord(const char* d, size_t len) {
  const LineSpan lines = LinesOf(reinterpret_cast<uintptr_t>(d), len);
  for (size_t i = 0; i < lines.count; ++i) FlushLine<kKind>(reinterpret_cast<const char*>(lines.first + 64 * i));
}

// A record below a line: 8-byte ordinary stores, then the write-back of its one or two lines (per line or after
// all stores: the same for so few).
template <WriteBack kKind>
void SubLineStoreCopy(char* d, const char* s, size_t len) {
  for (size_t off = 0; off < len; off += 8) __builtin_memcpy(d + off, s + off, 8);
  FlushRecord<kKind>(d, len);
  Drain<kKind>();
}

template <WriteBack kKind>
void SubLineStoreFill(char* d, int c, size_t len) {
  const uint64_t v = 0x0101010101010101ull * static_cast<unsigned char>(c);
  for (size_t off = 0; off < len; off += 8) __builtin_memcpy(d + off, &v, 8);
  FlushRecord<kKind>(d, len);
  Drain<kKind>();
}

// With the libpmem2 signatures, AVX2 or SSE2 stores as the CPU allows.
template <WriteBack kKind, bool kPerLine>
void* StoreCopy(void* dst, const void* src, size_t len, unsigned /*flags*/) {
  if (len < 64) {
    SubLineStoreCopy<kKind>(static_cast<char*>(dst), static_cast<const char*>(src), len);
  } else if (ProcessCpuFeatures().avx2) {
    StoreCopyAvx2<kKind, kPerLine>(static_cast<char*>(dst), static_cast<const char*>(src), len);
  } else {
    StoreCopySse2<kKind, kPerLine>(static_cast<char*>(dst), static_cast<const char*>(src), len);
  }
  return dst;
}

template <WriteBack kKind, bool kPerLine>
void* StoreFill(void* dst, int c, size_t len, unsigned /*flags*/) {
  if (len < 64) {
    SubLineStoreFill<kKind>(static_cast<char*>(dst), c, len);
  } else if (ProcessCpuFeatures().avx2) {
    StoreFillAvx2<kKind, kPerLine>(static_cast<char*>(dst), c, len);
  } else {
    StoreFillSse2<kKind, kPerLine>(static_cast<char*>(dst), c, len);
  }
  return dst;
}

// MOVDIR64B: a 64-byte direct store per line (the destination must be 64-byte aligned; the source need not be),
// weakly ordered: SFENCE makes the lines durable in order with what follows. Inline assembly, so no target
// attribute; only offered where CPUID reports it.
inline void Movdir64b(char* d, const char* s) { __asm__ volatile("movdir64b (%1), %0" : : "r"(d), "r"(s) : "memory"); }

void* Movdir64bCopy(void* dst, const void* src, size_t len, unsigned /*flags*/) {
  char* const d = static_cast<char*>(dst);
  const char* const s = static_cast<const char*>(src);
  if (len < 64) {
    SubLineNtCopy(d, s, len);
    return dst;
  }
  for (size_t off = 0; off < len; off += 64) Movdir64b(d + off, s + off);
  __asm__ volatile("sfence" : : : "memory");
  return dst;
}

void* Movdir64bFill(void* dst, int c, size_t len, unsigned /*flags*/) {
  if (len < 64) {
    SubLineNtFill(static_cast<char*>(dst), c, len);
    return dst;
  }
  alignas(64) char line[64];
  __builtin_memset(line, c, sizeof line);
  char* const d = static_cast<char*>(dst);
  for (size_t off = 0; off < len; off += 64) Movdir64b(d + off, line);
  __asm__ volatile("sfence" : : : "memory");
  return dst;
}

std::vector<LimitStrategy> MakeCacheLineStrategies() {
  const CpuFeatures& cpu = ProcessCpuFeatures();
  std::vector<LimitStrategy> out = {{"nt", LimitMemcpy, LimitMemset}};
  if (cpu.avx512f) {
    out.push_back({"nt-avx512", Avx512NtCopy, Avx512NtFill});
    out.push_back({"nt-avx512-batch", Avx512NtCopyBatches, nullptr});  // a fill has nothing to load
  }
  if (cpu.clwb) {
    out.push_back({"store+clwb", StoreCopy<WriteBack::kClwb, true>, StoreFill<WriteBack::kClwb, true>});
    out.push_back({"store-all+clwb", StoreCopy<WriteBack::kClwb, false>, StoreFill<WriteBack::kClwb, false>});
  }
  if (cpu.clflushopt) {
    out.push_back(
        {"store+clflushopt", StoreCopy<WriteBack::kClflushopt, true>, StoreFill<WriteBack::kClflushopt, true>});
    out.push_back(
        {"store-all+clflushopt", StoreCopy<WriteBack::kClflushopt, false>, StoreFill<WriteBack::kClflushopt, false>});
  }
  if (!cpu.clwb && !cpu.clflushopt) {
    out.push_back({"store+clflush", StoreCopy<WriteBack::kClflush, true>, StoreFill<WriteBack::kClflush, true>});
    out.push_back({"store-all+clflush", StoreCopy<WriteBack::kClflush, false>, StoreFill<WriteBack::kClflush, false>});
  }
  if (cpu.movdir64b) out.push_back({"movdir64b", Movdir64bCopy, Movdir64bFill});
  return out;
}

}  // namespace

void* LimitMemcpy(void* dst, const void* src, size_t len, unsigned /*flags*/) {
  if (len < 64) {
    SubLineNtCopy(static_cast<char*>(dst), static_cast<const char*>(src), len);
  } else if (ProcessCpuFeatures().avx2) {
    NtCopyAvx2(static_cast<char*>(dst), static_cast<const char*>(src), len);
  } else {
    NtCopySse2(static_cast<char*>(dst), static_cast<const char*>(src), len);
  }
  return dst;
}

void* LimitMemset(void* dst, int c, size_t len, unsigned /*flags*/) {
  if (len < 64) {
    SubLineNtFill(static_cast<char*>(dst), c, len);
  } else if (ProcessCpuFeatures().avx2) {
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
  return avx2 ? "avx2 nt + sfence; clflush + mfence" : "sse2 nt + sfence; clflush + mfence";
}

const std::vector<LimitStrategy>& CacheLineLimitStrategies() {
  static const std::vector<LimitStrategy>* const strategies = new std::vector<LimitStrategy>(MakeCacheLineStrategies());
  return *strategies;
}

}  // namespace bench
}  // namespace pmem2
