// Copyright 2026 The pmem2 Authors.

#include "testing/cpu/scoped_cpu_features.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

#include "pmem2/arch/x86_64/ops_for_test.h"

namespace pmem2 {
namespace testing {
namespace {

using arch::x86_64::CpuFeatures;

bool IsSubset(const CpuFeatures& a, const CpuFeatures& b) {
  return (!a.sse2 || b.sse2) && (!a.avx || b.avx) && (!a.avx2 || b.avx2) && (!a.avx512f || b.avx512f) &&
         (!a.clflush || b.clflush) && (!a.clflushopt || b.clflushopt) && (!a.clwb || b.clwb) &&
         (!a.movdir64b || b.movdir64b);
}

}  // namespace

const char* IsaLevelName(IsaLevel level) {
  switch (level) {
    case IsaLevel::kGeneric:
      return "generic";
    case IsaLevel::kSse2:
      return "sse2";
    case IsaLevel::kAvx:
      return "avx";
    case IsaLevel::kAvx512:
      return "avx512";
  }
  return "?";
}

const char* FlushInstructionName(FlushInstruction flush) {
  switch (flush) {
    case FlushInstruction::kClflush:
      return "clflush";
    case FlushInstruction::kClflushopt:
      return "clflushopt";
    case FlushInstruction::kClwb:
      return "clwb";
  }
  return "?";
}

bool CpuHas(IsaLevel level) {
  const CpuFeatures& cpu = arch::x86_64::ProcessCpuFeatures();
  switch (level) {
    case IsaLevel::kGeneric:
      return true;
    case IsaLevel::kSse2:
      return cpu.sse2;
    case IsaLevel::kAvx:
      return cpu.avx;
    case IsaLevel::kAvx512:
      return cpu.avx512f;
  }
  return false;
}

bool CpuHas(FlushInstruction flush) {
  const CpuFeatures& cpu = arch::x86_64::ProcessCpuFeatures();
  switch (flush) {
    case FlushInstruction::kClflush:
      return cpu.clflush;
    case FlushInstruction::kClflushopt:
      return cpu.clflushopt;
    case FlushInstruction::kClwb:
      return cpu.clwb;
  }
  return false;
}

CpuFeatures RestrictedFeatures(IsaLevel level, FlushInstruction flush) {
  CpuFeatures f = arch::x86_64::ProcessCpuFeatures();
  if (level < IsaLevel::kAvx512) f.avx512f = false;
  if (level < IsaLevel::kAvx) f.avx = f.avx2 = false;
  if (level < IsaLevel::kSse2) f.sse2 = false;
  if (flush < FlushInstruction::kClwb) f.clwb = false;
  if (flush < FlushInstruction::kClflushopt) f.clflushopt = false;
  return f;
}

ScopedCpuFeatures::ScopedCpuFeatures(const CpuFeatures& features, const arch::EnvOverrides& overrides)
    : selection_(arch::x86_64::Select(features, overrides)) {
  if (!IsSubset(features, arch::x86_64::ProcessCpuFeatures())) {
    std::fprintf(stderr, "ScopedCpuFeatures: asked for \"%s\" but this CPU has only \"%s\"\n",
                 features.Names().c_str(), arch::x86_64::ProcessCpuFeatures().Names().c_str());
    std::abort();
  }
  arch::x86_64::InstallSelectionForTest(&selection_);
}

namespace {

arch::EnvOverrides ForLevel(IsaLevel level, arch::EnvOverrides overrides) {
  if (level == IsaLevel::kAvx512) overrides.force_avx512f = true;
  return overrides;
}

}  // namespace

ScopedCpuFeatures::ScopedCpuFeatures(IsaLevel level, FlushInstruction flush, const arch::EnvOverrides& overrides)
    : ScopedCpuFeatures(RestrictedFeatures(level, flush), ForLevel(level, overrides)) {}

ScopedCpuFeatures::ScopedCpuFeatures(arch::x86_64::Selection selection) : selection_(std::move(selection)) {
  arch::x86_64::InstallSelectionForTest(&selection_);
}

ScopedCpuFeatures::~ScopedCpuFeatures() { arch::x86_64::InstallSelectionForTest(nullptr); }

}  // namespace testing
}  // namespace pmem2
