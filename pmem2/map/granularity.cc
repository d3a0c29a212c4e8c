// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/granularity.h"

#include <glob.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/errors/errors.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {
namespace map_internal {

PersistenceDomain ReadPersistenceDomain(const std::string& sysfs_root) {
  PersistenceDomain result;
  // Enumerate the regions themselves: a kernel whose platform reports no domain (Linux 6.1 under qemu without
  // nvdimm-persistence) has no persistence_domain file at all, and that region is "unknown", not absent.
  std::string pattern = sysfs_root + "/bus/nd/devices/region*";
  glob_t matches;
  const int globbed = glob(pattern.c_str(), 0, nullptr, &matches);
  const absl::Cleanup free_matches = [&matches] { globfree(&matches); };  // also when an allocation below throws
  if (globbed != 0) {
    result.summary = "none";
    return result;
  }
  bool all_cpu_cache = true;
  for (size_t i = 0; i < matches.gl_pathc; ++i) {
    absl::StatusOr<std::string> text =
        sysfs_internal::ReadAttribute(std::string(matches.gl_pathv[i]) + "/persistence_domain");
    std::string domain = text.ok() && !text->empty() ? *text : "unknown";
    if (domain != "cpu_cache") all_cpu_cache = false;
    if (result.summary.empty()) {
      result.summary = domain;
    } else if (result.summary != domain) {
      result.summary = "mixed";
    }
  }
  result.cpu_caches_are_persistent = all_cpu_cache;
  return result;
}

absl::StatusOr<absl::optional<StoreGranularity>> ForcedGranularity() {
  // Not in a set-user-ID or set-group-ID program (secure_getenv(3)): whoever runs it would have its persists of a
  // disk's file skip msync (byte) and still report durable.
  const char* value = secure_getenv("PMEM2_FORCE_GRANULARITY");
  if (value == nullptr || *value == '\0') return absl::optional<StoreGranularity>();
  absl::optional<StoreGranularity> parsed = ParseStoreGranularity(value);
  if (!parsed.has_value()) {
    return MakeError(ErrorCode::kInvalidForcedGranularity,
                     absl::StrCat("PMEM2_FORCE_GRANULARITY=\"", value,
                                  "\" is not byte, cache_line, cacheline or page"));
  }
  return parsed;
}

GranularityDecision DecideGranularity(bool anonymous_or_private, bool synchronous, const PersistenceDomain& domain,
                                      absl::string_view not_durable) {
  if (anonymous_or_private) {
    return {StoreGranularity::kByte, "anonymous or private mapping: stores never reach a persistent medium"};
  }
  if (synchronous && !not_durable.empty()) {
    // MAP_SYNC keeps a file system's page tables valid, not its medium's contents (found by audit: a file system on
    // an NVDIMM region of volatile memory took MAP_SYNC and got cache line, persistent memory to pmem_is_pmem).
    return {StoreGranularity::kPage, absl::StrCat("MAP_SYNC, but ", not_durable,
                                                  ": msync, as for a file system in RAM, never persistent memory")};
  }
  if (synchronous) {
    if (domain.cpu_caches_are_persistent) {
      return {StoreGranularity::kByte, "MAP_SYNC and every NVDIMM region's persistence_domain is cpu_cache (eADR)"};
    }
    return {StoreGranularity::kCacheLine,
            absl::StrCat("MAP_SYNC, persistence_domain ", domain.summary, ": CPU caches must be flushed")};
  }
  return {StoreGranularity::kPage,
          "no MAP_SYNC (the page cache, or a file system that keeps no page tables valid without msync): persistence "
          "needs msync"};
}

namespace {

// Rule 5 and the page fallback: a cache-line granularity on a CPU backend that cannot write cache lines back
// becomes page, since a persist that persists nothing would lose data; msync is slower but works on DAX too (the
// kernel writes the CPU caches back for the synced range). Not on Device DAX, which msync cannot persist.
absl::Status FallBackToMsync(bool device_dax, StoreGranularity* effective, bool* cpu_cannot_write_back) {
  if (*effective != StoreGranularity::kCacheLine || arch::CacheLineOps().writes_back_cache_lines) {
    return absl::OkStatus();
  }
  if (device_dax) {
    return MakeError(ErrorCode::kGranularityNotSupported,
                     "Device DAX needs the CPU's cache-line write-back, which this CPU lacks (msync cannot "
                     "persist Device DAX)");
  }
  *effective = StoreGranularity::kPage;
  *cpu_cannot_write_back = true;
  return absl::OkStatus();
}

}  // namespace

namespace {
std::atomic<bool> cpu_caches_seen_not_all_persistent{false};

// The process's domain, read for a Map about to be handed out: one without eADR everywhere turns libpmem's functions,
// chosen from an earlier answer, to flushing first (a region added since).
PersistenceDomain ReadDomainForAMap() {
  PersistenceDomain domain = ReadPersistenceDomain(sysfs_internal::Root());
  if (!domain.cpu_caches_are_persistent) cpu_caches_seen_not_all_persistent.store(true, std::memory_order_release);
  return domain;
}
}  // namespace

bool CpuCachesSeenNotAllPersistent() { return cpu_caches_seen_not_all_persistent.load(std::memory_order_acquire); }

absl::StatusOr<GranularityChoice> ChooseGranularity(StoreGranularity required, absl::optional<StoreGranularity> forced,
                                                    bool shared_file, bool synchronous, bool device_dax,
                                                    absl::string_view not_durable) {
  GranularityChoice choice;
  const PersistenceDomain domain = ReadDomainForAMap();
  choice.persistence_domain = domain.summary;
  const GranularityDecision decision = DecideGranularity(!shared_file, synchronous, domain, not_durable);
  choice.detected = decision.granularity;
  choice.reason = decision.reason;
  choice.effective = decision.granularity;
  if (forced.has_value() && shared_file) {
    choice.forced = true;
    choice.effective = *forced;
    if (device_dax && choice.effective == StoreGranularity::kPage) {
      choice.effective = StoreGranularity::kCacheLine;
      choice.forced_page_on_device_dax = true;
      absl::StrAppend(&choice.reason,
                      "; PMEM2_FORCE_GRANULARITY=page made cache line: msync cannot persist Device DAX");
    }
  }
  if (absl::Status s = FallBackToMsync(device_dax, &choice.effective, &choice.cpu_cannot_write_back); !s.ok()) {
    return s;
  }
  if (static_cast<int>(choice.effective) > static_cast<int>(required)) {
    return MakeError(ErrorCode::kGranularityNotSupported,
                     absl::StrCat("required store granularity ", StoreGranularityName(required),
                                  " is finer than this mapping's ", StoreGranularityName(choice.effective), " (",
                                  choice.cpu_cannot_write_back
                                      ? "this CPU has no cache-line write-back instruction pmem2 can use"
                                  : choice.forced ? "forced by PMEM2_FORCE_GRANULARITY"
                                                  : choice.reason,
                                  ")"));
  }
  return choice;
}

absl::StatusOr<AdoptedGranularity> AdoptGranularity(StoreGranularity given, bool shared_file, bool device_dax,
                                                    absl::string_view not_durable) {
  AdoptedGranularity adopted;
  adopted.effective = given;
  adopted.reason = "adopted an existing mapping; granularity given by the caller";
  if (!shared_file) return adopted;
  if (!device_dax && adopted.effective != StoreGranularity::kPage && !not_durable.empty()) {
    adopted.effective = StoreGranularity::kPage;
    absl::StrAppend(&adopted.reason, "; made page: ", not_durable, " (msync, never persistent memory)");
  }
  if (device_dax && adopted.effective == StoreGranularity::kPage) {
    adopted.effective = StoreGranularity::kCacheLine;
    absl::StrAppend(&adopted.reason, "; page made cache line: msync cannot persist Device DAX");
  }
  // Persistent memory, by the caller's word: the domain read as for a Map that Create() makes (also where the
  // fallback below then makes it page: a region without eADR seen is seen). Byte, whose persists only fence, only
  // where the CPU caches are in it (eADR everywhere), as Create() decides: otherwise cache line.
  if (adopted.effective != StoreGranularity::kPage) {
    const PersistenceDomain domain = ReadDomainForAMap();
    if (adopted.effective == StoreGranularity::kByte && !domain.cpu_caches_are_persistent) {
      adopted.effective = StoreGranularity::kCacheLine;
      absl::StrAppend(&adopted.reason, "; byte made cache line: the CPU caches are not in the persistence domain (",
                      domain.summary, ")");
    }
  }
  if (absl::Status s = FallBackToMsync(device_dax, &adopted.effective, &adopted.cpu_cannot_write_back); !s.ok()) {
    return s;
  }
  if (adopted.cpu_cannot_write_back) {
    absl::StrAppend(&adopted.reason, "; cache line made page (msync): this CPU has no cache-line write-back");
  }
  return adopted;
}

}  // namespace map_internal
}  // namespace pmem2
