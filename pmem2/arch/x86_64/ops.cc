// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/x86_64/ops.h"

#include <atomic>
#include <cstring>

#include "pmem2/arch/x86_64/flush.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace {

inline bool NeedsDrain(unsigned flags) { return (flags & (kMemNoDrain | kMemNoFlush)) == 0; }

void NoFlush(const void*, size_t) {}
void Drain() { Sfence(); }
void PersistByte(const void*, size_t) { Sfence(); }

template <void (*Line)(const void*)>
void Flush(const void* addr, size_t len) {
  FlushLines<Line>(addr, len);
}

template <void (*Line)(const void*)>
void Persist(const void* addr, size_t len) {
  FlushLines<Line>(addr, len);
  Sfence();
}

template <void (*Line)(const void*)>
void* MemmoveFlush(void* dst, const void* src, size_t len, unsigned flags) {
  std::memmove(dst, src, len);
  if ((flags & kMemNoFlush) != 0) return dst;
  FlushLines<Line>(dst, len);
  if ((flags & kMemNoDrain) == 0) Sfence();
  return dst;
}

template <void (*Line)(const void*)>
void* MemsetFlush(void* dst, int c, size_t len, unsigned flags) {
  std::memset(dst, c, len);
  if ((flags & kMemNoFlush) != 0) return dst;
  FlushLines<Line>(dst, len);
  if ((flags & kMemNoDrain) == 0) Sfence();
  return dst;
}

void* MemmoveNoFlush(void* dst, const void* src, size_t len, unsigned flags) {
  std::memmove(dst, src, len);
  if (NeedsDrain(flags)) Sfence();
  return dst;
}

void* MemsetNoFlush(void* dst, int c, size_t len, unsigned flags) {
  std::memset(dst, c, len);
  if (NeedsDrain(flags)) Sfence();
  return dst;
}

template <void (*Line)(const void*)>
PersistOps FlushingOps(const char* name) {
  PersistOps ops{};
  ops.persist = Persist<Line>;
  ops.flush = Flush<Line>;
  ops.drain = Drain;
  ops.memmove = MemmoveFlush<Line>;
  ops.memset = MemsetFlush<Line>;
  ops.flush_name = name;
  ops.drain_name = "sfence";
  ops.memmove_name = "libc + flush";
  ops.memset_name = "libc + flush";
  return ops;
}

PersistOps NonFlushingOps() {
  PersistOps ops{};
  ops.persist = PersistByte;
  ops.flush = NoFlush;
  ops.drain = Drain;
  ops.memmove = MemmoveNoFlush;
  ops.memset = MemsetNoFlush;
  ops.flush_name = "none";
  ops.drain_name = "sfence";
  ops.memmove_name = "libc";
  ops.memset_name = "libc";
  return ops;
}

std::atomic<const Selection*> installed_for_test{nullptr};

const Selection& ProcessSelection() {
  static const Selection selection = Select(ProcessCpuFeatures(), ProcessEnvOverrides());
  return selection;
}

const Selection& Current() {
  const Selection* test = installed_for_test.load(std::memory_order_acquire);
  return test != nullptr ? *test : ProcessSelection();
}

}  // namespace

Selection Select(const CpuFeatures& features, const EnvOverrides& overrides) {
  Selection s;
  s.byte = NonFlushingOps();
  if (overrides.flush == EnvOverrides::Flush::kNever || !features.clflush) {
    s.cache_line = NonFlushingOps();
  } else if (features.clwb && !overrides.no_clwb) {
    s.cache_line = FlushingOps<ClwbLine>("clwb");
  } else if (features.clflushopt && !overrides.no_clflushopt) {
    s.cache_line = FlushingOps<ClflushoptLine>("clflushopt");
  } else {
    s.cache_line = FlushingOps<ClflushLine>("clflush");
  }
  s.movnt_threshold = overrides.has_movnt_threshold ? overrides.movnt_threshold : 0;
  s.description = "x86_64: " + features.Names();
  if (!overrides.description.empty()) s.description += "; overrides: " + overrides.description;
  return s;
}

const PersistOps& CacheLineOps() { return Current().cache_line; }
const PersistOps& ByteOps() { return Current().byte; }
std::string DescribeCpu() { return Current().description; }

void InstallSelectionForTest(const Selection* selection) {
  installed_for_test.store(selection, std::memory_order_release);
}

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
