// Copyright 2026 The pmem2 Authors.
//
// testing/dax_vm/dax_checks.cc
// -----------------------------------------------------------------------------
//
// pmem2's decisions on real DAX, run inside the DAX test VM (see README.md). Each command checks one source
// against the granularity the platform should give it and prints one line per expectation, `ok: ...` or
// `bad: ...`; the exit status is 0 iff nothing was bad. The VM's init turns that into PASS/FAIL lines.
//
//   dax_checks fsdax FILE GRANULARITY
//       Creates FILE (4 MiB) and checks: Source kind/size/alignment; requesting byte, cache line and page maps
//       exactly when the request is not finer than GRANULARITY, and fails with kGranularityNotSupported
//       otherwise; the mapping's granularity is GRANULARITY, its diagnostics report MAP_SYNC iff GRANULARITY
//       is not page, and the kernel marks the mapping synchronous ("sf" in smaps) iff so; a raw shared mapping
//       adopted with Map::FromExisting at cache line is cache line iff so, else page; data written with
//       memcpy_fn/memset_fn and persisted reads back through read(); a forked child maps the Map again once
//       and persists through it.
//   dax_checks fsdax FILE GRANULARITY named-apart
//       The same, and /proc/self/maps must name the Map's mapping by another device or inode than fstat names
//       FILE by (overlayfs on this kernel: the upper layer's file), which the forked child must see through.
//   dax_checks devdax DEV GRANULARITY
//       Device DAX: size and alignment as sysfs says; 4 KiB offsets and lengths refused (kOffsetUnaligned,
//       kLengthUnaligned); a private mapping refused (kSrcDevdaxPrivate); a range past the end refused
//       (kMapRange); granularity requests as above; data written at a 2 MiB offset and persisted reads back
//       through an independent mapping. msync cannot persist Device DAX (EINVAL), so: SyncPages over the Map
//       succeeds (it writes the range back from the CPU caches) and leaves the Map's persists succeeding; a
//       mapping adopted with Map::FromExisting at page granularity is cache line; one adopted from inside a page,
//       synced on past its end, is written back and charged nothing (a Map of another file in its page is refused,
//       kMapExists); PMEM2_FORCE_GRANULARITY=page
//       gives cache line too. Then libpmem's pmem_map_file on DEV (pmem2/c/libpmem.h): len 0 with
//       PMEM_FILE_CREATE, and len = the device's size without flags, each map the whole device with *is_pmemp 1
//       (its last byte readable) and unmap; EXCL and a length that is neither are EINVAL.
//   dax_checks write PATH SEED persist|nopersist [OFFSET]
//       The crash test's first half: maps 2 MiB of PATH at OFFSET through pmem2 (a regular file is created and
//       made durable first, empty) and writes the pattern of SEED. `persist`: with memcpy_fn + persist_fn.
//       `nopersist`: plain stores and no persist at all (the negative control). `dax_probe verify` checks it
//       after the crash.
//   dax_checks deepflush PATH REGION nothing|written|untouched|untouched-nonroot|eacces
//       Map::DeepFlush on PATH (a new 4 MiB file, or 2 MiB of a Device DAX at 8 MiB), mapped with pmem2, while
//       inotify watches the deep_flush attribute of every NVDIMM region (/sys/bus/nd/devices/region*/):
//       a range outside the Map is refused (kDeepFlushRange); then bytes written with plain stores are deep
//       flushed, which must return OK having read REGION's attribute and not written it (`nothing`: it reads 0,
//       the region has no flush mechanism), OK having written it (`written`: it reads 1), OK touching no region
//       (`untouched`: a file, where DeepFlush is an msync, at any granularity; `untouched-nonroot` the same as
//       uid/gid 65534 after mapping), or kErrno EACCES having read it and not written it (`eacces`: it reads 1 and
//       the flush runs as uid/gid 65534 after mapping). No other region's attribute may be touched.
//   dax_checks volatile DEV [virtio-pmem]
//       A Device DAX of volatile memory (the hmem driver's, of soft-reserved memory: on no NVDIMM region): Map::Create
//       at every required granularity and Map::FromExisting of a raw shared mapping of it at every granularity are
//       refused with kGranularityNotSupported (the raw mapping works: the refusal is pmem2's), pmem_map_file is
//       EINVAL; Debian's libpmem2 1.12.1 (dlopen, in a child) does not refuse it: pmem2_map_new dies of SIGSEGV.
//       `virtio-pmem`: DEV is on a virtio-pmem device's region, and pmem2's refusals must name that; Debian's
//       libpmem2 maps it (cache line) and its persist returns, as if the stores were durable.
//   dax_checks reserve DEV
//       Device DAX in a VmReservation: twice its alignment of DEV (at 12 MiB), placed at the reservation offset
//       that makes the address a multiple of the device alignment, maps at exactly reservation + offset (found
//       by FindMap, its data visible through a raw mapping); offsets that are page-aligned but not
//       device-aligned (+4 KiB, +half the alignment) are refused with kAddressUnaligned and leave the
//       reservation empty; once the Map is gone, the range can be mapped again.

#include <dlfcn.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "pmem2/c/libpmem.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/raw_memory.h"
#include "pmem2/pmem2.h"
#include "testing/dax_vm/pattern.h"

namespace {

using pmem2::ErrorCode;
using pmem2::StoreGranularity;

constexpr size_t kMiB = size_t{1} << 20;

int g_bad = 0;

void Ok(const std::string& what) { std::printf("ok: %s\n", what.c_str()); }
void Bad(const std::string& what) {
  std::printf("bad: %s\n", what.c_str());
  ++g_bad;
}
bool Expect(bool cond, const std::string& what) {
  cond ? Ok(what) : Bad(what);
  return cond;
}

std::string Name(StoreGranularity g) { return std::string(pmem2::StoreGranularityName(g)); }
std::string Describe(const absl::Status& s) {
  return absl::StrCat(pmem2::ErrorCodeName(pmem2::GetErrorCode(s)), " (", s.message(), ")");
}

absl::optional<StoreGranularity> ParseGranularity(const char* text) {
  if (std::strcmp(text, "byte") == 0) return StoreGranularity::kByte;
  if (std::strcmp(text, "cache_line") == 0) return StoreGranularity::kCacheLine;
  if (std::strcmp(text, "page") == 0) return StoreGranularity::kPage;
  return absl::nullopt;
}

const StoreGranularity kAll[] = {StoreGranularity::kByte, StoreGranularity::kCacheLine, StoreGranularity::kPage};

// A Config, or a "bad:" line and nullopt if it does not validate although every value is valid.
absl::optional<pmem2::Config> MakeConfig(StoreGranularity required, uint64_t offset, size_t length,
                                         pmem2::Sharing sharing = pmem2::Sharing::kShared) {
  pmem2::Config c;
  c.set_required_store_granularity(required);
  c.set_offset(offset);
  c.set_length(length);
  c.set_sharing(sharing);
  if (absl::Status s = c.Validate(); !s.ok()) {
    Bad("Config::Validate refused valid values: " + Describe(s));
    return absl::nullopt;
  }
  return c;
}

// Map::Create must fail with `want`.
void ExpectRefused(const pmem2::Source& source, const pmem2::Config& config, ErrorCode want,
                   const std::string& what) {
  absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, source);
  if (map.ok()) {
    Bad(what + ": mapped, want " + std::string(pmem2::ErrorCodeName(want)));
  } else {
    Expect(pmem2::GetErrorCode(map.status()) == want,
           what + ": " + Describe(map.status()) + (pmem2::GetErrorCode(map.status()) == want
                                                       ? std::string()
                                                       : ", want " + std::string(pmem2::ErrorCodeName(want))));
  }
}

// Requests every granularity: the mapping exists iff the request is not finer than `effective`, and then has
// granularity `effective`. Returns the page-granularity request's mapping (which always maps) for more checks.
absl::optional<pmem2::Map> CheckRequests(const pmem2::Source& source, StoreGranularity effective,
                                         uint64_t offset, size_t length) {
  absl::optional<pmem2::Map> page_map;
  for (StoreGranularity required : kAll) {
    absl::optional<pmem2::Config> config = MakeConfig(required, offset, length);
    if (!config) continue;
    absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(*config, source);
    const std::string what = "required " + Name(required);
    if (static_cast<int>(required) >= static_cast<int>(effective)) {
      if (!Expect(map.ok(), what + " maps" + (map.ok() ? "" : ": " + Describe(map.status())))) continue;
      Expect(map->store_granularity() == effective,
             what + ": effective granularity " + Name(map->store_granularity()) + ", want " + Name(effective));
      const pmem2::MapDiagnostics& d = map->diagnostics();
      std::printf("   map: size=%zu map_sync=%d domain=%s reason=%s flush=%s\n", map->size(), d.map_sync ? 1 : 0,
                  d.persistence_domain.c_str(), d.reason.c_str(), d.flush_name);
      Expect(map->persist_fn() && map->flush_fn() && map->drain_fn() && map->memcpy_fn() && map->memmove_fn() &&
                 map->memset_fn(),
             what + ": every persistence function is set");
      if (required == StoreGranularity::kPage) page_map = std::move(*map);
    } else {
      if (map.ok()) {
        Bad(what + ": mapped with granularity " + Name(map->store_granularity()) +
            ", want kGranularityNotSupported (effective " + Name(effective) + ")");
      } else {
        Expect(pmem2::GetErrorCode(map.status()) == ErrorCode::kGranularityNotSupported,
               what + " refused: " + Describe(map.status()));
      }
    }
  }
  return page_map;
}

// Whether the kernel's VmFlags for the mapping at `addr` include `flag` ("sf": synchronous faults, MAP_SYNC).
absl::optional<bool> HasVmFlag(const void* addr, const std::string& flag) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in = false;
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  while (std::getline(smaps, line)) {
    unsigned long lo, hi;
    char dash;
    if (std::sscanf(line.c_str(), "%lx%c%lx ", &lo, &dash, &hi) == 3 && dash == '-') {
      in = a >= lo && a < hi;
    } else if (in && line.compare(0, 8, "VmFlags:") == 0) {
      return (line + " ").find(" " + flag + " ") != std::string::npos;
    }
  }
  return absl::nullopt;
}

// "MAJ:MIN INODE" as /proc/self/maps names the mapping that holds `addr` (the device in hex), or "".
std::string MapsName(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  for (std::string line; std::getline(maps, line);) {
    unsigned long lo, hi, inode;
    char device[32];
    if (std::sscanf(line.c_str(), "%lx-%lx %*s %*s %31s %lu", &lo, &hi, device, &inode) == 4 && a >= lo && a < hi) {
      return absl::StrCat(device, " ", inode);
    }
  }
  return "";
}

// Writes the pattern of `seed` with memcpy_fn, fills the next page with memset_fn, persists both.
bool WriteAndPersist(const pmem2::Map& map, const std::string& seed) {
  std::vector<char> buf(dax_vm::kPatternLength);
  dax_vm::FillPattern(buf.data(), seed);
  char* dst = static_cast<char*>(map.address());
  map.memcpy_fn()(dst, buf.data(), buf.size(), 0);
  map.memset_fn()(dst + buf.size(), 0x5a, 4096, 0);
  map.persist_fn()(dst, buf.size() + 4096);
  absl::Status err = map.PersistError();
  return Expect(err.ok(), "memcpy_fn + memset_fn + persist_fn" + (err.ok() ? "" : ": " + Describe(err)));
}

// The bytes WriteAndPersist() left, as found in `data` (kPatternLength + 4096 bytes).
void ExpectWritten(const char* data, const std::string& seed, const std::string& how) {
  size_t good = dax_vm::CountPatternPages(data, seed);
  size_t pages = dax_vm::kPatternLength / dax_vm::kPatternStride;
  Expect(good == pages, how + ": " + std::to_string(good) + "/" + std::to_string(pages) +
                            " pages hold what memcpy_fn wrote");
  bool filled = true;
  for (size_t i = 0; i < 4096; ++i) filled = filled && data[dax_vm::kPatternLength + i] == 0x5a;
  Expect(filled, how + ": the page memset_fn filled reads back");
}

int Fsdax(const char* path, StoreGranularity effective, bool named_apart) {
  const size_t kFileSize = 4 * kMiB;
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, kFileSize) != 0) {
    const int err = errno;
    Bad(std::string("create ") + path + ": " + std::strerror(err));
    return 1;
  }
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  if (!Expect(source.ok(), "Source::FromFd" + (source.ok() ? "" : ": " + Describe(source.status())))) return 1;
  Expect(source->kind() == pmem2::SourceKind::kRegularFile,
         "source kind " + std::string(pmem2::SourceKindName(source->kind())));
  absl::StatusOr<uint64_t> size = source->Size();
  Expect(size.ok() && *size == kFileSize, "Size() " + (size.ok() ? std::to_string(*size) : Describe(size.status())) +
                                              ", want " + std::to_string(kFileSize));
  absl::StatusOr<size_t> alignment = source->Alignment();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  Expect(alignment.ok() && *alignment == page,
         "Alignment() " + (alignment.ok() ? std::to_string(*alignment) : Describe(alignment.status())) +
             ", want the page size " + std::to_string(page));

  absl::optional<pmem2::Map> map = CheckRequests(*source, effective, 0, 0);
  if (!map) return 1;
  const bool sync = effective != StoreGranularity::kPage;
  Expect(map->diagnostics().map_sync == sync, std::string("diagnostics: map_sync ") +
                                                  (map->diagnostics().map_sync ? "yes" : "no") + ", want " +
                                                  (sync ? "yes" : "no"));
  absl::optional<bool> sf = HasVmFlag(map->address(), "sf");
  Expect(sf.has_value() && *sf == sync, std::string("kernel VmFlags ") +
                                            (sf.has_value() ? (*sf ? "have" : "lack") : "not found for") +
                                            " sf (MAP_SYNC), want " + (sync ? "have" : "lack"));
  if (named_apart) {
    struct stat st {};
    fstat(fd, &st);
    char by_fstat[64];
    std::snprintf(by_fstat, sizeof by_fstat, "%02x:%02x %lu", major(st.st_dev), minor(st.st_dev),
                  static_cast<unsigned long>(st.st_ino));
    const std::string by_maps = MapsName(map->address());
    Expect(!by_maps.empty() && by_maps != by_fstat,
           "/proc/self/maps names the mapping " + by_maps + ", fstat the file " + by_fstat + " (want another name)");
  }
  // A raw shared mapping of the file adopted at cache line: kept where the file takes MAP_SYNC, page where it does not
  // (virtio-pmem, dax=never), as Create() decides (map.h: FromExisting asks the same question).
  {
    void* raw = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (Expect(raw != MAP_FAILED, "a raw shared mapping of the file")) {
      {
        absl::StatusOr<pmem2::Map> adopted = pmem2::Map::FromExisting(*source, raw, page, StoreGranularity::kCacheLine);
        const StoreGranularity want = sync ? StoreGranularity::kCacheLine : StoreGranularity::kPage;
        if (Expect(adopted.ok(),
                   "Map::FromExisting(cache_line)" + (adopted.ok() ? "" : ": " + Describe(adopted.status())))) {
          Expect(adopted->store_granularity() == want, "an adopted cache-line Map: granularity " +
                                                           Name(adopted->store_granularity()) + ", want " + Name(want) +
                                                           " (" + adopted->diagnostics().reason + ")");
        }
      }
      munmap(raw, page);
    }
  }

  const std::string seed = std::string("fsdax-check-") + path;
  if (!WriteAndPersist(*map, seed)) return 1;
  std::vector<char> back(dax_vm::kPatternLength + 4096);
  ssize_t n = pread(fd, back.data(), back.size(), 0);
  if (!Expect(n == static_cast<ssize_t>(back.size()), "read() of the written range")) return 1;
  ExpectWritten(back.data(), seed, "read()");

  // A forked child maps the Map again through a file description of its own (map_registry.h, ChildReopenHandle):
  // once, found as the Map's own in /proc/self/maps on this file system, with MAP_SYNC kept, and persisting.
  const pid_t child = fork();
  if (child == 0) {
    const absl::optional<bool> child_sf = HasVmFlag(map->address(), "sf");
    const std::string child_seed = seed + "-child";
    std::vector<char> pattern(dax_vm::kPatternLength);
    dax_vm::FillPattern(pattern.data(), child_seed);
    map->memcpy_fn()(map->address(), pattern.data(), pattern.size(), 0);
    map->persist_fn()(map->address(), pattern.size());
    _exit((pmem2::map_internal::MappedAgainInChildForTest() == 1 ? 0 : 1) |
          (child_sf.has_value() && *child_sf == sync ? 0 : 2) | (map->PersistError().ok() ? 0 : 4));
  }
  int status = 0;
  const bool waited = child > 0 && waitpid(child, &status, 0) == child;
  Expect(waited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
         "a forked child maps the Map again once, MAP_SYNC " + std::string(sync ? "kept" : "absent") +
             ", and persists (child exit " + std::to_string(waited && WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
             ": 1 not mapped again, 2 VmFlags, 4 PersistError)");
  n = pread(fd, back.data(), dax_vm::kPatternLength, 0);
  if (Expect(n == static_cast<ssize_t>(dax_vm::kPatternLength), "read() of the child's range")) {
    Expect(dax_vm::CountPatternPages(back.data(), seed + "-child") == dax_vm::kPatternLength / dax_vm::kPatternStride,
           "read(): the child's memcpy_fn reached the file");
  }
  close(fd);
  return g_bad ? 1 : 0;
}

// pmem_map_file's Device DAX rules (pmem2/map_file/map_file.h), which differ from a file's: CREATE is ignored, so
// len 0 with it maps the whole device as len 0 without it does; len is 0 or exactly the device's `size`.
void CheckPmemMapFile(const char* dev, uint64_t size) {
  struct Call {
    size_t len;
    int flags;
    const char* what;
  };
  for (const Call& c : {Call{0, PMEM_FILE_CREATE, "len 0, CREATE"},
                        Call{static_cast<size_t>(size), 0, "len = device size, no flags"}}) {
    size_t mapped_len = 0;
    int is_pmem = -1;
    void* addr = pmem_map_file(dev, c.len, c.flags, 0, &mapped_len, &is_pmem);
    const std::string what = absl::StrCat("pmem_map_file(", dev, ", ", c.what, ")");
    if (!Expect(addr != nullptr, what + (addr != nullptr ? " maps" : absl::StrCat(": ", pmem_errormsg())))) {
      continue;
    }
    Expect(mapped_len == size && is_pmem == 1,
           absl::StrCat(what, ": mapped_len ", mapped_len, " is_pmem ", is_pmem, ", want ", size, " and 1"));
    // The last byte is in the mapping only if all of the device is (a shorter one would fault). Read, not
    // written: the crash test's data on this device must stay as it is.
    const char last = static_cast<volatile const char*>(addr)[size - 1];
    (void)last;
    // libpmem's pmem_msync returns -1 (EINVAL) on Device DAX; here the range is written back instead.
    errno = 0;
    const int msynced = pmem_msync(addr, 4096);
    Expect(msynced == 0, absl::StrCat(what, ": pmem_msync of its first page: ", msynced == 0 ? "0" : pmem_errormsg()));
    Expect(pmem_unmap(addr, mapped_len) == 0, what + ": pmem_unmap");
  }
  // EXCL with the device's size: what a file's rules would send to open(O_EXCL) and so to EEXIST.
  for (const Call& c : {Call{static_cast<size_t>(size), PMEM_FILE_CREATE | PMEM_FILE_EXCL, "len = size, CREATE | EXCL"},
                        Call{static_cast<size_t>(size - 2 * kMiB), PMEM_FILE_CREATE, "len size - 2 MiB"}}) {
    errno = 0;
    void* addr = pmem_map_file(dev, c.len, c.flags, 0, nullptr, nullptr);
    const int err = errno;
    Expect(addr == nullptr && err == EINVAL, absl::StrCat("pmem_map_file(", dev, ", ", c.what, "): ",
                                                          addr != nullptr ? "mapped" : std::strerror(err),
                                                          ", want EINVAL"));
    if (addr != nullptr) pmem_unmap(addr, size);
  }
}

bool ReadSysfs(const std::string& path, std::string* out) {
  std::ifstream in(path);
  return static_cast<bool>(std::getline(in, *out));
}

int Devdax(const char* dev, StoreGranularity effective) {
  int fd = open(dev, O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    const int err = errno;
    Bad(std::string("open ") + dev + ": " + std::strerror(err));
    return 1;
  }
  const std::string sys = absl::StrCat("/sys/dev/char/", major(st.st_rdev), ":", minor(st.st_rdev));
  std::string sys_size, sys_align;
  if (!ReadSysfs(sys + "/size", &sys_size) || !ReadSysfs(sys + "/align", &sys_align)) {
    Bad("cannot read " + sys + "/{size,align}");
    return 1;
  }
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  if (!Expect(source.ok(), "Source::FromFd" + (source.ok() ? "" : ": " + Describe(source.status())))) return 1;
  Expect(source->kind() == pmem2::SourceKind::kDeviceDax,
         "source kind " + std::string(pmem2::SourceKindName(source->kind())));
  absl::StatusOr<uint64_t> size = source->Size();
  Expect(size.ok() && std::to_string(*size) == sys_size,
         "Size() " + (size.ok() ? std::to_string(*size) : Describe(size.status())) + ", sysfs says " + sys_size);
  absl::StatusOr<size_t> alignment = source->Alignment();
  Expect(alignment.ok() && std::to_string(*alignment) == sys_align && *alignment == 2 * kMiB,
         "Alignment() " + (alignment.ok() ? std::to_string(*alignment) : Describe(alignment.status())) +
             ", sysfs says " + sys_align + ", want 2 MiB");
  if (!size.ok() || !alignment.ok() || *size < 8 * kMiB) return 1;

  // What Device DAX refuses, with libpmem2's error codes.
  if (auto c = MakeConfig(StoreGranularity::kPage, 4096, 2 * kMiB))
    ExpectRefused(*source, *c, ErrorCode::kOffsetUnaligned, "offset 4 KiB");
  if (auto c = MakeConfig(StoreGranularity::kPage, 1 * kMiB, 2 * kMiB))
    ExpectRefused(*source, *c, ErrorCode::kOffsetUnaligned, "offset 1 MiB");
  if (auto c = MakeConfig(StoreGranularity::kPage, 0, 4096))
    ExpectRefused(*source, *c, ErrorCode::kLengthUnaligned, "length 4 KiB");
  if (auto c = MakeConfig(StoreGranularity::kPage, 0, 2 * kMiB, pmem2::Sharing::kPrivate))
    ExpectRefused(*source, *c, ErrorCode::kSrcDevdaxPrivate, "private mapping");
  if (auto c = MakeConfig(StoreGranularity::kPage, *size, 2 * kMiB))
    ExpectRefused(*source, *c, ErrorCode::kMapRange, "range past the end");

  // A 2 MiB-aligned, non-zero offset maps; writes there persist and show through another mapping.
  const uint64_t offset = 4 * kMiB;
  absl::optional<pmem2::Map> map = CheckRequests(*source, effective, offset, 4 * kMiB);
  if (!map) return 1;
  Expect(map->diagnostics().map_sync, "diagnostics: map_sync yes (Device DAX is synchronous)");
  Expect(reinterpret_cast<uintptr_t>(map->address()) % (2 * kMiB) == 0, "mapping address is 2 MiB aligned");
  const std::string seed = std::string("devdax-check-") + dev;
  if (!WriteAndPersist(*map, seed)) return 1;
  void* other = mmap(nullptr, 4 * kMiB, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (!Expect(other != MAP_FAILED, "an independent raw mapping of the range")) return 1;
  ExpectWritten(static_cast<const char*>(other), seed, "raw mapping");
  munmap(other, 4 * kMiB);

  // msync fails on Device DAX with EINVAL (dax_probe devdax). Over the Map, SyncPages (pmem_msync's engine) writes
  // the range back from the CPU caches instead and succeeds; recording that EINVAL on the Map would fail every
  // persist it makes from then on.
  const absl::Status synced = pmem2::SyncPages(map->address(), 4096);
  Expect(synced.ok(), "SyncPages over a Device DAX Map" + (synced.ok() ? "" : ": " + Describe(synced)));
  const absl::Status persisted = map->Persist(map->address(), 64);
  const absl::Status sticky = map->PersistError();
  Expect(persisted.ok() && sticky.ok(),
         "the Map's Persist after that SyncPages, and no sticky error" + (sticky.ok() ? "" : ": " + Describe(sticky)));

  // A mapping made elsewhere, adopted at page granularity: cache line, as msync cannot persist it. One alignment
  // long, the least a raw mapping of the device may be.
  const size_t raw_length = *alignment;
  void* raw = mmap(nullptr, raw_length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (Expect(raw != MAP_FAILED, "a raw writable mapping of offset 0 (one alignment)")) {
    absl::StatusOr<pmem2::Map> adopted = pmem2::Map::FromExisting(*source, raw, raw_length, StoreGranularity::kPage);
    if (Expect(adopted.ok(), "Map::FromExisting(page)" + (adopted.ok() ? "" : ": " + Describe(adopted.status())))) {
      Expect(adopted->store_granularity() == StoreGranularity::kCacheLine,
             "an adopted page Map of Device DAX: granularity " + Name(adopted->store_granularity()) +
                 ", want cache_line (" + adopted->diagnostics().reason + ")");
      const absl::Status adopted_persist = adopted->Persist(raw, 64);
      Expect(adopted_persist.ok(), "its Persist" + (adopted_persist.ok() ? "" : ": " + Describe(adopted_persist)));
    }
    adopted = absl::InternalError("released");
    // Part of a page adopted (FromExisting takes any range), and a sync from it on past its end, into the rest of the
    // Device DAX mapping: the Map's pages are written back whole (the bytes around it are the same mapping's, which
    // msync cannot persist either) and the Map is charged with nothing (an msync of its first and last pages failed
    // with EINVAL, recorded on it: found by an audit).
    char* const part = static_cast<char*>(raw) + 100;
    absl::StatusOr<pmem2::Map> sub_page = pmem2::Map::FromExisting(*source, part, 1000, StoreGranularity::kPage);
    if (Expect(sub_page.ok(),
               "Map::FromExisting of bytes 100-1099" + (sub_page.ok() ? "" : ": " + Describe(sub_page.status())))) {
      std::memset(part, 'd', 2000);
      const absl::Status overrun = pmem2::SyncPages(part, 2000);
      Expect(overrun.ok(), "SyncPages from that Map on into the rest of its Device DAX mapping" +
                               (overrun.ok() ? "" : ": " + Describe(overrun)));
      const absl::Status charged = sub_page->PersistError();
      Expect(charged.ok(), "and the Map is charged with nothing" + (charged.ok() ? "" : ": " + Describe(charged)));
    }
    sub_page = absl::InternalError("released");
    // The same page shared with a Map adopted under a file's Source (FromExisting checks the sharing, not the file):
    // refused, kMapExists, in either order, so that no page holds Maps of two files (one of them is not what is mapped
    // there, and that page's EINVAL could be a file's failed fsync, not for a write-back to take).
    const int other_fd = open("/tmp/dax-checks-other-file", O_RDWR | O_CREAT | O_TRUNC, 0600);
    absl::StatusOr<pmem2::Source> file_source =
        other_fd >= 0 ? pmem2::Source::FromFd(other_fd) : absl::StatusOr<pmem2::Source>(absl::InternalError("open"));
    if (Expect(file_source.ok(), "a file's Source for the misattributed adoptions")) {
      char* const in_page = static_cast<char*>(raw);
      absl::StatusOr<pmem2::Map> as_device =
          pmem2::Map::FromExisting(*source, in_page + 3000, 100, StoreGranularity::kPage);
      absl::StatusOr<pmem2::Map> as_file =
          pmem2::Map::FromExisting(*file_source, in_page, 100, StoreGranularity::kPage);
      Expect(as_device.ok() && !as_file.ok() && pmem2::GetErrorCode(as_file.status()) == ErrorCode::kMapExists,
             "FromExisting under a file's Source in the page of a Device DAX Map: kMapExists" +
                 (as_file.ok() ? std::string(": adopted") : ": " + Describe(as_file.status())));
      as_device = absl::InternalError("released");
      as_file = pmem2::Map::FromExisting(*file_source, in_page, 100, StoreGranularity::kPage);
      as_device = pmem2::Map::FromExisting(*source, in_page + 3000, 100, StoreGranularity::kPage);
      Expect(as_file.ok() && !as_device.ok() && pmem2::GetErrorCode(as_device.status()) == ErrorCode::kMapExists,
             "and under the device's Source in the page of a file's Map: kMapExists" +
                 (as_device.ok() ? std::string(": adopted") : ": " + Describe(as_device.status())));
      as_file = absl::InternalError("released");
    }
    if (other_fd >= 0) close(other_fd);
    unlink("/tmp/dax-checks-other-file");
    munmap(raw, raw_length);
  }

  // PMEM2_FORCE_GRANULARITY=page: msync cannot persist Device DAX (dax_probe devdax: EINVAL), so the Map is
  // cache line and its persists flush the CPU caches (map/granularity.h, rule 4); libpmem2 1.12.1 would persist
  // with msync and abort the process when it fails.
  setenv("PMEM2_FORCE_GRANULARITY", "page", 1);
  absl::optional<pmem2::Config> page_config = MakeConfig(StoreGranularity::kPage, 0, 4 * kMiB);
  absl::StatusOr<pmem2::Map> forced = page_config ? pmem2::Map::Create(*page_config, *source)
                                                  : absl::StatusOr<pmem2::Map>(absl::InternalError("no config"));
  unsetenv("PMEM2_FORCE_GRANULARITY");
  if (Expect(forced.ok(), "Map::Create with PMEM2_FORCE_GRANULARITY=page" +
                              (forced.ok() ? "" : ": " + Describe(forced.status())))) {
    Expect(forced->store_granularity() == StoreGranularity::kCacheLine,
           "PMEM2_FORCE_GRANULARITY=page on Device DAX: granularity " + Name(forced->store_granularity()) +
               ", want cache_line (" + forced->diagnostics().reason + ")");
    Expect(forced->diagnostics().forced, "diagnostics: forced");
    const std::string forced_seed = seed + "-forced-page";
    if (WriteAndPersist(*forced, forced_seed)) {
      other = mmap(nullptr, 4 * kMiB, PROT_READ, MAP_SHARED, fd, 0);
      if (Expect(other != MAP_FAILED, "an independent raw mapping of offset 0")) {
        ExpectWritten(static_cast<const char*>(other), forced_seed, "raw mapping (forced page)");
        munmap(other, 4 * kMiB);
      }
    }
  }
  close(fd);
  CheckPmemMapFile(dev, *size);
  return g_bad ? 1 : 0;
}

int Write(const char* path, const std::string& seed, bool persist, uint64_t offset) {
  struct stat st;
  bool device = stat(path, &st) == 0 && S_ISCHR(st.st_mode);
  int fd = open(path, device ? O_RDWR : O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    const int err = errno;
    Bad(std::string("open ") + path + ": " + std::strerror(err));
    return 1;
  }
  if (!device) {
    // The (empty, sparse) file itself is made durable, so only the data and the block allocation its page
    // faults make are at stake in the crash.
    if (ftruncate(fd, static_cast<off_t>(offset + dax_vm::kPatternLength)) != 0 || fsync(fd) != 0) {
      const int err = errno;
      Bad(std::string("ftruncate/fsync ") + path + ": " + std::strerror(err));
      return 1;
    }
    std::string dir = path;
    int dfd = open(dirname(&dir[0]), O_RDONLY | O_DIRECTORY);
    if (dfd < 0 || fsync(dfd) != 0) {
      const int err = errno;
      Bad(std::string("fsync of the folder of ") + path + ": " + std::strerror(err));
      return 1;
    }
    close(dfd);
  }
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  if (!Expect(source.ok(), "Source::FromFd" + (source.ok() ? "" : ": " + Describe(source.status())))) return 1;
  absl::optional<pmem2::Config> config = MakeConfig(StoreGranularity::kPage, offset, dax_vm::kPatternLength);
  if (!config) return 1;
  absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(*config, *source);
  if (!Expect(map.ok(), "Map::Create" + (map.ok() ? "" : ": " + Describe(map.status())))) return 1;
  std::printf("   %s: granularity %s, map_sync %d\n", path, Name(map->store_granularity()).c_str(),
              map->diagnostics().map_sync ? 1 : 0);
  std::vector<char> buf(dax_vm::kPatternLength);
  dax_vm::FillPattern(buf.data(), seed);
  if (persist) {
    map->memcpy_fn()(map->address(), buf.data(), buf.size(), 0);
    map->persist_fn()(map->address(), buf.size());
    absl::Status err = map->PersistError();
    Expect(err.ok(), "written with memcpy_fn and persist_fn" + (err.ok() ? "" : ": " + Describe(err)));
  } else {
    std::memcpy(map->address(), buf.data(), buf.size());
    Ok("written with plain stores, not persisted");
  }
  // Leaves without munmap: unmapping makes nothing durable, and the host kills the VM right after.
  return g_bad ? 1 : 0;
}

// The deep_flush attribute of every NVDIMM region, watched with inotify; `events` collects what happened to it.
struct Watched {
  std::string region;
  int wd;
  uint32_t events;
};

std::vector<Watched> WatchDeepFlush(int ifd) {
  std::vector<Watched> watched;
  glob_t g;
  if (glob("/sys/bus/nd/devices/region*/deep_flush", 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      const std::string path = g.gl_pathv[i];
      const int wd = inotify_add_watch(
          ifd, path.c_str(), IN_OPEN | IN_ACCESS | IN_MODIFY | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE);
      const size_t start = std::strlen("/sys/bus/nd/devices/");
      const std::string region = path.substr(start, path.rfind('/') - start);
      if (Expect(wd >= 0, "inotify watches " + path)) watched.push_back({region, wd, 0});
    }
    globfree(&g);
  }
  return watched;
}

void CollectEvents(int ifd, std::vector<Watched>* watched) {
  alignas(struct inotify_event) char buf[4096];
  ssize_t n;
  while ((n = read(ifd, buf, sizeof(buf))) > 0) {
    for (char* p = buf; p < buf + n;) {
      const struct inotify_event* e = reinterpret_cast<const struct inotify_event*>(p);
      for (Watched& w : *watched) {
        if (w.wd == e->wd) w.events |= e->mask;
      }
      p += sizeof(struct inotify_event) + e->len;
    }
  }
}

std::string DescribeEvents(uint32_t events) {
  std::string s;
  const std::pair<uint32_t, const char*> names[] = {{IN_OPEN, "open"},
                                                    {IN_ACCESS, "read"},
                                                    {IN_MODIFY, "write"},
                                                    {IN_CLOSE_WRITE, "close-after-write"},
                                                    {IN_CLOSE_NOWRITE, "close-read-only"}};
  for (const auto& [bit, name] : names) {
    if (events & bit) s += (s.empty() ? "" : ",") + std::string(name);
  }
  return s.empty() ? "untouched" : s;
}

int DeepFlush(const char* path, const std::string& region, const std::string& expect) {
  struct stat st;
  const bool device = stat(path, &st) == 0 && S_ISCHR(st.st_mode);
  int fd = open(path, device ? O_RDWR : O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || (!device && ftruncate(fd, 4 * kMiB) != 0)) {
    const int err = errno;
    Bad(std::string("open ") + path + ": " + std::strerror(err));
    return 1;
  }
  const std::string attr = "/sys/bus/nd/devices/" + region + "/deep_flush";
  std::string value;
  struct stat ast;
  if (ReadSysfs(attr, &value) && stat(attr.c_str(), &ast) == 0) {
    std::printf("   %s reads %s (mode %03o)\n", attr.c_str(), value.c_str(), ast.st_mode & 0777);
  } else {
    value = "missing";
    std::printf("   %s: no such attribute\n", attr.c_str());
  }
  if (expect == "nothing") {
    Expect(value == "0" || value == "missing",
           "the region has no flush mechanism (deep_flush " + value + "): nothing to drain");
  } else if (expect == "written" || expect == "eacces") {
    Expect(value == "1", "the region has a flush mechanism (deep_flush " + value + ")");
  }

  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  if (!Expect(source.ok(), "Source::FromFd" + (source.ok() ? "" : ": " + Describe(source.status())))) return 1;
  absl::optional<pmem2::Config> config = MakeConfig(StoreGranularity::kPage, device ? 8 * kMiB : 0, 2 * kMiB);
  if (!config) return 1;
  absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(*config, *source);
  if (!Expect(map.ok(), "Map::Create" + (map.ok() ? "" : ": " + Describe(map.status())))) return 1;
  std::printf("   %s: granularity %s, map_sync %d\n", path, Name(map->store_granularity()).c_str(),
              map->diagnostics().map_sync ? 1 : 0);
  char* data = static_cast<char*>(map->address());
  absl::Status outside = map->DeepFlush(data + map->size() - 64, 128);
  Expect(pmem2::GetErrorCode(outside) == ErrorCode::kDeepFlushRange,
         "DeepFlush past the end of the Map: " + Describe(outside));

  const int ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (!Expect(ifd >= 0, "inotify_init1")) return 1;
  std::vector<Watched> watched = WatchDeepFlush(ifd);
  if (expect == "eacces" || expect == "untouched-nonroot") {
    const gid_t nobody = 65534;
    if (!Expect(setgroups(1, &nobody) == 0 && setresgid(nobody, nobody, nobody) == 0 &&
                    setresuid(nobody, nobody, nobody) == 0 && geteuid() == nobody,
                "dropped to uid/gid 65534 after mapping")) {
      return 1;
    }
  }
  std::memset(data, 0x3c, 4096);
  absl::Status s = map->DeepFlush(data, 4096);
  CollectEvents(ifd, &watched);
  close(ifd);
  if (expect == "eacces") {
    const bool eacces = pmem2::GetErrorCode(s) == ErrorCode::kErrno && pmem2::GetErrno(s) == EACCES;
    Expect(eacces, "DeepFlush as uid 65534: " + Describe(s) + (eacces ? "" : ", want kErrno EACCES"));
  } else {
    Expect(s.ok(), "DeepFlush: " + (s.ok() ? std::string("OK") : Describe(s)));
  }
  bool seen = false;
  for (const Watched& w : watched) {
    const std::string what = w.region + "/deep_flush: " + DescribeEvents(w.events);
    if (w.region != region) {
      Expect(w.events == 0, what + " (not the region of " + path + ")");
      continue;
    }
    seen = true;
    const bool read = (w.events & IN_ACCESS) != 0;
    const bool written = (w.events & (IN_MODIFY | IN_CLOSE_WRITE)) != 0;
    if (expect == "untouched" || expect == "untouched-nonroot") {
      Expect(w.events == 0, what + ", want untouched (a file: DeepFlush is an msync)");
    } else if (expect == "written") {
      Expect(read && written, what + ", want read, then written");
    } else {
      Expect(read && !written, what + ", want read and not written");
    }
  }
  const bool untouched = expect == "untouched" || expect == "untouched-nonroot";
  if (!seen && !untouched && value != "missing") Bad("no deep_flush attribute watched in " + region);
  if (expect == "nothing" && g_bad == 0) {
    Ok("nothing to drain: " + region + "/deep_flush reads " + value + ", DeepFlush wrote back the caches only");
  }
  close(fd);
  return g_bad ? 1 : 0;
}

// DEV opened read-write (`*fd`, the caller's to close) and its Source; nullopt, said as bad, if either fails.
absl::optional<pmem2::Source> OpenDeviceSource(const char* dev, int* fd) {
  *fd = open(dev, O_RDWR);
  if (*fd < 0) {
    const int err = errno;
    Bad(std::string("open ") + dev + ": " + std::strerror(err));
    return absl::nullopt;
  }
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(*fd);
  if (!Expect(source.ok(), "Source::FromFd" + (source.ok() ? "" : ": " + Describe(source.status())))) {
    return absl::nullopt;
  }
  return *std::move(source);
}

int Reserve(const char* dev) {
  int fd = -1;
  absl::optional<pmem2::Source> source = OpenDeviceSource(dev, &fd);
  if (!source) return 1;
  absl::StatusOr<size_t> alignment = source->Alignment();
  if (!Expect(alignment.ok() && *alignment >= 2 * kMiB,
              "device alignment " + (alignment.ok() ? std::to_string(*alignment) : Describe(alignment.status())))) {
    return 1;
  }
  const size_t align = *alignment;
  absl::StatusOr<pmem2::VmReservation> rsv = pmem2::VmReservation::Create(4 * align);
  if (!Expect(rsv.ok(), "VmReservation::Create(4 x alignment)" + (rsv.ok() ? "" : ": " + Describe(rsv.status())))) {
    return 1;
  }
  const uintptr_t base = reinterpret_cast<uintptr_t>(rsv->address());
  // The smallest non-zero reservation offset whose address is a multiple of the device alignment.
  uint64_t aligned = (align - base % align) % align;
  if (aligned == 0) aligned = align;
  std::printf("   reservation at %#lx, %zu bytes; device alignment %zu; aligned offset %#lx\n",
              static_cast<unsigned long>(base), rsv->size(), align, static_cast<unsigned long>(aligned));
  const uint64_t file_offset = 12 * kMiB;
  auto place = [&](uint64_t offset) {
    absl::optional<pmem2::Config> c = MakeConfig(StoreGranularity::kPage, file_offset, 2 * align);
    if (c) c->set_vm_reservation(&*rsv, offset);
    return c;
  };
  for (uint64_t off : {aligned + 4096, aligned + align / 2}) {
    if (auto c = place(off)) {
      ExpectRefused(*source, *c, ErrorCode::kAddressUnaligned,
                    absl::StrCat("reservation offset 0x", absl::Hex(off), " (page- but not device-aligned)"));
    }
  }
  Expect(rsv->map_count() == 0, "the refused requests left the reservation empty");
  for (int round = 1; round <= 2; ++round) {
    absl::optional<pmem2::Config> c = place(aligned);
    if (!c) return 1;
    absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(*c, *source);
    const std::string what = absl::StrCat("reservation offset 0x", absl::Hex(aligned),
                                          round == 1 ? "" : " again, after the first Map was destroyed");
    if (!Expect(map.ok(), what + " maps" + (map.ok() ? "" : ": " + Describe(map.status())))) return 1;
    const uintptr_t at = reinterpret_cast<uintptr_t>(map->address());
    Expect(at == base + aligned, absl::StrCat(what, ": at reservation + offset (0x", absl::Hex(at), ")"));
    Expect(at % align == 0, what + ": address is a multiple of the device alignment");
    Expect(rsv->FindMap(aligned, 0) == &*map && rsv->map_count() == 1, what + ": FindMap finds it, 1 Map");
    std::printf("   granularity %s, map_sync %d\n", Name(map->store_granularity()).c_str(),
                map->diagnostics().map_sync ? 1 : 0);
    const std::string seed = absl::StrCat("reserve-", round, "-", dev);
    if (!WriteAndPersist(*map, seed)) return 1;
    void* other = mmap(nullptr, 2 * align, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(file_offset));
    if (!Expect(other != MAP_FAILED, "an independent raw mapping of the range")) return 1;
    ExpectWritten(static_cast<const char*>(other), seed, what + ": raw mapping");
    munmap(other, 2 * align);
  }
  Expect(rsv->map_count() == 0, "no Map left in the reservation");
  close(fd);
  return g_bad ? 1 : 0;
}

// Device DAX of volatile memory (soft-reserved memory the hmem driver made a device of; on no NVDIMM region), or on
// a virtio-pmem device (`virtio`: durable only by the device's flush, which nothing done through a Device DAX asks
// for): no store granularity is met there, so pmem2 maps none of it; Debian's libpmem2 1.12.1, loaded beside pmem2
// with dlopen, does not refuse it (the difference README names). The device itself maps: the refusal is pmem2's.
int Volatile(const char* dev, bool virtio) {
  int fd = -1;
  absl::optional<pmem2::Source> source = OpenDeviceSource(dev, &fd);
  if (!source) return 1;
  Expect(source->kind() == pmem2::SourceKind::kDeviceDax,
         "source kind " + std::string(pmem2::SourceKindName(source->kind())));
  absl::StatusOr<size_t> alignment = source->Alignment();
  if (!Expect(alignment.ok(), "Alignment()" + (alignment.ok() ? "" : ": " + Describe(alignment.status())))) return 1;
  const size_t length = *alignment;
  const std::string why = virtio ? "of a virtio-pmem device" : "is not on an NVDIMM region";
  for (StoreGranularity required : kAll) {
    absl::optional<pmem2::Config> config = MakeConfig(required, 0, length);
    if (!config) continue;
    absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(*config, *source);
    const std::string what = absl::StrCat("Map::Create requiring ", pmem2::StoreGranularityName(required));
    if (map.ok()) {
      Bad(what + ": mapped, want kGranularityNotSupported");
      continue;
    }
    Expect(pmem2::GetErrorCode(map.status()) == ErrorCode::kGranularityNotSupported &&
               map.status().message().find(why) != absl::string_view::npos,
           what + ": " + Describe(map.status()) + ", want it to say \"" + why + "\"");
  }
  void* raw = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (Expect(raw != MAP_FAILED, "a raw shared mapping of the device")) {
    for (StoreGranularity given : kAll) {
      const absl::Status adopted = pmem2::Map::FromExisting(*source, raw, length, given).status();
      Expect(pmem2::GetErrorCode(adopted) == ErrorCode::kGranularityNotSupported &&
                 adopted.message().find(why) != absl::string_view::npos,
             absl::StrCat("Map::FromExisting at ", pmem2::StoreGranularityName(given), ": ", Describe(adopted)));
    }
    munmap(raw, length);
  }
  size_t mapped = 0;
  int is_pmem = -1;
  errno = 0;
  void* libpmem = pmem_map_file(dev, 0, 0, 0, &mapped, &is_pmem);
  const int map_file_errno = errno;
  const std::string map_file_message = pmem_errormsg();
  Expect(libpmem == nullptr && map_file_errno == EINVAL && map_file_message.find(why) != std::string::npos,
         std::string("pmem_map_file: ") + (libpmem == nullptr ? std::strerror(map_file_errno) : "mapped") +
             ", want EINVAL (" + map_file_message + ")");
  if (libpmem != nullptr) pmem_unmap(libpmem, mapped);

  // Debian's libpmem2, as the guest's copy of PMDK's unsafe_shutdown example loads it, in a child: on this device
  // it may not come back.
  std::fflush(stdout);
  const pid_t child = fork();
  if (child == 0) {
    void* reference = dlopen("libpmem2.so.1", RTLD_NOW | RTLD_LOCAL);
    if (reference == nullptr) {
      std::printf("libpmem2: dlopen: %s\n", dlerror());
      _exit(90);
    }
    using SourceFromFd = int (*)(void**, int);
    using ConfigNew = int (*)(void**);
    using ConfigSetGranularity = int (*)(void*, int);
    using MapNew = int (*)(void**, const void*, const void*);
    using MapGet = void* (*)(void*);
    using MapGranularity = int (*)(void*);
    using PersistFn = void (*)(const void*, size_t);
    auto source_from_fd = reinterpret_cast<SourceFromFd>(dlsym(reference, "pmem2_source_from_fd"));
    auto config_new = reinterpret_cast<ConfigNew>(dlsym(reference, "pmem2_config_new"));
    auto set_granularity =
        reinterpret_cast<ConfigSetGranularity>(dlsym(reference, "pmem2_config_set_required_store_granularity"));
    auto map_new = reinterpret_cast<MapNew>(dlsym(reference, "pmem2_map_new"));
    auto map_address = reinterpret_cast<MapGet>(dlsym(reference, "pmem2_map_get_address"));
    auto map_granularity = reinterpret_cast<MapGranularity>(dlsym(reference, "pmem2_map_get_store_granularity"));
    auto get_persist = reinterpret_cast<PersistFn (*)(void*)>(dlsym(reference, "pmem2_get_persist_fn"));
    if (!source_from_fd || !config_new || !set_granularity || !map_new || !map_address || !map_granularity ||
        !get_persist) {
      _exit(91);
    }
    void* ref_config = nullptr;
    if (config_new(&ref_config) != 0 || set_granularity(ref_config, 2 /* PMEM2_GRANULARITY_PAGE */) != 0) _exit(92);
    void* ref_source = nullptr;
    std::printf("libpmem2: pmem2_source_from_fd ...\n");
    std::fflush(stdout);
    if (const int rc = source_from_fd(&ref_source, fd); rc != 0) {
      std::printf("libpmem2: pmem2_source_from_fd returned %d\n", rc);
      _exit(93);
    }
    void* ref_map = nullptr;
    std::printf("libpmem2: pmem2_map_new ...\n");
    std::fflush(stdout);
    if (const int rc = map_new(&ref_map, ref_config, ref_source); rc != 0) {
      std::printf("libpmem2: pmem2_map_new returned %d\n", rc);
      _exit(94);
    }
    // 0 byte, 1 cache line, 2 page (enum pmem2_granularity)
    std::printf("libpmem2: pmem2_map_new mapped it, store granularity %d; a store and its persist ...\n",
                map_granularity(ref_map));
    std::fflush(stdout);
    char* const at = static_cast<char*>(map_address(ref_map));
    at[0] = 0x5a;
    get_persist(ref_map)(at, 64);
    std::printf("libpmem2: the persist returned\n");
    _exit(map_granularity(ref_map) == 1 ? 0 : 95);
  }
  int status = 0;
  if (Expect(child > 0 && waitpid(child, &status, 0) == child, "libpmem2's child ran")) {
    const std::string how = WIFSIGNALED(status) ? absl::StrCat("died of signal ", WTERMSIG(status))
                                                : absl::StrCat("exited with status ", WEXITSTATUS(status));
    // What README's row says of Debian's libpmem2 1.12.1: pmem2_map_new dies of SIGSEGV on the hmem device; it maps
    // the virtio-pmem one at cache line granularity, and its persist returns.
    if (virtio) {
      Expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
             "libpmem2 1.12.1 maps it at cache line granularity and its persist returns: " + how);
    } else {
      Expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
             "libpmem2 1.12.1 dies of SIGSEGV (its last step is printed above): " + how);
    }
  }
  close(fd);
  return g_bad ? 1 : 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: dax_checks fsdax FILE GRANULARITY [named-apart] | devdax DEV GRANULARITY |"
               " write PATH SEED persist|nopersist [OFFSET] |"
               " deepflush PATH REGION nothing|written|untouched|untouched-nonroot|eacces | reserve DEV |"
               " volatile DEV [virtio-pmem]\n"
               "GRANULARITY: byte, cache_line or page (what the platform should give)\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) return Usage();
  const std::string cmd = argv[1];
  if ((cmd == "fsdax" || cmd == "devdax") && argc == 4) {
    absl::optional<StoreGranularity> g = ParseGranularity(argv[3]);
    if (!g) return Usage();
    return cmd == "fsdax" ? Fsdax(argv[2], *g, false) : Devdax(argv[2], *g);
  }
  if (cmd == "fsdax" && argc == 5 && std::string(argv[4]) == "named-apart") {
    absl::optional<StoreGranularity> g = ParseGranularity(argv[3]);
    if (!g) return Usage();
    return Fsdax(argv[2], *g, true);
  }
  if (cmd == "write" && (argc == 5 || argc == 6)) {
    const std::string mode = argv[4];
    if (mode != "persist" && mode != "nopersist") return Usage();
    return Write(argv[2], argv[3], mode == "persist", argc == 6 ? std::strtoull(argv[5], nullptr, 0) : 0);
  }
  if (cmd == "deepflush" && argc == 5) {
    const std::string expect = argv[4];
    if (expect != "nothing" && expect != "written" && expect != "untouched" && expect != "untouched-nonroot" &&
        expect != "eacces") {
      return Usage();
    }
    return DeepFlush(argv[2], argv[3], expect);
  }
  if (cmd == "reserve" && argc == 3) return Reserve(argv[2]);
  if (cmd == "volatile" && argc == 3) return Volatile(argv[2], false);
  if (cmd == "volatile" && argc == 4 && std::string(argv[3]) == "virtio-pmem") return Volatile(argv[2], true);
  return Usage();
}
