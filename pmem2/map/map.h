// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/map.h
// -----------------------------------------------------------------------------
//
// `pmem2::Map` is one mapping of a Source, made as a Config asks, together with the functions that make
// stores to it durable. The functions are plain function pointers with libpmem2's signatures, chosen once, in
// Create(), from the mapping's effective store granularity and the CPU:
//
//   granularity  persist_fn / flush_fn           drain_fn   memcpy/memmove/memset_fn
//   byte         store fence only                sfence     copy, non-temporal when large, fence
//   cache line   write back lines (CLWB...)+fence sfence    copy + write-back or non-temporal stores, fence
//   page         msync(MS_SYNC) of whole pages    nothing    copy, then msync (no CPU flush: msync suffices)
//
// Example:
//
//   pmem2::Config config;
//   config.set_required_store_granularity(pmem2::StoreGranularity::kPage).IgnoreError();
//   absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
//   if (!source.ok()) return source.status();
//   absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *source);
//   if (!map.ok()) return map.status();
//   map->memcpy_fn()(map->address(), "hello", 5, 0);  // durable when it returns
//
// Ownership: the Map owns the mapping and unmaps it when destroyed; it is move-only. It does not own the
// Source's descriptor, which may be closed once Create() has returned.
//
// Thread safety: the function pointers are plain functions without shared state; any thread may call them on
// any range of any mapping. Draining is per thread: drain_fn orders the calling thread's earlier flushes.
//
// Durability: persist_fn(p, n) widens [p, p + n) to whole cache lines (whole pages at page granularity).
// Nothing is atomic: after a crash any subset of the widened range may have reached the media, but never a torn
// 8-byte aligned store.
//
// PMEM_NO_FLUSH=1 makes cache-line mappings skip the CPU flush; PMEM_NO_FLUSH=0 makes byte-granularity file
// mappings flush anyway (both as libpmem documents; read once per process).
//
// msync failures (page granularity) cannot be returned through the libpmem2 signatures; they are recorded and
// read back with TakePersistError() on the thread that persisted. They never abort the process.

#ifndef PMEM2_MAP_MAP_H_
#define PMEM2_MAP_MAP_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/config/config.h"
#include "pmem2/source/source.h"

namespace pmem2 {

// Why the mapping got the granularity and functions it has; printed by `pmem2 info`.
struct MapDiagnostics {
  bool map_sync = false;               // the kernel accepted MAP_SHARED_VALIDATE | MAP_SYNC
  std::string persistence_domain;      // see map_internal::PersistenceDomain::summary
  StoreGranularity detected_granularity = StoreGranularity::kPage;  // before any PMEM2_FORCE_GRANULARITY
  bool forced = false;                 // PMEM2_FORCE_GRANULARITY replaced the detected granularity
  bool cpu_cannot_write_back = false;  // cache line was due, but the CPU backend has no write-back: page
  std::string reason;                  // one line: why the detected granularity
  size_t address_alignment = 0;        // what the mapping address was aligned to
  const char* flush_name = "";         // kernels in use, e.g. "clwb", "msync"
  const char* drain_name = "";
  const char* memmove_name = "";
  const char* memset_name = "";
};

class Map {
 public:
  // Maps `source` as `config` asks. Checks, in this order (the first failure is returned):
  //   kGranularityNotSet        no required store granularity in `config`;
  //   kInvalidForcedGranularity PMEM2_FORCE_GRANULARITY names no granularity;
  //   (any Source::Size() / Source::Alignment() error);
  //   kOffsetUnaligned          offset is not a multiple of the source alignment;
  //   kSourceEmpty              the source has size 0;
  //   kLengthUnaligned          a non-zero length is not a multiple of the source alignment;
  //   kMapRange                 offset + length overflows, or passes the end of the source, or length 0 and
  //                             the offset is at or past the end;
  //   kSrcDevdaxPrivate         a private mapping of Device DAX;
  //   kNoAccess                 a shared writable mapping of a descriptor opened read-only;
  //   kErrno                    mmap failed (GetErrno(): EACCES, ENOMEM, EPERM, ...);
  //   kGranularityNotSupported  the mapping's granularity is coarser than the required one (e.g. byte or
  //                             cache line required on a page-cache file system, or cache line on a CPU
  //                             whose backend cannot write cache lines back: such mappings use msync).
  // A length of 0 maps from the offset to the end of the source, whatever the source's size: the last page may
  // then be partial (writes past the end of the file in that page are not kept, as with any mmap).
  // Anonymous sources, as in libpmem2: the offset is checked (alignment, not past the end, offset + length
  // within the source) but selects nothing, and a length of 0 maps the whole source.
  // The address is aligned to 2 MiB (1 GiB for 2 GiB and more, or to the Device DAX alignment if larger) so
  // the kernel can use huge pages.
  static absl::StatusOr<Map> Create(const Config& config, const Source& source);

  Map(Map&& other) noexcept;
  Map& operator=(Map&& other) noexcept;
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;
  ~Map();

  void* address() const { return address_; }
  size_t size() const { return size_; }
  StoreGranularity store_granularity() const { return granularity_; }
  const MapDiagnostics& diagnostics() const { return diagnostics_; }

  PersistFn persist_fn() const { return persist_; }
  FlushFn flush_fn() const { return flush_; }
  DrainFn drain_fn() const { return drain_; }
  MemcpyFn memcpy_fn() const { return memmove_; }
  MemmoveFn memmove_fn() const { return memmove_; }
  MemsetFn memset_fn() const { return memset_; }

 private:
  Map() = default;
  void Reset();

  void* address_ = nullptr;
  size_t size_ = 0;
  StoreGranularity granularity_ = StoreGranularity::kPage;
  PersistFn persist_ = nullptr;
  FlushFn flush_ = nullptr;
  DrainFn drain_ = nullptr;
  MemmoveFn memmove_ = nullptr;
  MemsetFn memset_ = nullptr;
  MapDiagnostics diagnostics_;
};

// The calling thread's first page-granularity persistence failure (msync) since the previous call, as a status
// naming the range and errno (ErrorCode::kErrno) and how many later failures the thread had; OK if none.
// Clears it. Check it after a batch of persists, e.g. before declaring a transaction committed.
absl::Status TakePersistError();

// How many page-granularity persistence failures this process has seen, on any thread. Never decreases.
uint64_t PersistErrorCount();

namespace map_internal {

// The flags page-granularity copies pass to the byte tables before msync: non-temporal stores from
// kPageNtThreshold bytes (page-cache destinations are usually cold) unless the caller asked for kMemTemporal /
// kMemWb or PMEM_MOVNT_THRESHOLD set the threshold; always kMemNoDrain, as msync's caller drains first.
inline constexpr size_t kPageNtThreshold = size_t{16} << 10;
unsigned PageCopyFlags(size_t len, unsigned flags, bool threshold_from_environment);

// Test seam: the msync page-granularity persistence calls; nullptr restores ::msync. Not for concurrent use
// with persists in other threads.
using MsyncFn = int (*)(void* address, size_t length, int flags);
void SetMsyncForTest(MsyncFn fn);

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_MAP_H_
