// Copyright 2026 The pmem2 Authors.
//
// tools/bench/timing.cc
// -----------------------------------------------------------------------------
//
// The loops Google Benchmark times (see timing.h). The 64-byte rows time calls of a few nanoseconds whose source
// and destination start at the same page offset, and they move with the machine code around the call: keep
// each loop's body as it is (even the byte count after it, which a shared helper changed), so that figures stay
// comparable between versions. tools/bench/README.md has what such a change did.

#include "tools/bench/timing.h"

#include <cstdint>
#include <cstring>

#include "benchmark/benchmark.h"

namespace pmem2 {
namespace bench {
namespace {

// `offsets` is a Cursor (hot), SequentialCursor (seq), RandomSlots (rand) or SameBytes (same), taken by value: its
// Next() is inlined into the loop.
template <typename Offsets>
void TimeMemcpy(benchmark::State& state, MemcpyFn fn, char* base, Offsets cursor, const char* src, size_t n) {
  for (auto _ : state) fn(base + cursor.Next(), src, n, 0);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

template <typename Offsets>
void TimeMemset(benchmark::State& state, MemsetFn fn, char* base, Offsets cursor, size_t n) {
  for (auto _ : state) fn(base + cursor.Next(), 0x5c, n, 0);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

// glibc has its own signature; the same loop otherwise. Called through a pointer, as a library's would be.
template <typename Offsets>
void TimeGlibcMemcpy(benchmark::State& state, char* base, Offsets cursor, const char* src, size_t n) {
  void* (*volatile pointer)(void*, const void*, size_t) = std::memcpy;
  void* (*const fn)(void*, const void*, size_t) = pointer;
  for (auto _ : state) fn(base + cursor.Next(), src, n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

template <typename Offsets>
void TimeGlibcMemset(benchmark::State& state, char* base, Offsets cursor, size_t n) {
  void* (*volatile pointer)(void*, int, size_t) = std::memset;
  void* (*const fn)(void*, int, size_t) = pointer;
  for (auto _ : state) fn(base + cursor.Next(), 0x5c, n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

// move: `cursor` walks the first `half` bytes of the window, each source lies `half` bytes after its destination.
void TimeMove(benchmark::State& state, MemcpyFn fn, char* base, SequentialCursor cursor, size_t half, size_t n) {
  for (auto _ : state) {
    char* const to = base + cursor.Next();
    fn(to, to + half, n, 0);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void TimeGlibcMove(benchmark::State& state, char* base, SequentialCursor cursor, size_t half, size_t n) {
  void* (*volatile pointer)(void*, const void*, size_t) = std::memcpy;
  void* (*const fn)(void*, const void*, size_t) = pointer;
  for (auto _ : state) {
    char* const to = base + cursor.Next();
    fn(to, to + half, n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void TimePersist(benchmark::State& state, PersistFn fn, char* base, size_t n) {
  uint64_t value = 0;
  for (auto _ : state) {
    ++value;
    for (size_t off = 0; off < n; off += 64) {
      *reinterpret_cast<volatile uint64_t*>(base + off) = value;
    }
    fn(base, n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

}  // namespace

Cursor::Cursor(size_t n, size_t window) {
  if (n >= kFreshLinesFrom) {
    stride_ = (n + kFreshLinesFrom - 1) / kFreshLinesFrom * kFreshLinesFrom;
    last_ = window - n;
  }
}

size_t Cursor::Next() {
  const size_t current = offset_;
  offset_ += stride_;
  if (offset_ > last_) offset_ = 0;
  return current;
}

const char* PatternName(Pattern pattern) {
  switch (pattern) {
    case Pattern::kHot: return "hot";
    case Pattern::kSeq: return "seq";
    case Pattern::kRand: return "rand";
    case Pattern::kSame: return "same";
    case Pattern::kMove: return "move";
  }
  return "?";
}

namespace {

// Registers the copy or fill of `call` with the offsets `make_offsets()` returns (a fresh generator per run of
// the benchmark; the cold ones share `call.cold`).
template <typename MakeOffsets>
benchmark::internal::Benchmark* RegisterCopy(const TimedCall& call, MakeOffsets make_offsets) {
  char* const base = call.target.base;
  const char* const src = call.source;
  const size_t n = call.size;
  const char* const name = call.name.c_str();
  if (call.op == "memcpy" && call.glibc) {
    return benchmark::RegisterBenchmark(name,
                                        [=](benchmark::State& s) { TimeGlibcMemcpy(s, base, make_offsets(), src, n); });
  }
  if (call.op == "memcpy") {
    const MemcpyFn fn = call.target.memcpy;
    return benchmark::RegisterBenchmark(name,
                                        [=](benchmark::State& s) { TimeMemcpy(s, fn, base, make_offsets(), src, n); });
  }
  if (call.glibc) {
    return benchmark::RegisterBenchmark(name,
                                        [=](benchmark::State& s) { TimeGlibcMemset(s, base, make_offsets(), n); });
  }
  const MemsetFn fn = call.target.memset;
  return benchmark::RegisterBenchmark(name, [=](benchmark::State& s) { TimeMemset(s, fn, base, make_offsets(), n); });
}

}  // namespace

bool RegisterTimedCall(const TimedCall& call) {
  const size_t window = call.window;
  const size_t n = call.size;
  ColdState* const cold = call.cold;
  benchmark::internal::Benchmark* b = nullptr;
  if (call.op == "persist") {
    const PersistFn fn = call.target.persist;
    if (fn == nullptr || call.pattern != Pattern::kHot) return false;
    char* const base = call.target.base;
    b = benchmark::RegisterBenchmark(call.name.c_str(), [=](benchmark::State& s) { TimePersist(s, fn, base, n); });
  } else if (call.pattern == Pattern::kHot) {
    b = RegisterCopy(call, [=] { return Cursor(n, window); });
  } else if (call.pattern == Pattern::kSame) {
    b = RegisterCopy(call, [] { return SameBytes(); });
  } else if (cold == nullptr) {
    return false;
  } else if (call.pattern == Pattern::kMove) {
    if (call.op != "memcpy") return false;
    char* const base = call.target.base;
    const size_t half = MoveWindow(window);
    if (call.glibc) {
      b = benchmark::RegisterBenchmark(call.name.c_str(), [=](benchmark::State& s) {
        TimeGlibcMove(s, base, MoveCursor(cold, n, half), half, n);
      });
    } else {
      const MemcpyFn fn = call.target.memcpy;
      b = benchmark::RegisterBenchmark(call.name.c_str(), [=](benchmark::State& s) {
        TimeMove(s, fn, base, MoveCursor(cold, n, half), half, n);
      });
    }
  } else if (call.pattern == Pattern::kSeq) {
    b = RegisterCopy(call, [=] { return SequentialCursor(cold, n, window); });
  } else {
    b = RegisterCopy(call, [=] { return RandomSlots(cold, n, window); });
  }
  if (!call.cpu_time) b->UseRealTime();  // iteration counts follow the reported time base
  return true;
}

}  // namespace bench
}  // namespace pmem2
