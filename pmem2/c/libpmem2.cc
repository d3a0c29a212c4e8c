// Copyright 2026 The pmem2 Authors.
//
// The C interface (libpmem2.h) over the C++ core: each opaque struct wraps one pmem2 value, each call turns
// an absl::Status into libpmem2's return value (ToLibpmem2ReturnValue) and records the message for
// pmem2_errormsg(). Raw values that the C++ types cannot hold wrong (enumerators, protection bits, offsets)
// are checked here, where they enter, as libpmem2's setters do.

#include "pmem2/c/libpmem2.h"

#include <errno.h>
#include <pthread.h>

#include <atomic>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/c/handles.h"
#include "pmem2/config/config.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_lazy.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/str_format.h"
#include "pmem2/map/map.h"
#include "pmem2/map/page_persist.h"
#include "pmem2/source/source.h"

namespace pmem2 {
namespace c_internal {
namespace {

// pmem2_errormsg()'s buffer. Messages longer than this are cut (they name values, never whole files).
constexpr size_t kMessageSize = 1024;
thread_local char last_message[kMessageSize];

void SetMessage(absl::string_view message) {
  const size_t n = message.size() < kMessageSize - 1 ? message.size() : kMessageSize - 1;
  message.copy(last_message, n);
  last_message[n] = '\0';
}

}  // namespace

int Fail(int code, absl::string_view message) {
  SetMessage(message);
  return code;
}

int Return(const absl::Status& status) {
  if (status.ok()) return 0;
  SetMessage(status.message());
  return pmem2::ToLibpmem2ReturnValue(status);
}

// Formatted in place, allocating nothing.
int NullArgument(const char* argument) {
  std::snprintf(last_message, kMessageSize, "%s is NULL", argument);
  return -EINVAL;
}

int OutOfMemory() { return Fail(-ENOMEM, "out of memory"); }

}  // namespace c_internal
}  // namespace pmem2

namespace {

using pmem2::c_internal::Fail;
using pmem2::c_internal::NullArgument;
using pmem2::c_internal::OutOfMemory;
using pmem2::c_internal::Return;
using pmem2::internal::StrFormat;

// The functions handed out for a NULL map: msync(MS_SYNC) of the pages (durable through the page cache; nothing on
// Device DAX, see libpmem2.h). No CPU flush first: a NULL map says nothing of the range, and a flush of an unmapped
// address would crash where msync returns ENOMEM.
pmem2::internal::ForkSafeLazy<pmem2::arch::PersistOps> fallback_ops;  // fork-safe (fork_safe_lazy.h)
const pmem2::arch::PersistOps& FallbackOps() {
  return fallback_ops.Get([] { return std::make_unique<pmem2::arch::PersistOps>(pmem2::map_internal::PageOps()); });
}

// The pmem2_map handles that pmem2_map_new() / pmem2_map_from_existing() returned and pmem2_map_delete() has
// not deleted yet. A C program may keep a copy of a handle across its delete (PMDK's examples delete through
// whichever variable is at hand); without this, the second delete would free the object twice. libpmem2 looks
// the map up too and returns PMEM2_E_MAPPING_NOT_FOUND. A ForkSafeMutex: a child forked while another thread
// was in here can still delete the maps it inherited.
//
// A delete retires its handle in two steps, so that its Map leaves its reservation's lookups in between
// (map_internal::BeginDestructionForCApi, which takes the reservations' lock: no ForkSafeMutex may be held then).
// A handle being retired is refused to every other delete; in a child forked meanwhile (whose deleting thread is
// not there) it is live again, its Map intact: the child can delete it, and never finds a Map whose handle it
// could not delete.
class LiveMaps {
 public:
  // Never destroyed: handles may be deleted from atexit handlers or other static destructors.
  static LiveMaps& Get() {
    static LiveMaps* const live = new LiveMaps();
    return *live;
  }
  // False if the set cannot grow (out of memory): the caller then must not hand the map out.
  bool Add(const pmem2_map* map) {
    std::lock_guard<pmem2::internal::ForkSafeMutex> lock(mutex_);
    try {
      maps_.emplace(map, Retiring{});
    } catch (const std::bad_alloc&) {
      return false;  // an exception must not cross the C boundary
    }
    return true;
  }
  // Whether `map` is live and not being retired; if so, this thread retires it (and must call FinishRetiring).
  bool BeginRetiring(const pmem2_map* map) {
    std::lock_guard<pmem2::internal::ForkSafeMutex> lock(mutex_);
    auto it = maps_.find(map);
    if (it == maps_.end() || it->second.retiring) return false;
    it->second = {true, pthread_self()};
    return true;
  }
  void FinishRetiring(const pmem2_map* map) {
    std::lock_guard<pmem2::internal::ForkSafeMutex> lock(mutex_);
    maps_.erase(map);
  }

 private:
  struct Retiring {
    bool retiring = false;
    pthread_t by{};  // the thread that retires it
  };

  LiveMaps() {
    // After the ForkSafeMutex handlers (child handlers run oldest first), so mutex_ is free when it runs. The
    // handler reaches the set through `instance_`, not Get(): a fork while this constructor still runs (another
    // thread of a process that dlopen()ed the library) would leave Get()'s first-use guard taken in the child.
    instance_.store(this, std::memory_order_release);
    pmem2::internal::RegisterForkHandlersBeforeYours();
    pthread_atfork(nullptr, nullptr, [] {
      if (LiveMaps* live = instance_.load(std::memory_order_acquire); live != nullptr) {
        live->KeepOtherThreadsRetiringInChild();
      }
    });
  }
  void KeepOtherThreadsRetiringInChild() {
    // Never wait (also a fork that only execs runs this); the lock is free unless its handlers are missing.
    std::unique_lock<pmem2::internal::ForkSafeMutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    const pthread_t self = pthread_self();
    for (auto& entry : maps_) {
      if (entry.second.retiring && !pthread_equal(entry.second.by, self)) entry.second.retiring = false;
    }
  }

  static inline std::atomic<LiveMaps*> instance_{nullptr};
  pmem2::internal::ForkSafeMutex mutex_;
  std::unordered_map<const pmem2_map*, Retiring> maps_;
};
// Made when the library loads, so that no thread is still making it (and its fork-safe mutex) at a fork: the
// child would wait for the first-use guard forever (fork_safe_mutex.h).
const bool live_maps_made_at_load = (LiveMaps::Get(), true);

// Hands `made` out through `*map_ptr` once it is live; -ENOMEM (and the map deleted, so unmapped unless
// adopted) if it cannot be recorded.
int HandOut(pmem2_map* made, struct pmem2_map** map_ptr) {
  if (!LiveMaps::Get().Add(made)) {
    delete made;
    return OutOfMemory();
  }
  *map_ptr = made;
  return 0;
}

}  // namespace

extern "C" {

// ---- Sources ----

int pmem2_source_from_fd(struct pmem2_source** src, int fd) try {
  if (src == nullptr) return NullArgument("src");
  *src = nullptr;  // as libpmem2: NULL on failure, so that cleanup code may delete it unconditionally
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  if (!source.ok()) return Return(source.status());
  pmem2_source* made = new (std::nothrow) pmem2_source(*std::move(source));
  if (made == nullptr) return OutOfMemory();
  *src = made;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_from_anon(struct pmem2_source** src, size_t size) try {
  if (src == nullptr) return NullArgument("src");
  *src = nullptr;  // as libpmem2: NULL on failure, so that cleanup code may delete it unconditionally
  absl::StatusOr<pmem2::Source> source = pmem2::Source::Anonymous(size);
  if (!source.ok()) return Return(source.status());
  pmem2_source* made = new (std::nothrow) pmem2_source(*std::move(source));
  if (made == nullptr) return OutOfMemory();
  *src = made;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_get_fd(const struct pmem2_source* src, int* fd) {
  if (src == nullptr) return NullArgument("src");
  if (fd == nullptr) return NullArgument("fd");
  if (src->source.kind() == pmem2::SourceKind::kAnonymous) {
    return Fail(PMEM2_E_FILE_DESCRIPTOR_NOT_SET, "an anonymous source has no descriptor");
  }
  *fd = src->source.fd();
  return 0;
}

int pmem2_source_size(const struct pmem2_source* src, size_t* size) try {
  if (src == nullptr) return NullArgument("src");
  if (size == nullptr) return NullArgument("size");
  absl::StatusOr<uint64_t> bytes = src->source.Size();
  if (!bytes.ok()) return Return(bytes.status());
  if (*bytes > SIZE_MAX) return Fail(-EOVERFLOW, "the size does not fit in size_t");
  *size = static_cast<size_t>(*bytes);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_alignment(const struct pmem2_source* src, size_t* alignment) try {
  if (src == nullptr) return NullArgument("src");
  if (alignment == nullptr) return NullArgument("alignment");
  absl::StatusOr<size_t> granule = src->source.Alignment();
  if (!granule.ok()) return Return(granule.status());
  *alignment = *granule;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_delete(struct pmem2_source** src) {
  if (src == nullptr) return NullArgument("src");
  delete *src;
  *src = nullptr;
  return 0;
}

// ---- Configs ----

int pmem2_config_new(struct pmem2_config** cfg) {
  if (cfg == nullptr) return NullArgument("cfg");
  *cfg = new (std::nothrow) pmem2_config();
  if (*cfg == nullptr) return OutOfMemory();
  return 0;
}

int pmem2_config_delete(struct pmem2_config** cfg) {
  if (cfg == nullptr) return NullArgument("cfg");
  delete *cfg;
  *cfg = nullptr;
  return 0;
}

int pmem2_config_set_required_store_granularity(struct pmem2_config* cfg, enum pmem2_granularity g) try {
  if (cfg == nullptr) return NullArgument("cfg");
  // Compared as an int: a value outside the enumerators may arrive from C.
  const int value = static_cast<int>(g);
  if (value != PMEM2_GRANULARITY_BYTE && value != PMEM2_GRANULARITY_CACHE_LINE && value != PMEM2_GRANULARITY_PAGE) {
    return Fail(PMEM2_E_GRANULARITY_NOT_SUPPORTED,
                "" + std::to_string(value) + " is no granularity");
  }
  cfg->config.set_required_store_granularity(static_cast<pmem2::StoreGranularity>(value));
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_config_set_offset(struct pmem2_config* cfg, size_t offset) try {
  if (cfg == nullptr) return NullArgument("cfg");
  if (static_cast<uint64_t>(offset) > static_cast<uint64_t>(INT64_MAX)) {
    return Fail(PMEM2_E_OFFSET_OUT_OF_RANGE,
                "offset " + std::to_string(offset) + " is greater than INT64_MAX");
  }
  cfg->config.set_offset(offset);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_config_set_length(struct pmem2_config* cfg, size_t length) {
  if (cfg == nullptr) return NullArgument("cfg");
  cfg->config.set_length(length);
  return 0;
}

int pmem2_config_set_sharing(struct pmem2_config* cfg, enum pmem2_sharing_type type) try {
  if (cfg == nullptr) return NullArgument("cfg");
  const int value = static_cast<int>(type);
  if (value != PMEM2_SHARED && value != PMEM2_PRIVATE) {
    return Fail(PMEM2_E_INVALID_SHARING_VALUE,
                "" + std::to_string(value) + " is neither PMEM2_SHARED nor PMEM2_PRIVATE");
  }
  cfg->config.set_sharing(static_cast<pmem2::Sharing>(value));
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_config_set_protection(struct pmem2_config* cfg, unsigned prot) try {
  if (cfg == nullptr) return NullArgument("cfg");
  if ((prot & ~pmem2::kValidProtectionBits) != 0) {
    return Fail(PMEM2_E_INVALID_PROT_FLAG, StrFormat("protection 0x%x has bits 0x%x that are no PMEM2_PROT_* flag",
                                                     prot, prot & ~pmem2::kValidProtectionBits));
  }
  cfg->config.set_protection(pmem2::ProtectionFromBits(prot));
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

// ---- Maps ----

int pmem2_map_new(struct pmem2_map** map_ptr, const struct pmem2_config* cfg, const struct pmem2_source* src) try {
  if (map_ptr == nullptr) return NullArgument("map_ptr");
  *map_ptr = nullptr;
  if (cfg == nullptr) return NullArgument("cfg");
  if (src == nullptr) return NullArgument("src");
  // Published (findable through its reservation) only once it is the pmem2_map the caller gets.
  absl::StatusOr<pmem2::Map> map = pmem2::map_internal::CreateUnpublishedForCApi(cfg->config, src->source);
  if (!map.ok()) return Return(map.status());
  pmem2_map* made = new (std::nothrow) pmem2_map(*std::move(map));
  if (made == nullptr) return OutOfMemory();  // the Map's destructor has unmapped the mapping
  // Live before it is published: a Find through its reservation may return it, and the finder may delete it.
  if (int ret = HandOut(made, map_ptr); ret != 0) return ret;
  pmem2::map_internal::PublishForCApi(*made);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_map_delete(struct pmem2_map** map_ptr) try {
  if (map_ptr == nullptr) return NullArgument("map_ptr");
  if (*map_ptr == nullptr) return Fail(PMEM2_E_MAPPING_NOT_FOUND, "*map_ptr is NULL");
  // A handle already deleted (a stale copy) or never handed out is refused, not freed: as libpmem2.
  if (!LiveMaps::Get().BeginRetiring(*map_ptr)) {
    // Formatted in place: a delete allocates nothing (libpmem2.h, "Memory").
    std::snprintf(pmem2::c_internal::last_message, pmem2::c_internal::kMessageSize,
                  "%p is no live map (already deleted, or not from pmem2_map_new or pmem2_map_from_existing)",
                  static_cast<const void*>(*map_ptr));
    return PMEM2_E_MAPPING_NOT_FOUND;
  }
  pmem2::map_internal::BeginDestructionForCApi(**map_ptr);
  LiveMaps::Get().FinishRetiring(*map_ptr);
  delete *map_ptr;
  *map_ptr = nullptr;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

void* pmem2_map_get_address(struct pmem2_map* map) { return map != nullptr ? map->address() : nullptr; }

size_t pmem2_map_get_size(struct pmem2_map* map) { return map != nullptr ? map->size() : 0; }

enum pmem2_granularity pmem2_map_get_store_granularity(struct pmem2_map* map) {
  if (map == nullptr) return PMEM2_GRANULARITY_PAGE;
  return static_cast<pmem2_granularity>(map->store_granularity());
}

// A live Map always has its functions; the NULL-map fallback is the page (msync) table. Persist, flush and drain
// are taken without the table, whose first making allocates: those getters cannot fail.
pmem2_persist_fn pmem2_get_persist_fn(struct pmem2_map* map) {
  return map != nullptr ? map->persist_fn() : pmem2::map_internal::PagePersistFn();
}

pmem2_flush_fn pmem2_get_flush_fn(struct pmem2_map* map) {
  return map != nullptr ? map->flush_fn() : pmem2::map_internal::PagePersistFn();
}

pmem2_drain_fn pmem2_get_drain_fn(struct pmem2_map* map) {
  return map != nullptr ? map->drain_fn() : pmem2::map_internal::PageDrainFn();
}

pmem2_memmove_fn pmem2_get_memmove_fn(struct pmem2_map* map) {
  return map != nullptr ? map->memmove_fn() : FallbackOps().memmove;
}

pmem2_memcpy_fn pmem2_get_memcpy_fn(struct pmem2_map* map) {
  return map != nullptr ? map->memcpy_fn() : FallbackOps().memmove;
}

pmem2_memset_fn pmem2_get_memset_fn(struct pmem2_map* map) {
  return map != nullptr ? map->memset_fn() : FallbackOps().memset;
}

int pmem2_map_from_existing(struct pmem2_map** map_ptr, const struct pmem2_source* src, void* addr, size_t len,
                            enum pmem2_granularity gran) try {
  if (map_ptr == nullptr) return NullArgument("map_ptr");
  *map_ptr = nullptr;
  if (src == nullptr) return NullArgument("src");
  absl::StatusOr<pmem2::Map> map =
      pmem2::Map::FromExisting(src->source, addr, len, static_cast<pmem2::StoreGranularity>(static_cast<int>(gran)));
  if (!map.ok()) return Return(map.status());
  pmem2_map* made = new (std::nothrow) pmem2_map(*std::move(map));
  if (made == nullptr) return OutOfMemory();
  return HandOut(made, map_ptr);
} PMEM2_C_CATCH_OUT_OF_MEMORY

// ---- Errors ----

const char* pmem2_errormsg(void) { return pmem2::c_internal::last_message; }

void pmem2_perror(const char* format, ...) {
  // Formatted first, then printed with one call, so lines of concurrent threads do not interleave.
  if (format == nullptr || *format == '\0') {
    std::fprintf(stderr, "%s\n", pmem2::c_internal::last_message);
    return;
  }
  char prefix[pmem2::c_internal::kMessageSize];
  va_list args;
  va_start(args, format);
  std::vsnprintf(prefix, sizeof prefix, format, args);
  va_end(args);
  std::fprintf(stderr, "%s: %s\n", prefix, pmem2::c_internal::last_message);
}

// ---- pmem2 extensions ----

int pmem2_map_get_persist_error(struct pmem2_map* map) try {
  if (map == nullptr) return NullArgument("map");
  return Return(map->PersistError());
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_map_clear_persist_error(struct pmem2_map* map) try {
  if (map == nullptr) return NullArgument("map");
  return Return(map->ClearPersistError());
} PMEM2_C_CATCH_OUT_OF_MEMORY

}  // extern "C"
