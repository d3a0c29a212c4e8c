// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/ops_for_test.h
// -----------------------------------------------------------------------------
//
// Test seam of the x86-64 backend (target //pmem2/arch/x86_64:ops_for_test, testonly), used by testing/cpu's
// ScopedCpuFeatures to run tests once per instruction set the CPU has, and by ops_test to check the functions a
// selection holds.

#ifndef PMEM2_ARCH_X86_64_OPS_FOR_TEST_H_
#define PMEM2_ARCH_X86_64_OPS_FOR_TEST_H_

#include "pmem2/arch/x86_64/ops.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {

// Makes CacheLineOps() / ByteOps() / DescribeCpu() return `selection` (nullptr: back to the process-wide one)
// and makes the kernels use its thresholds. Not thread-safe with concurrent copies; the caller keeps
// `selection` alive until it restores.
void InstallSelectionForTest(const Selection* selection);

// The functions Select() can put in a cache-line table (and in write_back), taken in ops.cc as Select() takes them:
// where the library is a shared object, a test's own &Persist<ClwbLine> may be another copy of the instantiation.
// Select() sets the pointers apart from the names, so only a check of the pointers finds a wrong one.
struct LineFunctionsForTest {
  PersistFn persist;  // Persist<Line> (flush.h)
  FlushFn flush;      // Flush<Line>
};
LineFunctionsForTest ClwbFunctionsForTest();
LineFunctionsForTest ClflushoptFunctionsForTest();
LineFunctionsForTest ClflushFunctionsForTest();
DrainFn DrainSfenceForTest();
DrainFn DrainMfenceForTest();

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_X86_64_OPS_FOR_TEST_H_
