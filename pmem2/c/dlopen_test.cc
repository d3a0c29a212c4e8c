// Copyright 2026 The pmem2 Authors.
//
// libpmem2.so.1 loaded the way a plugin host would: with dlopen(), after other threads exist. The engine keeps
// per-thread destination histories in initial-exec TLS (pmem2/arch/destination_history.h), which marks the
// shared object DF_STATIC_TLS: glibc must then find room in its static TLS reserve at dlopen() time and give
// every thread, old and new, its own copy. This test shows that the object loads, and that copies through
// memcpy_fn / memset_fn from a thread started before the dlopen() and from threads started after it are right,
// at cache-line granularity (the history on, PMEM2_NEAR_TEMPORAL_BELOW) and at page granularity; and that a thread
// that persisted at page granularity (and so holds a sync slot, pmem2/map/map_registry.h) can exit after the
// library was dlclose()d without calling into it. And that pmem2_errormsg(), also in that TLS, is per thread there, for
// threads started after the dlopen() and for the one started before it.
//
// Usage: dlopen_test PATH_TO_LIBPMEM2_SO (Bazel passes it).

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "libpmem2.h"

namespace {

int failures = 0;

// Unloading is checked without AddressSanitizer and ThreadSanitizer: once the library is gone, LeakSanitizer
// reports the objects it keeps for the life of the process, and ThreadSanitizer does not support unloading
// instrumented code.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kUnload = false;
#else
constexpr bool kUnload = true;
#endif

void Check(bool ok, const std::string& what) {
  printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
  if (!ok) ++failures;
}

struct Api {
  decltype(&pmem2_config_new) config_new;
  decltype(&pmem2_config_set_required_store_granularity) set_granularity;
  decltype(&pmem2_config_set_sharing) set_sharing;
  decltype(&pmem2_config_delete) config_delete;
  decltype(&pmem2_source_from_fd) source_from_fd;
  decltype(&pmem2_source_delete) source_delete;
  decltype(&pmem2_map_new) map_new;
  decltype(&pmem2_map_delete) map_delete;
  decltype(&pmem2_map_get_address) address;
  decltype(&pmem2_map_get_store_granularity) granularity;
  decltype(&pmem2_get_memcpy_fn) memcpy_fn;
  decltype(&pmem2_get_memset_fn) memset_fn;
  decltype(&pmem2_errormsg) errormsg;
};

template <class F>
bool Load(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(dlsym(lib, name));
  return *out != nullptr;
}

// Copies and fills of every size up to 600 B, walking forwards (near destinations), jumping (far ones) and
// rewriting, each checked byte for byte. Returns the number of wrong results.
int Exercise(char* base, size_t size, pmem2_memcpy_fn copy, pmem2_memset_fn fill, unsigned seed) {
  std::vector<char> src(600);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<char>(i * 7 + seed);
  int wrong = 0;
  size_t cursor = 0;
  unsigned x = seed;
  for (size_t len = 1; len <= 600; ++len) {
    x = x * 1103515245u + 12345u;
    const size_t jump = (x >> 8) % (size - 2048);
    for (size_t at : {cursor, cursor, jump}) {  // ahead, rewrite, far
      copy(base + at, src.data(), len, 0);
      if (memcmp(base + at, src.data(), len) != 0) ++wrong;
      fill(base + at, static_cast<int>(len), len, 0);
      if (base[at] != static_cast<char>(len) || base[at + len - 1] != static_cast<char>(len)) ++wrong;
    }
    cursor = (cursor + len) % (size - 2048);
  }
  return wrong;
}

// libpmem2.h, "Thread safety": pmem2_errormsg() is per thread ("" before a thread's first failure, never cleared by
// a successful call), here with the message in the dlopen()ed object's TLS. The main thread fails naming 5; thread A
// fails naming 7; only then does thread B read its message ("") and fail naming 9; only then does A read its own
// again. Leaves the main thread's message naming 5 (for the check of the thread started before dlopen()).
void CheckMessagesArePerThread(const Api& api) {
  pmem2_config* cfg = nullptr;
  const bool main_failed = api.config_new(&cfg) == 0 &&
                           api.set_sharing(cfg, static_cast<pmem2_sharing_type>(5)) == PMEM2_E_INVALID_SHARING_VALUE;
  const std::string main_message = api.errormsg();
  if (cfg != nullptr) api.config_delete(&cfg);
  Check(main_failed && main_message.find('5') != std::string::npos,
        "the main thread's failure: \"" + main_message + "\"");

  struct Seen {
    bool ok = false;          // its calls returned what they should
    std::string at_start;     // before its own failure (for B: after A's)
    std::string own;          // right after its own failure
    std::string after_other;  // once both have failed
    std::string after_success;
  };
  std::mutex mu;
  std::condition_variable cv;
  int step = 0;  // 1: A has failed; 2: B has failed
  const auto advance_to = [&](int s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      step = s;
    }
    cv.notify_all();
  };
  const auto await = [&](int s) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return step >= s; });
  };
  const auto run = [&api](Seen* seen, int value, const std::function<void()>& between) {
    pmem2_config* c = nullptr;
    seen->at_start = api.errormsg();
    seen->ok = api.config_new(&c) == 0 &&
               api.set_sharing(c, static_cast<pmem2_sharing_type>(value)) == PMEM2_E_INVALID_SHARING_VALUE;
    seen->own = api.errormsg();
    between();
    seen->after_other = api.errormsg();
    seen->ok = api.set_sharing(c, PMEM2_PRIVATE) == 0 && seen->ok;
    seen->after_success = api.errormsg();
    if (c != nullptr) api.config_delete(&c);
  };
  Seen a, b;
  std::thread thread_a([&] {
    run(&a, 7, [&] {
      advance_to(1);
      await(2);
    });
  });
  std::thread thread_b([&] {
    await(1);
    run(&b, 9, [&] { advance_to(2); });
  });
  thread_a.join();
  thread_b.join();
  const auto show = [](const Seen& seen) {
    return "\"" + seen.at_start + "\" at start, \"" + seen.own + "\" after failing, \"" + seen.after_other +
           "\" after both failed, \"" + seen.after_success + "\" after a success";
  };
  Check(a.ok && a.at_start.empty() && a.own.find('7') != std::string::npos && a.own.find('9') == std::string::npos &&
            a.after_other == a.own && a.after_success == a.own,
        "thread A's message is its own: " + show(a));
  Check(b.ok && b.at_start.empty() && b.own.find('9') != std::string::npos && b.own.find('7') == std::string::npos &&
            b.after_other == b.own && b.after_success == b.own,
        "thread B's message is its own: " + show(b));
  Check(api.errormsg() == main_message,
        "the main thread's message is still its own: \"" + std::string(api.errormsg()) + "\"");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s PATH_TO_LIBPMEM2_SO\n", argv[0]);
    return 2;
  }
  setenv("PMEM2_NEAR_TEMPORAL_BELOW", "512", 1);  // the cache-line history on, whatever this CPU's row says

  // A thread that exists before the library does, and copies through it once it is loaded.
  std::mutex mu;
  std::condition_variable cv;
  std::function<int()> early_work;
  int early_wrong = -1;
  std::string early_message = "(not read)";  // its pmem2_errormsg(), read after the main thread's failure
  std::thread lingering;  // persists at page granularity, then exits only after dlclose()
  bool may_exit = false;
  std::thread early([&] {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return static_cast<bool>(early_work); });
    early_wrong = early_work();
  });

  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  Check(lib != nullptr, std::string("dlopen after a thread exists: ") + (lib != nullptr ? "loaded" : dlerror()));
  if (lib == nullptr) {
    {
      std::lock_guard<std::mutex> lock(mu);
      early_work = [] { return 0; };
    }
    cv.notify_one();
    early.join();
    return 1;
  }
  Api api{};
  const bool loaded =
      Load(lib, "pmem2_config_new", &api.config_new) &&
      Load(lib, "pmem2_config_set_required_store_granularity", &api.set_granularity) &&
      Load(lib, "pmem2_config_set_sharing", &api.set_sharing) && Load(lib, "pmem2_config_delete", &api.config_delete) &&
      Load(lib, "pmem2_source_from_fd", &api.source_from_fd) && Load(lib, "pmem2_source_delete", &api.source_delete) &&
      Load(lib, "pmem2_map_new", &api.map_new) && Load(lib, "pmem2_map_delete", &api.map_delete) &&
      Load(lib, "pmem2_map_get_address", &api.address) &&
      Load(lib, "pmem2_map_get_store_granularity", &api.granularity) &&
      Load(lib, "pmem2_get_memcpy_fn", &api.memcpy_fn) && Load(lib, "pmem2_get_memset_fn", &api.memset_fn) &&
      Load(lib, "pmem2_errormsg", &api.errormsg);
  Check(loaded, "every function used here resolves");
  if (loaded) CheckMessagesArePerThread(api);

  for (const char* granularity : {"cache_line", "page"}) {
    setenv("PMEM2_FORCE_GRANULARITY", granularity, 1);
    char path[] = "/tmp/pmem2_dlopen_test.XXXXXX";
    const int fd = mkstemp(path);
    const size_t size = size_t{4} << 20;
    Check(fd >= 0 && ftruncate(fd, static_cast<off_t>(size)) == 0, std::string(granularity) + ": a 4 MiB file");
    unlink(path);
    pmem2_config* cfg = nullptr;
    pmem2_source* src = nullptr;
    pmem2_map* map = nullptr;
    const bool mapped = loaded && api.config_new(&cfg) == 0 && api.set_granularity(cfg, PMEM2_GRANULARITY_PAGE) == 0 &&
                        api.source_from_fd(&src, fd) == 0 && api.map_new(&map, cfg, src) == 0;
    Check(mapped, std::string(granularity) + ": mapped through the dlopen()ed library");
    if (mapped) {
      const pmem2_granularity want =
          std::string(granularity) == "page" ? PMEM2_GRANULARITY_PAGE : PMEM2_GRANULARITY_CACHE_LINE;
      Check(api.granularity(map) == want, std::string(granularity) + ": the forced granularity");
      char* base = static_cast<char*>(api.address(map));
      const pmem2_memcpy_fn copy = api.memcpy_fn(map);
      const pmem2_memset_fn fill = api.memset_fn(map);
      const size_t quarter = size / 4;
      int wrong[3] = {-1, -1, -1};
      std::thread later0([&] { wrong[1] = Exercise(base + quarter, quarter, copy, fill, 2); });
      std::thread later1([&] { wrong[2] = Exercise(base + 2 * quarter, quarter, copy, fill, 3); });
      if (std::string(granularity) == "page") {
        // (An init-capture: clang takes `quarter`, a constant, as needing no capture, and GCC as needing one.)
        lingering = std::thread([&mu, &cv, &may_exit, copy, at = base + 3 * quarter - 64] {
          copy(at, "lingering", 9, 0);  // a page persist: this thread now holds a sync slot
          std::unique_lock<std::mutex> lock(mu);
          cv.wait(lock, [&] { return may_exit; });
        });
      }
      wrong[0] = Exercise(base + 3 * quarter, quarter, copy, fill, 4);
      later0.join();
      later1.join();
      if (std::string(granularity) == "cache_line") {
        {
          std::lock_guard<std::mutex> lock(mu);
          early_work = [&] {
            early_message = api.errormsg();
            return Exercise(base, quarter, copy, fill, 1);
          };
        }
        cv.notify_one();
        early.join();
        Check(early_wrong == 0, "cache_line: the thread started before dlopen() copies right (" +
                                    std::to_string(early_wrong) + " wrong)");
        Check(early_message.empty(),
              "the thread started before dlopen() has a message of its own, \"\" (\"" + early_message + "\")");
      }
      Check(wrong[0] == 0 && wrong[1] == 0 && wrong[2] == 0,
            std::string(granularity) + ": the main thread and two threads started after dlopen() copy right");
      // The engine's thread-locals and the C API's are apart: a page copy (which records its destination and
      // takes a sync slot) leaves the thread's last error message as it was. With gold's wrong relocations
      // (pmem2/arch/arch.cc) the page copies' history lived in the message's first bytes.
      const bool refused = api.set_granularity(cfg, static_cast<pmem2_granularity>(3)) != 0;
      const std::string message = api.errormsg();
      for (size_t len : {size_t{64}, size_t{5000}, size_t{200000}}) {
        copy(base + 3 * quarter, base, len, 0);
        fill(base + 3 * quarter + 64, 7, len, 0);
      }
      Check(refused && !message.empty() && message == api.errormsg(),
            std::string(granularity) + ": copies leave the thread's error message alone (\"" + message + "\" -> \"" +
                api.errormsg() + "\")");
      api.map_delete(&map);
    }
    if (src != nullptr) api.source_delete(&src);
    if (cfg != nullptr) api.config_delete(&cfg);
    if (fd >= 0) close(fd);
  }
  if (early.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!early_work) early_work = [] { return 0; };
    }
    cv.notify_one();
    early.join();
  }
  if (lingering.joinable()) {
    if (kUnload) Check(dlclose(lib) == 0, "dlclose");
    {
      std::lock_guard<std::mutex> lock(mu);
      may_exit = true;
    }
    cv.notify_all();
    lingering.join();  // a crash here: the thread's exit called into the unloaded library
    if (kUnload) {
      Check(true, "a thread that persisted at page granularity exits after dlclose()");
    } else {
      printf("SKIP dlclose under AddressSanitizer / ThreadSanitizer\n");
    }
  }
  printf("dlopen_test: %d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
