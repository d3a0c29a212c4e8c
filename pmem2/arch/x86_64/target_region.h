// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/x86_64/target_region.h
// -----------------------------------------------------------------------------
//
// PMEM2_BEGIN_TARGET("avx") ... PMEM2_END_TARGET(): every function defined between them is compiled for that
// instruction set, with GCC (#pragma GCC target) and with clang (#pragma clang attribute, which GCC's pragma does not
// do there: clang refused the intrinsics inside). The build adds no -m flag (bazel/copts.bzl), so the rest of the
// library and its consumers run on any x86-64 CPU; only code the engine selects after checking the CPU lies within.
// GCC's pragma also defines the ISA's macros (__AVX__, __AVX512F__) inside the region and clang's attribute does not:
// code within must not test them.

#ifndef PMEM2_ARCH_X86_64_TARGET_REGION_H_
#define PMEM2_ARCH_X86_64_TARGET_REGION_H_

#define PMEM2_TARGET_PRAGMA(tokens) _Pragma(#tokens)

#if defined(__clang__)
#define PMEM2_BEGIN_TARGET(isa) \
  PMEM2_TARGET_PRAGMA(clang attribute push(__attribute__((target(isa))), apply_to = function))
#define PMEM2_END_TARGET() PMEM2_TARGET_PRAGMA(clang attribute pop)
#else
#define PMEM2_BEGIN_TARGET(isa) PMEM2_TARGET_PRAGMA(GCC push_options) PMEM2_TARGET_PRAGMA(GCC target(isa))
#define PMEM2_END_TARGET() PMEM2_TARGET_PRAGMA(GCC pop_options)
#endif

#endif  // PMEM2_ARCH_X86_64_TARGET_REGION_H_
