// Copyright 2026 The pmem2 Authors.

#include "pmem2/map/function_table.h"

#include "pmem2/map/page_persist.h"

namespace pmem2 {
namespace map_internal {

arch::PersistOps FunctionTable(StoreGranularity effective, bool shared_file) {
  switch (effective) {
    case StoreGranularity::kByte: return shared_file ? arch::FileByteOps() : arch::ByteOps();
    case StoreGranularity::kCacheLine: return arch::CacheLineOps();
    case StoreGranularity::kPage: break;
  }
  return PageOps();
}

}  // namespace map_internal
}  // namespace pmem2
