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
//       is not page, and the kernel marks the mapping synchronous ("sf" in smaps) iff so; data written with
//       memcpy_fn/memset_fn and persisted reads back through read().
//   dax_checks devdax DEV GRANULARITY
//       Device DAX: size and alignment as sysfs says; 4 KiB offsets and lengths refused (kOffsetUnaligned,
//       kLengthUnaligned); a private mapping refused (kSrcDevdaxPrivate); a range past the end refused
//       (kMapRange); granularity requests as above; data written at a 2 MiB offset and persisted reads back
//       through an independent mapping.
//   dax_checks write PATH SEED persist|nopersist [OFFSET]
//       The crash test's first half: maps 2 MiB of PATH at OFFSET through pmem2 (a regular file is created and
//       made durable first, empty) and writes the pattern of SEED. `persist`: with memcpy_fn + persist_fn.
//       `nopersist`: plain stores and no persist at all (the negative control). `dax_probe verify` checks it
//       after the crash.

#include <fcntl.h>
#include <libgen.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
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

int Fsdax(const char* path, StoreGranularity effective) {
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
  const std::string seed = std::string("fsdax-check-") + path;
  if (!WriteAndPersist(*map, seed)) return 1;
  std::vector<char> back(dax_vm::kPatternLength + 4096);
  ssize_t n = pread(fd, back.data(), back.size(), 0);
  if (!Expect(n == static_cast<ssize_t>(back.size()), "read() of the written range")) return 1;
  ExpectWritten(back.data(), seed, "read()");
  close(fd);
  return g_bad ? 1 : 0;
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
  close(fd);
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

int Usage() {
  std::fprintf(stderr,
               "usage: dax_checks fsdax FILE GRANULARITY | devdax DEV GRANULARITY |"
               " write PATH SEED persist|nopersist [OFFSET]\n"
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
    return cmd == "fsdax" ? Fsdax(argv[2], *g) : Devdax(argv[2], *g);
  }
  if (cmd == "write" && (argc == 5 || argc == 6)) {
    const std::string mode = argv[4];
    if (mode != "persist" && mode != "nopersist") return Usage();
    return Write(argv[2], argv[3], mode == "persist", argc == 6 ? std::strtoull(argv[5], nullptr, 0) : 0);
  }
  return Usage();
}
