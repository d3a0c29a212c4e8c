// Copyright 2026 The pmem2 Authors.
//
// pmem2/internal/fork_safe_lazy.h (internal to pmem2)
// -----------------------------------------------------------------------------
//
// A value made at its first use that fork() cannot leave half made. A C++ function-local static is made under a
// guard that other threads wait on: a child forked while another thread ran its initializer finds the guard
// taken for good (that thread is not in the child), and the child's first call that needs the value hangs. The
// library's one-time detections (the CPU's features, the environment, the copy functions chosen from them, the
// persistence domain in sysfs, libpmem's log) are made at first use, since the environment may be set by the
// program before it, so they cannot be made when the library loads either.
//
// ForkSafeLazy holds no lock while it makes the value: threads that find none each make one, the first to publish
// it wins, and the others' are destroyed. In a child forked while another thread was making it, the child makes
// its own. So `make` must be safe to run more than once, at the same time in several threads, and must give
// equal values: it reads what does not change while threads race to make it (CPUID; the environment, which a
// program may not change with setenv() while other threads read it; sysfs). Its side effects, if any, must be
// the same whoever wins (the x86-64 selection makes its thresholds current in each maker; libpmem's log opens its
// file in each maker and closes the losers', so a PMEM_LOG_FILE that is a FIFO is opened once per racer).
//
// Declare one at namespace scope: its constructor is constexpr, so it is constant-initialized (no first-use guard
// of its own) and usable from any other static initializer; it is never destroyed (the value outlives static
// destructors, as the library's other process-wide state does).
//
//   internal::ForkSafeLazy<CpuFeatures> process_features;
//   const CpuFeatures& ProcessCpuFeatures() {
//     return process_features.Get([] { return std::make_unique<CpuFeatures>(DetectCpuFeatures()); });
//   }

#ifndef PMEM2_INTERNAL_FORK_SAFE_LAZY_H_
#define PMEM2_INTERNAL_FORK_SAFE_LAZY_H_

#include <atomic>
#include <memory>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"

namespace pmem2 {
namespace internal {

template <typename T>
class ForkSafeLazy {
 public:
  constexpr ForkSafeLazy() = default;
  ForkSafeLazy(const ForkSafeLazy&) = delete;
  ForkSafeLazy& operator=(const ForkSafeLazy&) = delete;

  // The published value; if there is none yet, `make()` (returning std::unique_ptr<T>, never null) makes one.
  // After the first publication, one acquire load.
  template <typename Make>
  ABSL_ATTRIBUTE_ALWAYS_INLINE const T& Get(Make&& make) {
    const T* value = value_.load(std::memory_order_acquire);
    if (ABSL_PREDICT_TRUE(value != nullptr)) return *value;
    return Publish(make());
  }

 private:
  ABSL_ATTRIBUTE_NOINLINE const T& Publish(std::unique_ptr<T> made) {
    const T* expected = nullptr;
    if (value_.compare_exchange_strong(expected, made.get(), std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
      return *made.release();
    }
    return *expected;  // another thread's, published first; `made` is destroyed
  }

  std::atomic<const T*> value_{nullptr};
};

}  // namespace internal
}  // namespace pmem2

#endif  // PMEM2_INTERNAL_FORK_SAFE_LAZY_H_
