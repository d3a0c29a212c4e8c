// A consumer's program: maps anonymous memory through @pmem2//pmem2 and checks a copy through its functions.
#include <cstdio>
#include <cstring>

#include "pmem2/pmem2.h"

int main() {
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kByte);
  absl::StatusOr<pmem2::Source> source = pmem2::Source::Anonymous(1 << 20);
  if (!source.ok()) return 1;
  absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *source);
  if (!map.ok()) {
    std::fprintf(stderr, "%s\n", map.status().ToString().c_str());
    return 1;
  }
  map->memcpy_fn()(map->address(), "consumer", 9, 0);
  if (std::strcmp(static_cast<const char*>(map->address()), "consumer") != 0) return 1;
  std::printf("consumer ok: mapped %zu bytes at byte granularity through @pmem2//pmem2\n", map->size());
  return 0;
}
