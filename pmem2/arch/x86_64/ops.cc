// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/x86_64/ops.h"

#include "pmem2/arch/x86_64/ops_for_test.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "pmem2/arch/generic/ops.h"
#include "pmem2/arch/x86_64/flush.h"
#include "pmem2/arch/x86_64/kernel_table.h"
#include "pmem2/internal/fork_safe_lazy.h"
#include "pmem2/internal/fork_safe_mutex.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {

std::atomic<size_t> cache_line_nt_threshold{kDefaultCacheLineNtThreshold};
std::atomic<size_t> byte_nt_threshold{kDefaultByteNtThreshold};
std::atomic<size_t> cache_line_near_temporal_below{0};
std::atomic<size_t> nt_copy_batch_from{0};
std::atomic<size_t> cache_line_nt_copy_batch_from{0};
__thread uintptr_t last_destination_line __attribute__((tls_model("initial-exec"))) = 0;

namespace {

void DrainSfence() { Sfence(); }
void DrainMfence() { Mfence(); }
void FlushNothing(const void*, size_t) {}
void PersistByFence(const void*, size_t) { Sfence(); }

// The portable copy loops plus this CPU's flush: only reached when a test forces a CPU without SSE2 (every
// x86-64 CPU has it). kLibc is PMEM_NO_GENERIC_MEMCPY.
template <void (*Line)(const void*), bool kLibc>
void* GenericMemmove(void* dst, const void* src, size_t len, unsigned flags) {
  if (kLibc) {
    std::memmove(dst, src, len);
  } else {
    generic::CopyWords(dst, src, len);
  }
  if ((flags & kMemNoFlush) != 0) return dst;
  FlushLines<Line>(dst, len);
  if ((flags & kMemNoDrain) == 0) DrainAfter<Line>();
  return dst;
}

template <void (*Line)(const void*), bool kLibc>
void* GenericMemset(void* dst, int c, size_t len, unsigned flags) {
  if (kLibc) {
    std::memset(dst, c, len);
  } else {
    generic::FillWords(dst, c, len);
  }
  if ((flags & kMemNoFlush) != 0) return dst;
  FlushLines<Line>(dst, len);
  if ((flags & kMemNoDrain) == 0) DrainAfter<Line>();
  return dst;
}

template <void (*Line)(const void*)>
MemKernels GenericKernels(bool libc) {
  if (libc) return {GenericMemmove<Line, true>, GenericMemset<Line, true>};
  return {GenericMemmove<Line, false>, GenericMemset<Line, false>};
}

// Fork-safe: a forked child may select again. Made when the library loads, so that no thread is still making it
// at a fork (fork_safe_mutex.h).
internal::ForkSafeMutex& InternMutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;
  return *mutex;
}
const bool intern_mutex_made_at_load = (InternMutex(), true);

// PersistOps names must outlive every table; the set of distinct names is small, so keep them all.
const char* Intern(const std::string& name) {
  std::lock_guard<internal::ForkSafeMutex> lock(InternMutex());
  static auto* names = new std::set<std::string>();  // made under the lock: a fork waits for it
  return names->insert(name).first->c_str();
}

std::string SizeText(size_t n) {
  if (n >= (size_t{1} << 20) && n % (size_t{1} << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " B";
}

std::string KernelName(const char* isa, bool allow_nt, size_t threshold, size_t near_temporal_below = 0) {
  std::string name = isa;
  if (allow_nt) {
    name += " nt >= " + SizeText(threshold);
    if (near_temporal_below != 0) {
      name += ", temporal < " + SizeText(near_temporal_below) + " near the thread's last destination";
    }
  } else {
    name += " temporal (PMEM_NO_MOVNT)";
  }
  return name;
}

// A copy kernel's name with the size from which its non-temporal copies load 32 lines before storing them, if they do.
const char* BatchName(const char* name, size_t batch_from) {
  if (batch_from == 0) return name;
  return Intern(std::string(name) + ", " + std::to_string(kAvx512NtCopyBatchLines) +
                "-line batches >= " + SizeText(batch_from));
}

// Per CPU kind (vendor, family, model): the choices that were measured there, side by side with libpmem2 1.12.1
// in one process and with every strategy of tools/bench's limit, for hot, sequential-cold and random-cold
// destinations. Add or change a row only with a results file that shows the win; a CPU kind not listed gets
// kUnmeasured, which is conservative rather than fast.
//
//   - AMD Zen 4 (family 25, model 17): non-temporal stores win from 64 B whatever the destination, hot or
//     cold (pmem2/arch/README.md, ../shared/reference/perf-anchors.md); page copies keep ordinary stores below
//     16 KiB; AVX-512 brought nothing measurable.
//   - AMD Zen 5 (family 26, model 2), measured on two guests (the second with a 32 MiB last-level cache and an
//     msync of ~0.2 us; where they disagreed, the row takes the side that cannot fall below libpmem2). Sections of
//     tools/bench/results/amd-26-2.md in quotes.
//       Cache line: non-temporal from 8 B wherever the copy lands. From 64 B NT (or MOVDIR64B, which ties) wins every
//         size and pattern, ordinary stores + CLWB cost 1.6x at 64-128 B even on a hot line; a record of 8-63 B in
//         8-byte MOVNTIs took 0.61-0.66 of the time of stores + CLWB on random lines and 0.93-0.98 on a hot one, while
//         5-byte records in a log lost, hence 8 B ("Records smaller than a line"). AVX-512, one 64-byte store per
//         line: with two 32-byte ones pmem2 stayed 8-24 % over the limit at random cold 1-2 KiB ("Registers saved
//         around the stream").
//       Page copies (msync after them) follow the thread's destination history ("Page copies by destination"):
//         rewrite (starting up to 128 KiB before the last line written, or covering it): ordinary stores below 8 MiB,
//           fills below 48 MiB. NT cost 7-17 % at 1-8 KiB and up to 2.8x at 64 KiB-1 MiB, 1.4-2.0x for fills of the
//           same 8-16 MiB again ("Page fills of 2-64 MiB"); ordinary stores win the same buffer written again by up to
//           5.4x on the second guest. The price of the 128 KiB: blocks written in descending order through a cold file
//           are 4-23 % slower ("Blocks written in descending order"), which a one-word history cannot tell from two
//           buffers in turn.
//         ahead (a stream): NT from 16 KiB, fills from 32 KiB. At 16-32 KiB NT copies won 12-31 % on the second guest
//           and tied on the first, NT fills lost 11-20 % at 16 KiB on the first and won from 32 KiB on the second
//           ("The page copy's own work", "Fills on a stream go non-temporal from 32 KiB").
//         far: NT from 8 B below 8 MiB, and from 8 MiB at the copies' rewrite threshold (8 MiB), fills too. Records of
//           8-56 B in MOVNTIs took a median 0.90 of the time of ordinary stores + msync on random lines ("Page records
//           smaller than a line"), 64 B-32 KiB NT won by 1-16 %; at 128 KiB-8 MiB ordinary stores won by 6-32 % on
//           the first guest and lost by 15-41 % on the second ("Large far copies"), random fills of 8-32 MiB likewise
//           ("Far fills of 8-32 MiB"), so those go NT as libpmem2's do.
//   - Intel family 6 model 167: non-temporal stores (or MOVDIR64B, which ties) win every size and pattern from 64 B
//     (tools/bench/results/intel-6-167.md), a buffer written again too ("A buffer written again"). Page copies (msync
//     after ordinary stores) lose to non-temporal stores + msync from 2 KiB on a sequentially written destination and
//     from 64 B on a far one (random: 9-14 % at 64 B-1 KiB), and win on lines just written: page copies follow their
//     own destination history, non-temporal from 64 B when far and from 2 KiB when ahead. A rewrite is a copy starting
//     at most 64 lines before the last line written or covering it (the same buffer again, whatever its size), unless
//     it runs on past that line by more than 2 lines and by more lines than it rewrites (the next record of a stream of
//     records that are not whole lines: ahead). There NT took 2.0-8.2x the time of ordinary stores at 8-512 KiB,
//     1.23-1.48x at 1 MiB, 0.99-1.01x at 1.25 MiB and 0.74-0.93x at 1.375-2 MiB (the source and the destination no
//     longer fit the 2 MiB L2), 0.96-1.05x at 4-24 MiB, 0.90-0.98x at 32 MiB and 0.54-0.89x at 48-64 MiB: copies go
//     non-temporal from 1.25 MiB on a rewrite. Fills: 1.02-8.7x up to 32 MiB, either way at 48-64 MiB (0.93-1.08x,
//     0.51-1.07x): non-temporal from 48 MiB, as libpmem2's. Below those thresholds a rewrite from 128 KiB goes to REP
//     MOVSQ / REP STOSQ (string_from; Intel's manual keeps their aligned 8-byte elements whole): copies of 128 KiB-1
//     MiB took 0.90-0.98 of the vector loop's time, fills 0.93-0.97 at 1.5-2 MiB and 0.95-1.08 elsewhere; below 128 KiB
//     string copies took 0.76-0.83 at 24 KiB, 1.05-1.09 at 32-64 KiB and were within the runs' spread elsewhere; a copy
//     whose source is not 8-aligned where the destination is keeps the vector loop (strings 1.14-1.43x) ("String
//     instructions for a buffer written again, built"). Until then a rewrite of more than 4 KiB counted as far and went
//     non-temporal, and the next record of a stream of records that are not whole lines counted as a rewrite: below 16
//     KiB it took ordinary stores, 1.6x the time of NT ones at 8 KiB + 8 B, and with the rewrite threshold at 1.25 MiB
//     it would have taken up to 2.2x ("A buffer written again"). AVX-512: one 64-byte non-temporal store per line
//     writes cold lines 0-8 % (sequential) and 8-24 % (random) faster than two 32-byte ones from 16 KiB up, which is
//     where libpmem2 (AVX-512 too) was ahead; equal on hot lines within 1-2 % (x86_64/results/intel-6-167-avx512.md).
//     Non-temporal copies from 16 KiB load 32 lines (2 KiB, zmm0-31) before storing them, as libpmem2 does: with the
//     page tables and the source cold, 64 MiB took 11-16 % less time so (libpmem2 had been 12-16 % ahead there), and
//     with a source as cold as the destination (a compaction; tools/bench's move pattern) 16-128 KiB took 6-18 %
//     less (0.90-0.98x of libpmem2 before, 1.00-1.02x after); with a cached source 16 KiB-2 MiB stayed within the
//     noise. Batches from 4 KiB cost page copies of a cold source 13-18 % at 4 KiB and 9-10 % at 8 KiB, so the
//     byte tables (and page copies) batch from 16 KiB and the cache-line tables from 8 KiB, where a copy from a cold
//     source took 6-9 % less time batched in three of four pairs (0.93-0.95x of libpmem2 before, 1.01-1.02x after)
//     and the cached ones the same
//     ("Copies in batches of 32 lines", "Copies from a cold source", "Batches of the cache-line tables from 8 KiB"
//     in tools/bench/results/intel-6-167.md). Emerald Rapids batches too (below); not measured on other CPU kinds.
//   - Intel Emerald Rapids (family 6, model 207): ordinary stores + CLWB beat non-temporal stores by 15-28 % at
//     64-256 B on a cached or sequentially prefetched line and lose by 32-47 % on a cold, randomly placed one;
//     storing everything before the write-backs stays ahead up to ~320 B and the crossover is 384-512 B
//     (perf-anchors-emr.md, sections 2-3): the destination history decides below 384 B. In tools/bench on that CPU
//     (tools/bench/results/intel-6-207.md, run FL2) the history kept random cold 64-128 B at 1.50-1.58x of libpmem2
//     and seq 64-256 B at 1.00-1.19x. Page copies: as on 6/167, ordinary stores + msync win on a rewrite up to 1 MiB
//     (NT from 1.25 MiB; fills of the same buffer either way at 64 MiB, ordinary stores ahead at 48 MiB), lose from 2
//     KiB on a stream and from 512 B on a far line (ordinary stores 9 % ahead at 64 B, 0-4.5 % at 128-256 B), where
//     pmem2/arch's 16 KiB without a history had left 4 KiB page copies at 0.73-0.90x of libpmem2 ("Run A", "Sweep S
//     and R"); rewrites from 128 KiB by string instructions, as on 6/167: the same buffer copied again took 4-15 %
//     less time at 128 KiB-1 MiB, filled again 2-19 % less at 128 KiB-32 MiB, in two pairs of runs ("Runs T").
//     AVX-512 with copies in 32-line batches, as 6/167 and libpmem2: 0.98-1.06x of libpmem2 from 16 KiB in every
//     pattern and from a cold source, where the AVX kernels had 0.96-0.98x in 11 of 35 cells and no batches
//     0.97-0.99x in 9 of 10 from a cold source ("Runs L"); the price, a 64 MiB copy of a cached source 2-6 % slower
//     than unbatched in 5 of 6 of the limit's rows.
//   - Unmeasured CPUs: the destination history decides below 256 B, libpmem2's own non-temporal threshold. A
//     near destination then gets what libpmem2 does for every small copy (ordinary stores + write-back), a far
//     one non-temporal stores, which won for cold random lines on every CPU measured (1.1-1.5x); so neither
//     pattern should fall far below libpmem2 on a CPU nobody has measured.
struct CpuKindDefaults {
  CpuVendor vendor;
  unsigned family;
  unsigned model;
  size_t near_temporal_below;  // 0: non-temporal from the cache-line threshold wherever the destination is
  size_t cache_line_nt_from;   // the cache-line threshold; 0: kDefaultCacheLineNtThreshold (64 B)
  // Page copies (backend.h: rewrite, ahead, far, far_below, rewrite_back, rewrite_covering, run_on_is_ahead,
  // string_from, fill_rewrite, fill_ahead); all 0: pmem2/arch's kPageNtThreshold (16 KiB, tuned on Zen 4), no history.
  backend::PageNtThresholds page;
  bool avx512;
  // Non-temporal copies from this size load 32 lines before storing them, with the AVX-512 kernels (kernel_table.h);
  // 0: never, else at least kNtCopyBatchFloor. The byte tables' (and so the page copies'), and the cache-line
  // tables' (at least kCacheLineNtCopyBatchFloor).
  size_t nt_copy_batch_from;
  size_t cache_line_nt_copy_batch_from;
};
// One row per CPU kind, as the comment above lists them (clang-format would put each field of Zen 5's on a line).
// clang-format off
constexpr CpuKindDefaults kMeasuredCpuKinds[] = {
    {CpuVendor::kAmd, 25, 17, 0, 0, {}, false, 0, 0},
    {CpuVendor::kAmd, 26, 2, 0, 8,
     {kDefaultByteNtThreshold, size_t{16} << 10, 8, kDefaultByteNtThreshold, size_t{128} << 10, true, false, 0,
      size_t{48} << 20, size_t{32} << 10},
     true, 0, 0},
    {CpuVendor::kIntel, 6, 167, 0, 0,
     {size_t{5} << 18, size_t{2} << 10, 64, 0, 0, true, true, 128 << 10, size_t{48} << 20},
     true, kNtCopyBatchFloor, kCacheLineNtCopyBatchFloor},
    {CpuVendor::kIntel, 6, 207, 384, 0,
     {size_t{5} << 18, size_t{2} << 10, 512, 0, 0, true, true, 128 << 10, size_t{64} << 20},
     true, kNtCopyBatchFloor, kCacheLineNtCopyBatchFloor},
};
// clang-format on
constexpr CpuKindDefaults kUnmeasured = {CpuVendor::kOther, 0, 0, 256, 0, {}, false, 0, 0};
constexpr bool BatchesFromTheFloor(const CpuKindDefaults& k) {
  return (k.nt_copy_batch_from == 0 || k.nt_copy_batch_from >= kNtCopyBatchFloor) &&
         (k.cache_line_nt_copy_batch_from == 0 || k.cache_line_nt_copy_batch_from >= kCacheLineNtCopyBatchFloor);
}
constexpr bool EveryRowBatchesFromTheFloor() {
  for (const CpuKindDefaults& k : kMeasuredCpuKinds) {
    if (!BatchesFromTheFloor(k)) return false;
  }
  return BatchesFromTheFloor(kUnmeasured);
}
static_assert(EveryRowBatchesFromTheFloor(), "the kernels look at a table's batch size only from its floor");
// String instructions keep the 8-byte store promise by Intel's manual only (kernel_table.h, CopyWords), and a row's
// string_from below its rewrite thresholds, else it would never apply.
constexpr bool StringsOnIntelBelowTheRewriteThresholds(const CpuKindDefaults& k) {
  const backend::PageNtThresholds& p = k.page;
  return p.string_from == 0 || (k.vendor == CpuVendor::kIntel && p.string_from < p.rewrite &&
                                (p.fill_rewrite == 0 || p.string_from < p.fill_rewrite));
}
constexpr bool EveryRowsStringsOnIntel() {
  for (const CpuKindDefaults& k : kMeasuredCpuKinds) {
    if (!StringsOnIntelBelowTheRewriteThresholds(k)) return false;
  }
  return StringsOnIntelBelowTheRewriteThresholds(kUnmeasured);
}
static_assert(EveryRowsStringsOnIntel(), "string instructions only on Intel rows, below their rewrite thresholds");

const CpuKindDefaults& DefaultsFor(const CpuFeatures& f) {
  for (const CpuKindDefaults& k : kMeasuredCpuKinds) {
    if (f.vendor == k.vendor && f.family == k.family && f.model == k.model) return k;
  }
  return kUnmeasured;
}

std::atomic<const Selection*> installed_for_test{nullptr};

// The current selection's page copy plan (PagePlan, backend::current_page_plan). Plans are never freed, so a
// thread still reading an earlier one never reads freed memory; a plan equal to one already kept is reused, so
// tests that install selections again and again keep as many as there are different ones.
struct PagePlans {
  internal::ForkSafeMutex mutex;  // a forked child may select again
  std::deque<backend::PageCopyPlan> plans;  // push_back keeps the addresses of the others
};
PagePlans& GetPagePlans() {
  static PagePlans* const plans = new PagePlans;
  return *plans;
}
const bool page_plans_made_at_load = (GetPagePlans(), true);  // no thread still making them at a fork

void PublishPagePlan(const Selection& s) {
  PagePlans* const plans = &GetPagePlans();
  backend::PageCopyPlan plan;
  plan.memmove = s.byte.memmove;
  plan.memset = s.byte.memset;
  plan.thresholds = s.page;
  plan.threshold_from_environment = s.movnt_threshold_from_environment;
  // A selection without both string kernels (one a test built by hand) never sends a copy to a null one.
  if (s.page_string_memmove == nullptr || s.page_string_memset == nullptr) plan.thresholds.string_from = 0;
  if (plan.thresholds.string_from != 0) {
    plan.string_memmove = s.page_string_memmove;
    plan.string_memset = s.page_string_memset;
    plan.string_memmove_name = "rep movsq";
    plan.string_memset_name = "rep stosq";
  }
  backend::DerivePageDecisions(&plan);
  std::lock_guard<internal::ForkSafeMutex> lock(plans->mutex);
  auto kept = std::find(plans->plans.begin(), plans->plans.end(), plan);
  if (kept == plans->plans.end()) {
    plans->plans.push_back(plan);
    kept = std::prev(plans->plans.end());
  }
  backend::current_page_plan.store(&*kept, std::memory_order_release);
}

void MakeCurrent(const Selection& s) {
  cache_line_nt_threshold.store(s.cache_line_nt_threshold, std::memory_order_relaxed);
  byte_nt_threshold.store(s.byte_nt_threshold, std::memory_order_relaxed);
  cache_line_near_temporal_below.store(s.cache_line_near_temporal_below, std::memory_order_relaxed);
  nt_copy_batch_from.store(s.nt_copy_batch_from, std::memory_order_relaxed);
  cache_line_nt_copy_batch_from.store(s.cache_line_nt_copy_batch_from, std::memory_order_relaxed);
  PublishPagePlan(s);
}

internal::ForkSafeLazy<Selection> process_selection;  // fork-safe (fork_safe_lazy.h)

ABSL_ATTRIBUTE_HOT const Selection& ProcessSelection() {
  return process_selection.Get([] {
    // Every thread that races here makes the same selection and makes it current before any can be handed out.
    auto s = std::make_unique<Selection>(Select(ProcessCpuFeatures(), ProcessEnvOverrides()));
    MakeCurrent(*s);
    return s;
  });
}

ABSL_ATTRIBUTE_HOT const Selection& Current() {
  const Selection* test = installed_for_test.load(std::memory_order_acquire);
  return test != nullptr ? *test : ProcessSelection();
}

}  // namespace

Selection Select(const CpuFeatures& features, const EnvOverrides& overrides) {
  Selection s{};
  const bool allow_nt = !overrides.no_movnt;
  const CpuKindDefaults& kind_defaults = DefaultsFor(features);
  const size_t row_nt_threshold = kind_defaults.cache_line_nt_from != 0 ? kind_defaults.cache_line_nt_from
                                                                          : kDefaultCacheLineNtThreshold;
  s.cache_line_nt_threshold = overrides.has_movnt_threshold ? overrides.movnt_threshold : row_nt_threshold;
  s.byte_nt_threshold = overrides.has_movnt_threshold ? overrides.movnt_threshold : kDefaultByteNtThreshold;
  s.movnt_threshold_from_environment = overrides.has_movnt_threshold;
  // The destination history only chooses between non-temporal and ordinary stores: not with PMEM_NO_MOVNT, and
  // not where PMEM_MOVNT_THRESHOLD set the user's own threshold, unless PMEM2_NEAR_TEMPORAL_BELOW asks for it.
  s.cache_line_near_temporal_below = overrides.has_near_temporal_below ? overrides.near_temporal_below
                                     : overrides.has_movnt_threshold    ? 0
                                                                        : kind_defaults.near_temporal_below;
  // Nothing to choose between with PMEM_NO_MOVNT; nothing to change below min(threshold, kSmallCopy + 1) (see
  // MemmoveCacheLine), where the history would cost its load and store for nothing.
  if (!allow_nt || s.cache_line_near_temporal_below <= std::min(s.cache_line_nt_threshold, kSmallCopy + 1)) {
    s.cache_line_near_temporal_below = 0;
  }
  s.page = kind_defaults.page;

  // AVX-512 needs CPU and OS support (features.avx512f) and not PMEM_AVX512F=0; then PMEM_AVX512F=1 selects it
  // (PMDK's choice, even with PMEM_AVX=0), and without the variable the CPU kind's row decides (AVX-512 on Zen 5,
  // Intel 6/167 and Emerald Rapids, AVX elsewhere).
  const bool avx512 = features.avx512f && !overrides.no_avx512f &&
                      (overrides.force_avx512f || (!overrides.no_avx && kind_defaults.avx512));
  const IsaKernels* isa = nullptr;
  if (avx512) {
    isa = &Avx512Kernels();
  } else if (features.avx && !overrides.no_avx) {
    isa = &AvxKernels();
  } else if (features.sse2) {
    isa = &Sse2Kernels();
  }
  s.isa = isa != nullptr ? isa->name : "generic";
  // Batches need the AVX-512 kernels' registers (kernel_table.h): a row's size means nothing to the others.
  s.nt_copy_batch_from = allow_nt && avx512 ? kind_defaults.nt_copy_batch_from : 0;
  s.cache_line_nt_copy_batch_from = allow_nt && avx512 ? kind_defaults.cache_line_nt_copy_batch_from : 0;
  // The row's string instructions for page rewrites need an ISA's kernels (their pieces and fallback); under
  // PMEM_NO_MOVNT every page copy keeps the byte table's ordinary stores, as the row's other choices do not apply.
  if (isa == nullptr || !allow_nt) s.page.string_from = 0;
  if (s.page.string_from != 0) {
    s.page_string_memmove = isa->string.memmove;
    s.page_string_memset = isa->string.memset;
  }

  // Byte granularity: no flush; the fence orders.
  s.byte.persist = PersistByFence;
  s.byte.flush = FlushNothing;
  s.byte.drain = ByteDrain;
  s.byte.flush_name = "none";
  s.byte.drain_name = "sfence";
  const MemKernels byte =
      isa != nullptr ? isa->byte[allow_nt] : GenericKernels<NoFlushLine>(overrides.no_generic_memcpy);
  s.byte.memmove = byte.memmove;
  s.byte.memset = byte.memset;
  // Named by the size from which they really store non-temporally: their copies and fills of up to kSmallCopy bytes
  // are one step of loads and ordinary stores whatever PMEM_MOVNT_THRESHOLD says (env_overrides.h).
  const char* byte_name = isa != nullptr
                              ? Intern(KernelName(s.isa, allow_nt, std::max(s.byte_nt_threshold, kSmallCopy + 1)))
                              : (overrides.no_generic_memcpy ? "libc" : "generic");
  s.byte.memmove_name = BatchName(byte_name, s.nt_copy_batch_from);  // 0 without kernels of an ISA
  s.byte.memset_name = byte_name;

  // The best flush instruction the CPU has and PMEM_NO_CLWB / PMEM_NO_CLFLUSHOPT allow.
  FlushKind kind = FlushKind::kClflush;
  if (features.clwb && !overrides.no_clwb) {
    kind = FlushKind::kClwb;
  } else if (features.clflushopt && !overrides.no_clflushopt) {
    kind = FlushKind::kClflushopt;
  }
  // CLFLUSH's ends with its MFENCE (Persist): the drain that follows libpmem's deep flush is its own drain, which
  // PMEM_NO_FLUSH=1 makes the byte table's SFENCE (raw_memory.cc), and AMD orders CLFLUSH only with MFENCE (flush.h).
  s.write_back = nullptr;
  if (features.clflush) {
    s.write_back = kind == FlushKind::kClwb         ? Flush<ClwbLine>
                   : kind == FlushKind::kClflushopt ? Flush<ClflushoptLine>
                                                    : Persist<ClflushLine>;
  }

  // Cache-line granularity: that instruction, whatever PMEM_NO_FLUSH says. PMEM_NO_FLUSH=1 is libpmem's (its
  // functions take the byte table then: raw_memory.cc); a Map's granularity already says whether the platform writes
  // caches back, and libpmem2 does not read the variable, so a cache-line Map never takes it for that.
  if (!features.clflush) {
    s.cache_line = s.byte;
    s.cache_line_nt_copy_batch_from = s.nt_copy_batch_from;  // the byte tables' kernels, and so their batches
    s.cache_line.writes_back_cache_lines = false;            // the map package falls back to msync
  } else {
    PersistOps& o = s.cache_line;
    MemKernels mem{};
    switch (kind) {
      case FlushKind::kClwb:
        o.persist = Persist<ClwbLine>;
        o.flush = Flush<ClwbLine>;
        o.flush_name = "clwb";
        mem = isa != nullptr ? isa->cache_line[0][allow_nt] : GenericKernels<ClwbLine>(overrides.no_generic_memcpy);
        break;
      case FlushKind::kClflushopt:
        o.persist = Persist<ClflushoptLine>;
        o.flush = Flush<ClflushoptLine>;
        o.flush_name = "clflushopt";
        mem = isa != nullptr ? isa->cache_line[1][allow_nt]
                             : GenericKernels<ClflushoptLine>(overrides.no_generic_memcpy);
        break;
      case FlushKind::kClflush:
        o.persist = Persist<ClflushLine>;
        o.flush = Flush<ClflushLine>;
        o.flush_name = "clflush";
        mem = isa != nullptr ? isa->cache_line[2][allow_nt]
                             : GenericKernels<ClflushLine>(overrides.no_generic_memcpy);
        break;
    }
    o.drain = kind == FlushKind::kClflush ? DrainMfence : DrainSfence;
    o.drain_name = kind == FlushKind::kClflush ? "mfence" : "sfence";
    o.writes_back_cache_lines = true;
    o.memmove = mem.memmove;
    o.memset = mem.memset;
    const char* name = isa != nullptr ? Intern(KernelName(s.isa, allow_nt, s.cache_line_nt_threshold,
                                                          s.cache_line_near_temporal_below))
                                      : (overrides.no_generic_memcpy ? "libc" : "generic");
    o.memmove_name = BatchName(name, s.cache_line_nt_copy_batch_from);
    o.memset_name = name;
  }

  s.description = "x86_64: " + features.Names();
  if (!overrides.description.empty()) s.description += "; overrides: " + overrides.description;
  return s;
}

const PersistOps& CacheLineOps() { return Current().cache_line; }
ABSL_ATTRIBUTE_HOT const PersistOps& ByteOps() { return Current().byte; }
// Hot: every byte-granularity drain_fn. A page sync issues the same SFENCE inline (persist_ops.h).
ABSL_ATTRIBUTE_HOT void ByteDrain() { Sfence(); }
FlushFn WriteBackFlush() { return Current().write_back; }
ABSL_ATTRIBUTE_HOT const Selection& CurrentSelection() { return Current(); }
const backend::PageCopyPlan& PagePlan() {
  const backend::PageCopyPlan* plan = backend::current_page_plan.load(std::memory_order_acquire);
  if (ABSL_PREDICT_TRUE(plan != nullptr)) return *plan;
  // The process's first use of the engine: selecting publishes the plan (MakeCurrent). A test's selection is
  // published before it is installed, so a null plan means the process's own has not been made yet.
  ProcessSelection();
  return *backend::current_page_plan.load(std::memory_order_acquire);
}
std::string DescribeCpu() { return Current().description; }

LineFunctionsForTest ClwbFunctionsForTest() { return {Persist<ClwbLine>, Flush<ClwbLine>}; }
LineFunctionsForTest ClflushoptFunctionsForTest() { return {Persist<ClflushoptLine>, Flush<ClflushoptLine>}; }
LineFunctionsForTest ClflushFunctionsForTest() { return {Persist<ClflushLine>, Flush<ClflushLine>}; }
DrainFn DrainSfenceForTest() { return DrainSfence; }
DrainFn DrainMfenceForTest() { return DrainMfence; }

void InstallSelectionForTest(const Selection* selection) {
  // Published first, so that a page copy that finds the selection installed also finds a plan (PagePlan).
  MakeCurrent(selection != nullptr ? *selection : ProcessSelection());
  installed_for_test.store(selection, std::memory_order_release);
}

}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
