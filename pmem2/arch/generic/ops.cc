// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/generic/ops.h"

#include <cstdint>
#include <cstring>
#include <memory>

#include "pmem2/arch/env_overrides.h"
#include "pmem2/internal/fork_safe_lazy.h"

namespace pmem2 {
namespace arch {
namespace generic {
namespace {

// Volatile keeps the compiler from fusing the word loop into a libc call or a vector loop, either of which
// could split an 8-byte store; may_alias lets it write memory of any type.
using Word = volatile uint64_t __attribute__((may_alias));
using Byte = volatile unsigned char;

inline uint64_t LoadWord(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, sizeof(w));
  return w;
}

inline bool NeedsDrain(unsigned flags) { return (flags & (kMemNoDrain | kMemNoFlush)) == 0; }

void Nop(const void*, size_t) {}

void PersistFence(const void*, size_t) { Fence(); }

void* MemmoveWords(void* dst, const void* src, size_t len, unsigned flags) {
  CopyWords(dst, src, len);
  if (NeedsDrain(flags)) Fence();
  return dst;
}

void* MemsetWords(void* dst, int c, size_t len, unsigned flags) {
  FillWords(dst, c, len);
  if (NeedsDrain(flags)) Fence();
  return dst;
}

void* MemmoveLibc(void* dst, const void* src, size_t len, unsigned flags) {
  std::memmove(dst, src, len);
  if (NeedsDrain(flags)) Fence();
  return dst;
}

void* MemsetLibc(void* dst, int c, size_t len, unsigned flags) {
  std::memset(dst, c, len);
  if (NeedsDrain(flags)) Fence();
  return dst;
}

PersistOps MakeOps() {
  const bool libc = ProcessEnvOverrides().no_generic_memcpy;
  PersistOps ops{};
  ops.persist = PersistFence;
  ops.flush = Nop;
  ops.drain = Fence;
  ops.memmove = libc ? MemmoveLibc : MemmoveWords;
  ops.memset = libc ? MemsetLibc : MemsetWords;
  ops.flush_name = "none";
  ops.drain_name = "fence";
  ops.memmove_name = libc ? "libc" : "generic";
  ops.memset_name = libc ? "libc" : "generic";
  // No write-back instruction: cache-line mappings fall back to msync (PMEM_NO_FLUSH=1 is libpmem's word only:
  // x86_64/ops.cc).
  ops.writes_back_cache_lines = false;
  return ops;
}

const char* ArchName() {
#if defined(__aarch64__)
  return "aarch64";
#elif defined(__powerpc64__)
  return "ppc64";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__x86_64__)
  return "x86_64";
#else
  return "unknown";
#endif
}

}  // namespace

void CopyWords(void* dst, const void* src, size_t len) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  if (d == s || len == 0) return;
  // Forward is safe unless the destination starts inside the source.
  if (reinterpret_cast<uintptr_t>(d) - reinterpret_cast<uintptr_t>(s) >= len) {
    for (; len > 0 && (reinterpret_cast<uintptr_t>(d) & 7) != 0; --len) *reinterpret_cast<Byte*>(d++) = *s++;
    for (; len >= 8; len -= 8, d += 8, s += 8) *reinterpret_cast<Word*>(d) = LoadWord(s);
    for (; len > 0; --len) *reinterpret_cast<Byte*>(d++) = *s++;
  } else {
    d += len;
    s += len;
    for (; len > 0 && (reinterpret_cast<uintptr_t>(d) & 7) != 0; --len) *reinterpret_cast<Byte*>(--d) = *--s;
    for (; len >= 8; len -= 8) {
      d -= 8;
      s -= 8;
      *reinterpret_cast<Word*>(d) = LoadWord(s);
    }
    for (; len > 0; --len) *reinterpret_cast<Byte*>(--d) = *--s;
  }
}

void FillWords(void* dst, int c, size_t len) {
  auto* d = static_cast<unsigned char*>(dst);
  const auto byte = static_cast<unsigned char>(c);
  const uint64_t word = 0x0101010101010101ull * byte;
  for (; len > 0 && (reinterpret_cast<uintptr_t>(d) & 7) != 0; --len) *reinterpret_cast<Byte*>(d++) = byte;
  for (; len >= 8; len -= 8, d += 8) *reinterpret_cast<Word*>(d) = word;
  for (; len > 0; --len) *reinterpret_cast<Byte*>(d++) = byte;
}

void Fence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

namespace {
internal::ForkSafeLazy<PersistOps> cache_line_ops;  // fork-safe (fork_safe_lazy.h)
}  // namespace

const PersistOps& CacheLineOps() {
  return cache_line_ops.Get([] { return std::make_unique<PersistOps>(MakeOps()); });
}

const PersistOps& ByteOps() {
  // Without a write-back instruction both tables are the same: copy, then order.
  return CacheLineOps();
}

std::string DescribeCpu() {
  std::string out = "generic (";
  out += ArchName();
  out += "): no cache write-back";
  const std::string& overrides = ProcessEnvOverrides().description;
  if (!overrides.empty()) out += "; overrides: " + overrides;
  return out;
}

}  // namespace generic
}  // namespace arch
}  // namespace pmem2
