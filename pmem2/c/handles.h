// Copyright 2026 The pmem2 Authors.
//
// pmem2/c/handles.h (internal to pmem2/c)
// -----------------------------------------------------------------------------
//
// What the opaque structs of libpmem2.h hold, and how every C entry point reports an error, shared by the
// source files of pmem2/c (one per part of the API).

#ifndef PMEM2_C_HANDLES_H_
#define PMEM2_C_HANDLES_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "pmem2/config/config.h"
#include "pmem2/map/map.h"
#include "pmem2/source/source.h"
#include "pmem2/vm_reservation/vm_reservation.h"

struct pmem2_vm_reservation;

struct pmem2_config {
  pmem2::Config config;
  // The handle behind config.vm_reservation() and its serial, so that pmem2_map_new can refuse one deleted since:
  // a new reservation often takes the freed handle's address (glibc hands a freed block of that size straight
  // back), so the address alone would take it for the old one and map into it.
  const pmem2_vm_reservation* reservation_handle = nullptr;
  uint64_t reservation_serial = 0;
};

struct pmem2_vm_reservation {
  explicit pmem2_vm_reservation(pmem2::VmReservation r) : reservation(std::move(r)), serial(NextSerial()) {}
  pmem2::VmReservation reservation;
  const uint64_t serial;  // unique in the process, never 0

 private:
  static uint64_t NextSerial() {
    static std::atomic<uint64_t> next{1};
    return next.fetch_add(1, std::memory_order_relaxed);
  }
};

struct pmem2_source {
  explicit pmem2_source(pmem2::Source s) : source(std::move(s)) {}
  pmem2::Source source;
};

// A Map itself (not a holder of one), so that the Map* a VmReservation finds is the pmem2_map* the C caller
// knows: every Map placed in a reservation made through the C API was made by pmem2_map_new(), so the downcast
// in ToC() is valid (pmem2_map_new publishes a map to its reservation only once it is the pmem2_map).
struct pmem2_map : pmem2::Map {
  explicit pmem2_map(pmem2::Map&& m, bool from_anonymous_source = false)
      : pmem2::Map(std::move(m)), of_anonymous_source(from_anonymous_source) {}
  // A map of a pmem2_source_from_anon() (pmem2_map_new() or pmem2_map_from_existing()): pmem2_deep_flush() refuses it
  // (PMEM2_E_NOSUPP), as libpmem2 does pmem2_map_new()'s.
  const bool of_anonymous_source;
};

namespace pmem2 {
namespace c_internal {

// Records `message` for pmem2_errormsg() and returns `code`, a PMEM2_E_* value or -errno.
int Fail(int code, absl::string_view message);

// 0 for OK; otherwise records the status's message and returns libpmem2's value for it.
int Return(const absl::Status& status);

// -EINVAL, naming the argument. Messages never start with the function's name: programs print them after it
// (pmem2_perror("pmem2_map_new") prints "pmem2_map_new: cfg is NULL").
int NullArgument(const char* argument);

// Records the printf-formatted message (cut at the buffer's size) and returns `code`. Allocates nothing.
int FailFormatted(int code, const char* format, ...) __attribute__((format(printf, 2, 3)));

// -ENOMEM, with a message that needs no memory.
int OutOfMemory();

// Every entry point that may allocate (the C++ core allocates for handles, records and messages, and its
// allocations throw std::bad_alloc) is a function-try-block ending in PMEM2_C_CATCH_OUT_OF_MEMORY: the exception
// becomes -ENOMEM instead of crossing into the caller's C frames, where nothing can catch it and the program
// terminates. Whatever the entry point had made is undone by its RAII owners on the way out, so nothing leaks and
// nothing stays half made (out_of_memory_test fails every allocation of each entry point in turn).
#define PMEM2_C_CATCH_OUT_OF_MEMORY            \
  catch (const std::bad_alloc&) {              \
    return ::pmem2::c_internal::OutOfMemory(); \
  }

// The C handle of a Map made by pmem2_map_new() / pmem2_map_from_existing(); null for null.
inline pmem2_map* ToC(pmem2::Map* map) { return static_cast<pmem2_map*>(map); }

}  // namespace c_internal
}  // namespace pmem2

#endif  // PMEM2_C_HANDLES_H_
