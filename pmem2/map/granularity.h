// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/granularity.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/map: how a mapping's effective store granularity is decided, kept apart from the mmap
// code so each rule can be tested with a fake sysfs and a fake environment.
//
// The rules, in order:
//   1. An anonymous or private mapping never reaches a persistent medium, so no store needs flushing: byte.
//   2. A shared mapping that the kernel accepted with MAP_SYNC (or any Device DAX) is persistent memory whose
//      page tables stay valid without msync: byte if every NVDIMM region reports the CPU caches inside its
//      power-fail domain (eADR, persistence_domain "cpu_cache"), otherwise cache line. Except a file whose medium
//      keeps no store, or whose medium's durability sysfs cannot tell (request.h's WhyMapSyncIsNotDurable: an NVDIMM
//      region of volatile memory, directly or under device-mapper / md; a block device sysfs does not show, or shows
//      on no region): page, as a file system in RAM, never persistent memory.
//   3. Anything else goes through the page cache: page.
//   4. PMEM2_FORCE_GRANULARITY (byte / cache_line / cacheline / page, any case), read on every Map::Create()
//      as libpmem2 does, replaces the result of shared file mappings (anonymous and private ones stay byte, as
//      in libpmem2); it exists for testing. Forcing byte or cache line on a file behind the page cache voids the
//      error contract of map.h for its Maps: their persists never msync, so they succeed over data the file may
//      never get (as libpmem2's do, and as PMEM_IS_PMEM_FORCE=1 does for libpmem); so does forcing byte on
//      persistent memory without eADR, whose persists then only fence. Except page on Device DAX, which becomes
//      cache line: msync cannot persist Device DAX (the device has no fsync, so msync fails with EINVAL, and no
//      page cache whose write-back would flush the CPU caches; testing/dax_vm's probe checks it), so a page Map
//      there would fail every persist. libpmem2 1.12.1 gives such a map page granularity and persists with msync; when
//      that msync fails it aborts the process (DifferentialTest R6 shows the abort on a failed page persist).
//   5. Device DAX is never page granularity for want of a CPU cache-line write-back either (the page fallback of
//      a cache-line result below): kGranularityNotSupported instead.

#ifndef PMEM2_MAP_GRANULARITY_H_
#define PMEM2_MAP_GRANULARITY_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "pmem2/config/config.h"

namespace pmem2 {
namespace map_internal {

// What the NVDIMM regions under `sysfs_root` (/sys/bus/nd/devices/region*/persistence_domain) say.
struct PersistenceDomain {
  // "cpu_cache", "memory_controller", "unknown" (a region reports nothing, or has no persistence_domain
  // attribute), "mixed" (regions differ), or "none" (no NVDIMM region at all).
  std::string summary;
  // True only if there is at least one region and every region reports "cpu_cache".
  bool cpu_caches_are_persistent = false;
};
PersistenceDomain ReadPersistenceDomain(const std::string& sysfs_root);

// Whether a reading of the process's sysfs (ChooseGranularity, at each Map's creation; AdoptGranularity, for an
// adopted Map of byte or cache line) found a region whose CPU caches
// are not in its persistence domain: regions come and go while a process runs (a CXL or hot-added NVDIMM region), and
// libpmem's functions, chosen once from an answer of eADR everywhere, must flush from then on (raw_memory.h). Only
// ever turns true.
bool CpuCachesSeenNotAllPersistent();

// The granularity PMEM2_FORCE_GRANULARITY asks for; nullopt if it is unset or empty, or the program is set-user-ID or
// set-group-ID (secure_getenv(3), as PMDK reads it);
// ErrorCode::kInvalidForcedGranularity (naming the value) if it names no granularity.
absl::StatusOr<absl::optional<StoreGranularity>> ForcedGranularity();

struct GranularityDecision {
  StoreGranularity granularity;
  std::string reason;  // one line, for `pmem2 info` and error messages
};

// Rules 1-3 above. `not_durable`: for a MAP_SYNC file, why its medium keeps no store (WhyMapSyncIsNotDurable in
// request.h): page then, with that reason, as in a RAM file system.
GranularityDecision DecideGranularity(bool anonymous_or_private, bool synchronous, const PersistenceDomain& domain,
                                      absl::string_view not_durable = "");

// Step 3 of Map::Create(), for a placed mapping: rules 1-4, then two checks. A cache-line granularity on a CPU
// backend that cannot write cache lines back becomes page (msync), since a persist that persists nothing would
// lose data; and a result coarser than `required` is kGranularityNotSupported, naming both and why.
struct GranularityChoice {
  StoreGranularity effective = StoreGranularity::kPage;
  StoreGranularity detected = StoreGranularity::kPage;  // before PMEM2_FORCE_GRANULARITY
  bool forced = false;
  bool forced_page_on_device_dax = false;  // PMEM2_FORCE_GRANULARITY=page, made cache line (rule 4)
  bool cpu_cannot_write_back = false;
  std::string reason;              // why `detected`
  std::string persistence_domain;  // PersistenceDomain::summary
};
// `device_dax`: the source is a Device DAX (rules 4 and 5); `not_durable` as for DecideGranularity().
absl::StatusOr<GranularityChoice> ChooseGranularity(StoreGranularity required, absl::optional<StoreGranularity> forced,
                                                    bool shared_file, bool synchronous, bool device_dax = false,
                                                    absl::string_view not_durable = "");

// Map::FromExisting(): the granularity whose functions keep the promise of the one its caller vouches for
// (`given`, for a mapping of a file or Device DAX; an anonymous source keeps `given`, as nothing it holds is
// durable). Byte where the CPU caches are not in every region's persistence domain (rule 2: no eADR) becomes cache
// line. The two rewrites of ChooseGranularity() apply, for the same reasons: page on Device DAX becomes
// cache line (rule 4: msync cannot persist it); cache line on a CPU backend that cannot write cache lines back
// becomes page (msync), and on Device DAX is kGranularityNotSupported (rule 5). And a file whose stores the CPU cannot
// make durable (`not_durable`: request.h's WhyAdoptedFileIsNotDurable) is page whatever is given.
struct AdoptedGranularity {
  StoreGranularity effective = StoreGranularity::kPage;
  bool cpu_cannot_write_back = false;
  std::string reason;  // for MapDiagnostics::reason
};
absl::StatusOr<AdoptedGranularity> AdoptGranularity(StoreGranularity given, bool shared_file, bool device_dax,
                                                    absl::string_view not_durable = "");

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_GRANULARITY_H_
