// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/mcsafe_io.h
// -----------------------------------------------------------------------------
//
// Reading and writing a Source so that a bad block (poisoned persistent memory) is an error, not a SIGBUS: the
// way to salvage what is readable around a bad block, or to check a range before mapping it.
//
// Example:
//
//   absl::Status s = pmem2::ReadMcsafe(source, buffer, sizeof buffer, offset);
//   if (pmem2::GetErrorCode(s) == pmem2::ErrorCode::kIoFail) { /* bad block in range: restore from a replica */ }
//
// Medium by medium:
//   * regular files: pread(2) / pwrite(2), repeated for short transfers and EINTR. The kernel copies
//     persistent memory with machine-check-safe routines and returns EIO for a poisoned range, which becomes
//     kIoFail (libpmem2 1.12.1 returns -EIO here; pmem2 returns the documented PMEM2_E_IO_FAIL for every
//     medium); so does a read's EFAULT where one byte of the file's data at that offset cannot be read into
//     pmem2's own memory either (poison the block device does not list yet ends the kernel's copy with EFAULT; a
//     bad buffer of the caller's stays an errno error), and a write's EFAULT where the caller's buffer can be read
//     (on fsdax, Linux 6.0 on, a write over poison clears it only as a page-aligned write of whole pages; any other
//     write there fails with EFAULT). A write goes where pwrite puts it: to the page cache on ordinary file systems
//     (not durable until fsync/msync), straight to the medium on fsdax. hugetlbfs files, which
//     have no write(2), are written as Device DAX is, through a temporary mapping of whole huge pages (libpmem2 1.12.1
//     fails with -EINVAL there); a write into a last huge page that lies only partly in the file (fallocate can give
//     such a size) is kLengthUnaligned, since mapping that page would grow the file. A write through an O_APPEND
//     descriptor (a mapping too, see WriteMcsafe) allocates the range's whole pages first, up to the file's
//     end (fallocate, FALLOC_FL_KEEP_SIZE), so that a full file system is ENOSPC rather than a SIGBUS read as a bad
//     block (copy-on-write files, btrfs or reflinked xfs, may still fault there: kIoFail).
//   * Device DAX (no read/write system calls): a temporary mapping of the range and a copy that catches SIGBUS
//     (sigbus_guard.h: pmem2's handler is installed for the time of the copy, restored after, and passes every
//     other SIGBUS on to the handler the process had), kIoFail naming the faulting offset. Written data is
//     flushed from the CPU caches before the call returns; a write on a CPU that cannot (pmem2/arch's
//     writes_back_cache_lines false) is kNoSupp, nothing written, unless the platform writes the CPU caches back
//     itself (eADR), as Map::Create() refuses such a Device DAX.
//   * anonymous sources: kSourceTypeNotSupported.
//
// offset + size past the end of the source is kLengthOutOfRange naming both (also for size 0 at an offset past
// the end; libpmem2 1.12.1 accepts that); nothing is transferred then. A caller's buffer that cannot be read (write)
// or written (read) is an EFAULT errno error on every medium: on the mapped paths it is probed before the copy, and a
// SIGBUS at its pages during the copy (a mapping of a file truncated meanwhile) is EFAULT too, not kIoFail. After a
// kIoFail the part before the bad block may have been transferred (to Device DAX: not written back from the CPU caches;
// write it again). No allocation on the success path of a regular file (a Device DAX's size and alignment are read from
// sysfs, into strings, on each call). Thread-safe, as pread/pwrite are.
//
// Signal handlers: a guarded copy (Device DAX, hugetlbfs) may be made by a handler that interrupted another one (the
// guard blocks signals while it holds its lock), but not by one that can interrupt its thread inside another pmem2
// call holding a lock (a VmReservation's or a Map's setup): a fork() in another thread at that moment takes pmem2's
// locks in an order the two would deadlock in, as for page-granularity persists (pmem2/persist_fns.h).

#ifndef PMEM2_RAS_MCSAFE_IO_H_
#define PMEM2_RAS_MCSAFE_IO_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "pmem2/source/source.h"

namespace pmem2 {

// Reads `size` bytes at `offset` of `source` into `buf`.
absl::Status ReadMcsafe(const Source& source, void* buf, size_t size, uint64_t offset);

// Writes `size` bytes from `buf` at `offset` of `source` (never past its end: files are not extended, also
// through a descriptor opened with O_APPEND, which is then written through a shared mapping instead of pwrite).
// The end is the file's size when the call checks it: a file another process truncates during the call may be
// extended to the end of the write again (as by any pwrite), or, written through a mapping, fail with kIoFail.
absl::Status WriteMcsafe(const Source& source, const void* buf, size_t size, uint64_t offset);

}  // namespace pmem2

#endif  // PMEM2_RAS_MCSAFE_IO_H_
