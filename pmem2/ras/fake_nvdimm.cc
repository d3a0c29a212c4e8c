// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/fake_nvdimm.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pmem2 {
namespace testing {
namespace {

void MakeDirs(const std::string& path) {
  EXPECT_EQ(std::system(("mkdir -p '" + path + "'").c_str()), 0) << path;
}

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

}  // namespace

void FakeNvdimm::Write(const std::string& path, const std::string& text) {
  const std::string full = path.rfind(root(), 0) == 0 ? path : root() + "/" + path;
  MakeDirs(Parent(full));
  std::ofstream(full) << text;
}

void FakeNvdimm::Link(const std::string& target, const std::string& link) {
  MakeDirs(Parent(link));
  EXPECT_EQ(symlink(target.c_str(), link.c_str()), 0) << link << " -> " << target;
}

std::string FakeNvdimm::AddRegion(int n, const Attributes& attributes) {
  const std::string dir = absl::StrCat(root(), "/devices/ndbus0/region", n);
  MakeDirs(dir);
  for (const auto& a : attributes) Write(dir + "/" + a.first, a.second);
  Link(dir, absl::StrCat(root(), "/bus/nd/devices/region", n));
  return dir;
}

std::string FakeNvdimm::AddDimm(const std::string& name, const Attributes& attributes) {
  const std::string dir = root() + "/devices/ndbus0/" + name;
  MakeDirs(dir);
  for (const auto& a : attributes) Write(dir + "/" + a.first, a.second);
  Link(dir, root() + "/bus/nd/devices/" + name);
  return dir;
}

std::vector<std::string> FakeNvdimm::DimmsInLibndctlOrder() const {
  std::vector<std::string> names;
  DIR* const bus = opendir((root() + "/devices/ndbus0").c_str());
  if (bus == nullptr) return names;
  while (const struct dirent* entry = readdir(bus)) {
    if (std::string(entry->d_name).rfind("nmem", 0) == 0) names.insert(names.begin(), entry->d_name);
  }
  closedir(bus);
  return names;
}

std::string FakeNvdimm::AddBlockDevice(const std::string& parent, const std::string& name, dev_t dev,
                                       const Attributes& attributes) {
  const std::string dir = (parent.empty() ? root() + "/devices/pci0000:00" : parent) + "/block/" + name;
  MakeDirs(dir);
  for (const auto& a : attributes) Write(dir + "/" + a.first, a.second);
  Link(dir, absl::StrCat(root(), "/dev/block/", major(dev), ":", minor(dev)));
  return dir;
}

std::string FakeNvdimm::AddPartition(const std::string& disk, const std::string& name, dev_t dev,
                                     const std::string& start) {
  const std::string dir = disk + "/" + name;
  MakeDirs(dir);
  Write(dir + "/partition", "1\n");
  Write(dir + "/start", start + "\n");
  Link(dir, absl::StrCat(root(), "/dev/block/", major(dev), ":", minor(dev)));
  return dir;
}

std::string FakeNvdimm::AddDaxDevice(const std::string& parent, const std::string& name, dev_t rdev,
                                     const Attributes& attributes) {
  const std::string dir = (parent.empty() ? root() + "/devices/platform/hmem.0" : parent) + "/" + name;
  MakeDirs(dir);
  MakeDirs(root() + "/bus/dax");
  Link(root() + "/bus/dax", dir + "/subsystem");
  for (const auto& a : attributes) Write(dir + "/" + a.first, a.second);
  Link(dir, absl::StrCat(root(), "/dev/char/", major(rdev), ":", minor(rdev)));
  return dir;
}

}  // namespace testing
}  // namespace pmem2
