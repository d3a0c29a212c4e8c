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
//   config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
//   absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
//   if (!source.ok()) return source.status();
//   absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *source);
//   if (!map.ok()) return map.status();
//   map->memcpy_fn()(map->address(), "hello", 5, 0);  // copied and persisted...
//   if (absl::Status s = map->PersistError(); !s.ok()) return s;  // ...durable unless a write-back failed
//
// Ownership: the Map owns the mapping and unmaps it when destroyed; it is move-only. It does not own the
// Source's descriptor, which may be closed once Create() has returned. Destroying it first waits for the syncs of
// its pages that other threads have in flight, so that a failure one of them is told is recorded on the file's
// other Maps (persist_error_test).
// A moved-from Map maps nothing: its address is null, its function pointers are null, its Persist / Flush /
// Drain / Memcpy / Memmove / Memset return kMapRange (DeepFlush kDeepFlushRange, its error for a range outside the
// Map), and its PersistError() is OK (it persists nothing).
//
// Thread safety: the function pointers are plain functions without shared state; any thread may call them on
// any range of any mapping. Draining is per thread: drain_fn orders the calling thread's earlier flushes. The
// Status methods below may be called from any thread, concurrently.
//
// What a crash can leave after a persist is stated once, in pmem2/persist_fns.h.
//
// PMEM_NO_FLUSH, libpmem's variable (read once per process): "0" makes byte-granularity file mappings write the CPU
// caches back anyway, as libpmem documents (it only adds work). "1" changes no Map: a cache-line Map's persist writes
// the lines back whatever it says, as libpmem2's (which does not read it); the granularity already says whether the
// platform does, and PMEM2_FORCE_GRANULARITY=byte is the way to say it does. (libpmem's own functions,
// pmem2/c/libpmem.h and raw_memory.h, take "1" as libpmem does.)
//
// The error contract. (Not for a Map of a file behind the page cache that PMEM2_FORCE_GRANULARITY made byte or cache
// line, a testing aid: its persists never msync. Nor for persistent memory that it made byte where the platform does
// not write the CPU caches back (no eADR): its persists only fence. Nor for anonymous and private Maps, which reach no
// medium: there OK means only that nothing failed, and IsPersistentMemory() is false.) Only page granularity can
// fail to persist (msync reports a failed write-back: EIO, ENOSPC, EDQUOT, ...). Such a failure belongs to the file's
// data, not to the thread or call that saw it: Linux reports a write-back error once per open file description, to
// whichever msync runs first, and a later successful msync proves nothing about the lost pages. So pmem2 records every
// failure on the Map whose range it was persisting AND on every other live Map of the same file in this process, and
// keeps it there (sticky) until the application acknowledges it with ClearPersistError():
//   * The Status methods (Persist, Flush, Drain, Memcpy, Memmove, Memset) return the Map's sticky error, even
//     when their own msync succeeded, and their own msync's failure where it is not recorded (ENOMEM for pages of
//     the range that were unmapped behind pmem2's back: the range's, not the file's). OK means: no failure since the
//     last ClearPersistError(), so every range this Map persisted is durable.
//   * The function pointers cannot return anything; after using them, read PersistError() (or
//     pmem2::PersistErrorAt(address)) before declaring data durable, e.g. before committing a transaction; where
//     another thread may acknowledge failures meanwhile, PersistErrorSince() with a mark taken before the stores.
//   * After a failure, assume that everything written through this Map since the last point at which it
//     reported OK may be lost, whichever range failed. Clearing the error and retrying the persist does not
//     bring the data back (the kernel may have dropped the pages): write it again, persist, and check again.
//   * EIO is absl::StatusCode::kDataLoss; ENOSPC and EDQUOT kResourceExhausted. GetErrorCode() is kErrno and
//     GetErrno() the errno. Failures are never dropped, and never abort the process unless pmem2's C library
//     (//pmem2/c, libpmem2.so) is in it and PMEM2_PERSIST_FAILURE holds a value other than warn or record: abort, or
//     one it does not take, which no C++ call refuses (empty counts as unset, and a set-user-ID or set-group-ID
//     program ignores it: pmem2/c/libpmem2.h); that covers every Map in the process, for the failures of the function
//     pointers (a Status method returns its failure instead).
//   * A Map created after a failure does not inherit it: its own persists start clean.
//   * A Map part of whose range was unmapped behind pmem2's back (munmap(2)) and then mapped again by pmem2 (another
//     Map, a VmReservation, pmem_map_file) reports ESTALE from then on, whatever the acknowledgements: a failed sync of
//     what is left of it could no longer be recorded on it. Destroying it leaves its range alone (part of it is the
//     other mapping's). A plain mmap(2) there is not seen: the Map goes on as before, a failure recorded at those
//     addresses is taken for the Map's file, and destroying the Map unmaps the other mapping. Do not unmap a Map's
//     pages yourself.
//   * pmem2 can only record what its own msyncs are told. Linux reports a write-back error once per open file
//     description: an fsync / fdatasync / msync that other code makes through the same descriptor (the one the
//     Source was made from, or a dup of it) may take the report instead. Give the Map a descriptor of its own
//     (open the file again) if other code syncs the file. So may pmem2's own sync of a mapping of the file that is
//     not a Map (pmem_msync, pmem2::SyncPages or a persist function given an address of a mapping the application
//     made itself through the same description): its failure is recorded outside every Map (PersistErrorAt() of
//     that address tells it), not on the Maps of that file (not covered: telling that mapping's file without
//     allocating on the failure path).
//   * fork(): parent and child would share that description. So before fork() returns in the child, the child maps the
//     ranges of its shared Maps of regular files made through a descriptor opened for writing (read-only Maps too:
//     their msync syncs the file through that description) again through a file description it opens itself (same flags
//     and offsets, and the protection each part has, mprotect(2) included; madvise(2) advice is not carried over; parts
//     that are not the Map's own mapping in the child, because of MADV_DONTFORK or a mapping the application put over
//     them, are left as they are), and each process is then told of every later write-back failure. For that, pmem2
//     keeps one O_PATH descriptor per file such Maps map (closing it does not release fcntl(2) record locks, as closing
//     another descriptor of the file would). The child pays a look at /proc/self/maps (PROCMAP_QUERY on Linux 6.11 and
//     later, else a read of all of it), one open and a one-page probe mapping per file (which names the file as the
//     kernel does in mappings), and an mmap and an mremap per Map (per mapping of the kernel's in its range: parts
//     differing in protection or advice are separate ones). Not covered, so that parent and child share the description
//     as before: Maps adopted with FromExisting(); libpmem's pmem_map_file mappings whose path no longer names their
//     file (they keep no descriptor: the child opens the path, pmem2/c/libpmem.h); files this process could not open
//     again for writing (a descriptor received from another process, a file created read-only, credentials changed) or
//     without /proc (MapDiagnostics::why_forked_child_shares_description says which); and a child's own fsync of a
//     descriptor it inherited. A child that cannot open or map its own description when it should (credentials changed
//     since the Map was made, EMFILE, ENOMEM, /proc/self/maps unreadable) carries an error on those Maps that no
//     ClearPersistError() ends: nothing it persists there can be vouched for, and its parent's Maps of the file are
//     exposed too, as before. Except hugetlbfs Maps on kernels that cannot move them (mremap, before Linux 5.16):
//     they stay shared without an error, as hugetlbfs writes nothing back and so has no report to take.
//
// SIGBUS: a store (or load) that the kernel cannot back with a file block kills the process with SIGBUS; no
// return value can report it. It happens when
//   * the mapping reaches into a hole of a sparse file and the file system is full or over quota: ask for
//     Config::set_fully_allocated(true), and Map::Create() allocates the blocks or fails with
//     kResourceExhausted (on copy-on-write file systems - btrfs with snapshots or reflinks, ZFS, reflinked XFS
//     files - a later store may still need new blocks: allocation cannot rule it out there);
//   * the file is truncated (by this or another process) below the mapped range while mapped: do not shrink
//     mapped files; coordinate with other processes (e.g. a lock) if they may;
//   * the medium reports an uncorrectable error on load (a poisoned persistent-memory line).
// The last page of a mapping that ends past the end of the file is only partly backed: bytes past the end of the
// file are not kept (and a whole page past it would raise SIGBUS).

#ifndef PMEM2_MAP_MAP_H_
#define PMEM2_MAP_MAP_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "pmem2/config/config.h"
#include "pmem2/persist_fns.h"
#include "pmem2/source/source.h"
#include "pmem2/vm_reservation/vm_reservation.h"

namespace pmem2 {
namespace arch {
struct PersistOps;
}  // namespace arch
class Map;
class Config;
class Source;
namespace map_internal {
class MapRecord;
struct FileIdentity;
struct MapRequest;
// For the C API (pmem2/map/map_for_c_api.h): a Map placed into a reservation is findable only once published.
absl::StatusOr<Map> CreateUnpublishedForCApi(const Config& config, const Source& source);
void PublishForCApi(const Map& map);
// For pmem2_map_delete, before it forgets the handle: takes `map` out of its reservation's lookups now, as its
// destruction would (ReservationState::BeginRelease), so that no child forked between the two finds a Map whose
// handle it can no longer delete. UnmapForCApi next; the Map is destroyed after it, or, where that fails, lives on
// (its claim made live again: ReservationState::CancelRelease).
void BeginDestructionForCApi(const Map& map);
// For pmem2_map_delete, after BeginDestructionForCApi: releases `map`'s range (unmapped, or in a reservation replaced
// by the reservation's placeholder) and marks its record released, leaving the Map itself as it is for its destruction,
// which then releases nothing (a child forked in between, where the handle is live again, finds it whole and
// released). Where munmap(2) or the placeholder's mmap(2) fails (ENOMEM: the Map's range is the middle of a mapping the
// kernel merged with neighbouring mappings of the same file, and splitting it would exceed vm.max_map_count), leaves
// everything as it was (mapped, registered, findable in its reservation, its functions valid) and returns the errno, as
// libpmem2 leaves the map. 0 for a Map that releases nothing (adopted, emptied, released already, its range partly
// another mapping's). Allocates nothing. (~Map cannot report: it leaves the pages mapped, or in a reservation the
// range lost.)
int UnmapForCApi(Map& map);
// Test-only: UnmapForCApi() calls `hook` (null: none) once it has released a Map's range, before it returns.
void SetAfterReleaseForCApiForTest(void (*hook)());
// For libpmem's pmem_map_file (pmem2/c/libpmem.cc), whose callers may release a mapping with munmap(2) instead
// of pmem_unmap: makes `map` leave its addresses alone when destroyed, as a Map adopted with FromExisting()
// does, because the kernel may already have given them to a new mapping (in a reservation, its range becomes
// a lost hole the reservation never unmaps). Internal, no promise to other callers.
void ForgetUnmappedForCApi(Map& map);
// For libpmem's pmem_map_file, for the same reason: `map` keeps no descriptor of its file open (one would outlive a
// munmap(2) that pmem2 never sees); a forked child opens the file by the name `fd` (the descriptor `map` was made
// through, still open) has instead, to map `map`'s range again through a description of its own (map_registry.h,
// RemapInChildThroughPath), where that still leads to the file.
void RemapInChildThroughPathForCApi(const Map& map, int fd);
// Whether `map`'s record was dropped as stale (part of its range mapped again by other code): for pmem_unmap, so that
// its destruction leaves the range alone and the caller, who asked for the range to be unmapped, unmaps it itself;
// for an AsyncPersister, which refuses such a Map (it can vouch for no persist of it).
bool RecordDroppedFromRegistry(const Map& map);
// The state of the reservation `map` is placed in (nullptr if none): for pmem_unmap, which tells the reservations
// pmem_map_file made for its own mappings (PMEM_MMAP_HINT) from others by this.
const vm_reservation_internal::ReservationState* ReservationOfForCApi(const Map& map);
// For pmem2_deep_flush, which refuses a map of an anonymous source only inside its range: Map's own range check.
bool InRangeForCApi(const Map& map, const void* ptr, size_t size);
// The access rule of the Status methods, for pmem2/uring's engine, which keeps a Map's protection and not the Map:
// OK if a Map made with `protection` allows the access (a store needs kProtWrite; a cache-line write-back, kProtRead
// or kProtWrite), or the range allows it now (mprotect(2)); kNoAccess naming both otherwise.
absl::Status CheckAccess(Protection protection, const void* ptr, size_t size, bool store);
}  // namespace map_internal
namespace vm_reservation_internal {
class ReservationState;
}  // namespace vm_reservation_internal

// Why the mapping got the granularity and functions it has; printed by `pmem2 info`.
struct MapDiagnostics {
  bool map_sync = false;               // the kernel accepted MAP_SHARED_VALIDATE | MAP_SYNC
  std::string persistence_domain;      // see map_internal::PersistenceDomain::summary
  // Before any PMEM2_FORCE_GRANULARITY; for FromExisting(), the granularity its caller gave.
  StoreGranularity detected_granularity = StoreGranularity::kPage;
  bool forced = false;                 // PMEM2_FORCE_GRANULARITY replaced the detected granularity
  bool cpu_cannot_write_back = false;  // cache line was due, but the CPU backend has no write-back: page
  // One line: why the detected granularity, and each rewrite of it (a forced page on Device DAX made cache line;
  // for FromExisting(), the rewrites described there).
  std::string reason;
  size_t address_alignment = 0;        // what the mapping address was aligned to
  // Shared mappings of regular files: whether a forked child maps this Map again through a file description of its
  // own ("fork()" under the error contract above), and if not, why (empty when its msync syncs nothing through the
  // description: a descriptor opened read-only).
  bool forked_child_gets_own_description = false;
  std::string why_forked_child_shares_description;
  const char* flush_name = "";         // kernels in use, e.g. "clwb", "msync"
  const char* drain_name = "";
  const char* memmove_name = "";
  const char* memset_name = "";
};

class Map {
 public:
  // Maps `source` as `config` asks. Checks, in this order (the first failure is returned):
  //   (Config::Validate(): kGranularityNotSet, kGranularityNotSupported for a value that is no enumerator,
  //    kOffsetOutOfRange, kInvalidSharingValue, kInvalidProtFlag);
  //   kInvalidForcedGranularity PMEM2_FORCE_GRANULARITY names no granularity;
  //   kInvalidEnvironment       a PMEM_* tuning variable holds a value it does not take
  //                             (pmem2/arch/env_overrides.h, e.g. PMEM_MOVNT_THRESHOLD=4k);
  //   kInvalidFileHandle        the Source's descriptor was closed, or its number now names another file or
  //                             device (Source::VerifyDescriptor);
  //   (any Source::Size() / Source::Alignment() error);
  //   kOffsetUnaligned          offset is not a multiple of the source alignment;
  //   kSrcDevdaxPrivate         a private mapping of Device DAX (here, as libpmem2's map_posix.c);
  //   kSourceEmpty              the source has size 0;
  //   kLengthUnaligned          a non-zero length is not a multiple of the source alignment, or (length 0) the
  //                             source's size less the offset is not, where that alignment exceeds the page
  //                             (hugetlbfs: fallocate can leave a size that is no huge page multiple);
  //   kMapRange                 offset + length overflows, or passes the end of the source, or length 0 and
  //                             the offset is at or past the end;
  //   kNoAccess                 a shared writable mapping of a descriptor opened read-only;
  //   kGranularityNotSupported  a Device DAX on no NVDIMM region (hmem's soft-reserved memory, a CXL RAM region:
  //                             volatile, no granularity is met there), whatever is required (errno errors if
  //                             sysfs cannot say where the device is, e.g. EACCES);
  //   kErrno                    mmap failed (GetErrno(): ENOMEM, EPERM (e.g. kProtExec on a noexec mount), ENODEV,
  //                             ...); ENOMEM also, before mmap,
  //                             for a range inside the source that is larger than half the address space (it
  //                             cannot be mapped: mmap's answer, as libpmem2's);
  //   kNoAccess                 mmap of a file refused the protection (EACCES: the descriptor's mode does not
  //                             allow it);
  //   kGranularityNotSupported  the mapping's granularity is coarser than the required one (e.g. byte or
  //                             cache line required on a page-cache file system, or cache line on a CPU
  //                             whose backend cannot write cache lines back: such mappings use msync); or
  //                             Device DAX on such a CPU (msync cannot persist Device DAX), whatever is
  //                             required, unless its granularity is byte (eADR, or a forced byte);
  //   kErrno                    fallocate (Config::set_fully_allocated) failed (ENOSPC / EDQUOT as
  //                             kResourceExhausted, ...): last, so that no refused request spends disk space.
  // A length of 0 maps from the offset to the end of the source, whatever a file's size: the last page may then be
  // partial (writes past the end of the file in that page are not kept, as with any mmap). Not so where the
  // source alignment exceeds the page (a partial huge page would be mapped whole, past the end): kLengthUnaligned.
  // Anonymous sources, as in libpmem2: the offset is checked (alignment, not past the end, offset + length
  // within the source) but selects nothing, and a length of 0 maps the whole source.
  // PMEM2_FORCE_GRANULARITY applies to shared mappings of files and Device DAX only: anonymous and private
  // mappings are byte granularity whatever it says, as in libpmem2 (their stores never reach a medium).
  // The address is aligned to 2 MiB (1 GiB for 2 GiB and more, or to the source alignment if larger: Device DAX,
  // hugetlbfs) so the kernel can use huge pages.
  // With Config::set_vm_reservation(), the mapping is placed at the reservation's address + offset instead, and
  // these checks come after the source's: kOffsetUnaligned (the reservation offset is not a multiple of the
  // page size), kLengthOutOfRange (the mapping, rounded up to pages, passes the end of the reservation),
  // kAddressUnaligned (Device DAX, hugetlbfs: the address is not a multiple of the source alignment), kMappingExists
  // (another Map of the reservation overlaps), kMappingNotFound (the reservation was moved from), kErrno with EEXIST
  // (the range holds a mapping adopted with FromExisting(), as libpmem2 refuses it). Destroying the Map makes its range
  // reserved again. Into a reservation, the Map becomes findable (VmReservation::FindMap...) as Create() returns it; a
  // Find that races with the Create of a Map in the same reservation may return the Map while Create's result moves
  // into the caller's variable: synchronise such Finds with the Create (the C API publishes its maps only once they are
  // final).
  static absl::StatusOr<Map> Create(const Config& config, const Source& source);

  // A Map for [address, address + length), a mapping of `source` made elsewhere (mmap, another library), with
  // the functions of `granularity`, which the caller vouches for: pmem2 cannot see how that mapping was made
  // (e.g. whether with MAP_SYNC). The Map does not own the mapping: destroying it leaves the mapping alone, and
  // the mapping must stay in place while the Map exists. Page granularity persists with msync(2) like any
  // other Map (libpmem2 1.12.1's page-granularity persist on such a map never returns), and persistence
  // failures are recorded and reported as for any Map of the source's file. Four granularities are replaced by one
  // whose functions keep the promise (store_granularity() and diagnostics().reason say so), as Create() replaces them:
  // byte of a file or Device DAX where the CPU caches are not in every NVDIMM region's persistence domain (no eADR:
  // byte's persists only fence) becomes cache line; page on Device DAX becomes cache line (msync cannot persist Device
  // DAX), cache line on a CPU backend that cannot write cache lines back becomes page (msync;
  // diagnostics().cpu_cannot_write_back), and byte or cache line of a file that cannot be mapped with MAP_SYNC (asked
  // as Create() asks: not DAX, as tmpfs or a disk's file system, whose pages only msync writes back; or DAX on a file
  // system that cannot keep a page fault's metadata durable, as virtio-pmem; libpmem2 keeps the claim) or on a medium
  // that keeps no store (a DAX file system over volatile memory, Create()'s rule) becomes page. Not caught: a claim of
  // byte or cache line for a file that takes MAP_SYNC but was mapped without it (its blocks' metadata is durable only
  // by fsync), which stays the caller's to get right, as in libpmem2. The protection the whole range has now
  // (/proc/self/maps) stands for Create()'s Config::set_protection: the Status methods refuse (kNoAccess) what it does
  // not allow unless mprotect(2) has since allowed it (read and write are assumed where the maps cannot be read).
  // Errors: kAddressNull, kLengthOutOfRange (0, or the range wraps around), kGranularityNotSupported (not an
  // enumerator; or Device DAX at page or cache line, or byte without eADR, on a CPU backend that cannot write cache
  // lines back; or a Device DAX on no NVDIMM region, or on one of volatile memory or a virtio-pmem device, as for
  // Create()), kMapExists (the range overlaps a live Map, made by Create() or adopted, or shares a page with one of
  // another file or of anonymous memory: a page is one mapping's, so one of the two names the wrong Source),
  // kInvalidSharingValue (a file's
  // or device's range that is not all a shared mapping, /proc/self/maps says: a private mapping's stores never reach
  // the file, and its msync succeeds; libpmem2 adopts it; only the sharing is checked, not which file a shared mapping
  // maps, and without a readable /proc not even that), kInvalidFileHandle (as for Create()), kInvalidEnvironment (as
  // for Create(): the functions would otherwise be chosen as if the bad value were unset), the source's errors.
  static absl::StatusOr<Map> FromExisting(const Source& source, void* address, size_t length,
                                          StoreGranularity granularity);

  Map(Map&& other) noexcept;
  Map& operator=(Map&& other) noexcept;
  Map(const Map&) = delete;
  Map& operator=(const Map&) = delete;
  ~Map();

  void* address() const { return address_; }
  size_t size() const { return size_; }
  // The mapped bytes, [address(), address() + size()); empty for a moved-from Map.
  absl::Span<char> bytes() const { return absl::Span<char>(static_cast<char*>(address_), size_); }
  StoreGranularity store_granularity() const { return granularity_; }
  // Where the mapping starts in its file (Config::set_offset()), for code that reaches the same bytes through
  // the file's descriptor (pmem2/uring). kNoFileOffset for anonymous and private Maps (their bytes are in no
  // file), for Maps adopted with FromExisting() (pmem2 does not know how they were made) and moved-from ones.
  static constexpr uint64_t kNoFileOffset = ~uint64_t{0};
  uint64_t file_offset() const { return file_offset_; }
  // Config::set_protection's (FromExisting(): the range's when adopted); mprotect(2) may have changed it since.
  Protection protection() const { return protection_; }
  // Whether persist_fn() and flush_fn() write cache lines back (CLWB and its kind), which needs read access to the
  // range: cache-line granularity (on a CPU that can), and byte granularity of files under PMEM_NO_FLUSH=0.
  bool writes_back_cache_lines() const { return writes_back_lines_; }
  const MapDiagnostics& diagnostics() const { return diagnostics_; }

  // The libpmem2-style functions: no error return (see "The error contract" above).
  PersistFn persist_fn() const { return persist_; }
  FlushFn flush_fn() const { return flush_; }
  DrainFn drain_fn() const { return drain_; }
  MemcpyFn memcpy_fn() const { return memmove_; }
  MemmoveFn memmove_fn() const { return memmove_; }
  MemsetFn memset_fn() const { return memset_; }

  // The same operations with an error return. Each checks that the range lies inside this mapping (kMapRange,
  // naming the range, otherwise; nothing is touched) and the flags (kInvalidMemFlags for bits outside
  // kMemValidFlags), runs the function above, and returns PersistError(): OK only if no persistence of this Map
  // has failed since the last ClearPersistError(), nor during the call (a failure another thread acknowledged
  // before this call returned is still this call's error); where that is OK, the call's own msync's failure that
  // nothing records (ENOMEM for pages of the range unmapped behind pmem2's back). A failure recorded before the call
  // and acknowledged by another thread before it began is not its own: a Drain() after flush_fn, or a Persist() of
  // stores whose write-back another thread's sync saw fail, answers OK then; where other threads acknowledge
  // failures, take PersistFailureMark() before the stores and ask PersistErrorSince(mark). A size of 0 is accepted
  // anywhere inside or at the end.
  // Where the Map was made without the access the function needs (Config::set_protection: a store needs
  // kProtWrite; a cache-line write-back, kProtRead or kProtWrite), the range's protection now is asked of the
  // kernel (mprotect(2) may have changed it; a system call or a read of /proc/self/maps) and kNoAccess, naming
  // the range, returned rather than the function run into a SIGSEGV. The functions above do not check.
  absl::Status Persist(const void* ptr, size_t size) const;
  absl::Status Flush(const void* ptr, size_t size) const;
  absl::Status Drain() const;
  absl::Status Memcpy(void* pmemdest, const void* src, size_t len, unsigned flags = 0) const;
  absl::Status Memmove(void* pmemdest, const void* src, size_t len, unsigned flags = 0) const;
  absl::Status Memset(void* pmemdest, int c, size_t len, unsigned flags = 0) const;

  // Makes [ptr, ptr + size) durable in the deepest persistence domain there is (libpmem2's pmem2_deep_flush):
  //   page granularity: msync, and the sticky error as Persist() returns it;
  //   byte and cache line: the CPU caches of the range are written back (even with PMEM_NO_FLUSH=1 or eADR)
  //   and fenced, then the NVDIMM region drains its write-pending queues: for a file (fsdax) by an msync of the
  //   range's pages, whose fsync the kernel ends with that drain (no root needed; its failure is the answer, and
  //   recorded as a persist's, as libpmem2 1.12.1 does); for Device DAX by a write of the region's sysfs
  //   deep_flush (see pmem2/ras/deep_flush.h: kDaxRegionNotFound, or EACCES when not root, rather than a flush
  //   that did not happen). Anonymous and private Maps only get the write-back.
  // kDeepFlushRange if the range is not inside this Map; kNoAccess as for Persist(). Costly: for rare, deliberate use
  // (e.g. before recording that a pool was closed cleanly).
  absl::Status DeepFlush(const void* ptr, size_t size) const;

  // The sticky persistence error: OK, or the first failure since the last ClearPersistError() (the range, the
  // errno, whether it was seen through another Map of the same file) with the number of later ones.
  absl::Status PersistError() const;
  // Acknowledges the sticky error and returns it (OK if there was none). Read and cleared atomically, so a
  // failure recorded concurrently is either returned here or kept for the next call, never lost.
  absl::Status ClearPersistError();

  // For the function pointers, what the Status methods do within a call: a mark taken before the stores a caller
  // persists, and afterwards PersistErrorSince(mark): PersistError() if that is not OK, else, if failures were recorded
  // on this Map since the mark (another thread's ClearPersistError() acknowledged them meanwhile: a health check
  // clearing the error between a thread's failed persist_fn and its read would otherwise make that thread commit data
  // whose write-back failed), the last of them; else OK. A mark is a count of this Map's failures (it only grows; 0
  // for a moved-from Map, whose PersistErrorSince() is OK): one above the count is EINVAL (kErrno), one of another
  // Map's cannot be told from this Map's.
  uint64_t PersistFailureMark() const;
  absl::Status PersistErrorSince(uint64_t mark) const;

 private:
  Map() = default;

  friend absl::StatusOr<Map> map_internal::CreateUnpublishedForCApi(const Config& config, const Source& source);
  friend void map_internal::PublishForCApi(const Map& map);
  friend void map_internal::BeginDestructionForCApi(const Map& map);
  friend int map_internal::UnmapForCApi(Map& map);
  friend void map_internal::ForgetUnmappedForCApi(Map& map);
  friend bool map_internal::RecordDroppedFromRegistry(const Map& map);
  friend const vm_reservation_internal::ReservationState* map_internal::ReservationOfForCApi(const Map& map);
  friend void map_internal::RemapInChildThroughPathForCApi(const Map& map, int fd);
  // Create(), leaving a Map placed into a reservation unfindable (pending) until published.
  static absl::StatusOr<Map> CreateUnpublished(const Config& config, const Source& source);
  void Reset();
  // Claims the request's range of `reservation` for this Map; the mapping then goes to the returned address.
  absl::StatusOr<void*> Claim(const VmReservation& reservation, uint64_t offset,
                              const map_internal::MapRequest& request);
  // Create()'s last steps: take ownership of a placed mapping (registered from here on), then the functions.
  void Own(void* address, size_t size, const map_internal::FileIdentity& file);
  void Use(StoreGranularity granularity, const arch::PersistOps& ops);
  absl::Status CheckRange(const void* ptr, size_t size) const;
  friend bool map_internal::InRangeForCApi(const Map& map, const void* ptr, size_t size);
  // For the Status methods: whether [ptr, ptr + size) allows a store (`store`) or a cache-line write-back, asking
  // the kernel only where the Map was made without that access.
  absl::Status CheckAccess(const void* ptr, size_t size, bool store) const;

  void* address_ = nullptr;
  size_t size_ = 0;
  StoreGranularity granularity_ = StoreGranularity::kPage;
  Protection protection_ = kProtRead | kProtWrite;  // Config::set_protection (FromExisting: the range's then)
  bool writes_back_lines_ = false;  // the persist and flush write cache lines back (they need read access)
  PersistFn persist_ = nullptr;
  FlushFn flush_ = nullptr;
  DrainFn drain_ = nullptr;
  MemmoveFn memmove_ = nullptr;
  MemsetFn memset_ = nullptr;
  MapDiagnostics diagnostics_;
  // Registered for the Map's lifetime; on the heap so that failures recorded by address find it after moves.
  std::unique_ptr<map_internal::MapRecord> record_;
  // False for FromExisting(): the mapping belongs to someone else.
  bool owns_mapping_ = true;
  // What stores reach: a file or Device DAX for shared mappings of them, otherwise kAnonymous (deep flush).
  SourceKind medium_ = SourceKind::kAnonymous;
  uint64_t file_offset_ = kNoFileOffset;
  // The reservation this Map is placed in, and the address of its claimed range there.
  std::shared_ptr<vm_reservation_internal::ReservationState> reservation_;
  uintptr_t claim_ = 0;
};

// The sticky persistence error of the live Map that holds `address` (see Map::PersistError()), for code that
// holds raw pointers and the function pointers. For an address inside no live Map: the failures recorded at
// such addresses (a persist_fn called on memory pmem2 did not map, or on a Map already destroyed), kept for
// the life of the process and never cleared, since no Map can acknowledge them. OK if none.
absl::Status PersistErrorAt(const void* address);

// How many persistence failures (msync; and each Map found unmapped in part behind pmem2's back and mapped again,
// ESTALE) this process has seen, on any thread and any Map. Never decreases.
uint64_t PersistErrorCount();

// Whether every byte of [address, address + length) lies in live Maps whose stores become durable through the
// CPU (byte or cache-line granularity), so that the cache-line functions (flush + fence) suffice there and no
// msync is needed; false as soon as one byte is in no Map or in a page-granularity Map. A Map's bytes are its size
// (as libpmem's pmem_is_pmem counts the mapped length): the rest of its last page, which a Map made by Create() holds
// (mmap maps it, and no other Map may take a part of it) but where a flush makes nothing durable (past the end of
// the file or of the Map's part of it), is no persistent memory. A length of 0 asks about the byte at `address`.
// This is libpmem's pmem_is_pmem(), answered from pmem2's own mappings (Maps adopted with Map::FromExisting() count,
// with the granularity FromExisting() settled on). It takes a shared lock: ask once per range and keep the answer,
// not on every store.
bool IsPersistentMemory(const void* address, size_t length);

}  // namespace pmem2

#endif  // PMEM2_MAP_MAP_H_
