// Copyright 2026 The pmem2 Authors.
//
// tools/bench/comparison.h
// -----------------------------------------------------------------------------
//
// The side-by-side benchmark of pmem2 against PMDK's libpmem2 (the "reference", loaded with dlopen) and
// against "the limit" (tools/bench/limit_kernels.h), shared by //tools/bench:compare_benchmark and
// `pmem2 bench PATH`. Google Benchmark does the timing; this file decides what is timed and how.
//
// What is compared. A Lane is one store granularity with three Targets: pmem2's mapping, the reference's
// mapping of the same kind of destination, and a plain mapping for the limit. Every Target has libpmem2's
// function signatures, and every case of every side runs through the same timed loop, so only the function
// pointer differs between the columns.
//
// Destination offsets (the same rule for every side, so neither gains from a hot cache):
//   * memcpy/memset of n < 4 KiB: always the first bytes of the mapping. The destination lines are whatever
//     the previous call left (written back by CLWB or sent to memory by NT stores) and the page is in the TLB:
//     the latency of one persisted small copy, as in ../shared/reference/perf-anchors.md ("hot destination").
//   * memcpy/memset of n >= 4 KiB: each call writes the next round_up(n, 4 KiB) bytes of a window of
//     Lane::window bytes (128 MiB by default, 4x the 32 MiB L3), wrapping at its end, so large copies always
//     land on lines that are not in any cache, as streaming writes do.
//   * persist: the first n bytes every time, each line dirtied by one 8-byte store just before the call (inside
//     the timed loop, identical for every side), so the flush always has dirty lines to write back.
// The source is one fixed buffer (cached while it fits). Every side maps the same file, so every column writes
// the same physical pages (with a file per side, page placement in DRAM moved columns by 5-10 % between runs).
// Mappings are 2 MiB-aligned and pre-faulted before timing.
//
// Alternation: every (case, side) is its own Google Benchmark; --benchmark_enable_random_interleaving runs the
// repetitions of all of them in a random order, so the two libraries alternate throughout the run and a noisy
// neighbour hits both alike. Reported figures are medians of the repetitions' time per call: CPU time where
// every call keeps the CPU busy, real time where it may wait for a device (see Lane::cpu_time).

#ifndef PMEM2_TOOLS_BENCH_COMPARISON_H_
#define PMEM2_TOOLS_BENCH_COMPARISON_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/arch/persist_ops.h"
#include "tools/bench/table.h"

namespace pmem2 {
namespace bench {

// One side's functions on one destination.
struct Target {
  char* base = nullptr;  // start of the destination mapping
  PersistFn persist = nullptr;
  MemcpyFn memcpy = nullptr;
  MemsetFn memset = nullptr;
};

// What the limit column is for a lane.
enum class LimitKind {
  kNonTemporal,  // limit_kernels.h: NT stores + SFENCE (+ msync at page granularity), CLWB + SFENCE or msync
  kGlibc,        // glibc memcpy/memset (byte granularity: nothing to write back)
};

struct Lane {
  std::string granularity;  // "cache_line", "page", "byte": the table's granularity column
  size_t window = 0;        // bytes of every Target usable from `base`
  Target pmem2;
  Target reference;
  Target limit;  // for kGlibc only `base` is used
  LimitKind limit_kind = LimitKind::kNonTemporal;
  PersistFn limit_persist = nullptr;  // the limit for persist_fn; nullptr: no persist rows' limit
  bool on_tmpfs = false;              // the page-granularity target (>= 1.2x at <= 4 KiB) is defined on tmpfs only
  // Time base. CPU time (the benchmark thread's own, syscalls included) where every call keeps the CPU busy
  // (DRAM, tmpfs, persistent memory): on a shared 2-vCPU host real time also counts other tasks' time slices,
  // which swamps differences of a few percent. Real time where a call waits for a device (msync on a disk).
  bool cpu_time = true;
  // Only memcpy at RunOptions::byte_sizes against glibc: the comparison's anonymous byte lane, which measures
  // the dispatch cost of the no-flush path.
  bool memcpy_only = false;
};

// Sizes the issue asks for.
std::vector<size_t> DefaultCopySizes();     // 64 B ... 64 MiB
std::vector<size_t> DefaultPersistSizes();  // 64 B, 4 KiB, 2 MiB

// Owns every mapping the comparison writes to, and the source buffer.
class Destinations {
 public:
  // The README's comparison, on this machine: one file of `window` bytes on /dev/shm that every side maps on
  // its own (so every column writes the same physical pages), by both libraries at forced cache-line
  // granularity (PMEM2_FORCE_GRANULARITY=CACHE_LINE while each library maps) and at page granularity; plus
  // anonymous memory for the byte lane. The folder is removed when the object is destroyed.
  static absl::StatusOr<std::unique_ptr<Destinations>> ForComparison(size_t window);

  // `pmem2 bench PATH`: both libraries and the limit map all of the open descriptor `fd` (a file or Device
  // DAX) at the granularity each library detects (or PMEM2_FORCE_GRANULARITY forces); the window is
  // min(size, `max_window`). One lane, named after pmem2's granularity.
  static absl::StatusOr<std::unique_ptr<Destinations>> ForFile(int fd, const std::string& path, size_t max_window);

  ~Destinations();
  Destinations(const Destinations&) = delete;
  Destinations& operator=(const Destinations&) = delete;

  const std::vector<Lane>& lanes() const { return lanes_; }
  const char* source() const { return source_; }
  size_t source_size() const { return source_size_; }
  // Notes for the table's header, e.g. the reference's granularity when it differs from pmem2's.
  const std::vector<std::string>& notes() const { return notes_; }

  // Runs memcpy and memset of `size` bytes (a multiple of 64) with every side of every lane at offset 64 of
  // each destination and checks that all sides leave identical bytes in [0, size + 128). Not timed; proves the
  // three columns compute the same thing.
  absl::Status VerifySameBytes(size_t size) const;

 private:
  struct Holder;
  Destinations();
  absl::Status AllocateSource(size_t size);

  std::unique_ptr<Holder> holder_;
  std::vector<Lane> lanes_;
  char* source_ = nullptr;
  size_t source_size_ = 0;
  std::vector<std::string> notes_;
};

struct RunOptions {
  std::vector<size_t> copy_sizes = DefaultCopySizes();
  std::vector<size_t> persist_sizes = DefaultPersistSizes();
  std::vector<size_t> byte_sizes = {64};  // the byte lane's memcpy sizes (compared with glibc)
  int repetitions = 7;
  double min_time = 0.05;  // seconds per repetition
  // Extra Google Benchmark flags (e.g. --benchmark_filter=memcpy), applied after the defaults above.
  std::vector<std::string> benchmark_flags;
  std::ostream* progress = nullptr;  // one line per finished case; nullptr: silent
};

// Registers every case of every lane with Google Benchmark (replacing anything registered before), runs them
// with random interleaving, and returns one row per (op, granularity, size) with the medians. Sizes larger than
// a lane's window or the source are skipped. Fails if a benchmark reports an error.
absl::StatusOr<std::vector<Row>> RunComparison(const Destinations& destinations, const RunOptions& options);

// Pins the calling thread to `cpu`; with cpu < 0, to the last CPU it may run on (CPU 0 takes most interrupts).
// Returns the CPU, or an error if sched_setaffinity refuses.
absl::StatusOr<int> PinToCpu(int cpu);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_COMPARISON_H_
