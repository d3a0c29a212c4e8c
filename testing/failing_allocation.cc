// Copyright 2026 The pmem2 Authors.

#include "testing/failing_allocation.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace pmem2 {
namespace testing {
namespace {

// Plain thread-locals (constant-initialized): an allocation must not allocate to find them.
thread_local bool armed = false;
thread_local int64_t countdown = 0;  // allocations left before the one that fails
thread_local int64_t counted = 0;
thread_local bool failed_once = false;

// Whether this allocation is the chosen one.
bool FailThisOne() {
  if (!armed) return false;
  ++counted;
  if (failed_once || --countdown != 0) return false;
  failed_once = true;
  return true;
}

void* Allocate(size_t size, size_t alignment) {
  if (FailThisOne()) return nullptr;
  if (size == 0) size = 1;
  if (alignment <= alignof(std::max_align_t)) return std::malloc(size);
  void* p = nullptr;
  return posix_memalign(&p, alignment, size) == 0 ? p : nullptr;
}

void* AllocateOrThrow(size_t size, size_t alignment) {
  void* p = Allocate(size, alignment);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

FailNthAllocation::FailNthAllocation(int64_t n) {
  countdown = n;
  counted = 0;
  failed_once = false;
  armed = n >= 1;
}

FailNthAllocation::~FailNthAllocation() { armed = false; }

bool FailNthAllocation::failed() const { return failed_once; }

int64_t FailNthAllocation::allocations() const { return counted; }

void FailNthAllocation::Disarm() { armed = false; }

}  // namespace testing
}  // namespace pmem2

using pmem2::testing::AllocateOrThrow;

void* operator new(size_t size) { return AllocateOrThrow(size, 0); }
void* operator new[](size_t size) { return AllocateOrThrow(size, 0); }
void* operator new(size_t size, std::align_val_t alignment) {
  return AllocateOrThrow(size, static_cast<size_t>(alignment));
}
void* operator new[](size_t size, std::align_val_t alignment) {
  return AllocateOrThrow(size, static_cast<size_t>(alignment));
}
void* operator new(size_t size, const std::nothrow_t&) noexcept { return pmem2::testing::Allocate(size, 0); }
void* operator new[](size_t size, const std::nothrow_t&) noexcept { return pmem2::testing::Allocate(size, 0); }
void* operator new(size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return pmem2::testing::Allocate(size, static_cast<size_t>(alignment));
}
void* operator new[](size_t size, std::align_val_t alignment, const std::nothrow_t&) noexcept {
  return pmem2::testing::Allocate(size, static_cast<size_t>(alignment));
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { std::free(p); }
