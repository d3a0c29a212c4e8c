// Copyright 2026 The pmem2 Authors.
//
// pmem2/pmem2.h
// -----------------------------------------------------------------------------
//
// pmem2: map files, Device DAX and anonymous memory, and get the functions that make stores durable on this
// mapping and this CPU. The umbrella header of target //pmem2; it includes:
//
//   pmem2/config/config.h  Config: required store granularity, offset, length, sharing, protection
//   pmem2/source/source.h  Source: a file descriptor (regular file or Device DAX) or anonymous memory
//   pmem2/map/map.h        Map: the mapping and its persist/flush/drain/memcpy/memmove/memset functions
//   pmem2/errors/errors.h  ErrorCode: the precise reason inside every failed absl::Status
//   pmem2/persist_fns.h    PersistFn, MemcpyFn, ... and the kMem* flags; what a crash can leave
//
// Example:
//
//   pmem2::Config config;
//   config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
//   absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
//   if (!source.ok()) return source.status();
//   absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *source);
//   if (!map.ok()) return map.status();
//   map->memcpy_fn()(map->address(), record, sizeof(record), 0);  // copied and persisted...
//   if (absl::Status s = map->PersistError(); !s.ok()) return s;   // ...durable unless a write-back failed
//
// Threads: no pmem2 function is a pthread cancellation point; a pending request acts at the thread's next
// cancellation point after the call returns (README, "Thread cancellation").

#ifndef PMEM2_PMEM2_H_
#define PMEM2_PMEM2_H_

#include "pmem2/config/config.h"  // IWYU pragma: export
#include "pmem2/errors/errors.h"  // IWYU pragma: export
#include "pmem2/map/map.h"        // IWYU pragma: export
#include "pmem2/persist_fns.h"     // IWYU pragma: export
#include "pmem2/source/source.h"  // IWYU pragma: export

#endif  // PMEM2_PMEM2_H_
