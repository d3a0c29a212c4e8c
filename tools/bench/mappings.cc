// Copyright 2026 The pmem2 Authors.
//
// tools/bench/mappings.cc
// -----------------------------------------------------------------------------
//
// The mappings behind each side of a lane (see mappings.h).

#include "tools/bench/mappings.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "pmem2/arch/cpu_description.h"
#include "pmem2/map/placement.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/machine.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr char kForceVariable[] = "PMEM2_FORCE_GRANULARITY";

void* GlibcMemcpy(void* dst, const void* src, size_t len, unsigned) { return std::memcpy(dst, src, len); }
void* GlibcMemset(void* dst, int c, size_t len, unsigned) { return std::memset(dst, c, len); }

}  // namespace

absl::StatusOr<std::unique_ptr<PlainMapping>> PlainMapping::OfFile(int fd, size_t size, size_t source_alignment) {
  const size_t alignment = map_internal::AddressAlignment(size, source_alignment);
  void* address = map_internal::MapAligned(size, alignment, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (address == MAP_FAILED) return ErrnoError("mmap for the limit", errno);
  return std::unique_ptr<PlainMapping>(new PlainMapping(address, size));
}

absl::StatusOr<std::unique_ptr<PlainMapping>> PlainMapping::Anonymous(size_t size) {
  void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (address == MAP_FAILED) return ErrnoError("mmap anonymous", errno);
  return std::unique_ptr<PlainMapping>(new PlainMapping(address, size));
}

PlainMapping::~PlainMapping() { munmap(address_, size_); }

Mappings::~Mappings() {
  pmem2.clear();
  reference.clear();
  plain.clear();
  for (int fd : fds) close(fd);
}

ForcedGranularity::ForcedGranularity(const char* value) {
  if (const char* old = std::getenv(kForceVariable)) old_ = old;
  setenv(kForceVariable, value, 1);
}

ForcedGranularity::~ForcedGranularity() {
  if (old_.has_value()) {
    setenv(kForceVariable, old_->c_str(), 1);
  } else {
    unsetenv(kForceVariable);
  }
}

void Prefault(char* base, size_t size) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // One call for the whole range where the kernel has it (Linux 5.14): gigabyte windows fault in seconds
  // instead of a page fault per page. The loop below then only touches pages already mapped.
#ifdef MADV_POPULATE_WRITE
  madvise(base, size, MADV_POPULATE_WRITE);
#endif
  for (size_t off = 0; off < size; off += page) {
    volatile char* p = base + off;
    *p = *p;
  }
}

double TouchAgain(char* base, size_t size) {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const auto start = std::chrono::steady_clock::now();
  Prefault(base, size);
  const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
  return size < page ? 0 : took.count() / static_cast<double>(size / page);
}

absl::StatusOr<Map> MapWithPmem2(const Source& source, absl::optional<StoreGranularity> expect) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> map = Map::Create(config, source);
  if (!map.ok()) return Prefixed("pmem2", map.status());
  if (expect.has_value() && map->store_granularity() != *expect) {
    return absl::InternalError(absl::StrCat("pmem2 mapped at ", StoreGranularityName(map->store_granularity()),
                                            " granularity, expected ", StoreGranularityName(*expect)));
  }
  return map;
}

const char* ReferenceGranularityName(pmem2_granularity granularity) {
  switch (granularity) {
    case PMEM2_GRANULARITY_BYTE: return "byte";
    case PMEM2_GRANULARITY_CACHE_LINE: return "cache_line";
    case PMEM2_GRANULARITY_PAGE: return "page";
  }
  return "invalid";
}

Target FromPmem2(const Map& map) {
  return Target{static_cast<char*>(map.address()), map.persist_fn(), map.memcpy_fn(), map.memset_fn()};
}

Target FromReference(const ReferenceMap& map) {
  return Target{static_cast<char*>(map.address()), map.persist_fn(), map.memcpy_fn(), map.memset_fn()};
}

namespace {

// `lane`'s limit on `base`: every one of `strategies` timed, the first one's copy and fill as lane->limit's.
void SetStrategies(const std::vector<LimitStrategy>& strategies, char* base, PersistFn persist, Lane* lane) {
  lane->copy_strategies.clear();
  for (const LimitStrategy& s : strategies) lane->copy_strategies.push_back(CopyStrategy{s.name, s.memcpy, s.memset});
  lane->limit = Target{base, persist, strategies.front().memcpy, strategies.front().memset};
  lane->limit_kind = LimitKind::kNonTemporal;
}

}  // namespace

void SetLimit(StoreGranularity granularity, char* base, Lane* lane) {
  switch (granularity) {
    case StoreGranularity::kByte:
      lane->limit = Target{base, nullptr, GlibcMemcpy, GlibcMemset};
      lane->limit_kind = LimitKind::kGlibc;
      lane->copy_strategies = {CopyStrategy{"glibc", GlibcMemcpy, GlibcMemset}};
      lane->persist_limit = "-";
      break;
    case StoreGranularity::kCacheLine:
      SetStrategies(CacheLineLimitStrategies(), base, LimitPersistCacheLine, lane);
      lane->persist_limit = "flush";
      break;
    case StoreGranularity::kPage:
      SetStrategies(PageLimitStrategies(), base, LimitPersistPage, lane);
      lane->persist_limit = "msync";
      break;
  }
}

std::vector<std::string> CpuNotes(size_t hot_window, size_t cold_window) {
  const uint64_t llc = LastLevelCacheBytes();
  std::vector<std::string> notes = {absl::StrCat("cpu: ", DescribeCpuKind(ThisCpuKind()), "; last-level cache ",
                                                 llc == 0 ? "unknown" : absl::StrCat(llc >> 20, " MiB"), "; ",
                                                 arch::DescribeCpu())};
  if (llc != 0 && hot_window <= llc) {
    notes.push_back(absl::StrCat("note: the hot window (", hot_window >> 20, " MiB) is no larger than the last-level ",
                                 "cache: hot copies from 4 KiB rewrite lines the column before may have left cached"));
  }
  const uint64_t wanted = ColdWindowBytes(llc, UINT64_MAX, UINT64_MAX);
  if (cold_window != 0 && cold_window < wanted) {
    notes.push_back(absl::StrCat("note: the cold window (", cold_window >> 20, " MiB) is smaller than max(2 GiB, 8 x ",
                                 "the last-level cache) = ", wanted >> 20,
                                 " MiB: seq and rand may find lines still cached"));
  }
  return notes;
}

absl::Status ErrnoError(absl::string_view what, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(what, ": ", std::strerror(err)));
}

absl::Status Prefixed(absl::string_view prefix, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(prefix, ": ", status.message()));
}

}  // namespace bench
}  // namespace pmem2
