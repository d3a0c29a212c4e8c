// Copyright 2026 The pmem2 Authors.

#include "pmem2/vm_reservation/vm_reservation.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/placement_for_test.h"
#include "pmem2/vm_reservation/reservation_state.h"
#include "testing/child_process.h"
#include "testing/proc_maps.h"
#include "testing/reservation_step_pause.h"
#include "testing/temp_files.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ProtectionAt;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::testing::HasSubstr;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

char* At(const VmReservation& rsv, size_t offset) { return static_cast<char*>(rsv.address()) + offset; }

class VmReservationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = CreateFile(dir_.Join("file"), 4 * kMiB, O_RDWR);
    absl::StatusOr<Source> source = Source::FromFd(fd_.get());
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *source;
  }

  // A Map of `length` bytes of the file at `file_offset`, placed at `offset` of `rsv`.
  absl::StatusOr<Map> MapInto(VmReservation& rsv, size_t offset, size_t length, uint64_t file_offset = 0) {
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    config.set_vm_reservation(&rsv, offset);
    config.set_length(length);
    config.set_offset(file_offset);
    return Map::Create(config, *source_);
  }

  // MapInto, in an optional that another thread can empty (nullopt, with the failure reported, if it fails).
  std::optional<Map> PlaceToRelease(VmReservation& rsv, size_t offset, size_t length) {
    absl::StatusOr<Map> placed = MapInto(rsv, offset, length);
    if (!placed.ok()) {
      ADD_FAILURE() << placed.status();
      return std::nullopt;
    }
    return std::optional<Map>(std::move(*placed));
  }

  ScopedTempDir dir_{"/dev/shm"};
  ScopedFd fd_;
  absl::optional<Source> source_;
};

TEST(VmReservationCreateTest, ReservesAnInaccessibleRangeAlignedForHugePages) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(3 * kMiB);
  ASSERT_TRUE(rsv.ok()) << rsv.status();
  EXPECT_EQ(rsv->size(), 3 * kMiB);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(rsv->address()) % (2 * kMiB), 0u);
  EXPECT_EQ(ProtectionAt(rsv->address()), "---p");
  EXPECT_EQ(ProtectionAt(At(*rsv, 3 * kMiB - 1)), "---p");
  EXPECT_EQ(rsv->map_count(), 0u);
  // 2 GiB and more: 1 GiB (reserved, not backed: PROT_NONE, MAP_NORESERVE). Found by audit: untested here.
  absl::StatusOr<VmReservation> large = VmReservation::Create(2 * kGiB);
  ASSERT_TRUE(large.ok()) << large.status();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(large->address()) % kGiB, 0u);
  // Past what the address space holds: mmap's ENOMEM, as kErrno.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  absl::StatusOr<VmReservation> too_large = VmReservation::Create(SIZE_MAX & ~(page - 1));
  EXPECT_EQ(GetErrorCode(too_large.status()), ErrorCode::kErrno) << too_large.status();
  EXPECT_EQ(GetErrno(too_large.status()), ENOMEM) << too_large.status();
  // CreateAt with a null address: anywhere, as Create.
  absl::StatusOr<VmReservation> anywhere = VmReservation::CreateAt(nullptr, 3 * kMiB);
  ASSERT_TRUE(anywhere.ok()) << anywhere.status();
  EXPECT_NE(anywhere->address(), nullptr);
  EXPECT_EQ(ProtectionAt(anywhere->address()), "---p");
}

// A source with an address alignment (Device DAX: its "align", e.g. 2 MiB) can be mapped into a reservation only
// where the address is a multiple of it (libpmem2.h: PMEM2_E_ADDRESS_UNALIGNED); a refused claim takes nothing.
TEST(VmReservationCreateTest, AClaimAtAnAddressOffTheSourcesAlignmentIsRefused) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok()) << rsv.status();
  vm_reservation_internal::ReservationState& state = *rsv->internal_state();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  absl::StatusOr<uintptr_t> off = state.Claim(page, 2 * kMiB, 2 * kMiB, nullptr);
  EXPECT_EQ(GetErrorCode(off.status()), ErrorCode::kAddressUnaligned) << off.status();
  EXPECT_THAT(std::string(off.status().message()), HasSubstr("alignment 2097152"));
  absl::StatusOr<uintptr_t> on = state.Claim(2 * kMiB, 2 * kMiB, 2 * kMiB, nullptr);
  ASSERT_TRUE(on.ok()) << on.status() << ": the refused claim must not have taken the range";
  EXPECT_EQ(*on, reinterpret_cast<uintptr_t>(rsv->address()) + 2 * kMiB);
  state.Unclaim(*on);
  absl::StatusOr<uintptr_t> any = state.Claim(0, page, 0, nullptr);
  EXPECT_TRUE(any.ok()) << "no alignment asked: any page: " << any.status();
  if (any.ok()) state.Unclaim(*any);
}

TEST(VmReservationCreateTest, RefusesSizesThatAreNoWholePages) {
  EXPECT_EQ(GetErrorCode(VmReservation::Create(0).status()), ErrorCode::kLengthOutOfRange);
  absl::StatusOr<VmReservation> odd = VmReservation::Create(5000);
  EXPECT_EQ(GetErrorCode(odd.status()), ErrorCode::kLengthUnaligned);
  EXPECT_THAT(odd.status().message(), HasSubstr("5000"));
}

// A mapping released with munmap(2) behind its Map's back (libpmem.h allows that for pmem_map_file, and
// pmem_map_file under PMEM_MMAP_HINT maps into a reservation at the hint) leaves its record in the registry. A
// reservation made there must still take Maps: the kernel placed its placeholder, so the record is stale. Negative
// control: without the reservation forgetting it, MapInto failed with EEXIST ("overlaps the live mapping").
TEST_F(VmReservationTest, AMapReleasedWithMunmapLeavesNoRecordThatRefusesAReservationThere) {
  void* area = mmap(nullptr, kMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  map_internal::MapRecord stale(reinterpret_cast<uintptr_t>(area), kMiB, map_internal::FileIdentity{});
  map_internal::RegisterMap(&stale);
  absl::Cleanup unregister = [&stale] { map_internal::UnregisterMap(&stale); };
  ASSERT_EQ(munmap(area, kMiB), 0);
  absl::StatusOr<VmReservation> rsv = VmReservation::CreateAt(area, kMiB);
  ASSERT_TRUE(rsv.ok()) << rsv.status();
  absl::StatusOr<Map> map = MapInto(*rsv, 0, 64 << 10);
  EXPECT_TRUE(map.ok()) << map.status();
}

// The same for the range Extend() adds (negative control: MapInto there failed with EEXIST).
TEST_F(VmReservationTest, AMapReleasedWithMunmapLeavesNoRecordThatRefusesAnExtensionThere) {
  void* area = mmap(nullptr, 2 * kMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  void* second = static_cast<char*>(area) + kMiB;
  map_internal::MapRecord stale(reinterpret_cast<uintptr_t>(second), kMiB, map_internal::FileIdentity{});
  map_internal::RegisterMap(&stale);
  absl::Cleanup unregister = [&stale] { map_internal::UnregisterMap(&stale); };
  ASSERT_EQ(munmap(area, 2 * kMiB), 0);
  absl::StatusOr<VmReservation> rsv = VmReservation::CreateAt(area, kMiB);
  ASSERT_TRUE(rsv.ok()) << rsv.status();
  ASSERT_TRUE(rsv->Extend(kMiB).ok());
  absl::StatusOr<Map> map = MapInto(*rsv, kMiB, 64 << 10);
  EXPECT_TRUE(map.ok()) << map.status();
}

TEST(VmReservationCreateTest, AtAFreeAddressReservesExactlyThere) {
  absl::StatusOr<VmReservation> probe = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(probe.ok());
  void* free_address = probe->address();
  *probe = std::move(*VmReservation::Create(kPage));  // gives the probed range back
  absl::StatusOr<VmReservation> rsv = VmReservation::CreateAt(free_address, 2 * kMiB);
  ASSERT_TRUE(rsv.ok()) << rsv.status();
  EXPECT_EQ(rsv->address(), free_address);
}

TEST(VmReservationCreateTest, AtAnOccupiedAddressFailsAndLeavesTheMappingAlone) {
  void* taken = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(taken, MAP_FAILED);
  std::memset(taken, 'x', 2 * kPage);
  absl::StatusOr<VmReservation> rsv = VmReservation::CreateAt(static_cast<char*>(taken) + kPage, 4 * kPage);
  EXPECT_EQ(GetErrorCode(rsv.status()), ErrorCode::kMappingExists) << rsv.status();
  EXPECT_EQ(static_cast<char*>(taken)[2 * kPage - 1], 'x');
  EXPECT_EQ(ProtectionAt(taken), "rw-p");
  munmap(taken, 2 * kPage);
}

TEST(VmReservationCreateTest, AtAnUnalignedAddressFails) {
  EXPECT_EQ(GetErrorCode(VmReservation::CreateAt(reinterpret_cast<void*>(0x10001000 + 1), kPage).status()),
            ErrorCode::kAddressUnaligned);
}

TEST_F(VmReservationTest, AMapGoesToTheReservationAtItsOffsetAndReachesTheFile) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  absl::StatusOr<Map> map = MapInto(*rsv, kMiB, 2 * kPage, kPage);
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->address(), At(*rsv, kMiB));
  ASSERT_TRUE(map->Memcpy(map->address(), "hello", 5).ok());
  char read_back[5];
  ASSERT_EQ(pread(fd_.get(), read_back, 5, static_cast<off_t>(kPage)), 5);
  EXPECT_EQ(std::string(read_back, 5), "hello");
  EXPECT_EQ(rsv->map_count(), 1u);
}

TEST_F(VmReservationTest, TheMapsOfAReservationNeverOverlap) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  absl::StatusOr<Map> first = MapInto(*rsv, kPage, 2 * kPage);
  ASSERT_TRUE(first.ok());
  for (size_t offset : {size_t{0}, kPage, 2 * kPage}) {
    absl::StatusOr<Map> overlapping = MapInto(*rsv, offset, 2 * kPage);
    EXPECT_EQ(GetErrorCode(overlapping.status()), ErrorCode::kMappingExists) << offset;
  }
  // A partial last page occupies the whole page.
  absl::StatusOr<Map> partial = MapInto(*rsv, 3 * kPage, 0, 4 * kMiB - 100);
  EXPECT_EQ(GetErrorCode(partial.status()), ErrorCode::kOffsetUnaligned);  // the file offset is checked first
  EXPECT_TRUE(MapInto(*rsv, 3 * kPage, kPage).ok());
  EXPECT_EQ(rsv->map_count(), 1u);  // the Map of the line above is gone again
}

TEST_F(VmReservationTest, RefusesOffsetsThatAreNoPagesAndMapsThatDoNotFit) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  absl::StatusOr<Map> unaligned = MapInto(*rsv, 100, kPage);
  EXPECT_EQ(GetErrorCode(unaligned.status()), ErrorCode::kOffsetUnaligned);
  EXPECT_THAT(unaligned.status().message(), HasSubstr("100"));
  EXPECT_EQ(GetErrorCode(MapInto(*rsv, 2 * kMiB - kPage, 2 * kPage).status()), ErrorCode::kLengthOutOfRange);
  EXPECT_EQ(GetErrorCode(MapInto(*rsv, 2 * kMiB, kPage).status()), ErrorCode::kLengthOutOfRange);
  EXPECT_EQ(GetErrorCode(MapInto(*rsv, SIZE_MAX & ~(kPage - 1), kPage).status()), ErrorCode::kLengthOutOfRange);
  EXPECT_EQ(rsv->map_count(), 0u);
  EXPECT_EQ(ProtectionAt(rsv->address()), "---p");
}

TEST_F(VmReservationTest, ADestroyedMapLeavesItsRangeReservedAndFreeForTheNext) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  {
    absl::StatusOr<Map> map = MapInto(*rsv, 0, kPage);
    ASSERT_TRUE(map.ok());
    EXPECT_EQ(ProtectionAt(rsv->address()), "rw-s");
  }
  EXPECT_EQ(ProtectionAt(rsv->address()), "---p");
  EXPECT_EQ(GetErrorCode(VmReservation::CreateAt(rsv->address(), kPage).status()), ErrorCode::kMappingExists);
  EXPECT_EQ(rsv->map_count(), 0u);
  EXPECT_TRUE(MapInto(*rsv, 0, kPage).ok());
}

TEST_F(VmReservationTest, FindsMapsAtBeforeAndAfterAnOffset) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  absl::StatusOr<Map> a = MapInto(*rsv, kPage, 2 * kPage);
  absl::StatusOr<Map> c = MapInto(*rsv, kMiB, kPage);
  absl::StatusOr<Map> b = MapInto(*rsv, 3 * kPage, kPage);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(rsv->FindMap(0, kPage), nullptr);
  EXPECT_EQ(rsv->FindMap(0, kPage + 1), &*a);
  EXPECT_EQ(rsv->FindMap(2 * kPage, 1), &*a);
  EXPECT_EQ(rsv->FindMap(3 * kPage, 0), &*b);  // length 0: the map holding the offset
  EXPECT_EQ(rsv->FindMap(4 * kPage, 0), nullptr);
  EXPECT_EQ(rsv->FindMap(4 * kPage, 4 * kMiB), &*c);  // a length past the end is cut at the end
  EXPECT_EQ(rsv->FindMap(4 * kMiB, 1), nullptr);
  EXPECT_EQ(rsv->FindMap(SIZE_MAX, SIZE_MAX), nullptr);
  EXPECT_EQ(rsv->FirstMap(), &*a);
  EXPECT_EQ(rsv->LastMap(), &*c);
  EXPECT_EQ(rsv->FindNextMap(*a), &*b);
  EXPECT_EQ(rsv->FindNextMap(*b), &*c);
  EXPECT_EQ(rsv->FindNextMap(*c), nullptr);
  EXPECT_EQ(rsv->FindPreviousMap(*c), &*b);
  EXPECT_EQ(rsv->FindPreviousMap(*a), nullptr);
  // A Map of no reservation (or another one) has no neighbours here.
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> elsewhere = Map::Create(config, *source_);
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_EQ(rsv->FindNextMap(*elsewhere), nullptr);
  EXPECT_EQ(rsv->FindPreviousMap(*elsewhere), nullptr);
}

TEST_F(VmReservationTest, FindReturnsTheMapWhereverItWasMovedTo) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  absl::StatusOr<Map> made = MapInto(*rsv, 0, kPage);
  ASSERT_TRUE(made.ok());
  Map moved = std::move(*made);
  EXPECT_EQ(rsv->FirstMap(), &moved);
  std::vector<Map> maps;
  maps.push_back(std::move(moved));
  EXPECT_EQ(rsv->FindMap(0, 1), &maps[0]);
  EXPECT_EQ(maps[0].address(), rsv->address());
}

TEST_F(VmReservationTest, ExtendsAtTheEndUnlessTheSpaceIsTaken) {
  // At the start of a range known to be free for 4 MiB: after a reservation the kernel placed, the space left before
  // the next mapping depends on where that mapping is (before Linux 6.7, which 2 MiB-aligns such anonymous
  // mappings, it could be a page or two, 2 runs in 512).
  void* area = mmap(nullptr, 4 * kMiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  ASSERT_EQ(munmap(area, 4 * kMiB), 0);
  absl::StatusOr<VmReservation> rsv = VmReservation::CreateAt(area, 2 * kMiB);
  ASSERT_TRUE(rsv.ok()) << rsv.status();
  absl::StatusOr<Map> map = MapInto(*rsv, 0, kPage);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(GetErrorCode(rsv->Extend(100)), ErrorCode::kLengthUnaligned);
  const absl::Status wraps = rsv->Extend(SIZE_MAX - kPage + 1);  // page-aligned; its end wraps around
  EXPECT_EQ(GetErrorCode(wraps), ErrorCode::kLengthOutOfRange) << wraps;
  EXPECT_EQ(rsv->size(), 2 * kMiB);
  EXPECT_TRUE(rsv->Extend(0).ok());
  ASSERT_TRUE(rsv->Extend(2 * kPage).ok());
  EXPECT_EQ(rsv->size(), 2 * kMiB + 2 * kPage);
  EXPECT_EQ(ProtectionAt(At(*rsv, 2 * kMiB + kPage)), "---p");
  EXPECT_TRUE(MapInto(*rsv, 2 * kMiB, 2 * kPage).ok());
  // Something else right after the reservation.
  void* after = mmap(At(*rsv, rsv->size()), kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                     -1, 0);
  ASSERT_EQ(after, At(*rsv, rsv->size()));
  EXPECT_EQ(GetErrorCode(rsv->Extend(kPage)), ErrorCode::kMappingExists);
  EXPECT_EQ(ProtectionAt(after), "r--p");
  EXPECT_EQ(rsv->size(), 2 * kMiB + 2 * kPage);
  munmap(after, kPage);
  EXPECT_EQ(map->address(), rsv->address());
}

TEST_F(VmReservationTest, ShrinkChecksInLibpmem2sOrder) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  absl::StatusOr<Map> map = MapInto(*rsv, kPage, kPage);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(GetErrorCode(rsv->Shrink(100, kPage)), ErrorCode::kOffsetUnaligned);
  EXPECT_EQ(GetErrorCode(rsv->Shrink(0, 100)), ErrorCode::kLengthUnaligned);
  EXPECT_EQ(GetErrorCode(rsv->Shrink(2 * kMiB, kPage)), ErrorCode::kOffsetOutOfRange);
  EXPECT_EQ(GetErrorCode(rsv->Shrink(0, 0)), ErrorCode::kLengthOutOfRange);
  EXPECT_EQ(GetErrorCode(rsv->Shrink(kMiB, 2 * kMiB)), ErrorCode::kLengthOutOfRange);
  EXPECT_EQ(GetErrorCode(rsv->Shrink(0, 2 * kMiB)), ErrorCode::kNoSupp);
  EXPECT_THAT(rsv->Shrink(0, 2 * kMiB).message(),
              HasSubstr(absl::StrCat("shrinking [0, ", 2 * kMiB, ") takes the whole reservation of ", 2 * kMiB)));
  EXPECT_EQ(GetErrorCode(rsv->Shrink(kMiB, kPage)), ErrorCode::kNoSupp);
  EXPECT_EQ(GetErrorCode(rsv->Shrink(0, 2 * kPage)), ErrorCode::kVmReservationNotEmpty);
  EXPECT_EQ(rsv->size(), 2 * kMiB);
}

TEST_F(VmReservationTest, ShrinkingTheFrontMovesTheStartButNoMap) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  char* const start = At(*rsv, 0);
  absl::StatusOr<Map> map = MapInto(*rsv, 2 * kPage, kPage);
  ASSERT_TRUE(map.ok());
  ASSERT_TRUE(rsv->Shrink(0, 2 * kPage).ok());
  EXPECT_EQ(rsv->address(), start + 2 * kPage);
  EXPECT_EQ(rsv->size(), 2 * kMiB - 2 * kPage);
  EXPECT_EQ(ProtectionAt(start), "");  // given back
  EXPECT_EQ(map->address(), rsv->address());
  EXPECT_EQ(rsv->FindMap(0, 1), &*map);  // offsets count from the new start
  ASSERT_TRUE(rsv->Shrink(rsv->size() - kPage, kPage).ok());
  EXPECT_EQ(rsv->size(), 2 * kMiB - 3 * kPage);
}

TEST_F(VmReservationTest, AReservationDestroyedBeforeItsMapsKeepsTheirRangeUntilTheLastIsGone) {
  absl::optional<VmReservation> rsv;
  {
    absl::StatusOr<VmReservation> made = VmReservation::Create(2 * kMiB);
    ASSERT_TRUE(made.ok());
    rsv.emplace(std::move(*made));
  }
  void* const start = rsv->address();
  absl::StatusOr<Map> map = MapInto(*rsv, kPage, kPage);
  ASSERT_TRUE(map.ok());
  rsv.reset();
  EXPECT_EQ(ProtectionAt(start), "---p");  // still reserved
  ASSERT_TRUE(map->Memset(map->address(), 'z', kPage).ok());
  *map = std::move(*Map::Create([] {
    Config c;
    c.set_required_store_granularity(StoreGranularity::kPage);
    return c;
  }(), *source_));
  EXPECT_EQ(ProtectionAt(start), "");  // released with its last Map
}

TEST_F(VmReservationTest, AMovedFromReservationReservesNothing) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  VmReservation other = std::move(*rsv);
  EXPECT_EQ(rsv->address(), nullptr);
  EXPECT_EQ(rsv->size(), 0u);
  EXPECT_FALSE(rsv->Extend(kPage).ok());
  EXPECT_FALSE(rsv->Shrink(0, kPage).ok());
  EXPECT_EQ(rsv->FirstMap(), nullptr);
  EXPECT_EQ(GetErrorCode(MapInto(*rsv, 0, kPage).status()), ErrorCode::kMappingNotFound);
  EXPECT_TRUE(MapInto(other, 0, kPage).ok());
}

// A Map refused because an adopted mapping lies in its range leaves that mapping (and its data) alone, also
// when the adopted range is only part of the Map's last page.
TEST_F(VmReservationTest, ARefusedMapLeavesTheAdoptedMappingAlone) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  char* const page = At(*rsv, 2 * kPage);
  ASSERT_EQ(mmap(page, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_.get(), 0), page);
  std::memcpy(page, "adopted", 7);
  absl::StatusOr<Map> adopted = Map::FromExisting(*source_, page + kPage / 2, kPage / 2, StoreGranularity::kPage);
  ASSERT_TRUE(adopted.ok());
  absl::StatusOr<Map> refused = MapInto(*rsv, 2 * kPage, kPage);
  EXPECT_EQ(GetErrno(refused.status()), EEXIST) << refused.status();
  // A 100-byte file maps 100 bytes, but the mmap replaces the whole page, which holds the adopted half page.
  ScopedFd small_fd = CreateFile(dir_.Join("small"), 100, O_RDWR);
  absl::StatusOr<Source> small = Source::FromFd(small_fd.get());
  ASSERT_TRUE(small.ok());
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_vm_reservation(&*rsv, 2 * kPage);
  absl::StatusOr<Map> small_map = Map::Create(config, *small);
  EXPECT_EQ(GetErrno(small_map.status()), EEXIST) << small_map.status();
  EXPECT_EQ(std::string(page, 7), "adopted") << "still mapped, still the file";
  EXPECT_EQ(ProtectionAt(page), "rw-s");
  EXPECT_EQ(rsv->map_count(), 0u);
  EXPECT_TRUE(MapInto(*rsv, 3 * kPage, kPage).ok()) << "the claim was forgotten";
}

// A mapping the application made over part of a reservation and adopted with FromExisting() is that live Map's:
// Shrink() refuses to give its range back, CheckEmpty() (pmem2_vm_reservation_delete) refuses, and the
// reservation's end unmaps everything but it (before, both unmapped it under the Map, as libpmem2 does: R12).
TEST_F(VmReservationTest, AnAdoptedMappingIsNeitherGivenBackNorUnmapped) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(8 * kPage);
  ASSERT_TRUE(rsv.ok());
  char* const base = At(*rsv, 0);
  char* const page = At(*rsv, 6 * kPage);
  ASSERT_EQ(mmap(page, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_.get(), 0), page);
  std::memcpy(page, "adopted", 7);
  absl::StatusOr<Map> adopted = Map::FromExisting(*source_, page, kPage, StoreGranularity::kPage);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  const absl::Status not_empty = rsv->CheckEmpty();
  EXPECT_EQ(GetErrorCode(not_empty), ErrorCode::kVmReservationNotEmpty) << not_empty;
  EXPECT_THAT(std::string(not_empty.message()), HasSubstr("FromExisting"));
  const absl::Status shrunk = rsv->Shrink(4 * kPage, 4 * kPage);
  EXPECT_EQ(GetErrorCode(shrunk), ErrorCode::kVmReservationNotEmpty) << shrunk;
  EXPECT_EQ(rsv->size(), 8 * kPage);
  ASSERT_TRUE(rsv->Shrink(0, 2 * kPage).ok()) << "a range without it";
  EXPECT_EQ(ProtectionAt(page), "rw-s");
  rsv = absl::InternalError("destroyed");
  EXPECT_EQ(ProtectionAt(page), "rw-s") << "the reservation's end unmapped the adopted mapping";
  EXPECT_EQ(std::string(page, 7), "adopted");
  EXPECT_EQ(ProtectionAt(base + 2 * kPage), "") << "the rest is given back";
  EXPECT_EQ(ProtectionAt(page + kPage), "");
  adopted = absl::InternalError("destroyed");
  munmap(page, kPage);
}

// FromExisting() takes a range that starts or ends inside a page; the reservation's end keeps such a range's pages
// whole (munmap(2) would unmap every page a gap touches) and still gives back every other page.
TEST_F(VmReservationTest, AnAdoptedRangeInsidePagesKeepsItsWholePagesAtTheReservationsEnd) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(8 * kPage);
  ASSERT_TRUE(rsv.ok());
  char* const base = At(*rsv, 0);
  char* const starts_inside = At(*rsv, 2 * kPage);  // adopted from its middle to its end
  char* const ends_inside = At(*rsv, 5 * kPage);    // adopted from its start to its middle
  ASSERT_EQ(mmap(starts_inside, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_.get(), 0), starts_inside);
  ASSERT_EQ(mmap(ends_inside, kPage, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_.get(), kPage), ends_inside);
  absl::StatusOr<Map> second_half =
      Map::FromExisting(*source_, starts_inside + kPage / 2, kPage / 2, StoreGranularity::kPage);
  ASSERT_TRUE(second_half.ok()) << second_half.status();
  absl::StatusOr<Map> first_half = Map::FromExisting(*source_, ends_inside, kPage / 2, StoreGranularity::kPage);
  ASSERT_TRUE(first_half.ok()) << first_half.status();
  rsv = absl::InternalError("destroyed");
  EXPECT_EQ(ProtectionAt(starts_inside), "rw-s") << "the page of a range adopted from its middle was unmapped";
  EXPECT_EQ(ProtectionAt(ends_inside), "rw-s") << "the page of a range adopted up to its middle was unmapped";
  for (size_t i : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{6}, size_t{7}}) {
    EXPECT_EQ(ProtectionAt(base + i * kPage), "") << "page " << i << " was not given back";
  }
  // The adopted Maps still write and persist their pages.
  ASSERT_TRUE(second_half->Memcpy(starts_inside + kPage / 2, "kept", 4).ok());
  ASSERT_TRUE(first_half->Memcpy(ends_inside, "kept", 4).ok());
  char read_back[4] = {};
  ASSERT_EQ(pread(fd_.get(), read_back, 4, static_cast<off_t>(kPage / 2)), 4);
  EXPECT_EQ(std::string(read_back, 4), "kept");
  ASSERT_EQ(pread(fd_.get(), read_back, 4, static_cast<off_t>(kPage)), 4);
  EXPECT_EQ(std::string(read_back, 4), "kept");
  second_half = absl::InternalError("destroyed");
  first_half = absl::InternalError("destroyed");
  munmap(starts_inside, kPage);
  munmap(ends_inside, kPage);
}

// Extend() adds its range without the lock (its records are swept meanwhile): a Shrink() from the end in that window
// makes it give the added range back and fail with kMappingExists, and an Extend() in that window finds the added
// range taken (the promises of vm_reservation.h, run here in the window through the state's callback).
TEST_F(VmReservationTest, AnExtendRacedByAShrinkOrAnExtendInItsWindowFails) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kPage);
  ASSERT_TRUE(rsv.ok());
  vm_reservation_internal::ReservationState& state = *rsv->internal_state();
  const auto no_check = [](uintptr_t, size_t) { return absl::OkStatus(); };
  char* added = nullptr;
  absl::Status in_window;
  absl::Status extended = state.Extend(kPage, [&](void* range, size_t) {
    added = static_cast<char*>(range);
    in_window = state.Shrink(3 * kPage, kPage, no_check);
  });
  ASSERT_TRUE(in_window.ok()) << in_window;
  EXPECT_EQ(GetErrorCode(extended), ErrorCode::kMappingExists) << extended;
  EXPECT_EQ(rsv->size(), 3 * kPage);
  EXPECT_EQ(ProtectionAt(added), "") << "the added range was given back";
  extended = state.Extend(kPage, [&](void*, size_t) { in_window = state.Extend(kPage, [](void*, size_t) {}); });
  EXPECT_TRUE(extended.ok()) << extended;
  EXPECT_EQ(GetErrorCode(in_window), ErrorCode::kMappingExists) << in_window;
  EXPECT_EQ(rsv->size(), 4 * kPage);
}

// The C API publishes a Map to its reservation only once it is final: until then Find does not see it, though
// it blocks overlaps and counts as placed.
TEST_F(VmReservationTest, AnUnpublishedMapIsNotFoundButOccupiesItsRange) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_vm_reservation(&*rsv, 0);
  config.set_length(kPage);
  absl::StatusOr<Map> pending = map_internal::CreateUnpublishedForCApi(config, *source_);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(rsv->FindMap(0, kPage), nullptr);
  EXPECT_EQ(rsv->FirstMap(), nullptr);
  EXPECT_EQ(rsv->map_count(), 1u);
  EXPECT_EQ(GetErrorCode(MapInto(*rsv, 0, kPage).status()), ErrorCode::kMappingExists);
  Map final_place = std::move(*pending);
  map_internal::PublishForCApi(final_place);
  EXPECT_EQ(rsv->FindMap(0, kPage), &final_place);
}

// Threads race for the same slots: each slot is won by exactly one Map, and every lost race leaves nothing
// behind (ThreadSanitizer checks the locking in the tsan stage).
TEST_F(VmReservationTest, ConcurrentMapsClaimEachSlotOnce) {
  constexpr int kThreads = 4;
  constexpr int kSlots = 16;
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(kSlots * kPage);
  ASSERT_TRUE(rsv.ok());
  std::atomic<int> wins{0};
  std::vector<std::vector<Map>> kept(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int slot = 0; slot < kSlots; ++slot) {
        absl::StatusOr<Map> map = MapInto(*rsv, static_cast<size_t>(slot) * kPage, kPage);
        if (map.ok()) {
          wins.fetch_add(1);
          kept[t].push_back(std::move(*map));
        } else {
          EXPECT_EQ(GetErrorCode(map.status()), ErrorCode::kMappingExists) << map.status();
        }
        (void)rsv->FindMap(0, kSlots * kPage);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wins.load(), kSlots);
  EXPECT_EQ(rsv->map_count(), static_cast<size_t>(kSlots));
  kept.clear();
  EXPECT_EQ(rsv->map_count(), 0u);
}

using Step = ::pmem2::testing::ScopedStepPause::Step;
using ::pmem2::testing::ScopedStepPause;

// For a child's body: what went wrong, one line each.
struct ChildChecks {
  std::string problems;
  void Expect(bool ok, const std::string& what) {
    if (!ok) problems += what + "\n";
  }
  int Report(int out) const {
    ::pmem2::testing::WriteToParent(out, problems);
    return problems.empty() ? 0 : 1;
  }
};

// A MAP_FIXED mmap that fails may have unmapped what it replaced first (before Linux 6.12 as a rule: the commit check
// of a large private mapping; from 6.12 still when a file system's mmap method fails, ext4 after a forced shutdown
// say). A mapping into a reservation that fails so leaves no hole while its claim ends: the placeholder is put back at
// once, replacing nothing, so that another thread's mmap cannot take the range meanwhile (the placeholder's return
// would destroy that mapping). Simulated with an mmap that unmaps its range and fails (ENOMEM); looked at where
// Release() is about to put the placeholder back: the range is not free. (Found by review: MapAligned() refilled such
// a hole, the reservation's path did not.)
TEST_F(VmReservationTest, AFailedMappingLeavesNoHoleForAnotherThreadsMmap) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  map_internal::SetFixedMmapForTest([](void* address, size_t length, int, int, int, off_t) -> void* {
    munmap(address, length);
    errno = ENOMEM;
    return MAP_FAILED;
  });
  static std::atomic<int> probe_errno{-1};  // at Release()'s kReleasing step: 0 if the range was free
  probe_errno = -1;
  using vm_reservation_internal::ReservationState;
  ReservationState::SetStepHookForTest([](ReservationState::Step step, uintptr_t address) {
    if (step != ReservationState::Step::kReleasing) return;
    void* probe = mmap(reinterpret_cast<void*>(address), kPage, PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (probe == MAP_FAILED) {
      probe_errno = errno;
    } else {
      probe_errno = 0;
      if (probe != reinterpret_cast<void*>(address)) munmap(probe, kPage);  // a kernel before 4.17: elsewhere
    }
  });
  const absl::Status failed = MapInto(*rsv, kMiB, kPage).status();
  ReservationState::SetStepHookForTest(nullptr);
  map_internal::SetFixedMmapForTest(nullptr);
  EXPECT_EQ(GetErrno(failed), ENOMEM) << failed;
  EXPECT_EQ(probe_errno.load(), EEXIST) << "the range was a hole another thread's mmap could take";
  EXPECT_EQ(ProtectionAt(At(*rsv, kMiB)), "---p");
  EXPECT_EQ(rsv->map_count(), 0u);
  absl::StatusOr<Map> again = MapInto(*rsv, kMiB, kPage);
  EXPECT_TRUE(again.ok()) << again.status();
}

// The same failed mmap, where another thread's mmap took part of the hole before the placeholder could be put back:
// the range is lost to the reservation, and that mapping is left alone (the failed Map's end put the placeholder over
// it, and a fallback mmap could have mapped over it too; found by audit). Here the other mapping takes the second of
// the two pages; one that took the first page itself is not covered (placement.cc: the first page tells a hole).
TEST_F(VmReservationTest, AFailedMappingWhoseHoleAnotherMmapTookLeavesThatMappingAlone) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  static std::atomic<int> fixed_mmaps{0};
  static std::atomic<bool> other_placed{false};
  fixed_mmaps = 0;
  other_placed = false;
  map_internal::SetFixedMmapForTest([](void* address, size_t length, int, int, int, off_t) -> void* {
    ++fixed_mmaps;
    munmap(address, length);
    char* const second = static_cast<char*>(address) + kPage;
    void* other = mmap(second, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (other == second) {
      second[0] = 'o';
      other_placed = true;
    }
    errno = ENOMEM;
    return MAP_FAILED;
  });
  const absl::Status failed = MapInto(*rsv, kMiB, 2 * kPage).status();
  map_internal::SetFixedMmapForTest(nullptr);
  char* const other = static_cast<char*>(At(*rsv, kMiB)) + kPage;
  ASSERT_TRUE(other_placed.load()) << "the other mapping could not be placed: the scenario was not made";
  ASSERT_EQ(ProtectionAt(other), "rw-p") << "the other mapping was replaced";
  EXPECT_EQ(GetErrno(failed), ENOMEM) << failed;
  EXPECT_THAT(std::string(failed.message()), HasSubstr("lost to the reservation"));
  EXPECT_EQ(fixed_mmaps.load(), 1);
  EXPECT_EQ(other[0], 'o');
  EXPECT_EQ(rsv->map_count(), 0u);
  // Never offered to a Map again; the rest of the reservation is.
  EXPECT_FALSE(MapInto(*rsv, kMiB, kPage).ok());
  EXPECT_EQ(ProtectionAt(other), "rw-p");
  EXPECT_TRUE(MapInto(*rsv, 2 * kMiB, kPage).ok());
  munmap(other, kPage);
}

// A failed mmap that left the placeholder in place (most failures: the kernel's checks come before the unmap; here
// EPERM, as for a write-sealed memfd) loses nothing: its errno is returned, and the range is the reservation's and
// free for the next Map (found by review: it was taken for a hole another mmap had filled, and lost).
TEST_F(VmReservationTest, AFailedMappingThatKeptThePlaceholderLosesNothing) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  map_internal::SetFixedMmapForTest([](void*, size_t, int, int, int, off_t) -> void* {
    errno = EPERM;
    return MAP_FAILED;
  });
  const absl::Status failed = MapInto(*rsv, kMiB, kPage).status();
  map_internal::SetFixedMmapForTest(nullptr);
  EXPECT_EQ(GetErrno(failed), EPERM) << failed;
  EXPECT_THAT(std::string(failed.message()), ::testing::Not(HasSubstr("lost")));
  EXPECT_EQ(ProtectionAt(At(*rsv, kMiB)), "---p");
  EXPECT_EQ(rsv->map_count(), 0u);
  absl::StatusOr<Map> again = MapInto(*rsv, kMiB, kPage);
  EXPECT_TRUE(again.ok()) << again.status();
}

// The placeholder's return over a released Map that fails (ENOMEM: a process at vm.max_map_count, say) leaves no hole:
// the Map's pages are unmapped, and the placeholder is put back without replacing anything. The range is reserved
// again and can take a Map. (Found by review: the range stayed a hole, lost to the reservation for good.)
std::atomic<int> placeholder_returns_failed{0};

TEST_F(VmReservationTest, AFailedPlaceholderReturnStillLeavesTheRangeReserved) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  using vm_reservation_internal::ReservationState;
  placeholder_returns_failed = 0;
  {
    absl::StatusOr<Map> map = MapInto(*rsv, kMiB, kPage);
    ASSERT_TRUE(map.ok()) << map.status();
    ReservationState::SetPlaceholderMmapForTest([](void*, size_t, int, int, int, off_t) -> void* {
      ++placeholder_returns_failed;
      errno = ENOMEM;
      return MAP_FAILED;
    });
  }  // destroyed: released
  ReservationState::SetPlaceholderMmapForTest(nullptr);
  EXPECT_EQ(placeholder_returns_failed.load(), 1) << "the release did not put the placeholder back through the seam";
  EXPECT_EQ(ProtectionAt(At(*rsv, kMiB)), "---p") << "a hole";
  EXPECT_EQ(rsv->map_count(), 0u);
  absl::StatusOr<Map> again = MapInto(*rsv, kMiB, kPage);
  EXPECT_TRUE(again.ok()) << again.status();
}

// Between Release()'s two steps a Map's range is neither free nor findable: the placeholder is not back yet.
// Other ranges of the reservation can be placed meanwhile (the release holds no lock).
TEST_F(VmReservationTest, AMapBeingReleasedIsNotFoundAndBlocksItsRangeUntilThePlaceholderIsBack) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  std::optional<Map> map = PlaceToRelease(*rsv, kMiB, kMiB);
  ASSERT_TRUE(map.has_value());
  ScopedStepPause releasing(Step::kReleasing, [&map] { map.reset(); });
  ASSERT_TRUE(releasing.WaitUntilReached());
  EXPECT_EQ(rsv->FindMap(kMiB, 0), nullptr);
  EXPECT_EQ(rsv->FirstMap(), nullptr);
  EXPECT_EQ(rsv->map_count(), 1u) << "a release under way counts as placed";
  EXPECT_EQ(GetErrorCode(MapInto(*rsv, kMiB + kPage, kPage).status()), ErrorCode::kMappingExists);
  absl::StatusOr<Map> elsewhere = MapInto(*rsv, 3 * kMiB, kPage);
  EXPECT_TRUE(elsewhere.ok()) << elsewhere.status();
  releasing.Finish();
  EXPECT_EQ(ProtectionAt(At(*rsv, kMiB)), "---p");
  EXPECT_EQ(rsv->map_count(), elsewhere.ok() ? 1u : 0u);
  EXPECT_TRUE(MapInto(*rsv, kMiB, kMiB).ok()) << "the range is free after the release";
}

// fork() while another thread is between Release()'s two steps: that thread is not in the child, so the child's
// fork handler finishes the release there. Before it did, the child found the range taken for good (a negative
// control: with the handler not registered, the child reported map_count 1 and kMappingExists). Reservations
// made and destroyed around it (the newest and one in the middle of the handler's list) must not hide it.
TEST_F(VmReservationTest, AChildForkedDuringAnotherThreadsReleaseFindsTheRangeReservedAndFree) {
  absl::StatusOr<VmReservation> older = VmReservation::Create(kMiB);
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(older.ok() && rsv.ok());
  {
    absl::StatusOr<VmReservation> middle = VmReservation::Create(kMiB);
    absl::StatusOr<VmReservation> newest = VmReservation::Create(kMiB);
    ASSERT_TRUE(middle.ok() && newest.ok());
    *middle = std::move(*VmReservation::Create(kPage));  // the middle one goes first, its replacement is newest
  }
  std::optional<Map> map = PlaceToRelease(*rsv, kMiB, kMiB);
  ASSERT_TRUE(map.has_value());
  std::memset(map->address(), 'r', kMiB);
  ASSERT_TRUE(map->Persist(map->address(), kMiB).ok());
  ScopedStepPause releasing(Step::kReleasing, [&map] { map.reset(); });
  ASSERT_TRUE(releasing.WaitUntilReached());
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ChildChecks checks;
    checks.Expect(rsv->map_count() == 0, "map_count " + std::to_string(rsv->map_count()) + ", not 0");
    checks.Expect(rsv->FindMap(kMiB, 0) == nullptr, "the released Map was found");
    checks.Expect(ProtectionAt(At(*rsv, kMiB)) == "---p", "the range is " + ProtectionAt(At(*rsv, kMiB)));
    absl::StatusOr<Map> again = MapInto(*rsv, kMiB, kMiB);
    checks.Expect(again.ok(), "placing a Map there again: " + again.status().ToString());
    if (again.ok()) checks.Expect(static_cast<char*>(again->address())[kMiB - 1] == 'r', "not the file's data");
    return checks.Report(out);
  });
  releasing.Finish();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(rsv->map_count(), 0u);
  EXPECT_EQ(ProtectionAt(At(*rsv, kMiB)), "---p");
}

// Destroying a Map takes it out of the reservation's lookups before it leaves the map registry, and a thread
// forked in between (the record may still be there) finds the range lost: neither the half-destroyed Map nor a
// free range, its pages untouched (negative control: with BeginRelease() marking nothing, the child found the
// Map). Once the Map has unregistered, a fork finishes the release (the test above).
TEST_F(VmReservationTest, AChildForkedWhileAnotherThreadDestroysAMapNeitherFindsNorReusesItsRange) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  std::optional<Map> map = PlaceToRelease(*rsv, kMiB, kMiB);
  ASSERT_TRUE(map.has_value());
  std::memset(map->address(), 'd', kMiB);
  ScopedStepPause destroying(Step::kReleaseBegun, [&map] { map.reset(); });
  ASSERT_TRUE(destroying.WaitUntilReached());
  EXPECT_EQ(rsv->FindMap(kMiB, 0), nullptr);
  EXPECT_EQ(rsv->FirstMap(), nullptr);
  EXPECT_EQ(rsv->map_count(), 1u);
  EXPECT_EQ(GetErrorCode(MapInto(*rsv, kMiB, kPage).status()), ErrorCode::kMappingExists);
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ChildChecks checks;
    checks.Expect(rsv->FindMap(kMiB, 0) == nullptr, "the Map being destroyed was found");
    checks.Expect(rsv->FirstMap() == nullptr && rsv->LastMap() == nullptr, "First/LastMap found a Map");
    checks.Expect(rsv->map_count() == 0, "map_count " + std::to_string(rsv->map_count()) + ", not 0");
    absl::StatusOr<Map> over = MapInto(*rsv, kMiB, kPage);
    checks.Expect(GetErrorCode(over.status()) == ErrorCode::kMappingExists,
                  "placing a Map over it: " + over.status().ToString());
    const absl::Status shrunk = rsv->Shrink(kMiB, 3 * kMiB);
    checks.Expect(GetErrorCode(shrunk) == ErrorCode::kVmReservationNotEmpty, "shrinking it: " + shrunk.ToString());
    checks.Expect(ProtectionAt(At(*rsv, kMiB)) == "rw-s", "the range is " + ProtectionAt(At(*rsv, kMiB)));
    checks.Expect(At(*rsv, kMiB)[kMiB - 1] == 'd', "the pages changed");
    absl::StatusOr<Map> elsewhere = MapInto(*rsv, 3 * kMiB, kPage);
    checks.Expect(elsewhere.ok(), "placing a Map elsewhere: " + elsewhere.status().ToString());
    return checks.Report(out);
  });
  destroying.Finish();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(rsv->map_count(), 0u);
  EXPECT_EQ(ProtectionAt(At(*rsv, kMiB)), "---p");
  EXPECT_TRUE(MapInto(*rsv, kMiB, kMiB).ok()) << "the range is free after the destruction";
}

// fork() while another thread is inside Map::Create, its claim made and nothing mapped yet: the Map can never be
// finished in the child, so its claim is dropped there and the range can take a Map (negative control: with the
// handler not registered, the child reported map_count 1 and kMappingExists). The parent's Map is unaffected.
TEST_F(VmReservationTest, AChildForkedWhileAnotherThreadPlacesAMapCanPlaceOneThere) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  absl::StatusOr<Map> placed = absl::UnknownError("not run");
  ScopedStepPause placing(Step::kClaimed, [&] { placed = MapInto(*rsv, kMiB, kMiB); });
  ASSERT_TRUE(placing.WaitUntilReached());
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ChildChecks checks;
    checks.Expect(rsv->map_count() == 0, "map_count " + std::to_string(rsv->map_count()) + ", not 0");
    absl::StatusOr<Map> here = MapInto(*rsv, kMiB, kMiB);
    checks.Expect(here.ok(), "placing a Map there: " + here.status().ToString());
    checks.Expect(rsv->map_count() == 1, "map_count " + std::to_string(rsv->map_count()) + ", not 1");
    return checks.Report(out);
  });
  placing.Finish();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  ASSERT_TRUE(placed.ok()) << placed.status();
  EXPECT_EQ(rsv->FindMap(kMiB, 0), &*placed);
  EXPECT_EQ(rsv->map_count(), 1u);
}

// The same when that thread had got further (the C API's unpublished Map: registered and mapped, not yet
// published; pmem2_map_new has handed it out by then): in the child the range is lost, neither offered to a Map
// nor given back by Shrink, its pages left mapped. (Before WillRegister, the claim was dropped and Shrink
// unmapped the pages under the registry's record: a review found it; the check on Shrink failed then.)
TEST_F(VmReservationTest, AChildForkedWhileAnotherThreadHoldsAnUnpublishedMapLeavesItsPagesAlone) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(4 * kMiB);
  ASSERT_TRUE(rsv.ok());
  std::mutex mutex;
  std::condition_variable changed;
  bool placed = false, forked = false;
  std::thread placing([&] {
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    config.set_vm_reservation(&*rsv, kMiB);
    config.set_length(kMiB);
    absl::StatusOr<Map> unpublished = map_internal::CreateUnpublishedForCApi(config, *source_);
    EXPECT_TRUE(unpublished.ok()) << unpublished.status();
    std::unique_lock<std::mutex> lock(mutex);
    placed = true;
    changed.notify_all();
    changed.wait(lock, [&] { return forked; });
  });
  {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [&] { return placed; });
  }
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ChildChecks checks;
    checks.Expect(rsv->map_count() == 0, "map_count " + std::to_string(rsv->map_count()) + ", not 0");
    absl::StatusOr<Map> over = MapInto(*rsv, kMiB, kMiB);
    checks.Expect(GetErrorCode(over.status()) == ErrorCode::kMappingExists,
                  "placing a Map over it: " + over.status().ToString());
    const absl::Status shrunk = rsv->Shrink(kMiB, 3 * kMiB);
    checks.Expect(GetErrorCode(shrunk) == ErrorCode::kVmReservationNotEmpty, "shrinking it: " + shrunk.ToString());
    checks.Expect(ProtectionAt(At(*rsv, kMiB)) == "rw-s", "the range is " + ProtectionAt(At(*rsv, kMiB)));
    return checks.Report(out);
  });
  {
    std::lock_guard<std::mutex> lock(mutex);
    forked = true;
    changed.notify_all();
  }
  placing.join();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(rsv->map_count(), 0u);
}

// The forking thread's own pending claim is its own to finish (it may return to that call, e.g. after a fork in
// a signal handler): the child keeps it (negative control: with every thread's claims ended, the child found
// map_count 0).
TEST_F(VmReservationTest, AChildKeepsTheForkingThreadsOwnClaim) {
  absl::StatusOr<VmReservation> rsv = VmReservation::Create(2 * kMiB);
  ASSERT_TRUE(rsv.ok());
  vm_reservation_internal::ReservationState& state = *rsv->internal_state();
  absl::StatusOr<uintptr_t> claimed = state.Claim(0, kPage, 0, nullptr);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    ChildChecks checks;
    checks.Expect(rsv->map_count() == 1, "map_count " + std::to_string(rsv->map_count()) + ", not 1");
    checks.Expect(GetErrorCode(MapInto(*rsv, 0, kPage).status()) == ErrorCode::kMappingExists,
                  "the claimed range took a Map");
    return checks.Report(out);
  });
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  state.Unclaim(*claimed);
  EXPECT_EQ(rsv->map_count(), 0u);
}

}  // namespace
}  // namespace pmem2
