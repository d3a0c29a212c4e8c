// Copyright 2026 The pmem2 Authors.
//
// pmem2/c/live_handles.h (internal to pmem2/c)
// -----------------------------------------------------------------------------
//
// The handles the C API has handed out and not yet deleted, of every kind: sources, configs, reservations, maps,
// bad block contexts.
// A C program may keep a copy of a handle across its delete (PMDK's examples delete through whichever variable is
// at hand), or pass a pointer that never was one; every entry point checks its handles here first, so such a
// handle is refused (-EINVAL; a map: PMEM2_E_MAPPING_NOT_FOUND, as libpmem2) instead of being freed twice or read
// after it was freed. A handle is known by its address: a stale copy that happens to equal a handle of the same
// kind made since is taken for that one. The check is at entry: a handle that one thread uses while another
// deletes it is still the program's bug.
//
// A delete retires its handle in two steps (BeginRetiring, then FinishRetiring or CancelRetiring), so that
// whatever must happen before the object goes (a map leaves its reservation's lookups; a reservation must be
// empty) happens with the handle refused to every other delete, and without the set's lock held (a ForkSafeMutex:
// no other may be taken under it). In a child forked meanwhile, whose deleting thread is not there, a handle
// another thread was retiring is live again, its object intact (a map's range perhaps released already:
// pmem2_map_delete releases it before it finishes retiring, and marks the map's record so, under the lock a fork waits
// for; its delete in the child then releases nothing): the child can delete it.

#ifndef PMEM2_C_LIVE_HANDLES_H_
#define PMEM2_C_LIVE_HANDLES_H_

#include "pmem2/c/handles.h"

namespace pmem2 {
namespace c_internal {

enum class HandleKind { kSource, kConfig, kReservation, kMap, kBadBlockContext };

// False if the set cannot grow (out of memory): the caller must then not hand the handle out.
bool AddLiveHandle(HandleKind kind, const void* handle);

// Whether `handle` is live (being retired counts: a delete in another thread is the program's race). Allocates
// nothing.
bool IsLiveHandle(HandleKind kind, const void* handle);

// Whether `handle` is live and not being retired; if so, this thread retires it, and must then call
// FinishRetiring (the object is deleted) or CancelRetiring (it is not). Allocates nothing.
bool BeginRetiring(HandleKind kind, const void* handle);
void FinishRetiring(HandleKind kind, const void* handle);
void CancelRetiring(HandleKind kind, const void* handle);

// 0 if `handle` is live; else NullArgument(argument) for NULL, or -EINVAL naming the handle as no live one of its
// kind (a map: PMEM2_E_MAPPING_NOT_FOUND). Allocates nothing.
int CheckHandle(HandleKind kind, const void* handle, const char* argument);

// The refusal of CheckHandle for a non-NULL handle that is not live.
int NotLive(HandleKind kind, const void* handle);

// Hands `made` out through `*out` once it is live; -ENOMEM, with `made` deleted, if it cannot be recorded.
template <typename Handle>
int HandOut(HandleKind kind, Handle* made, Handle** out) {
  if (!AddLiveHandle(kind, made)) {
    delete made;
    return OutOfMemory();
  }
  *out = made;
  return 0;
}

// Deletes `*handle` (a live one, not NULL) and sets it to NULL; a stale copy is refused (NotLive), not freed twice.
// For handles whose delete has nothing to do between the two retiring steps.
template <typename Handle>
int DeleteHandle(HandleKind kind, Handle** handle) {
  if (!BeginRetiring(kind, *handle)) return NotLive(kind, *handle);
  FinishRetiring(kind, *handle);
  delete *handle;
  *handle = nullptr;
  return 0;
}

}  // namespace c_internal
}  // namespace pmem2

#endif  // PMEM2_C_LIVE_HANDLES_H_
