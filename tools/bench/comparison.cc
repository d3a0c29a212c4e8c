// Copyright 2026 The pmem2 Authors.

#include "tools/bench/comparison.h"

#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "benchmark/benchmark.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/pmem2.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/reference_library.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kLargeStart = 4096;  // from here on, each call writes a fresh part of the window
constexpr long kTmpfsMagic = 0x01021994;

absl::Status Errno(absl::string_view what, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(what, ": ", std::strerror(err)));
}

// A plain mmap owned by the Destinations.
struct Mmap {
  void* address = MAP_FAILED;
  size_t size = 0;
  Mmap() = default;
  Mmap(const Mmap&) = delete;
  Mmap& operator=(const Mmap&) = delete;
  ~Mmap() {
    if (address != MAP_FAILED) munmap(address, size);
  }
  char* data() const { return static_cast<char*>(address); }
};

// Maps `size` bytes of `fd` shared at a 2 MiB-aligned address, as both libraries align their mappings, so the
// limit's column differs from theirs only in the code that runs.
absl::Status MapFile(int fd, size_t size, Mmap* out) {
  constexpr uintptr_t kAlign = uintptr_t{2} << 20;
  void* reserve = mmap(nullptr, size + kAlign, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reserve == MAP_FAILED) return Errno("mmap (reserve) for the limit", errno);
  const uintptr_t start = reinterpret_cast<uintptr_t>(reserve);
  const uintptr_t aligned = (start + kAlign - 1) & ~(kAlign - 1);
  void* addr = mmap(reinterpret_cast<void*>(aligned), size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
  if (addr == MAP_FAILED) {
    const int err = errno;
    munmap(reserve, size + kAlign);
    return Errno("mmap for the limit", err);
  }
  if (aligned > start) munmap(reserve, aligned - start);
  const uintptr_t end = start + size + kAlign;
  const uintptr_t used_end = aligned + ((size + kPage - 1) & ~(kPage - 1));
  if (end > used_end) munmap(reinterpret_cast<void*>(used_end), end - used_end);
  out->address = addr;
  out->size = size;
  return absl::OkStatus();
}

absl::Status MapAnonymous(size_t size, Mmap* out) {
  out->address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (out->address == MAP_FAILED) return Errno("mmap anonymous", errno);
  out->size = size;
  return absl::OkStatus();
}

// Writes every page of [base, base + size) once so no timed call takes a page fault: the value is unchanged,
// but the write makes the kernel allocate the page and map it writable in this mapping.
void Prefault(char* base, size_t size) {
  for (size_t off = 0; off < size; off += kPage) {
    volatile char* p = base + off;
    *p = *p;
  }
}

absl::StatusOr<Map> MapWithPmem2(const Source& source, absl::string_view force, StoreGranularity expect, bool check) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> map = [&] {
    ScopedEnvVar env("PMEM2_FORCE_GRANULARITY", force);
    return Map::Create(config, source);
  }();
  if (!map.ok()) return absl::Status(map.status().code(), absl::StrCat("pmem2: ", map.status().message()));
  if (check && map->store_granularity() != expect) {
    return absl::InternalError(absl::StrCat("pmem2 mapped at ", StoreGranularityName(map->store_granularity()),
                                            " granularity, expected ", StoreGranularityName(expect)));
  }
  return map;
}

const char* ReferenceGranularityName(pmem2_granularity g) {
  switch (g) {
    case PMEM2_GRANULARITY_BYTE: return "byte";
    case PMEM2_GRANULARITY_CACHE_LINE: return "cache_line";
    case PMEM2_GRANULARITY_PAGE: return "page";
  }
  return "invalid";
}

Target FromPmem2(const Map& map) {
  return Target{static_cast<char*>(map.address()), map.persist_fn(), map.memcpy_fn(), map.memset_fn()};
}

Target FromReference(const ReferenceMap& map) {
  return Target{static_cast<char*>(map.address()), map.persist_fn(), map.memcpy_fn(), map.memset_fn()};
}

void* GlibcMemcpy(void* dst, const void* src, size_t len, unsigned) { return std::memcpy(dst, src, len); }
void* GlibcMemset(void* dst, int c, size_t len, unsigned) { return std::memset(dst, c, len); }

// ---- The timed loops. One per op; every side of a case runs the same one. ----

// Where the next call writes (see comparison.h): fixed below kLargeStart, else stepping through the window.
struct Cursor {
  size_t offset = 0;
  size_t stride = 0;
  size_t last = 0;  // the largest offset that still fits
  Cursor(size_t n, size_t window) {
    if (n >= kLargeStart) {
      stride = (n + kPage - 1) / kPage * kPage;
      last = window - n;
    }
  }
  size_t Next() {
    const size_t current = offset;
    offset += stride;
    if (offset > last) offset = 0;
    return current;
  }
};

void TimeMemcpy(benchmark::State& state, MemcpyFn fn, char* base, size_t window, const char* src, size_t n) {
  Cursor cursor(n, window);
  for (auto _ : state) fn(base + cursor.Next(), src, n, 0);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void TimeMemset(benchmark::State& state, MemsetFn fn, char* base, size_t window, size_t n) {
  Cursor cursor(n, window);
  for (auto _ : state) fn(base + cursor.Next(), 0x5c, n, 0);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

// glibc has its own signature; the same loop otherwise. Called through a pointer, as a library's would be.
void TimeGlibcMemcpy(benchmark::State& state, char* base, size_t window, const char* src, size_t n) {
  void* (*volatile pointer)(void*, const void*, size_t) = std::memcpy;
  void* (*const fn)(void*, const void*, size_t) = pointer;
  Cursor cursor(n, window);
  for (auto _ : state) fn(base + cursor.Next(), src, n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void TimeGlibcMemset(benchmark::State& state, char* base, size_t window, size_t n) {
  void* (*volatile pointer)(void*, int, size_t) = std::memset;
  void* (*const fn)(void*, int, size_t) = pointer;
  Cursor cursor(n, window);
  for (auto _ : state) fn(base + cursor.Next(), 0x5c, n);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void TimePersist(benchmark::State& state, PersistFn fn, char* base, size_t n) {
  uint64_t value = 0;
  for (auto _ : state) {
    ++value;
    for (size_t off = 0; off < n; off += 64) {
      *reinterpret_cast<volatile uint64_t*>(base + off) = value;
    }
    fn(base, n);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

// ---- Collecting the results. ----

enum Side { kPmem2 = 0, kReference = 1, kLimit = 2 };
constexpr const char* kSideNames[] = {"pmem2", "reference", "limit"};

struct Samples {
  // Time per call of each repetition.
  std::vector<double> real_ns;
  std::vector<double> cpu_ns;
  std::string error;
};

struct Median {
  double median = NAN;
  double spread = NAN;
};

Median Summarize(std::vector<double> v) {
  Median m;
  if (v.empty()) return m;
  std::sort(v.begin(), v.end());
  // Linear interpolation between order statistics, as for quartiles.
  auto quantile = [&v](double q) {
    const double pos = q * static_cast<double>(v.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
  };
  m.median = quantile(0.5);
  m.spread = m.median > 0 ? (quantile(0.75) - quantile(0.25)) / m.median : NAN;
  return m;
}

// Keeps every repetition (aggregates are recomputed here, so --benchmark_repetitions=1 works too) and prints
// one progress line per finished benchmark.
class Collector : public benchmark::BenchmarkReporter {
 public:
  Collector(std::map<std::string, Samples>* samples, std::ostream* progress, size_t total)
      : samples_(samples), progress_(progress), total_(total) {}

  bool ReportContext(const Context&) override { return true; }

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration) continue;
      Samples& s = (*samples_)[run.run_name.function_name];
      if (run.error_occurred) {
        s.error = run.error_message;
        continue;
      }
      s.real_ns.push_back(run.GetAdjustedRealTime());
      s.cpu_ns.push_back(run.GetAdjustedCPUTime());
      if (progress_ != nullptr && ++reports_ % kProgressEvery == 0) {
        *progress_ << "  measured " << reports_ << " repetitions (" << total_ << " benchmarks)\n";
        progress_->flush();
      }
    }
  }

 private:
  static constexpr size_t kProgressEvery = 100;
  std::map<std::string, Samples>* samples_;
  std::ostream* progress_;
  size_t total_;
  size_t reports_ = 0;
};

struct Case {
  std::string op;
  const Lane* lane;
  size_t size;
  std::string limit_kind;
};

std::string BenchmarkName(const Case& c, int side) {
  return absl::StrCat(c.op, "/", c.lane->granularity, "/", c.size, "/", kSideNames[side]);
}

// Registers the side `side` of `c`; returns false if that side has nothing to time.
bool Register(const Case& c, int side, const Destinations& d) {
  const Lane& lane = *c.lane;
  const Target& t = side == kPmem2 ? lane.pmem2 : side == kReference ? lane.reference : lane.limit;
  const std::string name = BenchmarkName(c, side);
  const size_t n = c.size;
  const size_t window = lane.window;
  char* const base = t.base;
  const char* const src = d.source();
  benchmark::internal::Benchmark* b = nullptr;
  const bool glibc = side == kLimit && lane.limit_kind == LimitKind::kGlibc;
  if (c.op == "memcpy") {
    if (glibc) {
      b = benchmark::RegisterBenchmark(name.c_str(),
                                       [=](benchmark::State& s) { TimeGlibcMemcpy(s, base, window, src, n); });
    } else {
      const MemcpyFn fn = t.memcpy;
      b = benchmark::RegisterBenchmark(name.c_str(),
                                       [=](benchmark::State& s) { TimeMemcpy(s, fn, base, window, src, n); });
    }
  } else if (c.op == "memset") {
    if (glibc) {
      b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { TimeGlibcMemset(s, base, window, n); });
    } else {
      const MemsetFn fn = t.memset;
      b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { TimeMemset(s, fn, base, window, n); });
    }
  } else {  // persist
    const PersistFn fn = side == kLimit ? lane.limit_persist : t.persist;
    if (fn == nullptr) return false;
    b = benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& s) { TimePersist(s, fn, base, n); });
  }
  if (!lane.cpu_time) b->UseRealTime();  // iteration counts follow the reported time base
  return true;
}

}  // namespace

std::vector<size_t> DefaultCopySizes() { return {64, 128, 256, 4096, 64 << 10, 2 << 20, 64 << 20}; }

std::vector<size_t> DefaultPersistSizes() { return {64, 4096, 2 << 20}; }

// Everything that must outlive the lanes' raw pointers.
struct Destinations::Holder {
  std::string temp_dir;  // removed on destruction when not empty
  std::vector<int> fds;
  std::vector<Map> pmem2_maps;
  std::vector<ReferenceMap> reference_maps;
  std::vector<std::unique_ptr<Mmap>> mmaps;

  ~Holder() {
    pmem2_maps.clear();
    reference_maps.clear();
    mmaps.clear();
    for (int fd : fds) close(fd);
    if (!temp_dir.empty()) {
      nftw(
          temp_dir.c_str(), [](const char* path, const struct stat*, int, struct FTW*) { return remove(path); }, 16,
          FTW_DEPTH | FTW_PHYS);
    }
  }
};

Destinations::Destinations() : holder_(std::make_unique<Holder>()) {}
Destinations::~Destinations() = default;

absl::Status Destinations::AllocateSource(size_t size) {
  auto m = std::make_unique<Mmap>();
  if (absl::Status s = MapAnonymous(size, m.get()); !s.ok()) return s;
  // Position-dependent bytes: a copy that lands in the wrong place cannot produce the expected image.
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(m->data() + i, &x, 8);
  }
  source_ = m->data();
  source_size_ = size;
  holder_->mmaps.push_back(std::move(m));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Destinations>> Destinations::ForComparison(size_t window) {
  absl::StatusOr<const ReferenceLibrary*> lib = ReferenceLibrary::Load();
  if (!lib.ok()) return lib.status();
  std::unique_ptr<Destinations> d(new Destinations());
  Holder& h = *d->holder_;
  std::string templ = "/dev/shm/pmem2-bench.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return Errno("mkdtemp /dev/shm/pmem2-bench.XXXXXX", errno);
  h.temp_dir = templ;
  if (absl::Status s = d->AllocateSource(std::min(window, size_t{64} << 20)); !s.ok()) return s;

  // One file for every side: each maps it separately, so all columns write the same physical pages. With a
  // file per side, where the kernel happened to place each file's pages moved whole columns by 5-10 % from
  // one run to the next. The sides never run at the same time.
  const std::string path = absl::StrCat(h.temp_dir, "/destination");
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Errno(path, errno);
  h.fds.push_back(fd);
  if (ftruncate(fd, static_cast<off_t>(window)) != 0) return Errno(absl::StrCat("ftruncate ", path), errno);
  absl::StatusOr<Source> pmem2_source = Source::FromFd(fd);
  if (!pmem2_source.ok()) return pmem2_source.status();
  auto limit_map = std::make_unique<Mmap>();
  if (absl::Status s = MapFile(fd, window, limit_map.get()); !s.ok()) return s;
  Prefault(limit_map->data(), window);

  struct Spec {
    const char* name;
    const char* force;  // PMEM2_FORCE_GRANULARITY while mapping; libpmem2 wants upper case, pmem2 takes both
    StoreGranularity pmem2_expect;
    pmem2_granularity reference_expect;
    PersistFn limit_persist;
    MemcpyFn limit_memcpy;
    MemsetFn limit_memset;
  };
  const Spec specs[] = {
      {"cache_line", "CACHE_LINE", StoreGranularity::kCacheLine, PMEM2_GRANULARITY_CACHE_LINE, LimitPersistCacheLine,
       LimitMemcpy, LimitMemset},
      {"page", "PAGE", StoreGranularity::kPage, PMEM2_GRANULARITY_PAGE, LimitPersistPage, LimitMemcpyPage,
       LimitMemsetPage},
  };
  for (const Spec& spec : specs) {
    // Both libraries read the variable while mapping. Setting it for the page lane too keeps an inherited
    // value from turning that lane into something else.
    ScopedEnvVar force("PMEM2_FORCE_GRANULARITY", spec.force);
    absl::StatusOr<Map> map = MapWithPmem2(*pmem2_source, "", spec.pmem2_expect, true);
    if (!map.ok()) return map.status();
    absl::StatusOr<ReferenceMap> ref = ReferenceMap::FromFd(**lib, fd, PMEM2_GRANULARITY_PAGE, "");
    if (!ref.ok()) return ref.status();
    if (ref->store_granularity() != spec.reference_expect) {
      return absl::InternalError(absl::StrCat("the reference mapped at ",
                                              ReferenceGranularityName(ref->store_granularity()),
                                              " granularity, expected ", spec.name));
    }
    Prefault(static_cast<char*>(map->address()), window);
    Prefault(static_cast<char*>(ref->address()), window);
    Lane lane;
    lane.granularity = spec.name;
    lane.window = window;
    lane.pmem2 = FromPmem2(*map);
    lane.reference = FromReference(*ref);
    lane.limit = Target{limit_map->data(), spec.limit_persist, spec.limit_memcpy, spec.limit_memset};
    lane.limit_kind = LimitKind::kNonTemporal;
    lane.limit_persist = spec.limit_persist;
    lane.on_tmpfs = true;
    h.pmem2_maps.push_back(std::move(*map));
    h.reference_maps.push_back(std::move(*ref));
    d->lanes_.push_back(lane);
  }
  h.mmaps.push_back(std::move(limit_map));

  // Byte granularity: anonymous memory for both libraries, glibc on anonymous memory as the limit.
  constexpr size_t kByteWindow = 2 << 20;
  absl::StatusOr<Source> anon = Source::Anonymous(kByteWindow);
  if (!anon.ok()) return anon.status();
  absl::StatusOr<Map> map = MapWithPmem2(*anon, "BYTE", StoreGranularity::kByte, true);
  if (!map.ok()) return map.status();
  absl::StatusOr<ReferenceMap> ref = [&] {
    ScopedEnvVar force("PMEM2_FORCE_GRANULARITY", "BYTE");
    return ReferenceMap::Anonymous(**lib, kByteWindow);
  }();
  if (!ref.ok()) return ref.status();
  if (ref->store_granularity() != PMEM2_GRANULARITY_BYTE) {
    return absl::InternalError("the reference mapped anonymous memory at a granularity other than byte");
  }
  auto glibc_map = std::make_unique<Mmap>();
  if (absl::Status s = MapAnonymous(kByteWindow, glibc_map.get()); !s.ok()) return s;
  Prefault(static_cast<char*>(map->address()), kByteWindow);
  Prefault(static_cast<char*>(ref->address()), kByteWindow);
  Prefault(glibc_map->data(), kByteWindow);
  Lane lane;
  lane.granularity = "byte";
  lane.window = kByteWindow;
  lane.pmem2 = FromPmem2(*map);
  lane.reference = FromReference(*ref);
  lane.limit = Target{glibc_map->data(), nullptr, GlibcMemcpy, GlibcMemset};
  lane.limit_kind = LimitKind::kGlibc;
  lane.memcpy_only = true;
  h.pmem2_maps.push_back(std::move(*map));
  h.reference_maps.push_back(std::move(*ref));
  h.mmaps.push_back(std::move(glibc_map));
  d->lanes_.push_back(lane);

  d->notes_.push_back(absl::StrCat("destination: one ", window >> 20,
                                   " MiB file on /dev/shm (tmpfs) mapped by each side; cache_line forced with "
                                   "PMEM2_FORCE_GRANULARITY; byte = anonymous memory"));
  d->notes_.push_back(
      "time: CPU time of the benchmark thread (every call keeps the CPU busy; real time would count other "
      "tasks' time slices on this shared host)");
  d->notes_.push_back(absl::StrCat("cpu: ", arch::DescribeCpu()));
  d->notes_.push_back(absl::StrCat("reference: ", (*lib)->path, "; limit: ", DescribeLimitKernels()));
  return d;
}

absl::StatusOr<std::unique_ptr<Destinations>> Destinations::ForFile(int fd, const std::string& path,
                                                                    size_t max_window) {
  absl::StatusOr<const ReferenceLibrary*> lib = ReferenceLibrary::Load();
  if (!lib.ok()) return lib.status();
  std::unique_ptr<Destinations> d(new Destinations());
  Holder& h = *d->holder_;
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return absl::Status(source.status().code(), absl::StrCat(path, ": ", source.status().message()));
  absl::StatusOr<uint64_t> size = source->Size();
  if (!size.ok()) return absl::Status(size.status().code(), absl::StrCat(path, ": ", size.status().message()));
  absl::StatusOr<Map> map = MapWithPmem2(*source, "", StoreGranularity::kPage, false);
  if (!map.ok()) return absl::Status(map.status().code(), absl::StrCat(path, ": ", map.status().message()));
  absl::StatusOr<ReferenceMap> ref = ReferenceMap::FromFd(**lib, fd, PMEM2_GRANULARITY_PAGE, "");
  if (!ref.ok()) return absl::Status(ref.status().code(), absl::StrCat(path, ": ", ref.status().message()));
  const size_t window = static_cast<size_t>(std::min<uint64_t>(*size, max_window)) / kPage * kPage;
  auto limit_map = std::make_unique<Mmap>();
  if (absl::Status s = MapFile(fd, static_cast<size_t>(*size), limit_map.get()); !s.ok()) return s;
  if (absl::Status s = d->AllocateSource(std::min<size_t>(std::max<size_t>(window, 1 << 20), size_t{64} << 20));
      !s.ok()) {
    return s;
  }
  Prefault(static_cast<char*>(map->address()), window);
  Prefault(static_cast<char*>(ref->address()), window);
  Prefault(limit_map->data(), window);

  const std::string granularity(StoreGranularityName(map->store_granularity()));
  Lane lane;
  lane.granularity = granularity;
  lane.window = window;
  lane.pmem2 = FromPmem2(*map);
  lane.reference = FromReference(*ref);
  switch (map->store_granularity()) {
    case StoreGranularity::kByte:
      lane.limit = Target{limit_map->data(), nullptr, GlibcMemcpy, GlibcMemset};
      lane.limit_kind = LimitKind::kGlibc;
      break;
    case StoreGranularity::kCacheLine:
      lane.limit = Target{limit_map->data(), LimitPersistCacheLine, LimitMemcpy, LimitMemset};
      lane.limit_persist = LimitPersistCacheLine;
      break;
    case StoreGranularity::kPage:
      lane.limit = Target{limit_map->data(), LimitPersistPage, LimitMemcpyPage, LimitMemsetPage};
      lane.limit_persist = LimitPersistPage;
      break;
  }
  struct statfs fs;
  lane.on_tmpfs = fstatfs(fd, &fs) == 0 && static_cast<long>(fs.f_type) == kTmpfsMagic;
  lane.cpu_time = lane.on_tmpfs || map->store_granularity() != StoreGranularity::kPage;
  d->notes_.push_back(absl::StrCat("destination: ", path, " (", *size, " bytes; window ", window,
                                   " bytes), mapped by pmem2 at ", granularity, " granularity",
                                   map->diagnostics().forced ? " (forced by PMEM2_FORCE_GRANULARITY)" : ""));
  if (std::string(ReferenceGranularityName(ref->store_granularity())) != granularity) {
    d->notes_.push_back(absl::StrCat("note: the reference mapped it at ",
                                     ReferenceGranularityName(ref->store_granularity()),
                                     " granularity; rows are labelled with pmem2's"));
  }
  d->notes_.push_back(lane.cpu_time ? "time: CPU time of the benchmark thread (calls never wait for a device)"
                                    : "time: real time (msync waits for the device)");
  d->notes_.push_back(absl::StrCat("cpu: ", arch::DescribeCpu()));
  d->notes_.push_back(absl::StrCat("reference: ", (*lib)->path, "; limit: ",
                                   lane.limit_kind == LimitKind::kGlibc ? "glibc" : DescribeLimitKernels()));
  h.pmem2_maps.push_back(std::move(*map));
  h.reference_maps.push_back(std::move(*ref));
  h.mmaps.push_back(std::move(limit_map));
  d->lanes_.push_back(lane);
  return d;
}

absl::Status Destinations::VerifySameBytes(size_t size) const {
  if (size % 64 != 0 || size == 0) return absl::InvalidArgumentError("VerifySameBytes: size must be a multiple of 64");
  for (const Lane& lane : lanes_) {
    const size_t region = size + 128;
    if (region > lane.window || size > source_size_) continue;
    for (const char* op : {"memcpy", "memset"}) {
      std::vector<std::string> images;
      for (int side = 0; side < 3; ++side) {
        const Target& t = side == kPmem2 ? lane.pmem2 : side == kReference ? lane.reference : lane.limit;
        std::memset(t.base, 0xa5, region);
        if (std::strcmp(op, "memcpy") == 0) {
          t.memcpy(t.base + 64, source_, size, 0);
        } else {
          t.memset(t.base + 64, 0x5c, size, 0);
        }
        images.emplace_back(t.base, region);
      }
      for (int side = 1; side < 3; ++side) {
        if (images[side] != images[kPmem2]) {
          size_t at = 0;
          while (images[side][at] == images[kPmem2][at]) ++at;
          return absl::InternalError(absl::StrCat(op, " of ", size, " bytes at ", lane.granularity,
                                                  " granularity: ", kSideNames[side], " and pmem2 differ at byte ", at,
                                                  " of the region (the copy starts at byte 64)"));
        }
      }
      std::string expected(64, static_cast<char>(0xa5));
      if (std::strcmp(op, "memcpy") == 0) {
        expected.append(source_, size);
      } else {
        expected.append(size, static_cast<char>(0x5c));
      }
      expected.append(64, static_cast<char>(0xa5));
      if (images[kPmem2] != expected) {
        return absl::InternalError(absl::StrCat(op, " of ", size, " bytes at ", lane.granularity,
                                                " granularity: the destination is not the expected image"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Row>> RunComparison(const Destinations& destinations, const RunOptions& options) {
  std::vector<Case> cases;
  for (const Lane& lane : destinations.lanes()) {
    const char* copy_limit = lane.limit_kind == LimitKind::kGlibc   ? "glibc"
                             : lane.limit.memcpy == LimitMemcpyPage ? "nt+msync"
                                                                    : "nt";
    for (const char* op : {"memcpy", "memset"}) {
      if (lane.memcpy_only && std::strcmp(op, "memcpy") != 0) continue;
      for (size_t n : lane.memcpy_only ? options.byte_sizes : options.copy_sizes) {
        if (n > lane.window || n > destinations.source_size() || n % 64 != 0) continue;
        cases.push_back(Case{op, &lane, n, copy_limit});
      }
    }
    if (lane.memcpy_only) continue;
    const char* persist_limit = lane.limit_persist == LimitPersistPage ? "msync"
                                : lane.limit_persist != nullptr        ? "flush"
                                                                       : "-";
    for (size_t n : options.persist_sizes) {
      if (n > lane.window) continue;
      cases.push_back(Case{"persist", &lane, n, persist_limit});
    }
  }

  benchmark::ClearRegisteredBenchmarks();
  size_t registered = 0;
  for (const Case& c : cases) {
    for (int side = 0; side < 3; ++side) registered += Register(c, side, destinations) ? 1 : 0;
  }

  std::vector<std::string> flags = {
      "pmem2-bench",
      absl::StrCat("--benchmark_repetitions=", options.repetitions),
      absl::StrCat("--benchmark_min_time=", options.min_time),
      "--benchmark_enable_random_interleaving=true",
  };
  flags.insert(flags.end(), options.benchmark_flags.begin(), options.benchmark_flags.end());
  std::vector<char*> argv;
  for (std::string& f : flags) argv.push_back(f.data());
  argv.push_back(nullptr);
  int argc = static_cast<int>(flags.size());
  benchmark::Initialize(&argc, argv.data());
  if (argc > 1) {
    benchmark::ClearRegisteredBenchmarks();
    return absl::InvalidArgumentError(absl::StrCat("unknown benchmark flag: ", argv[1]));
  }

  std::map<std::string, Samples> samples;
  Collector collector(&samples, options.progress, registered);
  benchmark::RunSpecifiedBenchmarks(&collector);
  benchmark::ClearRegisteredBenchmarks();

  std::vector<Row> rows;
  for (const Case& c : cases) {
    Row row;
    row.op = c.op;
    row.granularity = c.lane->granularity;
    row.size = c.size;
    row.limit_kind = c.limit_kind;
    row.on_tmpfs = c.lane->on_tmpfs;
    Median m[3];
    bool any = false;
    for (int side = 0; side < 3; ++side) {
      auto it = samples.find(BenchmarkName(c, side));
      if (it == samples.end()) continue;
      if (!it->second.error.empty()) {
        return absl::InternalError(absl::StrCat(BenchmarkName(c, side), ": ", it->second.error));
      }
      m[side] = Summarize(c.lane->cpu_time ? it->second.cpu_ns : it->second.real_ns);
      any = true;
    }
    if (!any) continue;  // filtered out
    row.pmem2_ns = m[kPmem2].median;
    row.reference_ns = m[kReference].median;
    row.limit_ns = m[kLimit].median;
    row.pmem2_spread = m[kPmem2].spread;
    row.reference_spread = m[kReference].spread;
    rows.push_back(row);
  }
  return rows;
}

absl::StatusOr<int> PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu < 0) {
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return Errno("sched_getaffinity", errno);
    for (int i = CPU_SETSIZE - 1; i >= 0; --i) {
      if (CPU_ISSET(i, &allowed)) {
        cpu = i;
        break;
      }
    }
    if (cpu < 0) return absl::FailedPreconditionError("no CPU in this thread's affinity mask");
  }
  if (cpu >= CPU_SETSIZE) return absl::InvalidArgumentError(absl::StrCat("CPU ", cpu, " is out of range"));
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) return Errno(absl::StrCat("sched_setaffinity to CPU ", cpu), errno);
  return cpu;
}

}  // namespace bench
}  // namespace pmem2
