// Copyright 2026 The pmem2 Authors.
//
// examples/start_log.h
// -----------------------------------------------------------------------------
//
// How the log examples start a new log over whatever the file held (an earlier log, anything): the header is zeroed
// and persisted first, and only then the records' bytes. The order is what keeps a crash safe. One persist of the
// whole range would let the header's page reach the medium last: at page granularity msync writes a range's pages
// back in no set order (and the kernel may write some back before it is called), so a crash could leave the old
// header's tail over records already zeroed, a log that looks valid and is not. With the header first, a crash
// leaves either the old log whole or a log with tail 0.

#ifndef PMEM2_EXAMPLES_START_LOG_H_
#define PMEM2_EXAMPLES_START_LOG_H_

#include <cstddef>

#include "absl/status/status.h"
#include "pmem2/pmem2.h"

namespace examples {

// Zeroes the map's first `header_bytes` and persists them, then zeroes and persists the rest of the map. On an error
// the header may be zeroed already (a log with no records), never the records before it.
inline absl::Status StartLog(const pmem2::Map& map, size_t header_bytes) {
  char* base = static_cast<char*>(map.address());
  if (header_bytes > map.size()) header_bytes = map.size();
  if (absl::Status s = map.Memset(base, 0, header_bytes); !s.ok()) return s;
  if (header_bytes == map.size()) return absl::OkStatus();
  return map.Memset(base + header_bytes, 0, map.size() - header_bytes);
}

}  // namespace examples

#endif  // PMEM2_EXAMPLES_START_LOG_H_
