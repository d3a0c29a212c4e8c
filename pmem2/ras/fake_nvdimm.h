// Copyright 2026 The pmem2 Authors.
//
// pmem2/ras/fake_nvdimm.h (test-only, target //pmem2/ras:fake_nvdimm)
// -----------------------------------------------------------------------------
//
// A fake sysfs with NVDIMM regions, DIMMs, pmem block devices, partitions and Device DAX laid out as Linux
// lays them out (region.h), installed for the process while the object lives. Devices are named by the
// dev_t a real file or /dev/null has, so pmem2 finds them from a real descriptor.

#ifndef PMEM2_RAS_FAKE_NVDIMM_H_
#define PMEM2_RAS_FAKE_NVDIMM_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "testing/fake_sysfs.h"

namespace pmem2 {
namespace testing {

using Attributes = std::map<std::string, std::string>;

class FakeNvdimm {
 public:
  FakeNvdimm() = default;
  const std::string& root() const { return sysfs_.root(); }

  // ROOT/devices/ndbus0/regionN with these attribute files (name -> text; "nfit/x" makes folders), linked from
  // ROOT/bus/nd/devices/regionN. Returns its folder.
  std::string AddRegion(int n, const Attributes& attributes);
  // ROOT/devices/ndbus0/NAME (e.g. nmem0), linked from ROOT/bus/nd/devices/NAME.
  std::string AddDimm(const std::string& name, const Attributes& attributes);
  // The DIMMs added, in the order libndctl walks a bus's DIMMs (and so libpmem2 concatenates their ids): the bus
  // folder's nmem entries as readdir lists them, last first. (The fake's file system decides the listing.)
  std::vector<std::string> DimmsInLibndctlOrder() const;
  // A block device NAME at `parent` (a region folder + "/pfn0.1", or "" for a disk on no region:
  // ROOT/devices/pci0000:00/NAME), linked from ROOT/dev/block/MAJ:MIN of `dev`. Returns its folder.
  std::string AddBlockDevice(const std::string& parent, const std::string& name, dev_t dev,
                             const Attributes& attributes);
  // A partition NAME of block device folder `disk` starting at sector `start`, linked from ROOT/dev/block.
  std::string AddPartition(const std::string& disk, const std::string& name, dev_t dev, const std::string& start);
  // A Device DAX NAME (e.g. dax0.0) at `parent` (a region folder + "/dax0.1", or "" for one on no region),
  // subsystem dax, linked from ROOT/dev/char/MAJ:MIN of `rdev`.
  std::string AddDaxDevice(const std::string& parent, const std::string& name, dev_t rdev,
                           const Attributes& attributes);

  // Writes `text` to ROOT-relative or absolute `path` (folders made as needed).
  void Write(const std::string& path, const std::string& text);

 private:
  void Link(const std::string& target, const std::string& link);
  FakeSysfs sysfs_;
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_RAS_FAKE_NVDIMM_H_
