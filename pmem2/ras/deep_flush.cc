// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/deep_flush.h"

#include <cerrno>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/region.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {

absl::Status DeepFlushRegion(SourceKind kind, dev_t device) {
  if (kind == SourceKind::kAnonymous) return absl::OkStatus();
  absl::StatusOr<ras_internal::Location> location = kind == SourceKind::kDeviceDax
                                                         ? ras_internal::LocateDaxDevice(device)
                                                         : ras_internal::LocateBlockDevice(device);
  if (!location.ok()) return location.status();
  if (location->region_dir.empty()) {
    if (kind == SourceKind::kRegularFile) return absl::OkStatus();
    return MakeError(ErrorCode::kDaxRegionNotFound, absl::StrCat("deep flush: ", location->not_on_nvdimm));
  }
  const std::string path = location->region_dir + "/deep_flush";
  absl::StatusOr<std::string> state = sysfs_internal::ReadAttribute(path);
  if (!state.ok()) {
    if (GetErrno(state.status()) == ENOENT) return absl::OkStatus();
    return state.status();
  }
  if (*state == "0") return absl::OkStatus();
  if (*state != "1") {
    return MakeError(ErrorCode::kInvalidRegionFormat,
                     absl::StrCat(path, " holds \"", absl::CHexEscape(*state), "\", not 0 or 1"));
  }
  return sysfs_internal::WriteAttribute(path, "1");
}

}  // namespace pmem2
