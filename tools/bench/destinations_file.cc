// Copyright 2026 The pmem2 Authors.
//
// tools/bench/destinations_file.cc
// -----------------------------------------------------------------------------
//
// Destinations::ForFile: the destinations of `pmem2 bench PATH` (see destinations.h).

#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/destinations.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/mappings.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr long kTmpfsMagic = 0x01021994;

bool OnTmpfs(int fd) {
  struct statfs fs;
  return fstatfs(fd, &fs) == 0 && static_cast<long>(fs.f_type) == kTmpfsMagic;
}

std::vector<std::string> FileNotes(const std::string& path, uint64_t size, const Lane& lane, const Map& map,
                                   const ReferenceMap& ref, const std::string& reference_path) {
  std::vector<std::string> notes;
  notes.push_back(absl::StrCat("destination: ", path, " (", size, " bytes; window ", lane.window,
                               " bytes), mapped by pmem2 at ", lane.granularity, " granularity",
                               map.diagnostics().forced ? " (forced by PMEM2_FORCE_GRANULARITY)" : ""));
  notes.push_back(absl::StrCat("windows: hot ", lane.window,
                               " bytes (from 4 KiB), cold (seq, rand; move: half each way) ", lane.cold_window,
                               " bytes"));
  if (ReferenceGranularityName(ref.store_granularity()) != lane.granularity) {
    notes.push_back(absl::StrCat("note: the reference mapped it at ", ReferenceGranularityName(ref.store_granularity()),
                                 " granularity; rows are labelled with pmem2's"));
  }
  notes.push_back(lane.cpu_time ? "time: CPU time of the benchmark thread (calls never wait for a device)"
                                : "time: real time (msync waits for the device)");
  for (std::string& note : CpuNotes(lane.window, lane.cold_window)) notes.push_back(std::move(note));
  notes.push_back(absl::StrCat("reference: ", reference_path, "; limit kernels: ",
                               lane.limit_kind == LimitKind::kGlibc ? "glibc" : DescribeLimitKernels()));
  return notes;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Destinations>> Destinations::ForFile(int fd, const std::string& path, size_t max_window,
                                                                    size_t max_cold_window) {
  absl::StatusOr<const ReferenceLibrary*> lib = ReferenceLibrary::Load();
  if (!lib.ok()) return lib.status();
  std::unique_ptr<Destinations> d(new Destinations());
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return Prefixed(path, source.status());
  absl::StatusOr<uint64_t> size = source->Size();
  if (!size.ok()) return Prefixed(path, size.status());
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  // The windows are whole pages (below): a smaller PATH would leave every case out, and an empty table with
  // exit 0 reads as a run that measured something.
  if (*size < page) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", *size, " bytes; bench needs at least one page (",
                                                   page, " bytes), the smallest window it measures in"));
  }
  absl::StatusOr<Map> map = MapWithPmem2(*source, absl::nullopt);
  if (!map.ok()) return Prefixed(path, map.status());
  absl::StatusOr<ReferenceMap> ref = ReferenceMap::FromFd(**lib, fd, PMEM2_GRANULARITY_PAGE);
  if (!ref.ok()) return Prefixed(path, ref.status());
  // libpmem2 1.12.1 takes PMEM2_FORCE_GRANULARITY=PAGE on any source, where pmem2 keeps Device DAX at cache line: its
  // persist is then an msync, which Device DAX refuses (EINVAL), and a failed msync aborts the process in its first
  // copy. Refused here, unmapped and unwritten.
  if (source->kind() == SourceKind::kDeviceDax && ref->store_granularity() == PMEM2_GRANULARITY_PAGE) {
    return absl::FailedPreconditionError(
        absl::StrCat(path,
                     ": libpmem2 maps this Device DAX at page granularity (PMEM2_FORCE_GRANULARITY): its persist "
                     "would msync the device, which fails there, and abort the process; unset "
                     "PMEM2_FORCE_GRANULARITY or set it to CACHE_LINE"));
  }
  const size_t window = static_cast<size_t>(std::min<uint64_t>(*size, max_window)) / page * page;
  const size_t cold_window = static_cast<size_t>(std::min<uint64_t>(*size, max_cold_window)) / page * page;
  const size_t touched = std::max(window, cold_window);
  if (absl::Status s = d->AllocateSource(std::min<size_t>(std::max<size_t>(window, 1 << 20), size_t{64} << 20));
      !s.ok()) {
    return s;
  }
  // Every side writes through the reference's mapping, as ForComparison's do by default (destinations.h,
  // MappingUse::kShared): libpmem2 1.12.1's page persist makes no msync for an address outside its own maps,
  // while pmem2's functions and the limit's take any address of the file; and under a hypervisor that keeps
  // only the mapping faulted in last shadowed (mappings.h, TouchAgain), a mapping per side made every cold row
  // but the last side's measure hypervisor exits. pmem2's own mapping stays open (its functions and its
  // granularity come from it) but is never written.
  char* const shared = static_cast<char*>(ref->address());
  Prefault(shared, touched);
  const double ns_per_page = TouchAgain(shared, touched);

  Lane lane;
  lane.granularity = std::string(StoreGranularityName(map->store_granularity()));
  lane.window = window;
  lane.cold_window = cold_window;
  lane.pmem2 = FromPmem2(*map);
  lane.pmem2.base = shared;
  lane.reference = FromReference(*ref);
  SetLimit(map->store_granularity(), shared, &lane);
  lane.on_tmpfs = OnTmpfs(fd);
  lane.cpu_time = lane.on_tmpfs || map->store_granularity() != StoreGranularity::kPage;
  d->notes_ = FileNotes(path, *size, lane, *map, *ref, (*lib)->path);
  d->notes_.push_back(absl::StrFormat(
      "window touched again through the reference's mapping, which every side writes through, before timing: "
      "%.0f ns per page",
      ns_per_page));
  d->mappings_->pmem2.push_back(*std::move(map));
  d->mappings_->reference.push_back(*std::move(ref));
  d->lanes_.push_back(std::move(lane));
  return d;
}

}  // namespace bench
}  // namespace pmem2
