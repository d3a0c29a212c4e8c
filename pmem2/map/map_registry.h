// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/map_registry.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/map: the process-wide registry of live mappings, and the sticky persistence errors each
// mapping carries.
//
// Why a registry: persist_fn and friends are plain function pointers with libpmem2's signatures, so a failing
// msync knows only an address. The registry finds the mapping from the address, and every other mapping of the
// same file (device and inode), and records the failure on each of them. Linux reports a write-back error once
// per open file description, to whichever caller syncs first; a failure is a property of the file's data, not
// of the thread or mapping that happened to see it, and a later successful msync proves nothing about it.
//
// Cost: the registry is consulted only when a persist fails, and when a mapping is created or destroyed. The
// byte, cache-line and successful page paths never touch it. MapRecord::Error() is one atomic load while no
// failure is pending.
//
// The locks are the standard library's (pthread), not absl::Mutex: the Abseil that Debian ships is not built
// with ThreadSanitizer, which would then see no synchronisation at all and report races that are not there.
// Lock order: the registry's lock, then a MapRecord's.

#ifndef PMEM2_MAP_MAP_REGISTRY_H_
#define PMEM2_MAP_MAP_REGISTRY_H_

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "absl/status/status.h"

namespace pmem2 {
namespace map_internal {

// What a persistence error belongs to besides the mapping: the file (device and inode), or for Device DAX the
// device number. `valid` is false for anonymous and private mappings, which have no file to share errors with.
struct FileIdentity {
  bool valid = false;
  dev_t device = 0;
  ino_t inode = 0;
  bool operator==(const FileIdentity& other) const {
    return valid && other.valid && device == other.device && inode == other.inode;
  }
};

// One failed persistence call.
struct PersistFailure {
  int error_number = 0;     // errno of msync
  uintptr_t address = 0;    // the range the caller asked to persist
  size_t length = 0;
  bool seen_through_another_mapping = false;  // the failing call was on another Map of the same file
};

// The sticky error state of one Map. Heap-allocated so that its address stays put when the Map moves.
class MapRecord {
 public:
  MapRecord(uintptr_t begin, size_t size, FileIdentity file) : begin_(begin), end_(begin + size), file_(file) {}
  MapRecord(const MapRecord&) = delete;
  MapRecord& operator=(const MapRecord&) = delete;

  uintptr_t begin() const { return begin_; }
  uintptr_t end() const { return end_; }
  const FileIdentity& file() const { return file_; }

  // Keeps the first failure since the last TakeError(); counts later ones.
  void Record(const PersistFailure& failure);
  // OK, or the first unacknowledged failure with the count of later ones. Does not clear it.
  absl::Status Error() const;
  // As Error(), and acknowledges: the record is clean afterwards. Nothing recorded between the read and the
  // clear is lost, because both happen under one lock.
  absl::Status TakeError();

 private:
  absl::Status ErrorLocked() const;  // mutex_ held

  const uintptr_t begin_;
  const uintptr_t end_;
  const FileIdentity file_;
  std::atomic<bool> has_error_{false};
  mutable std::mutex mutex_;
  PersistFailure first_;            // guarded by mutex_
  uint64_t later_failures_ = 0;     // guarded by mutex_
};

// Adds / removes a live mapping. Ranges of live mappings never overlap (the kernel guarantees it).
void RegisterMap(MapRecord* record);
void UnregisterMap(MapRecord* record);

// Records a failed persistence of [address, address + length) with `error_number` on the mapping that holds
// `address` and on every registered mapping of the same file, and counts it process-wide. A failure at an
// address outside every mapping is kept in a process-wide record (see ErrorForAddress).
void RecordPersistFailure(const void* address, size_t length, int error_number);

// The sticky error of the mapping holding `address`; for an address outside every mapping, the failures
// recorded at such addresses. OK if none.
absl::Status ErrorForAddress(const void* address);

// How many persistence failures were recorded in this process.
uint64_t PersistFailureCount();

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_MAP_REGISTRY_H_
