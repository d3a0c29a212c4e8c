// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/placement.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/map/page_persist.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

namespace pmem2 {
namespace map_internal {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// The mmap(2) of a mapping at a reservation's address (MAP_FIXED); tests replace it (placement_for_test.h).
std::atomic<FixedMmapFn> fixed_mmap{nullptr};

}  // namespace

bool RefillHole(void* address, size_t length) {
  const int err = errno;
  const size_t mapped_length = (length + PageSize() - 1) & ~(PageSize() - 1);
  bool placed = false;
  if (mapped_length >= length) {
    void* hole = mmap(address, mapped_length, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    placed = hole == address;
    if (hole != MAP_FAILED && !placed) munmap(hole, mapped_length);  // before 4.17: a hint, placed elsewhere
  }
  errno = err;
  return placed;
}

namespace {

int ToMmapProtection(Protection protection) {
  int prot = PROT_NONE;
  if (HasAll(protection, kProtRead)) prot |= PROT_READ;
  if (HasAll(protection, kProtWrite)) prot |= PROT_WRITE;
  if (HasAll(protection, kProtExec)) prot |= PROT_EXEC;
  return prot;
}

}  // namespace

// An aligned place is found by reserving more than is needed (PROT_NONE, no memory behind it) and mapping into it with
// MAP_FIXED. (Not with a hint: file systems whose mappings may use huge pages ask the kernel for a larger range and
// ignore a hint that only fits the mapping; not with MAP_FIXED_NOREPLACE: MAP_SHARED_VALIDATE refuses it, so MAP_SYNC
// could never be asked.) A MAP_FIXED mmap that fails may have unmapped its range first (before Linux 6.12 as a rule,
// from 6.12 still when the file system's mmap method fails), and another thread's mmap could take the hole before the
// reserve is given back: so a PROT_NONE mapping is first placed there without replacing anything. It fits only in a
// hole, which is then the reserve's again; where something is there, it is taken for the reserve, which a kernel
// that did not unmap kept (left: the window in which another thread's mmap took the hole, then destroyed by the
// munmap of the reserve, as before).
void* MapAligned(size_t length, size_t alignment, int prot, int flags, int fd, off_t offset) {
  const size_t reserve = length + alignment;
  const size_t mapped_length = (length + PageSize() - 1) & ~(PageSize() - 1);
  if (reserve < length || mapped_length < length) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  void* base = mmap(nullptr, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return MAP_FAILED;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(base);
  const uintptr_t aligned = (begin + alignment - 1) & ~(uintptr_t{alignment} - 1);
  void* addr = mmap(reinterpret_cast<void*>(aligned), length, prot, flags | MAP_FIXED, fd, offset);
  if (addr == MAP_FAILED) {
    RefillHole(reinterpret_cast<void*>(aligned), length);  // keeps errno
    const int err = errno;
    munmap(base, reserve);
    errno = err;
    return MAP_FAILED;
  }
  const uintptr_t mapped_end = aligned + mapped_length;
  if (aligned > begin) munmap(base, aligned - begin);
  if (begin + reserve > mapped_end) munmap(reinterpret_cast<void*>(mapped_end), begin + reserve - mapped_end);
  return addr;
}

size_t AddressAlignment(size_t length, size_t source_alignment) {
  return std::max(length >= 2 * kGiB ? kGiB : 2 * kMiB, source_alignment);
}

absl::Status AllocateFileBlocks(const MapRequest& request) {
  if (!request.fully_allocated || !request.writes_regular_file()) return absl::OkStatus();
  // The last page of a mapping may pass the end of the file: only what the file holds is allocated.
  uint64_t end = std::min(request.offset + request.length, request.source_size);
  if (end <= request.offset) return absl::OkStatus();
  // fallocate (a cancellation point) and, where the file system has none, glibc's posix_fallocate, which writes each
  // block with pread and pwrite.
  const internal::ScopedNoCancellation no_cancellation;
  // FALLOC_FL_KEEP_SIZE: the size read when the request was checked may be stale (another process truncated the
  // file since), and allocating up to it would grow the file back, where the Config promises never to change its size.
  int err = 0;
  for (int attempt = 0; attempt <= kMaxInterruptedSyncs; ++attempt) {
    err = fallocate(request.fd, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(request.offset),
                    static_cast<off_t>(end - request.offset)) == 0
              ? 0
              : errno;
    if (err != EINTR) break;
  }
  if (err == EOPNOTSUPP) {
    // No fallocate on this file system: glibc's posix_fallocate writes the blocks, up to the size the file has now
    // (a truncation between this fstat and the writes would still be undone: the window is only narrower).
    struct stat st;
    if (fstat(request.fd, &st) != 0) {
      err = errno;
    } else {
      end = std::min(end, static_cast<uint64_t>(st.st_size));
      if (end <= request.offset) return absl::OkStatus();
      for (int attempt = 0; attempt <= kMaxInterruptedSyncs; ++attempt) {
        err = posix_fallocate(request.fd, static_cast<off_t>(request.offset), static_cast<off_t>(end - request.offset));
        if (err != EINTR) break;
      }
    }
  }
  if (err == 0) return absl::OkStatus();
  return MakeErrnoError(err, absl::StrCat("allocating the ", end - request.offset, " bytes at offset ",
                                          request.offset, " of file descriptor ", request.fd,
                                          " (Config::set_fully_allocated)"));
}

absl::StatusOr<Placement> Place(const MapRequest& request, void* fixed_address, bool* fixed_range_lost) {
  Placement placement;
  bool lost = false;
  placement.alignment = fixed_address != nullptr ? size_t{1} << __builtin_ctzll(reinterpret_cast<uintptr_t>(
                                                                     fixed_address))
                                                 : AddressAlignment(request.length, request.source_alignment);
  const int prot = ToMmapProtection(request.protection);
  auto map = [&](int flags, int fd, off_t offset) {
    placement.flags = flags;
    if (fixed_address == nullptr) return MapAligned(request.length, placement.alignment, prot, flags, fd, offset);
    // Into a reservation's placeholder. A failure may have unmapped it first (see MapAligned): refilled at once.
    const FixedMmapFn fn = fixed_mmap.load(std::memory_order_acquire);
    void* addr = fn != nullptr ? fn(fixed_address, request.length, prot, flags | MAP_FIXED, fd, offset)
                               : mmap(fixed_address, request.length, prot, flags | MAP_FIXED, fd, offset);
    if (addr == MAP_FAILED) {
      // Most failures leave the placeholder as it was (every kernel's checks before the unmap; from 6.12 nearly all):
      // nothing to refill then, and RefillHole, which replaces nothing, would fail over it. A hole (the first page
      // tells: the failed call unmapped all of it or nothing) is refilled; if that fails, another thread's mmap took
      // part of it. (Not covered: one that took the first page itself before this look.)
      const int err = errno;
      unsigned char resident;
      const bool hole = mincore(fixed_address, PageSize(), &resident) != 0 && errno == ENOMEM;
      if (hole && !RefillHole(fixed_address, request.length)) lost = true;
      errno = err;
    }
    return addr;
  };
  const off_t offset = static_cast<off_t>(request.offset);
  void* addr = MAP_FAILED;
  if (request.anonymous()) {
    addr = map((request.is_private ? MAP_PRIVATE : MAP_SHARED) | MAP_ANONYMOUS, -1, 0);
  } else if (request.is_private) {
    addr = map(MAP_PRIVATE, request.fd, offset);
  } else {
    // EOPNOTSUPP: the file system cannot keep page tables valid without msync; EINVAL: kernel before 4.15.
    auto no_map_sync = [] { return errno == EOPNOTSUPP || errno == EINVAL; };
    // MAP_SYNC is first asked of a mapping the kernel places (one granule, unmapped at once): a MAP_FIXED mmap over a
    // reservation's placeholder that the file system refuses (ext4 or xfs not on DAX: EOPNOTSUPP from its mmap
    // method) has already unmapped what it replaces, and the range would be a hole that another thread's mmap could
    // take until the second mmap replaced that mapping; MapAligned's reserve likewise. A probe that fails for another
    // reason fails the Create with its errno: the mapping would fail the same way.
    bool try_sync = true;
    const size_t granule = std::max(PageSize(), request.source_alignment);
    void* probe = mmap(nullptr, granule, prot, MAP_SHARED_VALIDATE | MAP_SYNC, request.fd, offset);
    bool probe_failed = false;  // for another reason than MAP_SYNC: the mapping itself would fail the same way
    if (probe != MAP_FAILED) {
      munmap(probe, granule);
    } else {
      try_sync = !no_map_sync();
      probe_failed = try_sync;
    }
    if (probe_failed) {
      addr = MAP_FAILED;  // errno is the probe's
    } else {
      if (try_sync) {
        addr = map(MAP_SHARED_VALIDATE | MAP_SYNC, request.fd, offset);
        placement.synchronous = addr != MAP_FAILED;
      }
      if (!try_sync || (addr == MAP_FAILED && !lost && no_map_sync())) addr = map(MAP_SHARED, request.fd, offset);
    }
  }
  if (addr == MAP_FAILED) {
    const int err = errno;
    if (lost) {
      if (fixed_range_lost != nullptr) *fixed_range_lost = true;
      return MakeErrnoError(err, absl::StrCat("mmap of ", request.length, " bytes at offset ", request.offset,
                                              " into 0x", absl::Hex(reinterpret_cast<uintptr_t>(fixed_address)),
                                              " failed after unmapping the reservation's placeholder, "
                                              "and another mapping took part of the range before it could be "
                                              "reserved again: that range is lost to the reservation"));
    }
    if (err == EACCES && !request.anonymous()) {
      // Also a file marked append-only (chattr +a), whose shared mappings the kernel refuses to a descriptor open for
      // writing whatever the protection (O_APPEND does not matter: do_mmap looks at the inode); else a protection the
      // descriptor's access mode does not allow.
      return MakeError(ErrorCode::kNoAccess,
                       absl::StrCat("mmap of file descriptor ", request.fd, " with protection 0x",
                                    absl::Hex(static_cast<unsigned>(request.protection)),
                                    " refused (EACCES): the descriptor's access mode does not allow it, or the file "
                                    "is marked append-only (chattr +a)"));
    }
    return MakeErrnoError(err, absl::StrCat("mmap of ", request.length, " bytes at offset ", request.offset));
  }
  placement.address = addr;
  // Device DAX is always synchronous, whatever the kernel said about the MAP_SYNC flag.
  placement.synchronous = placement.synchronous || request.kind == SourceKind::kDeviceDax;
  return placement;
}

void SetFixedMmapForTest(FixedMmapFn fn) { fixed_mmap.store(fn, std::memory_order_release); }

}  // namespace map_internal
}  // namespace pmem2
