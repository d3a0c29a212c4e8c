// Copyright 2026 The pmem2 Authors.
//
// testing/reservation_step_pause.h
// -----------------------------------------------------------------------------
//
// Test-only: holds a reservation's claim in one of its in-between states (pending, releasing) so that a test can
// look at it from another thread or from a forked child. ScopedStepPause runs a body in a thread of its own, which
// stops at one step of ReservationState (its test hook, SetStepHookForTest) until Finish(); the destructor
// finishes too, so a failed assertion leaves no thread behind. Only the pause's own thread stops: the hook is
// called by every thread, in every reservation. One pause at a time per process.
//
//   ScopedStepPause releasing(Step::kReleasing, [&map] { map.reset(); });
//   ASSERT_TRUE(releasing.WaitUntilReached());
//   ...  // look at the reservation, fork, ...
//   releasing.Finish();

#ifndef PMEM2_TESTING_RESERVATION_STEP_PAUSE_H_
#define PMEM2_TESTING_RESERVATION_STEP_PAUSE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "pmem2/vm_reservation/reservation_state.h"

namespace pmem2 {
namespace testing {

class ScopedStepPause {
 public:
  using Step = vm_reservation_internal::ReservationState::Step;

  template <typename Body>
  ScopedStepPause(Step step, Body body) : step_(step) {
    active_ = this;
    vm_reservation_internal::ReservationState::SetStepHookForTest(&Hook);
    thread_ = std::thread([body] {
      pauses_here_ = true;
      body();
    });
  }
  ScopedStepPause(const ScopedStepPause&) = delete;
  ScopedStepPause& operator=(const ScopedStepPause&) = delete;
  ~ScopedStepPause() {
    Finish();
    vm_reservation_internal::ReservationState::SetStepHookForTest(nullptr);
    active_ = nullptr;
  }

  // False if the thread has not reached the step within 20 s.
  bool WaitUntilReached() {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(20), [this] { return reached_; });
  }
  // Lets the thread go on, and waits for it to end.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      resumed_ = true;
      changed_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  static void Hook(Step step, uintptr_t) {
    ScopedStepPause* pause = active_;
    if (!pauses_here_ || pause == nullptr || step != pause->step_) return;
    std::unique_lock<std::mutex> lock(pause->mutex_);
    pause->reached_ = true;
    pause->changed_.notify_all();
    pause->changed_.wait(lock, [pause] { return pause->resumed_; });
  }

  static inline std::atomic<ScopedStepPause*> active_{nullptr};
  static inline thread_local bool pauses_here_ = false;
  const Step step_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool reached_ = false;
  bool resumed_ = false;
  std::thread thread_;  // last: started once the rest is ready
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_RESERVATION_STEP_PAUSE_H_
