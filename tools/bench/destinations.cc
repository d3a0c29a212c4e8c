// Copyright 2026 The pmem2 Authors.
//
// tools/bench/destinations.cc
// -----------------------------------------------------------------------------
//
// What every kind of Destinations shares: the source buffer and the check that all sides write the same bytes.
// The two factories are in destinations_comparison.cc and destinations_file.cc.

#include "tools/bench/destinations.h"

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tools/bench/limit_kernels.h"
#include "tools/bench/mappings.h"

namespace pmem2 {
namespace bench {
namespace {

// The bytes `op` ("memcpy" or "memset") of `size` bytes at offset `at` must leave in a region of at + size + 64
// bytes filled with 0xa5 before.
std::string ExpectedImage(const char* op, const char* source, size_t size, size_t at) {
  std::string expected(at, static_cast<char>(0xa5));
  if (std::strcmp(op, "memcpy") == 0) {
    expected.append(source, size);
  } else {
    expected.append(size, static_cast<char>(0x5c));
  }
  expected.append(64, static_cast<char>(0xa5));
  return expected;
}

// What `op` at offset `at` leaves in the region at `target.base`.
std::string Image(const Target& target, const char* op, const char* source, size_t size, size_t at) {
  const size_t region = at + size + 64;
  std::memset(target.base, 0xa5, region);
  if (std::strcmp(op, "memcpy") == 0) {
    target.memcpy(target.base + at, source, size, 0);
  } else {
    target.memset(target.base + at, 0x5c, size, 0);
  }
  return std::string(target.base, region);
}

}  // namespace

Destinations::Destinations() : mappings_(std::make_unique<Mappings>()) {}
Destinations::~Destinations() = default;

absl::Status Destinations::AllocateSource(size_t size) {
  absl::StatusOr<std::unique_ptr<PlainMapping>> m = PlainMapping::Anonymous(size);
  if (!m.ok()) return m.status();
  // Position-dependent bytes: a copy that lands in the wrong place cannot produce the expected image.
  uint64_t x = 0x9e3779b97f4a7c15u;
  for (size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy((*m)->data() + i, &x, 8);
  }
  source_ = (*m)->data();
  source_size_ = size;
  mappings_->plain.push_back(*std::move(m));
  return absl::OkStatus();
}

absl::Status Destinations::VerifySameBytes(size_t size) const {
  if (!LimitKernelsTake(size)) {
    return absl::InvalidArgumentError("VerifySameBytes: size must be a multiple of 64, or of 8 below 64");
  }
  // A record below a line also where the seq pattern packs one across a line boundary (timing.h).
  std::vector<size_t> offsets = {64};
  if (size < 64) offsets.push_back(64 + 64 - 8);
  for (const Lane& lane : lanes_) {
    for (size_t at : offsets) {
      if (at + size + 64 > lane.window || size > source_size_) continue;
      for (const char* op : {"memcpy", "memset"}) {
        std::string images[3];
        for (Side side : kSides) images[side] = Image(TargetOf(lane, side), op, source_, size, at);
        // Every strategy of the limit, not only the first.
        std::vector<std::pair<std::string, std::string>> others = {{SideName(kReference), images[kReference]}};
        for (const CopyStrategy& s : lane.copy_strategies) {
          if (std::strcmp(op, "memset") == 0 && s.memset == nullptr) continue;  // a strategy for copies only
          others.emplace_back(absl::StrCat("the limit's ", s.name),
                              Image(StrategyTarget(lane, s), op, source_, size, at));
        }
        for (const auto& [name, image] : others) {
          if (image == images[kPmem2]) continue;
          size_t differs = 0;
          while (image[differs] == images[kPmem2][differs]) ++differs;
          return absl::InternalError(absl::StrCat(op, " of ", size, " bytes at ", lane.granularity,
                                                  " granularity: ", name, " and pmem2 differ at byte ", differs,
                                                  " of the region (the copy starts at byte ", at, ")"));
        }
        if (images[kPmem2] != ExpectedImage(op, source_, size, at)) {
          return absl::InternalError(absl::StrCat(op, " of ", size, " bytes at byte ", at, " at ", lane.granularity,
                                                  " granularity: the destination is not the expected image"));
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace bench
}  // namespace pmem2
