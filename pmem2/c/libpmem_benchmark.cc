// Copyright 2026 The pmem2 Authors.
//
// pmem2/c/libpmem_benchmark.cc
// -----------------------------------------------------------------------------
//
// pmem2's libpmem.so.1 against Debian's libpmem 1.12.1, side by side in one process, each loaded into a link
// namespace of its own (dlmopen), so both are called the same way through the same kind of pointer:
//
//   * the data path: pmem_memcpy_persist and pmem_persist, 64 B ... 64 MiB, into one /dev/shm mapping both
//     write (the destination is the same memory for both; "hot": the same lines again each iteration);
//   * the whole stack: Debian's libpmemobj loaded twice, once over each libpmem (in our namespace ours is
//     loaded first, so libpmemobj binds to it), with PMEM_IS_PMEM_FORCE=1 on a /dev/shm pool so that every flush
//     and copy goes through the libpmem under test; one libpmemobj transaction = begin, add a 64-byte range of
//     one of 100k slots, write it, commit, end.
//
// Repetitions are interleaved (--benchmark_enable_random_interleaving) and the table at the end gives medians
// and the ratio Debian / pmem2 (> 1: pmem2 is faster). README command:
//
//   bazel run -c opt //pmem2/c:libpmem_benchmark -- --benchmark_repetitions=9
//       --benchmark_enable_random_interleaving=true     (one line)
//
// Results differ per CPU: say which one (/proc/cpuinfo vendor, family, model) with any figure you quote.

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"

namespace {

// The libpmem functions measured, and libpmemobj's transaction.
struct Library {
  const char* name = nullptr;
  void* (*memcpy_persist)(void*, const void*, size_t) = nullptr;
  void (*persist)(const void*, size_t) = nullptr;
  void* (*obj_create)(const char*, const char*, size_t, mode_t) = nullptr;
  struct Oid {
    uint64_t pool_uuid_lo;
    uint64_t off;
  };
  Oid (*obj_root)(void*, size_t) = nullptr;
  void* (*obj_direct)(Oid) = nullptr;
  int (*tx_begin)(void*, void*, ...) = nullptr;
  int (*tx_add_range_direct)(const void*, size_t) = nullptr;
  void (*tx_commit)() = nullptr;
  int (*tx_end)() = nullptr;
  void* pool = nullptr;
  char* slots = nullptr;
};

Library ours;
Library debian;
char* destination = nullptr;
char* source = nullptr;
constexpr size_t kMaxSize = size_t{64} << 20;
constexpr size_t kSlots = 100000;
constexpr size_t kSlotSize = 64;

template <typename T>
bool Load(void* handle, const char* symbol, T* out) {
  *out = reinterpret_cast<T>(dlsym(handle, symbol));
  if (*out == nullptr) std::fprintf(stderr, "libpmem_benchmark: %s: %s\n", symbol, dlerror());
  return *out != nullptr;
}

// Loads libpmem from `libpmem_path` (or by soname if null) and then libpmemobj, into a new namespace.
bool Open(Library* lib, const char* name, const char* libpmem_path, const std::string& pool_path) {
  lib->name = name;
  void* pmem = dlmopen(LM_ID_NEWLM, libpmem_path != nullptr ? libpmem_path : "libpmem.so.1", RTLD_NOW);
  if (pmem == nullptr) {
    std::fprintf(stderr, "libpmem_benchmark: %s\n", dlerror());
    return false;
  }
  Lmid_t namespace_id;
  if (dlinfo(pmem, RTLD_DI_LMID, &namespace_id) != 0) return false;
  void* obj = dlmopen(namespace_id, "libpmemobj.so.1", RTLD_NOW);
  if (obj == nullptr) {
    std::fprintf(stderr, "libpmem_benchmark: %s\n", dlerror());
    return false;
  }
  if (!Load(pmem, "pmem_memcpy_persist", &lib->memcpy_persist) || !Load(pmem, "pmem_persist", &lib->persist) ||
      !Load(obj, "pmemobj_create", &lib->obj_create) || !Load(obj, "pmemobj_root", &lib->obj_root) ||
      !Load(obj, "pmemobj_direct", &lib->obj_direct) || !Load(obj, "pmemobj_tx_begin", &lib->tx_begin) ||
      !Load(obj, "pmemobj_tx_add_range_direct", &lib->tx_add_range_direct) ||
      !Load(obj, "pmemobj_tx_commit", &lib->tx_commit) || !Load(obj, "pmemobj_tx_end", &lib->tx_end)) {
    return false;
  }
  unlink(pool_path.c_str());
  lib->pool = lib->obj_create(pool_path.c_str(), "bench", 64 << 20, 0600);
  if (lib->pool == nullptr) {
    std::fprintf(stderr, "libpmem_benchmark: pmemobj_create %s failed\n", pool_path.c_str());
    return false;
  }
  unlink(pool_path.c_str());  // the mapping keeps it; nothing is left behind
  lib->slots = static_cast<char*>(lib->obj_direct(lib->obj_root(lib->pool, kSlots * kSlotSize)));
  return lib->slots != nullptr;
}

void BM_MemcpyPersist(benchmark::State& state, const Library* lib) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(lib->memcpy_persist(destination, source, size));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

void BM_Persist(benchmark::State& state, const Library* lib) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    destination[0] = static_cast<char>(state.iterations());
    lib->persist(destination, size);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

void BM_ObjTransaction(benchmark::State& state, const Library* lib) {
  size_t slot = 0;
  char record[kSlotSize];
  std::memset(record, 'r', sizeof record);
  for (auto _ : state) {
    char* at = lib->slots + slot * kSlotSize;
    if (lib->tx_begin(lib->pool, nullptr, 0) != 0 || lib->tx_add_range_direct(at, kSlotSize) != 0) {
      state.SkipWithError("transaction failed");
      break;
    }
    std::memcpy(at, record, kSlotSize);
    lib->tx_commit();
    lib->tx_end();
    slot = (slot + 7919) % kSlots;  // a prime stride: scattered slots, as a tree's or a hash table's updates
  }
}

// Collects the median of each benchmark for the closing table.
class MedianTable : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        medians_[run.run_name.str()] = run.GetAdjustedRealTime();
      }
    }
  }
  void PrintTable() const {
    std::printf("\nmedian real time (ns); ratio = Debian's libpmem / pmem2 (> 1: pmem2 is faster)\n");
    std::printf("%-34s %14s %14s %8s\n", "benchmark", "pmem2", "debian", "ratio");
    for (const auto& [name, time] : medians_) {
      if (name.find("/pmem2") == std::string::npos) continue;
      std::string other = name;
      other.replace(other.find("/pmem2"), 6, "/debian");
      auto it = medians_.find(other);
      if (it == medians_.end()) continue;
      std::string label = name;
      label.erase(label.find("/pmem2"), 6);
      std::printf("%-34s %14.1f %14.1f %7.2fx\n", label.c_str(), time, it->second, it->second / time);
    }
  }

 private:
  std::map<std::string, double> medians_;
};

}  // namespace

int main(int argc, char** argv) {
  setenv("PMEM_IS_PMEM_FORCE", "1", 1);
  const char* ours_path = std::getenv("PMEM2_LIBPMEM");
  std::string ours_default = "pmem2/c/libpmem.so.1";  // under `bazel run`, from the runfiles folder
  char resolved[4096];
  if (ours_path == nullptr) ours_path = realpath(ours_default.c_str(), resolved);
  if (ours_path == nullptr) {
    std::fprintf(stderr, "libpmem_benchmark: pmem2's libpmem.so.1 not found: run it with bazel run, or set "
                         "PMEM2_LIBPMEM to its path\n");
    return 1;
  }
  const std::string pool_base = absl::StrFormat("/dev/shm/pmem2_libpmem_benchmark.%d", getpid());
  if (!Open(&ours, "pmem2", ours_path, pool_base + ".ours") ||
      !Open(&debian, "debian", nullptr, pool_base + ".debian")) {
    return 1;
  }
  const std::string file = pool_base + ".data";
  const int fd = open(file.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0 || ftruncate(fd, kMaxSize) != 0) return 1;
  destination = static_cast<char*>(mmap(nullptr, kMaxSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
  unlink(file.c_str());
  close(fd);
  source = static_cast<char*>(std::malloc(kMaxSize));
  if (destination == MAP_FAILED || source == nullptr) return 1;
  std::memset(destination, 1, kMaxSize);
  std::memset(source, 2, kMaxSize);

  for (const Library* lib : {&ours, &debian}) {
    benchmark::RegisterBenchmark(absl::StrFormat("memcpy_persist/%s", lib->name).c_str(), BM_MemcpyPersist, lib)
        ->RangeMultiplier(8)
        ->Range(64, int64_t{64} << 20);
    benchmark::RegisterBenchmark(absl::StrFormat("persist/%s", lib->name).c_str(), BM_Persist, lib)
        ->RangeMultiplier(8)
        ->Range(64, int64_t{64} << 20);
    benchmark::RegisterBenchmark(absl::StrFormat("libpmemobj_tx_64B/%s", lib->name).c_str(), BM_ObjTransaction,
                                 lib);
  }
  benchmark::Initialize(&argc, argv);
  MedianTable reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintTable();
  // Leaves without closing the pools or running the destructors of the two extra link namespaces: in a
  // secondary namespace, pmemobj_close over pmem2's libpmem crashes inside libpmemobj, and so do libpmemobj's
  // destructors at exit over either libpmem. In an ordinary process both close cleanly (pmem2/c/pmdk_clients
  // closes every pool over pmem2's libpmem). The pool files are unlinked already; nothing is left behind.
  std::fflush(stdout);
  _exit(0);
}
