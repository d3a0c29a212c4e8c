// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/device.h"

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/region.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {
namespace {

using ras_internal::Location;

absl::string_view Basename(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

// The region of `source` and its DIMMs, or kNoSupp (`what` names the feature) when there are none.
absl::StatusOr<std::vector<std::string>> DimmsOf(const Source& source, absl::string_view what) {
  if (source.kind() == SourceKind::kAnonymous) {
    return MakeError(ErrorCode::kNoSupp, absl::StrCat("an anonymous source has no ", what));
  }
  absl::StatusOr<Location> location = ras_internal::LocateSource(source);
  if (!location.ok()) return location.status();
  if (location->region_dir.empty()) {
    return MakeError(ErrorCode::kNoSupp, absl::StrCat("no ", what, ": ", location->not_on_nvdimm));
  }
  absl::StatusOr<std::vector<std::string>> dimms = ras_internal::RegionDimms(location->region_dir);
  if (!dimms.ok()) return dimms.status();
  if (dimms->empty()) {
    return MakeError(ErrorCode::kNoSupp, absl::StrCat("no ", what, ": NVDIMM region ", location->region_name,
                                                      " has no DIMMs (mappings is 0: legacy or memmap= "
                                                      "persistent memory)"));
  }
  return dimms;
}

// A DIMM's nfit attribute `name`, or kNoSupp naming the DIMM when it has none.
absl::StatusOr<std::string> ReadDimmAttribute(const std::string& dimm_dir, absl::string_view name,
                                              absl::string_view what) {
  const std::string path = absl::StrCat(dimm_dir, "/nfit/", name);
  absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(path);
  if (!text.ok() && GetErrno(text.status()) == ENOENT) {
    return MakeError(ErrorCode::kNoSupp, absl::StrCat("no ", what, ": NVDIMM ", Basename(dimm_dir),
                                                      " does not report one (", path, " does not exist)"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::string> DeviceId(const Source& source) {
  absl::StatusOr<std::vector<std::string>> dimms = DimmsOf(source, "device id");
  if (!dimms.ok()) return dimms.status();
  std::string id;
  for (const std::string& dimm : *dimms) {
    absl::StatusOr<std::string> text = ReadDimmAttribute(dimm, "id", "device id");
    if (!text.ok()) return text.status();
    if (text->empty()) {
      return MakeError(ErrorCode::kNoSupp,
                       absl::StrCat("no device id: NVDIMM ", Basename(dimm), " reports an empty nfit/id"));
    }
    id += *text;
  }
  return id;
}

absl::StatusOr<uint64_t> UnsafeShutdownCount(const Source& source) {
  absl::StatusOr<std::vector<std::string>> dimms = DimmsOf(source, "unsafe shutdown count");
  if (!dimms.ok()) return dimms.status();
  uint64_t sum = 0;
  for (const std::string& dimm : *dimms) {
    absl::StatusOr<std::string> text = ReadDimmAttribute(dimm, "dirty_shutdown", "unsafe shutdown count");
    if (!text.ok()) return text.status();
    uint64_t count = 0;
    if (text->empty() || text->find_first_not_of("0123456789") != std::string::npos ||
        !absl::SimpleAtoi(*text, &count)) {
      return MakeError(ErrorCode::kInvalidRegionFormat,
                       absl::StrCat(dimm, "/nfit/dirty_shutdown holds \"", absl::CHexEscape(*text),
                                    "\", not an unsigned number"));
    }
    if (count > UINT64_MAX - sum) {
      return MakeError(ErrorCode::kInvalidRegionFormat,
                       absl::StrCat("the unsafe shutdown counts of the NVDIMMs overflow 64 bits at ", dimm));
    }
    sum += count;
  }
  return sum;
}

absl::StatusOr<int> NumaNode(const Source& source) {
  if (source.kind() == SourceKind::kAnonymous) {
    return MakeError(ErrorCode::kNoSupp, "an anonymous source is not bound to a NUMA node");
  }
  absl::StatusOr<Location> location = ras_internal::LocateSource(source);
  if (!location.ok()) return location.status();
  if (location->region_dir.empty()) {
    return MakeError(ErrorCode::kDaxRegionNotFound, absl::StrCat("no NUMA node: ", location->not_on_nvdimm));
  }
  const std::string path = location->region_dir + "/numa_node";
  absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(path);
  if (!text.ok()) {
    if (GetErrno(text.status()) == ENOENT) {
      return MakeError(ErrorCode::kNoSupp, absl::StrCat("no NUMA node: NVDIMM region ", location->region_name,
                                                        " has no numa_node (a kernel without NUMA support)"));
    }
    return text.status();
  }
  int node = 0;
  if (!absl::SimpleAtoi(*text, &node) || text->find_first_not_of("-0123456789") != std::string::npos ||
      node < -1) {
    return MakeError(ErrorCode::kInvalidRegionFormat,
                     absl::StrCat(path, " holds \"", absl::CHexEscape(*text), "\", not a NUMA node number"));
  }
  if (node == -1) {
    return MakeError(ErrorCode::kNoSupp, absl::StrCat("no NUMA node: NVDIMM region ", location->region_name,
                                                      " reports none (numa_node is -1)"));
  }
  return node;
}

absl::StatusOr<std::string> NvdimmRegion(const Source& source) {
  if (source.kind() == SourceKind::kAnonymous) {
    return MakeError(ErrorCode::kNoSupp, "an anonymous source is not on an NVDIMM region");
  }
  absl::StatusOr<Location> location = ras_internal::LocateSource(source);
  if (!location.ok()) return location.status();
  if (location->region_dir.empty()) {
    return MakeError(ErrorCode::kDaxRegionNotFound, absl::StrCat("no NVDIMM region: ", location->not_on_nvdimm));
  }
  return location->region_name;
}

}  // namespace pmem2
