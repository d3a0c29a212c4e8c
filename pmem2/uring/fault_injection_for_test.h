// Copyright 2026 The pmem2 Authors.
//
// pmem2/uring/fault_injection_for_test.h
// -----------------------------------------------------------------------------
//
// Test-only: makes an AsyncPersister see kernel results it cannot otherwise be shown (EIO, ENOSPC, EINTR, short
// writes, a full submission ring), so tests can prove that every failure surfaces and nothing aborts. The same
// hooks apply to both backends (io_uring completions and the synchronous system calls).

#ifndef PMEM2_URING_FAULT_INJECTION_FOR_TEST_H_
#define PMEM2_URING_FAULT_INJECTION_FOR_TEST_H_

#include <cstddef>
#include <cstdint>

#include "pmem2/uring/async_persister.h"

namespace pmem2 {
namespace uring_internal {

enum class KernelOp {
  kSync,   // a ranged data sync: 0 or -errno
  kWrite,  // a write of `requested` bytes: bytes written or -errno
};

struct FaultInjection {
  // Called with each kernel result before the engine uses it; returns the result to use instead.
  int (*rewrite_result)(void* context, KernelOp op, int result, uint32_t requested) = nullptr;
  // The synchronous backend: called with what the engine's own description answered, after the mappings' msyncs, when
  // asked for the file's write-back errors (SYNC_FILE_RANGE_WAIT_AFTER, or fdatasync where that is refused or a Map
  // is gone): 0 or an errno; returns the errno to use instead.
  int (*rewrite_write_back_wait)(void* context, int error) = nullptr;
  // Called whenever the engine wants a submission entry; true makes it behave as if the ring had none free.
  bool (*ring_full)(void* context) = nullptr;
  void* context = nullptr;
};

// `injection` (may be null: none) must outlive its use by `engine`.
void SetFaultInjectionForTest(AsyncPersister& engine, const FaultInjection* injection);

// The engine's own descriptor of its file (-1: none, a moved-from engine or the CPU backend).
int EngineDescriptorForTest(const AsyncPersister& engine);

// How many descriptors of destroyed engines are kept open because the process held a record lock on their file.
size_t ParkedDescriptionCountForTest();

// Calls `hook` (null: nothing) in every engine's end that has descriptors to check (its own, the parked ones), after
// reading the table and before the record lock queries and closes, outside the lock that fork() takes.
void SetReleaseCheckHookForTest(void (*hook)());

}  // namespace uring_internal
}  // namespace pmem2

#endif  // PMEM2_URING_FAULT_INJECTION_FOR_TEST_H_
