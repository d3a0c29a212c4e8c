// Copyright 2026 The pmem2 Authors.
//
// testing/fuzz/driver.h
// -----------------------------------------------------------------------------
//
// Fuzz targets in pmem2 define the libFuzzer entry point,
//
//   extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
//
// in a cc_library of their own, and are linked two ways:
//
// - into a cc_test with //testing/fuzz:driver, whose main() runs the target over the files named on its command
//   line (a directory: every file in it; committed crash reproducers and seeds) and then over pseudo-random inputs
//   from a fixed seed (--fuzz_runs, --fuzz_seed, --fuzz_max_len), so `bazel test` and CI run every target
//   deterministically under each sanitizer configuration, with no compiler support needed;
// - into a libFuzzer binary (clang's -fsanitize=fuzzer supplies main()) by scripts/fuzz.sh, for coverage-guided
//   runs of any length on a developer's machine.
//
// A target reports a defect by aborting (a failed check prints what differed first); returning is success. It must
// carry no state from one input to the next that a failure could depend on, so that each input replays alone. The
// driver names the input that was running when the process received a fatal signal and writes it to
// TEST_UNDECLARED_OUTPUTS_DIR (under `bazel test`: bazel-testlogs/<package>/<target>/test.outputs/outputs.zip,
// fuzz-crash-input), to give on the test's command line to replay it.

#ifndef PMEM2_TESTING_FUZZ_DRIVER_H_
#define PMEM2_TESTING_FUZZ_DRIVER_H_

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#endif  // PMEM2_TESTING_FUZZ_DRIVER_H_
