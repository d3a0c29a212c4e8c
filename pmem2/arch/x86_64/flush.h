// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/flush.h
// -----------------------------------------------------------------------------
//
// Single-line cache write-back instructions (each takes any address inside the line) and the store fence, as inline
// assembly so that no function needs a target attribute to use them (the assembler knows every mnemonic; the CPU
// check happens at selection).
// Each flush names the whole line as a memory input, which keeps the compiler from sinking earlier stores to
// that line below the flush, without the cost of a full "memory" clobber.

#ifndef PMEM2_ARCH_X86_64_FLUSH_H_
#define PMEM2_ARCH_X86_64_FLUSH_H_

#include <cstddef>
#include <cstdint>

namespace pmem2 {
namespace arch {
namespace x86_64 {

inline constexpr size_t kCacheLine = 64;

struct CacheLineBytes {
  char bytes[kCacheLine];
};

inline uintptr_t LineDown(uintptr_t p) { return p & ~(uintptr_t{kCacheLine} - 1); }

// The whole line containing `p`, as the memory operand of a flush.
inline const CacheLineBytes& LineAt(const void* p) {
  return *reinterpret_cast<const CacheLineBytes*>(LineDown(reinterpret_cast<uintptr_t>(p)));
}

__attribute__((always_inline)) inline void ClwbLine(const void* p) {
  __asm__ volatile("clwb %0" : : "m"(LineAt(p)));
}

__attribute__((always_inline)) inline void ClflushoptLine(const void* p) {
  __asm__ volatile("clflushopt %0" : : "m"(LineAt(p)));
}

__attribute__((always_inline)) inline void ClflushLine(const void* p) {
  __asm__ volatile("clflush %0" : : "m"(LineAt(p)));
}

// For tables whose stores need no write-back (byte granularity, PMEM_NO_FLUSH=1).
__attribute__((always_inline)) inline void NoFlushLine(const void*) {}

// Orders every earlier store, non-temporal store and CLWB/CLFLUSHOPT of this thread before later stores; with
// pmem this is the drain. The "memory" clobber also makes it a compiler barrier.
__attribute__((always_inline)) inline void Sfence() { __asm__ volatile("sfence" : : : "memory"); }

// Orders every earlier memory access, CLFLUSH included, before later ones. The drain after CLFLUSH: AMD's manual
// (APM vol. 3, CLFLUSH) orders CLFLUSH only with MFENCE - SFENCE, LFENCE and serializing instructions are not
// ordered with it - and Linux fences its own CLFLUSH loops with MFENCE. Intel's SDM orders CLFLUSH with writes
// and every fence, so MFENCE is right on both vendors. (CLFLUSHOPT and CLWB are ordered by SFENCE on both.)
__attribute__((always_inline)) inline void Mfence() { __asm__ volatile("mfence" : : : "memory"); }

// Which fence completes the write-backs of a flush instruction (and any non-temporal stores) before later stores.
enum class DrainFence { kSfence, kMfence };

// (A specialisation, not a comparison of function addresses: GCC does not take those as constant expressions
// under -fsanitize=undefined.)
template <void (*Line)(const void*)>
inline constexpr DrainFence kDrainFenceFor = DrainFence::kSfence;
template <>
inline constexpr DrainFence kDrainFenceFor<ClflushLine> = DrainFence::kMfence;

template <DrainFence kFence>
__attribute__((always_inline)) inline void Drain() {
  if constexpr (kFence == DrainFence::kMfence) {
    Mfence();
  } else {
    Sfence();
  }
}

// The drain that goes with `Line`.
template <void (*Line)(const void*)>
__attribute__((always_inline)) inline void DrainAfter() {
  Drain<kDrainFenceFor<Line>>();
}

// Applies `FlushLine` to every cache line that [addr, addr + len) touches.
template <void (*FlushLine)(const void*)>
__attribute__((always_inline)) inline void FlushLines(const void* addr, size_t len) {
  if (len == 0) return;
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = LineDown(reinterpret_cast<uintptr_t>(addr)); p < end; p += kCacheLine) {
    FlushLine(reinterpret_cast<const void*>(p));
  }
}

// What Flush and Persist below execute per line and for the drain. A test passes a policy that records instead
// (flush_test.cc), so that it checks these very functions, the fence kDrainFenceFor<Line> picks included.
struct FlushInstructions {
  template <void (*Line)(const void*)>
  __attribute__((always_inline)) static void WriteBack(const void* p) {
    Line(p);
  }
  template <DrainFence kFence>
  __attribute__((always_inline)) static void Fence() {
    Drain<kFence>();
  }
};

// A cache-line table's flush_fn for `Line` (ops.cc): the write-backs without the drain.
template <void (*Line)(const void*), class Issue = FlushInstructions>
void Flush(const void* addr, size_t len) {
  FlushLines<Issue::template WriteBack<Line>>(addr, len);
}

// A cache-line table's persist_fn for `Line`, and CLFLUSH's deep-flush write-back (ops.cc): ends with the one fence
// that orders `Line`, even for an empty range (as libpmem2's).
template <void (*Line)(const void*), class Issue = FlushInstructions>
void Persist(const void* addr, size_t len) {
  FlushLines<Issue::template WriteBack<Line>>(addr, len);
  Issue::template Fence<kDrainFenceFor<Line>>();
}

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_X86_64_FLUSH_H_
