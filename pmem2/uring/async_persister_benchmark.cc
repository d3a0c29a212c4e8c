// Copyright 2026 The pmem2 Authors.
//
// pmem2/uring/async_persister_benchmark.cc
// -----------------------------------------------------------------------------
//
// What pmem2::AsyncPersister (pmem2/uring/async_persister.h) gains over persisting record by record, and how far
// it stays from what the device can do, on a disk-backed file system (tmpfs is refused: there nothing reaches a
// device). One process, one file, every variant a benchmark of its own, so that repetitions interleave:
//
//   (a) a_log:       64 consecutive 4 KiB records appended to a log (each iteration the next 64 pages of the
//                    file, so every record dirties a page of its own): store the bytes, then persist;
//   (b) b_scattered: 64 4 KiB updates at random pages of the 256 MiB mapped area (fixed seed, a new set of
//                    distinct pages each iteration);
//   (c) c_single:    one 4 KiB record, the latency of making it durable.
//
// Variants: `msync_loop` (Map::Persist per record: page granularity, one msync each), `AsyncPersister` (Persist
// per record without a Completion, then Barrier + Wait; default AsyncOptions, so io_uring where available),
// `AsyncPersister_no_io_uring` (the same with AsyncOptions::allow_io_uring = false: the synchronous backend),
// `AsyncPersister_copy` (the records stored into a buffer, then Copy() per record, then Barrier + Wait),
// `one_fdatasync` (all the stores, then one fdatasync of the file) and `O_DIRECT_floor`, what the device needs
// for the same pages: O_DIRECT writes from an aligned buffer through a second descriptor of the same file, all
// 64 submitted as one io_uring batch, then one fdatasync (for (c): one pwrite, then fdatasync). For (c) the
// engine is also measured with a Completion per record (Persist(..., &c) + Wait(c)) instead of a barrier.
// Every variant but the floor stores through the mapping, and after a sync each first store to a page takes a
// write-protect fault (a few us per page): part of the gap to the floor, whose stores go to a plain buffer.
//
// Every iteration is ms-scale, timed in real time and reported in ms. The CPU column is the whole process's CPU
// time, so that it includes the io_uring workers (iou-wrk threads) that run the engine's data syncs. Counters:
// records_per_s (records per real second) and, per iteration, what the device received: disk_KiB written,
// disk_writes (requests), disk_flushes (cache flushes). Those three are the whole device's counters, so other
// processes' I/O adds to them.
// The table at the end gives the medians' ratios against the targets (msync loop / engine >= 8x for (a), engine
// within 10% of the O_DIRECT floor for (b), engine within 10% of msync for (c)). README command:
//
//   bazel run -c opt //pmem2/uring:async_persister_benchmark -- --dir=/var/tmp --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true     (one line)
//
// Flags of its own (taken out of argv before Google Benchmark sees it):
//   --dir=DIR        where the file goes; default $TEST_TMPDIR if set, else /var/tmp (`bazel run` does not set
//                    TEST_TMPDIR). The file is an O_TMPFILE (or, where the file system lacks it, a named file
//                    removed at once): nothing is left behind. It needs 512 MiB free in DIR.
//   --folio_kib=N    the size of the writes that fill the mapped area at setup, hence of its page-cache folios
//                    (4 to 2048, default 4). With large folios every sync writes back whole folios: see SetUp().
//
// Results depend on the CPU, the kernel, the file system, the page cache's folios and above all the device (its
// write cache, the cost of a cache flush): the context lines at the top name them; quote them with any figure.

#include <fcntl.h>
#include <liburing.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "pmem2/pmem2.h"
#include "pmem2/uring/async_persister.h"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kRecords = 64;                  // records per iteration in (a) and (b)
constexpr size_t kAreaSize = size_t{256} << 20;  // the mapped area; the O_DIRECT area is as large
constexpr size_t kAreaPages = kAreaSize / kPage;
constexpr size_t kZeroChunk = size_t{2} << 20;   // the largest --folio_kib
constexpr uint64_t kSeed = 20261123;

// The file is 512 MiB: [0, 256 MiB) is mapped and used by every page-cache variant (msync, engine, fdatasync);
// [256 MiB, 512 MiB) is written only through the O_DIRECT descriptor. The two never share a page because a
// direct write drops the cached pages it covers: the next store through the mapping to such a page would read
// it back from the disk first, a cost that would land on whichever variant came next.
struct Bench {
  std::string dir;
  size_t folio_kib = 4;  // --folio_kib: the size of the writes that filled the mapped area
  int fd = -1;           // buffered descriptor: the Source's; `one_fdatasync` syncs it
  int direct_fd = -1;    // O_DIRECT descriptor of the same file (reopened through /proc/self/fd)
  std::optional<pmem2::Source> source;
  std::optional<pmem2::Map> map;
  std::optional<pmem2::AsyncPersister> engine;           // default AsyncOptions
  std::optional<pmem2::AsyncPersister> engine_no_uring;  // allow_io_uring = false
  char* base = nullptr;           // map->address()
  char* direct_buffer = nullptr;  // kRecords page-aligned pages for the O_DIRECT writes
  char* staging = nullptr;        // kRecords pages: the sources of the engine's Copy()
  io_uring ring{};                // the O_DIRECT floor's own ring
  std::string device_stat;        // /sys/dev/block/MAJ:MIN/stat of the file system's device
  size_t next_log_page = 0;       // the log's next fresh page in the mapped area
  size_t next_direct_page = 0;    // the same for the O_DIRECT area
  unsigned char fill = 0;         // the byte the next record is filled with
};

Bench* bench = nullptr;

enum class Pattern { kLog, kScattered };

// The pages (indices in an area of kAreaPages) of one iteration's `count` records.
void PickPages(Pattern pattern, size_t count, size_t* next_log_page, std::mt19937_64* rng, size_t* pages) {
  if (pattern == Pattern::kLog) {
    if (*next_log_page + count > kAreaPages) *next_log_page = 0;
    for (size_t i = 0; i < count; ++i) pages[i] = *next_log_page + i;
    *next_log_page += count;
    return;
  }
  std::uniform_int_distribution<size_t> page(0, kAreaPages - 1);
  for (size_t i = 0; i < count; ++i) {
    bool fresh;
    do {
      pages[i] = page(*rng);
      fresh = std::find(pages, pages + i, pages[i]) == pages + i;
    } while (!fresh);
  }
}

// The device's counters: writes, sectors written, flushes (fields 5, 7 and 16 of the block stat file).
struct DeviceStat {
  double writes = 0;
  double sectors_written = 0;
  double flushes = 0;
};

DeviceStat ReadDeviceStat() {
  DeviceStat stat;
  std::ifstream in(bench->device_stat);
  std::vector<double> fields;
  for (double field; in >> field;) fields.push_back(field);
  if (fields.size() >= 16) {
    stat.writes = fields[4];
    stat.sectors_written = fields[6];
    stat.flushes = fields[15];
  }
  return stat;
}

// The counters, measured around the loop: records per second of real time (Google Benchmark's rate counters
// divide by CPU time, which for I/O-bound work is not what anyone wants), and per iteration what the device
// received: KiB written, write requests, cache flushes. The device's counters are the whole device's: other
// processes' I/O shows up in them too.
class Counters {
 public:
  explicit Counters(size_t records_per_iteration)
      : records_(records_per_iteration), device_(ReadDeviceStat()), start_(std::chrono::steady_clock::now()) {}
  void Report(benchmark::State& state) const {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double iterations = static_cast<double>(state.iterations());
    if (seconds <= 0 || iterations <= 0) return;
    state.counters["records_per_s"] = static_cast<double>(records_) * iterations / seconds;
    const DeviceStat now = ReadDeviceStat();
    state.counters["disk_KiB"] = (now.sectors_written - device_.sectors_written) / 2 / iterations;
    state.counters["disk_writes"] = (now.writes - device_.writes) / iterations;
    state.counters["disk_flushes"] = (now.flushes - device_.flushes) / iterations;
  }

 private:
  size_t records_;
  DeviceStat device_;
  std::chrono::steady_clock::time_point start_;
};

bool Failed(benchmark::State& state, const char* what, const absl::Status& status) {
  if (status.ok()) return false;
  state.SkipWithError(absl::StrFormat("%s: %s", what, status.ToString()).c_str());
  return true;
}

bool FailedErrno(benchmark::State& state, const char* what, int err) {
  state.SkipWithError(absl::StrFormat("%s: %s", what, std::strerror(err)).c_str());
  return true;
}

// Store, then Map::Persist (one msync), record by record.
void BM_MsyncLoop(benchmark::State& state, Pattern pattern, size_t count) {
  std::mt19937_64 rng(kSeed);
  size_t pages[kRecords];
  Counters counters(count);
  for (auto _ : state) {
    PickPages(pattern, count, &bench->next_log_page, &rng, pages);
    const unsigned char fill = ++bench->fill;
    bool failed = false;
    for (size_t i = 0; i < count && !failed; ++i) {
      char* record = bench->base + pages[i] * kPage;
      std::memset(record, fill, kPage);
      failed = Failed(state, "Map::Persist", bench->map->Persist(record, kPage));
    }
    if (failed) break;
  }
  counters.Report(state);
}

// Record by record, without a Completion, then Barrier + Wait: `kCopy` false stores through the mapping, then
// AsyncPersister::Persist; true stores into a staging buffer, then AsyncPersister::Copy to the record's place (a
// write(2) into the page cache dirties only the blocks written; a store through the mapping dirties its whole
// folio).
template <bool kCopy>
void BM_EngineRecords(benchmark::State& state, Pattern pattern, size_t count, pmem2::AsyncPersister* engine) {
  std::mt19937_64 rng(kSeed);
  size_t pages[kRecords];
  Counters counters(count);
  for (auto _ : state) {
    PickPages(pattern, count, &bench->next_log_page, &rng, pages);
    const unsigned char fill = ++bench->fill;
    bool failed = false;
    for (size_t i = 0; i < count && !failed; ++i) {
      char* record = bench->base + pages[i] * kPage;
      if (kCopy) {
        char* source = bench->staging + i * kPage;
        std::memset(source, fill, kPage);
        failed = Failed(state, "AsyncPersister::Copy", engine->Copy(record, source, kPage));
      } else {
        std::memset(record, fill, kPage);
        failed = Failed(state, "AsyncPersister::Persist", engine->Persist(record, kPage));
      }
    }
    if (failed) break;
    pmem2::Completion durable;
    if (Failed(state, "AsyncPersister::Barrier", engine->Barrier(&durable)) ||
        Failed(state, "AsyncPersister::Wait", engine->Wait(durable))) {
      break;
    }
  }
  counters.Report(state);
}
constexpr auto BM_Engine = BM_EngineRecords<false>;
constexpr auto BM_EngineCopy = BM_EngineRecords<true>;

// (c) only: one record, Persist with a Completion, then Wait for it.
void BM_EngineCompletion(benchmark::State& state, pmem2::AsyncPersister* engine) {
  Counters counters(1);
  for (auto _ : state) {
    size_t page;
    PickPages(Pattern::kLog, 1, &bench->next_log_page, nullptr, &page);
    char* record = bench->base + page * kPage;
    std::memset(record, ++bench->fill, kPage);
    pmem2::Completion durable;
    if (Failed(state, "AsyncPersister::Persist", engine->Persist(record, kPage, &durable)) ||
        Failed(state, "AsyncPersister::Wait", engine->Wait(durable))) {
      break;
    }
  }
  counters.Report(state);
}

// Every store, then one fdatasync of the whole file.
void BM_OneFdatasync(benchmark::State& state, Pattern pattern, size_t count) {
  std::mt19937_64 rng(kSeed);
  size_t pages[kRecords];
  Counters counters(count);
  for (auto _ : state) {
    PickPages(pattern, count, &bench->next_log_page, &rng, pages);
    const unsigned char fill = ++bench->fill;
    for (size_t i = 0; i < count; ++i) std::memset(bench->base + pages[i] * kPage, fill, kPage);
    if (fdatasync(bench->fd) != 0 && FailedErrno(state, "fdatasync", errno)) break;
  }
  counters.Report(state);
}

// The device's floor: the same stores into an aligned buffer, O_DIRECT writes of the same number of pages in
// the same pattern (in the O_DIRECT area), all submitted in one io_uring batch (one pwrite for a single
// record), then one fdatasync for the device's cache flush.
void BM_DirectFloor(benchmark::State& state, Pattern pattern, size_t count) {
  std::mt19937_64 rng(kSeed);
  size_t pages[kRecords];
  Counters counters(count);
  const off_t area = static_cast<off_t>(kAreaSize);
  for (auto _ : state) {
    PickPages(pattern, count, &bench->next_direct_page, &rng, pages);
    const unsigned char fill = ++bench->fill;
    for (size_t i = 0; i < count; ++i) std::memset(bench->direct_buffer + i * kPage, fill, kPage);
    if (count == 1) {
      const ssize_t written =
          pwrite(bench->direct_fd, bench->direct_buffer, kPage, area + static_cast<off_t>(pages[0] * kPage));
      if (written != static_cast<ssize_t>(kPage)) {
        FailedErrno(state, "O_DIRECT pwrite", written < 0 ? errno : EIO);
        break;
      }
    } else {
      for (size_t i = 0; i < count; ++i) {
        io_uring_sqe* sqe = io_uring_get_sqe(&bench->ring);
        io_uring_prep_write(sqe, bench->direct_fd, bench->direct_buffer + i * kPage, kPage,
                            static_cast<uint64_t>(area) + pages[i] * kPage);
      }
      const int submitted = io_uring_submit_and_wait(&bench->ring, static_cast<unsigned>(count));
      if (submitted != static_cast<int>(count)) {
        FailedErrno(state, "io_uring_submit_and_wait", submitted < 0 ? -submitted : EIO);
        break;
      }
      int error = 0;
      for (size_t i = 0; i < count; ++i) {
        io_uring_cqe* cqe = nullptr;
        const int waited = io_uring_wait_cqe(&bench->ring, &cqe);
        if (waited < 0) {
          error = -waited;
          break;
        }
        if (cqe->res != static_cast<int>(kPage) && error == 0) error = cqe->res < 0 ? -cqe->res : EIO;
        io_uring_cqe_seen(&bench->ring, cqe);
      }
      if (error != 0 && FailedErrno(state, "O_DIRECT write", error)) break;
    }
    if (fdatasync(bench->direct_fd) != 0 && FailedErrno(state, "fdatasync", errno)) break;
  }
  counters.Report(state);
}

// ---------------------------------------------------------------------------------------------------------
// Setup, once per process, outside every timing.

int Fail(const std::string& message) {
  std::fprintf(stderr, "async_persister_benchmark: %s\n", message.c_str());
  return 1;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// "GenuineIntel family 6 model 167 (Intel(R) Xeon(R) Processor)", from the first processor of /proc/cpuinfo.
std::string CpuDescription() {
  std::ifstream in("/proc/cpuinfo");
  std::map<std::string, std::string> fields;
  for (std::string line; std::getline(in, line) && !line.empty();) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    key.erase(key.find_last_not_of(" \t") + 1);
    const size_t value = line.find_first_not_of(" \t", colon + 1);
    fields[key] = value == std::string::npos ? "" : line.substr(value);
  }
  return absl::StrFormat("%s family %s model %s (%s)", fields["vendor_id"], fields["cpu family"], fields["model"],
                         fields["model name"]);
}

// "ext4 on /dev/vda (254:0, mounted at /); device write cache: write back", from /proc/self/mountinfo (the
// longest mount point above `dir` on the same device) and sysfs.
std::string FileSystemDescription(const std::string& dir) {
  struct stat st;
  char resolved[PATH_MAX];
  if (stat(dir.c_str(), &st) != 0 || realpath(dir.c_str(), resolved) == nullptr) return "unknown";
  const std::string path = resolved;
  const std::string dev = absl::StrFormat("%u:%u", major(st.st_dev), minor(st.st_dev));
  std::ifstream in("/proc/self/mountinfo");
  std::string best_point, best_type, best_source;
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string id, parent, majmin, root, point;
    fields >> id >> parent >> majmin >> root >> point;
    if (majmin != dev) continue;
    const bool above = point == "/" || path == point || path.rfind(point + "/", 0) == 0;
    if (!above || point.size() < best_point.size()) continue;
    std::string field;
    while (fields >> field && field != "-") {
    }
    best_point = point;
    fields >> best_type >> best_source;
  }
  std::string cache = ReadFirstLine(absl::StrFormat("/sys/dev/block/%s/queue/write_cache", dev));
  if (cache.empty()) cache = ReadFirstLine(absl::StrFormat("/sys/dev/block/%s/../queue/write_cache", dev));
  if (cache.empty()) cache = "unknown";
  if (best_type.empty()) return absl::StrFormat("device %s; device write cache: %s", dev, cache);
  return absl::StrFormat("%s on %s (%s, mounted at %s); device write cache: %s", best_type, best_source, dev,
                         best_point, cache);
}

// Takes --NAME=VALUE (or --NAME VALUE) out of argv, the last one winning; returns false if it has no value.
bool TakeFlag(const std::string& name, int* argc, char** argv, std::string* value) {
  const std::string flag = "--" + name;
  int kept = 1;
  for (int i = 1; i < *argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind(flag + "=", 0) == 0) {
      *value = arg.substr(flag.size() + 1);
      if (value->empty()) return false;
    } else if (arg == flag) {
      if (i + 1 == *argc) return false;
      *value = argv[++i];
    } else {
      argv[kept++] = argv[i];
    }
  }
  *argc = kept;
  argv[kept] = nullptr;
  return true;
}

// Writes zeros over [offset, offset + size) of `fd` from `zeros` (at least `chunk` bytes, page-aligned),
// `chunk` bytes per pwrite.
bool WriteZeros(int fd, const char* zeros, size_t chunk, off_t offset, size_t size) {
  for (size_t done = 0; done < size;) {
    const ssize_t n = pwrite(fd, zeros, std::min(chunk, size - done), offset + static_cast<off_t>(done));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

int SetUp(Bench* b) {
  struct statfs fs;
  if (statfs(b->dir.c_str(), &fs) != 0) return Fail(absl::StrFormat("statfs %s: %s", b->dir, std::strerror(errno)));
  if (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC) {
    return Fail(absl::StrFormat(
        "%s is on tmpfs/ramfs: there msync and fdatasync reach no device, so nothing here would be measured. "
        "Pass --dir=DIR with DIR on a disk-backed file system (ext4, xfs, ...), e.g. --dir=/var/tmp",
        b->dir));
  }
  b->fd = open(b->dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (b->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    std::string name = b->dir + "/async_persister_benchmark.XXXXXX";
    b->fd = mkostemp(name.data(), O_CLOEXEC);
    if (b->fd >= 0) unlink(name.c_str());
  }
  if (b->fd < 0) return Fail(absl::StrFormat("creating a file in %s: %s", b->dir, std::strerror(errno)));
  b->direct_fd = open(absl::StrFormat("/proc/self/fd/%d", b->fd).c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  if (b->direct_fd < 0) return Fail(absl::StrFormat("reopening the file O_DIRECT: %s", std::strerror(errno)));

  // Allocated and written before anything is measured. posix_fallocate alone would leave ext4 (and xfs)
  // unwritten extents: the first write-back to each would also convert its extent (a metadata change, so a
  // journal commit in fdatasync), a cost paid by whichever variant touched the block first. So real zeros are
  // written once, here, and every variant overwrites allocated, written blocks. (Map::Create's
  // Config::set_fully_allocated(true) is posix_fallocate: not enough for this.)
  const int allocated = posix_fallocate(b->fd, 0, static_cast<off_t>(2 * kAreaSize));
  if (allocated != 0) {
    return Fail(absl::StrFormat("posix_fallocate 512 MiB in %s: %s", b->dir, std::strerror(allocated)));
  }
  char* zeros = static_cast<char*>(std::aligned_alloc(kPage, kZeroChunk));
  if (zeros == nullptr) return Fail("out of memory");
  std::memset(zeros, 0, kZeroChunk);
  // The mapped area through the page cache, --folio_kib at a time (it stays cached: the mapping's pages start
  // resident and clean), the O_DIRECT area through the O_DIRECT descriptor (nothing of it cached).
  //
  // The size of those writes matters more than anything else here: the page cache keeps the folios that the
  // writes created (a write of N KiB makes folios of up to N KiB where the file system supports large folios,
  // as ext4 does since Linux 6.16, xfs earlier), and a store through a mapping dirties its WHOLE folio, so
  // every msync, fdatasync or ranged data sync then writes the whole folio back: with 1 MiB folios, 1 MiB per
  // 4 KiB record. (A write(2), e.g. AsyncPersister::Copy, dirties only the blocks it writes.) A file that was
  // read or written in large chunks before it is mapped is in that state; --folio_kib=1024 measures it. The
  // default, 4, gives every page a folio of its own, so that the syncs write back exactly the records.
  const bool zeroed = WriteZeros(b->fd, zeros, b->folio_kib << 10, 0, kAreaSize) &&
                      WriteZeros(b->direct_fd, zeros, kZeroChunk, static_cast<off_t>(kAreaSize), kAreaSize);
  std::free(zeros);
  if (!zeroed) return Fail(absl::StrFormat("writing zeros to the file: %s", std::strerror(errno)));
  if (fdatasync(b->fd) != 0) return Fail(absl::StrFormat("fdatasync: %s", std::strerror(errno)));

  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(b->fd);
  if (!source.ok()) return Fail(source.status().ToString());
  b->source.emplace(std::move(*source));
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  config.set_length(kAreaSize);
  absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *b->source);
  if (!map.ok()) return Fail(map.status().ToString());
  b->map.emplace(std::move(*map));
  b->base = static_cast<char*>(b->map->address());
  if (b->map->store_granularity() != pmem2::StoreGranularity::kPage) {
    return Fail(absl::StrFormat("%s maps at a finer granularity than page (persistent memory?): this benchmark "
                                "is for page-cache file systems",
                                b->dir));
  }
  // Every page mapped (read-only until its first store, as after each persist), so no variant pays for
  // first-touch page-table setup.
  for (size_t offset = 0; offset < kAreaSize; offset += kPage) {
    benchmark::DoNotOptimize(*static_cast<volatile char*>(b->base + offset));
  }

  absl::StatusOr<pmem2::AsyncPersister> engine = pmem2::AsyncPersister::Create(*b->map, *b->source);
  if (!engine.ok()) return Fail("AsyncPersister::Create: " + engine.status().ToString());
  b->engine.emplace(std::move(*engine));
  pmem2::AsyncOptions no_uring;
  no_uring.allow_io_uring = false;
  engine = pmem2::AsyncPersister::Create(*b->map, *b->source, no_uring);
  if (!engine.ok()) return Fail("AsyncPersister::Create (no io_uring): " + engine.status().ToString());
  b->engine_no_uring.emplace(std::move(*engine));

  b->direct_buffer = static_cast<char*>(std::aligned_alloc(kPage, kRecords * kPage));
  b->staging = static_cast<char*>(std::aligned_alloc(kPage, kRecords * kPage));
  if (b->direct_buffer == nullptr || b->staging == nullptr) return Fail("out of memory");
  struct stat st;
  if (fstat(b->fd, &st) != 0) return Fail(absl::StrFormat("fstat: %s", std::strerror(errno)));
  b->device_stat = absl::StrFormat("/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
  const int ring = io_uring_queue_init(kRecords, &b->ring, 0);
  if (ring < 0) {
    return Fail(absl::StrFormat("io_uring_queue_init (for the O_DIRECT floor): %s", std::strerror(-ring)));
  }
  return 0;
}

void AddContext(const Bench& b) {
  benchmark::AddCustomContext("cpu", CpuDescription());
  utsname u;
  if (uname(&u) == 0) {
    benchmark::AddCustomContext("kernel", absl::StrFormat("%s %s %s %s", u.sysname, u.release, u.version, u.machine));
  }
  benchmark::AddCustomContext("dir", b.dir);
  benchmark::AddCustomContext("file system", FileSystemDescription(b.dir));
  benchmark::AddCustomContext(
      "page cache", absl::StrFormat("mapped area filled by %zu KiB writes (--folio_kib): folios of up to %zu KiB",
                                    b.folio_kib, b.folio_kib));
  const pmem2::IoUringSupport uring = pmem2::ProbeIoUring();
  benchmark::AddCustomContext(
      "AsyncPersister backend",
      b.engine->backend() == pmem2::AsyncBackend::kIoUring
          ? uring.detail
          : absl::StrFormat("%s (io_uring %s)", pmem2::AsyncBackendName(b.engine->backend()), uring.detail));
  benchmark::AddCustomContext("AsyncPersister_no_io_uring backend",
                              pmem2::AsyncBackendName(b.engine_no_uring->backend()));
}

// ---------------------------------------------------------------------------------------------------------
// Registration and the closing table.

constexpr char kLog[] = "a_log_64x4KiB";
constexpr char kScattered[] = "b_scattered_64x4KiB_in_256MiB";
constexpr char kSingle[] = "c_single_4KiB";

template <typename... Args>
void Register(const std::string& name, Args&&... args) {
  benchmark::RegisterBenchmark(name.c_str(), std::forward<Args>(args)...)
      ->UseRealTime()
      ->MeasureProcessCPUTime()
      ->Unit(benchmark::kMillisecond);
}

void RegisterAll(Bench* b) {
  for (const auto& [group, pattern] : {std::pair{kLog, Pattern::kLog}, std::pair{kScattered, Pattern::kScattered}}) {
    const std::string prefix = std::string(group) + "/";
    Register(prefix + "msync_loop", BM_MsyncLoop, pattern, kRecords);
    Register(prefix + "AsyncPersister", BM_Engine, pattern, kRecords, &*b->engine);
    Register(prefix + "AsyncPersister_no_io_uring", BM_Engine, pattern, kRecords, &*b->engine_no_uring);
    Register(prefix + "AsyncPersister_copy", BM_EngineCopy, pattern, kRecords, &*b->engine);
    Register(prefix + "one_fdatasync", BM_OneFdatasync, pattern, kRecords);
    Register(prefix + "O_DIRECT_floor", BM_DirectFloor, pattern, kRecords);
  }
  const std::string prefix = std::string(kSingle) + "/";
  Register(prefix + "msync", BM_MsyncLoop, Pattern::kLog, size_t{1});
  Register(prefix + "AsyncPersister_barrier", BM_Engine, Pattern::kLog, size_t{1}, &*b->engine);
  Register(prefix + "AsyncPersister_completion", BM_EngineCompletion, &*b->engine);
  Register(prefix + "AsyncPersister_no_io_uring_completion", BM_EngineCompletion, &*b->engine_no_uring);
  Register(prefix + "O_DIRECT_floor", BM_DirectFloor, Pattern::kLog, size_t{1});
}

// The console output, and the medians (or the single run's time, without repetitions) for the ratios.
class RatioTable : public benchmark::ConsoleReporter {
 public:
  RatioTable() : ConsoleReporter(isatty(STDOUT_FILENO) ? OO_ColorTabular : OO_Tabular) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string& name = run.run_name.function_name;
      if (run.run_type == Run::RT_Aggregate && run.aggregate_name == "median") {
        medians_[name] = run.GetAdjustedRealTime();
      } else if (run.run_type == Run::RT_Iteration) {
        singles_[name] = run.GetAdjustedRealTime();
      }
    }
  }

  void PrintTable() const {
    std::printf("\nmedian real time per iteration (ms); ratio against the target\n");
    Ratio(kLog, "msync_loop", "AsyncPersister", ">= 8x", [](double r) { return r >= 8; });
    Ratio(kLog, "msync_loop", "AsyncPersister_no_io_uring", ">= 8x", [](double r) { return r >= 8; });
    Ratio(kLog, "AsyncPersister", "O_DIRECT_floor", "(no target)", nullptr);
    Ratio(kLog, "AsyncPersister_copy", "O_DIRECT_floor", "(no target)", nullptr);
    Ratio(kScattered, "AsyncPersister", "O_DIRECT_floor", "<= 1.10", [](double r) { return r <= 1.10; });
    Ratio(kScattered, "AsyncPersister_no_io_uring", "O_DIRECT_floor", "<= 1.10", [](double r) { return r <= 1.10; });
    Ratio(kScattered, "AsyncPersister_copy", "O_DIRECT_floor", "(no target)", nullptr);
    Ratio(kScattered, "msync_loop", "AsyncPersister", "(no target)", nullptr);
    Ratio(kSingle, "AsyncPersister_barrier", "msync", "<= 1.10", [](double r) { return r <= 1.10; });
    Ratio(kSingle, "AsyncPersister_completion", "msync", "<= 1.10", [](double r) { return r <= 1.10; });
    Ratio(kSingle, "AsyncPersister_no_io_uring_completion", "msync", "<= 1.10", [](double r) { return r <= 1.10; });
    Ratio(kSingle, "msync", "O_DIRECT_floor", "(no target)", nullptr);
  }

 private:
  std::optional<double> Time(const std::string& name) const {
    if (auto it = medians_.find(name); it != medians_.end()) return it->second;
    if (auto it = singles_.find(name); it != singles_.end()) return it->second;
    return std::nullopt;
  }

  void Ratio(const char* group, const char* numerator, const char* denominator, const char* target,
             bool (*met)(double)) const {
    const std::string prefix = std::string(group) + "/";
    const std::optional<double> top = Time(prefix + numerator);
    const std::optional<double> bottom = Time(prefix + denominator);
    if (!top || !bottom || *bottom <= 0) return;
    const double ratio = *top / *bottom;
    std::printf("%-30s %-38s / %-28s %8.3f / %8.3f = %6.2fx  target %-11s %s\n", group, numerator, denominator,
                *top, *bottom, ratio, target, met == nullptr ? "" : met(ratio) ? "PASS" : "MISS");
  }

  std::map<std::string, double> medians_;
  std::map<std::string, double> singles_;
};

}  // namespace

int main(int argc, char** argv) {
  static Bench b;
  bench = &b;
  const char* test_tmpdir = std::getenv("TEST_TMPDIR");
  b.dir = test_tmpdir != nullptr && *test_tmpdir != '\0' ? test_tmpdir : "/var/tmp";
  std::string folio_kib = "4";
  if (!TakeFlag("dir", &argc, argv, &b.dir)) return Fail("--dir wants a directory: --dir=DIR");
  if (!TakeFlag("folio_kib", &argc, argv, &folio_kib)) return Fail("--folio_kib wants a number: --folio_kib=4");
  char* end = nullptr;
  b.folio_kib = std::strtoul(folio_kib.c_str(), &end, 10);
  if (*end != '\0' || b.folio_kib < 4 || b.folio_kib > 2048 || (b.folio_kib & (b.folio_kib - 1)) != 0) {
    return Fail("--folio_kib wants a power of two from 4 to 2048");
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (const int failed = SetUp(&b); failed != 0) return failed;
  AddContext(b);
  RegisterAll(&b);
  RatioTable reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.PrintTable();
  benchmark::Shutdown();
  // The engines, the Map, the ring and the descriptors go with the process; the file was never linked (or was
  // unlinked at once), so nothing is left behind.
  std::fflush(stdout);
  return 0;
}
