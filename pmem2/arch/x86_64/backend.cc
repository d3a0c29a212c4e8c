// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/backend.h for x86-64.

#include "pmem2/arch/backend.h"

#include <cstring>

#include "pmem2/arch/x86_64/ops.h"

namespace pmem2 {
namespace arch {
namespace backend {

const PersistOps& CacheLineOps() { return x86_64::CacheLineOps(); }
const PersistOps& ByteOps() { return x86_64::ByteOps(); }
FlushFn WriteBackFlush() { return x86_64::WriteBackFlush(); }
PageCopyThresholds PageThresholds() {
  const x86_64::Selection& s = x86_64::CurrentSelection();
  return {s.page_nt_threshold, s.page_ahead_nt_threshold, s.page_far_nt_threshold, s.page_string_from,
          s.page_string_below};
}
// The C library's memmove: glibc's takes rep movsb in this range on CPUs with fast strings, with alignment and
// aliasing rules of its own that beat a bare rep movsb by 6-12 % on Zen 5 at sequential 4-8 KiB (three of four runs)
// (tools/bench/results/amd-26-2.md, "String instructions for page copies").
void* StringMemmove(void* dst, const void* src, size_t len) { return std::memmove(dst, src, len); }
// A bare rep stosb: ahead of glibc's memset (which takes it too from 2 KiB) at sequential 4-8 KiB in the same runs.
void* StringMemset(void* dst, int c, size_t len) {
  void* d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(len) : "a"(c) : "memory");
  return dst;
}
std::string DescribeCpu() { return x86_64::DescribeCpu(); }

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
