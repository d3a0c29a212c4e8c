// Copyright 2026 The pmem2 Authors.
//
// testing/dax_vm/pattern.h
// -----------------------------------------------------------------------------
//
// The data the DAX VM's crash test writes before killing the machine and looks for after the reboot: one
// 64-byte record per 4 KiB page over 2 MiB, naming a seed (chosen per run by the host) and the page number, so
// stale data from another file, another run or another page never counts as a survivor.

#ifndef PMEM2_TESTING_DAX_VM_PATTERN_H_
#define PMEM2_TESTING_DAX_VM_PATTERN_H_

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>

namespace dax_vm {

inline constexpr size_t kPatternLength = size_t{2} << 20;
inline constexpr size_t kPatternStride = 4096;
inline constexpr size_t kRecordSize = 64;

inline std::string PatternRecord(const std::string& seed, size_t page) {
  char rec[kRecordSize];
  std::memset(rec, '.', sizeof rec);
  int n = std::snprintf(rec, sizeof rec, "pmem2-dax-vm %s page %zu ", seed.c_str(), page);
  if (n > 0 && static_cast<size_t>(n) < sizeof rec) rec[n] = '#';  // snprintf's NUL would end the record
  rec[kRecordSize - 1] = '\n';
  return std::string(rec, sizeof rec);
}

// Fills `buf` (kPatternLength bytes) with the records of `seed`; the rest of each page is zero.
inline void FillPattern(char* buf, const std::string& seed) {
  std::memset(buf, 0, kPatternLength);
  for (size_t page = 0; page < kPatternLength / kPatternStride; ++page) {
    std::string rec = PatternRecord(seed, page);
    std::memcpy(buf + page * kPatternStride, rec.data(), rec.size());
  }
}

// How many pages of `buf` (kPatternLength bytes) hold their record of `seed`.
inline size_t CountPatternPages(const char* buf, const std::string& seed) {
  size_t good = 0;
  for (size_t page = 0; page < kPatternLength / kPatternStride; ++page) {
    std::string rec = PatternRecord(seed, page);
    if (std::memcmp(buf + page * kPatternStride, rec.data(), rec.size()) == 0) ++good;
  }
  return good;
}

}  // namespace dax_vm

#endif  // PMEM2_TESTING_DAX_VM_PATTERN_H_
