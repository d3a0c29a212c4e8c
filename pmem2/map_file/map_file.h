// Copyright 2026 The pmem2 Authors.
//
// pmem2/map_file/map_file.h
// -----------------------------------------------------------------------------
//
// `pmem2::MapFile()` opens or creates a file by path and maps all of it in one call, in the spirit of
// libpmem's pmem_map_file(): for programs that want "a persistent region in this file" without handling
// descriptors, sources and configs. The result is an ordinary pmem2::Map (its functions, Status methods and
// sticky persistence error work as for any Map) plus whether the file is persistent memory, i.e. whether stores
// become durable through the CPU (flush + fence) rather than msync.
//
// Example: a 64 MiB log, created if missing, fully allocated so that a full disk is an error here and not a
// SIGBUS later.
//
//   pmem2::MapFileOptions options;
//   options.create = true;
//   options.length = 64 << 20;
//   absl::StatusOr<pmem2::MappedFile> file = pmem2::MapFile("/mnt/pmem/log", options);
//   if (!file.ok()) return file.status();       // e.g. kErrno with GetErrno() == ENOENT for a missing folder
//   file->map.memcpy_fn()(file->map.address(), record, size, 0);
//
// What each option does (libpmem's PMEM_FILE_* flags, whose meaning it keeps):
//   * neither create nor tmpfile: `path` must exist; all of it is mapped; `length` must be 0.
//   * create (PMEM_FILE_CREATE): `path` is created with `mode` if missing; an existing file is extended or
//     truncated to `length` (which must not be 0). Unless `sparse`, every block is then allocated
//     (posix_fallocate), so a full file system is kResourceExhausted here. An allocation that signals interrupt
//     (EINTR) goes on in pieces, down to 1 MiB; one such piece interrupted 4 times in a row fails with EINTR. A missing
//     file is made unnamed (O_TMPFILE in the path's folder), sized and mapped, and linked at `path` only then: no
//     other caller can open it before it is whole, and a call that fails leaves nothing behind. If another caller
//     put a file at `path` first, that one is opened and resized as an existing file (exclusive: EEXIST). If `path`
//     no longer names the file mapped right after the link (another process renamed or replaced it), the call fails
//     with EIO and removes nothing. The mode is `mode` under the calling thread's umask, as with open(O_CREAT), or
//     from the folder's default ACL. The file is created by name first instead, as libpmem does, where the folder's
//     file system has no O_TMPFILE, /proc is not mounted or lacks /proc/thread-self (Linux 3.17) or its "Umask:"
//     line (4.7), or the link fails for any reason other than EEXIST: EPERM (protected_hardlinks, where the file
//     system gives the file another owner), EXDEV, ENOSPC, EDQUOT, a seccomp or LSM denial. The creation by name then
//     reports the system's error for the same cause, as libpmem, or works where only linking is refused: failing
//     instead would refuse files libpmem makes. A call that fails after that leaves the file, sized, unless
//     exclusive: then it is removed (while `path` still names it), and another caller whose create without exclusive
//     opened it meanwhile loses it with its name, as with libpmem. Under SELinux, a file made unnamed gets the label
//     the folder's rules give a new file, not one a name-based type_transition rule would give it (the name comes
//     after). An existing file is never removed. Of an existing
//     file to shrink, the part that stays is first mapped on trial, so that what would refuse the mapping refuses
//     before the shrink; only a mapping that fails after it, for want of address space, leaves it shrunk. An existing
//     file grown stays at `length` (or whatever size another caller gave it meanwhile) when a later step fails, as in
//     libpmem: once it has that size another thread or process may map it and make data durable past the old
//     end, which cutting it back would destroy.
//     Through a symbolic link whose target is missing, the target is created (as open(O_CREAT) does), and not
//     removed on failure (as libpmem).
//   * exclusive (PMEM_FILE_EXCL, with create): fail with EEXIST if `path` exists.
//   * sparse (PMEM_FILE_SPARSE, with create): size the file with ftruncate only (holes; see map.h on SIGBUS).
//   * tmpfile (PMEM_FILE_TMPFILE, with create): `path` is a folder; an unnamed file (mode 0600) is created in
//     it (O_TMPFILE, or where the file system lacks it a named file removed at once, with signals blocked in
//     between), so nothing is left behind however the process ends (but for SIGKILL or a crash between the two
//     calls on such a file system). With exclusive, it can never be linked into the file system.
//   * Device DAX (`path`, after symbolic links, is a character device that sysfs puts in the dax subsystem, e.g.
//     /dev/dax0.0): recognised before any of the rules above, which do not apply to it. Create and sparse are
//     accepted and ignored (nothing is created or sized); exclusive or tmpfile is EINVAL naming the flag;
//     `length` is 0 or the device's exact size, with or without create (EINVAL naming both otherwise); all of the
//     device is mapped. Any other character device (/dev/null, /dev/zero) follows the rules above, as the
//     existing file it is: e.g. create + exclusive is EEXIST (libpmem: EINVAL; README's differences table).
// Errors are kErrno with the errno libpmem sets for the same input (GetErrno()): EINVAL for flag or length
// combinations the list above refuses, ENOENT, EEXIST, EACCES, ENOTDIR, ... from the system; plus Map::Create's
// errors (e.g. kSourceEmpty for an empty existing file).
//
// The descriptor is closed before MapFile returns; the mapping does not need it.

#ifndef PMEM2_MAP_FILE_MAP_FILE_H_
#define PMEM2_MAP_FILE_MAP_FILE_H_

#include <sys/types.h>

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "pmem2/config/config.h"
#include "pmem2/map/map.h"

namespace pmem2 {

struct MapFileOptions {
  bool create = false;
  bool exclusive = false;
  bool sparse = false;
  bool tmpfile = false;
  // The file's size with `create`; 0 otherwise. Device DAX: 0 or the device's size, with or without create.
  size_t length = 0;
  // For a file that `create` makes (not for tmpfile, always 0600).
  mode_t mode = 0600;
  // The coarsest granularity the program accepts; page accepts every file.
  StoreGranularity required_granularity = StoreGranularity::kPage;
  // Where to map (libpmem's PMEM_MMAP_HINT): the first free range at or above it, aligned as libpmem aligns it
  // (2 MiB, 1 GiB for 2 GiB and more; the hint itself rounded up); anywhere if there is none, as with null.
  void* address_hint = nullptr;
};

// libpmem's PMEM_FILE_* flag values, for MapFileOptionsFromFlags().
inline constexpr int kFileCreate = 1 << 0;
inline constexpr int kFileExclusive = 1 << 1;
inline constexpr int kFileSparse = 1 << 2;
inline constexpr int kFileTmpfile = 1 << 3;

// Options from pmem_map_file()'s flags, length and mode. kErrno / EINVAL for a bit outside the four flags.
absl::StatusOr<MapFileOptions> MapFileOptionsFromFlags(int flags, size_t length, mode_t mode);

struct MappedFile {
  Map map;
  // Stores become durable through the CPU (the map's granularity is byte or cache line: Device DAX, or a DAX
  // file system that accepts MAP_SYNC); false means persisting costs msync.
  bool is_pmem = false;
};

absl::StatusOr<MappedFile> MapFile(const std::string& path, const MapFileOptions& options);

namespace map_file_internal {

// MapFile, handing the mapped file to `keep` before a file MapFile created is kept: if `keep` throws (say
// std::bad_alloc), the mapping is unmapped, the file removed as after any failed step (one made unnamed is linked by
// then, and removed while `path` still names it), and the exception goes on. For pmem_map_file, whose table of
// mappings allocates once the map is made. `keep` also gets the descriptor the file was opened and mapped through
// (for a file made unnamed and linked: an O_PATH descriptor opened through `path`, which /proc names by it), open
// until `keep` returns (closed after).
absl::Status MapFileInto(const std::string& path, const MapFileOptions& options,
                         absl::FunctionRef<void(MappedFile&&, int fd)> keep);

}  // namespace map_file_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_FILE_MAP_FILE_H_
