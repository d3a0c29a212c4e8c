// Copyright 2026 The pmem2 Authors.
//
// The reliability part of libpmem2.h: device id, unsafe shutdown count, NUMA node, bad blocks,
// machine-check-safe reads and writes (over pmem2/ras), deep flush.

#include <errno.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "pmem2/c/handles.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/c/live_handles.h"
#include "pmem2/errors/errors.h"
#include "pmem2/ras/bad_blocks.h"
#include "pmem2/ras/device.h"
#include "pmem2/ras/mcsafe_io.h"

struct pmem2_badblock_context {
  explicit pmem2_badblock_context(pmem2::BadBlocks b) : bad_blocks(std::move(b)) {}
  pmem2::BadBlocks bad_blocks;
};

using pmem2::c_internal::CheckHandle;
using pmem2::c_internal::DeleteHandle;
using pmem2::c_internal::Fail;
using pmem2::c_internal::HandleKind;
using pmem2::c_internal::HandOut;
using pmem2::c_internal::NullArgument;
using pmem2::c_internal::OutOfMemory;
using pmem2::c_internal::Return;

extern "C" {

int pmem2_source_pread_mcsafe(struct pmem2_source* src, void* buf, size_t size, size_t offset) try {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (buf == nullptr && size > 0) return NullArgument("buf");
  return Return(pmem2::ReadMcsafe(src->source, buf, size, offset));
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_pwrite_mcsafe(struct pmem2_source* src, void* buf, size_t size, size_t offset) try {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (buf == nullptr && size > 0) return NullArgument("buf");
  return Return(pmem2::WriteMcsafe(src->source, buf, size, offset));
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_device_id(const struct pmem2_source* src, char* id, size_t* len) try {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (len == nullptr) return NullArgument("len");
  absl::StatusOr<std::string> device_id = pmem2::DeviceId(src->source);
  if (!device_id.ok()) return Return(device_id.status());
  const size_t needed = device_id->size() + 1;
  if (id == nullptr) {
    *len = needed;
    return 0;
  }
  if (*len < needed) {
    return Fail(PMEM2_E_BUFFER_TOO_SMALL, absl::StrCat("the id needs ", needed,
                                                       " bytes with its NUL; *len is ", *len));
  }
  std::memcpy(id, device_id->c_str(), needed);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_device_usc(const struct pmem2_source* src, uint64_t* usc) try {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (usc == nullptr) return NullArgument("usc");
  absl::StatusOr<uint64_t> count = pmem2::UnsafeShutdownCount(src->source);
  if (!count.ok()) return Return(count.status());
  *usc = *count;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_source_numa_node(const struct pmem2_source* src, int* numa_node) try {
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  if (numa_node == nullptr) return NullArgument("numa_node");
  absl::StatusOr<int> node = pmem2::NumaNode(src->source);
  if (!node.ok()) return Return(node.status());
  *numa_node = *node;
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_badblock_context_new(struct pmem2_badblock_context** bbctx, const struct pmem2_source* src) try {
  if (bbctx == nullptr) return NullArgument("bbctx");
  *bbctx = nullptr;
  if (int ret = CheckHandle(HandleKind::kSource, src, "src"); ret != 0) return ret;
  absl::StatusOr<pmem2::BadBlocks> bad_blocks = pmem2::BadBlocks::Create(src->source);
  if (!bad_blocks.ok()) return Return(bad_blocks.status());
  pmem2_badblock_context* made = new (std::nothrow) pmem2_badblock_context(*std::move(bad_blocks));
  if (made == nullptr) return OutOfMemory();
  return HandOut(HandleKind::kBadBlockContext, made, bbctx);
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_badblock_next(struct pmem2_badblock_context* bbctx, struct pmem2_badblock* bb) try {
  if (int ret = CheckHandle(HandleKind::kBadBlockContext, bbctx, "bbctx"); ret != 0) return ret;
  if (bb == nullptr) return NullArgument("bb");
  absl::StatusOr<pmem2::BadBlock> next = bbctx->bad_blocks.Next();
  if (!next.ok()) {
    bb->offset = 0;
    bb->length = 0;
    return Return(next.status());
  }
  bb->offset = static_cast<size_t>(next->offset);
  bb->length = static_cast<size_t>(next->length);
  return 0;
} PMEM2_C_CATCH_OUT_OF_MEMORY

// A stale copy is left alone (there is no return value to refuse it with), not freed twice.
void pmem2_badblock_context_delete(struct pmem2_badblock_context** bbctx) {
  if (bbctx == nullptr || *bbctx == nullptr) return;
  DeleteHandle(HandleKind::kBadBlockContext, bbctx);
}

int pmem2_badblock_clear(struct pmem2_badblock_context* bbctx, const struct pmem2_badblock* bb) try {
  if (int ret = CheckHandle(HandleKind::kBadBlockContext, bbctx, "bbctx"); ret != 0) return ret;
  if (bb == nullptr) return NullArgument("bb");
  return Return(bbctx->bad_blocks.Clear(pmem2::BadBlock{bb->offset, bb->length}));
} PMEM2_C_CATCH_OUT_OF_MEMORY

int pmem2_deep_flush(struct pmem2_map* map, void* ptr, size_t size) try {
  if (int ret = CheckHandle(HandleKind::kMap, map, "map"); ret != 0) return ret;
  // Memory of no file and no device: nothing is durable there, however deep the flush (libpmem2 says so too; the
  // C++ Map::DeepFlush() writes the range back and answers OK, as for a private mapping).
  // A range outside the map is PMEM2_E_DEEP_FLUSH_RANGE first (Map::DeepFlush below), as libpmem2 checks it first.
  if (map->of_anonymous_source && pmem2::map_internal::InRangeForCApi(*map, ptr, size)) {
    return Fail(PMEM2_E_NOSUPP, "a map of an anonymous source has no persistence domain to flush to");
  }
  return Return(map->DeepFlush(ptr, size));
} PMEM2_C_CATCH_OUT_OF_MEMORY

}  // extern "C"
