// Copyright 2026 The pmem2 Authors.

#include "tools/info.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/pmem2.h"

namespace pmem2 {
namespace tools {
namespace {

absl::Status PathError(const std::string& path, absl::string_view what) {
  return absl::Status(absl::StatusCode::kFailedPrecondition, absl::StrCat(path, ": ", what));
}

absl::Status OpenError(const std::string& path, int err) {
  switch (err) {
    case ENOENT: return absl::NotFoundError(absl::StrCat(path, ": no such file or directory"));
    case EACCES:
    case EPERM: return absl::PermissionDeniedError(absl::StrCat(path, ": permission denied"));
    case EISDIR: return PathError(path, "is a directory; give a file or a Device DAX (/dev/daxX.Y)");
    default: return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(path, ": ", std::strerror(err)));
  }
}

}  // namespace

absl::StatusOr<std::string> Info(const std::string& path, const InfoOptions& options) {
  struct stat st;
  bool created = false;
  if (stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return OpenError(path, errno);
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0) return OpenError(path, errno);
    absl::Cleanup close_fd = [fd] { close(fd); };
    if (ftruncate(fd, static_cast<off_t>(options.create_size)) != 0) {
      int err = errno;
      unlink(path.c_str());
      return PathError(path, absl::StrCat("cannot size the new file to ", options.create_size,
                                          " bytes: ", std::strerror(err)));
    }
    created = true;
  } else if (S_ISDIR(st.st_mode)) {
    return OpenError(path, EISDIR);
  }

  // Read-write if allowed, else read-only: info only needs to map.
  bool writable = true;
  int fd = open(path.c_str(), O_RDWR);
  if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
    writable = false;
    fd = open(path.c_str(), O_RDONLY);
  }
  if (fd < 0) return OpenError(path, errno);
  absl::Cleanup close_fd = [fd] { close(fd); };

  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return PathError(path, source.status().message());
  absl::StatusOr<uint64_t> size = source->Size();
  if (!size.ok()) return PathError(path, size.status().message());
  absl::StatusOr<size_t> alignment = source->Alignment();
  if (!alignment.ok()) return PathError(path, alignment.status().message());

  // Page is the coarsest granularity: asking for it maps anything and shows what the mapping really got.
  Config config;
  if (absl::Status s = config.set_required_store_granularity(StoreGranularity::kPage); !s.ok()) return s;
  if (!writable) {
    if (absl::Status s = config.set_protection(kProtRead); !s.ok()) return s;
  }
  absl::StatusOr<Map> map = Map::Create(config, *source);
  if (!map.ok()) {
    if (created) unlink(path.c_str());  // leave nothing behind that the user did not have before
    return PathError(path, absl::StrCat(map.status().message(), " (", ErrorCodeName(GetErrorCode(map.status())),
                                        ")"));
  }
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
  absl::StrAppend(&out, "cpu: ", arch::DescribeCpu(), "\n");
  absl::StrAppend(&out, "flush: ", d.flush_name, "\n");
  absl::StrAppend(&out, "drain: ", d.drain_name, "\n");
  absl::StrAppend(&out, "memmove: ", d.memmove_name, "\n");
  absl::StrAppend(&out, "memset: ", d.memset_name, "\n");
  return out;
}

}  // namespace tools
}  // namespace pmem2
