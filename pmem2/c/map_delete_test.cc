// Copyright 2026 The pmem2 Authors.
//
// pmem2_map_delete() when munmap(2) fails, for real (no filter): man pmem2_map_delete promises that the map and
// *map_ptr are then left as they were. munmap of a range fails (ENOMEM) where it is the middle of a larger mapping,
// whose split would add a mapping to a process already at vm.max_map_count. Here the map's one page is made the middle
// of one kernel mapping (the file's pages either side mapped by the test, shared and writable as the map, or in a
// reservation by two more maps: the kernel merges the three) and the process is filled up to the limit; the delete must
// fail and leave a usable map, and once mappings are released it must unmap the map's page (and only that). pmem2 used
// to report success with the page still mapped (in a reservation, with the range lost and the file's page still
// mapped); libpmem2 1.12.1 is run through the same steps (each library in a child of its own).

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/c/libpmem2_api_for_test.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace testing {
namespace {

using ::testing::HasSubstr;

size_t Page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// vm.max_map_count; 0 if unreadable.
uint64_t MaxMapCount() {
  std::ifstream in("/proc/sys/vm/max_map_count");
  std::string text;
  uint64_t value = 0;
  if (!std::getline(in, text) || !absl::SimpleAtoi(text, &value)) return 0;
  return value;
}

// The line of /proc/self/maps whose range contains `address` ("" if none). Read with stdio into a fixed buffer: it is
// called with the process at its mapping limit, where a growing std::string may find no memory.
std::string MappingAt(uintptr_t address) {
  FILE* maps = std::fopen("/proc/self/maps", "re");
  if (maps == nullptr) return "";
  char line[512];
  std::string found;
  while (std::fgets(line, sizeof line, maps) != nullptr) {
    unsigned long begin = 0, end = 0;  // NOLINT(runtime/int): sscanf's %lx
    if (std::sscanf(line, "%lx-%lx", &begin, &end) == 2 && begin <= address && address < end) {
      found = line;
      break;
    }
  }
  std::fclose(maps);
  if (!found.empty() && found.back() == '\n') found.pop_back();
  return found;
}

// Whether [address, address + length) is mapped (mincore fails with ENOMEM on unmapped pages).
bool Mapped(const void* address, size_t length) {
  unsigned char residency[4];
  return mincore(const_cast<void*>(address), length, residency) == 0;
}

// Adds one-page mappings to the process (alternate pages of one PROT_NONE reservation made readable: each split
// adds two) until the kernel refuses a split: the process then holds vm.max_map_count mappings. Returns the
// reservation (to be unmapped, which ends them all), or nullptr.
void* FillToMappingLimit(uint64_t max_map_count, size_t* length) {
  *length = (2 * max_map_count + 2) * Page();
  void* region = mmap(nullptr, *length, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) return nullptr;
  char* at = static_cast<char*>(region) + Page();
  for (uint64_t i = 0; i <= max_map_count; ++i, at += 2 * Page()) {
    if (mprotect(at, Page(), PROT_READ) != 0) return errno == ENOMEM ? region : nullptr;
  }
  return nullptr;  // never refused: the limit is not what the test took it for
}

// The map's page made the middle of one kernel mapping [base, base + 3 pages) of the file (offsets 0, 1, 2 pages):
// the map is created (file offset one page), then the test maps the file's first and third pages on either side of
// it, shared and writable as the map, and the kernel merges the three. Both libraries place a map at a 2 MiB
// boundary inside a larger reservation whose rest they unmap, so the pages either side are usually free; where one is
// not, the map is kept and another made. Returns "" or what went wrong.
struct Layout {
  char* base = nullptr;
  pmem2_map* map = nullptr;
  pmem2_vm_reservation* reservation = nullptr;  // MakeReservationLayout's
};

// "" if the kernel merged the three pages from `base` into one mapping; else what it has there.
std::string WhyNotOneMapping(char* base) {
  const std::string mapping = MappingAt(reinterpret_cast<uintptr_t>(base));
  const std::string expected_range =
      absl::StrFormat("%x-%x ", reinterpret_cast<uintptr_t>(base), reinterpret_cast<uintptr_t>(base + 3 * Page()));
  if (mapping.rfind(expected_range, 0) == 0) return "";
  return absl::StrCat("the kernel did not merge the three pages into one mapping ", expected_range, ": ", mapping);
}

std::string MakeLayout(const Libpmem2Api& api, int fd, pmem2_config* config, pmem2_source* source, Layout* layout) {
  const size_t page = Page();
  constexpr int kProtection = PROT_READ | PROT_WRITE;
  std::string why = "no attempt";
  for (int attempt = 0; attempt < 8; ++attempt) {
    pmem2_map* map = nullptr;
    if (const int ret = api.map_new(&map, config, source); ret != 0) {
      return absl::StrCat("map_new: ", ret, " ", api.errormsg());
    }
    char* const middle = static_cast<char*>(api.map_get_address(map));
    void* below = mmap(middle - page, page, kProtection, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
    if (below != middle - page) {
      if (below != MAP_FAILED) munmap(below, page);  // a kernel before 4.17 takes the flag as a hint
      why = absl::StrFormat("the page below the map at %p is taken", static_cast<void*>(middle));
      continue;  // the map is kept, so that the next one goes elsewhere
    }
    void* above = mmap(middle + page, page, kProtection, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 2 * page);
    if (above != middle + page) {
      if (above != MAP_FAILED) munmap(above, page);
      munmap(below, page);
      why = absl::StrFormat("the page above the map at %p is taken", static_cast<void*>(middle));
      continue;
    }
    layout->base = middle - page;
    layout->map = map;
    return WhyNotOneMapping(layout->base);
  }
  return why;
}

// The same in a reservation of three pages: three maps of the file's pages 0, 1 and 2 side by side (a file mapped piece
// by piece as it grows), which the kernel merges; the middle one is `layout->map`. A delete puts the reservation's
// placeholder back over its range, whose mmap has to split the merged mapping as munmap would.
std::string MakeReservationLayout(const Libpmem2Api& api, pmem2_config* config, pmem2_source* source, Layout* layout) {
  const size_t page = Page();
  pmem2_vm_reservation* reservation = nullptr;
  if (const int ret = api.vm_reservation_new(&reservation, nullptr, 3 * page); ret != 0) {
    return absl::StrCat("vm_reservation_new: ", ret, " ", api.errormsg());
  }
  pmem2_map* maps[3] = {};
  for (size_t i = 0; i < 3; ++i) {
    if (api.config_set_offset(config, i * page) != 0 || api.config_set_vm_reservation(config, reservation, i * page) ||
        api.map_new(&maps[i], config, source) != 0) {
      return absl::StrCat("map ", i, " in the reservation: ", api.errormsg());
    }
  }
  layout->base = static_cast<char*>(api.vm_reservation_get_address(reservation));
  layout->map = maps[1];
  layout->reservation = reservation;
  return WhyNotOneMapping(layout->base);
}

// Runs the steps in a child with `api`; the child's output says what each step saw, one "name: value" per line.
ChildResult RunDeleteAtMappingLimit(const Libpmem2Api& api, const std::string& path, uint64_t max_map_count,
                                    bool in_reservation = false) {
  return RunInChild(
      [&](int out) {
        const size_t page = Page();
        const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
        if (fd < 0) return 2;
        pmem2_config* config = nullptr;
        pmem2_source* source = nullptr;
        if (api.config_new(&config) != 0 || api.source_from_fd(&source, fd) != 0 ||
            api.config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE) != 0 ||
            api.config_set_offset(config, page) != 0 || api.config_set_length(config, page) != 0) {
          WriteToParent(out, absl::StrCat("setup: ", api.errormsg(), "\n"));
          return 3;
        }
        Layout layout;
        if (std::string why = in_reservation ? MakeReservationLayout(api, config, source, &layout)
                                             : MakeLayout(api, fd, config, source, &layout);
            !why.empty()) {
          WriteToParent(out, absl::StrCat("layout: ", why, "\n"));
          return 4;
        }
        char* const middle = layout.base + page;
        size_t fill_length = 0;
        void* fill = FillToMappingLimit(max_map_count, &fill_length);
        if (fill == nullptr) {
          WriteToParent(out, "fill: the kernel never refused a split\n");
          return 5;
        }
        pmem2_map* map = layout.map;
        const int refused = api.map_delete(&map);
        // Read now, before any mapping is released: the map must be as it was.
        const bool kept = map == layout.map && api.map_get_address(map) == middle && Mapped(middle, page);
        // Below the limit again: made one mapping first (ThreadSanitizer's own munmap of its shadow of a range that
        // ends inside a mapping would find no room to split it).
        mprotect(fill, fill_length, PROT_NONE);
        munmap(fill, fill_length);
        char message[256];
        std::snprintf(message, sizeof message, "%s", api.errormsg());
        WriteToParent(out, absl::StrCat("first delete: ", refused, "\nmessage: ", message, "\nkept: ", kept, "\n"));
        if (kept) {
          // Still registered: the range cannot be adopted as another map; and findable in its reservation.
          pmem2_map* adopted = nullptr;
          const int adopt = api.map_from_existing(&adopted, source, middle, page, PMEM2_GRANULARITY_PAGE);
          WriteToParent(out, absl::StrCat("adopting its range: ", adopt, "\n"));
          if (adopt == 0) api.map_delete(&adopted);
          if (layout.reservation != nullptr) {
            pmem2_map* found = nullptr;
            const int find = api.vm_reservation_map_find(layout.reservation, page, 1, &found);
            WriteToParent(out, absl::StrCat("found in the reservation: ", find == 0 && found == map, "\n"));
          }
          // Still the map it was: its functions store and persist through it.
          api.get_memcpy_fn(map)(middle, "kept", 4, 0);
          char read_back[4] = {};
          const bool stored =
              pread(fd, read_back, 4, static_cast<off_t>(page)) == 4 && std::memcmp(read_back, "kept", 4) == 0;
          WriteToParent(out, absl::StrCat("stored after refusal: ", stored, "\n"));
          const int second = api.map_delete(&map);
          WriteToParent(out, absl::StrCat("second delete: ", second, "\nnulled: ", map == nullptr, "\n"));
          if (layout.reservation == nullptr) {
            WriteToParent(out, absl::StrCat("middle mapped: ", Mapped(middle, page), "\n"));
          } else {
            const std::string mapping = MappingAt(reinterpret_cast<uintptr_t>(middle));
            const bool placeholder = mapping.find(" ---p ") != std::string::npos;
            WriteToParent(out, absl::StrCat("middle is the placeholder: ", placeholder, " (", mapping, ")\n"));
          }
          WriteToParent(out,
                        absl::StrCat("sides mapped: ", Mapped(layout.base, page) && Mapped(middle + page, page), "\n"));
        }
        return 0;
      },
      ChildOptions{absl::Seconds(60)});
}

// The kernel does not merge the pages (a file on fsdax, which the map maps with MAP_SYNC and the test's pages
// without; another kernel's rules) or never refuses a split (a limit not enforced so): nothing to test on this host.
bool ScenarioCannotBeMade(const ChildResult& r) { return r.exited && (r.exit_code == 4 || r.exit_code == 5); }

// Each library, for a map of its own and one in a reservation.
struct Case {
  bool reference;
  bool in_reservation;
};

class MapDeleteAtMappingLimitTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    max_map_count_ = MaxMapCount();
    // The fill makes two mappings per mprotect: a limit in the millions would take seconds and gigabytes of
    // kernel memory.
    if (max_map_count_ == 0 || max_map_count_ > (1u << 18)) {
      GTEST_SKIP() << "vm.max_map_count is " << max_map_count_ << ": unreadable or too large to fill";
    }
    const int fd = open(dir_.Join("file").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(3 * Page())), 0) << std::strerror(errno);
    close(fd);
  }

  ScopedTempDir dir_{::testing::TempDir()};
  uint64_t max_map_count_ = 0;
};

// The delete fails (ENOMEM) and leaves the map as it was: registered (its range cannot be adopted; findable in its
// reservation), usable; once below the limit a delete unmaps its page (in a reservation: puts the placeholder back)
// and nothing else. libpmem2 1.12.1 does the same (the documented behaviour), and pmem2 agrees with it now.
TEST_P(MapDeleteAtMappingLimitTest, AFailedUnmapLeavesTheMapAndALaterDeleteUnmapsIt) {
  const Libpmem2Api* api = &OurLibpmem2();
  if (GetParam().reference) {
    std::string why;
    api = ReferenceLibpmem2(&why);
    if (api == nullptr) GTEST_SKIP() << why;
  }
  const ChildResult r = RunDeleteAtMappingLimit(*api, dir_.Join("file"), max_map_count_, GetParam().in_reservation);
  if (ScenarioCannotBeMade(r)) GTEST_SKIP() << "the scenario cannot be made on this host: " << r.output;
  ASSERT_TRUE(r.exited && r.exit_code == 0) << r.Describe();
  EXPECT_THAT(r.output, HasSubstr(absl::StrCat("first delete: ", -ENOMEM, "\n"))) << r.Describe();
  EXPECT_THAT(r.output, HasSubstr("kept: 1\n")) << r.Describe();
  if (GetParam().in_reservation) {
    EXPECT_THAT(r.output, HasSubstr("found in the reservation: 1\n")) << r.Describe();
  } else {
    EXPECT_THAT(r.output, HasSubstr(absl::StrCat("adopting its range: ", PMEM2_E_MAP_EXISTS, "\n"))) << r.Describe();
  }
  EXPECT_THAT(r.output, HasSubstr("stored after refusal: 1\n")) << r.Describe();
  EXPECT_THAT(r.output, HasSubstr("second delete: 0\nnulled: 1\n")) << r.Describe();
  EXPECT_THAT(r.output, HasSubstr(GetParam().in_reservation ? "middle is the placeholder: 1 " : "middle mapped: 0\n"))
      << r.Describe();
  EXPECT_THAT(r.output, HasSubstr("sides mapped: 1\n")) << r.Describe();
  if (!GetParam().reference) {
    EXPECT_THAT(r.output, HasSubstr("would likely exceed vm.max_map_count")) << r.Describe();
  }
}

INSTANTIATE_TEST_SUITE_P(Libraries, MapDeleteAtMappingLimitTest,
                         ::testing::Values(Case{false, false}, Case{false, true}, Case{true, false}, Case{true, true}),
                         [](const ::testing::TestParamInfo<Case>& param_info) {
                           return std::string(param_info.param.reference ? "Libpmem2" : "Pmem2") +
                                  (param_info.param.in_reservation ? "InAReservation" : "");
                         });

}  // namespace
}  // namespace testing
}  // namespace pmem2
