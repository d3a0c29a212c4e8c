// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/region.h"

#include <dirent.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "pmem2/errors/errors.h"
#include "pmem2/sysfs/sysfs.h"

namespace pmem2 {
namespace ras_internal {
namespace {

constexpr uint64_t kSector = 512;

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// `name` is "region" followed by a number.
bool IsRegionName(absl::string_view name) {
  return absl::ConsumePrefix(&name, "region") && AllDigits(name);
}

absl::string_view Basename(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos ? path : path.substr(slash + 1);
}

absl::string_view Dirname(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == absl::string_view::npos || slash == 0 ? absl::string_view("/") : path.substr(0, slash);
}

// realpath(3) of `path`: the resolved path, "" if it does not exist, or the errno error.
absl::StatusOr<std::string> Resolve(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) != nullptr) return std::string(resolved);
  const int err = errno;
  if (err == ENOENT || err == ENOTDIR) return std::string();
  return MakeErrnoError(err, absl::StrCat("realpath ", path));
}

// The deepest ancestor of `path` (or `path` itself) that is an NVDIMM region: named regionN, in an NVDIMM bus
// (ndbusN). A CXL region is named regionN too (under a decoder: .../decoder0.0/region0/dax_region0/dax0.0 for a
// Device DAX of CXL memory), and has none of an NVDIMM region's attributes (deep_flush, badblocks, ...).
std::string RegionAncestor(absl::string_view path) {
  while (path.size() > 1) {
    absl::string_view parent = Basename(Dirname(path));
    if (IsRegionName(Basename(path)) && absl::ConsumePrefix(&parent, "ndbus") && AllDigits(parent)) {
      return std::string(path);
    }
    path = Dirname(path);
  }
  return std::string();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

// The first device under the stacked block device `disk` (its `slaves`, followed down a few levels: dm over md over
// pmem) that is on an NVDIMM region, as "NAME of region R"; empty if none is. Every such region's folder is added to
// `regions` (a stacked device may span several).
std::string NvdimmUnder(const std::string& disk, std::vector<std::string>* regions, int depth = 0) {
  if (depth > 8) return std::string();
  const std::string slaves = disk + "/slaves";
  DIR* dir = opendir(slaves.c_str());
  if (dir == nullptr) return std::string();
  const absl::Cleanup close_dir = [dir] { closedir(dir); };  // also when an allocation below throws
  std::string found;
  for (;;) {
    const dirent* entry = readdir(dir);
    if (entry == nullptr) break;
    if (entry->d_name[0] == '.') continue;
    char resolved[PATH_MAX];
    if (realpath((slaves + "/" + entry->d_name).c_str(), resolved) == nullptr) continue;
    // A partition's region is its disk's.
    std::string device = resolved;
    if (Exists(device + "/partition")) device = std::string(Dirname(device));
    std::string here;
    if (const std::string region = RegionAncestor(device); !region.empty()) {
      here = absl::StrCat(entry->d_name, " of NVDIMM region ", Basename(region));
      regions->push_back(region);
    } else {
      here = NvdimmUnder(device, regions, depth + 1);
    }
    if (found.empty()) found = std::move(here);
  }
  return found;
}

}  // namespace

absl::StatusOr<uint64_t> ReadUnsignedAttribute(const std::string& path, ErrorCode code) {
  absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(path);
  if (!text.ok()) return text.status();
  uint64_t value = 0;
  absl::string_view digits = *text;
  bool ok;
  if (absl::ConsumePrefix(&digits, "0x") || absl::ConsumePrefix(&digits, "0X")) {
    ok = !digits.empty() && digits.size() <= 16 && absl::SimpleHexAtoi(digits, &value) &&
         digits.find_first_not_of("0123456789abcdefABCDEF") == absl::string_view::npos;
  } else {
    ok = AllDigits(digits) && absl::SimpleAtoi(digits, &value);
  }
  if (!ok) {
    return MakeError(code, absl::StrCat(path, " holds \"", absl::CHexEscape(*text), "\", not an unsigned number"));
  }
  return value;
}

namespace {

// Sets location->not_durable ("`what`, ...: why") where no persist makes stores on the region durable: an NVDIMM
// region of volatile memory (devtype nd_volatile), or, for Device DAX, a virtio-pmem device's (its bus's provider),
// durable only by the device's flush, which msync asks for on a file system there (fsync) and nothing can on Device
// DAX. Measured under qemu (testing/dax_vm): ndctl makes a Device DAX on virtio-pmem, MAP_SYNC succeeds there, and
// the region has no deep_flush. An attribute that is missing (ENOENT: a fake sysfs) says nothing; one that cannot be
// read otherwise makes the region's durability unknown, said so in not_durable: a refusal of Device DAX and page
// granularity for a file, never a claim of durability (and no error for the RAS questions, which do not ask this).
void NoteWhyNotDurable(const std::string& what, const std::string& region_dir, bool device_dax, Location* location) {
  const auto read = [&](const std::string& path) -> std::optional<std::string> {
    absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(path);
    if (text.ok()) return *text;
    if (GetErrorCode(text.status()) == ErrorCode::kErrno && GetErrno(text.status()) == ENOENT) return std::string();
    location->not_durable = absl::StrCat(what, ", whose durability cannot be told: ", text.status().message());
    return std::nullopt;
  };
  const std::optional<std::string> devtype = read(region_dir + "/devtype");
  if (!devtype.has_value()) return;
  if (*devtype == "nd_volatile") {
    location->not_durable = absl::StrCat(
        what, ", an NVDIMM region of volatile memory (devtype nd_volatile): its memory does not survive a power loss");
    return;
  }
  if (!device_dax) return;
  const std::optional<std::string> provider = read(std::string(Dirname(region_dir)) + "/provider");
  if (!provider.has_value()) return;
  if (*provider == "virtio-pmem") {
    location->not_durable = absl::StrCat(
        what,
        " of a virtio-pmem device (its bus's provider): its stores become durable only by the device's flush (the "
        "host's sync of the memory's backing file), which nothing done through a Device DAX asks for");
  }
}

}  // namespace

absl::StatusOr<Location> LocateBlockDevice(dev_t dev) {
  Location location;
  const unsigned maj = major(dev), min = minor(dev);
  if (maj == 0) {
    location.not_on_nvdimm = absl::StrCat("its file system's device ", maj, ":", min,
                                          " is not a block device (tmpfs or another virtual file system), "
                                          "so not an NVDIMM");
    return location;
  }
  const std::string link = absl::StrCat(sysfs_internal::Root(), "/dev/block/", maj, ":", min);
  absl::StatusOr<std::string> device = Resolve(link);
  if (!device.ok()) return device.status();
  if (device->empty()) {
    location.not_on_nvdimm = absl::StrCat("its file system's block device ", maj, ":", min, " is not in sysfs (",
                                          link, " does not exist), so no NVDIMM region could be found");
    return location;
  }
  std::string disk = *device;
  if (Exists(*device + "/partition")) {
    absl::StatusOr<uint64_t> start = ReadUnsignedAttribute(*device + "/start", ErrorCode::kInvalidRegionFormat);
    if (!start.ok()) return start.status();
    if (*start > UINT64_MAX / kSector) {
      return MakeError(ErrorCode::kInvalidRegionFormat,
                       absl::StrCat(*device, "/start holds ", *start, " sectors, past 2^64 bytes"));
    }
    location.partition_start = *start * kSector;
    disk = std::string(Dirname(*device));
  }
  location.device_dir = disk;
  location.region_dir = RegionAncestor(disk);
  if (location.region_dir.empty()) {
    location.not_on_nvdimm = absl::StrCat("its file system's block device ", maj, ":", min, " (",
                                          Basename(*device), ") is not on an NVDIMM region");
    std::vector<std::string> regions;
    if (const std::string under = NvdimmUnder(disk, &regions); !under.empty()) {
      location.stacked_over_nvdimm =
          absl::StrCat("its file system's block device ", maj, ":", min, " (", Basename(disk),
                       ") is stacked (device-mapper or md) over ", under,
                       ": where a file's blocks lie on the NVDIMM cannot be told through it");
    }
    // Which of them a file's blocks lie on cannot be told: one region that keeps no store is enough.
    for (const std::string& region : regions) {
      NoteWhyNotDurable(absl::StrCat("its file system's block device ", maj, ":", min, " (", Basename(disk),
                                     ") is stacked over ", Basename(region)),
                        region, /*device_dax=*/false, &location);
      if (!location.not_durable.empty()) break;
    }
  } else {
    location.region_name = std::string(Basename(location.region_dir));
    NoteWhyNotDurable(absl::StrCat("its file system's block device ", maj, ":", min, " (", Basename(disk), ") is on ",
                                   location.region_name),
                      location.region_dir, /*device_dax=*/false, &location);
  }
  return location;
}

absl::StatusOr<Location> LocateDaxDevice(dev_t rdev) {
  Location location;
  const unsigned maj = major(rdev), min = minor(rdev);
  const std::string link = absl::StrCat(sysfs_internal::Root(), "/dev/char/", maj, ":", min);
  absl::StatusOr<std::string> device = Resolve(link);
  if (!device.ok()) return device.status();
  if (device->empty()) {
    location.not_on_nvdimm =
        absl::StrCat("Device DAX ", maj, ":", min, " is not in sysfs (", link, " does not exist)");
    return location;
  }
  location.device_dir = *device;
  location.region_dir = RegionAncestor(*device);
  if (location.region_dir.empty()) {
    location.not_on_nvdimm = absl::StrCat("Device DAX ", maj, ":", min, " (", Basename(*device),
                                          ") is not on an NVDIMM region (e.g. made from soft-reserved memory)");
  } else {
    location.region_name = std::string(Basename(location.region_dir));
    NoteWhyNotDurable(
        absl::StrCat("Device DAX ", maj, ":", min, " (", Basename(*device), ") is on ", location.region_name),
        location.region_dir, /*device_dax=*/true, &location);
  }
  return location;
}

namespace {
// A file system on an anonymous device (major 0) known to hold its files in memory, or the kernel's own: no medium
// with bad blocks or a power-fail domain lies behind it. `f_type`: statfs's; the magics are 32 bits (RAMFS_MAGIC has
// the top bit set, which a signed f_type would extend).
bool InMemoryFileSystem(__fsword_t f_type) {
  switch (static_cast<uint32_t>(f_type)) {
    case static_cast<uint32_t>(TMPFS_MAGIC):
    case static_cast<uint32_t>(RAMFS_MAGIC):
    case static_cast<uint32_t>(HUGETLBFS_MAGIC):
    case static_cast<uint32_t>(PROC_SUPER_MAGIC):
    case static_cast<uint32_t>(SYSFS_MAGIC):
    case static_cast<uint32_t>(DEVPTS_SUPER_MAGIC):
    case static_cast<uint32_t>(CGROUP_SUPER_MAGIC):
    case static_cast<uint32_t>(CGROUP2_SUPER_MAGIC):
    case static_cast<uint32_t>(DEBUGFS_MAGIC):
    case static_cast<uint32_t>(TRACEFS_MAGIC):
    case static_cast<uint32_t>(SECURITYFS_MAGIC):
    case static_cast<uint32_t>(BPF_FS_MAGIC):
    case static_cast<uint32_t>(PIPEFS_MAGIC):
    case static_cast<uint32_t>(SOCKFS_MAGIC):
    case static_cast<uint32_t>(ANON_INODE_FS_MAGIC):
      return true;
    default:
      return false;
  }
}
}  // namespace

absl::StatusOr<Location> LocateSource(const Source& source) {
  if (source.kind() == SourceKind::kAnonymous) {
    return MakeError(ErrorCode::kSourceTypeNotSupported, "an anonymous source is not on any device");
  }
  // The same device or file FromFd() found, not only the same kind: another one's bad blocks, NUMA node or IDs would
  // be wrong answers (a regular file on another file system, or one whose extents are elsewhere on the device).
  if (absl::Status s = source.VerifyDescriptor(); !s.ok()) return s;
  struct stat st;
  if (fstat(source.fd(), &st) != 0) {
    const int err = errno;
    return MakeErrnoError(err, absl::StrCat("fstat of file descriptor ", source.fd()));
  }
  if (source.kind() == SourceKind::kDeviceDax) return LocateDaxDevice(st.st_rdev);
  if (!S_ISREG(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidFileHandle,
                     absl::StrCat("file descriptor ", source.fd(), " no longer refers to a regular file"));
  }
  if (major(st.st_dev) == 0) {
    // An anonymous device is no block device, but many file systems give one to files that are on block devices: an
    // overlay (whose upper layer may be on an NVDIMM), btrfs, ZFS, FUSE (mergerfs, fuse-overlayfs), ecryptfs, network
    // file systems. "None" would be a confident wrong answer there, as for device-mapper stacked over an NVDIMM; only
    // the file systems known to hold files in memory (or the kernel's own) hold none on one.
    struct statfs fs;
    if (fstatfs(source.fd(), &fs) != 0) {
      const int err = errno;
      return MakeErrnoError(err, absl::StrCat("fstatfs of file descriptor ", source.fd()));
    }
    if (!InMemoryFileSystem(fs.f_type)) {
      const uint32_t magic = static_cast<uint32_t>(fs.f_type);
      Location location;
      location.device_hidden =
          absl::StrCat("its file system, ",
                       magic == static_cast<uint32_t>(OVERLAYFS_SUPER_MAGIC) ? std::string("overlayfs")
                       : magic == static_cast<uint32_t>(BTRFS_SUPER_MAGIC)   ? std::string("btrfs")
                                                                           : absl::StrCat("type 0x", absl::Hex(magic)),
                       " (device ", major(st.st_dev), ":", minor(st.st_dev),
                       "), does not show the block device that holds the file, which may be on an NVDIMM");
      location.not_on_nvdimm = location.device_hidden;
      return location;
    }
  }
  return LocateBlockDevice(st.st_dev);
}

namespace {

// Errors that say nothing of the folder: out of descriptors or memory, or the read failed.
bool SaysNothingOfTheFolder(int error) { return error == EMFILE || error == ENFILE || error == ENOMEM || error == EIO; }

// `names` (nmemD, the region's) in the order libndctl walks a region's DIMMs, and so libpmem2 1.12.1's
// pmem2_source_device_id concatenates their ids: the bus's DIMMs as its sysfs folder lists them (readdir), last
// listed first (libndctl adds each at the head of the bus's list), those of the region. An id is compared with the one
// stored beside an unsafe shutdown count (libpmem2_unsafe_shutdown(7)): another order is another device, whose count
// the application resets. Unchanged where the folder is not there, cannot be read (permissions) or lacks one of them;
// an error where the process is out of a resource (descriptors, memory) or reading fails, rather than an id in another
// order, that is another device's.
absl::StatusOr<std::vector<std::string>> InLibndctlOrder(const std::string& region_dir,
                                                         std::vector<std::string> names) {
  // Not realpath's malloc'ed result: the string made from it may throw std::bad_alloc before it is freed.
  char resolved[PATH_MAX];
  if (realpath(region_dir.c_str(), resolved) == nullptr) {
    const int error = errno;
    if (SaysNothingOfTheFolder(error)) return MakeErrnoError(error, absl::StrCat("realpath ", region_dir));
    return names;
  }
  std::string bus_dir = resolved;
  bus_dir.resize(bus_dir.rfind('/') == std::string::npos ? 0 : bus_dir.rfind('/'));
  DIR* const dir = opendir(bus_dir.c_str());
  if (dir == nullptr) {
    const int error = errno;
    if (SaysNothingOfTheFolder(error))
      return MakeErrnoError(error, absl::StrCat("opendir ", bus_dir, " (the DIMMs' order)"));
    return names;
  }
  const absl::Cleanup close_dir = [dir] { closedir(dir); };
  std::vector<std::string> listed;
  for (;;) {
    errno = 0;
    const struct dirent* entry = readdir(dir);
    if (entry == nullptr) {
      if (errno != 0) return MakeErrnoError(errno, absl::StrCat("readdir ", bus_dir, " (the DIMMs' order)"));
      break;
    }
    if (std::find(names.begin(), names.end(), entry->d_name) != names.end()) {
      listed.insert(listed.begin(), entry->d_name);
    }
  }
  if (listed.size() != names.size()) return names;
  return listed;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> RegionDimms(const std::string& region_dir) {
  // `mappings` counts the mappingN attributes; without it (never seen, but cheap to allow) probe them in order.
  constexpr uint64_t kMaxMappings = 4096;
  uint64_t count = kMaxMappings;
  const bool counted = Exists(region_dir + "/mappings");
  if (counted) {
    absl::StatusOr<uint64_t> n = ReadUnsignedAttribute(region_dir + "/mappings", ErrorCode::kInvalidRegionFormat);
    if (!n.ok()) return n.status();
    if (*n > kMaxMappings) {
      return MakeError(ErrorCode::kInvalidRegionFormat,
                       absl::StrCat(region_dir, "/mappings holds ", *n, ", more than ", kMaxMappings, " DIMMs"));
    }
    count = *n;
  }
  std::vector<std::string> names;
  for (uint64_t i = 0; i < count; ++i) {
    const std::string path = absl::StrCat(region_dir, "/mapping", i);
    absl::StatusOr<std::string> text = sysfs_internal::ReadAttribute(path);
    if (!text.ok()) {
      if (!counted && GetErrno(text.status()) == ENOENT) break;
      return text.status();
    }
    absl::string_view name = *text;
    name = name.substr(0, name.find(','));
    absl::string_view number = name;
    if (!absl::ConsumePrefix(&number, "nmem") || !AllDigits(number) || name.size() == text->size()) {
      return MakeError(ErrorCode::kInvalidRegionFormat,
                       absl::StrCat(path, " holds \"", absl::CHexEscape(*text),
                                    "\", not \"nmemN,OFFSET,LENGTH,POSITION\""));
    }
    if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
  }
  absl::StatusOr<std::vector<std::string>> ordered = InLibndctlOrder(region_dir, std::move(names));
  if (!ordered.ok()) return ordered.status();
  std::vector<std::string> dimms;
  for (const std::string& name : *ordered) {
    dimms.push_back(absl::StrCat(sysfs_internal::Root(), "/bus/nd/devices/", name));
  }
  return dimms;
}

absl::StatusOr<std::vector<ByteRange>> ParseBadBlocks(absl::string_view text, absl::string_view path) {
  std::vector<ByteRange> ranges;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    uint64_t sector = 0, count = 0;
    const bool numbers = fields.size() == 2 && AllDigits(fields[0]) && AllDigits(fields[1]) &&
                         absl::SimpleAtoi(fields[0], &sector) && absl::SimpleAtoi(fields[1], &count);
    if (!numbers || count == 0) {
      return MakeError(ErrorCode::kInvalidRegionFormat,
                       absl::StrCat(path, " line ", line_number, " is \"", absl::CHexEscape(line),
                                    "\", not \"SECTOR COUNT\" with a count of at least 1"));
    }
    if (sector > UINT64_MAX / kSector || count > UINT64_MAX / kSector ||
        sector * kSector > UINT64_MAX - count * kSector) {
      return MakeError(ErrorCode::kInvalidRegionFormat,
                       absl::StrCat(path, " line ", line_number, " is \"", line,
                                    "\": that range of 512-byte sectors ends past 2^64 bytes"));
    }
    ranges.push_back(ByteRange{sector * kSector, count * kSector});
  }
  return ranges;
}

}  // namespace ras_internal
}  // namespace pmem2
