"""Compiler options shared by every pmem2 target.

No ISA flags here (no -mavx2, -mclwb, ...): they would reach consumers' builds of pmem2 and could make the
library crash on older CPUs. Instruction-set-specific code uses __attribute__((target(...))) per function.
"""

PMEM2_COPTS = [
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Wshadow",
    "-Wnon-virtual-dtor",
    "-Wcast-align",
    "-Wundef",
    # Abseil's and GoogleTest's headers use unused parameters in templates; ours are checked by -Wextra.
]

PMEM2_TEST_COPTS = PMEM2_COPTS + [
    # GoogleTest's TYPED_TEST/INSTANTIATE macros trip this with GCC 12.
    "-Wno-unused-parameter",
]
