// Copyright 2026 The pmem2 Authors.
//
// Data correctness of every x86-64 kernel: each ISA level the CPU has × each table (flush instruction, PMEM_NO_MOVNT,
// non-temporal from 8 B, byte granularity) × sizes 0-1100 and some large ones × source/destination misalignment (every
// destination offset below three lines) × every flag. The destination must equal memmove()/memset()'s result and no
// byte around it may change. Lower levels are forced through testing/cpu (typed) and through the PMEM_* variables
// (parsed).

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/arch/env_overrides.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/arch/x86_64/kernel_table.h"
#include "pmem2/arch/x86_64/ops.h"
#include "testing/cpu/scoped_cpu_features.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace {

using ::pmem2::testing::CpuHas;
using ::pmem2::testing::FlushInstruction;
using ::pmem2::testing::IsaLevel;
using ::pmem2::testing::ScopedCpuFeatures;

const unsigned kFlagSets[] = {0,
                              kMemNoDrain,
                              kMemNonTemporal,
                              kMemTemporal,
                              kMemWc,
                              kMemWb,
                              kMemNoFlush,
                              kMemNoDrain | kMemNonTemporal,
                              kMemNoDrain | kMemTemporal,
                              kMemNoDrain | kMemWc};

// kCacheLineNearTemporal: the cache-line table with the pattern-aware small copies on below 512 B (as
// PMEM2_NEAR_TEMPORAL_BELOW=512 would), whatever this CPU kind's row says: consecutive checks write the same
// buffers, so the destination history sees near destinations as well as far ones.
// kCacheLineFrom8: the cache-line table with non-temporal stores from 8 B (the Zen 5 row's threshold, as
// PMEM_MOVNT_THRESHOLD=8 would), so that pieces of lines written with MOVNTI are checked on every CPU.
// kCacheLineBatches / kByteBatches (AVX-512 only): the tables with Intel family 6 model 167's row, whose non-temporal
// copies from 16 KiB load 32 lines before storing them, on every CPU with AVX-512.
// kPageString: the string kernels (REP MOVSQ / REP STOSQ with the ISA's pieces and fallback) that Intel family 6 model
// 167's row gives page rewrites from 128 KiB, called directly with every flag set, on every CPU and ISA level.
enum class Table {
  kCacheLine,
  kCacheLineNoMovnt,
  kCacheLineNearTemporal,
  kCacheLineFrom8,
  kCacheLineBatches,
  kByte,
  kByteNoMovnt,
  kByteBatches,
  kPageString
};

struct Config {
  IsaLevel level;
  FlushInstruction flush;
  Table table;
  // If set, the level is forced through this environment variable (= env_value) on top of the typed override.
  const char* env = nullptr;
  const char* env_value = "0";
};

std::string ConfigName(const ::testing::TestParamInfo<Config>& param_info) {
  const Config& c = param_info.param;
  std::string name = pmem2::testing::IsaLevelName(c.level);
  name += '_';
  name += pmem2::testing::FlushInstructionName(c.flush);
  switch (c.table) {
    case Table::kCacheLine:
      name += "_CacheLine";
      break;
    case Table::kCacheLineNoMovnt:
      name += "_CacheLineNoMovnt";
      break;
    case Table::kCacheLineNearTemporal:
      name += "_CacheLineNearTemporal";
      break;
    case Table::kCacheLineFrom8:
      name += "_CacheLineFrom8";
      break;
    case Table::kCacheLineBatches:
      name += "_CacheLineBatches";
      break;
    case Table::kByteBatches:
      name += "_ByteBatches";
      break;
    case Table::kByte:
      name += "_Byte";
      break;
    case Table::kByteNoMovnt:
      name += "_ByteNoMovnt";
      break;
    case Table::kPageString:
      name += "_PageString";
      break;
  }
  if (c.env != nullptr) name += std::string("_") + c.env + c.env_value;
  return name;
}

// Deterministic bytes that differ between buffers and positions.
void FillPattern(unsigned char* p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = static_cast<unsigned char>(x >> 24);
  }
}

constexpr size_t kGuard = 192;  // > 2 lines: catches stores that run a whole line too far

class KernelTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    const Config& c = GetParam();
    if (!CpuHas(c.level)) GTEST_SKIP() << "CPU lacks " << pmem2::testing::IsaLevelName(c.level);
    if (!CpuHas(c.flush)) GTEST_SKIP() << "CPU lacks " << pmem2::testing::FlushInstructionName(c.flush);
    EnvOverrides overrides;
    if (c.env != nullptr) {
      ::setenv(c.env, c.env_value, 1);
      overrides = ReadEnvOverrides();
      ::unsetenv(c.env);
    }
    overrides.no_movnt = c.table == Table::kCacheLineNoMovnt || c.table == Table::kByteNoMovnt;
    if (c.table == Table::kCacheLineNearTemporal) {
      overrides.has_near_temporal_below = true;
      overrides.near_temporal_below = 512;
    }
    if (c.table == Table::kCacheLineFrom8) {
      overrides.has_movnt_threshold = true;
      overrides.movnt_threshold = 8;
    }
    const bool batches = c.table == Table::kCacheLineBatches || c.table == Table::kByteBatches;
    if (batches || c.table == Table::kPageString) {
      CpuFeatures m167 = pmem2::testing::RestrictedFeatures(c.level, c.flush);
      m167.vendor = CpuVendor::kIntel;
      m167.family = 6;
      m167.model = 167;
      cpu_ = std::make_unique<ScopedCpuFeatures>(m167, overrides);
      if (batches) {
        ASSERT_EQ(cpu_->selection().nt_copy_batch_from, kNtCopyBatchFloor) << cpu_->selection().byte.memmove_name;
        ASSERT_EQ(cpu_->selection().cache_line_nt_copy_batch_from, kCacheLineNtCopyBatchFloor)
            << cpu_->selection().cache_line.memmove_name;
        // What the kernels read: otherwise these tables would check the copies a line at a time.
        ASSERT_EQ(nt_copy_batch_from.load(), kNtCopyBatchFloor);
        ASSERT_EQ(cache_line_nt_copy_batch_from.load(), kCacheLineNtCopyBatchFloor);
      }
    } else if (c.env != nullptr && c.level != IsaLevel::kGeneric) {
      // The environment alone must move the level from the CPU kind's default (the CPU's best features).
      cpu_ = std::make_unique<ScopedCpuFeatures>(pmem2::testing::RestrictedFeatures(IsaLevel::kAvx512, c.flush),
                                                 overrides);
    } else {
      cpu_ = std::make_unique<ScopedCpuFeatures>(c.level, c.flush, overrides);
    }
    const bool byte = c.table == Table::kByte || c.table == Table::kByteNoMovnt || c.table == Table::kByteBatches;
    ops_ = byte ? &ByteOps() : &CacheLineOps();
    if (c.table == Table::kPageString) {
      const Selection& s = cpu_->selection();
      ASSERT_EQ(s.page.string_from, size_t{128} << 10) << "Intel 6/167's row";
      ASSERT_NE(s.page_string_memmove, nullptr);
      ASSERT_NE(s.page_string_memset, nullptr);
      string_ops_ = ByteOps();
      string_ops_.memmove = s.page_string_memmove;
      string_ops_.memset = s.page_string_memset;
      string_name_ = std::string(s.isa) + " rep movsq / rep stosq";
      string_ops_.memmove_name = string_ops_.memset_name = string_name_.c_str();
      ops_ = &string_ops_;
    }
    const std::string expected_name =
        c.level == IsaLevel::kGeneric && overrides.no_generic_memcpy ? "libc" : pmem2::testing::IsaLevelName(c.level);
    // The name's first word is the level ("avx" must not pass for "avx512 ...").
    const std::string name = ops_->memmove_name;
    ASSERT_TRUE(name == expected_name || name.rfind(expected_name + " ", 0) == 0) << name << ", not " << expected_name;
    if (c.table == Table::kCacheLineNearTemporal && c.level != IsaLevel::kGeneric) {
      ASSERT_EQ(cpu_->selection().cache_line_near_temporal_below, 512u);
      ASSERT_NE(std::string(ops_->memmove_name).find("temporal < 512 B near"), std::string::npos)
          << ops_->memmove_name;
    }
    if (c.table == Table::kCacheLineFrom8) {
      ASSERT_EQ(cpu_->selection().cache_line_nt_threshold, 8u);
    }
  }

  // memmove of `len` bytes from offset `src_off` to offset `dst_off` in separate buffers.
  void CheckCopy(size_t len, size_t src_off, size_t dst_off, unsigned flags) {
    const size_t total = kGuard + 64 + len + kGuard;
    buf_.resize(total);
    src_.resize(len + 128);
    FillPattern(buf_.data(), total, static_cast<uint32_t>(len + dst_off));
    FillPattern(src_.data(), src_.size(), static_cast<uint32_t>(len * 3 + src_off + 7));
    want_ = buf_;
    std::memcpy(want_.data() + kGuard + dst_off, src_.data() + src_off, len);
    void* dst = buf_.data() + kGuard + dst_off;
    ASSERT_EQ(ops_->memmove(dst, src_.data() + src_off, len, flags), dst);
    if ((flags & kMemNoFlush) != 0) ops_->flush(dst, len);
    ops_->drain();
    ASSERT_TRUE(buf_ == want_) << "memmove len " << len << " src+" << src_off << " dst+" << dst_off << " flags "
                               << flags << " (" << ops_->memmove_name << ")" << FirstDifference();
  }

  // memmove within one buffer: the destination starts `shift` bytes after (or before) the source.
  void CheckOverlap(size_t len, ptrdiff_t shift, size_t base_off, unsigned flags) {
    const size_t margin = 64 + static_cast<size_t>(shift < 0 ? -shift : shift);
    const size_t total = kGuard + margin + 64 + len + margin + kGuard;
    buf_.resize(total);
    FillPattern(buf_.data(), total, static_cast<uint32_t>(len ^ static_cast<size_t>(shift)));
    want_ = buf_;
    const size_t src = kGuard + margin + base_off;
    const size_t dst = static_cast<size_t>(static_cast<ptrdiff_t>(src) + shift);
    std::memmove(want_.data() + dst, want_.data() + src, len);
    ASSERT_EQ(ops_->memmove(buf_.data() + dst, buf_.data() + src, len, flags), buf_.data() + dst);
    ASSERT_TRUE(buf_ == want_) << "overlapping memmove len " << len << " shift " << shift << " base+"
                               << base_off << " flags " << flags << FirstDifference();
  }

  void CheckFill(size_t len, size_t dst_off, int c, unsigned flags) {
    const size_t total = kGuard + 64 + len + kGuard;
    buf_.resize(total);
    FillPattern(buf_.data(), total, static_cast<uint32_t>(len + dst_off + 99));
    want_ = buf_;
    std::memset(want_.data() + kGuard + dst_off, c, len);
    void* dst = buf_.data() + kGuard + dst_off;
    ASSERT_EQ(ops_->memset(dst, c, len, flags), dst);
    ops_->drain();
    ASSERT_TRUE(buf_ == want_) << "memset len " << len << " dst+" << dst_off << " flags " << flags << " ("
                               << ops_->memset_name << ")" << FirstDifference();
  }

  std::string FirstDifference() const {
    for (size_t i = 0; i < buf_.size() && i < want_.size(); ++i) {
      if (buf_[i] != want_[i]) {
        const ptrdiff_t rel = static_cast<ptrdiff_t>(i) - static_cast<ptrdiff_t>(kGuard);
        return "; first difference at guard-relative offset " + std::to_string(rel);
      }
    }
    return "";
  }

  std::unique_ptr<ScopedCpuFeatures> cpu_;
  const PersistOps* ops_ = nullptr;
  PersistOps string_ops_{};
  std::string string_name_;
  std::vector<unsigned char> buf_, src_, want_;
};

// Two misalignment pairs per size, walking all 64×64 combinations across the size range, plus 0/0.
void MisalignmentsFor(size_t len, size_t out[3][2]) {
  out[0][0] = 0;
  out[0][1] = 0;
  out[1][0] = (len * 7 + 3) % 64;
  out[1][1] = (len * 13 + 1) % 64;
  out[2][0] = (len * 29 + 17) % 64;
  out[2][1] = (len / 64 * 11 + len * 5 + 40) % 64;
}

TEST_P(KernelTest, MemmoveAllSmallSizes) {
  for (unsigned flags : kFlagSets) {
    for (size_t len = 0; len <= 1100; ++len) {
      size_t mis[3][2];
      MisalignmentsFor(len + flags, mis);
      for (auto& m : mis) {
        CheckCopy(len, m[0], m[1], flags);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(KernelTest, MemmoveEveryMisalignment) {
  for (size_t len : {1, 8, 31, 63, 64, 65, 130, 700}) {
    for (size_t src_off = 0; src_off < 64; ++src_off) {
      for (size_t dst_off = 0; dst_off < 64; ++dst_off) {
        CheckCopy(len, src_off, dst_off, (src_off + dst_off) % 2 == 0 ? 0 : kMemTemporal);
        if (HasFatalFailure()) return;
      }
    }
  }
}

// Below three lines the split into pieces (a head up to the first line boundary, whole lines, a tail) depends on
// the destination's offset in its line and the length only: every pair of them, both ways of choosing the stores.
TEST_P(KernelTest, EveryDestinationOffsetBelowThreeLines) {
  // kMemNonTemporal | kMemNoDrain: what a page copy asks for on a far line.
  for (unsigned flags : {0u, kMemNonTemporal, kMemNonTemporal | kMemNoDrain, kMemWc, kMemTemporal}) {
    for (size_t len = 1; len <= 3 * 64; ++len) {
      for (size_t dst_off = 0; dst_off < 64; ++dst_off) {
        CheckCopy(len, (len * 5 + dst_off * 3) % 64, dst_off, flags);
        CheckFill(len, dst_off, static_cast<int>(len + dst_off), flags);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(KernelTest, MemmoveLargeSizes) {
  for (unsigned flags : {0u, kMemNonTemporal, kMemTemporal, kMemNoFlush}) {
    for (size_t len :
         {size_t{4096}, size_t{65536 + 17}, kCacheLineNtCopyBatchFloor - 1, kCacheLineNtCopyBatchFloor + 2111,
          kNtCopyBatchFloor - 1, kNtCopyBatchFloor + 2111, size_t{1} << 20, (size_t{5} << 20) + 3}) {
      for (size_t off : {0, 9}) {
        CheckCopy(len, off, (off * 5) % 64, flags);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(KernelTest, MemmoveOverlapsInBothDirections) {
  for (unsigned flags : {0u, kMemNonTemporal, kMemTemporal, kMemNoFlush}) {
    for (size_t len = 0; len <= 1100; len += (len < 300 ? 1 : 37)) {
      for (ptrdiff_t shift : {-129, -64, -17, -8, -1, 1, 3, 8, 32, 64, 100}) {
        CheckOverlap(len, shift, (len * 3) % 64, flags);
        if (HasFatalFailure()) return;
      }
    }
  }
  for (size_t len : {size_t{4096 + 5}, size_t{100000}}) {
    for (ptrdiff_t shift : {-4000, -65, -1, 1, 65, 4000}) {
      CheckOverlap(len, shift, 13, 0);
      if (HasFatalFailure()) return;
    }
  }
  // From the size of Intel 6/167's 32-line batches, on the non-temporal path: an overlapping copy is never batched.
  for (ptrdiff_t shift : {-4000, -65, 65, 4000}) {
    for (size_t len : {kCacheLineNtCopyBatchFloor + 2111, kNtCopyBatchFloor + 2111}) {
      CheckOverlap(len, shift, 13, kMemNonTemporal);
      if (HasFatalFailure()) return;
    }
  }
}

TEST_P(KernelTest, MemsetAllSmallSizes) {
  for (unsigned flags : kFlagSets) {
    for (size_t len = 0; len <= 1100; ++len) {
      for (size_t off : {size_t{0}, (len * 7 + flags) % 64, (len * 31 + 5) % 64}) {
        CheckFill(len, off, static_cast<int>(len * 17 + 0x100), flags);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(KernelTest, MemsetLargeSizes) {
  for (unsigned flags : {0u, kMemNonTemporal, kMemTemporal, kMemNoFlush}) {
    for (size_t len : {size_t{4096}, size_t{65536 + 17}, (size_t{5} << 20) + 3}) {
      CheckFill(len, 0, 0xa5, flags);
      CheckFill(len, 33, 0, flags);
      if (HasFatalFailure()) return;
    }
  }
}

// No kernel reads outside its source: a source that starts or ends against a page the process may not read (a file
// mapping's last page, a guard page) is copied whole, for every length to 300 B and some larger ones, every flag set
// that picks a path, and destinations at several offsets; and so is a move within such a buffer, in both directions.
// (The other tests' sources have room before and after them, where an over-read goes unseen.)
TEST_P(KernelTest, SourcesAgainstUnreadablePagesAreReadWithinThemOnly) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t data = 3 * page;
  char* const region =
      static_cast<char*>(mmap(nullptr, data + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  ASSERT_EQ(mprotect(region, page, PROT_NONE), 0);
  ASSERT_EQ(mprotect(region + page + data, page, PROT_NONE), 0);
  unsigned char* const first = reinterpret_cast<unsigned char*>(region + page);
  unsigned char* const end = first + data;
  std::vector<size_t> lengths;
  for (size_t len = 0; len <= 300; ++len) lengths.push_back(len);
  for (size_t len : {383, 384, 511, 512, 1023, 2049, 4096, 4096 + 65, 8192 + 7}) lengths.push_back(len);
  std::vector<unsigned char> dst_buf(2 * kGuard + 64 + 8192 + 64);
  std::vector<unsigned char> want;
  for (unsigned flags : {0u, kMemNonTemporal, kMemTemporal}) {
    for (size_t len : lengths) {
      for (int against_end = 0; against_end < 2; ++against_end) {
        const unsigned char* const src = against_end != 0 ? end - len : first;
        FillPattern(first, data, static_cast<uint32_t>(len + flags));
        for (size_t dst_off : {size_t{0}, size_t{1}, size_t{7}, size_t{33}, size_t{63}}) {
          FillPattern(dst_buf.data(), dst_buf.size(), static_cast<uint32_t>(len + dst_off));
          want = dst_buf;
          std::memcpy(want.data() + kGuard + dst_off, src, len);
          void* const dst = dst_buf.data() + kGuard + dst_off;
          ASSERT_EQ(ops_->memmove(dst, src, len, flags), dst);
          ops_->drain();
          ASSERT_TRUE(dst_buf == want) << "memmove len " << len << (against_end != 0 ? " ending" : " starting")
                                       << " against the unreadable page, dst+" << dst_off << " flags " << flags;
        }
        // Moves within the readable pages, the source against one end and the destination shifted toward the other.
        for (size_t shift : {size_t{1}, size_t{8}, size_t{63}, size_t{64}, size_t{65}, size_t{4096 + 3}}) {
          if (len + shift > data) continue;
          unsigned char* const from = against_end != 0 ? end - len : first;
          unsigned char* const to = against_end != 0 ? from - shift : from + shift;
          FillPattern(first, data, static_cast<uint32_t>(len * 7 + shift));
          want.assign(first, end);
          std::memmove(want.data() + (to - first), want.data() + (from - first), len);
          ASSERT_EQ(ops_->memmove(to, from, len, flags), to);
          ops_->drain();
          ASSERT_TRUE(std::equal(want.begin(), want.end(), first))
              << "overlapping memmove len " << len << " shift " << shift << (against_end != 0 ? " back" : " ahead")
              << " flags " << flags;
        }
      }
    }
  }
  munmap(region, data + 2 * page);
}

// The library's promise: destination and length multiples of 8 => 8-byte or wider stores. Data can't show
// store widths (the recording test does); here it just must work at every 8-aligned size.
TEST_P(KernelTest, EightByteAlignedCopies) {
  for (size_t len = 0; len <= 512; len += 8) {
    for (size_t dst_off : {0, 8, 24, 56}) {
      CheckCopy(len, 3, dst_off, 0);
      if (HasFatalFailure()) return;
    }
  }
}

// Installing a selection publishes what the kernels read of it (its thresholds, the destination history's size,
// the batch sizes), and removing it puts the process's back. (The data tests cannot tell a non-temporal store from an
// ordinary one, and the recording test reads thresholds of its own: without this a row's thresholds could stay in the
// Selection and never reach a kernel.)
void ExpectTheKernelsRead(const Selection& s, const std::string& which) {
  SCOPED_TRACE(which);
  EXPECT_EQ(cache_line_nt_threshold.load(), s.cache_line_nt_threshold);
  EXPECT_EQ(byte_nt_threshold.load(), s.byte_nt_threshold);
  EXPECT_EQ(cache_line_near_temporal_below.load(), s.cache_line_near_temporal_below);
  EXPECT_EQ(nt_copy_batch_from.load(), s.nt_copy_batch_from);
  EXPECT_EQ(cache_line_nt_copy_batch_from.load(), s.cache_line_nt_copy_batch_from);
}

CpuFeatures CpuKind(IsaLevel level, CpuVendor vendor, int family, int model) {
  CpuFeatures cpu = pmem2::testing::RestrictedFeatures(level, FlushInstruction::kClwb);
  cpu.vendor = vendor;
  cpu.family = family;
  cpu.model = model;
  return cpu;
}

TEST(KernelSelectionTest, TheInstalledSelectionIsWhatTheKernelsRead) {
  const Selection& process = CurrentSelection();  // made (and published) by its first use
  ExpectTheKernelsRead(process, "the process's");
  const IsaLevel avx512_or_avx = CpuHas(IsaLevel::kAvx512) ? IsaLevel::kAvx512 : IsaLevel::kAvx;
  {
    ScopedCpuFeatures cpu(CpuKind(IsaLevel::kAvx, CpuVendor::kAmd, 25, 17));
    ExpectTheKernelsRead(cpu.selection(), "Zen 4");
    EXPECT_EQ(cache_line_nt_threshold.load(), 64u);
    EXPECT_EQ(cache_line_near_temporal_below.load(), 0u);
    EXPECT_EQ(nt_copy_batch_from.load(), 0u);
    EXPECT_EQ(cache_line_nt_copy_batch_from.load(), 0u);
  }
  ExpectTheKernelsRead(process, "the process's, back");
  {
    ScopedCpuFeatures cpu(CpuKind(avx512_or_avx, CpuVendor::kAmd, 26, 2));
    ExpectTheKernelsRead(cpu.selection(), "Zen 5");
    EXPECT_EQ(cache_line_nt_threshold.load(), 8u);
    EXPECT_EQ(cache_line_near_temporal_below.load(), 0u);
  }
  {
    ScopedCpuFeatures cpu(CpuKind(avx512_or_avx, CpuVendor::kIntel, 6, 207));
    ExpectTheKernelsRead(cpu.selection(), "Emerald Rapids");
    EXPECT_EQ(cache_line_near_temporal_below.load(), 384u);
  }
  {
    ScopedCpuFeatures cpu(CpuKind(IsaLevel::kAvx, CpuVendor::kIntel, 6, 1));
    ExpectTheKernelsRead(cpu.selection(), "a CPU kind without a row");
    EXPECT_EQ(cache_line_nt_threshold.load(), 64u);
    EXPECT_EQ(cache_line_near_temporal_below.load(), 256u);
  }
  {
    EnvOverrides overrides;
    overrides.has_movnt_threshold = true;
    overrides.movnt_threshold = 4096;
    ScopedCpuFeatures cpu(CpuKind(avx512_or_avx, CpuVendor::kIntel, 6, 207), overrides);
    ExpectTheKernelsRead(cpu.selection(), "PMEM_MOVNT_THRESHOLD=4096");
    EXPECT_EQ(cache_line_nt_threshold.load(), 4096u);
    EXPECT_EQ(byte_nt_threshold.load(), 4096u);
    EXPECT_EQ(cache_line_near_temporal_below.load(), 0u) << "the variable turns the history off";
  }
  ExpectTheKernelsRead(process, "the process's, back again");
  if (!CpuHas(IsaLevel::kAvx512)) GTEST_SKIP() << "CPU lacks avx512: no selection with batches here";
  {
    ScopedCpuFeatures cpu(CpuKind(IsaLevel::kAvx512, CpuVendor::kIntel, 6, 167));
    ExpectTheKernelsRead(cpu.selection(), "Intel 6/167");
    EXPECT_EQ(nt_copy_batch_from.load(), kNtCopyBatchFloor);
    EXPECT_EQ(cache_line_nt_copy_batch_from.load(), kCacheLineNtCopyBatchFloor);
  }
  ExpectTheKernelsRead(process, "the process's, at the end");
}

// The string kernels' promise on the CPU running the test: while one thread writes a buffer again and again with them
// (every aligned 8-byte word each time, alternately all 0x22 and all 0x11 bytes: copies and fills), no aligned word a
// second thread reads holds bytes of both. Intel's manual promises it (kernel_table.h, CopyWords); AMD's says nothing,
// so there (where no row chooses the string kernels) the test is skipped rather than left to chance.
TEST(StringKernelTest, NoAlignedWordIsSeenHalfWritten) {
  if (ProcessCpuFeatures().vendor != CpuVendor::kIntel) GTEST_SKIP() << "the string kernels run on Intel rows only";
  constexpr size_t kWords = 4096;  // 32 KiB
  alignas(64) static uint64_t buffer[kWords];
  alignas(64) static uint64_t twos[kWords];
  for (size_t i = 0; i < kWords; ++i) {
    twos[i] = 0x2222222222222222ull;
    __atomic_store_n(&buffer[i], 0x1111111111111111ull, __ATOMIC_RELAXED);
  }
  std::vector<const IsaKernels*> isas = {&Sse2Kernels()};
  if (CpuHas(IsaLevel::kAvx)) isas.push_back(&AvxKernels());
  if (CpuHas(IsaLevel::kAvx512)) isas.push_back(&Avx512Kernels());
  for (const IsaKernels* isa : isas) {
    std::atomic<bool> reading{false}, done{false};
    std::thread writer([&] {
      while (!reading.load(std::memory_order_acquire)) {
      }
      // Each round writes the other value: copies of 0x22 over 0x11 and fills of 0x11 over 0x22, in turn.
      for (int round = 0; round < 4000; ++round) {
        if (round % 2 == 0) {
          isa->string.memmove(buffer, twos, sizeof(buffer), kMemNoDrain);
        } else {
          isa->string.memset(buffer, 0x11, sizeof(buffer), kMemNoDrain);
        }
      }
      done.store(true, std::memory_order_release);
    });
    size_t torn = 0, reads = 0;
    reading.store(true, std::memory_order_release);
    do {
      for (size_t i = 0; i < kWords; i += 7, ++reads) {
        const uint64_t w = __atomic_load_n(&buffer[i], __ATOMIC_RELAXED);
        if (w != 0x1111111111111111ull && w != 0x2222222222222222ull) ++torn;
      }
    } while (!done.load(std::memory_order_acquire));
    writer.join();
    EXPECT_GT(reads, kWords / 7) << isa->name;
    EXPECT_EQ(torn, 0u) << isa->name << ": " << torn << " of " << reads << " aligned words read half written";
  }
}

std::vector<Config> AllConfigs() {
  std::vector<Config> out;
  for (IsaLevel level : {IsaLevel::kGeneric, IsaLevel::kSse2, IsaLevel::kAvx, IsaLevel::kAvx512}) {
    for (Table table : {Table::kCacheLine, Table::kCacheLineNoMovnt, Table::kByte, Table::kByteNoMovnt}) {
      out.push_back({level, FlushInstruction::kClwb, table});
    }
    // The other flush instructions change only the flush in the same kernel.
    out.push_back({level, FlushInstruction::kClflushopt, Table::kCacheLine});
    out.push_back({level, FlushInstruction::kClflush, Table::kCacheLine});
    out.push_back({level, FlushInstruction::kClwb, Table::kCacheLineFrom8});
    if (level != IsaLevel::kGeneric) {
      out.push_back({level, FlushInstruction::kClwb, Table::kCacheLineNearTemporal});
      out.push_back({level, FlushInstruction::kClflush, Table::kCacheLineNearTemporal});
    }
  }
  out.push_back({IsaLevel::kAvx512, FlushInstruction::kClwb, Table::kCacheLineBatches});
  out.push_back({IsaLevel::kAvx512, FlushInstruction::kClflush, Table::kCacheLineBatches});
  out.push_back({IsaLevel::kAvx512, FlushInstruction::kClwb, Table::kByteBatches});
  for (IsaLevel level : {IsaLevel::kSse2, IsaLevel::kAvx, IsaLevel::kAvx512}) {
    out.push_back({level, FlushInstruction::kClflush, Table::kPageString});  // no flush: any CPU with CLFLUSH
  }
  // SSE2 forced the way a user would: PMEM_AVX=0.
  out.push_back({IsaLevel::kSse2, FlushInstruction::kClwb, Table::kCacheLine, "PMEM_AVX"});
  out.push_back({IsaLevel::kSse2, FlushInstruction::kClwb, Table::kByte, "PMEM_AVX"});
  // AVX-512 forced on (whatever the CPU kind's default) and off, the way a user would (off keeps the avx kernels,
  // also on the CPU kinds whose row defaults to AVX-512: Zen 5, Intel 6/167 and 6/207; ops_test checks that off wins
  // over on).
  out.push_back({IsaLevel::kAvx512, FlushInstruction::kClwb, Table::kCacheLine, "PMEM_AVX512F", "1"});
  out.push_back({IsaLevel::kAvx512, FlushInstruction::kClwb, Table::kByte, "PMEM_AVX512F", "1"});
  out.push_back({IsaLevel::kAvx, FlushInstruction::kClwb, Table::kCacheLine, "PMEM_AVX512F", "0"});
  // The portable level with the C library's copies underneath.
  out.push_back({IsaLevel::kGeneric, FlushInstruction::kClwb, Table::kCacheLine, "PMEM_NO_GENERIC_MEMCPY", "1"});
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllKernels, KernelTest, ::testing::ValuesIn(AllConfigs()), ConfigName);

}  // namespace
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
