// Copyright 2026 The pmem2 Authors.
//
// pmem2/arch/cpu_description.h
// -----------------------------------------------------------------------------
//
// A one-line, human-readable account of what the persistence engine found on this CPU and which PMEM_*
// environment overrides it honoured, for `pmem2 info` and for bug reports. Example:
//
//   x86_64: sse2 avx avx2 avx512f clflush clflushopt clwb; overrides: PMEM_NO_CLWB=1
//
// The text is for people; its format may change between releases, so do not parse it.

#ifndef PMEM2_ARCH_CPU_DESCRIPTION_H_
#define PMEM2_ARCH_CPU_DESCRIPTION_H_

#include <string>

namespace pmem2 {
namespace arch {

// Thread-safe. Detection runs at most once per process; later calls only format.
std::string DescribeCpu();

}  // namespace arch
}  // namespace pmem2

#endif  // PMEM2_ARCH_CPU_DESCRIPTION_H_
