// Copyright 2026 The pmem2 Authors.
//
// Selection: which flush instruction, kernel level and threshold a (CPU features, PMEM_* environment) pair
// gets. Uses synthetic feature sets: Select() is pure, nothing here executes the selected code.

#include "pmem2/arch/x86_64/ops.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace {

CpuFeatures Zen4() {
  CpuFeatures f;
  f.sse2 = f.avx = f.avx2 = f.avx512f = f.clflush = f.clflushopt = f.clwb = true;
  return f;
}

EnvOverrides FromEnv(const char* name, const char* value) {
  ::setenv(name, value, 1);
  EnvOverrides o = ReadEnvOverrides();
  ::unsetenv(name);
  return o;
}

TEST(SelectTest, BestOfEverything) {
  const Selection s = Select(Zen4(), EnvOverrides());
  EXPECT_STREQ(s.cache_line.flush_name, "clwb");
  EXPECT_STREQ(s.cache_line.drain_name, "sfence");
  EXPECT_STREQ(s.cache_line.memmove_name, "avx nt >= 64 B");
  EXPECT_STREQ(s.byte.flush_name, "none");
  EXPECT_STREQ(s.byte.memmove_name, "avx nt >= 8 MiB");
  EXPECT_EQ(s.cache_line_nt_threshold, kDefaultCacheLineNtThreshold);
  EXPECT_EQ(s.description, "x86_64: sse2 avx avx2 avx512f clflush clflushopt clwb");
}

TEST(SelectTest, FlushFallbacks) {
  CpuFeatures f = Zen4();
  EXPECT_STREQ(Select(f, FromEnv("PMEM_NO_CLWB", "1")).cache_line.flush_name, "clflushopt");
  EnvOverrides both = FromEnv("PMEM_NO_CLWB", "1");
  both.no_clflushopt = true;
  EXPECT_STREQ(Select(f, both).cache_line.flush_name, "clflush");
  EXPECT_STREQ(Select(f, both).cache_line.drain_name, "mfence") << "AMD orders CLFLUSH only with MFENCE";
  EXPECT_STREQ(Select(f, FromEnv("PMEM_NO_CLWB", "1")).cache_line.drain_name, "sfence");
  f.clwb = false;
  EXPECT_STREQ(Select(f, EnvOverrides()).cache_line.flush_name, "clflushopt");
  f.clflushopt = false;
  EXPECT_STREQ(Select(f, EnvOverrides()).cache_line.flush_name, "clflush");
  EXPECT_STREQ(Select(f, EnvOverrides()).cache_line.drain_name, "mfence");
  // PMEM_NO_CLFLUSHOPT does not disable CLWB.
  EXPECT_STREQ(Select(Zen4(), FromEnv("PMEM_NO_CLFLUSHOPT", "1")).cache_line.flush_name, "clwb");
}

TEST(SelectTest, NoFlushMakesCacheLineLikeByte) {
  const Selection s = Select(Zen4(), FromEnv("PMEM_NO_FLUSH", "1"));
  EXPECT_STREQ(s.cache_line.flush_name, "none");
  EXPECT_EQ(s.cache_line.memmove, s.byte.memmove);
  EXPECT_EQ(s.description, "x86_64: sse2 avx avx2 avx512f clflush clflushopt clwb; overrides: PMEM_NO_FLUSH=1");
}

// Deep flush writes cache lines back even where PMEM_NO_FLUSH=1 says the platform does, with the instruction
// the other overrides allow.
TEST(SelectTest, WriteBackIgnoresNoFlushButHonoursTheInstructionOverrides) {
  const Selection plain = Select(Zen4(), EnvOverrides());
  EXPECT_EQ(plain.write_back, plain.cache_line.flush);
  EXPECT_EQ(Select(Zen4(), FromEnv("PMEM_NO_FLUSH", "1")).write_back, plain.cache_line.flush);
  const Selection no_clwb = Select(Zen4(), FromEnv("PMEM_NO_CLWB", "1"));
  EXPECT_STREQ(no_clwb.cache_line.flush_name, "clflushopt");
  EXPECT_EQ(no_clwb.write_back, no_clwb.cache_line.flush);
  EXPECT_NE(no_clwb.write_back, plain.write_back);
  CpuFeatures none = Zen4();
  none.clflush = none.clflushopt = none.clwb = false;
  EXPECT_EQ(Select(none, EnvOverrides()).write_back, nullptr);
}

TEST(SelectTest, IsaLevels) {
  EXPECT_STREQ(Select(Zen4(), FromEnv("PMEM_AVX", "0")).isa, "sse2");
  CpuFeatures f = Zen4();
  f.avx = f.avx2 = f.avx512f = false;
  EXPECT_STREQ(Select(f, EnvOverrides()).isa, "sse2");
  f.sse2 = false;
  EXPECT_STREQ(Select(f, EnvOverrides()).isa, "generic");
  EXPECT_STREQ(Select(f, EnvOverrides()).cache_line.memmove_name, "generic");
  EXPECT_STREQ(Select(f, FromEnv("PMEM_NO_GENERIC_MEMCPY", "1")).cache_line.memmove_name, "libc");
  // AVX-512 and MOVDIR64B kernels do not exist; their switches change nothing but the description.
  const Selection s = Select(Zen4(), FromEnv("PMEM_AVX512F", "0"));
  EXPECT_STREQ(s.isa, "avx");
}

TEST(SelectTest, MovntSwitches) {
  const Selection no_movnt = Select(Zen4(), FromEnv("PMEM_NO_MOVNT", "1"));
  EXPECT_STREQ(no_movnt.cache_line.memmove_name, "avx temporal (PMEM_NO_MOVNT)");
  const Selection s = Select(Zen4(), FromEnv("PMEM_MOVNT_THRESHOLD", "1024"));
  EXPECT_EQ(s.cache_line_nt_threshold, 1024u);
  EXPECT_EQ(s.byte_nt_threshold, 1024u);
  EXPECT_STREQ(s.cache_line.memmove_name, "avx nt >= 1 KiB");
}

TEST(SelectTest, SameInputsSameFunctions) {
  const Selection a = Select(Zen4(), EnvOverrides());
  const Selection b = Select(Zen4(), EnvOverrides());
  EXPECT_EQ(a.cache_line.memmove, b.cache_line.memmove);
  EXPECT_EQ(a.cache_line.memmove_name, b.cache_line.memmove_name);  // interned
}

TEST(CpuFeaturesTest, DetectionIsConsistent) {
  const CpuFeatures f = DetectCpuFeatures();
  EXPECT_TRUE(f.sse2);  // architectural on x86-64
  EXPECT_TRUE(f.clflush);
  if (f.avx2 || f.avx512f) {
    EXPECT_TRUE(f.avx);
  }
  EXPECT_EQ(f.Names(), ProcessCpuFeatures().Names());
}

}  // namespace
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
