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
  // text leaves the attribute out). Returns the device's sysfs folder.
  std::string MakeDevNullDeviceDax(const std::string& size_text, const std::string& align_text);

  // Adds NVDIMM region N with this persistence_domain text; nullptr: without the attribute (as Linux 6.1
  // shows a region whose platform reports no domain).
  void AddRegion(const char* persistence_domain);

 private:
  ScopedTempDir dir_{"/dev/shm"};
  int regions_ = 0;
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_FAKE_SYSFS_H_
