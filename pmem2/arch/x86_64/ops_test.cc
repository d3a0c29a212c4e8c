// Copyright 2026 The pmem2 Authors.
//
// Selection: which flush instruction, kernel level and threshold a (CPU features, PMEM_* environment) pair
// gets. Uses synthetic feature sets: Select() is pure, nothing here executes the selected code.

#include "pmem2/arch/x86_64/ops.h"

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/arch/x86_64/kernel_table.h"
#include "pmem2/arch/x86_64/ops_for_test.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace {

CpuFeatures Zen4() {
  CpuFeatures f;
  f.vendor = CpuVendor::kAmd;
  f.family = 25;
  f.model = 17;
  f.sse2 = f.avx = f.avx2 = f.avx512f = f.clflush = f.clflushopt = f.clwb = true;
  return f;
}

CpuFeatures Intel(unsigned model) {
  CpuFeatures f = Zen4();
  f.vendor = CpuVendor::kIntel;
  f.family = 6;
  f.model = model;
  f.movdir64b = true;
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

// PMEM_NO_FLUSH=1 is libpmem's word that the platform writes caches back (arch.cc's LibpmemOps takes the byte
// table then); the cache-line table, a Map's, writes lines back whatever it says, as libpmem2 (which does not read
// it) does. It was the byte table once: a variable set for libpmem made a libpmem2 program's persists a bare fence.
TEST(SelectTest, NoFlushLeavesTheCacheLineTableWritingBack) {
  const Selection plain = Select(Zen4(), EnvOverrides());
  const Selection s = Select(Zen4(), FromEnv("PMEM_NO_FLUSH", "1"));
  EXPECT_STREQ(s.cache_line.flush_name, "clwb");
  EXPECT_EQ(s.cache_line.persist, plain.cache_line.persist);
  EXPECT_EQ(s.cache_line.flush, plain.cache_line.flush);
  EXPECT_EQ(s.cache_line.memmove, plain.cache_line.memmove);
  EXPECT_EQ(s.cache_line.memset, plain.cache_line.memset);
  EXPECT_STREQ(s.cache_line.memmove_name, plain.cache_line.memmove_name);
  EXPECT_TRUE(s.cache_line.writes_back_cache_lines);
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

// With CLFLUSH alone, deep flush's write-back fences itself with MFENCE (it is the cache-line persist): under
// PMEM_NO_FLUSH=1 libpmem's drain that follows it is the byte table's SFENCE, which AMD does not order CLFLUSH with.
TEST(SelectTest, AClflushWriteBackEndsWithItsMfence) {
  CpuFeatures f = Zen4();
  f.clflushopt = f.clwb = false;
  const Selection plain = Select(f, EnvOverrides());
  EXPECT_EQ(plain.write_back, plain.cache_line.persist);
  EXPECT_STREQ(plain.cache_line.drain_name, "mfence");
  const Selection no_flush = Select(f, FromEnv("PMEM_NO_FLUSH", "1"));
  EXPECT_STREQ(no_flush.byte.drain_name, "sfence") << "why the write-back must fence itself";
  EXPECT_STREQ(no_flush.cache_line.drain_name, "mfence");
  EXPECT_EQ(no_flush.write_back, plain.cache_line.persist);
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
  // MOVDIR64B kernels do not exist; its switch changes nothing but the description.
  EXPECT_STREQ(Select(Intel(207), FromEnv("PMEM_MOVDIR64B", "0")).isa, "avx512");
  EXPECT_STREQ(Select(Intel(85), FromEnv("PMEM_MOVDIR64B", "1")).isa, "avx");
}

// The AVX-512 kernels are the default only on the CPU kinds where they were measured to win: Intel family 6
// model 167 (cold destinations from 16 KiB, x86_64/results/intel-6-167-avx512.md), AMD family 26 model 2
// (Zen 5: random cold 1-2 KiB, tools/bench/results/amd-26-2.md) and Intel Emerald Rapids (6/207: random cold
// 64 KiB-2 MiB and copies from a cold source, tools/bench/results/intel-6-207.md). Zen 4 (nothing measurable)
// keeps AVX by construction, and so do unknown CPUs. PMEM_AVX=0 and PMEM_AVX512F=0 still turn them off there.
TEST(SelectTest, Avx512DefaultPerCpuKind) {
  EXPECT_STREQ(Select(Zen4(), EnvOverrides()).isa, "avx");
  EXPECT_STREQ(Select(Intel(207), EnvOverrides()).isa, "avx512");
  EXPECT_STREQ(Select(Intel(207), FromEnv("PMEM_AVX512F", "0")).isa, "avx");
  EXPECT_STREQ(Select(Intel(167), EnvOverrides()).isa, "avx512");
  EXPECT_STREQ(Select(Intel(167), FromEnv("PMEM_AVX512F", "0")).isa, "avx");
  EXPECT_STREQ(Select(Intel(167), FromEnv("PMEM_AVX", "0")).isa, "sse2");
  CpuFeatures zen5 = Zen4();
  zen5.family = 26;
  zen5.model = 2;
  EXPECT_STREQ(Select(zen5, EnvOverrides()).isa, "avx512");
  EXPECT_STREQ(Select(zen5, FromEnv("PMEM_AVX512F", "0")).isa, "avx");
  zen5.avx512f = false;  // the OS does not save the ZMM state
  EXPECT_STREQ(Select(zen5, EnvOverrides()).isa, "avx");
  CpuFeatures no_zmm = Intel(167);
  no_zmm.avx512f = false;  // a CPU without it, or an OS that does not save the ZMM state
  EXPECT_STREQ(Select(no_zmm, EnvOverrides()).isa, "avx");
  EXPECT_STREQ(Select(Intel(85), EnvOverrides()).isa, "avx");
  CpuFeatures other = Intel(207);
  other.vendor = CpuVendor::kOther;
  EXPECT_STREQ(Select(other, EnvOverrides()).isa, "avx");
  EXPECT_STREQ(Select(Zen4(), EnvOverrides()).cache_line.memmove_name, "avx nt >= 64 B");
}

// The measured rows of the per-CPU table (ops.cc) and the conservative default for every other CPU kind.
TEST(SelectTest, PerCpuKindRows) {
  const Selection zen4 = Select(Zen4(), EnvOverrides());
  EXPECT_EQ(zen4.cache_line_near_temporal_below, 0u) << "Zen 4: non-temporal from 64 B wherever";
  EXPECT_EQ(zen4.page.rewrite, 0u) << "Zen 4 keeps pmem2/arch's 16 KiB";
  EXPECT_EQ(zen4.page.far, 0u) << "and no history for page copies";
  EXPECT_EQ(zen4.page.fill_rewrite, 0u) << "fills as copies";
  EXPECT_STREQ(zen4.cache_line.memmove_name, "avx nt >= 64 B");

  CpuFeatures turin = Zen4();
  turin.family = 26;
  turin.model = 2;
  const Selection m26_2 = Select(turin, EnvOverrides());
  EXPECT_EQ(m26_2.cache_line_near_temporal_below, 0u) << "Zen 5 (26/2): non-temporal wherever, as Zen 4";
  EXPECT_EQ(m26_2.page.rewrite, kDefaultByteNtThreshold)
      << "page copies: ordinary stores on lines just written, up to the byte tables' 8 MiB";
  EXPECT_EQ(m26_2.page.ahead, size_t{16} << 10) << "ahead: non-temporal copies from 16 KiB";
  EXPECT_EQ(m26_2.page.fill_ahead, size_t{32} << 10) << "and fills from 32 KiB";
  EXPECT_EQ(m26_2.page.far, 8u) << "far: non-temporal from 8 B (a record below a line)";
  EXPECT_EQ(m26_2.page.far_below, kDefaultByteNtThreshold) << "below 8 MiB";
  EXPECT_EQ(m26_2.page.rewrite_back, size_t{128} << 10) << "a rewrite starts up to 128 KiB back";
  EXPECT_TRUE(m26_2.page.rewrite_covering) << "or covers the last line written";
  EXPECT_FALSE(m26_2.page.run_on_is_ahead) << "not measured on streams of records that are not whole lines";
  EXPECT_EQ(m26_2.page.fill_rewrite, size_t{48} << 20) << "fills: ordinary stores on a rewrite below 48 MiB";
  EXPECT_STREQ(m26_2.isa, "avx512") << "one 64-byte store per line: at the limit at random cold 1-2 KiB";
  EXPECT_EQ(m26_2.cache_line_nt_threshold, 8u) << "below a line too, from 8 B (a record of 8-63 B)";
  EXPECT_STREQ(m26_2.cache_line.memmove_name, "avx512 nt >= 8 B");
  EnvOverrides user_threshold;
  user_threshold.has_movnt_threshold = true;
  user_threshold.movnt_threshold = 300;
  EXPECT_EQ(Select(turin, user_threshold).cache_line_nt_threshold, 300u) << "PMEM_MOVNT_THRESHOLD decides";

  const Selection m167 = Select(Intel(167), EnvOverrides());
  EXPECT_EQ(m167.cache_line_near_temporal_below, 0u) << "family 6 model 167: non-temporal wins every pattern";
  // The Intel rows' page copies (6/167, Emerald Rapids): the same classes, rewrite and ahead thresholds and string
  // rewrites; the far and the fills' rewrite thresholds their own.
  const struct {
    unsigned model;
    size_t far, fill_rewrite;
  } intel_page_rows[] = {{167, 64, size_t{48} << 20}, {207, 512, size_t{64} << 20}};
  for (const auto& row : intel_page_rows) {
    SCOPED_TRACE("6/" + std::to_string(row.model));
    const Selection s = Select(Intel(row.model), EnvOverrides());
    EXPECT_EQ(s.page.rewrite, size_t{5} << 18) << "page copies: 1.25 MiB on a rewrite";
    EXPECT_EQ(s.page.ahead, size_t{2} << 10) << "2 KiB on the next lines";
    EXPECT_EQ(s.page.far, row.far) << "64 B (6/167) or 512 B (6/207) when far";
    EXPECT_EQ(s.page.far_below, 0u) << "at any size";
    EXPECT_EQ(s.page.rewrite_back, 0u) << "a rewrite starts up to the default 64 lines back";
    EXPECT_TRUE(s.page.rewrite_covering) << "or covers the last line written";
    EXPECT_TRUE(s.page.run_on_is_ahead) << "but one running on past that line is a stream's next record";
    EXPECT_EQ(s.page.fill_rewrite, row.fill_rewrite) << "fills: 48 MiB (6/167) or 64 MiB (6/207) on a rewrite";
    EXPECT_EQ(s.page.fill_ahead, 0u) << "and as copies on the next lines";
    EXPECT_EQ(s.page.string_from, size_t{128} << 10) << "rewrites from 128 KiB by REP MOVSQ / REP STOSQ";
    EXPECT_EQ(s.page_string_memmove, Avx512Kernels().string.memmove);
    EXPECT_EQ(s.page_string_memset, Avx512Kernels().string.memset);
  }
  for (const auto& [variable, value] : {std::pair<const char*, const char*>{"PMEM_AVX512F", "0"}, {"PMEM_AVX", "0"}}) {
    const Selection lower = Select(Intel(167), FromEnv(variable, value));
    const IsaKernels& isa = std::string(lower.isa) == "avx" ? AvxKernels() : Sse2Kernels();
    EXPECT_EQ(lower.page.string_from, size_t{128} << 10)
        << variable << ": the instructions are the same at every level";
    EXPECT_EQ(lower.page_string_memmove, isa.string.memmove) << variable << ": with that level's pieces";
    EXPECT_EQ(lower.page_string_memset, isa.string.memset) << variable;
  }
  const Selection m167_no_movnt = Select(Intel(167), FromEnv("PMEM_NO_MOVNT", "1"));
  EXPECT_EQ(m167_no_movnt.page.string_from, 0u) << "PMEM_NO_MOVNT: the byte table's ordinary stores, as before";
  EXPECT_EQ(m167_no_movnt.page_string_memmove, nullptr);
  EXPECT_EQ(m167_no_movnt.page_string_memset, nullptr);
  EXPECT_EQ(m167.nt_copy_batch_from, kNtCopyBatchFloor) << "non-temporal copies in 32-line batches from 16 KiB";
  EXPECT_EQ(m167.cache_line_nt_copy_batch_from, kCacheLineNtCopyBatchFloor) << "and the cache-line tables' from 8 KiB";
  EXPECT_STREQ(m167.cache_line.memmove_name, "avx512 nt >= 64 B, 32-line batches >= 8 KiB");
  EXPECT_STREQ(m167.cache_line.memset_name, "avx512 nt >= 64 B") << "a fill has nothing to load";
  EXPECT_STREQ(m167.byte.memmove_name, "avx512 nt >= 8 MiB, 32-line batches >= 16 KiB");
  CpuFeatures m167_without_avx512 = Intel(167);
  m167_without_avx512.avx512f = false;
  EXPECT_STREQ(Select(m167_without_avx512, EnvOverrides()).cache_line.memmove_name, "avx nt >= 64 B");
  const struct {
    Selection s;
    const char* why;
  } without_batches[] = {
      {Select(Intel(167), FromEnv("PMEM_AVX512F", "0")), "no zmm registers to batch in"},
      {Select(Intel(167), FromEnv("PMEM_NO_MOVNT", "1")), "no non-temporal copies"},
      {Select(m167_without_avx512, EnvOverrides()), "a CPU or OS without AVX-512"},
      {Select(Intel(167), FromEnv("PMEM_AVX", "0")), "SSE2 kernels"},
      {Select(Zen4(), FromEnv("PMEM_AVX512F", "1")), "measured on the Intel rows only (6/167, 6/207)"},
      {m26_2, "measured on the Intel rows only (6/167, 6/207)"},
  };
  for (const auto& w : without_batches) {
    EXPECT_EQ(w.s.nt_copy_batch_from, 0u) << w.why;
    EXPECT_EQ(w.s.cache_line_nt_copy_batch_from, 0u) << w.why;
  }
  // PMEM_NO_FLUSH=1 leaves the cache-line tables, and their batches, as they are (libpmem's functions take the byte
  // tables then, which batch as they do).
  const Selection m167_no_flush = Select(Intel(167), FromEnv("PMEM_NO_FLUSH", "1"));
  EXPECT_STREQ(m167_no_flush.cache_line.memmove_name, m167.cache_line.memmove_name);
  EXPECT_EQ(m167_no_flush.cache_line_nt_copy_batch_from, m167.cache_line_nt_copy_batch_from);

  const Selection emr = Select(Intel(207), EnvOverrides());
  EXPECT_EQ(emr.cache_line_near_temporal_below, 384u) << "Emerald Rapids: the history decides below 384 B";
  EXPECT_STREQ(emr.isa, "avx512");  // its page copies: intel_page_rows above
  EXPECT_EQ(emr.nt_copy_batch_from, kNtCopyBatchFloor) << "copies from a cold source: 32-line batches from 16 KiB";
  EXPECT_EQ(emr.cache_line_nt_copy_batch_from, kCacheLineNtCopyBatchFloor) << "and the cache-line tables' from 8 KiB";
  EXPECT_STREQ(emr.cache_line.memmove_name,
               "avx512 nt >= 64 B, temporal < 384 B near the thread's last destination, 32-line batches >= 8 KiB");
  EXPECT_STREQ(emr.cache_line.memset_name, "avx512 nt >= 64 B, temporal < 384 B near the thread's last destination");
  EXPECT_STREQ(emr.byte.memmove_name, "avx512 nt >= 8 MiB, 32-line batches >= 16 KiB")
      << "the byte tables have no history";

  // Every other kind, whatever its vendor: the history below libpmem2's own 256 B, pmem2/arch's page threshold.
  CpuFeatures amd_other = Zen4();
  amd_other.model = 97;  // a Zen 4 model nobody measured
  CpuFeatures zen5 = Zen4();
  zen5.family = 26;  // and a Zen 5 one (model 17; model 2 has its row)
  CpuFeatures other = Intel(207);
  other.vendor = CpuVendor::kOther;
  for (const CpuFeatures& f : {Intel(85), Intel(143), amd_other, zen5, other}) {
    const Selection s = Select(f, EnvOverrides());
    EXPECT_EQ(s.cache_line_near_temporal_below, 256u) << f.family << "/" << f.model;
    EXPECT_EQ(s.cache_line_nt_threshold, kDefaultCacheLineNtThreshold) << "64 B: only the Zen 5 row goes below a line";
    EXPECT_EQ(s.page.rewrite, 0u) << f.family << "/" << f.model;
    EXPECT_EQ(s.page.far, 0u) << f.family << "/" << f.model;
    EXPECT_EQ(s.page.far_below, 0u) << f.family << "/" << f.model;
    EXPECT_EQ(s.page.fill_rewrite, 0u) << f.family << "/" << f.model;
    EXPECT_EQ(s.nt_copy_batch_from, 0u) << f.family << "/" << f.model;
    EXPECT_EQ(s.cache_line_nt_copy_batch_from, 0u) << f.family << "/" << f.model;
    EXPECT_EQ(s.page.string_from, 0u) << f.family << "/" << f.model;
    EXPECT_EQ(s.page_string_memmove, nullptr) << f.family << "/" << f.model;
  }
  for (const Selection* s : {&zen4, &m26_2}) {
    EXPECT_EQ(s->page.string_from, 0u) << "string instructions only where measured (6/167, 6/207): " << s->isa;
    EXPECT_EQ(s->page_string_memmove, nullptr);
    EXPECT_EQ(s->page_string_memset, nullptr);
  }
}

// The switches on the rows that have thresholds of their own. Zen 5 (non-temporal from 8 B): the destination history
// can change nothing below min(8 B, 129 B), so PMEM2_NEAR_TEMPORAL_BELOW=8 leaves it off and 9 turns it on;
// PMEM_NO_MOVNT turns it off and keeps the page rows' thresholds (the byte tables then never go non-temporal);
// PMEM_MOVNT_THRESHOLD sets both tables' threshold and turns the page history off (page_copy_history_movnt_threshold_
// test). Intel 6/167 likewise.
TEST(SelectTest, SwitchesOnTheRowsWithThresholds) {
  CpuFeatures zen5 = Zen4();
  zen5.family = 26;
  zen5.model = 2;
  EXPECT_EQ(Select(zen5, FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "8")).cache_line_near_temporal_below, 0u);
  const Selection near9 = Select(zen5, FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "9"));
  EXPECT_EQ(near9.cache_line_near_temporal_below, 9u);
  EXPECT_STREQ(near9.cache_line.memmove_name, "avx512 nt >= 8 B, temporal < 9 B near the thread's last destination");
  const Selection no_movnt = Select(zen5, FromEnv("PMEM_NO_MOVNT", "1"));
  EXPECT_EQ(no_movnt.cache_line_near_temporal_below, 0u);
  EXPECT_STREQ(no_movnt.cache_line.memmove_name, "avx512 temporal (PMEM_NO_MOVNT)");
  EXPECT_EQ(no_movnt.page.far, 8u) << "the page rows keep their thresholds; the byte tables ignore the hint";
  EXPECT_EQ(no_movnt.byte.memmove, Avx512Kernels().byte[0].memmove);
  for (const CpuFeatures& f : {zen5, Intel(167)}) {
    const Selection s = Select(f, FromEnv("PMEM_MOVNT_THRESHOLD", "4096"));
    EXPECT_EQ(s.cache_line_nt_threshold, 4096u) << f.family << "/" << f.model;
    EXPECT_EQ(s.byte_nt_threshold, 4096u) << f.family << "/" << f.model;
    EXPECT_EQ(s.cache_line_near_temporal_below, 0u) << f.family << "/" << f.model;
    EXPECT_STREQ(s.cache_line.memmove_name,
                 f.model == 167 ? "avx512 nt >= 4 KiB, 32-line batches >= 8 KiB" : "avx512 nt >= 4 KiB")
        << f.family << "/" << f.model;
  }
  // The byte tables are named by the size from which they store non-temporally: up to 128 B a copy or fill is one
  // step of ordinary stores whatever the threshold (page copies name the byte tables under the variable).
  const Selection always = Select(zen5, FromEnv("PMEM_MOVNT_THRESHOLD", "0"));
  EXPECT_EQ(always.byte_nt_threshold, 0u);
  EXPECT_STREQ(always.byte.memset_name, "avx512 nt >= 129 B");
  EXPECT_STREQ(always.cache_line.memset_name, "avx512 nt >= 0 B");
  EXPECT_STREQ(Select(zen5, FromEnv("PMEM_MOVNT_THRESHOLD", "129")).byte.memset_name, "avx512 nt >= 129 B");
  EXPECT_STREQ(Select(zen5, FromEnv("PMEM_MOVNT_THRESHOLD", "130")).byte.memset_name, "avx512 nt >= 130 B");
  const Selection near167 = Select(Intel(167), FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "256"));
  EXPECT_EQ(near167.cache_line_near_temporal_below, 256u);
  EXPECT_STREQ(near167.cache_line.memmove_name,
               "avx512 nt >= 64 B, temporal < 256 B near the thread's last destination, 32-line batches >= 8 KiB");
}

// A page sync issues arch::ByteDrain()'s SFENCE inline instead of calling its selection's byte.drain
// (pmem2/map/page_persist.cc), so every table Select() makes must drain with x86_64::ByteDrain, that same
// fence, whatever the CPU and the PMEM_* variables.
TEST(SelectTest, ByteTablesDrainWithByteDrain) {
  CpuFeatures no_clwb = Zen4();
  no_clwb.clwb = false;
  CpuFeatures clflush_only = no_clwb;
  clflush_only.clflushopt = false;
  CpuFeatures sse2_only = clflush_only;
  sse2_only.avx = sse2_only.avx2 = sse2_only.avx512f = false;
  CpuFeatures no_flush_at_all = sse2_only;
  no_flush_at_all.clflush = false;
  CpuFeatures no_sse2 = no_flush_at_all;
  no_sse2.sse2 = false;
  CpuFeatures zen5 = Zen4();
  zen5.family = 26;
  zen5.model = 2;
  const std::pair<const char*, const char*> overrides[] = {
      {"PMEM_NO_FLUSH", "1"},        {"PMEM_NO_FLUSH", "0"},          {"PMEM_NO_MOVNT", "1"},
      {"PMEM_NO_CLWB", "1"},         {"PMEM_NO_CLFLUSHOPT", "1"},     {"PMEM_AVX512F", "1"},
      {"PMEM_AVX512F", "0"},         {"PMEM_AVX", "0"},               {"PMEM_MOVNT_THRESHOLD", "0"},
      {"PMEM_MOVDIR64B", "1"},       {"PMEM_NO_GENERIC_MEMCPY", "1"}, {"PMEM2_NEAR_TEMPORAL_BELOW", "1024"}};
  for (const CpuFeatures& f : {Zen4(), zen5, Intel(167), Intel(207), Intel(85), no_clwb, clflush_only, sse2_only,
                               no_flush_at_all, no_sse2}) {
    for (const auto& [name, value] : overrides) {
      for (const EnvOverrides& o : {EnvOverrides(), FromEnv(name, value)}) {
        const Selection s = Select(f, o);
        EXPECT_EQ(s.byte.drain, &ByteDrain) << f.family << "/" << f.model << " " << name << "=" << value;
        EXPECT_STREQ(s.byte.drain_name, "sfence") << f.family << "/" << f.model << " " << name << "=" << value;
      }
    }
  }
}

// PMEM2_NEAR_TEMPORAL_BELOW overrides the row; PMEM_MOVNT_THRESHOLD (the user's own threshold) turns the
// history off unless PMEM2_NEAR_TEMPORAL_BELOW asks for it; PMEM_NO_MOVNT has nothing to choose between.
TEST(SelectTest, NearTemporalOverrides) {
  EXPECT_EQ(Select(Zen4(), FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "1024")).cache_line_near_temporal_below, 1024u);
  EXPECT_EQ(Select(Intel(207), FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "0")).cache_line_near_temporal_below, 0u);
  EXPECT_STREQ(Select(Intel(207), FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "0")).cache_line.memmove_name,
               "avx512 nt >= 64 B, 32-line batches >= 8 KiB");
  EXPECT_EQ(Select(Intel(207), FromEnv("PMEM_MOVNT_THRESHOLD", "128")).cache_line_near_temporal_below, 0u);
  EnvOverrides both = FromEnv("PMEM_MOVNT_THRESHOLD", "128");
  both.has_near_temporal_below = true;
  both.near_temporal_below = 512;
  const Selection s = Select(Intel(207), both);
  EXPECT_EQ(s.cache_line_near_temporal_below, 512u);
  EXPECT_STREQ(s.cache_line.memmove_name,
               "avx512 nt >= 128 B, temporal < 512 B near the thread's last destination, 32-line batches >= 8 KiB");
  EXPECT_EQ(Select(Intel(207), FromEnv("PMEM_NO_MOVNT", "1")).cache_line_near_temporal_below, 0u);
  EnvOverrides no_movnt = FromEnv("PMEM_NO_MOVNT", "1");
  no_movnt.has_near_temporal_below = true;
  no_movnt.near_temporal_below = 512;
  EXPECT_EQ(Select(Intel(207), no_movnt).cache_line_near_temporal_below, 0u);
  // The history can change a copy only from min(threshold, 129 B) (the non-temporal decision, or storing
  // everything before the write-backs above kSmallCopy): below that it stays off, not paid for; wherever it is
  // on, the name says so.
  EXPECT_STREQ(Select(Intel(207), FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "64")).cache_line.memmove_name,
               "avx512 nt >= 64 B, 32-line batches >= 8 KiB");
  EXPECT_EQ(Select(Intel(207), FromEnv("PMEM2_NEAR_TEMPORAL_BELOW", "65")).cache_line_near_temporal_below, 65u);
  EnvOverrides high = FromEnv("PMEM_MOVNT_THRESHOLD", "1024");
  high.has_near_temporal_below = true;
  high.near_temporal_below = 129;
  EXPECT_EQ(Select(Intel(207), high).cache_line_near_temporal_below, 0u) << "129 B: nothing to change";
  high.near_temporal_below = 130;
  EXPECT_EQ(Select(Intel(207), high).cache_line_near_temporal_below, 130u) << "129 B: stores all, then writes back";
  high.near_temporal_below = 512;
  EXPECT_STREQ(Select(Intel(207), high).cache_line.memmove_name,
               "avx512 nt >= 1 KiB, temporal < 512 B near the thread's last destination, 32-line batches >= 8 KiB");
}

// The tables and names the AVX-512 kernels get when selected.
TEST(SelectTest, Avx512Tables) {
  const Selection s = Select(Intel(167), FromEnv("PMEM_AVX512F", "1"));
  EXPECT_STREQ(s.cache_line.memmove_name, "avx512 nt >= 64 B, 32-line batches >= 8 KiB");
  EXPECT_STREQ(s.cache_line.memset_name, "avx512 nt >= 64 B");
  EXPECT_STREQ(s.byte.memmove_name, "avx512 nt >= 8 MiB, 32-line batches >= 16 KiB");
  EXPECT_EQ(s.cache_line.memmove, Avx512Kernels().cache_line[0][1].memmove);
  EXPECT_EQ(s.byte.memset, Avx512Kernels().byte[1].memset);
  EnvOverrides no_movnt = FromEnv("PMEM_AVX512F", "1");
  no_movnt.no_movnt = true;
  EXPECT_STREQ(Select(Intel(167), no_movnt).cache_line.memmove_name, "avx512 temporal (PMEM_NO_MOVNT)");
  EnvOverrides no_clwb = FromEnv("PMEM_AVX512F", "1");
  no_clwb.no_clwb = no_clwb.no_clflushopt = true;
  const Selection clflush = Select(Intel(167), no_clwb);
  EXPECT_EQ(clflush.cache_line.memmove, Avx512Kernels().cache_line[2][1].memmove);
  EXPECT_STREQ(clflush.cache_line.drain_name, "mfence");
}

TEST(SelectTest, Avx512fSwitch) {
  // =1: wherever CPU and OS support it, whatever the default, even with PMEM_AVX=0 (as PMDK).
  const Selection forced = Select(Zen4(), FromEnv("PMEM_AVX512F", "1"));
  EXPECT_STREQ(forced.isa, "avx512");
  EXPECT_STREQ(forced.cache_line.memmove_name, "avx512 nt >= 64 B");
  EXPECT_EQ(forced.description, "x86_64: sse2 avx avx2 avx512f clflush clflushopt clwb; overrides: PMEM_AVX512F=1");
  EnvOverrides forced_no_avx = FromEnv("PMEM_AVX512F", "1");
  forced_no_avx.no_avx = true;
  EXPECT_STREQ(Select(Zen4(), forced_no_avx).isa, "avx512");
  EXPECT_STREQ(Select(Intel(85), FromEnv("PMEM_AVX512F", "1")).isa, "avx512");
  // =0: never, also where the CPU kind defaults to AVX-512 (models 167 and 207); the switch off wins over a forced one.
  EnvOverrides off_and_forced = FromEnv("PMEM_AVX512F", "0");
  off_and_forced.force_avx512f = true;
  EXPECT_STREQ(Select(Zen4(), off_and_forced).isa, "avx");
  EXPECT_STREQ(Select(Intel(207), FromEnv("PMEM_AVX512F", "0")).isa, "avx");
  EXPECT_STREQ(Select(Intel(167), FromEnv("PMEM_AVX512F", "0")).isa, "avx");
  EXPECT_STREQ(Select(Zen4(), FromEnv("PMEM_AVX512F", "0")).isa, "avx");
  // PMEM_AVX=0 alone: SSE2.
  EXPECT_STREQ(Select(Intel(207), FromEnv("PMEM_AVX", "0")).isa, "sse2");
  // A CPU (or OS) without AVX-512: =1 cannot select it.
  CpuFeatures no512 = Intel(207);
  no512.avx512f = false;
  EXPECT_STREQ(Select(no512, FromEnv("PMEM_AVX512F", "1")).isa, "avx");
  EXPECT_STREQ(Select(no512, EnvOverrides()).isa, "avx");
}

// AVX-512 counts only when the OS saves the ZMM state: XCR0 bits 1, 2, 5, 6, 7 (0xE6) and OSXSAVE.
TEST(CpuFeaturesTest, Avx512NeedsOsZmmSupport) {
  CpuidWords w;
  std::memcpy(w.vendor, "GenuineIntel", 13);
  w.leaf1_eax = 0x000a0671;         // family 6, model 0xa7 = 167, stepping 1
  w.leaf1_ecx = (1u << 27) | (1u << 28);  // OSXSAVE, AVX
  w.leaf1_edx = (1u << 19) | (1u << 26);  // CLFLUSH, SSE2
  w.has_leaf7 = true;
  w.leaf7_ebx = (1u << 5) | (1u << 16) | (1u << 23) | (1u << 24);  // AVX2, AVX512F, CLFLUSHOPT, CLWB
  w.xcr0 = 0xe7;
  CpuFeatures f = DecodeCpuFeatures(w);
  EXPECT_EQ(f.vendor, CpuVendor::kIntel);
  EXPECT_EQ(f.family, 6u);
  EXPECT_EQ(f.model, 167u);
  EXPECT_TRUE(f.avx512f);
  EXPECT_STREQ(Select(f, FromEnv("PMEM_AVX512F", "1")).isa, "avx512");
  for (unsigned long long missing : {0x2ull, 0x4ull, 0x20ull, 0x40ull, 0x80ull}) {
    w.xcr0 = 0xe7 & ~missing;
    f = DecodeCpuFeatures(w);
    EXPECT_FALSE(f.avx512f) << "XCR0 without bit " << missing;
    EXPECT_STREQ(Select(f, EnvOverrides()).isa, (missing & 0x6) != 0 ? "sse2" : "avx") << missing;
    EXPECT_STREQ(Select(f, FromEnv("PMEM_AVX512F", "1")).isa, (missing & 0x6) != 0 ? "sse2" : "avx") << missing;
  }
  w.xcr0 = 0x7;  // an OS that enables only XMM/YMM state
  EXPECT_TRUE(DecodeCpuFeatures(w).avx2);
  EXPECT_FALSE(DecodeCpuFeatures(w).avx512f);
  w.xcr0 = 0xe7;
  w.leaf7_ebx &= ~(1u << 5);  // AVX512F without AVX2 (a hypervisor's model): the AVX-512 kernels may use AVX2
  EXPECT_FALSE(DecodeCpuFeatures(w).avx512f);
  EXPECT_STREQ(Select(DecodeCpuFeatures(w), FromEnv("PMEM_AVX512F", "1")).isa, "avx");
  w.leaf7_ebx |= 1u << 5;
  w.xcr0 = 0xe7;
  w.leaf1_ecx &= ~(1u << 27);  // no OSXSAVE: XCR0 cannot be read, no AVX of any width
  EXPECT_FALSE(DecodeCpuFeatures(w).avx);
  EXPECT_FALSE(DecodeCpuFeatures(w).avx512f);
}

TEST(CpuFeaturesTest, VendorFamilyModel) {
  CpuidWords w;
  std::memcpy(w.vendor, "AuthenticAMD", 13);
  w.leaf1_eax = 0x00a10f11;  // Zen 4: base family 0xf + extended 0xa = 25, model 0x11 = 17
  CpuFeatures f = DecodeCpuFeatures(w);
  EXPECT_EQ(f.vendor, CpuVendor::kAmd);
  EXPECT_EQ(f.family, 25u);
  EXPECT_EQ(f.model, 17u);
  w.leaf1_eax = 0x00b00f21;  // Zen 5 (EPYC): base family 0xf + extended 0xb = 26, model 0x02, stepping 1
  f = DecodeCpuFeatures(w);
  EXPECT_EQ(f.family, 26u);
  EXPECT_EQ(f.model, 2u);
  std::memcpy(w.vendor, "GenuineIntel", 13);
  w.leaf1_eax = 0x000c06f2;  // Emerald Rapids: family 6, model 0xcf = 207
  f = DecodeCpuFeatures(w);
  EXPECT_EQ(f.vendor, CpuVendor::kIntel);
  EXPECT_EQ(f.family, 6u);
  EXPECT_EQ(f.model, 207u);
  std::memcpy(w.vendor, "HygonGenuine", 13);
  EXPECT_EQ(DecodeCpuFeatures(w).vendor, CpuVendor::kOther);
}

TEST(SelectTest, MovntSwitches) {
  const Selection no_movnt = Select(Zen4(), FromEnv("PMEM_NO_MOVNT", "1"));
  EXPECT_STREQ(no_movnt.cache_line.memmove_name, "avx temporal (PMEM_NO_MOVNT)");
  const Selection s = Select(Zen4(), FromEnv("PMEM_MOVNT_THRESHOLD", "1024"));
  EXPECT_EQ(s.cache_line_nt_threshold, 1024u);
  EXPECT_EQ(s.byte_nt_threshold, 1024u);
  EXPECT_STREQ(s.cache_line.memmove_name, "avx nt >= 1 KiB");
}

// The functions selected are the table entries the names describe: for every measured CPU kind and an unknown one,
// with and without AVX-512 in the CPU, under every switch that changes the ISA level, the flush instruction or the
// non-temporal kernels, the cache-line memmove/memset are the ISA's [flush kind][non-temporal allowed] entry and the
// byte ones its [non-temporal allowed] entry (the names are built apart from the pointers, so the other tests here
// would not see a wrong pointer); PMEM_NO_FLUSH=1 changes neither. Likewise the cache-line persist, flush and drain
// and the deep flush's write_back are the flush instruction's functions (CLFLUSH's write_back its persist, which
// ends with the MFENCE libpmem's following SFENCE would not give it: AClflushWriteBackEndsWithItsMfence).
TEST(SelectTest, SelectedKernelsAreTheTableEntriesTheNamesDescribe) {
  const LineFunctionsForTest lines[kFlushKinds] = {ClwbFunctionsForTest(), ClflushoptFunctionsForTest(),
                                                   ClflushFunctionsForTest()};
  // Distinct, or the comparisons below could not tell one from another.
  ASSERT_NE(DrainSfenceForTest(), DrainMfenceForTest());
  for (int a = 0; a < kFlushKinds; ++a) {
    ASSERT_NE(lines[a].persist, lines[a].flush) << a;
    for (int b = 0; b < a; ++b) {
      ASSERT_NE(lines[a].persist, lines[b].persist) << a << " " << b;
      ASSERT_NE(lines[a].flush, lines[b].flush) << a << " " << b;
    }
  }
  std::vector<std::pair<std::string, CpuFeatures>> cpus = {{"zen4", Zen4()}, {"intel207", Intel(207)},
                                                           {"intel167", Intel(167)}};
  CpuFeatures zen5 = Zen4();
  zen5.family = 26;
  zen5.model = 2;
  cpus.push_back({"zen5", zen5});
  CpuFeatures other = Intel(85);
  other.vendor = CpuVendor::kOther;
  cpus.push_back({"other", other});
  CpuFeatures no_clwb = Zen4();
  no_clwb.clwb = false;
  cpus.push_back({"zen4 without clwb", no_clwb});
  for (size_t i = 0, n = cpus.size(); i < n; ++i) {
    CpuFeatures no512 = cpus[i].second;
    no512.avx512f = false;
    cpus.push_back({cpus[i].first + " without avx512f", no512});
  }
  const std::vector<std::vector<std::pair<const char*, const char*>>> environments = {
      {},
      {{"PMEM_AVX", "0"}},
      {{"PMEM_AVX512F", "1"}},
      {{"PMEM_AVX512F", "0"}},
      {{"PMEM_NO_CLWB", "1"}},
      {{"PMEM_NO_CLFLUSHOPT", "1"}},
      {{"PMEM_NO_CLWB", "1"}, {"PMEM_NO_CLFLUSHOPT", "1"}},
      {{"PMEM_NO_MOVNT", "1"}},
      {{"PMEM_NO_MOVNT", "1"}, {"PMEM_NO_CLWB", "1"}, {"PMEM_NO_CLFLUSHOPT", "1"}, {"PMEM_AVX", "0"}},
      {{"PMEM_MOVNT_THRESHOLD", "1024"}, {"PMEM_AVX512F", "1"}},
      {{"PMEM_NO_FLUSH", "1"}},
  };
  for (const auto& [cpu_name, features] : cpus) {
    for (const auto& environment : environments) {
      std::string where = cpu_name;
      for (const auto& [name, value] : environment) {
        ::setenv(name, value, 1);
        where += std::string(" ") + name + "=" + value;
      }
      const EnvOverrides overrides = ReadEnvOverrides();
      for (const auto& [name, value] : environment) ::unsetenv(name);
      ASSERT_EQ(overrides.invalid, "") << where;
      const Selection s = Select(features, overrides);
      const std::string isa_name = s.isa;
      const IsaKernels& isa = isa_name == "avx512" ? Avx512Kernels() : isa_name == "avx" ? AvxKernels() : Sse2Kernels();
      ASSERT_TRUE(isa_name == "avx512" || isa_name == "avx" || isa_name == "sse2") << where << ": " << isa_name;
      const int allow_nt = overrides.no_movnt ? 0 : 1;
      EXPECT_EQ(s.byte.memmove, isa.byte[allow_nt].memmove) << where;
      EXPECT_EQ(s.byte.memset, isa.byte[allow_nt].memset) << where;
      // The flush kind from the features and switches, independently of Select's own choice.
      const int kind = features.clwb && !overrides.no_clwb                ? 0
                       : features.clflushopt && !overrides.no_clflushopt ? 1
                                                                           : 2;
      EXPECT_STREQ(s.cache_line.flush_name, kind == 0 ? "clwb" : kind == 1 ? "clflushopt" : "clflush") << where;
      EXPECT_STREQ(s.cache_line.drain_name, kind == 2 ? "mfence" : "sfence") << where;
      EXPECT_EQ(s.cache_line.persist, lines[kind].persist) << where;
      EXPECT_EQ(s.cache_line.flush, lines[kind].flush) << where;
      EXPECT_EQ(s.cache_line.drain, kind == 2 ? DrainMfenceForTest() : DrainSfenceForTest()) << where;
      EXPECT_EQ(s.write_back, kind == 2 ? lines[kind].persist : lines[kind].flush) << where;
      EXPECT_EQ(s.cache_line.memmove, isa.cache_line[kind][allow_nt].memmove) << where;
      EXPECT_EQ(s.cache_line.memset, isa.cache_line[kind][allow_nt].memset) << where;
      EXPECT_EQ(std::string(s.cache_line.memmove_name).rfind(isa_name + " ", 0), 0u) << where;
    }
  }
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
  EXPECT_NE(f.family, 0u);
}

}  // namespace
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
