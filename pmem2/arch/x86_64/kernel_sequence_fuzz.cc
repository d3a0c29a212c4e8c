// Copyright 2026 The pmem2 Authors.
//
// Fuzz target (testing/fuzz/driver.h): a sequence of copies, moves and fills through one of the x86-64 engine's
// tables, each checked against memmove()/memset() on a copy of the destination arena. kernels_test checks each size,
// alignment and flag set once, from a fresh history; here the calls follow each other as a program's would, so the
// paths that depend on the thread's previous destinations (destination_history.h: the near-temporal small copies, the
// page copies' rewrite and ahead thresholds, the string kernels of rewrites) are taken in the orders an input
// chooses, with every combination of flags, overlaps in both directions and sizes up to 9 MiB.
//
// Input: byte 0 chooses the table (below) and, for the forced ones, the ISA level and flush instruction; every 8 bytes
// after it are one operation (kind, flags, size class and size, destination and source or shift).

#include <sys/types.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/ops.h"
#include "pmem2/persist_fns.h"
#include "testing/cpu/scoped_cpu_features.h"
#include "testing/fuzz/driver.h"
#include "testing/fuzz/input.h"

namespace {

using ::pmem2::arch::CacheLineOps;
using ::pmem2::arch::EnvOverrides;
using ::pmem2::arch::PersistOps;
using ::pmem2::testing::FlushInstruction;
using ::pmem2::testing::IsaLevel;
using ::pmem2::testing::ScopedCpuFeatures;

constexpr size_t kMaxLen = size_t{9} << 20;
constexpr size_t kArena = size_t{16} << 20;
constexpr size_t kCheckMargin = 4096;  // bytes either side of an operation's range compared after it

enum class Table {
  kCacheLine,
  kCacheLineNoMovnt,
  kCacheLineNearTemporal,  // the pattern-aware small copies below 512 B (PMEM2_NEAR_TEMPORAL_BELOW=512)
  kCacheLineFrom8,         // non-temporal from 8 B (PMEM_MOVNT_THRESHOLD=8)
  kByte,
  kByteNoMovnt,
  kPage,                   // PageMemmove / PageMemset: the copy half of a page mapping's functions
  kModel167CacheLine,      // Intel family 6 model 167's row: 32-line batches (AVX-512), string kernels for pages
  kModel167Byte,
  kModel167Page,
  kProcessDefault,         // this CPU's own selection, as the library runs on it
  kCount
};

const char* TableName(Table table) {
  static const char* const kNames[] = {"cache line", "cache line PMEM_NO_MOVNT", "cache line near-temporal < 512 B",
                                       "cache line nt from 8 B", "byte", "byte PMEM_NO_MOVNT", "page",
                                       "6/167 cache line", "6/167 byte", "6/167 page", "process default"};
  return kNames[static_cast<int>(table)];
}

struct Arenas {
  unsigned char* real;
  unsigned char* model;
  unsigned char* source;  // never written after setup
  unsigned char scratch[256];
};

Arenas& TheArenas() {
  static Arenas* arenas = [] {
    auto* a = new Arenas;
    a->real = static_cast<unsigned char*>(aligned_alloc(4096, kArena));
    a->model = static_cast<unsigned char*>(aligned_alloc(4096, kArena));
    a->source = static_cast<unsigned char*>(aligned_alloc(4096, kArena));
    uint32_t x = 12345;
    for (size_t i = 0; i < kArena; ++i) {
      x = x * 1664525u + 1013904223u;
      a->source[i] = static_cast<unsigned char>(x >> 24);
    }
    std::memcpy(a->real, a->source + 7, kArena - 7);
    std::memset(a->real + kArena - 7, 0x5a, 7);
    std::memcpy(a->model, a->real, kArena);
    return a;
  }();
  return *arenas;
}

// The operation's length from its size class: every size below 4 KiB, whole lines, and large sizes up to kMaxLen.
size_t LengthOf(uint8_t size_class, uint32_t value) {
  switch (size_class % 8) {
    case 0:
      return value % 64;
    case 1:
      return value % 1101;
    case 2:
      return value % 4097;
    case 3:
      return (value % 512) * 64;
    case 4:
      return value % 65536;
    case 5:
      return (value * 16 + size_class / 8) % (size_t{1} << 20);
    case 6:
      return std::min<size_t>(static_cast<size_t>(value) * 144 + size_class / 8, kMaxLen);
    default:
      return 0;
  }
}

[[noreturn]] void Fail(const char* what, Table table, const PersistOps* ops, int step, size_t dst, size_t len,
                       ptrdiff_t shift, unsigned flags, size_t lo, size_t hi) {
  const Arenas& a = TheArenas();
  size_t first = lo;
  while (first < hi && a.real[first] == a.model[first]) ++first;
  fprintf(stderr,
          "%s through the %s table (%s) at step %d: destination offset %zu, length %zu, shift %td, flags 0x%x; first "
          "wrong byte at offset %zu (%+td from the destination): 0x%02x, expected 0x%02x\n",
          what, TableName(table), ops != nullptr ? ops->memmove_name : "page copy", step, dst, len, shift, flags,
          first, static_cast<ptrdiff_t>(first) - static_cast<ptrdiff_t>(dst), first < hi ? a.real[first] : 0,
          first < hi ? a.model[first] : 0);
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ::pmem2::testing::FuzzInput in(data, size);
  const uint8_t choice = in.Byte();
  const auto table = static_cast<Table>(choice % static_cast<int>(Table::kCount));
  const auto level = static_cast<IsaLevel>(choice / static_cast<int>(Table::kCount) % 4);
  const auto flush = static_cast<FlushInstruction>(choice / static_cast<int>(Table::kCount) / 4 % 3);

  std::unique_ptr<ScopedCpuFeatures> cpu;
  if (table != Table::kProcessDefault) {
    if (!::pmem2::testing::CpuHas(level) || !::pmem2::testing::CpuHas(flush)) return 0;
    EnvOverrides overrides;
    overrides.no_movnt = table == Table::kCacheLineNoMovnt || table == Table::kByteNoMovnt;
    if (table == Table::kCacheLineNearTemporal) {
      overrides.has_near_temporal_below = true;
      overrides.near_temporal_below = 512;
    }
    if (table == Table::kCacheLineFrom8) {
      overrides.has_movnt_threshold = true;
      overrides.movnt_threshold = 8;
    }
    if (table == Table::kModel167CacheLine || table == Table::kModel167Byte || table == Table::kModel167Page) {
      auto features = ::pmem2::testing::RestrictedFeatures(level, flush);
      features.vendor = ::pmem2::arch::x86_64::CpuVendor::kIntel;
      features.family = 6;
      features.model = 167;
      cpu = std::make_unique<ScopedCpuFeatures>(features, overrides);
    } else {
      cpu = std::make_unique<ScopedCpuFeatures>(level, flush, overrides);
    }
  }
  const bool page = table == Table::kPage || table == Table::kModel167Page;
  const bool byte = table == Table::kByte || table == Table::kByteNoMovnt || table == Table::kModel167Byte;
  const PersistOps* ops = page ? nullptr : byte ? &::pmem2::arch::ByteOps() : &CacheLineOps();

  Arenas& a = TheArenas();
  // The same start for every input, whatever ran before: the thread's last destination is a scratch line.
  if (ops != nullptr) {
    ops->memmove(a.scratch + 64, a.source, 64, 0);
    ops->drain();
  } else {
    ::pmem2::arch::PageMemmove(a.scratch + 64, a.source, 64, 0);
  }

  size_t cursor = 0, last_dst = 0;
  size_t dirty_lo = kArena, dirty_hi = 0;
  for (int step = 0; !in.empty(); ++step) {
    const uint8_t kind = in.Byte() % 6;
    const uint8_t flag_byte = in.Byte();
    const unsigned flags = (flag_byte & 0x80) != 0 ? 0 : flag_byte & ::pmem2::kMemValidFlags;
    const uint8_t size_class = in.Byte();
    const size_t len = LengthOf(size_class, static_cast<uint32_t>(in.Bytes(2)));
    const auto where = static_cast<uint32_t>(in.Bytes(3));
    const size_t room = kArena - len;
    size_t dst = where % (room + 1);
    if (kind == 3 || kind == 5) dst = cursor <= room ? cursor : 0;  // appending
    if (kind == 4) dst = last_dst <= room ? last_dst : 0;           // rewriting
    ptrdiff_t shift = 0;
    const int fill = static_cast<int>(where >> 16);
    if (kind == 1) {
      // An overlapping move: the source `shift` bytes from the destination, near (within a few lines) or anywhere.
      const uint8_t s = static_cast<uint8_t>(where);
      const ptrdiff_t magnitude = (s & 0x80) != 0 ? static_cast<ptrdiff_t>(s & 0x3f)
                                                  : static_cast<ptrdiff_t>((where >> 8) % (len + 129));
      shift = (s & 0x40) != 0 ? -magnitude : magnitude;
      const ptrdiff_t src = static_cast<ptrdiff_t>(dst) + shift;
      if (src < 0 || static_cast<size_t>(src) > room) shift = -shift;
      if (static_cast<ptrdiff_t>(dst) + shift < 0 || static_cast<size_t>(static_cast<ptrdiff_t>(dst) + shift) > room) {
        shift = 0;
      }
    }
    unsigned char* const target = a.real + dst;
    // What this operation overwrites must still agree: a stray store there by an earlier one would otherwise be
    // overwritten in both arenas and never seen.
    if (std::memcmp(a.real + dst, a.model + dst, len) != 0) {
      Fail("a byte this operation is about to overwrite was already wrong", table, ops, step, dst, len, 0, flags, dst,
           dst + len);
    }
    // And, for a move within the arena, what it is about to read.
    if (kind == 1 && std::memcmp(a.real + dst + shift, a.model + dst + shift, len) != 0) {
      Fail("a byte this move is about to read was already wrong", table, ops, step, dst, len, shift, flags,
           static_cast<size_t>(static_cast<ptrdiff_t>(dst) + shift),
           static_cast<size_t>(static_cast<ptrdiff_t>(dst) + shift) + len);
    }
    void* returned;
    if (kind == 2 || kind == 5) {
      std::memset(a.model + dst, fill, len);
      returned = page ? ::pmem2::arch::PageMemset(target, fill, len, flags) : ops->memset(target, fill, len, flags);
    } else {
      const unsigned char* from = kind == 1 ? a.real + dst + shift : a.source + (where * 977u) % (kArena - len + 1);
      const unsigned char* model_from = kind == 1 ? a.model + dst + shift : from;
      std::memmove(a.model + dst, model_from, len);
      returned = page ? ::pmem2::arch::PageMemmove(target, from, len, flags) : ops->memmove(target, from, len, flags);
    }
    if (ops != nullptr) {
      if ((flags & ::pmem2::kMemNoFlush) != 0) ops->flush(target, len);
      ops->drain();
    } else {
      ::pmem2::arch::ByteDrain();
    }
    const size_t lo = dst > kCheckMargin ? dst - kCheckMargin : 0;
    const size_t hi = std::min(kArena, dst + len + kCheckMargin);
    if (returned != target) Fail("wrong return value", table, ops, step, dst, len, shift, flags, lo, lo);
    if (std::memcmp(a.real + lo, a.model + lo, hi - lo) != 0) {
      Fail(kind == 2 || kind == 5 ? "memset differs" : "memmove differs", table, ops, step, dst, len, shift, flags, lo,
           hi);
    }
    dirty_lo = std::min(dirty_lo, lo);
    dirty_hi = std::max(dirty_hi, hi);
    last_dst = dst;
    cursor = dst + len;
  }
  // A store far from its operation's range: the whole arena, after every input that wrote, so that a failure is the
  // input's own and replays alone (nothing carries over: the arenas agree again when an input ends).
  if (dirty_lo < dirty_hi && std::memcmp(a.real, a.model, kArena) != 0) {
    Fail("a byte outside every operation's range changed", table, ops, -1, 0, 0, 0, 0, 0, kArena);
  }
  return 0;
}
