// Copyright 2026 The pmem2 Authors.
//
// pmem2/vm_reservation/reservation_state.h (internal to pmem2)
// -----------------------------------------------------------------------------
//
// The state behind a VmReservation, shared with the Maps placed in it: the reserved range and the Maps in it,
// by address. Each Map placed in the reservation holds a reference, so the range stays reserved until both the
// VmReservation and its last Map are gone; the destructor then unmaps it.
//
// Everything is guarded by one mutex for all reservations of the process, a ForkSafeMutex
// (pmem2/internal/fork_safe_mutex.h): a child forked while another thread was placing, finding or releasing a Map
// in a reservation can still use it. A lock per reservation (the reader/writer lock this had) would need fork
// handlers per object. The calls are setup paths and lookups (at most a walk of one reservation's Maps), and
// Release() puts the placeholder back outside the lock, so one lock costs little, though calls on different
// reservations no longer run at once.
//
// fork(): a claim that another thread was placing or releasing at the fork has no thread to finish it in the
// child. A child fork handler (registered when the library loads) finishes a release once the Map has
// unregistered the range (the placeholder goes back). A placement is dropped if that thread had not yet begun to
// register the range with the map registry (nothing else refers to it). Otherwise, a placement or a release alike,
// the range becomes a lost hole, its memory untouched: a registry record, a mapping and (through the C API) even a
// handle may refer to it, so it must be neither offered to another Map nor unmapped.

#ifndef PMEM2_VM_RESERVATION_RESERVATION_STATE_H_
#define PMEM2_VM_RESERVATION_RESERVATION_STATE_H_

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/internal/fork_safe_mutex.h"

namespace pmem2 {

class Map;

namespace vm_reservation_internal {

class ReservationState {
 public:
  // Takes over the reserved (PROT_NONE) range [address, address + size).
  ReservationState(uintptr_t address, size_t size);
  ReservationState(const ReservationState&) = delete;
  ReservationState& operator=(const ReservationState&) = delete;
  ~ReservationState();

  uintptr_t address() const;
  size_t size() const;

  // For Map::Create(): claims [offset, offset + length) (length already rounded up to pages) for `map` and
  // returns its address; the caller then maps over it with MAP_FIXED. The claim is pending, invisible to the
  // Find methods, until Publish(). Errors: kOffsetUnaligned (offset not a multiple of the page size),
  // kLengthOutOfRange (the range passes the end of the reservation), kAddressUnaligned (the address is not a
  // multiple of `address_alignment`, e.g. the Device DAX alignment), kMappingExists (another Map overlaps).
  absl::StatusOr<uintptr_t> Claim(uint64_t offset, size_t length, size_t address_alignment, const Map* map);
  // Map::Create() is about to register the claimed range with the map registry (pmem2/map/map_registry.h).
  void WillRegister(uintptr_t address);
  // Forgets a claim whose range was never mapped over (the placeholder is still there).
  void Unclaim(uintptr_t address);
  // Makes the claim at `address` findable, as `map`: the Map is complete and will stay where it is (until a
  // move, which calls Rebind).
  void Publish(uintptr_t address, const Map* map);
  // The Map claiming `address` has moved to `map`.
  void Rebind(uintptr_t address, const Map* map);
  // For ~Map(), before it unregisters the range from the map registry: the claim at `address` is no longer
  // findable, and its range stays taken until Release(). A child forked between the two leaves the range as it
  // is, lost (a registry record may still refer to it); forked after the unregistering, it finishes the release.
  void BeginRelease(uintptr_t address);
  // Makes the claimed range at `address` reserved (inaccessible) again, whatever was mapped there, and forgets
  // it. Nothing may refer to the range any more (the Map has unregistered it).
  void Release(uintptr_t address);
  // For pmem2_map_delete, between BeginRelease() and the Map's unregistering: puts the placeholder back over the claim
  // at `address` in one step (the range is never free for another mapping meanwhile), or returns mmap's errno having
  // changed nothing (ENOMEM: the Map's mapping is the middle of one the kernel merged with its neighbours, Maps of the
  // file's next pieces, and the process is at vm.max_map_count), for the caller to keep its Map: CancelRelease() makes
  // the claim `map`'s again, findable. Once the placeholder is back, ReleaseRestored() forgets the claim. A failed mmap
  // that unmapped the range all the same (kernels before 6.12 may) leaves a hole, refilled as Release() does (lost if
  // it cannot be): 0, the Map gone.
  int RestorePlaceholderOf(uintptr_t address);
  void CancelRelease(uintptr_t address, const Map* map);
  void ReleaseRestored(uintptr_t address);
  // For a Map whose range was unmapped behind pmem2's back (map_internal::ForgetUnmappedForCApi): forgets the
  // claim at `address` as a lost hole, touching no memory, since another mapping may be there by now.
  void Abandon(uintptr_t address);

  // The process's reservations that overlap [begin, end): VmReservations', and those of reservations destroyed whose
  // Maps still hold them. For pmem_unmap(), which must not take a placeholder away behind its reservation's back (the
  // next mmap could land in the hole, and a Map placed there later, or the reservation's end, would unmap whatever
  // that was). The states are for comparing only (a Map's ReservationOfForCApi()): they may be gone once this
  // returns. Throws std::bad_alloc.
  struct Found {
    const ReservationState* state;
    uintptr_t begin;
    size_t size;
  };
  static std::vector<Found> Overlapping(uintptr_t begin, uintptr_t end);

  // Test-only: where Claim(), BeginRelease() and Release() call the hook set by SetStepHookForTest(), outside the
  // lock, so that a test can hold a claim in its pending or releasing state (the hook blocks) and look at it from
  // another thread or a forked child.
  enum class Step {
    kClaimed,       // Claim() made the pending claim
    kReleaseBegun,  // BeginRelease() marked the claim releasing; its Map has not unregistered it yet
    kReleasing,     // Release() is about to put the placeholder back (the range is unregistered)
  };
  using StepHook = void (*)(Step step, uintptr_t address);
  // nullptr: none (the default). The hook is called by every thread, in every reservation.
  static void SetStepHookForTest(StepHook hook);
  // Test-only: replaces the MAP_FIXED mmap that puts a placeholder back over a released range (mmap(2)'s signature;
  // nullptr: the system call), to make it fail.
  using PlaceholderMmap = void* (*)(void* address, size_t length, int prot, int flags, int fd, off_t offset);
  static void SetPlaceholderMmapForTest(PlaceholderMmap fn);

  // Reserves `size` more bytes after the end; `before_counted` runs on the new range without the lock, before it
  // becomes part of the reservation (VmReservation: forgetting stale Map records there).
  absl::Status Extend(size_t size, absl::FunctionRef<void(void*, size_t)> before_counted);
  // Gives back [offset, offset + size); `check_unlocked` runs on that range without the lock, once the claims are
  // checked, and refuses with its error (VmReservation: a Map adopted there with FromExisting()).
  absl::Status Shrink(size_t offset, size_t size,
                      absl::FunctionRef<absl::Status(uintptr_t begin, size_t size)> check_unlocked);
  Map* Find(size_t offset, size_t length) const;
  Map* Previous(const Map& map) const;
  Map* Next(const Map& map) const;
  Map* First() const;
  Map* Last() const;
  size_t map_count() const;

 private:
  enum class State {
    kPending,  // being placed by Map::Create(): blocks overlaps, not findable
    kLive,     // a complete Map: findable
    kReleasing,  // its Map is being destroyed (BeginRelease() to Release()) and then the placeholder is going
                 // back (outside the lock): blocks overlaps, not findable
    kLost,     // its placeholder could not be restored, or its Map was being placed or destroyed by a thread not in
               // this forked child: a hole the kernel may fill with another mapping (or one that others refer
               // to), so never claimed, released or unmapped again
  };
  struct Claimed {
    size_t length;
    const Map* map;
    State state;
    pthread_t owner;  // kPending, kReleasing: the thread placing or releasing it (the one to end that state)
    // A registry record may refer to the range: kPending after WillRegister(), kReleasing from BeginRelease()
    // until Release().
    bool may_be_registered = false;
  };

  using Iterator = std::map<uintptr_t, Claimed>::const_iterator;

  // Claim() but for the hook: takes the lock.
  absl::StatusOr<uintptr_t> AddPendingClaim(uint64_t offset, size_t length, size_t address_alignment, const Map* map);

  // The lock of every reservation's state. Held by no caller of a method (none nests). Made when the library
  // loads (mutex_made_at_load_), so that no thread is still making it at a fork (fork_safe_mutex.h).
  static internal::ForkSafeMutex& Mutex();
  static const bool mutex_made_at_load_;
  // The child fork handler: ends the pending and releasing claims of the threads that are not in the child.
  static void EndOtherThreadsClaimsInChild();
  static const bool child_handler_registered_at_load_;
  // Mutex() held. The first claimed range that ends after `address` (the only one that can hold it or follow it).
  Iterator FirstEndingAfterLocked(uintptr_t address) const;
  // Mutex() held. The claimed range of `map`, or end().
  Iterator FindLocked(const Map& map) const;

  uintptr_t address_;                     // guarded by Mutex()
  size_t size_;                           // guarded by Mutex()
  std::map<uintptr_t, Claimed> claimed_;  // by address; guarded by Mutex()
  // Every ReservationState of the process, for the child fork handler; guarded by Mutex().
  static ReservationState* newest_;
  ReservationState* older_ = nullptr;  // guarded by Mutex()
  ReservationState* newer_ = nullptr;  // guarded by Mutex()
};

}  // namespace vm_reservation_internal
}  // namespace pmem2

#endif  // PMEM2_VM_RESERVATION_RESERVATION_STATE_H_
