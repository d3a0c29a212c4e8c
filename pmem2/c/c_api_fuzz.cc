// Copyright 2026 The pmem2 Authors.
//
// Fuzz target (testing/fuzz/driver.h): sequences of libpmem2 C calls with any arguments an input chooses (sizes,
// offsets, flags and enum values of any bits, handles that were deleted, pointers that never were handles), on up to
// three configs, sources, maps and reservations at once. What libpmem2.h promises, checked after every call and every
// input: no crash; a call that fails hands out no handle (its out-pointer, set beforehand, is NULL after); a delete of
// a handle that is not live is refused and leaves it as it was; a map is no coarser than its config required, an
// adopted one is the range given; and once an input has deleted what it made, no descriptor, no mapping of the test's
// files, and nothing where its maps and reservations were is left.
//
// Input: one byte chooses an operation, the bytes after it its arguments (zeros where the input has ended).

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "pmem2/c/libpmem2.h"
#include "pmem2/map/adopt_for_test.h"
#include "testing/fuzz/driver.h"
#include "testing/fuzz/input.h"

namespace {

constexpr int kSlots = 3;
constexpr size_t kFileSize = size_t{1} << 20;

using ::pmem2::testing::FuzzInput;

// Sizes and offsets: small ones, page multiples, near the file's size, and any 64-bit value.
uint64_t Size(FuzzInput& in) {
  switch (in.Byte() % 6) {
    case 0:
      return in.Byte();
    case 1:
      return in.Bytes(2) * 4096;
    case 2:
      return kFileSize - 4096 + in.Bytes(2) % 8192;
    case 3:
      return in.Bytes(3);
    case 4:
      return ~uint64_t{0} - in.Byte();
    default:
      return in.Bytes(8);
  }
}

// What an out-pointer holds before a call that must set it to NULL if it fails.
template <typename T>
T* const kSentinel = reinterpret_cast<T*>(uintptr_t{0x5e47});

[[noreturn]] void Fail(const char* what, int step, int op) {
  fprintf(stderr, "c_api_fuzz: %s (step %d, operation %d; pmem2_errormsg: %s)\n", what, step, op, pmem2_errormsg());
  abort();
}

struct ConfigSlot {
  pmem2_config* handle = nullptr;
  unsigned protection = PMEM2_PROT_READ | PMEM2_PROT_WRITE;
  int granularity = -1;  // the required one, once set
};
struct MapSlot {
  pmem2_map* handle = nullptr;
  bool writable = false;  // made with read and write: the input may store through its functions
  bool readable = false;
  // Where the functions may be called: the whole map, or for an adopted one the part of it the test's own mapping
  // holds (pmem2_map_from_existing takes the caller's word for an anonymous source's range: it may run past it).
  size_t usable = 0;
};

struct Files {
  int fds[2];
  char* raw;  // a shared mapping of the first file the test made itself, for pmem2_map_from_existing
  // Descriptors pmem2_source_from_fd must refuse: none, one closed, a folder, an O_PATH one.
  int bad_fds[4];
};

Files& TheFiles() {
  static Files* files = [] {
    auto* f = new Files;
    for (int i = 0; i < 2; ++i) {
      f->fds[i] = memfd_create(i == 0 ? "pmem2fuzz0" : "pmem2fuzz1", MFD_CLOEXEC);
      if (f->fds[i] < 0 || ftruncate(f->fds[i], static_cast<off_t>(kFileSize)) != 0) abort();
    }
    f->raw = static_cast<char*>(mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, f->fds[0], 0));
    if (f->raw == MAP_FAILED) abort();
    f->bad_fds[0] = -1;
    f->bad_fds[2] = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->bad_fds[3] = open((std::string("/proc/self/fd/") + std::to_string(f->fds[1])).c_str(), O_PATH | O_CLOEXEC);
    // A number far above the others, closed: it stays free (checked before each use).
    f->bad_fds[1] = fcntl(f->fds[0], F_DUPFD_CLOEXEC, 900);
    close(f->bad_fds[1]);
    return f;
  }();
  return *files;
}

// The mappings in [begin, end) that pmem2 could have left there (/proc/self/maps): a reservation's placeholder
// (---p), a map of the test's files or of an anonymous source's shared memory, or one of `before` (the entries there
// before the deletes, as "start-end perms"). A sanitizer's runtime may place a mapping of its own in a range freed
// meanwhile: a new private anonymous entry is not counted.
bool LeftMappedIn(uintptr_t begin, uintptr_t end, const std::vector<std::string>& before,
                  std::vector<std::string>* now) {
  bool left = false;
  if (FILE* maps = fopen("/proc/self/maps", "re")) {
    char line[512];
    while (fgets(line, sizeof line, maps) != nullptr) {
      unsigned long from = 0, to = 0;  // NOLINT(runtime/int): sscanf's %lx
      char perms[8] = {};
      if (sscanf(line, "%lx-%lx %7s", &from, &to, perms) != 3 || !(from < end && begin < to)) continue;
      const std::string entry = std::string(line, strcspn(line, " ")) + " " + perms;
      if (now != nullptr) {
        now->push_back(entry);
        continue;
      }
      bool seen = false;
      for (const std::string& b : before) seen |= b == entry;
      left |= seen || strcmp(perms, "---p") == 0 || strstr(line, "memfd:pmem2fuzz") != nullptr ||
              strstr(line, "/dev/zero") != nullptr;
    }
    fclose(maps);
  }
  return left;
}

// What must not grow from input to input: descriptors, and mappings of the test's files or of anonymous sources.
struct Holdings {
  int descriptors = 0;
  int mappings = 0;
  bool operator==(const Holdings& other) const {
    return descriptors == other.descriptors && mappings == other.mappings;
  }
};

Holdings Count() {
  Holdings h;
  if (FILE* maps = fopen("/proc/self/maps", "re")) {
    char line[512];
    while (fgets(line, sizeof line, maps) != nullptr) {
      h.mappings += strstr(line, "memfd:pmem2fuzz") != nullptr || strstr(line, "/dev/zero") != nullptr;
    }
    fclose(maps);
  }
  // One directory read, not a probe per number: 2048 fcntl calls per input were 70 % of this test's time (a system
  // call is a world switch on some guests). The directory's own descriptor is not counted. Unreadable (no /proc, or
  // every descriptor taken by a leak), nothing could be compared: the run stops.
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) {
    perror("c_api_fuzz: opendir /proc/self/fd");
    abort();
  }
  while (const dirent* entry = readdir(fds)) h.descriptors += entry->d_name[0] != '.';
  h.descriptors -= 1;
  closedir(fds);
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Files& files = TheFiles();
  const Holdings baseline = Count();  // per input: a fuzzing engine may open descriptors of its own between inputs
  FuzzInput in(data, size);
  ConfigSlot configs[kSlots];
  pmem2_source* sources[kSlots] = {};
  MapSlot maps[kSlots];
  pmem2_vm_reservation* reservations[kSlots] = {};
  pmem2_badblock_context* bad_blocks = nullptr;
  void* stale = nullptr;  // a handle deleted earlier in this input (or garbage), given where a handle goes
  char buffer[4096];

  // Any handle: a slot's, the deleted one, or garbage that never was a handle.
  auto pick = [&](auto* slots_handle, uint8_t b) -> void* {
    if (b % 8 == 6) return stale;
    if (b % 8 == 7) return reinterpret_cast<void*>(static_cast<uintptr_t>(0x1000 + b * 16));
    return slots_handle[b % kSlots];
  };
  void* source_handles[kSlots];
  void* config_handles[kSlots];
  void* map_handles[kSlots];
  void* reservation_handles[kSlots];

  for (int step = 0; !in.empty() && step < 64; ++step) {
    for (int i = 0; i < kSlots; ++i) {
      source_handles[i] = sources[i];
      config_handles[i] = configs[i].handle;
      map_handles[i] = maps[i].handle;
      reservation_handles[i] = reservations[i];
    }
    const int op = in.Byte() % 25;
    const int i = in.Byte() % kSlots;
    const uint8_t h = in.Byte();
    static const bool trace = getenv("C_API_FUZZ_TRACE") != nullptr;  // each operation, to follow a failure
    if (trace) fprintf(stderr, "step %d: operation %d, slot %d, handles byte %u\n", step, op, i, h);
    auto* cfg = static_cast<pmem2_config*>(pick(config_handles, h));
    auto* src = static_cast<pmem2_source*>(pick(source_handles, h >> 3));
    auto* map = static_cast<pmem2_map*>(pick(map_handles, h >> 1));
    auto* rsv = static_cast<pmem2_vm_reservation*>(pick(reservation_handles, h >> 2));
    switch (op) {
      case 0:
        if (configs[i].handle == nullptr) {
          pmem2_config* made = kSentinel<pmem2_config>;
          if (pmem2_config_new(&made) != 0 && made != nullptr)
            Fail("a failed config_new handed out a handle", step, op);
          configs[i].handle = made;
          configs[i].protection = PMEM2_PROT_READ | PMEM2_PROT_WRITE;
          configs[i].granularity = -1;
        }
        break;
      case 1: {
        pmem2_config* doomed = configs[i].handle;
        if (pmem2_config_delete(&configs[i].handle) == 0 && doomed != nullptr) stale = doomed;
        break;
      }
      case 2: {
        const auto granularity = static_cast<pmem2_granularity>(in.Byte() % 4 == 0 ? in.Bytes(4) : in.Byte() % 4);
        if (pmem2_config_set_required_store_granularity(cfg, granularity) == 0) {
          for (ConfigSlot& c : configs) {
            if (c.handle == cfg) c.granularity = granularity;
          }
        }
        break;
      }
      case 3:
        pmem2_config_set_offset(cfg, Size(in));
        break;
      case 4:
        pmem2_config_set_length(cfg, Size(in));
        break;
      case 5:
        pmem2_config_set_sharing(cfg, static_cast<pmem2_sharing_type>(in.Byte() % 4));
        break;
      case 6: {
        // PMEM2_PROT_EXEC, _READ, _WRITE are bits 29-31; sometimes a bit that is none of them.
        const uint8_t b = in.Byte();
        const unsigned prot = (static_cast<unsigned>(b & 7) << 29) | ((b & 0x80) != 0 ? 1u << (b % 29) : 0);
        if (pmem2_config_set_protection(cfg, prot) == 0) {
          for (ConfigSlot& c : configs) {
            if (c.handle == cfg) c.protection = prot;
          }
        }
        break;
      }
      case 7:
        if (sources[i] == nullptr) {
          pmem2_source* made = kSentinel<pmem2_source>;
          const uint8_t b = in.Byte();
          const bool refused_fd = b % 8 >= 6;
          const int fd = refused_fd ? files.bad_fds[b / 8 % 4] : files.fds[b % 2];
          if (refused_fd && fd >= 0 && fd == files.bad_fds[1] && fcntl(fd, F_GETFD) >= 0) break;  // taken meanwhile
          const int ret = b % 3 == 0 ? pmem2_source_from_anon(&made, Size(in) % (size_t{64} << 20))
                                     : pmem2_source_from_fd(&made, fd);
          if (ret != 0 && made != nullptr) Fail("a failed source handed out a handle", step, op);
          if (b % 3 != 0 && refused_fd && ret == 0) Fail("a descriptor of no file was accepted", step, op);
          sources[i] = made;
        }
        break;
      case 8: {
        pmem2_source* doomed = sources[i];
        if (pmem2_source_delete(&sources[i]) == 0 && doomed != nullptr) stale = doomed;
        break;
      }
      case 9:
        if (maps[i].handle == nullptr) {
          pmem2_map* made = kSentinel<pmem2_map>;
          const int ret = pmem2_map_new(&made, cfg, src);
          if (ret != 0 && made != nullptr) Fail("a failed map_new handed out a handle", step, op);
          maps[i].handle = made;
          if (ret == 0) {
            unsigned prot = PMEM2_PROT_READ | PMEM2_PROT_WRITE;
            int required = -1;
            for (const ConfigSlot& c : configs) {
              if (c.handle == cfg) {
                prot = c.protection;
                required = c.granularity;
              }
            }
            if (required < 0) Fail("a map of a config whose granularity was never set", step, op);
            if (static_cast<int>(pmem2_map_get_store_granularity(made)) > required) {
              Fail("a map coarser than its config required", step, op);
            }
            maps[i].writable = (prot & PMEM2_PROT_WRITE) != 0 && (prot & PMEM2_PROT_READ) != 0;
            maps[i].readable = (prot & (PMEM2_PROT_READ | PMEM2_PROT_WRITE)) != 0;
            maps[i].usable = pmem2_map_get_size(maps[i].handle);
            if (pmem2_map_get_address(maps[i].handle) == nullptr) Fail("a map at NULL", step, op);
            if (pmem2_map_get_size(maps[i].handle) == 0) Fail("a map of 0 bytes", step, op);
          }
        }
        break;
      case 10: {
        pmem2_map* doomed = maps[i].handle;
        if (pmem2_map_delete(&maps[i].handle) == 0 && doomed != nullptr) stale = doomed;
        break;
      }
      case 11:
        if (maps[i].handle == nullptr) {
          const size_t offset = in.Bytes(2) % kFileSize;
          const size_t length = Size(in);
          pmem2_map* made = kSentinel<pmem2_map>;
          const unsigned char how = in.Byte();
          // The test's files are not DAX, so a byte or cache-line claim is page; half the adoptions take the file as
          // DAX (adopt_for_test.h), so that the cache-line maps' paths are fuzzed too (and byte's where the host's
          // regions all have eADR; elsewhere byte is cache line: the outcome depends on the host's sysfs).
          pmem2::map_internal::SetNonDaxFilesAdoptedAsDaxForTest((how & 0x80) != 0);
          const int ret = pmem2_map_from_existing(&made, src, files.raw + offset, length,
                                                  static_cast<pmem2_granularity>((how & 0x7f) % 5));
          pmem2::map_internal::SetNonDaxFilesAdoptedAsDaxForTest(false);
          maps[i].handle = made;
          if (ret == 0 && (pmem2_map_get_address(made) != files.raw + offset || pmem2_map_get_size(made) != length)) {
            Fail("an adopted map is not the range given", step, op);
          }
          if (trace)
            fprintf(stderr, "  from_existing %p + %zu (raw %p): %d\n", files.raw + offset, length, files.raw, ret);
          if (ret != 0 && made != nullptr) Fail("a failed map_from_existing handed out a handle", step, op);
          maps[i].writable = maps[i].readable = ret == 0;
          maps[i].usable = length < kFileSize - offset ? length : kFileSize - offset;
        }
        break;
      case 12:
        if (maps[i].handle != nullptr && maps[i].readable) {
          // The functions: unchecked by design, so only over the map's own range.
          pmem2_map* m = maps[i].handle;
          char* const base = static_cast<char*>(pmem2_map_get_address(m));
          const size_t map_size = maps[i].usable;
          const size_t at = in.Bytes(3) % map_size;
          const size_t length = in.Bytes(2) % (map_size - at + 1);
          const unsigned flags = static_cast<unsigned>(in.Byte());
          if (trace) fprintf(stderr, "  map %p + %zu: [%zu, +%zu) flags 0x%x\n", base, map_size, at, length, flags);
          if (maps[i].writable) {
            const size_t piece = length < sizeof buffer ? length : sizeof buffer;
            memset(buffer, in.Byte(), piece);
            pmem2_get_memcpy_fn(m)(base + at, buffer, piece, flags);
            pmem2_get_memset_fn(m)(base + at, in.Byte(), length, flags);
            pmem2_get_memmove_fn(m)(base, base + at, map_size - at < length ? map_size - at : length, flags);
          }
          pmem2_get_persist_fn(m)(base + at, length);
          pmem2_get_flush_fn(m)(base + at, length);
          pmem2_get_drain_fn(m)();
        }
        break;
      case 13: {
        // Around the map's start, by integer arithmetic (the map may be no map: its address NULL).
        const uintptr_t base = reinterpret_cast<uintptr_t>(pmem2_map_get_address(map));
        pmem2_deep_flush(map, reinterpret_cast<void*>(base + in.Bytes(3) - 0x800000), Size(in));
        break;
      }
      case 14:
        if (reservations[i] == nullptr) {
          pmem2_vm_reservation* made = kSentinel<pmem2_vm_reservation>;
          // Anywhere, or at the test's own mapping (taken) or one byte into it (unaligned).
          const uint8_t b = in.Byte();
          void* const at = b % 4 == 0 ? files.raw + b / 4 % 2 : nullptr;
          const int ret = pmem2_vm_reservation_new(&made, at, Size(in) % (size_t{1} << 30));
          if (ret != 0 && made != nullptr) Fail("a failed reservation handed out a handle", step, op);
          reservations[i] = made;
        }
        break;
      case 15: {
        pmem2_vm_reservation* doomed = reservations[i];
        if (pmem2_vm_reservation_delete(&reservations[i]) == 0 && doomed != nullptr) stale = doomed;
        break;
      }
      case 16:
        pmem2_vm_reservation_extend(rsv, Size(in) % (size_t{1} << 30));
        break;
      case 17:
        pmem2_vm_reservation_shrink(rsv, Size(in), Size(in));
        break;
      case 18:
        pmem2_config_set_vm_reservation(cfg, in.Byte() % 4 == 0 ? nullptr : rsv, Size(in));
        break;
      case 19: {
        pmem2_map* found = reinterpret_cast<pmem2_map*>(buffer);
        int ret;
        switch (in.Byte() % 5) {
          case 0:
            ret = pmem2_vm_reservation_map_find(rsv, Size(in), Size(in), &found);
            break;
          case 1:
            ret = pmem2_vm_reservation_map_find_first(rsv, &found);
            break;
          case 2:
            ret = pmem2_vm_reservation_map_find_last(rsv, &found);
            break;
          case 3:
            ret = pmem2_vm_reservation_map_find_next(rsv, map, &found);
            break;
          default:
            ret = pmem2_vm_reservation_map_find_prev(rsv, map, &found);
            break;
        }
        if (ret != 0 && found != nullptr) Fail("a failed find left *map set", step, op);
        break;
      }
      case 20: {
        const size_t length = in.Bytes(2) % (sizeof buffer + 1);
        const size_t offset = Size(in);
        if (in.Byte() % 2 == 0) {
          pmem2_source_pread_mcsafe(src, buffer, length, offset);
        } else {
          pmem2_source_pwrite_mcsafe(src, buffer, length, offset);
        }
        break;
      }
      case 21:
        if (bad_blocks == nullptr) {
          pmem2_badblock_context* made = kSentinel<pmem2_badblock_context>;
          if (pmem2_badblock_context_new(&made, src) != 0 && made != nullptr) {
            Fail("a failed badblock_context_new handed out a context", step, op);
          }
          bad_blocks = made;
        } else {
          pmem2_badblock bb{};
          if (pmem2_badblock_next(bad_blocks, &bb) == 0) pmem2_badblock_clear(bad_blocks, &bb);
          pmem2_badblock_context_delete(&bad_blocks);
        }
        break;
      case 22: {
        size_t value = 0;
        int fd = -1;
        int node = 0;
        uint64_t usc = 0;
        size_t id_length = 0;
        pmem2_source_size(src, &value);
        pmem2_source_alignment(src, &value);
        pmem2_source_get_fd(src, &fd);
        pmem2_source_numa_node(src, &node);
        pmem2_source_device_usc(src, &usc);
        if (pmem2_source_device_id(src, nullptr, &id_length) == 0 && id_length <= sizeof buffer) {
          pmem2_source_device_id(src, buffer, &id_length);
        }
        break;
      }
      case 24: {
        // A delete through a copy of any handle of a kind: a live one goes (its slot forgets it); a deleted one, or a
        // pointer that never was a handle, is refused and left as it was, not freed (twice).
        const int kind = in.Byte() % 4;
        void* const victim = kind == 0   ? static_cast<void*>(cfg)
                             : kind == 1 ? static_cast<void*>(src)
                             : kind == 2 ? static_cast<void*>(map)
                                         : static_cast<void*>(rsv);
        if (victim == nullptr) break;
        int ret;
        bool live = false;
        void* left = nullptr;  // what the delete left in the caller's copy
        for (int k = 0; k < kSlots; ++k) {
          live |= victim == (kind == 0   ? static_cast<void*>(configs[k].handle)
                             : kind == 1 ? static_cast<void*>(sources[k])
                             : kind == 2 ? static_cast<void*>(maps[k].handle)
                                         : static_cast<void*>(reservations[k]));
        }
        if (kind == 0) {
          pmem2_config* copy = static_cast<pmem2_config*>(victim);
          ret = pmem2_config_delete(&copy);
          left = copy;
        } else if (kind == 1) {
          pmem2_source* copy = static_cast<pmem2_source*>(victim);
          ret = pmem2_source_delete(&copy);
          left = copy;
        } else if (kind == 2) {
          pmem2_map* copy = static_cast<pmem2_map*>(victim);
          ret = pmem2_map_delete(&copy);
          left = copy;
        } else {
          pmem2_vm_reservation* copy = static_cast<pmem2_vm_reservation*>(victim);
          ret = pmem2_vm_reservation_delete(&copy);
          left = copy;
        }
        if (!live && (ret == 0 || left != victim)) Fail("a handle that is not live was deleted", step, op);
        if (live && ret == 0) {
          if (left != nullptr) Fail("a delete left its handle set", step, op);
          for (int k = 0; k < kSlots; ++k) {
            if (kind == 0 && configs[k].handle == victim) configs[k].handle = nullptr;
            if (kind == 1 && sources[k] == victim) sources[k] = nullptr;
            if (kind == 2 && maps[k].handle == victim) maps[k].handle = nullptr;
            if (kind == 3 && reservations[k] == victim) reservations[k] = nullptr;
          }
          stale = victim;
        }
        break;
      }
      default:
        pmem2_map_get_persist_error(map);
        pmem2_map_clear_persist_error(map);
        pmem2_map_get_store_granularity(map);
        pmem2_vm_reservation_get_address(rsv);
        pmem2_vm_reservation_get_size(rsv);
        break;
    }
  }

  // Everything made is deleted, maps before the reservations that hold them; then nothing may be left: no descriptor,
  // no mapping of the files, and nothing mapped where the maps pmem2_map_new made and the reservations were.
  uintptr_t ranges[2 * kSlots][2] = {};
  std::vector<std::string> before[2 * kSlots];
  int range_count = 0;
  for (const MapSlot& m : maps) {
    const auto begin = reinterpret_cast<uintptr_t>(pmem2_map_get_address(m.handle));
    const bool adopted =
        begin >= reinterpret_cast<uintptr_t>(files.raw) && begin < reinterpret_cast<uintptr_t>(files.raw) + kFileSize;
    if (m.handle != nullptr && !adopted) {
      ranges[range_count][0] = begin;
      ranges[range_count++][1] = begin + pmem2_map_get_size(m.handle);
    }
  }
  for (pmem2_vm_reservation* r : reservations) {
    if (r != nullptr) {
      const auto begin = reinterpret_cast<uintptr_t>(pmem2_vm_reservation_get_address(r));
      ranges[range_count][0] = begin;
      ranges[range_count++][1] = begin + pmem2_vm_reservation_get_size(r);
    }
  }
  for (int k = 0; k < range_count; ++k) LeftMappedIn(ranges[k][0], ranges[k][1], {}, &before[k]);
  if (bad_blocks != nullptr) pmem2_badblock_context_delete(&bad_blocks);
  for (MapSlot& m : maps) {
    if (m.handle != nullptr && pmem2_map_delete(&m.handle) != 0) Fail("a live map's delete failed", -1, 10);
  }
  for (pmem2_vm_reservation*& r : reservations) {
    if (r != nullptr && pmem2_vm_reservation_delete(&r) != 0) Fail("an empty reservation's delete failed", -1, 15);
  }
  for (pmem2_source*& s : sources) {
    if (s != nullptr && pmem2_source_delete(&s) != 0) Fail("a live source's delete failed", -1, 8);
  }
  for (ConfigSlot& c : configs) {
    if (c.handle != nullptr && pmem2_config_delete(&c.handle) != 0) Fail("a live config's delete failed", -1, 1);
  }
  for (int k = 0; k < range_count; ++k) {
    if (ranges[k][1] > ranges[k][0] && LeftMappedIn(ranges[k][0], ranges[k][1], before[k], nullptr)) {
      fprintf(stderr, "c_api_fuzz: [%#lx, %#lx) is still mapped after its map or reservation was deleted\n",
              static_cast<unsigned long>(ranges[k][0]), static_cast<unsigned long>(ranges[k][1]));  // NOLINT
      abort();
    }
  }
  if (!(Count() == baseline)) {
    const Holdings now = Count();
    fprintf(stderr, "c_api_fuzz: %d descriptors and %d mappings of the files after the input, %d and %d before\n",
            now.descriptors, now.mappings, baseline.descriptors, baseline.mappings);
    abort();
  }
  return 0;
}
