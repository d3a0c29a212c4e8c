// Copyright 2026 The pmem2 Authors.
//
// tools/info.h
// -----------------------------------------------------------------------------
//
// `pmem2 info PATH`: maps PATH (creating a regular file of `create_size` bytes if it does not exist) and reports
// what pmem2 decided and why, one `key: value` line each: source kind, size, alignment, whether the kernel
// accepted MAP_SYNC, the NVDIMM persistence domain, the effective granularity and its reason, the CPU features
// and the functions chosen. Scripts may rely on the keys; the free-text values (reason, cpu, kernel names) are
// for people.

#ifndef PMEM2_TOOLS_INFO_H_
#define PMEM2_TOOLS_INFO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace pmem2 {
namespace tools {

struct InfoOptions {
  // Size of the file to create when PATH does not exist. Existing files and devices are never resized.
  uint64_t create_size = 16 << 20;
};

// The report, or an error whose message is one line naming PATH and the cause (missing folder, permission,
// directory, anything pmem2 refuses).
absl::StatusOr<std::string> Info(const std::string& path, const InfoOptions& options);

}  // namespace tools
}  // namespace pmem2

#endif  // PMEM2_TOOLS_INFO_H_
