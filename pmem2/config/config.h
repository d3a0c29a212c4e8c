// Copyright 2026 The pmem2 Authors.
//
// pmem2/config/config.h
// -----------------------------------------------------------------------------
//
// `pmem2::Config` describes the mapping an application asks for: the store granularity it can live with, which
// part of the source to map (offset, length), whether writes reach the source (sharing) and the page protection.
// It is a small copyable value; `Map::Create()` validates it against a `Source`.
//
// The store granularity is the one setting without a default: it states the application's assumption about
// how stores become durable, and a mapping is created only if the platform can honour it. The granularities are
// ordered: byte < cache line < page. A mapping's effective granularity is never coarser than the required one:
//
//   * kByte: a store is durable once it leaves the CPU (eADR: caches in the power-fail domain). persist_fn
//     only orders stores.
//   * kCacheLine: stores must be written back from the CPU caches (CLWB/CLFLUSHOPT/CLFLUSH or non-temporal
//     stores) and fenced. This is persistent memory mapped with MAP_SYNC, without eADR.
//   * kPage: the page cache sits between the mapping and the media; persist_fn calls msync(). This is every
//     ordinary file system on a block device, and tmpfs.
//
// Example:
//
//   pmem2::Config config;
//   config.set_required_store_granularity(pmem2::StoreGranularity::kPage).IgnoreError();  // valid enum
//   if (absl::Status s = config.set_offset(offset); !s.ok()) return s;
//
// Setters validate only what they can know alone (an enum value, INT64_MAX); alignment and range against the
// source are checked by Map::Create(). A failed setter leaves the config unchanged. Not thread-safe for
// concurrent modification, like any value type.

#ifndef PMEM2_CONFIG_CONFIG_H_
#define PMEM2_CONFIG_CONFIG_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace pmem2 {

// libpmem2's enum pmem2_granularity values.
enum class StoreGranularity : int {
  kByte = 0,
  kCacheLine = 1,
  kPage = 2,
};

// "byte", "cache_line", "page"; "invalid" for any other value.
absl::string_view StoreGranularityName(StoreGranularity granularity);

// Parses "byte", "cache_line", "cacheline" or "page" in any case (the spelling PMEM2_FORCE_GRANULARITY accepts).
absl::optional<StoreGranularity> ParseStoreGranularity(absl::string_view text);

// libpmem2's enum pmem2_sharing_type values.
enum class Sharing : int {
  // Writes reach the source and are visible to other mappings of it (MAP_SHARED).
  kShared = 0,
  // Writes stay in this mapping (MAP_PRIVATE, copy on write); nothing is ever persisted to the source.
  kPrivate = 1,
};

// Protection bits, libpmem2's PMEM2_PROT_* values. kProtNone is 0, not a bit.
inline constexpr unsigned kProtExec = 1u << 29;
inline constexpr unsigned kProtRead = 1u << 30;
inline constexpr unsigned kProtWrite = 1u << 31;
inline constexpr unsigned kProtNone = 0;

class Config {
 public:
  // Defaults: granularity unset, offset 0, length 0 (to the end of the source), shared, read | write.
  Config() = default;

  // Fails with ErrorCode::kGranularityNotSupported if `granularity` is not one of the enumerators.
  absl::Status set_required_store_granularity(StoreGranularity granularity);
  // Fails with ErrorCode::kOffsetOutOfRange if `offset` > INT64_MAX (no file can be that large).
  absl::Status set_offset(uint64_t offset);
  // 0 means "from the offset to the end of the source". Always succeeds.
  absl::Status set_length(size_t length);
  // Fails with ErrorCode::kInvalidSharingValue for a value that is no enumerator.
  absl::Status set_sharing(Sharing sharing);
  // `protection` is kProtNone or an OR of kProtRead, kProtWrite, kProtExec. Fails with
  // ErrorCode::kInvalidProtFlag if any other bit is set.
  absl::Status set_protection(unsigned protection);
  // When true, Map::Create() first allocates every file block behind the mapped range (posix_fallocate), so
  // that a full file system or an exceeded quota is a kResourceExhausted error from Create() instead of a
  // SIGBUS at the first store into a hole of a sparse file. It applies to shared, writable mappings of regular
  // files (the only ones whose stores allocate file blocks) and never changes the file's size or contents.
  // Default false: allocating costs time in proportion to the holes, and many files are allocated already.
  void set_fully_allocated(bool fully_allocated) { fully_allocated_ = fully_allocated; }

  absl::optional<StoreGranularity> required_store_granularity() const { return granularity_; }
  uint64_t offset() const { return offset_; }
  size_t length() const { return length_; }
  Sharing sharing() const { return sharing_; }
  unsigned protection() const { return protection_; }
  bool fully_allocated() const { return fully_allocated_; }

 private:
  absl::optional<StoreGranularity> granularity_;
  uint64_t offset_ = 0;
  size_t length_ = 0;
  Sharing sharing_ = Sharing::kShared;
  unsigned protection_ = kProtRead | kProtWrite;
  bool fully_allocated_ = false;
};

}  // namespace pmem2

#endif  // PMEM2_CONFIG_CONFIG_H_
