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
//   config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
//   config.set_offset(offset);
//   config.set_protection(pmem2::kProtRead | pmem2::kProtWrite);
//
// Setters store what they are given; Validate() (called by Map::Create()) checks the values, and Map::Create()
// checks alignment and range against the source. Not thread-safe for concurrent modification, like any value
// type.

#ifndef PMEM2_CONFIG_CONFIG_H_
#define PMEM2_CONFIG_CONFIG_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"

namespace pmem2 {

class VmReservation;

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

// Page protection, a set of flags whose values are libpmem2's PMEM2_PROT_* bits. kProtNone is the empty set.
enum class Protection : unsigned {
  kNone = 0,
  kExec = 1u << 29,
  kRead = 1u << 30,
  kWrite = 1u << 31,
};
inline constexpr Protection kProtNone = Protection::kNone;
inline constexpr Protection kProtExec = Protection::kExec;
inline constexpr Protection kProtRead = Protection::kRead;
inline constexpr Protection kProtWrite = Protection::kWrite;
inline constexpr unsigned kValidProtectionBits = (1u << 29) | (1u << 30) | (1u << 31);

constexpr Protection operator|(Protection a, Protection b) {
  return static_cast<Protection>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}
// Whether `protection` includes every flag of `flags`.
constexpr bool HasAll(Protection protection, Protection flags) {
  return (static_cast<unsigned>(protection) & static_cast<unsigned>(flags)) == static_cast<unsigned>(flags);
}
// For raw values (the C ABI): Protection(bits) is accepted by the setter and refused by Config::Validate() /
// Map::Create() if bits outside kValidProtectionBits are set.
constexpr Protection ProtectionFromBits(unsigned bits) { return static_cast<Protection>(bits); }

class Config {
 public:
  // Defaults: granularity unset, offset 0, length 0 (to the end of the source), shared, read | write, not fully
  // allocated, no reservation.
  Config() = default;

  // The setters cannot fail: they store what they are given. Values that can only be wrong when they arrive as
  // raw numbers (an enumerator cast from an int, an offset past INT64_MAX, unknown protection bits) are refused
  // by Validate(), which Map::Create() calls first.
  void set_required_store_granularity(StoreGranularity granularity) { granularity_ = granularity; }
  void set_offset(uint64_t offset) { offset_ = offset; }
  // 0 means "from the offset to the end of the source".
  void set_length(size_t length) { length_ = length; }
  void set_sharing(Sharing sharing) { sharing_ = sharing; }
  void set_protection(Protection protection) { protection_ = protection; }
  // When true, Map::Create() first allocates every file block behind the mapped range (fallocate), so
  // that a full file system or an exceeded quota is a kResourceExhausted error from Create() instead of a
  // SIGBUS at the first store into a hole of a sparse file. It applies to shared, writable mappings of regular
  // files (the only ones whose stores allocate file blocks) and never changes the file's size, also when another
  // process shrinks the file meanwhile (FALLOC_FL_KEEP_SIZE). Where the file system has no fallocate, the C
  // library's posix_fallocate writes zeros into the holes, up to the size the file has then (not atomic against
  // other writers, and a truncation during the writes is undone). Copy-on-write file systems may still need new blocks
  // at a later store (map.h, SIGBUS). Default false: allocating costs time in proportion to the holes, and many files
  // are allocated already.
  void set_fully_allocated(bool fully_allocated) { fully_allocated_ = fully_allocated; }
  // Makes Map::Create() place the mapping in `reservation`, `offset` bytes from its start, instead of wherever
  // the system chooses (pmem2/vm_reservation/vm_reservation.h); null (the default) for no reservation. The
  // reservation must outlive the calls to Map::Create() that use this config. The offset is checked by
  // Map::Create(): a multiple of the page size, and for Device DAX an address aligned to the device.
  void set_vm_reservation(VmReservation* reservation, uint64_t offset) {
    reservation_ = reservation;
    reservation_offset_ = offset;
  }

  absl::optional<StoreGranularity> required_store_granularity() const { return granularity_; }
  uint64_t offset() const { return offset_; }
  size_t length() const { return length_; }
  Sharing sharing() const { return sharing_; }
  Protection protection() const { return protection_; }
  bool fully_allocated() const { return fully_allocated_; }
  VmReservation* vm_reservation() const { return reservation_; }
  uint64_t vm_reservation_offset() const { return reservation_offset_; }

  // Checks, in this order (libpmem2's errors for the same values): kGranularityNotSet (never set),
  // kGranularityNotSupported (not an enumerator), kOffsetOutOfRange (> INT64_MAX: no file can be that large),
  // kInvalidSharingValue, kInvalidProtFlag (bits outside kValidProtectionBits). Each message names the value.
  absl::Status Validate() const;

 private:
  absl::optional<StoreGranularity> granularity_;
  uint64_t offset_ = 0;
  size_t length_ = 0;
  Sharing sharing_ = Sharing::kShared;
  Protection protection_ = kProtRead | kProtWrite;
  bool fully_allocated_ = false;
  VmReservation* reservation_ = nullptr;
  uint64_t reservation_offset_ = 0;
};

}  // namespace pmem2

#endif  // PMEM2_CONFIG_CONFIG_H_
