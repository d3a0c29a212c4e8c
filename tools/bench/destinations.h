// Copyright 2026 The pmem2 Authors.
//
// tools/bench/destinations.h
// -----------------------------------------------------------------------------
//
// The memory every side of the comparison writes to: the lanes (lane.h) with their mappings, and the source
// buffer. Two kinds:
//
//   * ForComparison (//tools/bench:compare_benchmark): one unnamed file on /dev/shm, so every column writes the
//     same physical pages; both libraries map it at forced cache-line and at page granularity, and by default
//     every side of both lanes writes through libpmem2's page mapping (MappingUse); anonymous memory for the
//     byte lane.
//   * ForFile (`pmem2 bench PATH`): the user's file or Device DAX at the granularity each library detects,
//     every side writing through libpmem2's mapping.
//
// Every mapping is placed at the libraries' alignment, and every one written is pre-faulted before anything is
// timed.

#ifndef PMEM2_TOOLS_BENCH_DESTINATIONS_H_
#define PMEM2_TOOLS_BENCH_DESTINATIONS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/bench/lane.h"

namespace pmem2 {
namespace bench {

struct Mappings;

// Whose mapping of the comparison's file each side writes through. Random-destination rows depend on the
// mapping, not only on the code: on a KVM guest (Intel 6/167) the same copy function was 2-6 % slower at 512 B-
// 4 KiB through a second mapping of the file than through the first, whichever library made either
// (tools/bench/results/intel-6-167.md, 2026-12-01 06:44), which biased every random-cold ratio by that much.
enum class MappingUse {
  kShared,  // every side of both file lanes through libpmem2's page mapping (the columns differ only in their
            // code): the one mapping whose functions depend on it, as libpmem2 1.12.1's page persist makes no msync
            // for an address outside its own maps; and one mapping is all a shadow-paging hypervisor keeps warm
  kOwn,     // each side through its own (pmem2's, libpmem2's, a plain one for the limit): as applications do
};

// Owns every mapping the comparison writes to, and the source buffer.
class Destinations {
 public:
  // The README's comparison, on this machine: one file of `window` + `cold_window` bytes on /dev/shm (opened
  // with O_TMPFILE, so nothing is left behind even by a crash) mapped by both libraries; cache_line and
  // page lanes (both libraries with PMEM2_FORCE_GRANULARITY=CACHE_LINE or PAGE while they map) whose hot pattern
  // uses the first `window` bytes and whose cold patterns the `cold_window` bytes after them (never the lines the hot
  // columns and the persist rows keep rewriting), and the byte lane on anonymous memory against glibc (hot only).
  // Both windows are multiples of 2 MiB; `cold_window` 0: none (hot-only runs: the lanes' cold_window is 0, and no
  // cold pattern is timed). `use`: whose mapping each side writes through. The file's
  // blocks are allocated (posix_fallocate) before anything maps it: a /dev/shm without room is kResourceExhausted
  // naming the size and its free space ("/dev/shm: cannot allocate N bytes: No space left on device (M bytes free);
  // ..."), not a SIGBUS while the window is faulted in.
  static absl::StatusOr<std::unique_ptr<Destinations>> ForComparison(size_t window, size_t cold_window = 0,
                                                                     MappingUse use = MappingUse::kShared);

  // `pmem2 bench PATH`: both libraries map all of the open descriptor `fd` (a file or Device DAX) at the
  // granularity each detects (or PMEM2_FORCE_GRANULARITY forces), and every side, the limit too, writes through
  // the reference's mapping (as MappingUse::kShared); the hot window is min(size, `max_window`) and the cold
  // one min(size, `max_cold_window`), rounded down to pages. One lane, named after pmem2's granularity. A source
  // smaller than one page is kInvalidArgument naming `path`, its size and the page size; a Device DAX that the
  // reference maps at page granularity (PMEM2_FORCE_GRANULARITY=PAGE, which libpmem2 honours there: its persist would
  // msync the device, which fails, and abort the process) kFailedPrecondition, before anything is written.
  static absl::StatusOr<std::unique_ptr<Destinations>> ForFile(int fd, const std::string& path, size_t max_window,
                                                               size_t max_cold_window);

  ~Destinations();
  Destinations(const Destinations&) = delete;
  Destinations& operator=(const Destinations&) = delete;

  const std::vector<Lane>& lanes() const { return lanes_; }
  const char* source() const { return source_; }
  size_t source_size() const { return source_size_; }
  // Notes for the table's header: what was mapped where (and both windows), the time base, the CPU (kind, last-level
  // cache, features), the reference's path.
  const std::vector<std::string>& notes() const { return notes_; }

  // Runs memcpy and memset of `size` bytes (LimitKernelsTake) with every side of every lane at offset 64 of
  // each destination (below 64 B also at offset 120: from 16 B across a line boundary) and checks that all sides leave
  // identical bytes in the region around it. Not timed; proves the three columns compute the same thing.
  absl::Status VerifySameBytes(size_t size) const;

 private:
  Destinations();
  // Anonymous memory of `size` bytes filled with position-dependent bytes.
  absl::Status AllocateSource(size_t size);

  std::unique_ptr<Mappings> mappings_;
  std::vector<Lane> lanes_;
  char* source_ = nullptr;
  size_t source_size_ = 0;
  std::vector<std::string> notes_;
};

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_DESTINATIONS_H_
