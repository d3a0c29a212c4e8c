// Copyright 2026 The pmem2 Authors.

#include "testing/fake_sysfs.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "pmem2/sysfs/sysfs_for_test.h"

namespace pmem2 {
namespace testing {
namespace {

void MakeDirs(const std::string& path) {
  EXPECT_EQ(system(("mkdir -p '" + path + "'").c_str()), 0) << path;
}

}  // namespace

FakeSysfs::FakeSysfs() : before_(sysfs_internal::Root()) { sysfs_internal::SetRootForTest(dir_.path()); }

// The root before it, not the real one: an inner fake's end leaves an outer one in place.
FakeSysfs::~FakeSysfs() {
  // Ended in the reverse order of their making (scopes do): else the root given back would be a fake already gone.
  EXPECT_EQ(sysfs_internal::Root(), dir_.path()) << "FakeSysfs objects ended out of order";
  sysfs_internal::SetRootForTest(before_ == "/sys" ? "" : before_);
}

std::string FakeSysfs::MakeDevNullDeviceDax(const std::string& size_text, const std::string& align_text) {
  struct stat st;
  EXPECT_EQ(stat("/dev/null", &st), 0);
  std::string device = absl::StrCat(root(), "/dev/char/", major(st.st_rdev), ":", minor(st.st_rdev));
  MakeDirs(device);
  MakeDirs(root() + "/bus/dax");
  EXPECT_EQ(symlink((root() + "/bus/dax").c_str(), (device + "/subsystem").c_str()), 0);
  if (!size_text.empty()) std::ofstream(device + "/size") << size_text;
  if (!align_text.empty()) std::ofstream(device + "/align") << align_text;
  return device;
}

std::string FakeSysfs::MakeDevNullDeviceDaxUnder(const std::string& parent, const std::string& size_text,
                                                 const std::string& align_text) {
  struct stat st;
  EXPECT_EQ(stat("/dev/null", &st), 0);
  const std::string folder = absl::StrCat(root(), "/", parent, "/dax0.0");
  MakeDirs(folder);
  MakeDirs(root() + "/bus/dax");
  MakeDirs(root() + "/dev/char");
  EXPECT_EQ(symlink((root() + "/bus/dax").c_str(), (folder + "/subsystem").c_str()), 0);
  if (!size_text.empty()) std::ofstream(folder + "/size") << size_text;
  if (!align_text.empty()) std::ofstream(folder + "/align") << align_text;
  const std::string link = absl::StrCat(root(), "/dev/char/", major(st.st_rdev), ":", minor(st.st_rdev));
  EXPECT_EQ(symlink(folder.c_str(), link.c_str()), 0) << link;
  return link;
}

void FakeSysfs::AddRegion(const char* persistence_domain) {
  std::string region = absl::StrCat(root(), "/bus/nd/devices/region", regions_++);
  MakeDirs(region);
  if (persistence_domain != nullptr) std::ofstream(region + "/persistence_domain") << persistence_domain << "\n";
}

}  // namespace testing
}  // namespace pmem2
