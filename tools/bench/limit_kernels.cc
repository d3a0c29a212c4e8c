// Copyright 2026 The pmem2 Authors.
//
// tools/bench/limit_kernels.cc
// -----------------------------------------------------------------------------
//
// The parts of the limit that are the same on every CPU: msync for page granularity, the copies and fills made
// durable by it, and the names of the cache-line strategies. The CPU-specific kernels are in
// limit_kernels_x86_64.cc or limit_kernels_generic.cc, chosen by the BUILD select().

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>

#include "tools/bench/limit_kernels.h"

namespace pmem2 {
namespace bench {

void LimitPersistPage(const void* ptr, size_t len) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t start = reinterpret_cast<uintptr_t>(ptr) & ~(page - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(ptr) + len;
  msync(reinterpret_cast<void*>(start), end - start, MS_SYNC);
}

void* LimitMemcpyPage(void* dst, const void* src, size_t len, unsigned flags) {
  LimitMemcpy(dst, src, len, flags);
  LimitPersistPage(dst, len);
  return dst;
}

void* LimitMemsetPage(void* dst, int c, size_t len, unsigned flags) {
  LimitMemset(dst, c, len, flags);
  LimitPersistPage(dst, len);
  return dst;
}

void* GlibcMemcpyPage(void* dst, const void* src, size_t len, unsigned /*flags*/) {
  std::memcpy(dst, src, len);
  LimitPersistPage(dst, len);
  return dst;
}

void* GlibcMemsetPage(void* dst, int c, size_t len, unsigned /*flags*/) {
  std::memset(dst, c, len);
  LimitPersistPage(dst, len);
  return dst;
}

const std::vector<LimitStrategy>& PageLimitStrategies() {
  static const std::vector<LimitStrategy>* const strategies = new std::vector<LimitStrategy>{
      {"nt+msync", LimitMemcpyPage, LimitMemsetPage},
      {"glibc+msync", GlibcMemcpyPage, GlibcMemsetPage},
  };
  return *strategies;
}

const std::vector<std::string>& KnownLimitStrategyNames() {
  static const std::vector<std::string>* const names = new std::vector<std::string>{
      "nt",
      "nt-avx512",
      "nt-avx512-batch",
      "store+clwb",
      "store-all+clwb",
      "store+clflushopt",
      "store-all+clflushopt",
      "store+clflush",
      "store-all+clflush",
      "movdir64b",
      "memcpy",
  };
  return *names;
}

}  // namespace bench
}  // namespace pmem2
