// Copyright 2026 The pmem2 Authors.
//
// tools/bench/mappings.h
// -----------------------------------------------------------------------------
//
// Internal to tools/bench's destinations: the mappings behind each side of a lane and who owns them. pmem2 and
// the reference map through their own APIs; the limit gets a plain mmap placed the way pmem2 places its own
// (map_internal::MapAligned), so its column differs from the libraries' only in the code that runs.

#ifndef PMEM2_TOOLS_BENCH_MAPPINGS_H_
#define PMEM2_TOOLS_BENCH_MAPPINGS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "pmem2/pmem2.h"
#include "tools/bench/lane.h"
#include "tools/bench/reference_library.h"

namespace pmem2 {
namespace bench {

// A plain read-write mapping, unmapped when destroyed.
class PlainMapping {
 public:
  // MAP_SHARED of the first `size` bytes of `fd`, at the address alignment pmem2 would use for a source aligned
  // to `source_alignment` (map_internal::AddressAlignment).
  static absl::StatusOr<std::unique_ptr<PlainMapping>> OfFile(int fd, size_t size, size_t source_alignment);
  // Private anonymous memory.
  static absl::StatusOr<std::unique_ptr<PlainMapping>> Anonymous(size_t size);

  ~PlainMapping();
  PlainMapping(const PlainMapping&) = delete;
  PlainMapping& operator=(const PlainMapping&) = delete;

  char* data() const { return static_cast<char*>(address_); }

 private:
  PlainMapping(void* address, size_t size) : address_(address), size_(size) {}
  void* address_;
  size_t size_;
};

// Everything the lanes of a Destinations point into. Destroyed mappings first, descriptors last.
struct Mappings {
  Mappings() = default;
  Mappings(const Mappings&) = delete;
  Mappings& operator=(const Mappings&) = delete;
  ~Mappings();

  std::vector<Map> pmem2;
  std::vector<ReferenceMap> reference;
  std::vector<std::unique_ptr<PlainMapping>> plain;
  std::vector<int> fds;
};

// PMEM2_FORCE_GRANULARITY set to `value` for the lifetime of the object (both libraries read it while mapping),
// then the caller's value (or its absence) restored. The bench's only write to the environment; not
// thread-safe, as the environment is not.
class ForcedGranularity {
 public:
  explicit ForcedGranularity(const char* value);
  ~ForcedGranularity();
  ForcedGranularity(const ForcedGranularity&) = delete;
  ForcedGranularity& operator=(const ForcedGranularity&) = delete;

 private:
  absl::optional<std::string> old_;
};

// Writes every page of [base, base + size) once (same value) so no timed call takes a page fault.
// `base` is page-aligned.
void Prefault(char* base, size_t size);

// Touches every page of [base, base + size) again, after Prefault, and returns what that took per page in
// nanoseconds. Normally a TLB fill each (well under 1 us). Under a hypervisor that shadows the guest's page
// tables and keeps only the mapping faulted in last shadowed (a PVM guest, 2026-12-01: 6.5-8.2 us when
// another mapping had been faulted in after this one), a window mapped more than once is re-shadowed page by
// page while the timed calls run, so cold (seq, rand) rows would measure the hypervisor through every mapping
// but the last one touched.
double TouchAgain(char* base, size_t size);
inline constexpr double kShadowedPageNs = 2000;  // above this, TouchAgain saw hypervisor exits

// Maps all of `source` with pmem2, requiring page granularity (the weakest: pmem2 picks what the destination
// allows, or PMEM2_FORCE_GRANULARITY forces). With `expect`, a different result is an error. Errors start with
// "pmem2: ".
absl::StatusOr<Map> MapWithPmem2(const Source& source, absl::optional<StoreGranularity> expect);

// The table's name of the reference's granularity: "byte", "cache_line", "page".
const char* ReferenceGranularityName(pmem2_granularity granularity);

Target FromPmem2(const Map& map);
Target FromReference(const ReferenceMap& map);

// Sets `lane`'s limit for `granularity` on the plain mapping at `base`: glibc for byte; for cache line every
// strategy of CacheLineLimitStrategies() and CLWB-class write-back for persist; for page every strategy of
// PageLimitStrategies() and msync (limit_kernels.h).
void SetLimit(StoreGranularity granularity, char* base, Lane* lane);

// The table's CPU lines: "cpu: <vendor> family F model M (<name>); last-level cache N MiB; <pmem2's DescribeCpu()>",
// a note when the hot window is no larger than the last-level cache (hot copies from 4 KiB may then find lines the
// column before left cached), and a warning when `cold_window` is below max(2 GiB, 8 x the last-level cache)
// (machine.h); `cold_window` 0: no cold pattern timed, no warning.
std::vector<std::string> CpuNotes(size_t hot_window, size_t cold_window);

absl::Status ErrnoError(absl::string_view what, int err);

// `status` with "`prefix`: " before its message.
absl::Status Prefixed(absl::string_view prefix, const absl::Status& status);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_MAPPINGS_H_
