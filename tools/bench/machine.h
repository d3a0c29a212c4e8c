// Copyright 2026 The pmem2 Authors.
//
// tools/bench/machine.h
// -----------------------------------------------------------------------------
//
// What the benchmark needs to know about the machine it runs on, beyond the CPU features pmem2's engine
// detects: which CPU kind it is (vendor, family, model: the winning strategy differs between CPU kinds, so every
// table names it), how large the last-level cache is, and how much memory a cold-destination window may take.
//
// The cold patterns (timing.h) write into a window far larger than the last-level cache, so every line they
// write was evicted long before:
//
//   window = max(2 GiB, 8 x LLC), at most half of the available memory and half of the free space of the file
//            system that holds it, rounded down to 2 MiB.
//
// Example:
//
//   const size_t window = ColdWindowBytes(LastLevelCacheBytes(), AvailableMemoryBytes(), FreeBytes("/dev/shm"));

#ifndef PMEM2_TOOLS_BENCH_MACHINE_H_
#define PMEM2_TOOLS_BENCH_MACHINE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace pmem2 {
namespace bench {

// The CPU kind from /proc/cpuinfo's first processor ("vendor_id", "cpu family", "model", "model name").
struct CpuKind {
  std::string vendor;  // e.g. "GenuineIntel", "AuthenticAMD"; empty if not reported
  int family = -1;     // -1: not reported
  int model = -1;
  std::string model_name;
};

// Parses the text of /proc/cpuinfo (only the first processor's block counts).
CpuKind ParseCpuInfo(absl::string_view text);

// "GenuineIntel family 6 model 167 (Intel(R) Xeon(R) Processor)", or "unknown CPU kind" where /proc/cpuinfo
// has none of it (e.g. non-x86 kernels that name CPUs differently: then the model name alone if present).
std::string DescribeCpuKind(const CpuKind& kind);

// The kind of the CPU this runs on (read once).
const CpuKind& ThisCpuKind();

// "491520K", "32M", "1G" (sysfs cache sizes) in bytes; 0 if unreadable.
uint64_t ParseCacheSize(absl::string_view text);

// The largest data or unified cache of CPU 0 from /sys/devices/system/cpu/cpu0/cache/index*/{type,size}, else
// sysconf(_SC_LEVEL3_CACHE_SIZE) / _SC_LEVEL2_CACHE_SIZE; 0 if neither reports one.
uint64_t LastLevelCacheBytes();

// MemAvailable of /proc/meminfo in bytes; UINT64_MAX if unreadable (no cap).
uint64_t AvailableMemoryBytes();

// Bytes an unprivileged user may still allocate on the file system holding `path` (statvfs f_bavail); UINT64_MAX if
// statvfs fails (no cap).
uint64_t FreeBytes(const std::string& path);

inline constexpr uint64_t kMinColdWindow = uint64_t{2} << 30;
inline constexpr uint64_t kColdWindowPerLlc = 8;

// The cold window of the comment above for a last-level cache of `llc` bytes (0: unknown, 2 GiB then), with
// `available_memory` and `free_space` as the caps. 0 if the caps leave less than 2 MiB.
uint64_t ColdWindowBytes(uint64_t llc, uint64_t available_memory, uint64_t free_space);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_MACHINE_H_
