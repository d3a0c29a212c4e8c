// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/map_registry.h"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "pmem2/errors/errors.h"

namespace pmem2 {
namespace map_internal {
namespace {

struct Registry {
  std::shared_mutex mutex;
  std::map<uintptr_t, MapRecord*> by_begin;  // begin address -> live mapping; guarded by mutex
};

Registry& GetRegistry() {
  static Registry* const registry = new Registry;  // never destroyed: maps may outlive static destructors
  return *registry;
}

// Failures at addresses that belong to no Map (a pointer into memory mapped elsewhere, or already unmapped).
MapRecord& OutsideEveryMap() {
  static MapRecord* const record = new MapRecord(0, 0, FileIdentity{});
  return *record;
}

std::atomic<uint64_t> failure_count{0};

// The live mapping holding `address`, or nullptr.
MapRecord* FindLocked(Registry& registry, uintptr_t address) {  // registry.mutex held
  auto it = registry.by_begin.upper_bound(address);
  if (it == registry.by_begin.begin()) return nullptr;
  MapRecord* record = std::prev(it)->second;
  return address < record->end() ? record : nullptr;
}

}  // namespace

void SyncTracker::Begin(Ticket* ticket) {
  std::lock_guard<std::mutex> lock(mutex_);
  ticket->number = next_ticket_++;
  ticket->older = newest_;
  ticket->newer = nullptr;
  if (newest_ != nullptr) {
    newest_->newer = ticket;
  } else {
    oldest_ = ticket;
  }
  newest_ = ticket;
  running_count_.fetch_add(1, std::memory_order_seq_cst);
}

void SyncTracker::End(Ticket* ticket) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    (ticket->older != nullptr ? ticket->older->newer : oldest_) = ticket->newer;
    (ticket->newer != nullptr ? ticket->newer->older : newest_) = ticket->older;
    running_count_.fetch_sub(1, std::memory_order_seq_cst);
  }
  ended_.notify_all();
}

void SyncTracker::WaitForEarlierSyncs() {
  if (running_count_.load(std::memory_order_seq_cst) == 0) return;
  std::unique_lock<std::mutex> lock(mutex_);
  const uint64_t limit = next_ticket_;
  ended_.wait(lock, [&] { return oldest_ == nullptr || oldest_->number >= limit; });
}

void MapRecord::Record(const PersistFailure& failure) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (first_.error_number == 0) {
    first_ = failure;
  } else {
    ++later_failures_;
  }
  has_error_.store(true, std::memory_order_release);
}

absl::Status MapRecord::ErrorLocked() const {
  if (first_.error_number == 0) return absl::OkStatus();
  std::string what = absl::StrFormat("persisting %u bytes at %p (msync)", first_.length,
                                     reinterpret_cast<const void*>(first_.address));
  if (first_.seen_through_another_mapping) absl::StrAppend(&what, " through another mapping of the same file");
  if (file_.valid) absl::StrAppend(&what, " (file: device ", file_.device, ", inode ", file_.inode, ")");
  absl::StrAppend(&what, " failed; data written to this mapping since its last successful persist may be lost");
  if (later_failures_ > 0) {
    absl::StrAppend(&what, " (", later_failures_, " later failure", later_failures_ == 1 ? "" : "s", ")");
  }
  return MakeErrnoError(first_.error_number, what);
}

absl::Status MapRecord::Error() const {
  if (tracker_ != nullptr) tracker_->WaitForEarlierSyncs();
  return ErrorWithoutWaiting();
}

absl::Status MapRecord::ErrorWithoutWaiting() const {
  if (!has_error_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mutex_);
  return ErrorLocked();
}

absl::Status MapRecord::TakeError() {
  if (tracker_ != nullptr) tracker_->WaitForEarlierSyncs();
  if (!has_error_.load(std::memory_order_acquire)) return absl::OkStatus();
  std::lock_guard<std::mutex> lock(mutex_);
  absl::Status error = ErrorLocked();
  first_ = PersistFailure{};
  later_failures_ = 0;
  has_error_.store(false, std::memory_order_release);
  return error;
}

namespace {

// The SyncTracker of `file`'s live mappings, or a new one.
std::shared_ptr<SyncTracker> TrackerForLocked(const Registry& registry, const FileIdentity& file) {  // mutex held
  for (const auto& entry : registry.by_begin) {
    if (entry.second->file() == file) return entry.second->tracker();
  }
  return std::make_shared<SyncTracker>();
}

}  // namespace

void RegisterMap(MapRecord* record) {
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  record->tracker_ = TrackerForLocked(registry, record->file());
  registry.by_begin[record->begin()] = record;
}

absl::Status RegisterMapIfFree(MapRecord* record) {
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  // The first live mapping that ends after the record's beginning is the only one that can overlap it.
  auto it = registry.by_begin.upper_bound(record->begin());
  if (it != registry.by_begin.begin() && std::prev(it)->second->end() > record->begin()) it = std::prev(it);
  if (it != registry.by_begin.end() && it->first < record->end()) {
    return MakeError(ErrorCode::kMapExists,
                     absl::StrFormat("[%#x, %#x) overlaps the live mapping [%#x, %#x)", record->begin(),
                                     record->end(), it->second->begin(), it->second->end()));
  }
  record->tracker_ = TrackerForLocked(registry, record->file());
  registry.by_begin[record->begin()] = record;
  return absl::OkStatus();
}

SyncScope::SyncScope(const void* address) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  MapRecord* holder = FindLocked(registry, reinterpret_cast<uintptr_t>(address));
  if (holder == nullptr) return;
  tracker_ = holder->tracker();
  tracker_->Begin(&ticket_);
}

SyncScope::~SyncScope() {
  if (tracker_ != nullptr) tracker_->End(&ticket_);
}

void UnregisterMap(MapRecord* record) {
  Registry& registry = GetRegistry();
  std::unique_lock<std::shared_mutex> lock(registry.mutex);
  auto it = registry.by_begin.find(record->begin());
  if (it != registry.by_begin.end() && it->second == record) registry.by_begin.erase(it);
}

void RecordPersistFailure(const void* address, size_t length, int error_number) {
  failure_count.fetch_add(1, std::memory_order_relaxed);
  const uintptr_t at = reinterpret_cast<uintptr_t>(address);
  PersistFailure failure{error_number, at, length, false};
  const uintptr_t end = length > UINTPTR_MAX - at ? UINTPTR_MAX : at + std::max<size_t>(length, 1);
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  // Every mapping the range overlaps: the first one that may hold `at`, then all that begin before `end`.
  auto it = registry.by_begin.upper_bound(at);
  if (it != registry.by_begin.begin() && std::prev(it)->second->end() > at) --it;
  std::vector<MapRecord*> overlapped;
  for (; it != registry.by_begin.end() && it->first < end; ++it) overlapped.push_back(it->second);
  if (overlapped.empty()) {
    OutsideEveryMap().Record(failure);
    return;
  }
  for (MapRecord* record : overlapped) record->Record(failure);
  failure.seen_through_another_mapping = true;
  for (const auto& entry : registry.by_begin) {
    MapRecord* other = entry.second;
    if (std::find(overlapped.begin(), overlapped.end(), other) != overlapped.end()) continue;
    for (MapRecord* record : overlapped) {
      if (other->file() == record->file()) {
        other->Record(failure);
        break;
      }
    }
  }
}

absl::Status ErrorForAddress(const void* address) {
  Registry& registry = GetRegistry();
  std::shared_ptr<SyncTracker> tracker;
  {
    std::shared_lock<std::shared_mutex> lock(registry.mutex);
    MapRecord* holder = FindLocked(registry, reinterpret_cast<uintptr_t>(address));
    if (holder == nullptr) return OutsideEveryMap().Error();
    tracker = holder->tracker();
  }
  // Waited for outside the registry's lock: the syncs waited for take it to record their failures.
  tracker->WaitForEarlierSyncs();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  MapRecord* holder = FindLocked(registry, reinterpret_cast<uintptr_t>(address));
  return holder != nullptr ? holder->ErrorWithoutWaiting() : OutsideEveryMap().Error();
}

uint64_t PersistFailureCount() { return failure_count.load(std::memory_order_relaxed); }

}  // namespace map_internal
}  // namespace pmem2

namespace pmem2 {
namespace map_internal {

std::vector<std::pair<uintptr_t, FileIdentity>> MapsInRange(const void* address, size_t length) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = begin + length < begin ? UINTPTR_MAX : begin + (length == 0 ? 1 : length);
  std::vector<std::pair<uintptr_t, FileIdentity>> maps;
  auto it = registry.by_begin.upper_bound(begin);
  if (it != registry.by_begin.begin() && std::prev(it)->second->end() > begin) it = std::prev(it);
  for (; it != registry.by_begin.end() && it->first < end; ++it) maps.emplace_back(it->first, it->second->file());
  return maps;
}

bool RangeIsCpuPersistent(const void* address, size_t length) {
  Registry& registry = GetRegistry();
  std::shared_lock<std::shared_mutex> lock(registry.mutex);
  uintptr_t at = reinterpret_cast<uintptr_t>(address);
  const uintptr_t end = at + length < at ? UINTPTR_MAX : at + length;
  // Walks the mappings that cover the range back to back; a gap or a page-granularity mapping ends it.
  do {
    const MapRecord* holder = FindLocked(registry, at);
    if (holder == nullptr || !holder->cpu_persistent()) return false;
    at = holder->end();
  } while (at < end);
  return true;
}

}  // namespace map_internal
}  // namespace pmem2
