// Copyright 2026 The pmem2 Authors.
//
// tools/bench/reference_library.h
// -----------------------------------------------------------------------------
//
// Loads PMDK's libpmem2 (Debian's libpmem2 1.12.1, the library pmem2 replaces) at run time so the benchmark can
// call both libraries in one process. The reference is opened with dlopen(RTLD_LOCAL): its C symbols
// (pmem2_map_new, ...) never enter the global symbol scope, so they cannot clash with pmem2's, and every
// function is reached through dlsym. Only its header (`@libpmem2_reference//:headers`) is used at build time;
// nothing links against it.
//
// Example:
//
//   absl::StatusOr<const ReferenceLibrary*> lib = ReferenceLibrary::Load();
//   if (!lib.ok()) return lib.status();  // e.g. "... not found: apt-get install libpmem2"
//   absl::StatusOr<ReferenceMap> map = ReferenceMap::FromFd(**lib, fd, PMEM2_GRANULARITY_PAGE);
//   map->memcpy_fn()(map->address(), src, n, 0);
//
// Thread safety: Load() is thread-safe and loads at most once per process; the library stays loaded until the
// process exits. A ReferenceMap is move-only and not synchronised (like pmem2::Map). libpmem2 reads
// PMEM2_FORCE_GRANULARITY in pmem2_map_new: callers that force a granularity set it around FromFd / Anonymous.

#ifndef PMEM2_TOOLS_BENCH_REFERENCE_LIBRARY_H_
#define PMEM2_TOOLS_BENCH_REFERENCE_LIBRARY_H_

#include <libpmem2.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pmem2 {
namespace bench {

// Where Debian puts the reference; `PMEM2_BENCH_REFERENCE_LIBRARY` names another file (or a missing one, which
// tests use to check the error message).
inline constexpr char kDefaultReferencePath[] = "/usr/lib/x86_64-linux-gnu/libpmem2.so.1";

// The entry points of the reference that the benchmark uses, resolved with dlsym.
struct ReferenceLibrary {
  int (*config_new)(pmem2_config** cfg);
  int (*config_delete)(pmem2_config** cfg);
  int (*config_set_required_store_granularity)(pmem2_config* cfg, pmem2_granularity g);
  int (*source_from_fd)(pmem2_source** src, int fd);
  int (*source_from_anon)(pmem2_source** src, size_t size);
  int (*source_delete)(pmem2_source** src);
  int (*map_new)(pmem2_map** map, const pmem2_config* cfg, const pmem2_source* src);
  int (*map_delete)(pmem2_map** map);
  void* (*map_get_address)(pmem2_map* map);
  size_t (*map_get_size)(pmem2_map* map);
  pmem2_granularity (*map_get_store_granularity)(pmem2_map* map);
  pmem2_persist_fn (*get_persist_fn)(pmem2_map* map);
  pmem2_memcpy_fn (*get_memcpy_fn)(pmem2_map* map);
  pmem2_memset_fn (*get_memset_fn)(pmem2_map* map);
  const char* (*errormsg)();
  std::string path;  // the file that was loaded

  // Loads the reference once per process (from $PMEM2_BENCH_REFERENCE_LIBRARY or kDefaultReferencePath).
  // kNotFound naming the file and "apt-get install libpmem2" if it is missing; kFailedPrecondition if it
  // lacks a symbol or a symbol of that name already in the process would shadow it.
  static absl::StatusOr<const ReferenceLibrary*> Load();
};

// One mapping made by the reference library; unmapped (pmem2_map_delete) when destroyed.
class ReferenceMap {
 public:
  // Maps all of `fd` (shared, read-write) with `required` as the required store granularity.
  static absl::StatusOr<ReferenceMap> FromFd(const ReferenceLibrary& lib, int fd, pmem2_granularity required);
  // Maps `size` bytes of anonymous memory (byte granularity).
  static absl::StatusOr<ReferenceMap> Anonymous(const ReferenceLibrary& lib, size_t size);

  ReferenceMap(ReferenceMap&& other) noexcept;
  ReferenceMap& operator=(ReferenceMap&& other) noexcept;
  ReferenceMap(const ReferenceMap&) = delete;
  ReferenceMap& operator=(const ReferenceMap&) = delete;
  ~ReferenceMap();

  void* address() const { return address_; }
  size_t size() const { return size_; }
  pmem2_granularity store_granularity() const { return granularity_; }
  pmem2_persist_fn persist_fn() const { return persist_; }
  pmem2_memcpy_fn memcpy_fn() const { return memcpy_; }
  pmem2_memset_fn memset_fn() const { return memset_; }

 private:
  ReferenceMap() = default;
  // Config, source (from `make_source`, named `source_call` in errors), map.
  static absl::StatusOr<ReferenceMap> Create(const ReferenceLibrary& lib, pmem2_granularity required,
                                             const char* source_call,
                                             absl::FunctionRef<int(pmem2_source**)> make_source);
  static absl::StatusOr<ReferenceMap> Finish(const ReferenceLibrary& lib, pmem2_map* map);
  void Reset();

  const ReferenceLibrary* lib_ = nullptr;
  pmem2_map* map_ = nullptr;
  void* address_ = nullptr;
  size_t size_ = 0;
  pmem2_granularity granularity_ = PMEM2_GRANULARITY_PAGE;
  pmem2_persist_fn persist_ = nullptr;
  pmem2_memcpy_fn memcpy_ = nullptr;
  pmem2_memset_fn memset_ = nullptr;
};

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_REFERENCE_LIBRARY_H_
