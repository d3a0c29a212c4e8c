// Copyright 2026 The pmem2 Authors.

#include "pmem2/vm_reservation/reservation_state.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <iterator>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/placement.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace pmem2 {
namespace vm_reservation_internal {
namespace {

constexpr int kPlaceholderFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// The Map pointers are stored const (the state never touches the Maps); the Find methods hand them back to
// the owner of the reservation, who may use them as it may use its Maps.
Map* Handout(const Map* map) { return const_cast<Map*>(map); }

// Constant-initialized: no first-use guard for a fork to catch half-done.
std::atomic<ReservationState::StepHook> step_hook{nullptr};

void CallStepHook(ReservationState::Step step, uintptr_t address) {
  if (ReservationState::StepHook hook = step_hook.load(std::memory_order_acquire); hook != nullptr) {
    hook(step, address);
  }
}

std::atomic<ReservationState::PlaceholderMmap> placeholder_mmap{nullptr};  // SetPlaceholderMmapForTest()

// The placeholder mapped over [at, +length) in one step (MAP_FIXED; the test's mmap where one is set); false, with
// errno, if mmap failed.
bool PlaceholderOver(void* at, size_t length) {
  const ReservationState::PlaceholderMmap fn = placeholder_mmap.load(std::memory_order_acquire);
  const int flags = kPlaceholderFlags | MAP_FIXED;
  return (fn != nullptr ? fn(at, length, PROT_NONE, flags, -1, 0) : mmap(at, length, PROT_NONE, flags, -1, 0)) !=
         MAP_FAILED;
}

// Puts the inaccessible placeholder back over [address, +length); false if the file's pages could only be
// unmapped (the range is then a hole the kernel may fill with another mapping).
bool RestorePlaceholder(uintptr_t address, size_t length) {
  void* const at = reinterpret_cast<void*>(address);
  if (PlaceholderOver(at, length)) return true;
  // The file's pages must not stay mapped; but a kernel before 6.12 may have unmapped them already in the failed
  // mmap (munmap is all or nothing: the first page tells), and what is there now may be another thread's mapping.
  unsigned char resident;
  if (mincore(at, PageSize(), &resident) == 0 || errno != ENOMEM) munmap(at, length);
  // A hole now: the placeholder again, replacing nothing. It fails only where another thread's mmap took part of the
  // hole in between; the range is lost then. (The failure was ENOMEM, say at vm.max_map_count: the munmap gave a
  // mapping back.)
  return map_internal::RefillHole(at, length);
}

}  // namespace

ReservationState* ReservationState::newest_ = nullptr;

ReservationState::ReservationState(uintptr_t address, size_t size) : address_(address), size_(size) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  older_ = newest_;
  if (newest_ != nullptr) newest_->newer_ = this;
  newest_ = this;
}

ReservationState::~ReservationState() {
  {
    std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
    if (older_ != nullptr) older_->newer_ = newer_;
    if (newer_ != nullptr) newer_->older_ = older_;
    if (newest_ == this) newest_ = older_;
  }
  // No placed Map refers to this any more (each holds a reference), so nothing else reads what follows.
  // Everything but lost holes, which may hold other code's mappings by now, and the ranges of live Maps adopted with
  // FromExisting() (the application's mappings, mapped over the placeholder; they hold no reference): the kernel's
  // ranges to unmap, by address. An adopted range keeps its pages whole: one may start or end inside a page
  // (FromExisting takes any range), and munmap(2) unmaps every page it touches.
  std::vector<std::pair<uintptr_t, uintptr_t>> kept;
  try {
    const uintptr_t page = PageSize();
    for (const map_internal::MapExtent& adopted : map_internal::MapsInRange(reinterpret_cast<void*>(address_), size_)) {
      kept.emplace_back(adopted.begin / page * page, (adopted.end + page - 1) / page * page);
    }
    for (const auto& [begin, claimed] : claimed_) {
      if (claimed.state == State::kLost) kept.emplace_back(begin, begin + claimed.length);
    }
  } catch (const std::bad_alloc&) {
    return;  // the whole range stays reserved (address space lost), rather than a live Map's pages unmapped
  }
  std::sort(kept.begin(), kept.end());
  uintptr_t at = address_;
  const uintptr_t end = address_ + size_;
  for (const auto& [begin, kept_end] : kept) {
    if (begin > at) munmap(reinterpret_cast<void*>(at), std::min(begin, end) - at);
    at = std::max(at, kept_end);
    if (at >= end) break;
  }
  if (end > at) munmap(reinterpret_cast<void*>(at), end - at);
}

std::vector<ReservationState::Found> ReservationState::Overlapping(uintptr_t begin, uintptr_t end) {
  std::vector<Found> found;
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  for (const ReservationState* state = newest_; state != nullptr; state = state->older_) {
    if (state->size_ > 0 && state->address_ < end && begin < state->address_ + state->size_) {
      found.push_back(Found{state, state->address_, state->size_});
    }
  }
  return found;
}

internal::ForkSafeMutex& ReservationState::Mutex() {
  static internal::ForkSafeMutex* const mutex = new internal::ForkSafeMutex;  // never destroyed (fork handlers)
  return *mutex;
}
const bool ReservationState::mutex_made_at_load_ = (ReservationState::Mutex(), true);

// After the ForkSafeMutex handlers (child handlers run oldest first), so Mutex() is free again when this runs.
const bool ReservationState::child_handler_registered_at_load_ = [] {
  internal::RegisterForkHandlersBeforeYours();
  return pthread_atfork(nullptr, nullptr, &ReservationState::EndOtherThreadsClaimsInChild) == 0;
}();

void ReservationState::EndOtherThreadsClaimsInChild() {
  // The child's only thread is the one that forked. A claim it owns is its own to end, should it return to that
  // call (a fork from a signal handler); every other pending or releasing claim would block its range for good.
  const pthread_t self = pthread_self();
  // Free unless the ForkSafeMutex handlers could not be registered (no memory); then it may be held by a thread
  // that is not here, and the reservations cannot be used in this child anyway. Never wait: every fork() of the
  // process runs this, also one that only execs.
  // No handler of this thread may run while the lock below is held: one that took it would wait for ever.
  const internal::ScopedSignalsBlocked signals_blocked;
  std::unique_lock<internal::ForkSafeMutex> lock(Mutex(), std::try_to_lock);
  if (!lock.owns_lock()) return;
  for (ReservationState* state = newest_; state != nullptr; state = state->older_) {
    for (auto it = state->claimed_.begin(); it != state->claimed_.end();) {
      Claimed& claimed = it->second;
      const bool orphaned = (claimed.state == State::kPending || claimed.state == State::kReleasing) &&
                            !pthread_equal(claimed.owner, self);
      if (!orphaned) {
        ++it;
      } else if (claimed.state == State::kPending && !claimed.may_be_registered) {
        // Nothing refers to the range but this claim: its Map, on the stack of a thread that is not here, has
        // neither a registry record nor a mapping there yet.
        it = state->claimed_.erase(it);
      } else if (claimed.may_be_registered) {
        // A registry record, the file's pages and, through pmem2_map_new (which hands a Map out before it
        // publishes it), a handle the child holds may all refer to the range: never offered to a Map again, never
        // unmapped (pmem2_map_delete of that handle then leaves it as it is). The same for a Map whose
        // destruction had begun but which had not unregistered the range yet.
        claimed.map = nullptr;
        claimed.state = State::kLost;
        ++it;
      } else if (RestorePlaceholder(it->first, claimed.length)) {
        it = state->claimed_.erase(it);  // the release, finished
      } else {
        claimed.state = State::kLost;
        ++it;
      }
    }
  }
}

void ReservationState::SetStepHookForTest(StepHook hook) { step_hook.store(hook, std::memory_order_release); }

void ReservationState::SetPlaceholderMmapForTest(PlaceholderMmap fn) {
  placeholder_mmap.store(fn, std::memory_order_release);
}

uintptr_t ReservationState::address() const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  return address_;
}

size_t ReservationState::size() const {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  return size_;
}

absl::StatusOr<uintptr_t> ReservationState::AddPendingClaim(uint64_t offset, size_t length, size_t address_alignment,
                                                        const Map* map) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  if (offset % PageSize() != 0) {
    return MakeError(
        ErrorCode::kOffsetUnaligned,
        internal::StrFormat("reservation offset %u is not a multiple of the page size %u", offset, PageSize()));
  }
  if (offset > size_ || length > size_ - offset) {
    return MakeError(
        ErrorCode::kLengthOutOfRange,
        internal::StrFormat("a mapping of %u bytes at offset %u does not fit in the reservation of %u bytes", length,
                            offset, size_));
  }
  const uintptr_t begin = address_ + offset;
  if (address_alignment != 0 && begin % address_alignment != 0) {
    return MakeError(ErrorCode::kAddressUnaligned,
                     internal::StrFormat("reservation address %#x + offset %u is not a multiple of the source's "
                                         "alignment %u",
                                         address_, offset, address_alignment));
  }
  // The first claimed range that ends after `begin` is the only candidate for an overlap.
  auto next = FirstEndingAfterLocked(begin);
  if (next != claimed_.end() && next->first < begin + length) {
    return MakeError(ErrorCode::kMappingExists,
                     internal::StrFormat("offsets [%u, %u) of the reservation overlap a mapping at offset %u", offset,
                                         offset + length, next->first - address_));
  }
  claimed_.emplace(begin, Claimed{length, map, State::kPending, pthread_self()});
  return begin;
}

absl::StatusOr<uintptr_t> ReservationState::Claim(uint64_t offset, size_t length, size_t address_alignment,
                                                  const Map* map) {
  absl::StatusOr<uintptr_t> claimed = AddPendingClaim(offset, length, address_alignment, map);
  if (claimed.ok()) CallStepHook(Step::kClaimed, *claimed);
  return claimed;
}

void ReservationState::WillRegister(uintptr_t address) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it != claimed_.end() && it->second.state == State::kPending) it->second.may_be_registered = true;
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

void ReservationState::BeginRelease(uintptr_t address) {
  {
    std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
    auto it = claimed_.find(address);
    if (it == claimed_.end() || it->second.state == State::kLost || it->second.state == State::kReleasing) return;
    it->second.map = nullptr;
    it->second.state = State::kReleasing;
    it->second.owner = pthread_self();
    it->second.may_be_registered = true;
  }
  CallStepHook(Step::kReleaseBegun, address);
}

void ReservationState::Release(uintptr_t address) {
  size_t length = 0;
  {
    std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
    auto it = claimed_.find(address);
    if (it == claimed_.end() || it->second.state == State::kLost) return;
    // Releasing already: BeginRelease() by this thread (a Map's claim is ended by that Map alone).
    length = it->second.length;
    it->second.map = nullptr;
    it->second.state = State::kReleasing;
    it->second.owner = pthread_self();
    it->second.may_be_registered = false;
  }
  CallStepHook(Step::kReleasing, address);
  // Outside the lock, which every reservation (and a fork) shares: replacing a large, populated mapping with the
  // placeholder takes long. Meanwhile the range stays claimed and is not findable. If the placeholder cannot come
  // back, the range is a hole the kernel may fill with another mapping, so it stays claimed (by nobody) and is never
  // offered to a Map again.
  const bool restored = RestorePlaceholder(address, length);
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it == claimed_.end()) return;  // only this call ends a releasing claim (or a child's fork handler, in a child)
  if (restored && it->second.state == State::kReleasing) {
    claimed_.erase(it);
  } else {
    it->second.state = State::kLost;
  }
}

int ReservationState::RestorePlaceholderOf(uintptr_t address) {
  size_t length = 0;
  {
    std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
    auto it = claimed_.find(address);
    if (it == claimed_.end() || it->second.state != State::kReleasing) return 0;  // lost: Release() leaves it alone
    length = it->second.length;
  }
  void* const at = reinterpret_cast<void*>(address);
  if (PlaceholderOver(at, length)) return 0;
  const int error = errno;
  // A kernel before 6.12 may fail a MAP_FIXED mmap after it has unmapped what was there (placement.cc): the Map is
  // gone then, and the release goes on as Release()'s over a hole (munmap is all or nothing: the first page tells).
  unsigned char resident;
  if (mincore(at, PageSize(), &resident) == 0 || errno != ENOMEM) return error;
  if (!map_internal::RefillHole(at, length)) {
    std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
    auto it = claimed_.find(address);
    if (it != claimed_.end() && it->second.state == State::kReleasing) it->second.state = State::kLost;
  }
  return 0;
}

void ReservationState::CancelRelease(uintptr_t address, const Map* map) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it == claimed_.end() || it->second.state != State::kReleasing) return;
  it->second.map = map;
  it->second.state = State::kLive;
}

void ReservationState::ReleaseRestored(uintptr_t address) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it != claimed_.end() && it->second.state == State::kReleasing) claimed_.erase(it);
}

void ReservationState::Abandon(uintptr_t address) {
  std::lock_guard<internal::ForkSafeMutex> lock(Mutex());
  auto it = claimed_.find(address);
  if (it == claimed_.end()) return;
  it->second.map = nullptr;
  it->second.state = State::kLost;
}

absl::Status ReservationState::Extend(size_t size, absl::FunctionRef<void(void*, size_t)> before_counted) {
  if (size % PageSize() != 0) {
    return MakeError(ErrorCode::kLengthUnaligned,
                     internal::StrFormat("extension size %u is not a multiple of the page size %u", size, PageSize()));
  }
  if (size == 0) return absl::OkStatus();
  std::unique_lock<internal::ForkSafeMutex> lock(Mutex());
  const uintptr_t end = address_ + size_;
  if (end + size < end) {
    return MakeError(ErrorCode::kLengthOutOfRange, internal::StrFormat("extension size %u passes the end of the "
                                                                       "address space",
                                                                       size));
  }
  void* added = mmap(reinterpret_cast<void*>(end), size, PROT_NONE, kPlaceholderFlags | MAP_FIXED_NOREPLACE, -1, 0);
  if (added == MAP_FAILED) {
    const int error = errno;  // before the message's formatting can change it
    if (error == EEXIST) {
      return MakeError(
          ErrorCode::kMappingExists,
          internal::StrFormat("the %u bytes after the reservation (at %#x) are already mapped", size, end));
    }
    return MakeErrnoError(error, internal::StrFormat("reserving %u bytes at %#x", size, end));
  }
  if (reinterpret_cast<uintptr_t>(added) != end) {  // a kernel before 4.17 takes the flag as a mere hint
    munmap(added, size);
    return MakeError(ErrorCode::kMappingExists,
                     internal::StrFormat("the %u bytes after the reservation (at %#x) are already mapped", size, end));
  }
  // Outside the lock (the Map registry's lock is never taken under it), before the range counts: no Map can be
  // claimed there in between. Another thread's Extend meanwhile finds the range mapped (kMappingExists).
  lock.unlock();
  try {
    before_counted(added, size);
  } catch (...) {  // std::bad_alloc dropping a stale record: the range was never counted, so nothing else unmaps it
    munmap(added, size);
    throw;
  }
  lock.lock();
  if (address_ + size_ != end) {  // shrunk from the end meanwhile: the new range no longer follows the reservation
    munmap(added, size);
    return MakeError(ErrorCode::kMappingExists,
                     internal::StrFormat("the reservation's end moved while %u bytes were added at %#x", size, end));
  }
  size_ += size;
  return absl::OkStatus();
}

absl::Status ReservationState::Shrink(size_t offset, size_t size,
                                      absl::FunctionRef<absl::Status(uintptr_t, size_t)> check_unlocked) {
  if (offset % PageSize() != 0) {
    return MakeError(ErrorCode::kOffsetUnaligned,
                     internal::StrFormat("shrink offset %u is not a multiple of the page size %u", offset, PageSize()));
  }
  if (size % PageSize() != 0) {
    return MakeError(ErrorCode::kLengthUnaligned,
                     internal::StrFormat("shrink size %u is not a multiple of the page size %u", size, PageSize()));
  }
  std::unique_lock<internal::ForkSafeMutex> lock(Mutex());
  for (bool checked = false;;) {
    if (offset >= size_) {
      return MakeError(
          ErrorCode::kOffsetOutOfRange,
          internal::StrFormat("shrink offset %u is not inside the reservation of %u bytes", offset, size_));
    }
    if (size == 0 || size > size_ - offset) {
      return MakeError(
          ErrorCode::kLengthOutOfRange,
          internal::StrFormat("shrinking %u bytes at offset %u: the reservation has %u bytes", size, offset, size_));
    }
    if (size == size_) {
      return MakeError(ErrorCode::kNoSupp,
                       internal::StrFormat("shrinking [0, %u) takes the whole reservation of %u bytes, which is not "
                                           "supported; destroy it instead",
                                           size, size_));
    }
    if (offset != 0 && offset + size != size_) {
      return MakeError(ErrorCode::kNoSupp,
                       internal::StrFormat("shrinking [%u, %u) from the middle of a reservation of %u bytes is not "
                                           "supported",
                                           offset, offset + size, size_));
    }
    const uintptr_t begin = address_ + offset;
    auto next = FirstEndingAfterLocked(begin);
    if (next != claimed_.end() && next->first < begin + size) {
      return MakeError(ErrorCode::kVmReservationNotEmpty,
                       internal::StrFormat("offsets [%u, %u) of the reservation hold a mapping (at offset %u)", offset,
                                           offset + size, next->first - address_));
    }
    if (checked) break;
    // Outside the lock (the Map registry's lock is never taken under it); again from the start if the reservation
    // moved meanwhile (another thread's Shrink or Extend).
    const uintptr_t address = address_;
    const size_t reserved = size_;
    lock.unlock();
    if (absl::Status s = check_unlocked(begin, size); !s.ok()) return s;
    lock.lock();
    checked = address == address_ && reserved == size_;
  }
  const uintptr_t begin = address_ + offset;
  if (munmap(reinterpret_cast<void*>(begin), size) != 0) {  // the reservation stays as it was
    const int err = errno;
    return MakeErrnoError(err,
                          internal::StrFormat("unmapping offsets [%u, %u) of the reservation", offset, offset + size));
  }
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
