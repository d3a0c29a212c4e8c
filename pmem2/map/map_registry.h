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
// Why syncs are tracked: the kernel hands a file's write-back error to one msync, and that msync's thread records
// it a moment later. Meanwhile another thread's msync of the same file may already have returned 0. So every
// page-granularity sync registers itself (BeginSync) for its file until its failure, if any, is recorded, and a
// reader of the sticky error first waits for every sync of the file that started before the read. Without that,
// the other thread could read OK in between and commit data that is lost.
//
// Cost: page-granularity persists (which make a system call anyway) look their mapping up under a shared lock and
// register with its file's tracker; a failure also walks the registry. The byte and cache-line paths never
// touch the registry. MapRecord::Error() is two atomic loads while no sync is running and no failure pending.
//
// The locks are the standard library's (pthread), not absl::Mutex: the Abseil that Debian ships is not built
// with ThreadSanitizer, which would then see no synchronisation at all and report races that are not there.
// Lock order: the registry's lock, then a MapRecord's.

#ifndef PMEM2_MAP_MAP_REGISTRY_H_
#define PMEM2_MAP_MAP_REGISTRY_H_

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>
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

// The syncs in flight on one file (shared by every Map of the file).
class SyncTracker {
 public:
  // One sync in flight. It lives with the caller (in its SyncScope) and is linked into the tracker while the
  // sync runs, so that tracking allocates nothing.
  struct Ticket {
    uint64_t number = 0;
    Ticket* older = nullptr;
    Ticket* newer = nullptr;
  };
  // `ticket` must stay in place until End(ticket).
  void Begin(Ticket* ticket);
  void End(Ticket* ticket);
  // Waits until every sync that began before this call has ended. Syncs that begin later are not waited for,
  // so a reader is never starved by a stream of new syncs.
  void WaitForEarlierSyncs();

 private:
  std::atomic<uint64_t> running_count_{0};
  std::mutex mutex_;
  std::condition_variable ended_;
  uint64_t next_ticket_ = 0;   // guarded by mutex_
  // The running tickets, oldest first (Begin appends, numbers only grow). Guarded by mutex_.
  Ticket* oldest_ = nullptr;
  Ticket* newest_ = nullptr;
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
  // Whether stores become durable through the CPU (the Map's granularity is byte or cache line). Set once the
  // Map's granularity is chosen; false until then.
  bool cpu_persistent() const { return cpu_persistent_.load(std::memory_order_acquire); }
  void set_cpu_persistent(bool value) { cpu_persistent_.store(value, std::memory_order_release); }

  // Keeps the first failure since the last TakeError(); counts later ones.
  void Record(const PersistFailure& failure);
  // OK, or the first unacknowledged failure with the count of later ones, after waiting for the file's syncs
  // that began earlier. Does not clear it.
  absl::Status Error() const;
  // As Error(), without waiting (the caller has waited).
  absl::Status ErrorWithoutWaiting() const;
  // As Error(), and acknowledges: the record is clean afterwards. Nothing recorded between the read and the
  // clear is lost, because both happen under one lock.
  absl::Status TakeError();
  // The file's sync tracker (set by RegisterMap; shared with the other Maps of the file). Null before.
  const std::shared_ptr<SyncTracker>& tracker() const { return tracker_; }

 private:
  friend void RegisterMap(MapRecord* record);
  friend absl::Status RegisterMapIfFree(MapRecord* record);
  absl::Status ErrorLocked() const;  // mutex_ held

  const uintptr_t begin_;
  const uintptr_t end_;
  const FileIdentity file_;
  std::shared_ptr<SyncTracker> tracker_;  // written once by RegisterMap before the record is published
  std::atomic<bool> has_error_{false};
  std::atomic<bool> cpu_persistent_{false};
  mutable std::mutex mutex_;
  PersistFailure first_;            // guarded by mutex_
  uint64_t later_failures_ = 0;     // guarded by mutex_
};

// Adds / removes a live mapping. Ranges of live mappings never overlap (the kernel guarantees it). RegisterMap
// gives the record its file's SyncTracker (a new one for a file without other live Maps).
void RegisterMap(MapRecord* record);
void UnregisterMap(MapRecord* record);
// For mappings made elsewhere (Map::FromExisting), which the kernel does not keep apart from pmem2's: registers
// the record unless its range overlaps a live one (kMapExists, naming both ranges).
absl::Status RegisterMapIfFree(MapRecord* record);

// Registers a sync of memory at `address` with its file's tracker until destroyed; does nothing for an address
// outside every mapping. A failure must be recorded before the scope ends.
class SyncScope {
 public:
  explicit SyncScope(const void* address);
  ~SyncScope();
  SyncScope(const SyncScope&) = delete;
  SyncScope& operator=(const SyncScope&) = delete;

 private:
  std::shared_ptr<SyncTracker> tracker_;
  SyncTracker::Ticket ticket_;
};

// Records a failed persistence of [address, address + length) with `error_number` on every mapping the range
// overlaps and on every registered mapping of the same files, and counts it process-wide. A failure at an
// address outside every mapping is kept in a process-wide record (see ErrorForAddress).
void RecordPersistFailure(const void* address, size_t length, int error_number);

// The sticky error of the mapping holding `address`; for an address outside every mapping, the failures
// recorded at such addresses. OK if none.
absl::Status ErrorForAddress(const void* address);

// How many persistence failures were recorded in this process.
uint64_t PersistFailureCount();

// The live mappings that overlap [address, address + length) (at least the one holding `address` for length
// 0), by their first address, with their files (valid == false for mappings without a file).
std::vector<std::pair<uintptr_t, FileIdentity>> MapsInRange(const void* address, size_t length);

// Whether every byte of [address, address + length) lies in live mappings that are cpu_persistent(). False
// for length 0 outside every mapping, as for any byte outside them.
bool RangeIsCpuPersistent(const void* address, size_t length);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_MAP_REGISTRY_H_
