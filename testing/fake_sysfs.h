// Copyright 2026 The pmem2 Authors.
//
// testing/fake_sysfs.h
// -----------------------------------------------------------------------------
//
// A fake /sys for tests, installed with sysfs_internal::SetRootForTest() while the object lives: Device DAX
// detection and attributes, and NVDIMM regions' persistence domains, without any persistent-memory hardware.
// `/dev/null` (a character device every machine has) plays the Device DAX: everything up to mmap can be tested with
// it.

#ifndef PMEM2_TESTING_FAKE_SYSFS_H_
#define PMEM2_TESTING_FAKE_SYSFS_H_

#include <string>

#include "testing/temp_files.h"

namespace pmem2 {
namespace testing {

class FakeSysfs {
 public:
  FakeSysfs();
  ~FakeSysfs();
  FakeSysfs(const FakeSysfs&) = delete;
  FakeSysfs& operator=(const FakeSysfs&) = delete;

  const std::string& root() const { return dir_.path(); }

  // Makes /dev/null a Device DAX with these `size` and `align` attribute texts (written verbatim; an empty
  // text leaves the attribute out), its folder ROOT/dev/char/MAJOR:MINOR itself: on no NVDIMM region, so
  // Map::Create() refuses it as volatile memory. Returns the device's sysfs folder.
  std::string MakeDevNullDeviceDax(const std::string& size_text, const std::string& align_text);
  // The same, laid out as Linux lays a Device DAX out: its folder ROOT/PARENT/dax0.0 (`parent`: e.g.
  // "devices/ndbus0/region0/dax0.1" for one of an NVDIMM region, "devices/platform/hmem.0" for one of soft-reserved
  // memory), linked from ROOT/dev/char/MAJOR:MINOR. Returns the link (Source::sysfs_device_dir()).
  std::string MakeDevNullDeviceDaxUnder(const std::string& parent, const std::string& size_text,
                                        const std::string& align_text);
  // MakeDevNullDeviceDaxUnder() an NVDIMM region: the Device DAX that Map::Create() and FromExisting() map.
  std::string MakeDevNullDeviceDaxOnRegion(const std::string& size_text, const std::string& align_text) {
    return MakeDevNullDeviceDaxUnder("devices/ndbus0/region0/dax0.1", size_text, align_text);
  }

  // Adds NVDIMM region N with this persistence_domain text; nullptr: without the attribute (as Linux 6.1
  // shows a region whose platform reports no domain).
  void AddRegion(const char* persistence_domain);

 private:
  const std::string before_;  // the root it replaced, given back at its end
  ScopedTempDir dir_{"/dev/shm"};
  int regions_ = 0;
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_FAKE_SYSFS_H_
