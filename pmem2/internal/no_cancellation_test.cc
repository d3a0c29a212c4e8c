// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/no_cancellation.h"

#include <pthread.h>

#include "gtest/gtest.h"

namespace pmem2 {
namespace internal {
namespace {

int CancelState() {
  int state = -1;
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &state);  // read it...
  pthread_setcancelstate(state, nullptr);                 // ...and put it back
  return state;
}

// Disabled while alive, nested scopes included; then as it was, whichever state that was.
TEST(ScopedNoCancellationTest, NestsAndPutsTheStateBack) {
  ASSERT_EQ(CancelState(), PTHREAD_CANCEL_ENABLE);
  {
    const ScopedNoCancellation outer;
    EXPECT_EQ(CancelState(), PTHREAD_CANCEL_DISABLE);
    {
      const ScopedNoCancellation inner;
      EXPECT_EQ(CancelState(), PTHREAD_CANCEL_DISABLE);
    }
    EXPECT_EQ(CancelState(), PTHREAD_CANCEL_DISABLE) << "the inner scope's end re-enabled cancellation";
  }
  EXPECT_EQ(CancelState(), PTHREAD_CANCEL_ENABLE);
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);  // a caller that had disabled it itself
  { const ScopedNoCancellation scope; }
  EXPECT_EQ(CancelState(), PTHREAD_CANCEL_DISABLE);
  pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, nullptr);
}

}  // namespace
}  // namespace internal
}  // namespace pmem2
