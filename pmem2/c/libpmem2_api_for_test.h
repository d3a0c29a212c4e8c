// Copyright 2026 The pmem2 Authors.
//
// pmem2/c/libpmem2_api_for_test.h (test-only)
// -----------------------------------------------------------------------------
//
// The libpmem2 C API as a table of function pointers, filled twice: with pmem2's functions (linked statically,
// so they stay out of the dynamic symbol table) and with Debian's libpmem2.so.1 (dlopen'ed RTLD_LOCAL), so a
// test runs the same call sequence through both and compares. Used by differential_test and ras_c_test.
//
//   std::string why;
//   const pmem2::testing::Libpmem2Api* reference = pmem2::testing::ReferenceLibpmem2(&why);
//   if (reference == nullptr) GTEST_SKIP() << why;
//   for (const pmem2::testing::Libpmem2Api* api : {&pmem2::testing::OurLibpmem2(), reference}) { ... }

#ifndef PMEM2_C_LIBPMEM2_API_FOR_TEST_H_
#define PMEM2_C_LIBPMEM2_API_FOR_TEST_H_

#include <dlfcn.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "pmem2/c/libpmem2.h"

// Every function of libpmem2.h that both libraries have (pmem2's extensions are not in Debian's).
#define PMEM2_LIBPMEM2_FUNCTIONS(X)        \
  X(config_new)                            \
  X(config_delete)                         \
  X(config_set_required_store_granularity) \
  X(config_set_offset)                     \
  X(config_set_length)                     \
  X(config_set_sharing)                    \
  X(config_set_protection)                 \
  X(config_set_vm_reservation)             \
  X(source_from_fd)                        \
  X(source_from_anon)                      \
  X(source_delete)                         \
  X(source_size)                           \
  X(source_alignment)                      \
  X(source_get_fd)                         \
  X(source_pread_mcsafe)                   \
  X(source_pwrite_mcsafe)                  \
  X(source_device_id)                      \
  X(source_device_usc)                     \
  X(source_numa_node)                      \
  X(badblock_context_new)                  \
  X(badblock_next)                         \
  X(badblock_context_delete)               \
  X(badblock_clear)                        \
  X(map_new)                               \
  X(map_delete)                            \
  X(map_from_existing)                     \
  X(map_get_address)                       \
  X(map_get_size)                          \
  X(map_get_store_granularity)             \
  X(deep_flush)                            \
  X(get_persist_fn)                        \
  X(get_flush_fn)                          \
  X(get_drain_fn)                          \
  X(get_memcpy_fn)                         \
  X(get_memmove_fn)                        \
  X(get_memset_fn)                         \
  X(vm_reservation_new)                    \
  X(vm_reservation_delete)                 \
  X(vm_reservation_get_address)            \
  X(vm_reservation_get_size)               \
  X(vm_reservation_extend)                 \
  X(vm_reservation_shrink)                 \
  X(vm_reservation_map_find)               \
  X(vm_reservation_map_find_prev)          \
  X(vm_reservation_map_find_next)          \
  X(vm_reservation_map_find_first)         \
  X(vm_reservation_map_find_last)          \
  X(errormsg)

namespace pmem2 {
namespace testing {

// One implementation of the API: a table of its functions, named as in libpmem2.h without "pmem2_".
struct Libpmem2Api {
#define PMEM2_LIBPMEM2_FIELD(name) decltype(&pmem2_##name) name = nullptr;
  PMEM2_LIBPMEM2_FUNCTIONS(PMEM2_LIBPMEM2_FIELD)
#undef PMEM2_LIBPMEM2_FIELD
};

inline const Libpmem2Api& OurLibpmem2() {
  static const Libpmem2Api* const api = [] {
    Libpmem2Api* a = new Libpmem2Api;
#define PMEM2_LIBPMEM2_OURS(name) a->name = &pmem2_##name;
    PMEM2_LIBPMEM2_FUNCTIONS(PMEM2_LIBPMEM2_OURS)
#undef PMEM2_LIBPMEM2_OURS
    return a;
  }();
  return *api;
}

// Debian's libpmem2, or nullptr with `*why` set.
inline const Libpmem2Api* ReferenceLibpmem2(std::string* why) {
  static std::string error;
  static const Libpmem2Api* const api = []() -> const Libpmem2Api* {
    void* handle = dlopen("libpmem2.so.1", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      error = absl::StrCat("cannot load Debian's libpmem2.so.1 (apt-get install libpmem2): ", dlerror());
      return nullptr;
    }
    Libpmem2Api* a = new Libpmem2Api;
#define PMEM2_LIBPMEM2_REFERENCE(name)                                                 \
  a->name = reinterpret_cast<decltype(&pmem2_##name)>(dlsym(handle, "pmem2_" #name)); \
  if (a->name == nullptr) {                                                            \
    error = "libpmem2.so.1 has no pmem2_" #name;                                       \
    return nullptr;                                                                    \
  }
    PMEM2_LIBPMEM2_FUNCTIONS(PMEM2_LIBPMEM2_REFERENCE)
#undef PMEM2_LIBPMEM2_REFERENCE
    return a;
  }();
  *why = error;
  return api;
}

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_C_LIBPMEM2_API_FOR_TEST_H_
