// Copyright 2026 The pmem2 Authors.
//
// tools/info.h
// -----------------------------------------------------------------------------
//
// `pmem2 info PATH [--create=SIZE]`: maps PATH and reports what pmem2 decided and why, one `key: value` line
// each: source kind, size, alignment, whether the kernel accepted MAP_SYNC, the NVDIMM persistence domain, the
// effective granularity and its reason, the CPU features and the functions chosen; then what the medium says
// about its reliability (pmem2/ras): `nvdimm_region`, `numa_node`, `device_id`, `unsafe_shutdown_count` and
// `bad_blocks` (a count, with the bytes they cover), each either a value, "not supported: <why>" (not on an
// NVDIMM, or the NVDIMM does not report it) or "error: <why> (CODE)"; these never fail the report. Scripts may
// rely on the keys; the free-text values (reason, cpu, kernel names, the reasons) are for people.
//
// Info never blocks and opens nothing it is not going to map: PATH is looked at first (through an O_PATH
// descriptor, which opens no device and waits for no FIFO writer), and only a regular file or a Device DAX is
// then opened, non-blocking and without becoming a controlling terminal. Every other type (FIFO, socket, block
// device, any other character device such as /dev/ptmx or /dev/tty) is reported from its metadata alone. It
// creates nothing unless asked to (`InfoOptions::create_size`), so a mistyped path leaves no file behind.

#ifndef PMEM2_TOOLS_INFO_H_
#define PMEM2_TOOLS_INFO_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/optional.h"

namespace pmem2 {
namespace tools {

struct InfoOptions {
  // Set: a PATH that does not exist (in a folder that does) is created as a regular file of this many bytes,
  // at least 1, with every block allocated (posix_fallocate: a full file system is an error now, not a SIGBUS
  // later), and removed again if anything after that fails. An existing PATH is used unchanged whatever the
  // value: never resized, truncated or allocated. Unset: a missing PATH is kNotFound, and the message says how
  // to create it.
  absl::optional<uint64_t> create_size;
};

// The report, or an error whose message is one line naming PATH and the cause (missing folder or file,
// permission, a type pmem2 cannot map, no space to create it, anything pmem2 refuses). Errors that pmem2
// defines end with the code's name, e.g. "(PMEM2_E_INVALID_FILE_TYPE)"; those statuses also carry the code
// (pmem2::GetErrorCode).
absl::StatusOr<std::string> Info(const std::string& path, const InfoOptions& options);

}  // namespace tools
}  // namespace pmem2

#endif  // PMEM2_TOOLS_INFO_H_
