// Copyright 2026 The pmem2 Authors.
//
// The recording seam: kernels-inl.h instantiated a third time, over a policy that performs every store itself
// and logs it together with every flush and fence. From the log the tests prove the persistence contract
// rather than just the bytes:
//
//   * cache-line tables: each destination line's last ordinary store is followed by a flush of that line,
//     and every flush and non-temporal store comes before the single final fence;
//   * NODRAIN: no fence; NOFLUSH: no flush, no fence, no non-temporal store;
//   * byte tables: never a flush; below a line with the non-temporal hint, non-temporal stores as above; from a
//     line, on their non-temporal path (the hint, or the threshold past the small-copy step), every whole line
//     written non-temporally;
//   * off the non-temporal path (below the threshold, TEMPORAL, NOFLUSH): no non-temporal store at all;
//   * no store outside the destination; non-temporal vector stores aligned;
//   * destination and length multiples of 8 => no store narrower than 8 bytes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/arch/destination_history.h"
#include "pmem2/arch/page_copy.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/flush.h"
#include "pmem2/arch/x86_64/kernel_table.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace recording {
namespace {

struct Event {
  enum Kind { kStore, kNtStore, kFlush, kFence } kind;
  uintptr_t addr;
  size_t size;
};

std::vector<Event> events;
size_t nt_threshold = 64;
size_t byte_nt_threshold = 4096;
size_t near_temporal_below = 0;  // the pattern-aware small copies: off unless a test turns them on
size_t batch_from = 0;           // the byte table's non-temporal copies in batches of lines: off unless a test turns
size_t cache_line_batch_from = 0;  // them on; and the cache-line table's
size_t longest_load_run = 0;     // the most vector loads in a row, no store between them
size_t shortest_load_run = 0;    // the fewest vector loads in a row before a store, over runs of at least one
size_t load_run = 0;
size_t batch_loads = 0;  // a run of this many vector loads (a whole batch) counts in batches_loaded
size_t batches_loaded = 0;
uintptr_t case_dst = 0;          // the destination of CheckCase's last call
uintptr_t last_line = 0;         // the recording policy's destination history (production: per thread)
size_t string_words = 0;         // 8-byte elements of CopyWords / FillWords (REP MOVSQ / REP STOSQ in production)

void Record(Event::Kind kind, const void* p, size_t size) {
  events.push_back({kind, reinterpret_cast<uintptr_t>(p), size});
}

template <size_t N>
struct Bytes {
  unsigned char b[N];
};

// `kFence`: the drain fence the production tables pair with the flush instruction under test (kDrainFenceFor);
// a fence event records it in its size field (0 SFENCE, 1 MFENCE).
template <size_t kVecBytes, DrainFence kFence = DrainFence::kSfence>
struct RecordingPrimitives {
  using V = Bytes<kVecBytes>;
  using V16 = Bytes<16>;
  using V32 = Bytes<32>;
  static constexpr size_t kVec = kVecBytes;

  template <class T>
  static T LoadAs(const void* p) {
    T v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  template <class T>
  static void StoreAs(void* p, T v, Event::Kind kind = Event::kStore) {
    if (load_run != 0 && load_run == batch_loads) ++batches_loaded;
    if (load_run != 0) shortest_load_run = std::min(shortest_load_run, load_run);
    load_run = 0;
    Record(kind, p, sizeof(v));
    std::memcpy(p, &v, sizeof(v));
  }
  template <class T>
  static T SplatAs(unsigned char c) {
    T v;
    std::memset(&v, c, sizeof(v));
    return v;
  }

  static V Load(const void* p) {
    longest_load_run = std::max(longest_load_run, ++load_run);
    return LoadAs<V>(p);
  }
  static void Store(void* p, V v) { StoreAs(p, v); }
  static void StoreNt(void* p, V v) { StoreAs(p, v, Event::kNtStore); }
  static V Splat(unsigned char c) { return SplatAs<V>(c); }
  static V16 Load16(const void* p) { return LoadAs<V16>(p); }
  static void Store16(void* p, V16 v) { StoreAs(p, v); }
  static V16 Splat16(unsigned char c) { return SplatAs<V16>(c); }
  static V32 Load32(const void* p) { return LoadAs<V32>(p); }
  static void Store32(void* p, V32 v) { StoreAs(p, v); }
  static V32 Splat32(unsigned char c) { return SplatAs<V32>(c); }
  static uint64_t Load8(const void* p) { return LoadAs<uint64_t>(p); }
  static uint32_t Load4(const void* p) { return LoadAs<uint32_t>(p); }
  static uint16_t Load2(const void* p) { return LoadAs<uint16_t>(p); }
  static uint8_t Load1(const void* p) { return LoadAs<uint8_t>(p); }
  static void Store8(void* p, uint64_t v) { StoreAs(p, v); }
  static void Store4(void* p, uint32_t v) { StoreAs(p, v); }
  static void Store2(void* p, uint16_t v) { StoreAs(p, v); }
  static void Store1(void* p, uint8_t v) { StoreAs(p, v); }
  static void StoreNt8(void* p, uint64_t v) { StoreAs(p, v, Event::kNtStore); }
  // One 8-byte store per element, as REP MOVSQ / REP STOSQ make them (kernel_table.h).
  static void CopyWords(void* d, const void* s, size_t words) {
    for (size_t i = 0; i < words; ++i) {
      StoreAs(static_cast<char*>(d) + 8 * i, LoadAs<uint64_t>(static_cast<const char*>(s) + 8 * i));
    }
    string_words += words;
  }
  static void FillWords(void* d, uint64_t w, size_t words) {
    for (size_t i = 0; i < words; ++i) StoreAs(static_cast<char*>(d) + 8 * i, w);
    string_words += words;
  }
  static void StoreNt4(void* p, uint32_t v) { StoreAs(p, v, Event::kNtStore); }

  static void FlushLine(const void* p) { Record(Event::kFlush, p, 1); }
  static void Fence() { Record(Event::kFence, nullptr, static_cast<size_t>(kFence)); }
  static size_t NtThreshold() { return nt_threshold; }
  static size_t ByteNtThreshold() { return byte_nt_threshold; }
  static size_t NearTemporalBelow() { return near_temporal_below; }
  static size_t NtCopyBatchFrom() { return batch_from; }
  static size_t CacheLineNtCopyBatchFrom() { return cache_line_batch_from; }
  // The AVX-512 policy's batch (kernel_table.h), for every vector width here: the batch loop is the same code.
  static constexpr size_t kNtCopyBatchLines = kAvx512NtCopyBatchLines;
  static bool RecordDestination(const void* d, size_t n) {
    return ::pmem2::arch::RecordDestination(&last_line, d, n);
  }
};

#include "pmem2/arch/x86_64/kernels-inl.h"

constexpr uintptr_t kLine = 64;

// NOFLUSH with NONTEMPORAL or WC: NOFLUSH wins (ordinary stores, nothing written back, no fence) though the entry
// decides the non-temporal path before it looks at NOFLUSH's own (MemmoveCacheLineTemporal).
// The last four: hints the man page calls mutually exclusive, which a caller may still pass.
const unsigned kFlagSets[] = {0, kMemNoDrain, kMemNonTemporal, kMemTemporal, kMemWc, kMemWb, kMemNoFlush,
                              kMemNoFlush | kMemNonTemporal, kMemNoFlush | kMemWc, kMemNoDrain | kMemNonTemporal,
                              kMemNoDrain | kMemTemporal, kMemNonTemporal | kMemTemporal, kMemWc | kMemWb,
                              kMemNonTemporal | kMemWb, kMemWc | kMemTemporal};

enum class Op { kMemmove, kMemset };

struct Case {
  Op op;
  bool cache_line;  // else byte table
  size_t len;
  size_t dst_off;
  size_t src_off;
  unsigned flags;
  size_t threshold;
  bool overlapping = false;  // source and destination ranges overlap (memmove only)
  bool string = false;       // the page copies' string kernels (MemmoveString, MemsetString); `cache_line` false
};

std::string Describe(const Case& c) {
  return std::string(c.op == Op::kMemmove ? "memmove" : "memset") +
         (c.string       ? " string"
          : c.cache_line ? " cache-line"
                         : " byte") +
         " len " + std::to_string(c.len) + " dst+" + std::to_string(c.dst_off) + " src+" + std::to_string(c.src_off) +
         " flags " + std::to_string(c.flags) + " threshold " + std::to_string(c.threshold);
}

template <size_t kVec>
void Run(const Case& c, unsigned char* dst, const unsigned char* src) {
  using P = RecordingPrimitives<kVec>;
  if (c.string) {
    if (c.op == Op::kMemmove) {
      kernels::MemmoveString<P>(dst, src, c.len, c.flags);
    } else {
      kernels::MemsetString<P>(dst, 0x3c, c.len, c.flags);
    }
    return;
  }
  if (c.op == Op::kMemmove) {
    if (c.cache_line) {
      kernels::MemmoveCacheLine<P, true>(dst, src, c.len, c.flags);
    } else {
      kernels::MemmoveByte<P, true>(dst, src, c.len, c.flags);
    }
  } else {
    if (c.cache_line) {
      kernels::MemsetCacheLine<P, true>(dst, 0x3c, c.len, c.flags);
    } else {
      kernels::MemsetByte<P, true>(dst, 0x3c, c.len, c.flags);
    }
  }
}

bool WantsNtForTest(const Case& c) {
  if ((c.flags & (kMemNonTemporal | kMemWc)) != 0) return true;
  if ((c.flags & (kMemTemporal | kMemWb)) != 0) return false;
  return c.len >= c.threshold;
}

// Checks the log of one call against the contract. Returns "" or what went wrong. `wants_nt`: whether the call
// was to take the non-temporal path (-1: from the flags and the size alone, WantsNtForTest).
std::string CheckLog(const Case& c, uintptr_t dst, size_t vec, int wants_nt = -1) {
  const uintptr_t end = dst + c.len;
  const bool noflush = (c.flags & kMemNoFlush) != 0;
  const bool drains = (c.flags & (kMemNoDrain | kMemNoFlush)) == 0;
  const bool eight_byte_promise = dst % 8 == 0 && c.len % 8 == 0;

  size_t fences = 0, flushes = 0, nt_stores = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    switch (e.kind) {
      case Event::kStore:
      case Event::kNtStore:
        if (e.addr < dst || e.addr + e.size > end) return "store outside the destination at event " + std::to_string(i);
        if (eight_byte_promise && e.size < 8) return "store narrower than 8 bytes at event " + std::to_string(i);
        if (e.kind == Event::kNtStore) {
          ++nt_stores;
          // Vector non-temporal stores need alignment; MOVNTI (4 and 8 bytes) does not.
          if (e.size >= 16 && e.addr % e.size != 0) return "misaligned non-temporal vector store";
          if (e.addr / kLine != (e.addr + e.size - 1) / kLine) return "non-temporal store across a line";
        }
        if (fences != 0) return "store after the fence";
        break;
      case Event::kFlush:
        ++flushes;
        if (fences != 0) return "flush after the fence";
        if ((e.addr & ~(kLine - 1)) + kLine <= dst || e.addr >= end) return "flush of a line outside the range";
        break;
      case Event::kFence:
        ++fences;
        break;
    }
  }
  if (drains ? fences != 1 : fences != 0) return "wrong number of fences: " + std::to_string(fences);
  if (drains && events.back().kind != Event::kFence) return "the fence is not last";
  if (!c.cache_line || noflush) {
    if (flushes != 0) return "flush on a table or flag that must not flush";
  }
  if (noflush && nt_stores != 0) return "non-temporal store with NOFLUSH";
  // The hints that man pmem2_get_memcpy_fn calls mutually exclusive (NONTEMPORAL or WC with TEMPORAL or WB): the
  // non-temporal one wins, as in libpmem2 (WantsNt); either way the contract below holds.
  if ((c.flags & (kMemTemporal | kMemWb)) != 0 && (c.flags & (kMemNonTemporal | kMemWc)) == 0 && nt_stores != 0) {
    return "non-temporal store with TEMPORAL";
  }
  // A full aligned line inside the range must go non-temporal when asked to (cache-line table).
  const uintptr_t first_full = (dst + kLine - 1) & ~(kLine - 1);
  const bool has_full_line = first_full + kLine <= end;
  if (c.cache_line && !noflush && has_full_line && (c.flags & (kMemNonTemporal | kMemWc)) != 0 && nt_stores == 0) {
    return "NONTEMPORAL ignored";
  }

  // On the non-temporal path every piece of 4 bytes or more goes out non-temporally: ordinary stores only
  // for a head or tail piece of 1-3 bytes. The byte tables take that path for less than a line when asked to
  // (a page copy's far record; their copies up to kSmall without the hint take the short path whatever the
  // threshold); larger ones keep ordinary stores for their partial lines.
  const bool hint = (c.flags & (kMemNonTemporal | kMemWc)) != 0;
  const bool byte_below_line_nt = !c.cache_line && c.len < kLine && hint && !c.overlapping;
  const bool nt_path = c.cache_line ? (wants_nt == -1 ? WantsNtForTest(c) : wants_nt == 1) : byte_below_line_nt;
  // Where the byte tables take their non-temporal path at all: when asked to, or from their threshold once a copy
  // is past the small-copy step (kSmallCopy), never with NOFLUSH or TEMPORAL without the hint.
  const bool temporal = (c.flags & (kMemTemporal | kMemWb)) != 0;
  const bool byte_nt =
      !c.cache_line && !noflush && (hint || (!temporal && c.len > kSmallCopy && c.len >= c.threshold));
  // Off the non-temporal path nothing goes out non-temporally: below the threshold, or told TEMPORAL, a copy keeps
  // ordinary stores (an off-by-one in a row's threshold shows here).
  if (c.cache_line ? !nt_path : !byte_nt) {
    if (nt_stores != 0) return "non-temporal store off the non-temporal path";
  }
  // The byte tables' non-temporal path from a line up: every whole line inside the range goes out non-temporally
  // (its partial first and last lines may take ordinary stores: nothing is written back at byte granularity).
  if (byte_nt && c.len >= kLine) {
    const uintptr_t last_full_end = end & ~(kLine - 1);
    for (const Event& e : events) {
      if (e.kind == Event::kStore && e.addr + e.size > first_full && e.addr < last_full_end) {
        return "ordinary store on a whole line of the byte tables' non-temporal path";
      }
    }
    if (has_full_line && nt_stores == 0) return "no non-temporal store on the byte tables' non-temporal path";
  }
  if (!noflush && c.len != 0 && nt_path) {
    size_t head = static_cast<size_t>((0 - dst) & (kLine - 1));
    if (head > c.len) head = c.len;
    const size_t tail = c.len == head ? 0 : static_cast<size_t>(end & (kLine - 1));
    // Ordinary stores may fall only inside a head piece or a tail piece of 1-3 bytes.
    const uintptr_t tiny_head_end = head >= 1 && head <= 3 ? dst + head : dst;
    const uintptr_t tiny_tail_begin = tail >= 1 && tail <= 3 ? end - tail : end;
    for (const Event& e : events) {
      if (e.kind == Event::kStore && e.addr + e.size > tiny_head_end && e.addr < tiny_tail_begin) {
        return "ordinary store on the non-temporal path";
      }
    }
  }

  // Durability: per line, the last ordinary store must be followed by a flush of that line (a flush before the line's
  // first ordinary store does not count). One pass over the log, so that copies of hundreds of KiB check quickly.
  if (c.cache_line && !noflush && c.len != 0) {
    const uintptr_t first_line = dst & ~(kLine - 1);
    const size_t lines = static_cast<size_t>(((end - 1) & ~(kLine - 1)) - first_line) / kLine + 1;
    // Indexable by every store and flush: the checks above returned for any outside the range's lines.
    std::vector<bool> written(lines), pending(lines);
    for (const Event& e : events) {
      if (e.kind == Event::kStore || e.kind == Event::kNtStore) {
        for (uintptr_t line = e.addr & ~(kLine - 1); line < e.addr + e.size; line += kLine) {
          const size_t i = static_cast<size_t>(line - first_line) / kLine;
          written[i] = true;
          if (e.kind == Event::kStore) pending[i] = true;
        }
      } else if (e.kind == Event::kFlush) {
        pending[static_cast<size_t>((e.addr & ~(kLine - 1)) - first_line) / kLine] = false;
      }
    }
    for (size_t i = 0; i < lines; ++i) {
      if (!written[i]) return "line " + std::to_string(i * kLine) + " never written";
      if (pending[i]) return "line " + std::to_string(i) + " not flushed after its last store";
    }
  }
  return "";
}

template <size_t kVec>
void CheckCase(const Case& c) {
  constexpr size_t kGuard = 128;
  std::vector<unsigned char> buf(kGuard + 2 * 64 + c.len + kGuard, 0xee);
  std::vector<unsigned char> src(c.len + 64);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
  std::vector<unsigned char> want = buf;
  // dst_off is the destination's offset in its line, whatever the allocator's alignment.
  const size_t at = kGuard + (0 - reinterpret_cast<uintptr_t>(buf.data() + kGuard)) % 64 + c.dst_off;
  unsigned char* dst = buf.data() + at;
  if (c.op == Op::kMemmove) {
    std::memcpy(want.data() + at, src.data() + c.src_off, c.len);
  } else {
    std::memset(want.data() + at, 0x3c, c.len);
  }
  nt_threshold = byte_nt_threshold = c.threshold;
  events.clear();
  case_dst = reinterpret_cast<uintptr_t>(dst);
  Run<kVec>(c, dst, src.data() + c.src_off);
  ASSERT_TRUE(buf == want) << "wrong bytes: " << Describe(c);
  const std::string problem = CheckLog(c, reinterpret_cast<uintptr_t>(dst), kVec);
  ASSERT_EQ(problem, "") << Describe(c) << " (vector " << kVec << ")";
}

template <size_t kVec>
void CheckAll() {
  for (bool cache_line : {true, false}) {
    for (Op op : {Op::kMemmove, Op::kMemset}) {
      for (unsigned flags : kFlagSets) {
        // 8: the Zen 5 row's cache-line threshold (x86_64/ops.cc); 64 every other row's.
        for (size_t threshold : {size_t{0}, size_t{8}, size_t{64}, size_t{256}, ~size_t{0}}) {
          for (size_t len = 0; len <= 400; ++len) {
            const size_t dst_off = (len * 11 + flags + threshold % 7) % 64;
            const size_t src_off = (len * 5 + 3) % 64;
            CheckCase<kVec>({op, cache_line, len, dst_off, src_off, flags, threshold});
            CheckCase<kVec>({op, cache_line, len, (dst_off & ~size_t{7}), src_off, flags, threshold});
            if (::testing::Test::HasFatalFailure()) return;
          }
          for (size_t len : {1000, 4096, 5000}) {
            CheckCase<kVec>({op, cache_line, len, 0, 0, flags, threshold});
            CheckCase<kVec>({op, cache_line, len, 40, 7, flags, threshold});
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

// Below three lines the pieces (head to the first line boundary, whole lines, tail) and the store chosen for
// each depend on the destination's offset in its line and the length: every pair of them, at the Zen 5 row's
// threshold of 8 B (MOVNTI pieces) and every other row's 64 B.
template <size_t kVec>
void CheckEveryDestinationOffset() {
  for (Op op : {Op::kMemmove, Op::kMemset}) {
    // kMemNonTemporal | kMemNoDrain: what a page copy asks for on a far line.
    for (unsigned flags : {0u, kMemNoDrain, kMemNonTemporal, kMemNonTemporal | kMemNoDrain, kMemWc, kMemTemporal,
                           kMemNoFlush}) {
      for (size_t threshold : {size_t{8}, size_t{64}}) {
        for (size_t len = 0; len <= 3 * 64; ++len) {
          for (size_t dst_off = 0; dst_off < 64; ++dst_off) {
            for (bool cache_line : {true, false}) {
              CheckCase<kVec>({op, cache_line, len, dst_off, (len * 5 + dst_off * 3) % 64, flags, threshold});
            }
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST(KernelRecordingTest, EveryDestinationOffsetBelowThreeLines) {
  CheckEveryDestinationOffset<16>();
  CheckEveryDestinationOffset<32>();
  CheckEveryDestinationOffset<64>();
}

TEST(KernelRecordingTest, Sse2ShapedKernels) { CheckAll<16>(); }
TEST(KernelRecordingTest, AvxShapedKernels) { CheckAll<32>(); }
TEST(KernelRecordingTest, Avx512ShapedKernels) { CheckAll<64>(); }

// Non-temporal copies from the row's batch size (Intel 6/167: kNtCopyBatchFloor for the byte table,
// kCacheLineNtCopyBatchFloor for the cache-line one) load 32 lines before storing them and change nothing else: the
// same stores, flushes and fence in the same order as without batches (which the contract checks of CheckCase hold
// to), on both tables, every ISA shape, around both floors and a row size above them. Copies off the non-temporal
// path, below the table's floor or the row's size (a byte-table copy between the two floors too, whatever its row
// says), fills and overlapping moves load as they did without batches.
template <size_t kVec>
void CheckBatches() {
  constexpr size_t kBatch = kAvx512NtCopyBatchLines * kLine, kBatchLoads = kBatch / kVec;
  static_assert(kCacheLineNtCopyBatchFloor < kNtCopyBatchFloor, "the lengths below test the byte table between them");
  struct Log {
    std::vector<Event> events;
    size_t longest_load_run;
    size_t batches;
  };
  // Only the case's table batches: a kernel that read the other table's size would not.
  const auto run = [](const Case& c, size_t from) {
    (c.cache_line ? cache_line_batch_from : batch_from) = from;
    longest_load_run = load_run = batches_loaded = 0;
    batch_loads = kBatchLoads;
    CheckCase<kVec>(c);
    batch_from = cache_line_batch_from = batch_loads = 0;
    Log log{events, longest_load_run, batches_loaded};
    for (Event& e : log.events) e.addr -= e.kind == Event::kFence ? 0 : case_dst;  // each call has its own buffer
    return log;
  };
  for (bool cache_line : {true, false}) {
    const size_t kFloor = cache_line ? kCacheLineNtCopyBatchFloor : kNtCopyBatchFloor;
    for (Op op : {Op::kMemmove, Op::kMemset}) {
      for (unsigned flags : {0u, kMemNoDrain, kMemNonTemporal, kMemTemporal, kMemNoFlush}) {
        for (size_t threshold : {size_t{64}, ~size_t{0}}) {
          for (size_t len : {kCacheLineNtCopyBatchFloor - 1, kCacheLineNtCopyBatchFloor,
                             kCacheLineNtCopyBatchFloor + 64 + 7, kNtCopyBatchFloor - 1, kNtCopyBatchFloor,
                             kNtCopyBatchFloor + 64 + 7, kNtCopyBatchFloor + (size_t{32} << 10) + 2047}) {
            for (const auto& [dst_off, src_off] : {std::pair<size_t, size_t>{0, 0}, {40, 7}}) {
              const Case c{op, cache_line, len, dst_off, src_off, flags, threshold};
              const Log off = run(c, 0);
              ASSERT_LT(off.longest_load_run, kBatchLoads) << Describe(c);
              for (size_t from : {kCacheLineNtCopyBatchFloor, kFloor, kFloor + (size_t{32} << 10)}) {
                const std::string where =
                    Describe(c) + " batches from " + std::to_string(from) + " (vector " + std::to_string(kVec) + ")";
                const Log on = run(c, from);
                if (::testing::Test::HasFatalFailure()) return;
                ASSERT_EQ(on.events.size(), off.events.size()) << where;
                for (size_t i = 0; i < on.events.size(); ++i) {
                  const Event &a = on.events[i], &b = off.events[i];
                  ASSERT_TRUE(a.kind == b.kind && a.addr == b.addr && a.size == b.size) << where << ": event " << i;
                }
                bool nt_lines = false;
                for (const Event& e : on.events) nt_lines |= e.kind == Event::kNtStore && e.size == kVec;
                const bool batches = op == Op::kMemmove && nt_lines && len >= from && len >= kFloor;
                ASSERT_EQ(on.longest_load_run, batches ? kBatchLoads : off.longest_load_run) << where;
                // Every whole batch after the partial first line, and nothing else, loaded before it is stored.
                const size_t head = (kLine - dst_off % kLine) % kLine;
                ASSERT_EQ(on.batches, batches ? (len - head) / kBatch : 0) << where;
              }
            }
          }
        }
      }
    }
  }
}

// The byte table's ordinary-store copies of more than kSmall bytes between ranges that do not overlap load two lines
// before storing them (CopyTwoLines in kernels-inl.h: a loop of one line a step took 1.9-2.5x the time on Intel 6/167),
// and up to 256 B all four (CopyUpToFourLines): no run of loads between two stores is shorter than two lines, at every
// length to 1100 B and destination offsets in and across a line. The bytes and the contract are CheckCase's
// (CheckAll); this is the shape. SSE2 copies a line at a time within the step (its 16 registers).
template <size_t kVec>
void CheckTwoLinesAStep() {
  using P = RecordingPrimitives<kVec>;
  constexpr size_t kTwoLinesOfLoads = 2 * kLine / kVec;
  std::vector<unsigned char> dst_buf(1100 + 3 * kLine), src(1100 + kLine);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
  // Line-aligned, so that the offsets below are offsets in a line.
  unsigned char* const line = dst_buf.data() + (kLine - reinterpret_cast<uintptr_t>(dst_buf.data()) % kLine) % kLine;
  for (size_t len = kernels::kSmall + 1; len <= 1100; ++len) {
    for (size_t dst_off : {size_t{0}, size_t{8}, size_t{13}, size_t{63}}) {
      unsigned char* const dst = line + dst_off;
      std::memset(dst_buf.data(), 0, dst_buf.size());
      events.clear();
      load_run = longest_load_run = 0;
      shortest_load_run = ~size_t{0};
      kernels::MemmoveByte<P, true>(dst, src.data() + 5, len, kMemTemporal);
      const std::string where =
          "vector " + std::to_string(kVec) + " length " + std::to_string(len) + " offset " + std::to_string(dst_off);
      // Up to 256 B the four lines in one run (CopyUpToFourLines); above, no run shorter than two lines.
      if (len <= 4 * kLine) {
        ASSERT_EQ(shortest_load_run, 2 * kTwoLinesOfLoads) << where;
      } else {
        ASSERT_GE(shortest_load_run, kTwoLinesOfLoads) << where;
      }
      ASSERT_EQ(std::memcmp(dst, src.data() + 5, len), 0) << where;
    }
  }
  shortest_load_run = 0;
}

TEST(KernelRecordingTest, OrdinaryStoreCopiesLoadTwoLinesAStep) {
  CheckTwoLinesAStep<32>();
  if (::testing::Test::HasFatalFailure()) return;
  CheckTwoLinesAStep<64>();
}

TEST(KernelRecordingTest, NonTemporalCopiesInBatches) {
  CheckBatches<16>();
  CheckBatches<32>();
  CheckBatches<64>();
}

// On the non-temporal path (asked for, so whatever the thresholds), both tables, both directions.
TEST(KernelRecordingTest, OverlappingMovesAreNotBatched) {
  using P = RecordingPrimitives<64>;
  const size_t len = kNtCopyBatchFloor + 100;
  batch_from = cache_line_batch_from = kCacheLineNtCopyBatchFloor;
  for (bool cache_line : {true, false}) {
    for (ptrdiff_t shift : {-4000, -64, 64, 4000}) {
      std::vector<unsigned char> buf(len + 2 * 4096);
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 3);
      std::vector<unsigned char> want = buf;
      unsigned char* src = buf.data() + 4096;
      std::memmove(want.data() + 4096 + shift, want.data() + 4096, len);
      longest_load_run = load_run = 0;
      events.clear();
      if (cache_line) {
        kernels::MemmoveCacheLine<P, true>(src + shift, src, len, kMemNonTemporal);
      } else {
        kernels::MemmoveByte<P, true>(src + shift, src, len, kMemNonTemporal);
      }
      size_t nt_stores = 0;
      for (const Event& e : events) nt_stores += e.kind == Event::kNtStore ? 1 : 0;
      EXPECT_GT(nt_stores, len / 64 - 2) << "the non-temporal path, cache line " << cache_line << " shift " << shift;
      EXPECT_EQ(longest_load_run, 1u) << "cache line " << cache_line << " shift " << shift;
      EXPECT_TRUE(buf == want) << "cache line " << cache_line << " shift " << shift;
    }
  }
  batch_from = cache_line_batch_from = 0;
}

// Overlapping moves must obey the same rules, on both tables: the byte result is checked against memmove, and the
// log against the contract, for every flag set, the Zen 5 row's threshold (8 B: pieces of lines in MOVNTIs, copied
// back to front where the destination starts inside the source) and every other row's, lengths around a line and
// the small-copy step, shifts of less and more than a line, and source offsets across a line.
template <size_t kVec>
void CheckOverlappingMoves() {
  using P = RecordingPrimitives<kVec>;
  constexpr size_t kBase = 200;
  for (bool cache_line : {true, false}) {
    for (size_t threshold : {size_t{0}, size_t{8}, size_t{64}, ~size_t{0}}) {
      nt_threshold = byte_nt_threshold = threshold;
      for (unsigned flags : {0u, kMemNoDrain, kMemNonTemporal, kMemNonTemporal | kMemNoDrain, kMemWc, kMemTemporal,
                             kMemNoFlush}) {
        for (size_t len : {1, 3, 4, 7, 8, 10, 31, 63, 64, 65, 100, 127, 128, 129, 192, 300, 1000}) {
          for (ptrdiff_t shift : {-129, -70, -64, -9, -8, -1, 1, 8, 9, 64, 70, 129}) {
            for (size_t src_off = 0; src_off < 64; src_off += 9) {
              std::vector<unsigned char> buf(len + 2 * kBase + 64);
              for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 3);
              std::vector<unsigned char> want = buf;
              unsigned char* src = buf.data() + kBase + src_off;
              unsigned char* dst = src + shift;
              std::memmove(want.data() + kBase + src_off + shift, want.data() + kBase + src_off, len);
              events.clear();
              if (cache_line) {
                kernels::MemmoveCacheLine<P, true>(dst, src, len, flags);
              } else {
                kernels::MemmoveByte<P, true>(dst, src, len, flags);
              }
              const bool overlapping = static_cast<size_t>(shift < 0 ? -shift : shift) < len;
              const Case c{Op::kMemmove, cache_line, len, 0, src_off, flags, threshold, overlapping};
              const std::string where = Describe(c) + " shift " + std::to_string(shift) + " (vector " +
                                        std::to_string(kVec) + ")";
              ASSERT_TRUE(buf == want) << where;
              ASSERT_EQ(CheckLog(c, reinterpret_cast<uintptr_t>(dst), kVec), "") << where;
            }
          }
        }
      }
    }
  }
  nt_threshold = 64;
  byte_nt_threshold = 4096;
}

TEST(KernelRecordingTest, OverlappingMoves) {
  CheckOverlappingMoves<16>();
  CheckOverlappingMoves<32>();
  CheckOverlappingMoves<64>();
}

// Every drain of a cache-line kernel uses the fence that goes with its flush instruction: SFENCE after CLWB and
// CLFLUSHOPT (and non-temporal stores), MFENCE after CLFLUSH, which AMD orders only with MFENCE (APM vol. 3).
// What this checks: flush.h's table (kDrainFenceFor, against the fences written out here) and that every draining
// path of the kernels, every size up to 600 B, both operations and the draining flags, ends in exactly one fence of
// their policy's kind. The policy here records the table's fence for its flush instruction; that the real policies
// (isa_table-inl.h) compile to that instruction is checked on the binary by nt_stream_registers_test.sh (no SFENCE in
// a CLFLUSH table's function, no MFENCE elsewhere).
template <void (*Line)(const void*), size_t kVec>
void CheckDrainFence(DrainFence expected, const char* name) {
  using P = RecordingPrimitives<kVec, kDrainFenceFor<Line>>;
  std::vector<unsigned char> buf(700), src(700, 5);
  for (size_t threshold : {size_t{0}, size_t{256}, ~size_t{0}}) {
    nt_threshold = threshold;
    for (unsigned flags : {0u, kMemNonTemporal, kMemTemporal}) {
      for (size_t len = 1; len <= 600; ++len) {
        for (int op = 0; op < 2; ++op) {
          events.clear();
          if (op == 0) {
            kernels::MemmoveCacheLine<P, true>(buf.data() + 3, src.data(), len, flags);
          } else {
            kernels::MemsetCacheLine<P, true>(buf.data() + 3, 9, len, flags);
          }
          size_t fences = 0;
          for (const Event& e : events) {
            if (e.kind != Event::kFence) continue;
            ++fences;
            ASSERT_EQ(e.size, static_cast<size_t>(expected))
                << name << ": wrong fence, len " << len << " flags " << flags << " threshold " << threshold;
          }
          ASSERT_EQ(fences, 1u) << name << " len " << len;
        }
      }
    }
  }
}

TEST(KernelRecordingTest, EachFlushKindDrainsWithItsOwnFence) {
  static_assert(kDrainFenceFor<ClwbLine> == DrainFence::kSfence);
  static_assert(kDrainFenceFor<ClflushoptLine> == DrainFence::kSfence);
  static_assert(kDrainFenceFor<ClflushLine> == DrainFence::kMfence);
  static_assert(kDrainFenceFor<NoFlushLine> == DrainFence::kSfence);
  CheckDrainFence<ClwbLine, 32>(DrainFence::kSfence, "clwb");
  CheckDrainFence<ClflushoptLine, 32>(DrainFence::kSfence, "clflushopt");
  CheckDrainFence<ClflushLine, 32>(DrainFence::kMfence, "clflush");
  CheckDrainFence<ClwbLine, 64>(DrainFence::kSfence, "clwb (vector 64)");
  CheckDrainFence<ClflushLine, 64>(DrainFence::kMfence, "clflush (vector 64)");
}

// The production tables' bindings: isa_table-inl.h's rows built over this file's recording primitives and a policy
// that records each write-back with the row's flush instruction (its FlushKind, NoFlushLine none: it is no
// instruction) and each fence with its kind, in place of flush.h's FlushInstructions. The test above takes the fence
// from its own policy; this one checks the table the ISA files build (MakeIsaKernels), row by row.
struct RecordingIssue {
  template <void (*Line)(const void*)>
  static void WriteBack(const void* p) {
    if (Line == &NoFlushLine) return;
    size_t kind = 99;  // none of them
    if (Line == &ClwbLine) kind = static_cast<size_t>(FlushKind::kClwb);
    if (Line == &ClflushoptLine) kind = static_cast<size_t>(FlushKind::kClflushopt);
    if (Line == &ClflushLine) kind = static_cast<size_t>(FlushKind::kClflush);
    Record(Event::kFlush, p, kind);
  }
  template <DrainFence kFence>
  static void Fence() {
    Record(Event::kFence, nullptr, static_cast<size_t>(kFence));
  }
};

namespace table {
struct IsaPrimitives : RecordingPrimitives<32> {};
constexpr char kIsaName[] = "recording";
#include "pmem2/arch/x86_64/isa_table-inl.h"
constexpr IsaKernels kRecorded = MakeIsaKernels<RecordingIssue>();
}  // namespace table

// Calls `fn` and checks what it recorded: every write-back `flush` (none if -1), every fence `fence`, and `fences` of
// them; a line stored with ordinary stores is written back (where `flush` is a kind).
template <class Call>
void CheckBinding(Call fn, int flush, DrainFence fence, size_t fences, const std::string& where) {
  events.clear();
  fn();
  size_t fences_seen = 0;
  bool stored = false;
  bool flushed = false;
  for (const Event& e : events) {
    if (e.kind == Event::kStore) stored = true;
    if (e.kind == Event::kFlush) {
      ASSERT_NE(flush, -1) << where << ": a write-back in a table without one";
      ASSERT_EQ(e.size, static_cast<size_t>(flush)) << where << ": another row's flush instruction";
      flushed = true;
    }
    if (e.kind == Event::kFence) {
      ++fences_seen;
      ASSERT_EQ(e.size, static_cast<size_t>(fence)) << where << ": the wrong fence";
    }
  }
  ASSERT_EQ(fences_seen, fences) << where;
  if (flush != -1 && stored) {
    ASSERT_TRUE(flushed) << where << ": ordinary stores never written back";
  }
}

TEST(KernelRecordingTest, TheIsaTablesRowsWriteBackAndDrainWithTheirOwnInstructions) {
  EXPECT_STREQ(table::kKernels.name, "recording");  // the production policy's table, built here but not run
  const IsaKernels& t = table::kRecorded;
  std::vector<unsigned char> buf(700), src(700, 5);
  const DrainFence row_fence[kFlushKinds] = {DrainFence::kSfence, DrainFence::kSfence, DrainFence::kMfence};
  for (size_t threshold : {size_t{0}, size_t{256}, ~size_t{0}}) {
    nt_threshold = threshold;
    for (unsigned flags : {0u, kMemNonTemporal, kMemTemporal, kMemNoDrain}) {
      const size_t fences = (flags & kMemNoDrain) != 0 ? 0 : 1;
      for (size_t len = 1; len <= 600; ++len) {
        const std::string what = " len " + std::to_string(len) + " flags " + std::to_string(flags) + " threshold " +
                                 std::to_string(threshold);
        for (int row = 0; row < kFlushKinds; ++row) {
          for (int allow_nt = 0; allow_nt < 2; ++allow_nt) {
            const MemKernels& k = t.cache_line[row][allow_nt];
            const std::string where = "row " + std::to_string(row) + " nt " + std::to_string(allow_nt) + what;
            CheckBinding([&] { k.memmove(buf.data() + 3, src.data(), len, flags); }, row, row_fence[row], fences,
                         "memmove " + where);
            CheckBinding([&] { k.memset(buf.data() + 3, 9, len, flags); }, row, row_fence[row], fences,
                         "memset " + where);
            if (HasFatalFailure()) return;
          }
        }
        // The byte tables and the string kernels write nothing back; their drains are SFENCE.
        for (int allow_nt = 0; allow_nt < 2; ++allow_nt) {
          const MemKernels& k = t.byte[allow_nt];
          const std::string where = "byte nt " + std::to_string(allow_nt) + what;
          for (int op = 0; op < 2; ++op) {
            events.clear();
            if (op == 0) {
              k.memmove(buf.data() + 3, src.data(), len, flags);
            } else {
              k.memset(buf.data() + 3, 9, len, flags);
            }
            for (const Event& e : events) {
              ASSERT_NE(e.kind, Event::kFlush) << where;
              if (e.kind == Event::kFence) {
                ASSERT_EQ(e.size, static_cast<size_t>(DrainFence::kSfence)) << where;
              }
            }
          }
        }
        CheckBinding([&] { t.string.memmove(buf.data() + 8, src.data(), len, flags | kPageStringStores); }, -1,
                     DrainFence::kSfence, fences, "string memmove" + what);
        CheckBinding([&] { t.string.memset(buf.data() + 8, 9, len, flags | kPageStringStores); }, -1,
                     DrainFence::kSfence, fences, "string memset" + what);
        if (HasFatalFailure()) return;
      }
    }
  }
  nt_threshold = 64;
}

// The pattern-aware small copies: on the cache-line tables, with the history on (near_temporal_below != 0), a
// copy or fill below that size whose destination is near the previous one takes ordinary stores, every one of
// them before the first write-back, and never a non-temporal store; a far one, or one at or above that size,
// takes the non-temporal path of its size; the flags win over both. Every case also meets the whole contract
// (CheckLog), for every length up to 520 B, both operations, every flag set, 3 previous destinations, and each
// vector width.
enum class Previous { kSame, kJustBefore, kTwoBefore, kFar, kFarBehind };

template <size_t kVec>
void CheckPatternAware() {
  constexpr size_t kGuard = 256;
  for (size_t below : {size_t{256}, size_t{384}}) {
    near_temporal_below = below;
    for (size_t threshold : {size_t{64}, size_t{0}}) {
      nt_threshold = threshold;
      for (Previous previous : {Previous::kSame, Previous::kJustBefore, Previous::kTwoBefore, Previous::kFar,
                                Previous::kFarBehind}) {
        for (Op op : {Op::kMemmove, Op::kMemset}) {
          for (unsigned flags : kFlagSets) {
            for (size_t len = 0; len <= 520; ++len) {
              const size_t dst_off = (len * 13 + flags) % 64;
              std::vector<unsigned char> buf(kGuard + 64 + len + kGuard, 0xee), src(len + 64);
              for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 5 + 3);
              std::vector<unsigned char> want = buf;
              unsigned char* dst = buf.data() + kGuard + dst_off;
              const uintptr_t first = reinterpret_cast<uintptr_t>(dst) / kLine;
              const uintptr_t own_last = len == 0 ? first : (reinterpret_cast<uintptr_t>(dst) + len - 1) / kLine;
              switch (previous) {
                case Previous::kSame:
                  last_line = HistoryOf(own_last);
                  break;
                case Previous::kJustBefore:
                  last_line = HistoryOf(first - 1);
                  break;
                case Previous::kTwoBefore:  // the last line ahead that counts as near
                  last_line = HistoryOf(first - 2);
                  break;
                case Previous::kFar:  // one line further: far
                  last_line = HistoryOf(first - 3);
                  break;
                case Previous::kFarBehind:
                  last_line = HistoryOf(first + 65);
                  break;
              }
              const bool near = previous == Previous::kSame || previous == Previous::kJustBefore ||
                                previous == Previous::kTwoBefore;
              const Case c{op, true, len, dst_off, 0, flags, threshold};
              int wants_nt = 0;
              if ((flags & (kMemNonTemporal | kMemWc)) != 0) {
                wants_nt = 1;
              } else if ((flags & (kMemTemporal | kMemWb)) == 0) {
                wants_nt = len >= threshold && !(near && len < below) ? 1 : 0;
              }
              events.clear();
              if (op == Op::kMemmove) {
                std::memcpy(want.data() + kGuard + dst_off, src.data(), len);
                kernels::MemmoveCacheLine<RecordingPrimitives<kVec>, true>(dst, src.data(), len, flags);
              } else {
                std::memset(want.data() + kGuard + dst_off, 0x3c, len);
                kernels::MemsetCacheLine<RecordingPrimitives<kVec>, true>(dst, 0x3c, len, flags);
              }
              const std::string where = Describe(c) + " below " + std::to_string(below) + " previous " +
                                        std::to_string(static_cast<int>(previous)) + " (vector " +
                                        std::to_string(kVec) + ")";
              ASSERT_TRUE(buf == want) << "wrong bytes: " << where;
              ASSERT_EQ(CheckLog(c, reinterpret_cast<uintptr_t>(dst), kVec, wants_nt), "") << where;
              ASSERT_EQ(last_line, HistoryOf(own_last)) << "the call must record its destination: " << where;
              size_t nt_stores = 0;
              bool flushed = false, store_after_flush = false;
              for (const Event& e : events) {
                if (e.kind == Event::kNtStore) ++nt_stores;
                if (e.kind == Event::kFlush) flushed = true;
                if (e.kind == Event::kStore && flushed) store_after_flush = true;
              }
              if (len != 0 && (flags & kMemNoFlush) == 0 && wants_nt == 0) {
                ASSERT_EQ(nt_stores, 0u) << where;
              }
              if (near && len < below && len != 0 && (flags & (kMemNoFlush | kMemNonTemporal | kMemWc)) == 0) {
                ASSERT_FALSE(store_after_flush) << "a near small copy stores everything before the write-backs: "
                                                << where;
              }
              if (len >= 64 && wants_nt == 1 && (flags & kMemNoFlush) == 0) {
                ASSERT_GT(nt_stores, 0u) << where;
              }
            }
          }
        }
      }
    }
  }
  near_temporal_below = 0;
  nt_threshold = 64;
}

// Overlapping moves on the near path (ordinary stores, all before the write-backs): the bytes of memmove, and the
// contract, in both directions.
template <size_t kVec>
void CheckOverlappingNearMoves() {
  using P = RecordingPrimitives<kVec>;
  near_temporal_below = 512;
  nt_threshold = 64;
  for (size_t len : {1, 63, 64, 100, 128, 129, 200, 256, 300, 384, 450, 511}) {
    for (ptrdiff_t shift : {-129, -64, -1, 1, 64, 129}) {
      std::vector<unsigned char> buf(len + 600);
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 3 + 1);
      std::vector<unsigned char> want = buf;
      unsigned char* src = buf.data() + 250;
      unsigned char* dst = src + shift;
      std::memmove(want.data() + 250 + shift, want.data() + 250, len);
      last_line = HistoryOf((reinterpret_cast<uintptr_t>(dst) + len - 1) / kLine);  // a rewrite: near
      events.clear();
      kernels::MemmoveCacheLine<P, true>(dst, src, len, 0);
      const std::string where =
          "len " + std::to_string(len) + " shift " + std::to_string(shift) + " (vector " + std::to_string(kVec) + ")";
      ASSERT_TRUE(buf == want) << where;
      const Case c{Op::kMemmove, true, len, 0, 0, 0, 64};
      ASSERT_EQ(CheckLog(c, reinterpret_cast<uintptr_t>(dst), kVec, /*wants_nt=*/0), "") << where;
      bool flushed = false;
      for (const Event& e : events) {
        ASSERT_NE(e.kind, Event::kNtStore) << where;
        if (e.kind == Event::kFlush) flushed = true;
        ASSERT_FALSE(e.kind == Event::kStore && flushed) << "store after a write-back: " << where;
      }
    }
  }
  near_temporal_below = 0;
}

// The byte tables honour a non-temporal hint at every size from 8 B, below a line in 8-byte MOVNTIs (page copies
// ask for it on a far destination); without the hint, small copies stay ordinary stores.
TEST(KernelRecordingTest, ByteTablesHonourTheNonTemporalHintWhenSmall) {
  byte_nt_threshold = ~size_t{0};
  alignas(64) unsigned char buf[256];
  unsigned char src[256] = {};
  // 8-56: a record below a line (a page copy's far one on Zen 5), in 8-byte MOVNTIs.
  for (size_t len : {8, 24, 56, 64, 100, 128}) {
    for (unsigned flags : {kMemNonTemporal, kMemWc, 0u}) {
      for (int op = 0; op < 2; ++op) {  // each operation on its own: one that ignored the hint would show
        events.clear();
        if (op == 0) {
          kernels::MemmoveByte<RecordingPrimitives<32>, true>(buf, src, len, flags);
        } else {
          kernels::MemsetByte<RecordingPrimitives<32>, true>(buf, 7, len, flags);
        }
        size_t nt = 0;
        for (const Event& e : events) nt += e.kind == Event::kNtStore ? 1 : 0;
        const char* name = op == 0 ? "memmove" : "memset";
        if (flags == 0) {
          EXPECT_EQ(nt, 0u) << name << " len " << len;
        } else {
          EXPECT_GT(nt, 0u) << name << " len " << len << " flags " << flags;
        }
      }
    }
  }
  byte_nt_threshold = 4096;
}

TEST(KernelRecordingTest, OverlappingNearMoves) {
  CheckOverlappingNearMoves<16>();
  CheckOverlappingNearMoves<32>();
  CheckOverlappingNearMoves<64>();
}

TEST(KernelRecordingTest, PatternAwareSmallCopies) {
  CheckPatternAware<16>();
  CheckPatternAware<32>();
  CheckPatternAware<64>();
}

// With the history off (the CPU kinds where non-temporal stores win everywhere) the kernels never read or write
// it.
TEST(KernelRecordingTest, HistoryOffIsNeverTouched) {
  near_temporal_below = 0;
  last_line = 12345;
  std::vector<unsigned char> buf(700), src(700, 1);
  for (size_t len : {0, 8, 64, 200, 600}) {
    kernels::MemmoveCacheLine<RecordingPrimitives<32>, true>(buf.data(), src.data(), len, 0);
    kernels::MemsetCacheLine<RecordingPrimitives<32>, true>(buf.data(), 1, len, kMemNoFlush);
  }
  EXPECT_EQ(last_line, 12345u);
}

// PMEM_NO_MOVNT tables never store non-temporally, whatever the flags, and otherwise meet the contract of a copy
// without the hint (what CheckLog is given): every line written back after its last store, one fence unless
// NODRAIN or NOFLUSH. Every flag set, both tables and operations, lengths past each threshold, several offsets.
template <size_t kVec>
void CheckNoMovnt() {
  using P = RecordingPrimitives<kVec>;
  nt_threshold = byte_nt_threshold = 0;
  for (bool cache_line : {true, false}) {
    for (Op op : {Op::kMemmove, Op::kMemset}) {
      for (unsigned flags : kFlagSets) {
        for (size_t len : {0, 1, 7, 8, 63, 64, 65, 128, 129, 200, 1000, 4096, 5000}) {
          for (size_t dst_off : {0, 3, 8, 40}) {
            std::vector<unsigned char> buf(len + 256, 0xee), src(len + 64);
            for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i * 7 + 1);
            std::vector<unsigned char> want = buf;
            unsigned char* dst = buf.data() + 64 + dst_off;
            events.clear();
            if (op == Op::kMemmove) {
              std::memcpy(want.data() + 64 + dst_off, src.data() + 5, len);
              if (cache_line) {
                kernels::MemmoveCacheLine<P, false>(dst, src.data() + 5, len, flags);
              } else {
                kernels::MemmoveByte<P, false>(dst, src.data() + 5, len, flags);
              }
            } else {
              std::memset(want.data() + 64 + dst_off, 0x3c, len);
              if (cache_line) {
                kernels::MemsetCacheLine<P, false>(dst, 0x3c, len, flags);
              } else {
                kernels::MemsetByte<P, false>(dst, 0x3c, len, flags);
              }
            }
            // As a copy without the hint and a threshold never reached.
            const Case c{op, cache_line, len, dst_off, 5, flags & ~(kMemNonTemporal | kMemWc), ~size_t{0}};
            const std::string where = "PMEM_NO_MOVNT " + Describe(c) + " (flags " + std::to_string(flags) +
                                      ", vector " + std::to_string(kVec) + ")";
            ASSERT_TRUE(buf == want) << "wrong bytes: " << where;
            for (const Event& e : events) ASSERT_NE(e.kind, Event::kNtStore) << where;
            ASSERT_EQ(CheckLog(c, reinterpret_cast<uintptr_t>(dst), kVec), "") << where;
          }
        }
      }
    }
  }
  nt_threshold = 64;
  byte_nt_threshold = 4096;
}

TEST(KernelRecordingTest, NoMovntNeverStoresNonTemporally) {
  CheckNoMovnt<16>();
  CheckNoMovnt<32>();
  CheckNoMovnt<64>();
}

// The page copies' string kernels (MemmoveString, MemsetString: Intel 6/167's rewrites from 128 KiB): ordinary stores
// only, nothing written back, the fence only where the flags ask for it (a page copy's carry kMemNoDrain), no store
// outside the destination, no store narrower than 8 bytes where the destination and the length are multiples of 8,
// and every 8-byte word between the destination's first and last 8-byte boundaries written by the string instruction's
// elements (the pieces before and after them are 1-7 bytes), or none where the source is not 8-aligned where the
// destination is (the vector loop then); for every length to 400 at every destination offset in a line up to 200 B
// and every seventh above, and larger lengths, with a page copy's flags and the others a string kernel may be given.
template <size_t kVec>
void CheckStrings() {
  constexpr unsigned kPage = kMemTemporal | kMemNoDrain | kPageStringStores;
  for (Op op : {Op::kMemmove, Op::kMemset}) {
    for (unsigned flags : {kPage, kPage & ~kMemNoDrain, kPage | kMemNoFlush, 0u}) {
      std::vector<size_t> lens;
      for (size_t len = 0; len <= 400; ++len) lens.push_back(len);
      for (size_t len : {2047, 2048, 2049, 4096 + 13, 65536}) lens.push_back(len);
      for (size_t len : lens) {
        for (size_t dst_off = 0; dst_off < 64; dst_off += len <= 200 ? 1 : 7) {
          // A source 8-aligned where the destination is (string elements), and one that is not (the vector loop).
          for (const size_t src_off : {(dst_off + 24) % 64, (dst_off + 3 + len % 5) % 64}) {
            Case c{op, false, len, dst_off, src_off, flags, ~size_t{0}};
            c.string = true;
            string_words = 0;
            CheckCase<kVec>(c);
            if (::testing::Test::HasFatalFailure()) return;
            const size_t head = std::min((8 - dst_off % 8) % 8, len);
            const bool words = op == Op::kMemset || dst_off % 8 == src_off % 8;  // CheckCase's source is 16-aligned
            ASSERT_EQ(string_words, words ? (len - head) / 8 : 0) << Describe(c) << " (vector " << kVec << ")";
          }
        }
      }
    }
  }
}

TEST(KernelRecordingTest, PageStringKernels) {
  CheckStrings<16>();
  CheckStrings<32>();
  CheckStrings<64>();
}

// Overlapping moves given to the string kernel take its fallback (CopyTemporal's ordinary stores): memmove's bytes,
// in both directions, no string element, and the contract above; moves apart by the shifts that are not multiples of 8
// take it too.
TEST(KernelRecordingTest, PageStringKernelsOverlapping) {
  using P = RecordingPrimitives<64>;
  constexpr size_t kBase = 4200;
  for (size_t len : {1, 8, 100, 2048, 4096 + 13}) {
    for (ptrdiff_t shift : {-4097, -64, -8, -1, 1, 8, 64, 4097}) {
      std::vector<unsigned char> buf(len + 2 * kBase);
      for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 3);
      std::vector<unsigned char> want = buf;
      unsigned char* src = buf.data() + kBase;
      std::memmove(want.data() + kBase + shift, want.data() + kBase, len);
      events.clear();
      string_words = 0;
      kernels::MemmoveString<P>(src + shift, src, len, kMemTemporal | kMemNoDrain | kPageStringStores);
      const bool overlapping = static_cast<size_t>(shift < 0 ? -shift : shift) < len;
      Case c{Op::kMemmove, false, len, 0, 0, kMemTemporal | kMemNoDrain, ~size_t{0}, overlapping};
      c.string = true;
      const std::string where = Describe(c) + " shift " + std::to_string(shift);
      ASSERT_TRUE(buf == want) << where;
      ASSERT_EQ(CheckLog(c, reinterpret_cast<uintptr_t>(src + shift), 64), "") << where;
      // Apart, string elements only where the shift keeps the source 8-aligned where the destination is.
      const size_t head = std::min<size_t>((0 - reinterpret_cast<uintptr_t>(src + shift)) % 8, len);
      ASSERT_EQ(string_words, overlapping || shift % 8 != 0 ? 0 : (len - head) / 8) << where;
    }
  }
}

}  // namespace
}  // namespace recording
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
