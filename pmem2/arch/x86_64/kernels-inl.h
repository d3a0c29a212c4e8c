// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/kernels-inl.h
// -----------------------------------------------------------------------------
//
// The copy and fill kernels, written once as templates over a primitives policy `P` and compiled once per ISA.
// This file has no include guard ON PURPOSE: each ISA's translation unit includes it inside its own namespace
// and PMEM2_BEGIN_TARGET region (sse2_kernels.cc, avx_kernels.cc, avx512_kernels.cc), so every instantiation
// is a distinct entity compiled for exactly one instruction set (no ODR mixing of AVX and non-AVX copies). The
// tests include it once more with a recording policy that logs every store, flush and fence.
//
// Before including, the includer provides <cstddef>, <cstdint>, pmem2/arch/persist_ops.h and
// pmem2/arch/x86_64/flush.h. A policy `P` has static members:
//
//   V, kVec             the widest vector type and its size (16, 32 or 64; a line is 64 / kVec vectors)
//   Load(p) Store(p, v) unaligned vector load / ordinary store
//   StoreNt(p, v)       non-temporal store, `p` aligned to kVec
//   Splat(byte)         vector with every byte = byte
//   V16, Load16, Store16, Splat16        the same at 16 bytes
//   V32, Load32, Store32, Splat32        the same at 32 bytes; only policies with kVec == 64 need them (the
//                                        33-64 byte size class of the small copies and fills)
//   Load8/4/2/1, Store8/4/2/1            scalar loads and ordinary stores (uint64_t ... uint8_t)
//   StoreNt8, StoreNt4  non-temporal scalar stores (MOVNTI), any alignment
//   CopyWords(d, s, k), FillWords(d, w, k)  k 8-byte elements by REP MOVSQ / REP STOSQ, front to back
//   FlushLine(p)        write back the cache line containing p (a no-op where nothing needs flushing)
//   Fence()             the drain: SFENCE
//   NtThreshold()       copies of at least this many bytes default to non-temporal stores (cache-line tables)
//   ByteNtThreshold()   the same for the byte tables
//   NtCopyBatchFrom()   byte-table non-temporal copies of at least this many bytes (and of kNtCopyBatchFloor)
//                       load kNtCopyBatchLines lines before storing them (0: never)
//   CacheLineNtCopyBatchFrom()  the same for the cache-line tables (and kCacheLineNtCopyBatchFloor)
//   kNtCopyBatchLines   1 (no batches) or the lines the ISA's registers hold (kernel_table.h)
//   NearTemporalBelow() cache-line copies below this size to a destination near the thread's previous one use
//                       ordinary stores + write-back (0: off)
//   RecordDestination(d, n)  records [d, d + n) in the thread's destination history and returns whether d was
//                       near the previous destination (kernel_table.h)
//
// Store-width promise (pmem2_get_memcpy_fn(3)): when the destination and the length are both multiples of 8,
// every store is at least 8 bytes wide. The size classes below guarantee it: 1-7 byte stores only happen for
// lengths below 8 or for the unaligned head/tail of a destination that is not 8-aligned.
//
// Overlap: every step loads all the bytes it will store before storing any of them, and the steps run front
// to back when the destination starts below the source and back to front otherwise, so no step reads a byte
// that an earlier step overwrote. That is all memmove needs.

namespace kernels {

using ::pmem2::arch::x86_64::kCacheLine;

inline constexpr size_t kSmall = ::pmem2::arch::x86_64::kSmallCopy;  // one load-all-then-store step

// The same loop as FlushLines() in flush.h, on purpose: this one is compiled inside each ISA's target region
// and calls the policy's FlushLine (a recording one in tests); FlushLines, compiled for the baseline target,
// cannot inline an AVX-region function (GCC: "target specific option mismatch").
template <class P>
__attribute__((always_inline)) inline void FlushRange(const char* d, size_t n) {
  if (n == 0) return;
  const uintptr_t end = reinterpret_cast<uintptr_t>(d) + n;
  for (uintptr_t p = reinterpret_cast<uintptr_t>(d) & ~uintptr_t{kCacheLine - 1}; p < end; p += kCacheLine) {
    P::FlushLine(reinterpret_cast<const void*>(p));
  }
}

// Copies n <= kSmall bytes; every load precedes every store, so any overlap is fine.
template <class P>
__attribute__((always_inline)) inline void CopySmall(char* d, const char* s, size_t n) {
  if (n <= 16) {
    if (n >= 8) {
      const uint64_t a = P::Load8(s), b = P::Load8(s + n - 8);
      P::Store8(d, a);
      P::Store8(d + n - 8, b);
    } else if (n >= 4) {
      const uint32_t a = P::Load4(s), b = P::Load4(s + n - 4);
      P::Store4(d, a);
      P::Store4(d + n - 4, b);
    } else if (n >= 2) {
      const uint16_t a = P::Load2(s), b = P::Load2(s + n - 2);
      P::Store2(d, a);
      P::Store2(d + n - 2, b);
    } else if (n == 1) {
      P::Store1(d, P::Load1(s));
    }
    return;
  }
  if (n <= 32) {
    const auto a = P::Load16(s), b = P::Load16(s + n - 16);
    P::Store16(d, a);
    P::Store16(d + n - 16, b);
    return;
  }
  if constexpr (P::kVec == 64) {
    // One 32-byte pair for 33-64 bytes, one line-sized pair for 65-128.
    if (n <= 64) {
      const auto a = P::Load32(s), b = P::Load32(s + n - 32);
      P::Store32(d, a);
      P::Store32(d + n - 32, b);
      return;
    }
    const auto a = P::Load(s), b = P::Load(s + n - 64);
    P::Store(d, a);
    P::Store(d + n - 64, b);
  } else if constexpr (P::kVec == 32) {
    if (n <= 64) {
      const auto a = P::Load(s), b = P::Load(s + n - 32);
      P::Store(d, a);
      P::Store(d + n - 32, b);
      return;
    }
    const auto a = P::Load(s), b = P::Load(s + 32), c = P::Load(s + n - 64), e = P::Load(s + n - 32);
    P::Store(d, a);
    P::Store(d + 32, b);
    P::Store(d + n - 64, c);
    P::Store(d + n - 32, e);
  } else {
    if (n <= 64) {
      const auto a = P::Load(s), b = P::Load(s + 16), c = P::Load(s + n - 32), e = P::Load(s + n - 16);
      P::Store(d, a);
      P::Store(d + 16, b);
      P::Store(d + n - 32, c);
      P::Store(d + n - 16, e);
      return;
    }
    const auto a0 = P::Load(s), a1 = P::Load(s + 16), a2 = P::Load(s + 32), a3 = P::Load(s + 48);
    const auto b0 = P::Load(s + n - 64), b1 = P::Load(s + n - 48), b2 = P::Load(s + n - 32),
               b3 = P::Load(s + n - 16);
    P::Store(d, a0);
    P::Store(d + 16, a1);
    P::Store(d + 32, a2);
    P::Store(d + 48, a3);
    P::Store(d + n - 64, b0);
    P::Store(d + n - 48, b1);
    P::Store(d + n - 32, b2);
    P::Store(d + n - 16, b3);
  }
}

// One aligned destination line from an arbitrary source, ordinary or non-temporal stores.
template <class P, bool kNt>
__attribute__((always_inline)) inline void CopyLine(char* d, const char* s) {
  static_assert(P::kVec == 16 || P::kVec == 32 || P::kVec == 64, "a line is 4, 2 or 1 vectors");
  if constexpr (P::kVec == 64) {
    const auto a = P::Load(s);
    if constexpr (kNt) {
      P::StoreNt(d, a);
    } else {
      P::Store(d, a);
    }
  } else if constexpr (P::kVec == 32) {
    const auto a = P::Load(s), b = P::Load(s + 32);
    if constexpr (kNt) {
      P::StoreNt(d, a);
      P::StoreNt(d + 32, b);
    } else {
      P::Store(d, a);
      P::Store(d + 32, b);
    }
  } else {
    const auto a = P::Load(s), b = P::Load(s + 16), c = P::Load(s + 32), e = P::Load(s + 48);
    if constexpr (kNt) {
      P::StoreNt(d, a);
      P::StoreNt(d + 16, b);
      P::StoreNt(d + 32, c);
      P::StoreNt(d + 48, e);
    } else {
      P::Store(d, a);
      P::Store(d + 16, b);
      P::Store(d + 32, c);
      P::Store(d + 48, e);
    }
  }
}

// Copies a piece of one line (n < 64 bytes, not crossing a line boundary). With kNtPieces (the cache-line tables'
// non-temporal path, and the byte tables' for a copy below a line: CopyBelowLineNt) the piece goes out
// non-temporally too, with 8-byte MOVNTI stores (the last one overlapping) or two 4-byte ones for 4-7 bytes: even
// a partial line written that way is durable sooner than ordinary stores + CLWB (pmem2/arch/README.md).
// Overlapping non-temporal stores carry identical bytes, so their order does not matter. Pieces of 1-3 bytes, and
// every other path, use ordinary stores (+ flush).
template <class P, bool kNt, bool kFlush, bool kNtPieces = kNt && kFlush>
__attribute__((always_inline)) inline void CopyPiece(char* d, const char* s, size_t n) {
  static_assert(!kNtPieces || kNt, "non-temporal pieces only on a non-temporal path");
  if constexpr (kNtPieces) {
    if (n >= 8) {
      uint64_t w[kCacheLine / 8];
      const size_t whole = (n - 1) / 8;  // words before the last, overlapping one
      for (size_t i = 0; i < whole; ++i) w[i] = P::Load8(s + 8 * i);
      const uint64_t last = P::Load8(s + n - 8);
      for (size_t i = 0; i < whole; ++i) P::StoreNt8(d + 8 * i, w[i]);
      P::StoreNt8(d + n - 8, last);
      return;
    }
    if (n >= 4) {
      const uint32_t a = P::Load4(s), b = P::Load4(s + n - 4);
      P::StoreNt4(d, a);
      P::StoreNt4(d + n - 4, b);
      return;
    }
  }
  CopySmall<P>(d, s, n);
  if constexpr (kFlush) P::FlushLine(d);
}

// Two lines from s to d, ordinary stores, both loaded before either is stored (SSE2: a line at a time). The
// ordinary-store loops without a flush (CopyDisjoint, FillLinesInline) take two lines a step: on Intel family 6 model
// 167, in one process, a loop of one line a step took 1.9-2.5x the time of two lines a step at 512 B-2 KiB for zmm
// copies, and depending on where the loop sat in the binary up to 2.5x for ymm fills and 1.4x for zmm fills, for the
// same loads and stores; from 512 B two lines a step was never the slower (tools/bench/results/intel-6-167.md, "Two
// lines a step"). Where a loop sits decides whether it spans two 64-byte lines: a 4 KiB copy through this loop took
// 1.13-1.20x the time, and a fill 1.22-1.39x, in a build where its loop did ("Loops within a line"); the kernels' loops
// now start on a line (BUILD.bazel, KERNEL_COPTS).
template <class P>
__attribute__((always_inline)) inline void CopyTwoLines(char* d, const char* s) {
  // Named vectors, not an array: GCC 12 turned an array of ymm values into 16-byte moves through the stack.
  if constexpr (P::kVec == 64) {
    const auto a = P::Load(s), b = P::Load(s + 64);
    P::Store(d, a);
    P::Store(d + 64, b);
  } else if constexpr (P::kVec == 32) {
    const auto a = P::Load(s), b = P::Load(s + 32), c = P::Load(s + 64), e = P::Load(s + 96);
    P::Store(d, a);
    P::Store(d + 32, b);
    P::Store(d + 64, c);
    P::Store(d + 96, e);
  } else {
    CopyLine<P, false>(d, s);
    CopyLine<P, false>(d + kCacheLine, s + kCacheLine);
  }
}

// n in (kSmall, 256]: the first 128 bytes and the last 128 (the bytes they share written twice, with the same values),
// every vector loaded before any is stored, as in CopySmall: no loop, and no load after one of its own stores (a store
// at the same offset in another 4 KiB page can hold a load up; not measured apart). SSE2, with 16 vector registers: two
// halves. On Intel 6/167 the loop this replaces (the lines between the head and the tail one a step) took 5.3-5.5 ns
// at 256 B in one build and 6.9-8.3 in another that only moved it (kernels_benchmark, the byte table); this 5.4-5.7.
// In loops alone, 0.3-0.4 ns more than that loop at 160 B (two stores across a line where it has one), -0.1 to +0.25
// at 192 B, 0.4-0.5 ns less at 256 B ("Two lines a step").
template <class P>
__attribute__((always_inline)) inline void CopyUpToFourLines(char* d, const char* s, size_t n) {
  static_assert(kSmall >= 2 * kCacheLine, "n > kSmall: the last 128 bytes start at or after d");
  char* const de = d + n - 2 * kCacheLine;
  const char* const se = s + n - 2 * kCacheLine;
  if constexpr (P::kVec == 64) {
    const auto a = P::Load(s), b = P::Load(s + 64), c = P::Load(se), e = P::Load(se + 64);
    P::Store(d, a);
    P::Store(d + 64, b);
    P::Store(de, c);
    P::Store(de + 64, e);
  } else if constexpr (P::kVec == 32) {
    const auto a0 = P::Load(s), a1 = P::Load(s + 32), a2 = P::Load(s + 64), a3 = P::Load(s + 96);
    const auto b0 = P::Load(se), b1 = P::Load(se + 32), b2 = P::Load(se + 64), b3 = P::Load(se + 96);
    P::Store(d, a0);
    P::Store(d + 32, a1);
    P::Store(d + 64, a2);
    P::Store(d + 96, a3);
    P::Store(de, b0);
    P::Store(de + 32, b1);
    P::Store(de + 64, b2);
    P::Store(de + 96, b3);
  } else {
    CopyTwoLines<P>(d, s);
    CopyTwoLines<P>(de, se);
  }
}

// Copy of n > kSmall bytes between ranges that do not overlap, with ordinary stores and no flush. Up to 256 B:
// CopyUpToFourLines. Above, the first and last 64 bytes are loaded up front and stored unaligned at the end, the
// whole lines between them aligned, an odd one first and then two a step. Fewer branches than the head/tail size
// classes, which is what the byte tables' medium sizes need.
template <class P>
__attribute__((always_inline)) inline void CopyDisjoint(char* d, const char* s, size_t n) {
  if (n <= 4 * kCacheLine) {
    CopyUpToFourLines<P>(d, s, n);
    return;
  }
  constexpr size_t kPerLine = kCacheLine / P::kVec;
  typename P::V head[kPerLine], tail[kPerLine];
  // Unrolled, SSE2's four vectors a line stay in registers; as loops GCC kept them on the stack.
#pragma GCC unroll 4
  for (size_t i = 0; i < kPerLine; ++i) {
    head[i] = P::Load(s + i * P::kVec);
    tail[i] = P::Load(s + n - kCacheLine + i * P::kVec);
  }
  const size_t skip = kCacheLine - (reinterpret_cast<uintptr_t>(d) & (kCacheLine - 1));
  char* dl = d + skip;
  const char* sl = s + skip;
  char* const last = d + n - kCacheLine;
  // At least three lines start in [dl, last) (n > 256, skip <= 64); the last may run into the tail's bytes.
  const size_t lines = (static_cast<size_t>(last - dl) + kCacheLine - 1) / kCacheLine;
  if (lines % 2 != 0) {
    CopyLine<P, false>(dl, sl);
    dl += kCacheLine;
    sl += kCacheLine;
  }
  do {  // at least one pair left; a do-while, entered at its top, is what -falign-loops aligns (BUILD.bazel)
    CopyTwoLines<P>(dl, sl);
    dl += 2 * kCacheLine;
    sl += 2 * kCacheLine;
  } while (dl < last);
#pragma GCC unroll 4
  for (size_t i = 0; i < kPerLine; ++i) {
    P::Store(d + n - kCacheLine + i * P::kVec, tail[i]);
    P::Store(d + i * P::kVec, head[i]);
  }
}

// CopyPiece's non-temporal pieces for ranges that do not overlap: each word is loaded just before it is stored,
// which needs two registers where loading every word first needs eight (see MemmoveNt). The stores are
// CopyPiece's, in its order; kFlush as CopyPiece's (the flush of a 1-3 byte piece).
template <class P, bool kFlush>
__attribute__((always_inline)) inline void CopyPieceNtDisjoint(char* d, const char* s, size_t n) {
  if (n >= 8) {
    const uint64_t last = P::Load8(s + n - 8);
    for (size_t i = 0; i + 8 < n; i += 8) P::StoreNt8(d + i, P::Load8(s + i));
    P::StoreNt8(d + n - 8, last);
    return;
  }
  CopyPiece<P, true, kFlush, true>(d, s, n);
}

// Whether a copy or fill has a partial first or last line (`n` its bytes). On the cache-line tables' non-temporal path
// (kNtFlush: kNt && kFlush) GCC is told it does not, so that it lays the pieces' code out after the function's return:
// on Zen 5 a hot non-temporal stream of 1 KiB took 20-30 ns longer (140-170 ns against 125-135, in 7-10 of 10
// processes) while its piece code, never executed for a whole-line copy, sat on the fall-through path of the branches
// around the stream, and the same bytes with that code moved after the `ret` did not (tools/bench/results/amd-26-2.md,
// "Code the stream never runs"). A partial line then costs a taken jump (hot records of 8-32 B, all piece: new / old
// 0.87-1.03, within the drift). The byte tables' non-temporal path (page copies on far lines, streams) keeps the usual
// layout: there an A/B of the page lane showed nothing to weigh against that jump (rows whose code it left alone moved
// as much).
template <bool kNtFlush>
__attribute__((always_inline)) inline bool PartialLine(size_t n) {
  if constexpr (kNtFlush) {
    return __builtin_expect(n != 0, 0);
  } else {
    return n != 0;
  }
}

// CopyLines' front-to-back half, for a destination that does not start inside the source range; kDisjoint: nor
// does the source start inside the destination range (non-temporal with flush only).
template <class P, bool kNt, bool kFlush, bool kDisjoint = false>
__attribute__((always_inline)) inline void CopyLinesForward(char* d, const char* s, size_t n) {
  static_assert(!kDisjoint || (kNt && kFlush), "CopyPieceNtDisjoint is the non-temporal path's");
  const auto piece = [](char* pd, const char* ps, size_t pn) __attribute__((always_inline)) {
    if constexpr (kDisjoint) {
      CopyPieceNtDisjoint<P, kFlush>(pd, ps, pn);
    } else {
      CopyPiece<P, kNt, kFlush>(pd, ps, pn);
    }
  };
  size_t head = (0 - reinterpret_cast<uintptr_t>(d)) & (kCacheLine - 1);
  if (head > n) head = n;  // the whole range sits inside one line
  if (PartialLine<kNt && kFlush>(head)) {
    piece(d, s, head);
    d += head;
    s += head;
    n -= head;
  }
  for (; n >= kCacheLine; n -= kCacheLine, d += kCacheLine, s += kCacheLine) {
    CopyLine<P, kNt>(d, s);
    if constexpr (kFlush && !kNt) P::FlushLine(d);
  }
  if (PartialLine<kNt && kFlush>(n)) piece(d, s, n);
}

// Line-by-line copy. Whole lines use non-temporal stores if kNt; partial first/last lines go through
// CopyPiece. With kFlush every line written with ordinary stores is flushed right after it
// is complete, so write-back overlaps the rest of the copy. Never inlined: its vector spills would give the
// small-copy fast paths a stack frame.
template <class P, bool kNt, bool kFlush>
__attribute__((noinline)) void CopyLines(char* d, const char* s, size_t n) {
  if constexpr (!kNt && !kFlush) {
    if (reinterpret_cast<uintptr_t>(d) - reinterpret_cast<uintptr_t>(s) >= n &&
        reinterpret_cast<uintptr_t>(s) - reinterpret_cast<uintptr_t>(d) >= n && n > kSmall) {
      CopyDisjoint<P>(d, s, n);
      return;
    }
  }
  if (reinterpret_cast<uintptr_t>(d) - reinterpret_cast<uintptr_t>(s) >= n) {
    CopyLinesForward<P, kNt, kFlush>(d, s, n);
  } else {
    char* de = d + n;
    const char* se = s + n;
    size_t tail = reinterpret_cast<uintptr_t>(de) & (kCacheLine - 1);
    if (tail > n) tail = n;  // the whole range sits inside one line
    if (PartialLine<kNt && kFlush>(tail)) {
      de -= tail;
      se -= tail;
      n -= tail;
      CopyPiece<P, kNt, kFlush>(de, se, tail);
    }
    if (n >= kCacheLine) {
      do {  // entered at its top, so that -falign-loops aligns it (BUILD.bazel); GCC's `for` jumped to its test
        de -= kCacheLine;
        se -= kCacheLine;
        CopyLine<P, kNt>(de, se);
        if constexpr (kFlush && !kNt) P::FlushLine(de);
        n -= kCacheLine;
      } while (n >= kCacheLine);
    }
    if (PartialLine<kNt && kFlush>(n)) CopyPiece<P, kNt, kFlush>(d, s, n);
  }
}

// Ordinary stores, then (kFlush) every touched line written back.
template <class P, bool kFlush>
__attribute__((always_inline)) inline void CopyTemporal(char* d, const char* s, size_t n) {
  if (n <= kSmall) {
    CopySmall<P>(d, s, n);
    if constexpr (kFlush) FlushRange<P>(d, n);
  } else {
    CopyLines<P, false, kFlush>(d, s, n);
  }
}

inline bool WantsNt(unsigned flags, size_t n, size_t threshold) {
  if ((flags & (kMemNonTemporal | kMemWc)) != 0) return true;
  if ((flags & (kMemTemporal | kMemWb)) != 0) return false;
  return n >= threshold;
}

// Fills n <= kSmall bytes with overlapping stores.
template <class P>
__attribute__((always_inline)) inline void FillSmall(char* d, unsigned char c, size_t n) {
  if (n <= 16) {
    const uint64_t w = 0x0101010101010101ull * c;
    if (n >= 8) {
      P::Store8(d, w);
      P::Store8(d + n - 8, w);
    } else if (n >= 4) {
      P::Store4(d, static_cast<uint32_t>(w));
      P::Store4(d + n - 4, static_cast<uint32_t>(w));
    } else if (n >= 2) {
      P::Store2(d, static_cast<uint16_t>(w));
      P::Store2(d + n - 2, static_cast<uint16_t>(w));
    } else if (n == 1) {
      P::Store1(d, c);
    }
    return;
  }
  if (n <= 32) {
    const auto v = P::Splat16(c);
    P::Store16(d, v);
    P::Store16(d + n - 16, v);
    return;
  }
  if constexpr (P::kVec == 64) {
    if (n <= 64) {
      const auto h = P::Splat32(c);
      P::Store32(d, h);
      P::Store32(d + n - 32, h);
      return;
    }
    const auto v = P::Splat(c);
    P::Store(d, v);
    P::Store(d + n - 64, v);
    return;
  }
  const auto v = P::Splat(c);
  if constexpr (P::kVec == 32) {
    P::Store(d, v);
    P::Store(d + n - 32, v);
    if (n > 64) {
      P::Store(d + 32, v);
      P::Store(d + n - 64, v);
    }
  } else {
    P::Store(d, v);
    P::Store(d + 16, v);
    P::Store(d + n - 32, v);
    P::Store(d + n - 16, v);
    if (n > 64) {
      P::Store(d + 32, v);
      P::Store(d + 48, v);
      P::Store(d + n - 64, v);
      P::Store(d + n - 48, v);
    }
  }
}

// FillSmall for a piece of one line, non-temporal where CopyPiece would be.
template <class P, bool kNt, bool kFlush, bool kNtPieces = kNt && kFlush>
__attribute__((always_inline)) inline void FillPiece(char* d, unsigned char c, size_t n) {
  static_assert(!kNtPieces || kNt, "non-temporal pieces only on a non-temporal path");
  if constexpr (kNtPieces) {
    const uint64_t w = 0x0101010101010101ull * c;
    if (n >= 8) {
      for (size_t i = 0; i + 8 < n; i += 8) P::StoreNt8(d + i, w);
      P::StoreNt8(d + n - 8, w);
      return;
    }
    if (n >= 4) {
      P::StoreNt4(d, static_cast<uint32_t>(w));
      P::StoreNt4(d + n - 4, static_cast<uint32_t>(w));
      return;
    }
  }
  FillSmall<P>(d, c, n);
  if constexpr (kFlush) P::FlushLine(d);
}

template <class P, bool kNt>
__attribute__((always_inline)) inline void FillLine(char* d, typename P::V v) {
  for (size_t i = 0; i < kCacheLine; i += P::kVec) {
    if constexpr (kNt) {
      P::StoreNt(d + i, v);
    } else {
      P::Store(d + i, v);
    }
  }
}

template <class P, bool kNt, bool kFlush>
__attribute__((always_inline)) inline void FillLinesInline(char* d, unsigned char c, size_t n) {
  size_t head = (0 - reinterpret_cast<uintptr_t>(d)) & (kCacheLine - 1);
  if (head > n) head = n;
  if (PartialLine<kNt && kFlush>(head)) {
    FillPiece<P, kNt, kFlush>(d, c, head);
    d += head;
    n -= head;
  }
  const auto v = P::Splat(c);
  if constexpr (!kNt && !kFlush) {
    for (; n >= 2 * kCacheLine; n -= 2 * kCacheLine, d += 2 * kCacheLine) {  // two a step, as CopyTwoLines
      FillLine<P, false>(d, v);
      FillLine<P, false>(d + kCacheLine, v);
    }
  }
  // At most one line left here on the path above.
  if (n >= kCacheLine) {
    do {  // as in CopyLines
      FillLine<P, kNt>(d, v);
      if constexpr (kFlush && !kNt) P::FlushLine(d);
      n -= kCacheLine;
      d += kCacheLine;
    } while (n >= kCacheLine);
  }
  if (PartialLine<kNt && kFlush>(n)) FillPiece<P, kNt, kFlush>(d, c, n);
}

template <class P, bool kNt, bool kFlush>
__attribute__((noinline)) void FillLines(char* d, unsigned char c, size_t n) {
  FillLinesInline<P, kNt, kFlush>(d, c, n);
}

template <class P, bool kFlush>
__attribute__((always_inline)) inline void FillTemporal(char* d, unsigned char c, size_t n) {
  if (n <= kSmall) {
    FillSmall<P>(d, c, n);
    if constexpr (kFlush) FlushRange<P>(d, n);
  } else {
    FillLines<P, false, kFlush>(d, c, n);
  }
}

// Pattern-aware small copies: where a CPU kind's measurements show ordinary stores + write-back beating
// non-temporal stores for a line that is cached or being prefetched, and losing for a cold one (Intel Emerald
// Rapids: 15-28 % either way at 64-256 B, ../shared/reference/perf-anchors-emr.md), the thread's destination
// history picks between them. True if this call of `n` bytes should take the ordinary-store path for that
// reason. Records the destination on every call while the history is on, so it follows the thread's writes;
// costs one relaxed load and a branch while it is off.
template <class P>
__attribute__((always_inline)) inline bool NearAndSmall(const char* d, size_t n) {
  const size_t below = P::NearTemporalBelow();
  if (__builtin_expect(below == 0, 1)) return false;
  const bool near = P::RecordDestination(d, n);
  return near && n < below;
}

// The non-temporal path as functions of their own, with and without the drain, that the entry points tail-call (kFlush:
// the cache-line tables, whose partial lines must be written back or stored non-temporally too; without it: the byte
// tables, where ordinary stores suffice for them, except in a copy of less than a line: CopyBelowLineNt). A copy
// between ranges that do not overlap, and every fill, run there without a callee-saved register, so nothing stored on
// the stack before the stream of non-temporal stores is loaded back after it: on Zen 5, four registers pushed before
// such a stream and popped after it cost 8-21 % at random cold 1.5-3 KiB, where pushing and popping them before it, or
// storing to the stack without loading back, cost nothing (tools/bench/results/amd-26-2.md, "Registers saved around the
// stream"); nt_stream_registers_test disassembles every instantiation built as -c opt builds it. The cache-line entry
// points set up no frame at all (their ordinary-store path is MemmoveCacheLineTemporal / MemsetCacheLineTemporal);
// MemmoveByteLarge / MemsetByteLarge restore their saved registers before the jump. Overlapping copies keep CopyLines.
template <class P, bool kFlush, bool kDrain>
__attribute__((noinline)) void* MemmoveNtOverlapping(void* dst, const void* src, size_t n) {
  CopyLines<P, true, kFlush>(static_cast<char*>(dst), static_cast<const char*>(src), n);
  if constexpr (kDrain) P::Fence();
  return dst;
}

// The byte tables' non-temporal path for a copy or fill of less than a line (one piece, or two where it crosses
// a line boundary): its pieces go out non-temporally, as on the cache-line tables, without their flush of a 1-3
// byte piece. A page copy asks for that on a far line (the Zen 5 row from 8 B: records of 8-56 B on random lines
// took a median 0.90 (0.73-1.08) of the time with MOVNTI + msync that ordinary stores + msync took, which must
// first read the line; tools/bench/results/amd-26-2.md, "Page records smaller than a line"); a caller's
// PMEM2_F_MEM_NONTEMPORAL gets the same on every CPU. Larger copies keep ordinary stores for their partial lines.
// Ranges that do not overlap only (CopyPieceNtDisjoint, so that MemmoveNt saves no register around its stream).
template <class P>
__attribute__((always_inline)) inline void CopyBelowLineNt(char* d, const char* s, size_t n) {
  size_t head = (0 - reinterpret_cast<uintptr_t>(d)) & (kCacheLine - 1);
  if (head == 0 || head > n) head = n;
  CopyPieceNtDisjoint<P, false>(d, s, head);
  if (n > head) CopyPieceNtDisjoint<P, false>(d + head, s + head, n - head);
}

template <class P>
__attribute__((always_inline)) inline void FillBelowLineNt(char* d, unsigned char c, size_t n) {
  size_t head = (0 - reinterpret_cast<uintptr_t>(d)) & (kCacheLine - 1);
  if (head == 0 || head > n) head = n;
  FillPiece<P, true, false, true>(d, c, head);
  if (n > head) FillPiece<P, true, false, true>(d + head, c, n - head);
}

// The batch size of a table (kFlush: the cache-line tables, else the byte tables, which page copies use) and its floor.
// The cache-line tables batch from a smaller size: on Intel 6/167, with a source as cold as the destination, cache-line
// 8 KiB copies took 6-9 % less time batched (three of four pairs), where page copies of 4-8 KiB took 9-18 % more (the
// byte tables' copy, then msync; tools/bench/results/intel-6-167.md, "Batches of the cache-line tables from 8 KiB").
template <class P, bool kFlush>
__attribute__((always_inline)) inline size_t NtCopyBatchFromFor() {
  return kFlush ? P::CacheLineNtCopyBatchFrom() : P::NtCopyBatchFrom();
}
template <bool kFlush>
inline constexpr size_t kNtCopyBatchFloorFor = kFlush ? kCacheLineNtCopyBatchFloor : kNtCopyBatchFloor;

// A non-temporal copy of at least its table's floor between ranges that do not overlap, where the selection
// batches (NtCopyBatchFromFor != 0; only policies with kNtCopyBatchLines > 1 come here). From that size it loads
// kNtCopyBatchLines whole lines (AVX-512: 32, 2 KiB) before it stores them, where the usual loop loads and stores one
// line at a time: on Intel family 6 model 167, with the page tables and the source cold (as in a run of every size
// and pattern), pmem2's 64 MiB copies took 11-16 % less time in batches than the one-line loop beside them, which is
// how libpmem2 copies (it had been 12-16 % ahead there); with a source as cold as the destination (tools/bench's move
// pattern), 16-128 KiB copies took 6-18 % less time in batches, and with a cached source 16 KiB-2 MiB were within
// the noise of the one-line loop (tools/bench/results/intel-6-167.md, "Copies in batches of 32 lines" and "Copies
// from a cold source"). Otherwise the same stores in the same order as MemmoveNt's. Unlike MemmoveNt it saves two
// registers and lays its partial lines' code before its `ret` (nt_stream_registers_test exempts it): a few
// nanoseconds, against 0.5 us or more of stores, measured with them.
template <class P, bool kFlush, bool kDrain>
__attribute__((noinline)) void* MemmoveNtLarge(void* dst, const void* src, size_t n) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  const size_t from = NtCopyBatchFromFor<P, kFlush>();  // read again: a test may install another selection meanwhile
  if (from != 0 && n >= from) {
    const size_t head = (0 - reinterpret_cast<uintptr_t>(d)) & (kCacheLine - 1);
    if (head != 0) {
      CopyLinesForward<P, true, kFlush, kFlush>(d, s, head);  // the partial first line, as below
      d += head;
      s += head;
      n -= head;
    }
    constexpr size_t kBatch = P::kNtCopyBatchLines * kCacheLine, kVectors = kBatch / P::kVec;
    for (; n >= kBatch; n -= kBatch, d += kBatch, s += kBatch) {
      typename P::V v[kVectors];
#pragma GCC unroll 128
      for (size_t i = 0; i < kVectors; ++i) v[i] = P::Load(s + i * P::kVec);
#pragma GCC unroll 128
      for (size_t i = 0; i < kVectors; ++i) P::StoreNt(d + i * P::kVec, v[i]);
    }
  }
  CopyLinesForward<P, true, kFlush, kFlush>(d, s, n);
  if constexpr (kDrain) P::Fence();
  return dst;
}

template <class P, bool kFlush, bool kDrain>
__attribute__((noinline)) void* MemmoveNt(void* dst, const void* src, size_t n) {
  const uintptr_t d = reinterpret_cast<uintptr_t>(dst), s = reinterpret_cast<uintptr_t>(src);
  if (d - s < n || s - d < n) return MemmoveNtOverlapping<P, kFlush, kDrain>(dst, src, n);
  if constexpr (P::kNtCopyBatchLines > 1) {
    if (__builtin_expect(n >= kNtCopyBatchFloorFor<kFlush>, 0) && NtCopyBatchFromFor<P, kFlush>() != 0) {
      return MemmoveNtLarge<P, kFlush, kDrain>(dst, src, n);
    }
  }
  if (!kFlush && n < kCacheLine) {
    CopyBelowLineNt<P>(static_cast<char*>(dst), static_cast<const char*>(src), n);
  } else {
    CopyLinesForward<P, true, kFlush, kFlush>(static_cast<char*>(dst), static_cast<const char*>(src), n);
  }
  if constexpr (kDrain) P::Fence();
  return dst;
}

template <class P, bool kFlush, bool kDrain>
__attribute__((noinline)) void* MemsetNt(void* dst, int c, size_t n) {
  if (!kFlush && n < kCacheLine) {
    FillBelowLineNt<P>(static_cast<char*>(dst), static_cast<unsigned char>(c), n);
  } else {
    FillLinesInline<P, true, kFlush>(static_cast<char*>(dst), static_cast<unsigned char>(c), n);
  }
  if constexpr (kDrain) P::Fence();
  return dst;
}

// The entry points' way into them: the instantiation with the drain unless the flags say kMemNoDrain.
template <class P, bool kFlush>
__attribute__((always_inline)) inline void* MemmoveNtPerFlags(void* dst, const void* src, size_t n, unsigned flags) {
  return (flags & kMemNoDrain) != 0 ? MemmoveNt<P, kFlush, false>(dst, src, n)
                                     : MemmoveNt<P, kFlush, true>(dst, src, n);
}

template <class P, bool kFlush>
__attribute__((always_inline)) inline void* MemsetNtPerFlags(void* dst, int c, size_t n, unsigned flags) {
  return (flags & kMemNoDrain) != 0 ? MemsetNt<P, kFlush, false>(dst, c, n) : MemsetNt<P, kFlush, true>(dst, c, n);
}

// --- Entry points (the PersistOps signatures) ---------------------------------------------------------------

// The ordinary-store half of MemmoveCacheLine and kMemNoFlush, a function of its own so that the entry point needs no
// frame: the calls to CopyLines here keep values across them, and a frame set up on entry (on every path: GCC puts the
// prologue first) would be set up and torn down before every non-temporal stream too (push, stack realignment,
// restore). Fewer instructions on every non-temporal call, by construction; measured neutral on Zen 5
// (tools/bench/results/amd-26-2.md, "The cache-line entry without a frame").
template <class P>
__attribute__((noinline)) void* MemmoveCacheLineTemporal(void* dst, const void* src, size_t len, unsigned flags,
                                                          bool near_and_small) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  if ((flags & kMemNoFlush) != 0) {
    CopyTemporal<P, false>(d, s, len);
    return dst;
  }
  if (near_and_small && len > kSmall) {
    // Every store first, then the write-backs: on a cached line that beats a write-back after each line
    // (perf-anchors-emr.md section 3).
    CopyLines<P, false, false>(d, s, len);
    FlushRange<P>(d, len);
  } else {
    CopyTemporal<P, true>(d, s, len);
  }
  if ((flags & kMemNoDrain) == 0) P::Fence();
  return dst;
}

// Cache-line granularity: every written line is flushed or written non-temporally, then one fence.
// kAllowNt = false is PMEM_NO_MOVNT=1: the non-temporal hints are ignored.
template <class P, bool kAllowNt>
void* MemmoveCacheLine(void* dst, const void* src, size_t len, unsigned flags) {
  const bool near_and_small = NearAndSmall<P>(static_cast<char*>(dst), len);
  // The caller's flags decide first (kMemNoFlush: ordinary stores, nothing written back); a near small destination
  // counts as below the threshold.
  if (kAllowNt && (flags & kMemNoFlush) == 0 && WantsNt(flags, len, near_and_small ? ~size_t{0} : P::NtThreshold())) {
    return MemmoveNtPerFlags<P, true>(dst, src, len, flags);
  }
  return MemmoveCacheLineTemporal<P>(dst, src, len, flags, near_and_small);
}

// The ordinary-store half of MemsetCacheLine and kMemNoFlush (see MemmoveCacheLineTemporal).
template <class P>
__attribute__((noinline)) void* MemsetCacheLineTemporal(void* dst, int c, size_t len, unsigned flags,
                                                         bool near_and_small) {
  char* d = static_cast<char*>(dst);
  const auto byte = static_cast<unsigned char>(c);
  if ((flags & kMemNoFlush) != 0) {
    FillTemporal<P, false>(d, byte, len);
    return dst;
  }
  if (near_and_small && len > kSmall) {
    FillLines<P, false, false>(d, byte, len);
    FlushRange<P>(d, len);
  } else {
    FillTemporal<P, true>(d, byte, len);
  }
  if ((flags & kMemNoDrain) == 0) P::Fence();
  return dst;
}

template <class P, bool kAllowNt>
void* MemsetCacheLine(void* dst, int c, size_t len, unsigned flags) {
  const bool near_and_small = NearAndSmall<P>(static_cast<char*>(dst), len);
  if (kAllowNt && (flags & kMemNoFlush) == 0 && WantsNt(flags, len, near_and_small ? ~size_t{0} : P::NtThreshold())) {
    return MemsetNtPerFlags<P, true>(dst, c, len, flags);
  }
  return MemsetCacheLineTemporal<P>(dst, c, len, flags, near_and_small);
}

// Byte granularity: nothing to flush. Copies up to kSmall bytes without a non-temporal hint take one branch into
// straight-line code; the rest is a tail call, so the fast path needs no stack frame. Non-temporal stores only pay off
// once the copy spills the caches (ByteNtThreshold), or when asked for. NOFLUSH keeps to ordinary stores as on the
// cache-line tables: the caller means to persist the range later.
template <class P, bool kAllowNt>
__attribute__((noinline)) void* MemmoveByteLarge(void* dst, const void* src, size_t len, unsigned flags) {
  if (kAllowNt && (flags & kMemNoFlush) == 0 && WantsNt(flags, len, P::ByteNtThreshold())) {
    return MemmoveNtPerFlags<P, false>(dst, src, len, flags);
  }
  CopyLines<P, false, false>(static_cast<char*>(dst), static_cast<const char*>(src), len);
  if ((flags & (kMemNoDrain | kMemNoFlush)) == 0) P::Fence();
  return dst;
}

// A caller's non-temporal hint also takes the long way for small sizes (page copies ask for it on a cold line).
inline bool ByteTakesLongPath(size_t len, unsigned flags) {
  return (len > kSmall) | ((flags & (kMemNonTemporal | kMemWc)) != 0);
}

template <class P, bool kAllowNt>
void* MemmoveByte(void* dst, const void* src, size_t len, unsigned flags) {
  if (__builtin_expect(ByteTakesLongPath(len, flags), 0)) return MemmoveByteLarge<P, kAllowNt>(dst, src, len, flags);
  CopySmall<P>(static_cast<char*>(dst), static_cast<const char*>(src), len);
  if ((flags & (kMemNoDrain | kMemNoFlush)) == 0) P::Fence();
  return dst;
}

template <class P, bool kAllowNt>
__attribute__((noinline)) void* MemsetByteLarge(void* dst, int c, size_t len, unsigned flags) {
  if (kAllowNt && (flags & kMemNoFlush) == 0 && WantsNt(flags, len, P::ByteNtThreshold())) {
    return MemsetNtPerFlags<P, false>(dst, c, len, flags);
  }
  FillLines<P, false, false>(static_cast<char*>(dst), static_cast<unsigned char>(c), len);
  if ((flags & (kMemNoDrain | kMemNoFlush)) == 0) P::Fence();
  return dst;
}

template <class P, bool kAllowNt>
void* MemsetByte(void* dst, int c, size_t len, unsigned flags) {
  if (__builtin_expect(ByteTakesLongPath(len, flags), 0)) return MemsetByteLarge<P, kAllowNt>(dst, c, len, flags);
  FillSmall<P>(static_cast<char*>(dst), static_cast<unsigned char>(c), len);
  if ((flags & (kMemNoDrain | kMemNoFlush)) == 0) P::Fence();
  return dst;
}

// String instructions for the page copies' rewrites, on the CPU kinds whose row asks for them (x86_64/ops.cc: Intel
// family 6 model 167, from 128 KiB up to the row's non-temporal threshold on a rewrite): there REP MOVSQ wrote the same
// buffer again, msync after it, in 0.90-0.98 of the time of this file's vector loop at 128 KiB-1 MiB, and REP STOSQ
// filled it in 0.93-0.97 at 1.5-2 MiB and 0.95-1.08 elsewhere (tools/bench/results/intel-6-167.md, "String
// instructions for a buffer written again, built"). Ordinary stores, nothing written back: the byte tables' temporal
// path by another instruction. 8-byte elements, so an aligned 8-byte field is written whole
// (ScalarPrimitives::CopyWords); the destination's 1-7 bytes before its first 8-byte boundary and after its last go
// out as CopySmall / FillSmall pieces. Copies whose source is not 8-aligned where the destination is take
// CopyTemporal's vector loop: there REP MOVSQ took 1.14-1.43x its time at 128 KiB-1 MiB, where a source and a
// destination misaligned alike cost nothing (the same section). Ranges that overlap take it too: a forward string copy
// is right only where the destination starts below the source, and a backward one is not a fast string.
template <class P>
__attribute__((noinline)) void* MemmoveString(void* dst, const void* src, size_t n, unsigned flags) {
  char* d = static_cast<char*>(dst);
  const char* s = static_cast<const char*>(src);
  const uintptr_t du = reinterpret_cast<uintptr_t>(d), su = reinterpret_cast<uintptr_t>(s);
  if (du - su < n || su - du < n || ((du ^ su) & 7) != 0) {
    CopyTemporal<P, false>(d, s, n);
  } else {
    size_t head = (0 - du) & 7;
    if (head > n) head = n;
    CopySmall<P>(d, s, head);
    const size_t words = (n - head) / 8;
    P::CopyWords(d + head, s + head, words);
    const size_t done = head + 8 * words;
    CopySmall<P>(d + done, s + done, n - done);
  }
  if ((flags & (kMemNoDrain | kMemNoFlush)) == 0) P::Fence();
  return dst;
}

template <class P>
__attribute__((noinline)) void* MemsetString(void* dst, int c, size_t n, unsigned flags) {
  char* d = static_cast<char*>(dst);
  const auto byte = static_cast<unsigned char>(c);
  size_t head = (0 - reinterpret_cast<uintptr_t>(d)) & 7;
  if (head > n) head = n;
  FillSmall<P>(d, byte, head);
  const size_t words = (n - head) / 8;
  P::FillWords(d + head, 0x0101010101010101ull * byte, words);
  const size_t done = head + 8 * words;
  FillSmall<P>(d + done, byte, n - done);
  if ((flags & (kMemNoDrain | kMemNoFlush)) == 0) P::Fence();
  return dst;
}

}  // namespace kernels
