// Copyright 2026 The pmem2 Authors.
//
// tools/bench/destinations_comparison.cc
// -----------------------------------------------------------------------------
//
// Destinations::ForComparison: the destinations of //tools/bench:compare_benchmark (see destinations.h).

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/bench/destinations.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/mappings.h"
#include "tools/create_file.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr size_t kByteWindow = size_t{2} << 20;

// One lane on the shared file.
struct FileLaneSpec {
  StoreGranularity granularity;
  const char* force;  // PMEM2_FORCE_GRANULARITY while mapping; libpmem2 wants upper case, pmem2 takes both
  pmem2_granularity reference_granularity;
};

constexpr FileLaneSpec kFileLanes[] = {
    {StoreGranularity::kCacheLine, "CACHE_LINE", PMEM2_GRANULARITY_CACHE_LINE},
    {StoreGranularity::kPage, "PAGE", PMEM2_GRANULARITY_PAGE},
};

// The file every side maps: each maps it separately, so all columns write the same physical pages (with a
// file per side, where the kernel placed each file's pages moved whole columns between runs). Unnamed, so it
// goes away with the last mapping and descriptor whatever happens to the process. Allocated, not just sized:
// a sparse file on a /dev/shm without room for it maps fine, and Prefault's first store to a page tmpfs cannot
// provide is a SIGBUS (MADV_POPULATE_WRITE's failure there goes unnoticed); posix_fallocate says so as an error.
absl::StatusOr<int> CreateSharedFile(size_t size) {
  const int fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoError("open an unnamed file (O_TMPFILE) in /dev/shm", errno);
  if (absl::Status s = tools::AllocateFile(fd, "/dev/shm", size,
                                           "; free space there, or pass a smaller --window_mib / --cold_window_mib");
      !s.ok()) {
    close(fd);
    return s;
  }
  return fd;
}

// Maps the shared file with both libraries at `spec`'s granularity; every Target's base is its own mapping,
// none of them faulted in yet (ForComparison decides which are written).
absl::StatusOr<Lane> MapFileLane(const ReferenceLibrary& lib, const Source& source, size_t window, size_t cold_window,
                                 const FileLaneSpec& spec, Mappings* keep) {
  // Both libraries read the variable while mapping. Setting it for the page lane too keeps an inherited value
  // from turning that lane into something else.
  ForcedGranularity force(spec.force);
  absl::StatusOr<Map> map = MapWithPmem2(source, spec.granularity);
  if (!map.ok()) return map.status();
  absl::StatusOr<ReferenceMap> ref = ReferenceMap::FromFd(lib, source.fd(), PMEM2_GRANULARITY_PAGE);
  if (!ref.ok()) return ref.status();
  if (ref->store_granularity() != spec.reference_granularity) {
    return absl::InternalError(absl::StrCat("the reference mapped at ",
                                            ReferenceGranularityName(ref->store_granularity()),
                                            " granularity, expected ", StoreGranularityName(spec.granularity)));
  }
  Lane lane;
  lane.granularity = std::string(StoreGranularityName(spec.granularity));
  lane.window = window;
  // The cold window after the hot one: the hot columns and the persist rows keep rewriting the first bytes of the
  // file, which a cold pattern walking them would find cached.
  lane.cold_window = cold_window;
  lane.cold_offset = window;
  lane.pmem2 = FromPmem2(*map);
  lane.reference = FromReference(*ref);
  lane.on_tmpfs = true;
  keep->pmem2.push_back(*std::move(map));
  keep->reference.push_back(*std::move(ref));
  return lane;
}

// Byte granularity: anonymous memory for both libraries, glibc on anonymous memory as the limit.
absl::StatusOr<Lane> MapByteLane(const ReferenceLibrary& lib, Mappings* keep) {
  absl::StatusOr<Source> anon = Source::Anonymous(kByteWindow);
  if (!anon.ok()) return anon.status();
  ForcedGranularity force("BYTE");
  absl::StatusOr<Map> map = MapWithPmem2(*anon, StoreGranularity::kByte);
  if (!map.ok()) return map.status();
  absl::StatusOr<ReferenceMap> ref = ReferenceMap::Anonymous(lib, kByteWindow);
  if (!ref.ok()) return ref.status();
  if (ref->store_granularity() != PMEM2_GRANULARITY_BYTE) {
    return absl::InternalError("the reference mapped anonymous memory at a granularity other than byte");
  }
  absl::StatusOr<std::unique_ptr<PlainMapping>> glibc = PlainMapping::Anonymous(kByteWindow);
  if (!glibc.ok()) return glibc.status();
  Prefault(static_cast<char*>(map->address()), kByteWindow);
  Prefault(static_cast<char*>(ref->address()), kByteWindow);
  Prefault((*glibc)->data(), kByteWindow);
  Lane lane;
  lane.granularity = "byte";
  lane.window = kByteWindow;
  lane.pmem2 = FromPmem2(*map);
  lane.reference = FromReference(*ref);
  SetLimit(StoreGranularity::kByte, (*glibc)->data(), &lane);
  lane.memcpy_only = true;
  keep->pmem2.push_back(*std::move(map));
  keep->reference.push_back(*std::move(ref));
  keep->plain.push_back(*std::move(glibc));
  return lane;
}

std::vector<std::string> ComparisonNotes(size_t window, size_t cold_window, const std::string& reference_path,
                                         MappingUse use) {
  std::vector<std::string> notes = {
      absl::StrCat("destination: one ", (window + cold_window) >> 20, " MiB file on /dev/shm (tmpfs), ",
                   use == MappingUse::kShared
                       ? "every side of both lanes writing through libpmem2's page mapping (--own_mappings: each "
                         "through its own)"
                       : "mapped by each side on its own (--own_mappings)",
                   "; cache_line forced with PMEM2_FORCE_GRANULARITY; byte = anonymous memory"),
      cold_window == 0
          ? absl::StrCat("windows: hot ", window >> 20, " MiB (from 4 KiB)")
          : absl::StrCat("windows: hot ", window >> 20,
                         " MiB (from 4 KiB), then cold (seq, rand; move: half each way) ", cold_window >> 20, " MiB"),
      "time: CPU time of the benchmark thread (every call keeps the CPU busy; real time would count other "
      "tasks' time slices on this shared host)",
  };
  for (std::string& note : CpuNotes(window, cold_window)) notes.push_back(std::move(note));
  notes.push_back(absl::StrCat("reference: ", reference_path, "; limit kernels: ", DescribeLimitKernels()));
  return notes;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Destinations>> Destinations::ForComparison(size_t window, size_t cold_window,
                                                                         MappingUse use) {
  absl::StatusOr<const ReferenceLibrary*> lib = ReferenceLibrary::Load();
  if (!lib.ok()) return lib.status();
  std::unique_ptr<Destinations> d(new Destinations());
  if (absl::Status s = d->AllocateSource(std::min(window, size_t{64} << 20)); !s.ok()) return s;
  const size_t file_size = window + cold_window;  // the hot window, then the cold one (MapFileLane)
  absl::StatusOr<int> fd = CreateSharedFile(file_size);
  if (!fd.ok()) return fd.status();
  d->mappings_->fds.push_back(*fd);
  absl::StatusOr<Source> source = Source::FromFd(*fd);
  if (!source.ok()) return source.status();
  for (const FileLaneSpec& spec : kFileLanes) {
    absl::StatusOr<Lane> lane = MapFileLane(**lib, *source, window, cold_window, spec, d->mappings_.get());
    if (!lane.ok()) return lane.status();
    d->lanes_.push_back(*std::move(lane));
  }
  Lane& cache_line = d->lanes_[0];
  Lane& page = d->lanes_[1];
  char* touched_last = nullptr;
  if (use == MappingUse::kShared) {
    // One mapping for every side of both lanes, so the columns differ in their code only, not in their page
    // tables: the reference's page mapping, because libpmem2 1.12.1's page persist makes no msync for an address
    // outside its own maps (pmem2/map/persist_error_test.cc), while both libraries' cache-line functions (stores
    // and CPU write-back) and pmem2's page functions (stores, then msync of the range) work on any address.
    touched_last = page.reference.base;
    Prefault(touched_last, file_size);
    SetLimit(StoreGranularity::kCacheLine, touched_last, &cache_line);
    SetLimit(StoreGranularity::kPage, touched_last, &page);
    for (Lane* lane : {&cache_line, &page}) {
      lane->pmem2.base = touched_last;
      lane->reference.base = touched_last;
    }
  } else {
    absl::StatusOr<std::unique_ptr<PlainMapping>> limit = PlainMapping::OfFile(*fd, file_size, 0);
    if (!limit.ok()) return limit.status();
    Prefault((*limit)->data(), file_size);
    SetLimit(StoreGranularity::kPage, (*limit)->data(), &page);
    SetLimit(StoreGranularity::kCacheLine, (*limit)->data(), &cache_line);
    d->mappings_->plain.push_back(*std::move(limit));
    for (char* base : {page.pmem2.base, page.reference.base, cache_line.reference.base, cache_line.pmem2.base}) {
      Prefault(base, file_size);
    }
    touched_last = cache_line.pmem2.base;
  }
  // Under a hypervisor that shadows the guest's page tables (mappings.h, TouchAgain) a random cold write through
  // any mapping but the last one faulted in cost 7 us at first, falling to 1 us after 2.4 million writes: the
  // shared mapping avoids that, and with --own_mappings the cache-line lane's pmem2 mapping is the one spared.
  const double ns_per_page = TouchAgain(touched_last, file_size);
  const std::string touched_note = absl::StrFormat(
      "the file (both windows) touched again through %s before timing: %.0f ns per page%s",
      use == MappingUse::kShared ? "the shared mapping" : "pmem2's cache_line mapping", ns_per_page,
      use == MappingUse::kOwn && ns_per_page > kShadowedPageNs
          ? " (page faults exit to the hypervisor here: cold rows through every other mapping include such exits)"
          : "");
  absl::StatusOr<Lane> byte = MapByteLane(**lib, d->mappings_.get());
  if (!byte.ok()) return byte.status();
  d->lanes_.push_back(*std::move(byte));
  d->notes_ = ComparisonNotes(window, cold_window, (*lib)->path, use);
  d->notes_.push_back(touched_note);
  return d;
}

}  // namespace bench
}  // namespace pmem2
