// Copyright 2026 The pmem2 Authors.
//
// testing/dax_vm/dax_probe.cc
// -----------------------------------------------------------------------------
//
// Raw-syscall probe run inside the DAX test VM (see README.md). It checks the *environment* the pmem2 checks
// rely on, without pmem2: that MAP_SYNC really works (or really fails) on a mount, what a Device DAX device
// accepts, and whether data written before a crash survived. When a pmem2 check fails, the probe's result in
// the same run tells whether the kernel or the library is to blame.
//
// Output protocol (shared with dax_checks): one line per expectation, `ok: ...` or `bad: ...`, plus free-form
// detail lines; exit status 0 iff there was no `bad:` line.
//
//   dax_probe mapsync FILE yes|no           MAP_SHARED_VALIDATE|MAP_SYNC on a new 2 MiB FILE must work / fail
//                                            with EOPNOTSUPP; statx's DAX attribute must agree.
//   dax_probe mapsync FILE dax-no           MAP_SYNC fails with EOPNOTSUPP although statx says DAX (virtio-pmem).
//   dax_probe devdax DEV                     Device DAX: 2 MiB alignment in sysfs, MAP_SYNC works, a mapping at
//                                            an address that is not 2 MiB-aligned is refused, so is a private one.
//   dax_probe verify PATH SEED survived|lost [OFFSET]
//                                            the pattern of SEED (see pattern.h) is (not) present at OFFSET.
//   dax_probe domain EXPECTED                every nd region reports persistence_domain EXPECTED ("" = none).
//   dax_probe write-nosync FILE SEED         the fsdax crash check's negative control: the pattern of SEED
//                                            through MAP_SHARED without MAP_SYNC, never synced.

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "testing/dax_vm/pattern.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

namespace {

int g_bad = 0;

void Ok(const std::string& what) { std::printf("ok: %s\n", what.c_str()); }
void Bad(const std::string& what) {
  std::printf("bad: %s\n", what.c_str());
  ++g_bad;
}
void Expect(bool cond, const std::string& what) { cond ? Ok(what) : Bad(what); }

std::string Errno(int e) { return std::string(std::strerror(e)) + " (errno " + std::to_string(e) + ")"; }

constexpr size_t kTwoMiB = size_t{2} << 20;

int Mapsync(const char* path, bool want, bool want_dax) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, kTwoMiB) != 0) {
    Bad(std::string("create ") + path + ": " + Errno(errno));
    return 1;
  }
  void* p = mmap(nullptr, kTwoMiB, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
  int e = errno;
  if (want) {
    Expect(p != MAP_FAILED, std::string("raw MAP_SYNC mmap of ") + path + " succeeds" +
                                (p == MAP_FAILED ? ": " + Errno(e) : ""));
  } else {
    Expect(p == MAP_FAILED && e == EOPNOTSUPP,
           std::string("raw MAP_SYNC mmap of ") + path + " fails with EOPNOTSUPP" +
               (p == MAP_FAILED ? ", got " + Errno(e) : ", but it succeeded"));
  }
  if (p != MAP_FAILED) munmap(p, kTwoMiB);
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx) == 0 && (sx.stx_attributes_mask & STATX_ATTR_DAX)) {
    bool dax = (sx.stx_attributes & STATX_ATTR_DAX) != 0;
    Expect(dax == want_dax, std::string("statx STATX_ATTR_DAX is ") + (dax ? "set" : "clear"));
  }
  close(fd);
  unlink(path);
  return g_bad ? 1 : 0;
}

bool ReadSysfs(const std::string& path, std::string* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::getline(in, *out);
  return true;
}

int Devdax(const char* dev) {
  int fd = open(dev, O_RDWR);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    Bad(std::string("open ") + dev + ": " + Errno(errno));
    return 1;
  }
  Expect(S_ISCHR(st.st_mode), std::string(dev) + " is a character device");
  std::string base = "/sys/dev/char/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
  std::string size_s, align_s;
  if (!ReadSysfs(base + "/size", &size_s)) Bad("cannot read " + base + "/size");
  if (!ReadSysfs(base + "/align", &align_s)) Bad("cannot read " + base + "/align");
  std::printf("sysfs: size=%s align=%s\n", size_s.c_str(), align_s.c_str());
  Expect(align_s == std::to_string(kTwoMiB), "device alignment is 2 MiB (sysfs align=" + align_s + ")");
  void* p = mmap(nullptr, kTwoMiB, PROT_READ | PROT_WRITE, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
  Expect(p != MAP_FAILED, "raw MAP_SYNC mmap of 2 MiB at offset 0 succeeds" +
                              (p == MAP_FAILED ? ": " + Errno(errno) : std::string()));
  if (p != MAP_FAILED) {
    // msync cannot persist Device DAX: the device has no fsync (vfs_fsync_range: EINVAL), and no page cache
    // whose write-back would flush the CPU caches. So page granularity (msync) persists nothing there, and pmem2
    // never gives it to Device DAX (map/granularity.h); libpmem2 1.12.1 does under PMEM2_FORCE_GRANULARITY=page.
    static_cast<volatile char*>(p)[0] = 1;
    const int synced = msync(p, 4096, MS_SYNC);
    const int err = errno;
    Expect(synced == -1 && err == EINVAL, "raw msync(MS_SYNC) of a Device DAX page fails with EINVAL" +
                                              (synced == 0 ? std::string(": it succeeded") : ": " + Errno(err)));
    munmap(p, kTwoMiB);
  }
  // The kernel checks the *address* against the device alignment (an unaligned file offset only makes it pick
  // an address without regard to alignment, which may still happen to be aligned): map at an address that is
  // 4 KiB- but not 2 MiB-aligned, inside a reservation of our own.
  void* area = mmap(nullptr, 3 * kTwoMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (area == MAP_FAILED) {
    Bad("reserving address space: " + Errno(errno));
  } else {
    uintptr_t at = (reinterpret_cast<uintptr_t>(area) + kTwoMiB - 1) / kTwoMiB * kTwoMiB + 4096;
    p = mmap(reinterpret_cast<void*>(at), kTwoMiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
    Expect(p == MAP_FAILED, "raw mmap at a 4 KiB-aligned, not 2 MiB-aligned address is refused" +
                                (p == MAP_FAILED ? ": " + Errno(errno) : std::string(": it succeeded")));
    munmap(area, 3 * kTwoMiB);
  }
  p = mmap(nullptr, kTwoMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  Expect(p == MAP_FAILED, "raw MAP_PRIVATE mmap is refused" +
                              (p == MAP_FAILED ? ": " + Errno(errno) : std::string(": it succeeded")));
  if (p != MAP_FAILED) munmap(p, kTwoMiB);
  close(fd);
  return g_bad ? 1 : 0;
}

int Verify(const char* path, const char* seed, bool want_survived, uint64_t offset) {
  int fd = open(path, O_RDWR);
  if (fd < 0) {
    // A file whose creation was lost is "lost" too, but the negative control creates and fsyncs its file
    // before the crash, so a missing file is always a broken test.
    Bad(std::string("open ") + path + ": " + Errno(errno));
    return 1;
  }
  struct stat st;
  fstat(fd, &st);
  size_t good = 0;
  const size_t pages = dax_vm::kPatternLength / dax_vm::kPatternStride;
  if (S_ISCHR(st.st_mode)) {
    // Device DAX has no read(): look through a mapping.
    void* p = mmap(nullptr, dax_vm::kPatternLength, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(offset));
    if (p == MAP_FAILED) {
      Bad(std::string("mmap ") + path + ": " + Errno(errno));
      return 1;
    }
    good = dax_vm::CountPatternPages(static_cast<const char*>(p), seed);
    munmap(p, dax_vm::kPatternLength);
  } else {
    std::string buf(dax_vm::kPatternLength, '\0');
    ssize_t n = pread(fd, &buf[0], buf.size(), static_cast<off_t>(offset));
    if (n < 0) n = 0;
    buf.resize(static_cast<size_t>(n));
    buf.resize(dax_vm::kPatternLength, '\0');
    good = dax_vm::CountPatternPages(buf.data(), seed);
    std::printf("file: size=%lld blocks=%lld\n", static_cast<long long>(st.st_size),
                static_cast<long long>(st.st_blocks));
  }
  close(fd);
  std::printf("pages with the pattern: %zu/%zu\n", good, pages);
  if (want_survived) {
    Expect(good == pages, std::string(path) + ": " + std::to_string(good) + "/" + std::to_string(pages) +
                              " pages of persisted data survived the crash (want all)");
  } else {
    Expect(good == 0, std::string(path) + ": " + std::to_string(good) + "/" + std::to_string(pages) +
                          " pages of unpersisted data survived the crash (want none: else the crash test could not"
                          " tell lost data from kept data)");
  }
  return g_bad ? 1 : 0;
}

// Creates PATH (2 MiB, made durable empty), maps it MAP_SHARED without MAP_SYNC and stores the pattern of SEED
// with plain stores: no flush, no msync, no fsync. On DAX the data reaches the media at once, but the block
// allocation made by the page faults waits for the file system's journal, so a crash loses it.
int WriteNoSync(const char* path, const char* seed) {
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || ftruncate(fd, dax_vm::kPatternLength) != 0 || fsync(fd) != 0) {
    Bad(std::string("create ") + path + ": " + Errno(errno));
    return 1;
  }
  std::string copy = path;
  const std::string dir = dirname(&copy[0]);
  int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd < 0 || fsync(dfd) != 0) {
    Bad("fsync " + dir + ": " + Errno(errno));
    return 1;
  }
  close(dfd);
  void* p = mmap(nullptr, dax_vm::kPatternLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    Bad(std::string("mmap ") + path + ": " + Errno(errno));
    return 1;
  }
  dax_vm::FillPattern(static_cast<char*>(p), seed);
  Ok(std::string(path) + ": written with plain stores through MAP_SHARED (no MAP_SYNC), never synced");
  return g_bad ? 1 : 0;
}

int Domain(const std::string& want) {
  DIR* d = opendir("/sys/bus/nd/devices");
  if (d == nullptr) {
    Bad(std::string("opendir /sys/bus/nd/devices: ") + Errno(errno));
    return 1;
  }
  int regions = 0;
  while (struct dirent* e = readdir(d)) {
    if (std::strncmp(e->d_name, "region", 6) != 0) continue;
    ++regions;
    std::string got;
    ReadSysfs(std::string("/sys/bus/nd/devices/") + e->d_name + "/persistence_domain", &got);
    Expect(got == want, std::string(e->d_name) + " persistence_domain is '" + got + "', want '" + want + "'");
  }
  closedir(d);
  Expect(regions > 0, std::to_string(regions) + " nd regions found");
  return g_bad ? 1 : 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: dax_probe mapsync FILE yes|no|dax-no | devdax DEV | verify PATH SEED survived|lost [OFFSET] | "
               "domain EXPECTED | write-nosync FILE SEED\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) return Usage();
  std::string cmd = argv[1];
  if (cmd == "mapsync" && argc == 4) {
    const std::string want = argv[3];
    if (want == "yes" || want == "no" || want == "dax-no") return Mapsync(argv[2], want == "yes", want != "no");
  }
  if (cmd == "devdax" && argc == 3) return Devdax(argv[2]);
  if (cmd == "verify" && (argc == 5 || argc == 6) &&
      (std::strcmp(argv[4], "survived") == 0 || std::strcmp(argv[4], "lost") == 0)) {
    return Verify(argv[2], argv[3], std::strcmp(argv[4], "survived") == 0,
                  argc == 6 ? std::strtoull(argv[5], nullptr, 0) : 0);
  }
  if (cmd == "domain" && argc == 3) return Domain(argv[2]);
  if (cmd == "write-nosync" && argc == 4) return WriteNoSync(argv[2], argv[3]);
  return Usage();
}
