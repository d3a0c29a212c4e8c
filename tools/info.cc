// Copyright 2026 The pmem2 Authors.

#include "tools/info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/arch/persist_ops.h"
#include "pmem2/internal/proc_fd_path.h"
#include "pmem2/pmem2.h"
#include "pmem2/ras/bad_blocks.h"
#include "pmem2/ras/device.h"
#include "pmem2/source/device_dax.h"
#include "pmem2/sysfs/sysfs.h"
#include "pmem2/uring/async_persister.h"
#include "tools/create_file.h"

namespace pmem2 {
namespace tools {
namespace {

// Every descriptor info opens: not inherited by anything it starts, never a controlling terminal, and never
// waiting (for a FIFO writer, a modem line, a tape): a non-blocking open of something unexpected fails or
// returns at once, and the type checks below refuse it.
constexpr int kOpenFlags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

absl::Status PathError(const std::string& path, absl::string_view what) {
  return absl::Status(absl::StatusCode::kFailedPrecondition, absl::StrCat(path, ": ", what));
}

// An error of pmem2 (Source, Map) naming `path` and ending with the code's name, its code and errno kept (info.h).
absl::Status Pmem2Error(const std::string& path, const absl::Status& status) {
  const ErrorCode code = GetErrorCode(status);
  if (code == ErrorCode::kUnknown) return WithMessagePrefix(path, status);
  return WithMessage(status, absl::StrCat(path, ": ", status.message(), " (", ErrorCodeName(code), ")"));
}

absl::Status OpenError(const std::string& path, int err) {
  switch (err) {
    case ENOENT: return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
    case EACCES:
    case EPERM: return absl::PermissionDeniedError(absl::StrCat(path, ": permission denied"));
    default: return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(path, ": ", std::strerror(err)));
  }
}

// A type pmem2 does not map, named the way the map errors are: the message, then the code's name.
absl::Status TypeError(const std::string& path, const struct stat& st) {
  std::string what;
  switch (st.st_mode & S_IFMT) {
    case S_IFDIR: what = "is a directory; give a file or a Device DAX (/dev/daxX.Y)"; break;
    case S_IFIFO: what = "is a FIFO (named pipe); pmem2 maps regular files and Device DAX"; break;
    case S_IFSOCK: what = "is a socket; pmem2 maps regular files and Device DAX"; break;
    case S_IFBLK:
      what = absl::StrCat("is a block device (", major(st.st_rdev), ":", minor(st.st_rdev),
                          "); pmem2 maps a file on its DAX file system, or a Device DAX (/dev/daxX.Y)");
      break;
    case S_IFCHR:
      what = absl::StrCat("is a character device (", major(st.st_rdev), ":", minor(st.st_rdev),
                          ") that is not Device DAX; pmem2 maps regular files and Device DAX");
      break;
    default: what = "is neither a regular file nor Device DAX; pmem2 maps only those"; break;
  }
  return MakeError(ErrorCode::kInvalidFileType,
                   absl::StrCat(path, ": ", what, " (", ErrorCodeName(ErrorCode::kInvalidFileType), ")"));
}

bool SameFile(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && (a.st_mode & S_IFMT) == (b.st_mode & S_IFMT) &&
         a.st_rdev == b.st_rdev;
}

// An open descriptor of PATH, what fstat said about it, and how info came by it.
struct Opened {
  int fd = -1;
  struct stat st = {};
  bool writable = false;
  bool created = false;
};

// Opens `path`, pinned as the O_PATH descriptor `pinned` whose fstat is `st`, for mapping: read-write if
// allowed, else read-only (info only needs to map). Reopening the pinned descriptor through /proc/thread-self/fd opens
// exactly the inode that was checked (the calling thread's table: internal::ProcFdPath), so a path swapped after the
// check cannot make info open a FIFO or a device. Without /proc it opens the path again, and the fstat comparison below
// catches a swap.
absl::StatusOr<Opened> OpenChecked(int pinned, const std::string& path, const struct stat& st) {
  const pmem2::internal::ProcFdPath reopen(pinned);
  auto open_as = [&](int access) {
    int fd = open(reopen.path, access | kOpenFlags);
    if (fd < 0 && errno == ENOENT) fd = open(path.c_str(), access | kOpenFlags);
    return fd;
  };
  Opened opened;
  opened.writable = true;
  opened.fd = open_as(O_RDWR);
  if (opened.fd < 0) {
    int err = errno;
    // ETXTBSY: a program being run (info then reports on it read-only, as for a file it may not write).
    if (err == EACCES || err == EROFS || err == EPERM || err == ETXTBSY) {
      opened.writable = false;
      opened.fd = open_as(O_RDONLY);
      if (opened.fd < 0) err = errno;
    }
    if (opened.fd < 0) return OpenError(path, err);
  }
  if (fstat(opened.fd, &opened.st) != 0) {
    const int err = errno;
    close(opened.fd);
    return OpenError(path, err);
  }
  if (!SameFile(st, opened.st)) {
    close(opened.fd);
    return PathError(path, "was replaced by another file while info opened it; try again");
  }
  return opened;
}

// What `path` is, opened for mapping, or created if missing and `options` ask for it. Decides from metadata
// alone whether to open at all.
absl::StatusOr<Opened> OpenForInfo(const std::string& path, const InfoOptions& options) {
  // O_PATH opens no file: no device driver's open runs, no FIFO waits, no terminal is allocated.
  const int pinned = open(path.c_str(), O_PATH | O_CLOEXEC);
  if (pinned < 0) {
    const int err = errno;
    if (err != ENOENT) return OpenError(path, err);
    struct stat dir;
    const bool folder_exists = stat(Dirname(path).c_str(), &dir) == 0 && S_ISDIR(dir.st_mode);
    if (!folder_exists) return OpenError(path, ENOENT);
    // A value the engine refuses would fail the mapping after the file was made: say so before making it.
    if (const std::string& invalid = arch::InvalidEnvironment(); !invalid.empty()) {
      return MakeError(ErrorCode::kInvalidEnvironment,
                       absl::StrCat(path, ": ", invalid, " (", ErrorCodeName(ErrorCode::kInvalidEnvironment), ")"));
    }
    if (!options.create_size.has_value()) {
      return absl::NotFoundError(
          absl::StrCat(path, ": no such file or directory (pass --create=SIZE to create it)"));
    }
    absl::StatusOr<int> fd =
        CreateAllocatedFile(path, *options.create_size, "; free space or pass a smaller --create=SIZE");
    if (!fd.ok()) return fd.status();
    Opened opened;
    opened.fd = *fd;
    opened.writable = true;
    opened.created = true;
    if (fstat(opened.fd, &opened.st) != 0) {
      const int fstat_err = errno;
      close(opened.fd);
      unlink(path.c_str());
      return OpenError(path, fstat_err);
    }
    return opened;
  }
  absl::Cleanup close_pinned = [pinned] { close(pinned); };
  struct stat st;
  if (fstat(pinned, &st) != 0) {
    const int err = errno;
    return OpenError(path, err);
  }
  if (S_ISREG(st.st_mode)) return OpenChecked(pinned, path, st);
  // Only Device DAX among character devices, decided from sysfs before anything opens it: opening /dev/ptmx
  // allocates a pseudo-terminal, /dev/tty may hand over a terminal, other drivers do what they like on open.
  if (S_ISCHR(st.st_mode) &&
      source_internal::IsDeviceDax(sysfs_internal::Root(), major(st.st_rdev), minor(st.st_rdev))) {
    return OpenChecked(pinned, path, st);
  }
  return TypeError(path, st);
}

// A reliability value, or why there is none: "not supported: ..." where the medium cannot show it (no NVDIMM,
// no such attribute), "error: ... (CODE)" where reading it failed. Never fails the report.
template <typename T>
std::string RasValue(const absl::StatusOr<T>& value) {
  if (value.ok()) return absl::StrCat(*value);
  const ErrorCode code = GetErrorCode(value.status());
  if (code == ErrorCode::kNoSupp || code == ErrorCode::kDaxRegionNotFound ||
      code == ErrorCode::kSourceTypeNotSupported) {
    return absl::StrCat("not supported: ", value.status().message());
  }
  return absl::StrCat("error: ", value.status().message(), " (", ErrorCodeName(code), ")");
}

// The number of bad blocks and their bytes, e.g. "0" or "2 (8192 bytes)".
absl::StatusOr<std::string> CountBadBlocks(const Source& source) {
  absl::StatusOr<BadBlocks> bad = BadBlocks::Create(source);
  if (!bad.ok()) return bad.status();
  uint64_t bytes = 0;
  for (const BadBlock& b : bad->all()) bytes += b.length;
  if (bad->all().empty()) return std::string("0");
  return absl::StrCat(bad->all().size(), " (", bytes, " bytes)");
}

// Which AsyncPersister backend this mapping gets, and for page granularity why (io_uring or not).
std::string AsyncPersistence(const Map& map, const Source& source) {
  absl::StatusOr<AsyncPersister> persister = AsyncPersister::Create(map, source);
  if (!persister.ok()) return absl::StrCat("none (", persister.status().message(), ")");
  if (persister->backend() == AsyncBackend::kCpu) return "cpu (completes at once: flush + fence)";
  if (persister->backend() == AsyncBackend::kIoUring) return ProbeIoUring().detail;
  return absl::StrCat("synchronous (io_uring ", ProbeIoUring().detail, ")");
}

// Maps the opened file and writes the report.
absl::StatusOr<std::string> Describe(const std::string& path, const Opened& opened) {
  const int fd = opened.fd;
  const bool writable = opened.writable;
  const bool created = opened.created;
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return Pmem2Error(path, source.status());
  absl::StatusOr<uint64_t> size = source->Size();
  if (!size.ok()) return Pmem2Error(path, size.status());
  absl::StatusOr<size_t> alignment = source->Alignment();
  if (!alignment.ok()) return Pmem2Error(path, alignment.status());

  // Page is the coarsest granularity: asking for it maps anything and shows what the mapping really got.
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  if (!writable) {
    config.set_protection(kProtRead);
  }
  absl::StatusOr<Map> map = Map::Create(config, *source);
  if (!map.ok()) return Pmem2Error(path, map.status());
  const MapDiagnostics& d = map->diagnostics();
  std::string out;
  absl::StrAppend(&out, "path: ", path, created ? " (created)" : "", "\n");
  absl::StrAppend(&out, "source: ", SourceKindName(source->kind()), "\n");
  absl::StrAppend(&out, "size: ", *size, "\n");
  absl::StrAppend(&out, "alignment: ", *alignment, "\n");
  absl::StrAppend(&out, "access: ", writable ? "read-write" : "read-only", "\n");
  absl::StrAppend(&out, "map_sync: ", d.map_sync ? "yes" : "no", "\n");
  absl::StrAppend(&out, "persistence_domain: ", d.persistence_domain, "\n");
  absl::StrAppend(&out, "granularity: ", StoreGranularityName(map->store_granularity()), "\n");
  absl::StrAppend(&out, "detected_granularity: ", StoreGranularityName(d.detected_granularity), "\n");
  absl::StrAppend(&out, "forced: ", d.forced ? "yes (PMEM2_FORCE_GRANULARITY)" : "no", "\n");
  absl::StrAppend(&out, "reason: ", d.reason,
                  d.cpu_cannot_write_back ? "; no usable cache-line write-back instruction: msync instead" : "",
                  "\n");
  absl::StrAppend(&out, "address_alignment: ", d.address_alignment, "\n");
  // Whether a forked child maps it again through a file description of its own (pmem2/map/map.h, "fork()").
  absl::StrAppend(&out, "forked_child_description: ",
                  d.forked_child_gets_own_description ? "own"
                  : d.why_forked_child_shares_description.empty()
                      ? "shared (nothing to write back)"
                      : absl::StrCat("shared: ", d.why_forked_child_shares_description),
                  "\n");
  absl::StrAppend(&out, "cpu: ", arch::DescribeCpu(), "\n");
  absl::StrAppend(&out, "flush: ", d.flush_name, "\n");
  absl::StrAppend(&out, "drain: ", d.drain_name, "\n");
  absl::StrAppend(&out, "memmove: ", d.memmove_name, "\n");
  absl::StrAppend(&out, "memset: ", d.memset_name, "\n");
  absl::StrAppend(&out, "async_persistence: ", AsyncPersistence(*map, *source), "\n");
  absl::StrAppend(&out, "nvdimm_region: ", RasValue(NvdimmRegion(*source)), "\n");
  absl::StrAppend(&out, "numa_node: ", RasValue(NumaNode(*source)), "\n");
  absl::StrAppend(&out, "device_id: ", RasValue(DeviceId(*source)), "\n");
  absl::StrAppend(&out, "unsafe_shutdown_count: ", RasValue(UnsafeShutdownCount(*source)), "\n");
  absl::StrAppend(&out, "bad_blocks: ", RasValue(CountBadBlocks(*source)), "\n");
  return out;
}

}  // namespace

absl::StatusOr<std::string> Info(const std::string& path, const InfoOptions& options) {
  if (options.create_size.has_value() && *options.create_size == 0) {
    return absl::InvalidArgumentError("--create=0: must be at least 1 byte");
  }
  absl::StatusOr<Opened> opened = OpenForInfo(path, options);
  if (!opened.ok()) return opened.status();
  absl::Cleanup close_fd = [fd = opened->fd] { close(fd); };
  absl::StatusOr<std::string> report = Describe(path, *opened);
  if (!report.ok() && opened->created) {
    // Leave nothing behind that the user did not have before; but only the file info created, not one that
    // has taken its name since.
    struct stat now;
    if (lstat(path.c_str(), &now) == 0 && SameFile(now, opened->st)) unlink(path.c_str());
  }
  return report;
}

}  // namespace tools
}  // namespace pmem2
