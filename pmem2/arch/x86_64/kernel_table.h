// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/kernel_table.h
// -----------------------------------------------------------------------------
//
// What each ISA's translation unit exports: its instantiated memmove/memset kernels, indexed by flush
// instruction and by whether non-temporal stores are allowed, plus the non-temporal thresholds the kernels
// read. Only ops.cc (selection) and the tests look at this.

#ifndef PMEM2_ARCH_X86_64_KERNEL_TABLE_H_
#define PMEM2_ARCH_X86_64_KERNEL_TABLE_H_

#include <emmintrin.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "pmem2/arch/destination_history.h"
#include "pmem2/arch/persist_ops.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {

enum class FlushKind { kClwb = 0, kClflushopt = 1, kClflush = 2 };
inline constexpr int kFlushKinds = 3;

struct MemKernels {
  MemmoveFn memmove;
  MemsetFn memset;
};

struct IsaKernels {
  const char* name;                      // "sse2", "avx", "avx512"
  MemKernels cache_line[kFlushKinds][2];  // [FlushKind][non-temporal allowed]
  MemKernels byte[2];                    // [non-temporal allowed]
  // REP MOVSQ / REP STOSQ with this ISA's pieces and fallback (kernels-inl.h, MemmoveString): the page copies' rewrites
  // on the CPU kinds whose row asks for them (ops.cc); no flush, as the byte tables.
  MemKernels string;
};

const IsaKernels& Sse2Kernels();
const IsaKernels& AvxKernels();
const IsaKernels& Avx512Kernels();  // only with CpuFeatures::avx512f (CPU and OS)

// Copies and fills up to this size are one load-all-then-store step (kernels-inl.h); the destination history
// (below) can change a cache-line copy only below min(threshold, kSmallCopy + 1) and from there up.
inline constexpr size_t kSmallCopy = 128;

// Copies of at least this many bytes default to non-temporal stores. Written when a selection becomes
// current, read (relaxed: a plain load) by every kernel call.
extern std::atomic<size_t> cache_line_nt_threshold;
extern std::atomic<size_t> byte_nt_threshold;
// Cache-line copies and fills below this many bytes whose destination is near the calling thread's previous one
// use ordinary stores + write-back instead of non-temporal stores; 0 turns the destination history off (the
// kernels then never read it). Written and read like the thresholds above.
extern std::atomic<size_t> cache_line_near_temporal_below;

// Non-temporal copies of at least this many bytes between ranges that do not overlap load kNtCopyBatchLines lines of
// the source before storing them, where the ISA's policy has registers for that (AVX-512: 32 lines in zmm0-31); 0:
// never. One size for the byte tables (and so the page copies, which use them) and one for the cache-line tables,
// from the CPU kind's row in ops.cc (Intel family 6 models 167 and 207: 16 KiB and 8 KiB). Written and read like the
// thresholds above, but read only by copies of at least their table's floor (the AVX-512 kernels' smaller ones pay
// one compare with a constant, the others nothing), so a row sets 0 or a size from that floor.
extern std::atomic<size_t> nt_copy_batch_from;
extern std::atomic<size_t> cache_line_nt_copy_batch_from;
inline constexpr size_t kNtCopyBatchFloor = size_t{16} << 10;
inline constexpr size_t kCacheLineNtCopyBatchFloor = size_t{8} << 10;
inline constexpr size_t kAvx512NtCopyBatchLines = 32;  // zmm0-31

// The destination history behind that choice (pmem2/arch/destination_history.h): per thread, the last cache
// line the cache-line kernels wrote. `__thread` rather than `thread_local`: a trivially initialised
// variable needs no TLS wrapper call; initial-exec makes the access an %fs-relative load (plus a GOT load of the
// offset inside libpmem2.so) instead of a __tls_get_addr call. The price: the shared object is marked
// DF_STATIC_TLS, so a dlopen() of it takes its 16 bytes from glibc's static TLS reserve (pmem2/c's
// dlopen_test shows that it loads and copies after threads exist).
extern __thread uintptr_t last_destination_line __attribute__((tls_model("initial-exec")));


// The ISA-neutral part of every real primitives policy (see kernels-inl.h). Fixed-size memcpy compiles to one
// load or store of that width, which is what the store-width promise needs.
struct ScalarPrimitives {
  template <class T>
  __attribute__((always_inline)) static T LoadAs(const void* p) {
    T v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  template <class T>
  __attribute__((always_inline)) static void StoreAs(void* p, T v) {
    std::memcpy(p, &v, sizeof(v));
  }
  __attribute__((always_inline)) static uint64_t Load8(const void* p) { return LoadAs<uint64_t>(p); }
  __attribute__((always_inline)) static uint32_t Load4(const void* p) { return LoadAs<uint32_t>(p); }
  __attribute__((always_inline)) static uint16_t Load2(const void* p) { return LoadAs<uint16_t>(p); }
  __attribute__((always_inline)) static uint8_t Load1(const void* p) { return LoadAs<uint8_t>(p); }
  __attribute__((always_inline)) static void Store8(void* p, uint64_t v) { StoreAs(p, v); }
  __attribute__((always_inline)) static void Store4(void* p, uint32_t v) { StoreAs(p, v); }
  __attribute__((always_inline)) static void Store2(void* p, uint16_t v) { StoreAs(p, v); }
  __attribute__((always_inline)) static void Store1(void* p, uint8_t v) { StoreAs(p, v); }
  // 16-byte moves for heads and tails, the same for every ISA level: SSE2 is part of x86-64. Inlined into an
  // AVX kernel they are VEX-encoded like the rest of it.
  using V16 = __m128i;
  __attribute__((always_inline)) static V16 Load16(const void* p) {
    return _mm_loadu_si128(static_cast<const V16*>(p));
  }
  __attribute__((always_inline)) static void Store16(void* p, V16 v) { _mm_storeu_si128(static_cast<V16*>(p), v); }
  __attribute__((always_inline)) static V16 Splat16(unsigned char c) { return _mm_set1_epi8(static_cast<char>(c)); }
  // REP MOVSQ / REP STOSQ: `words` 8-byte elements from `d` up (the ABI keeps the direction flag clear on entry).
  // Intel's SDM makes each element of a string store that lies within one cache line (every 8-aligned one) an atomic
  // store of its native size, fast strings included (vol. 1 7.3.9.3, vol. 3A "Fast-String Operation and Out-of-Order
  // Stores"): the store-width promise holds for an 8-aligned `d`. AMD's manual says nothing of a string store's
  // elements, so only Intel rows choose these (ops.cc).
  __attribute__((always_inline)) static void CopyWords(void* d, const void* s, size_t words) {
    __asm__ volatile("rep movsq" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
  }
  __attribute__((always_inline)) static void FillWords(void* d, uint64_t w, size_t words) {
    __asm__ volatile("rep stosq" : "+D"(d), "+c"(words) : "a"(w) : "memory");
  }
  // MOVNTI is part of SSE2, which every x86-64 CPU has.
  __attribute__((always_inline)) static void StoreNt8(void* p, uint64_t v) {
    _mm_stream_si64(static_cast<long long*>(p), static_cast<long long>(v));
  }
  __attribute__((always_inline)) static void StoreNt4(void* p, uint32_t v) {
    _mm_stream_si32(static_cast<int*>(p), static_cast<int>(v));
  }

  __attribute__((always_inline)) static size_t NtThreshold() {
    return cache_line_nt_threshold.load(std::memory_order_relaxed);
  }
  __attribute__((always_inline)) static size_t ByteNtThreshold() {
    return byte_nt_threshold.load(std::memory_order_relaxed);
  }
  __attribute__((always_inline)) static size_t NtCopyBatchFrom() {
    return nt_copy_batch_from.load(std::memory_order_relaxed);
  }
  __attribute__((always_inline)) static size_t CacheLineNtCopyBatchFrom() {
    return cache_line_nt_copy_batch_from.load(std::memory_order_relaxed);
  }
  // Lines a batched non-temporal copy loads before it stores them: 1 (no batches) unless an ISA's policy has the
  // registers for more.
  static constexpr size_t kNtCopyBatchLines = 1;
  __attribute__((always_inline)) static size_t NearTemporalBelow() {
    return cache_line_near_temporal_below.load(std::memory_order_relaxed);
  }
  __attribute__((always_inline)) static bool RecordDestination(const void* d, size_t n) {
    return ::pmem2::arch::RecordDestination(&last_destination_line, d, n);
  }
};

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_X86_64_KERNEL_TABLE_H_
