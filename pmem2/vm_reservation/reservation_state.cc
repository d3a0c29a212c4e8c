// Copyright 2026 The pmem2 Authors.

#include "pmem2/vm_reservation/reservation_state.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <mutex>

#include "absl/strings/str_format.h"
#include "pmem2/errors/errors.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace pmem2 {
namespace vm_reservation_internal {
namespace {

constexpr int kPlaceholderFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// The Map pointers are stored const (the state never touches the Maps); the Find methods hand them back to
// the owner of the reservation, who may use them as it may use its Maps.
Map* Handout(const Map* map) { return const_cast<Map*>(map); }

}  // namespace

ReservationState::~ReservationState() {
  // Everything but lost holes, which may hold other code's mappings by now.
  uintptr_t at = address_;
  const uintptr_t end = address_ + size_;
  for (const auto& [begin, claimed] : claimed_) {
    if (claimed.state != State::kLost) continue;
    if (begin > at) munmap(reinterpret_cast<void*>(at), begin - at);
    at = begin + claimed.length;
  }
  if (end > at) munmap(reinterpret_cast<void*>(at), end - at);
}

internal::ForkSafeMutex& ReservationState::Mutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;  // never destroyed (fork handlers)
  return *mutex;
}
const bool ReservationState::mutex_made_at_load_ = (ReservationState::Mutex(), true);

uintptr_t ReservationState::address() const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  return address_;
}

size_t ReservationState::size() const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  return size_;
}

absl::StatusOr<uintptr_t> ReservationState::Claim(uint64_t offset, size_t length, size_t address_alignment,
                                                  const Map* map) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  if (offset % PageSize() != 0) {
    return MakeError(ErrorCode::kOffsetUnaligned,
                     absl::StrFormat("reservation offset %u is not a multiple of the page size %u", offset,
                                     PageSize()));
  }
  if (offset > size_ || length > size_ - offset) {
    return MakeError(ErrorCode::kLengthOutOfRange,
                     absl::StrFormat("a mapping of %u bytes at offset %u does not fit in the reservation of %u bytes",
                                     length, offset, size_));
  }
  const uintptr_t begin = address_ + offset;
  if (address_alignment != 0 && begin % address_alignment != 0) {
    return MakeError(ErrorCode::kAddressUnaligned,
                     absl::StrFormat("reservation address %#x + offset %u is not a multiple of the source's "
                                     "alignment %u",
                                     address_, offset, address_alignment));
  }
  // The first claimed range that ends after `begin` is the only candidate for an overlap.
  auto next = FirstEndingAfterLocked(begin);
  if (next != claimed_.end() && next->first < begin + length) {
    return MakeError(ErrorCode::kMappingExists,
                     absl::StrFormat("offsets [%u, %u) of the reservation overlap a mapping at offset %u", offset,
                                     offset + length, next->first - address_));
  }
  claimed_.emplace(begin, Claimed{length, map, State::kPending});
  return begin;
}

void ReservationState::Unclaim(uintptr_t address) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it != claimed_.end() && it->second.state == State::kPending) claimed_.erase(it);
}

void ReservationState::Publish(uintptr_t address, const Map* map) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it == claimed_.end() || it->second.state == State::kLost || it->second.state == State::kReleasing) return;
  it->second.map = map;
  it->second.state = State::kLive;
}

void ReservationState::Rebind(uintptr_t address, const Map* map) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it != claimed_.end() && it->second.state != State::kLost && it->second.state != State::kReleasing) {
    it->second.map = map;
  }
}

void ReservationState::Release(uintptr_t address) {
  size_t length = 0;
  {
    std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
    auto it = claimed_.find(address);
    if (it == claimed_.end() || it->second.state == State::kLost || it->second.state == State::kReleasing) return;
    length = it->second.length;
    it->second.map = nullptr;
    it->second.state = State::kReleasing;
  }
  // Outside the lock, which every reservation (and a fork) shares: replacing a large, populated mapping with the
  // placeholder takes long. Meanwhile the range stays claimed and is not findable.
  const bool restored = mmap(reinterpret_cast<void*>(address), length, PROT_NONE, kPlaceholderFlags | MAP_FIXED,
                             -1, 0) != MAP_FAILED;
  // Otherwise the file's pages must not stay mapped; the range then is a hole the kernel may fill with another
  // mapping, so it stays claimed (by nobody) and is never offered to a Map again.
  if (!restored) munmap(reinterpret_cast<void*>(address), length);
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it == claimed_.end()) return;  // only this call ends a releasing claim
  if (restored && it->second.state == State::kReleasing) {
    claimed_.erase(it);
  } else {
    it->second.state = State::kLost;
  }
}

void ReservationState::Abandon(uintptr_t address) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it == claimed_.end()) return;
  it->second.map = nullptr;
  it->second.state = State::kLost;
}

absl::Status ReservationState::Extend(size_t size) {
  if (size % PageSize() != 0) {
    return MakeError(ErrorCode::kLengthUnaligned,
                     absl::StrFormat("extension size %u is not a multiple of the page size %u", size, PageSize()));
  }
  if (size == 0) return absl::OkStatus();
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  const uintptr_t end = address_ + size_;
  if (end + size < end) {
    return MakeError(ErrorCode::kLengthOutOfRange, absl::StrFormat("extension size %u passes the end of the "
                                                                   "address space",
                                                                   size));
  }
  void* added = mmap(reinterpret_cast<void*>(end), size, PROT_NONE, kPlaceholderFlags | MAP_FIXED_NOREPLACE, -1, 0);
  if (added == MAP_FAILED) {
    if (errno == EEXIST) {
      return MakeError(ErrorCode::kMappingExists,
                       absl::StrFormat("the %u bytes after the reservation (at %#x) are already mapped", size, end));
    }
    return MakeErrnoError(errno, absl::StrFormat("reserving %u bytes at %#x", size, end));
  }
  if (reinterpret_cast<uintptr_t>(added) != end) {  // a kernel before 4.17 takes the flag as a mere hint
    munmap(added, size);
    return MakeError(ErrorCode::kMappingExists,
                     absl::StrFormat("the %u bytes after the reservation (at %#x) are already mapped", size, end));
  }
  size_ += size;
  return absl::OkStatus();
}

absl::Status ReservationState::Shrink(size_t offset, size_t size) {
  if (offset % PageSize() != 0) {
    return MakeError(ErrorCode::kOffsetUnaligned,
                     absl::StrFormat("shrink offset %u is not a multiple of the page size %u", offset, PageSize()));
  }
  if (size % PageSize() != 0) {
    return MakeError(ErrorCode::kLengthUnaligned,
                     absl::StrFormat("shrink size %u is not a multiple of the page size %u", size, PageSize()));
  }
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  if (offset >= size_) {
    return MakeError(ErrorCode::kOffsetOutOfRange,
                     absl::StrFormat("shrink offset %u is not inside the reservation of %u bytes", offset, size_));
  }
  if (size == 0 || size > size_ - offset) {
    return MakeError(ErrorCode::kLengthOutOfRange,
                     absl::StrFormat("shrinking %u bytes at offset %u: the reservation has %u bytes", size, offset,
                                     size_));
  }
  if (size == size_) {
    return MakeError(ErrorCode::kNoSupp, "shrinking a reservation to nothing is not supported; destroy it instead");
  }
  if (offset != 0 && offset + size != size_) {
    return MakeError(ErrorCode::kNoSupp,
                     absl::StrFormat("shrinking [%u, %u) from the middle of a reservation of %u bytes is not "
                                     "supported",
                                     offset, offset + size, size_));
  }
  const uintptr_t begin = address_ + offset;
  auto next = FirstEndingAfterLocked(begin);
  if (next != claimed_.end() && next->first < begin + size) {
    return MakeError(ErrorCode::kVmReservationNotEmpty,
                     absl::StrFormat("offsets [%u, %u) of the reservation hold a mapping (at offset %u)", offset,
                                     offset + size, next->first - address_));
  }
  munmap(reinterpret_cast<void*>(begin), size);
  if (offset == 0) address_ += size;
  size_ -= size;
  return absl::OkStatus();
}

Map* ReservationState::Find(size_t offset, size_t length) const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  if (offset >= size_) return nullptr;
  const uintptr_t begin = address_ + offset;
  const uintptr_t end = begin + (length == 0 ? 1 : std::min(length, size_ - offset));
  for (auto it = FirstEndingAfterLocked(begin); it != claimed_.end() && it->first < end; ++it) {
    if (it->second.state == State::kLive) return Handout(it->second.map);
  }
  return nullptr;
}

ReservationState::Iterator ReservationState::FirstEndingAfterLocked(uintptr_t address) const {
  auto it = claimed_.upper_bound(address);
  if (it != claimed_.begin()) {
    auto previous = std::prev(it);
    if (previous->first + previous->second.length > address) it = previous;
  }
  return it;
}

ReservationState::Iterator ReservationState::FindLocked(const Map& map) const {
  for (auto it = claimed_.begin(); it != claimed_.end(); ++it) {
    if (it->second.state == State::kLive && it->second.map == &map) return it;
  }
  return claimed_.end();
}

Map* ReservationState::Previous(const Map& map) const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = FindLocked(map);
  while (it != claimed_.end() && it != claimed_.begin()) {
    --it;
    if (it->second.state == State::kLive) return Handout(it->second.map);
  }
  return nullptr;
}

Map* ReservationState::Next(const Map& map) const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = FindLocked(map);
  if (it == claimed_.end()) return nullptr;
  for (++it; it != claimed_.end(); ++it) {
    if (it->second.state == State::kLive) return Handout(it->second.map);
  }
  return nullptr;
}

Map* ReservationState::First() const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  for (const auto& entry : claimed_) {
    if (entry.second.state == State::kLive) return Handout(entry.second.map);
  }
  return nullptr;
}

Map* ReservationState::Last() const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  for (auto it = claimed_.rbegin(); it != claimed_.rend(); ++it) {
    if (it->second.state == State::kLive) return Handout(it->second.map);
  }
  return nullptr;
}

size_t ReservationState::map_count() const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  size_t count = 0;
  // Pending and releasing claims count: a Map is being placed or removed there.
  for (const auto& entry : claimed_) count += entry.second.state != State::kLost ? 1 : 0;
  return count;
}

}  // namespace vm_reservation_internal
}  // namespace pmem2
