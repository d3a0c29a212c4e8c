// Copyright 2026 The pmem2 Authors.

#include "pmem2/c/live_handles.h"

#include <errno.h>
#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <new>
#include <unordered_map>

#include "pmem2/c/handles.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/internal/fork_safe_mutex.h"

namespace pmem2 {
namespace c_internal {
namespace {

struct Key {
  HandleKind kind;
  const void* handle;
  bool operator==(const Key& other) const { return kind == other.kind && handle == other.handle; }
};

struct KeyHash {
  size_t operator()(const Key& key) const {
    return std::hash<const void*>()(key.handle) ^ static_cast<size_t>(key.kind);
  }
};

class LiveHandles {
 public:
  // Never destroyed: handles may be deleted from atexit handlers or other static destructors.
  static LiveHandles& Get() {
    static LiveHandles* const live = new LiveHandles();
    return *live;
  }

  bool Add(const Key& key) {
    std::lock_guard<internal::ForkSafeMutex> lock(mutex_);
    try {
      handles_.emplace(key, Retiring{});
    } catch (const std::bad_alloc&) {
      return false;
    }
    return true;
  }
  bool Contains(const Key& key) {
    std::lock_guard<internal::ForkSafeMutex> lock(mutex_);
    return handles_.find(key) != handles_.end();
  }
  bool BeginRetiring(const Key& key) {
    std::lock_guard<internal::ForkSafeMutex> lock(mutex_);
    auto it = handles_.find(key);
    if (it == handles_.end() || it->second.retiring) return false;
    it->second = {true, pthread_self()};
    return true;
  }
  void FinishRetiring(const Key& key) {
    std::lock_guard<internal::ForkSafeMutex> lock(mutex_);
    handles_.erase(key);
  }
  void CancelRetiring(const Key& key) {
    std::lock_guard<internal::ForkSafeMutex> lock(mutex_);
    if (auto it = handles_.find(key); it != handles_.end()) it->second = Retiring{};
  }

 private:
  struct Retiring {
    bool retiring = false;
    pthread_t by{};  // the thread that retires it
  };

  LiveHandles() {
    // After the ForkSafeMutex handlers (child handlers run oldest first), so mutex_ is free when it runs. The
    // handler reaches the set through `instance_`, not Get(): a fork while this constructor still runs (another
    // thread of a process that dlopen()ed the library) would leave Get()'s first-use guard taken in the child.
    instance_.store(this, std::memory_order_release);
    internal::RegisterForkHandlersBeforeYours();
    pthread_atfork(nullptr, nullptr, [] {
      if (LiveHandles* live = instance_.load(std::memory_order_acquire); live != nullptr) {
        live->KeepOtherThreadsRetiringInChild();
      }
    });
  }
  void KeepOtherThreadsRetiringInChild() {
    // Never wait (also a fork that only execs runs this); the lock is free unless its handlers are missing.
    // No handler of this thread may run while the lock below is held: one that took it would wait for ever.
    const internal::ScopedSignalsBlocked signals_blocked;
    std::unique_lock<internal::ForkSafeMutex> lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock()) return;
    const pthread_t self = pthread_self();
    for (auto& entry : handles_) {
      if (entry.second.retiring && !pthread_equal(entry.second.by, self)) entry.second.retiring = false;
    }
  }

  static inline std::atomic<LiveHandles*> instance_{nullptr};
  internal::ForkSafeMutex mutex_;
  std::unordered_map<Key, Retiring, KeyHash> handles_;
};

// Made when the library loads, so that no thread is still making it (and its fork-safe mutex) at a fork: the
// child would wait for the first-use guard forever (fork_safe_mutex.h).
const bool live_handles_made_at_load = (LiveHandles::Get(), true);

}  // namespace

bool AddLiveHandle(HandleKind kind, const void* handle) { return LiveHandles::Get().Add({kind, handle}); }
bool IsLiveHandle(HandleKind kind, const void* handle) { return LiveHandles::Get().Contains({kind, handle}); }
bool BeginRetiring(HandleKind kind, const void* handle) { return LiveHandles::Get().BeginRetiring({kind, handle}); }
void FinishRetiring(HandleKind kind, const void* handle) { LiveHandles::Get().FinishRetiring({kind, handle}); }
void CancelRetiring(HandleKind kind, const void* handle) { LiveHandles::Get().CancelRetiring({kind, handle}); }

int NotLive(HandleKind kind, const void* handle) {
  switch (kind) {
    case HandleKind::kSource:
      return FailFormatted(-EINVAL,
                           "%p is no live source (already deleted, or not from pmem2_source_from_fd or "
                           "pmem2_source_from_anon)",
                           handle);
    case HandleKind::kConfig:
      return FailFormatted(-EINVAL, "%p is no live config (already deleted, or not from pmem2_config_new)", handle);
    case HandleKind::kReservation:
      return FailFormatted(-EINVAL,
                           "%p is no live reservation (already deleted, or not from "
                           "pmem2_vm_reservation_new)",
                           handle);
    case HandleKind::kBadBlockContext:
      return FailFormatted(-EINVAL,
                           "%p is no live bad block context (already deleted, or not from "
                           "pmem2_badblock_context_new)",
                           handle);
    case HandleKind::kMap:
      break;
  }
  return FailFormatted(PMEM2_E_MAPPING_NOT_FOUND,
                       "%p is no live map (already deleted, or not from pmem2_map_new "
                       "or pmem2_map_from_existing)",
                       handle);
}

int CheckHandle(HandleKind kind, const void* handle, const char* argument) {
  if (handle == nullptr) return NullArgument(argument);
  if (!IsLiveHandle(kind, handle)) return NotLive(kind, handle);
  return 0;
}

}  // namespace c_internal
}  // namespace pmem2
