// Copyright 2026 The pmem2 Authors.

#include "pmem2/map_file/map_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "pmem2/errors/errors.h"
#include "pmem2/internal/fork_safe_mutex.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/internal/proc_fd_path.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map_file/map_file_for_test.h"
#include "pmem2/source/device_dax.h"
#include "pmem2/source/source.h"
#include "pmem2/sysfs/sysfs.h"
#include "pmem2/vm_reservation/vm_reservation.h"

namespace pmem2 {
namespace map_file_internal {
namespace {
std::atomic<AfterCreateFn> after_create_for_test{nullptr};
std::atomic<AfterSizeFn> after_size_for_test{nullptr};
std::atomic<FallocateFn> fallocate_for_test{nullptr};
}  // namespace

void SetAfterCreateForTest(AfterCreateFn hook) { after_create_for_test.store(hook, std::memory_order_relaxed); }
void SetAfterSizeForTest(AfterSizeFn hook) { after_size_for_test.store(hook, std::memory_order_relaxed); }
void SetFallocateForTest(FallocateFn fallocate) { fallocate_for_test.store(fallocate, std::memory_order_relaxed); }

namespace {
// This thread's umask, from /proc/thread-self/status ("Umask:", Linux 4.7): umask(2) cannot read it without setting
// it, which races with other threads' creations. nullopt where /proc or the line is missing.
std::optional<mode_t> ThreadUmask() {
  // Into a buffer of its own, with nothing that allocates while the descriptor is open: a std::bad_alloc there would
  // leak it (out_of_memory_test). "Umask:" is the second line (fs/proc/array.c); 4 KiB hold it.
  char buffer[4096];
  size_t filled = 0;
  const int fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  while (filled < sizeof buffer) {
    const ssize_t n = read(fd, buffer + filled, sizeof buffer - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    filled += static_cast<size_t>(n);
  }
  close(fd);
  const absl::string_view status(buffer, filled);
  const size_t at = status.find("\nUmask:");
  if (at == absl::string_view::npos) return std::nullopt;
  size_t i = status.find_first_not_of(" \t", at + 7);
  mode_t mask = 0;
  int digits = 0;
  for (; i < status.size() && status[i] >= '0' && status[i] <= '7'; ++i, ++digits) {
    mask = static_cast<mode_t>(mask * 8 + static_cast<mode_t>(status[i] - '0'));
  }
  if (digits == 0) return std::nullopt;
  return mask & 0777;
}
}  // namespace

// Gives the file made with O_TMPFILE in `folder` the mode open(O_CREAT) would have: kernels before "fs: Add missing
// umask strip in vfs_tmpfile" (6.0) skip the umask there unless the file system applies POSIX ACLs, so 0666 came out
// world-writable under umask 022. The umask bits are only taken away (never a bit added), and only where the folder
// has no default ACL: with one, the kernel derives the mode from the ACL and ignores the umask, as open(O_CREAT) does.
// false: the mode could not be made sure of (no umask to read, the ACL or fchmod failing); the caller then creates by
// name, which the kernel applies the umask to.
bool ApplyUmask(int fd, const std::string& folder) {
  const std::optional<mode_t> mask = ThreadUmask();
  struct stat st;
  if (!mask.has_value() || fstat(fd, &st) != 0) return false;
  const mode_t mode = st.st_mode & 07777;
  if ((mode & *mask) == 0) return true;
  if (getxattr(folder.c_str(), "system.posix_acl_default", nullptr, 0) >= 0) return true;
  if (errno != ENODATA && errno != ENOTSUP) return false;
  return fchmod(fd, mode & ~*mask) == 0;
}
}  // namespace map_file_internal

namespace {

absl::Status Invalid(absl::string_view message) { return MakeErrnoError(EINVAL, message); }

absl::Status SystemError(int err, const std::string& what) { return MakeErrnoError(err, what); }

// An open descriptor, whether MapFile made the file, and whether it must remove it if a later step fails.
struct OpenedFile {
  int fd = -1;
  bool created = false;      // made here (by name, or unnamed with tmpfile)
  std::string created_path;  // removed if a later step fails: made here by name with exclusive; else empty
};

absl::StatusOr<OpenedFile> OpenTemporary(const std::string& folder, bool exclusive) {
  OpenedFile opened;
  opened.created = true;
  opened.fd = open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0600);
  if (opened.fd >= 0) return opened;
  const int err = errno;
  // EOPNOTSUPP / EISDIR: the file system has no O_TMPFILE; then a named file removed at once.
  if (err != EOPNOTSUPP && err != EISDIR) return SystemError(err, absl::StrCat("O_TMPFILE in ", folder));
  std::string name = folder + "/pmem2.XXXXXX";
  std::vector<char> buffer(name.begin(), name.end());
  buffer.push_back('\0');
  int mkostemp_err = 0;
  {
    // No signal between the two (a SIGTERM's default action, a handler that exits): the named file would stay.
    const internal::ScopedSignalsBlocked no_signals;
    opened.fd = mkostemp(buffer.data(), O_CLOEXEC);
    mkostemp_err = errno;
    if (opened.fd >= 0) unlink(buffer.data());
  }
  if (opened.fd < 0) return SystemError(mkostemp_err, absl::StrCat("creating a temporary file in ", folder));
  return opened;
}

absl::StatusOr<OpenedFile> OpenOrCreate(const std::string& path, const MapFileOptions& options) {
  OpenedFile opened;
  if (options.create) {
    // Removed on failure only with exclusive, as libpmem: without it another caller's create may meanwhile have
    // opened this file (its O_EXCL open failing with EEXIST), mapped it and made data durable there, which removing
    // the name would lose with the file. (With exclusive, such a caller without it still loses: map_file.h.) Copied
    // before the open: a copy that fails for want of memory (std::bad_alloc) after it would leave the file made and
    // its descriptor open, with nothing to remove or close them (out_of_memory_test).
    if (options.exclusive) opened.created_path = path;
    opened.fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
    if (opened.fd >= 0) {
      opened.created = true;
      if (map_file_internal::AfterCreateFn hook = map_file_internal::after_create_for_test.load()) hook(path);
      return opened;
    }
    if (errno != EEXIST || options.exclusive) {
      const int err = errno;  // before the message is built
      return SystemError(err, absl::StrCat("creating ", path));
    }
    opened.created_path.clear();
  }
  opened.fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (opened.fd < 0 && errno == ENOENT && options.create) {
    // A dangling symbolic link (O_EXCL takes any link for an existing file), or a file removed since: made as
    // libpmem makes it, with O_CREAT, which follows the link. Not known to be made here, so not removed on failure.
    opened.fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, options.mode);
  }
  if (opened.fd < 0) {
    const int err = errno;  // before the message is built
    return SystemError(err, absl::StrCat("opening ", path));
  }
  return opened;
}

// Whether `path` names a Device DAX, from stat(2) (following symbolic links, as open does) and sysfs, before
// anything is opened: Device DAX has its own flag and length rules (map_file.h), and libpmem decides them first,
// so that create with length 0 is accepted there and exclusive is EINVAL rather than open's EEXIST. A path that
// cannot be looked up is no Device DAX here; the open that follows reports why.
bool IsDeviceDaxPath(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) return false;
  return source_internal::IsDeviceDax(sysfs_internal::Root(), major(st.st_rdev), minor(st.st_rdev));
}

// The options a Device DAX accepts: create and sparse (ignored: the device is neither made nor sized), any length
// (checked against the device's size once it is open).
absl::Status CheckDeviceDaxOptions(const std::string& path, const MapFileOptions& options) {
  const char* refused = options.exclusive ? "exclusive (PMEM_FILE_EXCL)"
                        : options.tmpfile ? "tmpfile (PMEM_FILE_TMPFILE)"
                                          : nullptr;
  if (refused == nullptr) return absl::OkStatus();
  return Invalid(absl::StrCat(path, " is Device DAX: ", refused,
                              " is not accepted there (only create and sparse are, and ignored)"));
}

// The flag and length rules for everything that is not Device DAX.
absl::Status CheckFileOptions(const MapFileOptions& options) {
  if (options.tmpfile && !options.create) return Invalid("tmpfile needs create (PMEM_FILE_CREATE)");
  if (options.create && options.length == 0) return Invalid("create needs a length (the file's size) above 0");
  if (!options.create && options.length != 0) {
    return Invalid(absl::StrCat("length ", options.length, " given without create: an existing file is mapped whole"));
  }
  if (options.length > static_cast<uint64_t>(INT64_MAX)) {
    // EINVAL, not EFBIG: libpmem's errno for a length that is negative as an off_t.
    return Invalid(absl::StrCat("length ", options.length, " is larger than any file can be"));
  }
  return absl::OkStatus();
}

// Whether `path` (not following a final symbolic link) is the file open as `fd`.
bool PathNamesFile(const std::string& path, int fd) {
  struct stat by_path, by_fd;
  return lstat(path.c_str(), &by_path) == 0 && fstat(fd, &by_fd) == 0 && by_path.st_dev == by_fd.st_dev &&
         by_path.st_ino == by_fd.st_ino;
}

int Fallocate(int fd, uint64_t offset, uint64_t length) {
  if (map_file_internal::FallocateFn fallocate = map_file_internal::fallocate_for_test.load()) {
    return fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(length));
  }
  return posix_fallocate(fd, static_cast<off_t>(offset), static_cast<off_t>(length));
}

// Allocates the blocks of [0, length) of `fd`. One posix_fallocate first, so that a failure (ENOSPC) leaves nothing
// allocated where the file system undoes a failed call (tmpfs), as libpmem's one call does. If signals interrupt it
// (EINTR), in pieces, each retried: tmpfs before "tmpfs: don't interrupt fallocate with EINTR" (2024; Debian 12's 6.1
// may lack it) fails with EINTR whenever any signal is pending and throws away what it allocated, so retrying the whole
// range under a periodic timer signal never ends. A piece interrupted kFallocateTriesPerPiece times in a row is halved,
// down to kSmallestFallocatePiece; one of that size interrupted as often fails the call with EINTR. Each try either
// keeps a piece or counts towards that bound, so the loop ends. Another error of a piece fails the call, with the
// pieces before it still allocated.
constexpr uint64_t kLargestFallocatePiece = uint64_t{1} << 30;
constexpr uint64_t kSmallestFallocatePiece = uint64_t{1} << 20;
constexpr int kFallocateTriesPerPiece = 4;

absl::Status AllocateBlocks(int fd, const std::string& path, uint64_t length) {
  int err = Fallocate(fd, 0, length);
  if (err == 0) return absl::OkStatus();
  if (err != EINTR) return SystemError(err, absl::StrCat("allocating the ", length, " bytes of ", path));
  uint64_t piece = std::max(kSmallestFallocatePiece, std::min(kLargestFallocatePiece, length / 2));
  uint64_t done = 0;
  int interrupted = 0;  // tries of this piece size in a row that EINTR ended
  while (done < length) {
    const uint64_t size = std::min(piece, length - done);
    err = Fallocate(fd, done, size);
    if (err == 0) {
      done += size;
      interrupted = 0;
      continue;
    }
    if (err != EINTR) return SystemError(err, absl::StrCat("allocating the ", length, " bytes of ", path));
    if (++interrupted < kFallocateTriesPerPiece) continue;
    if (piece == kSmallestFallocatePiece) {
      return SystemError(
          EINTR, absl::StrCat("allocating the ", length, " bytes of ", path, ": interrupted by signals ", interrupted,
                              " times in a row in pieces of ", size, " bytes at offset ", done));
    }
    piece = std::max(kSmallestFallocatePiece, piece / 2);
    interrupted = 0;
  }
  return absl::OkStatus();
}

// Create's sizing of a regular file: extended or truncated to `length`, then allocated unless sparse.
absl::Status SizeFile(int fd, const std::string& path, const MapFileOptions& options) {
  int rc;
  do {  // a signal may interrupt it on a network or FUSE file system
    rc = ftruncate(fd, static_cast<off_t>(options.length));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;  // before the message is built
    return SystemError(err, absl::StrCat("setting the size of ", path, " to ", options.length));
  }
  if (!options.sparse) {
    if (absl::Status s = AllocateBlocks(fd, path, options.length); !s.ok()) return s;
  }
  if (map_file_internal::AfterSizeFn hook = map_file_internal::after_size_for_test.load()) hook(fd);
  return absl::OkStatus();
}

// Map::Create() in the first free range at or above `hint` (libpmem's PMEM_MMAP_HINT: "at the specified address
// (if not used) or at the first unused region above given address"), aligned as Debian's libpmem 1.12.1 aligns it
// (1 GiB for 2 GiB and more, else 2 MiB, the hint itself rounded up: libpmem_mmap_hint_test); anywhere if none is
// found. The reservation handle can go at once: the range stays reserved while the Map lives (vm_reservation.h),
// and is released with it.
absl::StatusOr<Map> MapAtHint(Config config, const Source& source, void* hint) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  absl::StatusOr<uint64_t> size = source.Size();
  if (hint != nullptr && size.ok() && *size > 0 && *size <= SIZE_MAX - page) {
    const size_t length = (*size + page - 1) / page * page;
    const size_t align = length >= (size_t{2} << 30) ? size_t{1} << 30 : size_t{2} << 20;
    uintptr_t from = reinterpret_cast<uintptr_t>(hint);
    // A few tries: another thread may take the range found between the look and the reservation, and the kernel
    // may refuse a range (below mmap_min_addr: EPERM).
    for (int attempt = 0; attempt < 4; ++attempt) {
      const uintptr_t at = map_internal::FirstFreeRangeFrom(from, length, align);
      if (at == 0) break;
      absl::StatusOr<VmReservation> reservation = VmReservation::CreateAt(reinterpret_cast<void*>(at), length);
      if (reservation.ok()) {
        config.set_vm_reservation(&*reservation, 0);
        absl::StatusOr<Map> map = Map::Create(config, source);
        if (map.ok()) return map;
        break;  // the mapping itself failed: not for want of room
      }
      if (at > UINTPTR_MAX - align) break;
      from = at + align;
    }
  }
  config.set_vm_reservation(nullptr, 0);
  return Map::Create(config, source);
}

// Create of a missing file, made atomic: the file is made unnamed (O_TMPFILE in the path's folder, with `mode` under
// the umask: ApplyUmask), sized and mapped, and linked at `path` only once the mapping succeeded, so that no other
// caller can open it before then, and a call that fails leaves no name behind, which another caller might have opened
// the file by. Linked through /proc/thread-self/fd (linkat's AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH): /proc/self/fd
// shows the thread-group leader's descriptor table, which differs from the calling thread's after an
// unshare(CLONE_FILES), and the link would then name whatever the leader has open under that number. The magic link is
// checked to lead to this file before linking, and `path` to name it after. true: done (mapped, linked, kept).
// false: nothing done, nothing left, go on by name: `path` exists (a dangling symbolic link too, whose target is made
// by name: map_file.h) or cannot be looked up, the folder's file system has no O_TMPFILE, /proc (or thread-self:
// Linux 3.17) is missing, the mode cannot be made sure of, the link fails for a reason other than EEXIST (the creation
// by name then reports the system's error for the same cause, or works where only linking is refused), or another
// caller linked a file at `path` first (without exclusive, that file is then opened as an existing one).
absl::StatusOr<bool> MapNewFileMadeUnnamed(const std::string& path, const MapFileOptions& options,
                                           absl::FunctionRef<void(MappedFile&&, int fd)> keep) {
  if (path.empty() || path.back() == '/') return false;
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 || errno != ENOENT) return false;
  const size_t slash = path.rfind('/');
  const std::string folder = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  // Any error: the creation by name reports the real one (ENOENT, EACCES, ...), or works where O_TMPFILE does not
  // (EOPNOTSUPP; EISDIR or EINVAL from kernels or file systems without it).
  const int fd = open(folder.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, options.mode);
  if (fd < 0) return false;
  int named_fd = -1;
  bool linked = false;
  bool kept = false;
  auto cleanup = absl::MakeCleanup([&] {
    // Only when `keep` threw (std::bad_alloc) after the link, and while the path still names this file: the one
    // window left where another caller may have opened it by its name (between the link and the throw).
    if (linked && !kept && PathNamesFile(path, fd)) unlink(path.c_str());
    if (named_fd >= 0) close(named_fd);
    close(fd);
  });
  const internal::ProcFdPath proc(fd);
  const char* const proc_path = proc.path;
  struct stat by_proc, by_fd;
  // No /proc (or no thread-self), or a magic link that leads elsewhere: it could not be linked.
  if (stat(proc_path, &by_proc) != 0 || fstat(fd, &by_fd) != 0 || by_proc.st_dev != by_fd.st_dev ||
      by_proc.st_ino != by_fd.st_ino) {
    return false;
  }
  if (!map_file_internal::ApplyUmask(fd, folder)) return false;
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return WithMessagePrefix(path, source.status());
  if (absl::Status s = SizeFile(fd, path, options); !s.ok()) return s;
  Config config;
  config.set_required_store_granularity(options.required_granularity);
  absl::StatusOr<Map> map = MapAtHint(config, *source, options.address_hint);
  if (!map.ok()) return WithMessagePrefix(path, map.status());
  if (linkat(AT_FDCWD, proc_path, AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    if (errno == EEXIST && options.exclusive) {
      return SystemError(EEXIST, absl::StrCat("creating ", path, " (another caller made it meanwhile)"));
    }
    return false;  // ours is unmapped and goes with its descriptor
  }
  linked = true;
  if (map_file_internal::AfterCreateFn hook = map_file_internal::after_create_for_test.load()) hook(path);
  // `keep` gets a descriptor opened through the name (O_PATH: no permission asked), which /proc names by `path`
  // (pmem_map_file's forked child opens the file again by that name), where the unnamed one's stays "(deleted)".
  named_fd = open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (named_fd < 0 && errno != ENOENT) {
    const int err = errno;  // EMFILE, ENOMEM: the file stays ours, and goes with the cleanup
    return SystemError(err, absl::StrCat("opening ", path, " after linking it"));
  }
  struct stat by_name;
  if (named_fd < 0 || fstat(named_fd, &by_name) != 0 || by_name.st_dev != by_fd.st_dev ||
      by_name.st_ino != by_fd.st_ino) {
    // The path does not name the file mapped (replaced or removed since the link): a success would hand back a
    // mapping of a file with no name, whose data goes with the last unmap. What the path names is not ours to remove.
    return SystemError(EIO, absl::StrCat("creating ", path, ": after the link, ", path,
                                         " no longer names the file made and mapped (replaced or removed meanwhile)"));
  }
  MappedFile mapped{*std::move(map), false};
  mapped.is_pmem = mapped.map.store_granularity() != StoreGranularity::kPage;
  keep(std::move(mapped), named_fd);
  kept = true;
  return true;
}

// Map of an existing file that `options` resizes to `options.length`. Shrunk: after a trial mapping of the part that
// stays (at least a page), which refuses what the mapping would (a granularity the file system cannot give, a PMEM_*
// variable), and after allocating the part that stays (SizeFile's allocation, within the old size), so that such a
// failure does not lose what lay past `length`; a mapping that still fails after the shrink (no address space left for
// it) leaves the file shrunk. Grown: before the mapping (which needs the bytes), and never cut back, even when the
// mapping then fails (as libpmem): from the moment the file has its new size, another thread or process may map it
// whole and make data past the old end durable there (map_file.h), and cutting the file back would destroy that data
// and make its next read there SIGBUS. Nothing tells such a mapping from none.
absl::StatusOr<Map> MapExistingFileResized(int fd, const std::string& path, const MapFileOptions& options,
                                           const Source& source, const Config& config) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    return SystemError(err, absl::StrCat("reading the size of ", path));
  }
  const uint64_t old_size = static_cast<uint64_t>(st.st_size);
  if (options.length >= old_size) {
    if (absl::Status s = SizeFile(fd, path, options); !s.ok()) return s;
    absl::StatusOr<Map> map = MapAtHint(config, source, options.address_hint);
    if (!map.ok()) return WithMessagePrefix(path, map.status());
    return map;
  }
  {
    // Of the part that stays, in whole granules (Config lengths must be), so that a huge old file is not mapped
    // whole for nothing.
    Config trial_config = config;
    absl::StatusOr<size_t> alignment = source.Alignment();
    if (!alignment.ok()) return WithMessagePrefix(path, alignment.status());
    // At least one granule where the old file has one (length 0 would mean the whole file).
    trial_config.set_length(old_size >= *alignment ? std::max(options.length / *alignment, uint64_t{1}) * *alignment
                                                   : 0);
    if (absl::StatusOr<Map> trial = Map::Create(trial_config, source); !trial.ok()) {
      return WithMessagePrefix(path, trial.status());
    }
  }
  if (!options.sparse) {
    if (absl::Status s = AllocateBlocks(fd, path, options.length); !s.ok()) return s;
  }
  int rc;
  do {
    rc = ftruncate(fd, static_cast<off_t>(options.length));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    return SystemError(err, absl::StrCat("setting the size of ", path, " to ", options.length));
  }
  absl::StatusOr<Map> map = MapAtHint(config, source, options.address_hint);
  if (!map.ok()) return WithMessagePrefix(path, map.status());
  return map;
}

}  // namespace

absl::StatusOr<MapFileOptions> MapFileOptionsFromFlags(int flags, size_t length, mode_t mode) {
  if ((flags & ~(kFileCreate | kFileExclusive | kFileSparse | kFileTmpfile)) != 0) {
    return Invalid(absl::StrCat("flags ", flags, " hold bits that are no PMEM_FILE_* flag"));
  }
  MapFileOptions options;
  options.create = (flags & kFileCreate) != 0;
  options.exclusive = (flags & kFileExclusive) != 0;
  options.sparse = (flags & kFileSparse) != 0;
  options.tmpfile = (flags & kFileTmpfile) != 0;
  options.length = length;
  options.mode = mode;
  return options;
}

absl::StatusOr<MappedFile> MapFile(const std::string& path, const MapFileOptions& options) {
  std::optional<MappedFile> kept;
  absl::Status status =
      map_file_internal::MapFileInto(path, options, [&kept](MappedFile&& file, int) { kept.emplace(std::move(file)); });
  if (!status.ok()) return status;
  return *std::move(kept);
}

namespace map_file_internal {

absl::Status MapFileInto(const std::string& path, const MapFileOptions& options,
                         absl::FunctionRef<void(MappedFile&&, int fd)> keep) {
  // open(), mkostemp() and close(), the file's removal on failure among them: all or nothing.
  const internal::ScopedNoCancellation no_cancellation;
  const bool device_dax = IsDeviceDaxPath(path);
  if (absl::Status s =
          device_dax ? CheckDeviceDaxOptions(path, options) : WithMessagePrefix(path, CheckFileOptions(options));
      !s.ok()) {
    return s;
  }
  if (!device_dax && options.create && !options.tmpfile) {
    absl::StatusOr<bool> made = MapNewFileMadeUnnamed(path, options, keep);
    if (!made.ok()) return made.status();
    if (*made) return absl::OkStatus();
  }
  absl::StatusOr<OpenedFile> opened;
  if (device_dax) {
    // Opened as it is: a device is never created, and O_CREAT | O_EXCL would fail with EEXIST.
    opened = OpenedFile{open(path.c_str(), O_RDWR | O_CLOEXEC), false, ""};
    if (opened->fd < 0) {
      const int err = errno;  // before the message is built
      return SystemError(err, absl::StrCat("opening ", path));
    }
  } else {
    opened = options.tmpfile ? OpenTemporary(path, options.exclusive) : OpenOrCreate(path, options);
  }
  if (!opened.ok()) return opened.status();
  const int fd = opened->fd;
  bool keep_file = false;
  auto cleanup = absl::MakeCleanup([&] {
    // The file made here by name with exclusive goes again, only while its path still names it: another process may
    // have renamed or replaced it meanwhile, and a file it put there is not ours to remove. (POSIX has no unlink by
    // descriptor, so a replacement between the check and the unlink still loses; the window is two system calls.)
    if (!keep_file && !opened->created_path.empty() && PathNamesFile(opened->created_path, fd)) {
      unlink(opened->created_path.c_str());
    }
    close(fd);
  });
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return WithMessagePrefix(path, source.status());
  // What was opened decides, as the descriptor is what gets mapped: the path may have been replaced since the
  // stat above. Then the other kind's rules apply as if it had been there from the start.
  if (source->kind() == SourceKind::kDeviceDax) {
    if (absl::Status s = CheckDeviceDaxOptions(path, options); !s.ok()) return s;
    absl::StatusOr<uint64_t> size = source->Size();
    if (!size.ok()) return WithMessagePrefix(path, size.status());
    if (options.length != 0 && options.length != *size) {
      return Invalid(absl::StrCat(path, " is Device DAX of ", *size, " bytes: length must be 0 or ", *size,
                                  ", not ", options.length));
    }
  } else {
    if (device_dax) {
      if (absl::Status s = CheckFileOptions(options); !s.ok()) return WithMessagePrefix(path, s);
    }
  }
  Config config;
  config.set_required_store_granularity(options.required_granularity);
  absl::StatusOr<Map> map = absl::InternalError("not mapped");
  if (source->kind() != SourceKind::kDeviceDax && options.create && !opened->created) {
    // An existing file resized: not cut short by a call that fails where a trial mapping can tell beforehand (a
    // granularity the file system cannot give, a PMEM_* variable), which would lose what lay past `length`.
    absl::StatusOr<Map> resized = MapExistingFileResized(fd, path, options, *source, config);
    if (!resized.ok()) return resized.status();
    map = *std::move(resized);
  } else {
    if (source->kind() != SourceKind::kDeviceDax && options.create) {
      if (absl::Status s = SizeFile(fd, path, options); !s.ok()) return s;
    }
    map = MapAtHint(config, *source, options.address_hint);
    if (!map.ok()) return WithMessagePrefix(path, map.status());
  }
  MappedFile mapped{*std::move(map), false};
  mapped.is_pmem = mapped.map.store_granularity() != StoreGranularity::kPage;
  keep(std::move(mapped), fd);
  keep_file = true;
  return absl::OkStatus();
}

}  // namespace map_file_internal

}  // namespace pmem2
