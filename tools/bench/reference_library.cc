// Copyright 2026 The pmem2 Authors.

#include "tools/bench/reference_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace pmem2 {
namespace bench {
namespace {

// Resolves `name` in `handle` into `*fn`. Refuses a symbol that the global scope also defines differently: the
// reference's calls to its own exported functions would bind to that one instead (ELF interposition), and the
// benchmark would silently measure something else.
template <typename Fn>
absl::Status Resolve(void* handle, const std::string& path, const char* name, Fn* fn) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path, " has no symbol ", name, ": not libpmem2 1.12?"));
  }
  void* global = dlsym(RTLD_DEFAULT, name);
  if (global != nullptr && global != symbol) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, " is already defined in this process; it would shadow the reference's own (link without it)"));
  }
  *fn = reinterpret_cast<Fn>(symbol);
  return absl::OkStatus();
}

absl::StatusOr<ReferenceLibrary*> LoadOnce() {
  const char* override_path = std::getenv("PMEM2_BENCH_REFERENCE_LIBRARY");
  auto lib = std::make_unique<ReferenceLibrary>();
  lib->path = override_path != nullptr && *override_path != '\0' ? override_path : kDefaultReferencePath;
  if (access(lib->path.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("the reference library ", lib->path,
                                            " was not found: apt-get install libpmem2 (Debian's PMDK libpmem2)"));
  }
  // RTLD_LOCAL keeps its symbols out of the global scope. Not RTLD_DEEPBIND: sanitizer runtimes refuse it, and
  // Resolve() already rejects the one case DEEPBIND would guard against.
  void* handle = dlopen(lib->path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot load the reference library ", lib->path, ": ", dlerror(), " (apt-get install libpmem2)"));
  }
  ReferenceLibrary& l = *lib;
  const std::string& p = l.path;
  for (absl::Status s : {
           Resolve(handle, p, "pmem2_config_new", &l.config_new),
           Resolve(handle, p, "pmem2_config_delete", &l.config_delete),
           Resolve(handle, p, "pmem2_config_set_required_store_granularity", &l.config_set_required_store_granularity),
           Resolve(handle, p, "pmem2_source_from_fd", &l.source_from_fd),
           Resolve(handle, p, "pmem2_source_from_anon", &l.source_from_anon),
           Resolve(handle, p, "pmem2_source_delete", &l.source_delete),
           Resolve(handle, p, "pmem2_map_new", &l.map_new),
           Resolve(handle, p, "pmem2_map_delete", &l.map_delete),
           Resolve(handle, p, "pmem2_map_get_address", &l.map_get_address),
           Resolve(handle, p, "pmem2_map_get_size", &l.map_get_size),
           Resolve(handle, p, "pmem2_map_get_store_granularity", &l.map_get_store_granularity),
           Resolve(handle, p, "pmem2_get_persist_fn", &l.get_persist_fn),
           Resolve(handle, p, "pmem2_get_memcpy_fn", &l.get_memcpy_fn),
           Resolve(handle, p, "pmem2_get_memset_fn", &l.get_memset_fn),
           Resolve(handle, p, "pmem2_errormsg", &l.errormsg),
       }) {
    if (!s.ok()) {
      dlclose(handle);
      return s;
    }
  }
  // Deliberately never dlclose'd: function pointers handed out stay valid for the whole process.
  return lib.release();
}

absl::Status ReferenceError(const ReferenceLibrary& lib, absl::string_view call, int ret) {
  return absl::FailedPreconditionError(absl::StrCat("reference ", call, " failed (", ret, "): ", lib.errormsg()));
}

}  // namespace

absl::StatusOr<const ReferenceLibrary*> ReferenceLibrary::Load() {
  static std::once_flag once;
  static absl::StatusOr<ReferenceLibrary*>* loaded = nullptr;
  std::call_once(once, [] { loaded = new absl::StatusOr<ReferenceLibrary*>(LoadOnce()); });
  if (!loaded->ok()) return loaded->status();
  return **loaded;
}

absl::StatusOr<ReferenceMap> ReferenceMap::FromFd(const ReferenceLibrary& lib, int fd, pmem2_granularity required) {
  return Create(lib, required, "pmem2_source_from_fd",
                [&](pmem2_source** src) { return lib.source_from_fd(src, fd); });
}

absl::StatusOr<ReferenceMap> ReferenceMap::Anonymous(const ReferenceLibrary& lib, size_t size) {
  return Create(lib, PMEM2_GRANULARITY_PAGE, "pmem2_source_from_anon",
                [&](pmem2_source** src) { return lib.source_from_anon(src, size); });
}

absl::StatusOr<ReferenceMap> ReferenceMap::Create(const ReferenceLibrary& lib, pmem2_granularity required,
                                                  const char* source_call,
                                                  absl::FunctionRef<int(pmem2_source**)> make_source) {
  pmem2_config* cfg = nullptr;
  if (int ret = lib.config_new(&cfg); ret != 0) return ReferenceError(lib, "pmem2_config_new", ret);
  pmem2_source* src = nullptr;
  int ret = lib.config_set_required_store_granularity(cfg, required);
  const char* call = "pmem2_config_set_required_store_granularity";
  if (ret == 0) {
    ret = make_source(&src);
    call = source_call;
  }
  pmem2_map* map = nullptr;
  if (ret == 0) {
    ret = lib.map_new(&map, cfg, src);
    call = "pmem2_map_new";
  }
  absl::Status status = ret == 0 ? absl::OkStatus() : ReferenceError(lib, call, ret);
  if (src != nullptr) lib.source_delete(&src);
  lib.config_delete(&cfg);
  if (!status.ok()) return status;
  return Finish(lib, map);
}

absl::StatusOr<ReferenceMap> ReferenceMap::Finish(const ReferenceLibrary& lib, pmem2_map* map) {
  ReferenceMap m;
  m.lib_ = &lib;
  m.map_ = map;
  m.address_ = lib.map_get_address(map);
  m.size_ = lib.map_get_size(map);
  m.granularity_ = lib.map_get_store_granularity(map);
  m.persist_ = lib.get_persist_fn(map);
  m.memcpy_ = lib.get_memcpy_fn(map);
  m.memset_ = lib.get_memset_fn(map);
  return m;
}

ReferenceMap::ReferenceMap(ReferenceMap&& other) noexcept { *this = std::move(other); }

ReferenceMap& ReferenceMap::operator=(ReferenceMap&& other) noexcept {
  if (this != &other) {
    Reset();
    lib_ = other.lib_;
    map_ = other.map_;
    address_ = other.address_;
    size_ = other.size_;
    granularity_ = other.granularity_;
    persist_ = other.persist_;
    memcpy_ = other.memcpy_;
    memset_ = other.memset_;
    other.map_ = nullptr;
    other.address_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

ReferenceMap::~ReferenceMap() { Reset(); }

void ReferenceMap::Reset() {
  if (map_ != nullptr) lib_->map_delete(&map_);
  map_ = nullptr;
  address_ = nullptr;
  size_ = 0;
}

}  // namespace bench
}  // namespace pmem2
