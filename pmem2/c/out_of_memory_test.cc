// Copyright 2026 The pmem2 Authors.
//
// Running out of memory through the C interfaces. Each entry point that allocates is called once per allocation
// it makes, that allocation failing (testing/failing_allocation.h): it returns -ENOMEM (libpmem: NULL or -1 with
// errno ENOMEM) with the message "out of memory", hands nothing out, and leaves no mapping and no descriptor
// behind (under ASan, LeakSanitizer checks the heap at exit); once memory is back, the same call succeeds.
// Before, std::bad_alloc crossed into the C caller's frames, where nothing can catch it: the program terminated.
// PMDK's libpmem2 returns -ENOMEM from its own allocations too.
//
// And the persist functions, which return void and so cannot report a failed allocation, allocate nothing when
// they record a failed persist: also in a thread's first persist.

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/map/page_persist_for_test.h"
#include "testing/failing_allocation.h"
#include "testing/temp_files.h"

namespace {

using pmem2::testing::FailNthAllocation;
using pmem2::testing::ScopedFd;
using pmem2::testing::ScopedTempDir;

constexpr int64_t kMostAllocations = 10000;  // of one call; more means the loop would not end

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
// The sanitizers' allocators and stack depots map memory as they go (a thrown exception is allocated): only the
// kinds of mapping pmem2 makes are counted then. Files, shared anonymous memory (/dev/zero), and reservations'
// placeholders (PROT_NONE, of this test's sizes; the sanitizers' own are far larger or a page).
constexpr bool kAllMappings = false;
#else
constexpr bool kAllMappings = true;
#endif

// What a failed call must not leave behind.
struct Holdings {
  int mappings = 0;
  int descriptors = 0;
};

Holdings CountHoldings() {
  Holdings holdings;
  if (FILE* maps = std::fopen("/proc/self/maps", "r"); maps != nullptr) {
    char line[4096];
    while (std::fgets(line, sizeof line, maps) != nullptr) {
      unsigned long begin = 0, end = 0;  // NOLINT(runtime/int): sscanf's %lx
      char permissions[8] = {};
      if (kAllMappings) {
        ++holdings.mappings;
      } else if (std::sscanf(line, "%lx-%lx %7s", &begin, &end, permissions) == 3) {
        const bool placeholder = std::strcmp(permissions, "---p") == 0 && end - begin >= (1ul << 20) &&
                                 end - begin <= (64ul << 20);
        if (placeholder || std::strstr(line, "/") != nullptr) ++holdings.mappings;
      }
    }
    std::fclose(maps);
  }
  holdings.descriptors = static_cast<int>(pmem2::testing::FolderEntries("/proc/self/fd").size());
  return holdings;
}

enum class Api { kLibpmem2, kLibpmem };

// Calls `call` (armed) once with nothing failing, then with its 1st, 2nd, ... allocation failing, until a call
// makes fewer allocations than the one chosen. `setup` and `cleanup` (unarmed) run around every call: cleanup gets
// the call's result and undoes what a success made. Returns how many allocations the call makes.
template <typename Setup, typename Call, typename Cleanup>
int64_t ExpectEachFailedAllocationIsOutOfMemory(Api api, const std::string& what, Setup setup, Call call,
                                                Cleanup cleanup) {
  setup();
  const int expected = call();  // also makes what the process makes once, at first use
  cleanup(expected);
  const Holdings before = CountHoldings();
  for (int64_t n = 1; n <= kMostAllocations; ++n) {
    setup();
    int ret = 0;
    bool failed = false;
    int64_t allocations = 0;
    {
      FailNthAllocation fail(n);
      ret = call();
      const int saved_errno = errno;
      fail.Disarm();
      failed = fail.failed();
      allocations = fail.allocations();
      errno = saved_errno;
    }
    if (failed) {
      if (api == Api::kLibpmem2) {
        EXPECT_EQ(ret, -ENOMEM) << what << ", allocation " << n << " failing: " << pmem2_errormsg();
        EXPECT_STREQ(pmem2_errormsg(), "out of memory") << what << ", allocation " << n;
      } else {
        EXPECT_EQ(ret, -ENOMEM) << what << ", allocation " << n << " failing: " << pmem_errormsg();
        EXPECT_STREQ(pmem_errormsg(), "out of memory") << what << ", allocation " << n;
      }
    } else {
      EXPECT_EQ(ret, expected) << what << " (" << allocations << " allocations, none failing)";
    }
    cleanup(ret);
    const Holdings after = CountHoldings();
    EXPECT_EQ(after.mappings, before.mappings) << what << ", allocation " << n << " failing";
    EXPECT_EQ(after.descriptors, before.descriptors) << what << ", allocation " << n << " failing";
    if (!failed || ::testing::Test::HasFailure()) {
      std::printf("%s: %lld allocations, each failed once\n", what.c_str(), static_cast<long long>(allocations));
      return allocations;
    }
  }
  ADD_FAILURE() << what << " made more than " << kMostAllocations << " allocations";
  return kMostAllocations;
}

// No setup, nothing to undo.
void Nothing() {}
void Keep(int) {}

class OutOfMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.Join("file");
    fd_ = pmem2::testing::CreateFile(path_, kFileSize, O_RDWR);
    ASSERT_EQ(pmem2_source_from_fd(&source_, fd_.get()), 0) << pmem2_errormsg();
    ASSERT_EQ(pmem2_config_new(&config_), 0);
    ASSERT_EQ(pmem2_config_set_required_store_granularity(config_, PMEM2_GRANULARITY_PAGE), 0);
  }
  void TearDown() override {
    pmem2_config_delete(&config_);
    pmem2_source_delete(&source_);
  }

  static constexpr size_t kFileSize = 1 << 20;
  ScopedTempDir dir_{"/dev/shm"};
  std::string path_;
  ScopedFd fd_;
  pmem2_source* source_ = nullptr;
  pmem2_config* config_ = nullptr;
};

TEST_F(OutOfMemoryTest, SourcesAndConfigs) {
  pmem2_source* source = nullptr;
  auto delete_source = [&](int) { pmem2_source_delete(&source); };
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_source_from_fd", Nothing,
                [&] { return pmem2_source_from_fd(&source, fd_.get()); }, delete_source),
            0);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_from_fd (a bad descriptor)", Nothing,
      [&] { return pmem2_source_from_fd(&source, 1 << 30); }, delete_source);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_from_anon", Nothing,
      [&] { return pmem2_source_from_anon(&source, kFileSize); }, delete_source);
  size_t size = 0;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_size", Nothing, [&] { return pmem2_source_size(source_, &size); }, Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_alignment", Nothing,
      [&] { return pmem2_source_alignment(source_, &size); }, Keep);

  pmem2_config* config = nullptr;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_config_new", Nothing, [&] { return pmem2_config_new(&config); },
      [&](int) { pmem2_config_delete(&config); });
  // Bad values: the message that names them is allocated.
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_config_set_required_store_granularity (a bad value)", Nothing,
                [&] {
                  return pmem2_config_set_required_store_granularity(config_, static_cast<pmem2_granularity>(7));
                },
                Keep),
            0);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_config_set_offset (a bad value)", Nothing,
      [&] { return pmem2_config_set_offset(config_, SIZE_MAX); }, Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_config_set_sharing (a bad value)", Nothing,
      [&] { return pmem2_config_set_sharing(config_, static_cast<pmem2_sharing_type>(9)); }, Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_config_set_protection (a bad value)", Nothing,
      [&] { return pmem2_config_set_protection(config_, 0x100); }, Keep);
  // A NULL argument's message is formatted in place.
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_map_new (NULL cfg)", Nothing,
                [&] {
                  pmem2_map* map = nullptr;
                  return pmem2_map_new(&map, nullptr, source_);
                },
                Keep),
            0);
}

TEST_F(OutOfMemoryTest, MapNewAndDelete) {
  pmem2_map* map = nullptr;
  auto delete_map = [&](int ret) {
    if (ret == 0) {
      EXPECT_EQ(pmem2_map_delete(&map), 0) << pmem2_errormsg();
    } else {
      EXPECT_EQ(map, nullptr);
    }
  };
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_map_new (a file)", Nothing,
                [&] { return pmem2_map_new(&map, config_, source_); }, delete_map),
            0);
  pmem2_source* anonymous = nullptr;
  ASSERT_EQ(pmem2_source_from_anon(&anonymous, kFileSize), 0);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_map_new (anonymous)", Nothing,
      [&] { return pmem2_map_new(&map, config_, anonymous); }, delete_map);
  pmem2_source_delete(&anonymous);

  // A delete allocates nothing: one that failed would leave the map mapped (the holdings' check) and its handle live.
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_map_delete",
      [&] { ASSERT_EQ(pmem2_map_new(&map, config_, source_), 0) << pmem2_errormsg(); },
      [&] { return pmem2_map_delete(&map); },
      [&](int ret) {
        if (ret != 0) {
          EXPECT_EQ(pmem2_map_delete(&map), 0) << pmem2_errormsg();
        }
      }),
      0);
}

TEST_F(OutOfMemoryTest, MapFromExistingLeavesTheCallersMappingAlone) {
  void* const address = mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  ASSERT_NE(address, MAP_FAILED);
  pmem2_map* map = nullptr;
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_map_from_existing", Nothing,
                [&] { return pmem2_map_from_existing(&map, source_, address, kFileSize, PMEM2_GRANULARITY_PAGE); },
                [&](int ret) {
                  if (ret == 0) {
                    EXPECT_EQ(pmem2_map_delete(&map), 0) << pmem2_errormsg();
                  } else {
                    EXPECT_EQ(map, nullptr);
                  }
                }),
            0);
  // Still the caller's, still mapped: written and read back.
  static_cast<volatile char*>(address)[0] = 'x';
  EXPECT_EQ(static_cast<volatile char*>(address)[0], 'x');
  EXPECT_EQ(munmap(address, kFileSize), 0);
}

TEST_F(OutOfMemoryTest, VmReservations) {
  pmem2_vm_reservation* reservation = nullptr;
  auto delete_reservation = [&](int) {
    if (reservation != nullptr) {
      EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();
    }
  };
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_vm_reservation_new", Nothing,
                [&] { return pmem2_vm_reservation_new(&reservation, nullptr, 4 * kFileSize); },
                delete_reservation),
            0);

  // At an address: a range reserved and released again, so that it is free.
  void* const at = mmap(nullptr, 4 * kFileSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(at, MAP_FAILED);
  ASSERT_EQ(munmap(at, 4 * kFileSize), 0);
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_vm_reservation_new (at an address)", Nothing,
                [&] { return pmem2_vm_reservation_new(&reservation, at, 4 * kFileSize); }, delete_reservation),
            0);

  ASSERT_EQ(pmem2_vm_reservation_new(&reservation, nullptr, 4 * kFileSize), 0) << pmem2_errormsg();
  ASSERT_EQ(pmem2_config_set_vm_reservation(config_, reservation, kFileSize), 0);
  pmem2_map* map = nullptr;
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_map_new (into a reservation)", Nothing,
                [&] { return pmem2_map_new(&map, config_, source_); },
                [&](int ret) {
                  if (ret == 0) {
                    EXPECT_EQ(pmem2_map_delete(&map), 0) << pmem2_errormsg();
                  }
                }),
            0);
  // A failed map_new must leave the reservation's range free: this one succeeds there.
  ASSERT_EQ(pmem2_map_new(&map, config_, source_), 0) << pmem2_errormsg();
  pmem2_map* found = nullptr;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_vm_reservation_map_find (a miss)", Nothing,
      [&] { return pmem2_vm_reservation_map_find(reservation, 0, 4096, &found); }, Keep);
  // A find that succeeds allocates nothing: memory running out cannot fail it.
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_vm_reservation_map_find (a hit)", Nothing,
                [&] { return pmem2_vm_reservation_map_find(reservation, kFileSize, 4096, &found); }, Keep),
            0);
  EXPECT_EQ(found, map);
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_vm_reservation_map_find_first", Nothing,
                [&] { return pmem2_vm_reservation_map_find_first(reservation, &found); }, Keep),
            0);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_vm_reservation_map_find_next (none)", Nothing,
      [&] { return pmem2_vm_reservation_map_find_next(reservation, map, &found); }, Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_vm_reservation_map_find_prev (none)", Nothing,
      [&] { return pmem2_vm_reservation_map_find_prev(reservation, map, &found); }, Keep);
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_vm_reservation_map_find_last", Nothing,
                [&] { return pmem2_vm_reservation_map_find_last(reservation, &found); }, Keep),
            0);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_vm_reservation_delete (not empty)", Nothing,
      [&] { return pmem2_vm_reservation_delete(&reservation); }, Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_vm_reservation_extend", Nothing,
      [&] { return pmem2_vm_reservation_extend(reservation, kFileSize); },
      [&](int ret) {
        if (ret == 0) {
          EXPECT_EQ(pmem2_vm_reservation_shrink(reservation, 4 * kFileSize, kFileSize), 0);
        }
      });
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_vm_reservation_shrink", Nothing,
      [&] { return pmem2_vm_reservation_shrink(reservation, 3 * kFileSize, kFileSize); },
      [&](int ret) {
        if (ret == 0) {
          EXPECT_EQ(pmem2_vm_reservation_extend(reservation, kFileSize), 0);
        }
      });
  // A delete allocates nothing, in a reservation too (the range goes back to its placeholder).
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_map_delete (in a reservation)",
                [&] {
                  if (map == nullptr) {
                    ASSERT_EQ(pmem2_map_new(&map, config_, source_), 0) << pmem2_errormsg();
                  }
                },
                [&] { return pmem2_map_delete(&map); }, Keep),
            0);
  EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();

  // Not empty for a map adopted over part of it (pmem2_map_from_existing): refused without allocating too, and the
  // handle stays live (an allocation there threw out of the delete with the handle still being retired).
  ASSERT_EQ(pmem2_vm_reservation_new(&reservation, nullptr, 4 * kFileSize), 0) << pmem2_errormsg();
  char* const part = static_cast<char*>(pmem2_vm_reservation_get_address(reservation));
  ASSERT_EQ(mmap(part, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd_.get(), 0), part);
  pmem2_map* adopted = nullptr;
  ASSERT_EQ(pmem2_map_from_existing(&adopted, source_, part, kFileSize, PMEM2_GRANULARITY_PAGE), 0) << pmem2_errormsg();
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_vm_reservation_delete (an adopted map in it)", Nothing,
                [&] { return pmem2_vm_reservation_delete(&reservation); }, Keep),
            0);
  EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), PMEM2_E_VM_RESERVATION_NOT_EMPTY);
  ASSERT_EQ(pmem2_map_delete(&adopted), 0) << pmem2_errormsg();
  ASSERT_EQ(munmap(part, kFileSize), 0);
  EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();
}

// A range reserved (new) or added (extend) over the stale record of an adopted map whose mapping the application
// unmapped: dropping the record allocates. A failure there left the range mapped for good: extend's added pages were
// never counted, so nothing unmapped them (every later extend: "already mapped"), and a new reservation's state, ended
// with the record still inside, took it for a live adopted map's and kept its pages mapped (found by review).
TEST_F(OutOfMemoryTest, AReservationOverAStaleRecordLeavesNoMappingWhenMemoryRunsOut) {
  pmem2_source* anonymous = nullptr;
  ASSERT_EQ(pmem2_source_from_anon(&anonymous, kFileSize), 0) << pmem2_errormsg();
  pmem2_map* adopted = nullptr;
  // A map adopted at `at`, then unmapped behind its back: its record stays, stale.
  const auto leave_a_stale_record_at = [&](void* at) {
    void* const got =
        mmap(at, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    ASSERT_EQ(got, at) << std::strerror(errno);
    ASSERT_EQ(pmem2_map_from_existing(&adopted, anonymous, at, kFileSize, PMEM2_GRANULARITY_BYTE), 0)
        << pmem2_errormsg();
    ASSERT_EQ(munmap(at, kFileSize), 0);
  };
  const auto delete_adopted = [&] {
    if (adopted != nullptr) {
      EXPECT_EQ(pmem2_map_delete(&adopted), 0) << pmem2_errormsg();
    }
  };

  void* const at = mmap(nullptr, 4 * kFileSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(at, MAP_FAILED);
  ASSERT_EQ(munmap(at, 4 * kFileSize), 0);
  pmem2_vm_reservation* reservation = nullptr;
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_vm_reservation_new (over a stale record)", [&] { leave_a_stale_record_at(at); },
                [&] { return pmem2_vm_reservation_new(&reservation, at, kFileSize); },
                [&](int ret) {
                  if (ret == 0) {
                    EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();
                  }
                  delete_adopted();
                }),
            0);

  ASSERT_EQ(pmem2_vm_reservation_new(&reservation, at, kFileSize), 0) << pmem2_errormsg();
  void* const after = static_cast<char*>(at) + kFileSize;
  EXPECT_GT(
      ExpectEachFailedAllocationIsOutOfMemory(
          Api::kLibpmem2, "pmem2_vm_reservation_extend (over a stale record)", [&] { leave_a_stale_record_at(after); },
          [&] { return pmem2_vm_reservation_extend(reservation, kFileSize); },
          [&](int ret) {
            if (ret == 0) {
              EXPECT_EQ(pmem2_vm_reservation_shrink(reservation, kFileSize, kFileSize), 0);
            }
            delete_adopted();
          }),
      0);
  EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();
  EXPECT_EQ(pmem2_source_delete(&anonymous), 0);
}

TEST_F(OutOfMemoryTest, ReliabilityFunctions) {
  char id[256];
  size_t length = sizeof id;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_device_id", Nothing,
      [&] {
        length = sizeof id;
        return pmem2_source_device_id(source_, id, &length);
      },
      Keep);
  uint64_t count = 0;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_device_usc", Nothing,
      [&] { return pmem2_source_device_usc(source_, &count); }, Keep);
  int node = 0;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_numa_node", Nothing,
      [&] { return pmem2_source_numa_node(source_, &node); }, Keep);
  pmem2_badblock_context* context = nullptr;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_badblock_context_new", Nothing,
      [&] { return pmem2_badblock_context_new(&context, source_); },
      [&](int) { pmem2_badblock_context_delete(&context); });
  ASSERT_EQ(pmem2_badblock_context_new(&context, source_), 0) << pmem2_errormsg();
  pmem2_badblock badblock = {};
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_badblock_next", Nothing, [&] { return pmem2_badblock_next(context, &badblock); }, Keep);
  badblock = {0, 4096};
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_badblock_clear", Nothing, [&] { return pmem2_badblock_clear(context, &badblock); },
      Keep);
  pmem2_badblock_context_delete(&context);
  char buffer[64] = {};
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_pwrite_mcsafe", Nothing,
      [&] { return pmem2_source_pwrite_mcsafe(source_, buffer, sizeof buffer, 0); }, Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_source_pread_mcsafe", Nothing,
      [&] { return pmem2_source_pread_mcsafe(source_, buffer, sizeof buffer, 0); }, Keep);
  pmem2_map* map = nullptr;
  ASSERT_EQ(pmem2_map_new(&map, config_, source_), 0) << pmem2_errormsg();
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_deep_flush", Nothing,
      [&] { return pmem2_deep_flush(map, pmem2_map_get_address(map), 4096); }, Keep);
  EXPECT_EQ(pmem2_map_delete(&map), 0);
}

TEST_F(OutOfMemoryTest, ADeleteOfAStaleHandleIsRefusedWithoutAllocating) {
  pmem2_map* map = nullptr;
  ASSERT_EQ(pmem2_map_new(&map, config_, source_), 0) << pmem2_errormsg();
  pmem2_map* const stale = map;
  ASSERT_EQ(pmem2_map_delete(&map), 0);
  pmem2_map* copy = stale;
  EXPECT_EQ(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem2, "pmem2_map_delete (a stale handle)", [&] { copy = stale; },
                [&] { return pmem2_map_delete(&copy); }, Keep),
            0);
  EXPECT_THAT(pmem2_errormsg(), ::testing::HasSubstr("is no live map"));
}

// Every page persist below fails with EIO.
int FailingMsync(void*, size_t, int) {
  errno = EIO;
  return -1;
}

TEST_F(OutOfMemoryTest, APersistFailureIsRecordedWithoutAllocatingAndItsErrorIsNotClearedForWantOfMemory) {
  pmem2_map* map = nullptr;
  ASSERT_EQ(pmem2_map_new(&map, config_, source_), 0) << pmem2_errormsg();
  ASSERT_EQ(pmem2_map_get_store_granularity(map), PMEM2_GRANULARITY_PAGE);
  char* const address = static_cast<char*>(pmem2_map_get_address(map));
  pmem2_persist_fn persist = pmem2_get_persist_fn(map);
  pmem2_memcpy_fn memcpy_fn = pmem2_get_memcpy_fn(map);
  const uint64_t mark = pmem2_map_get_persist_failure_mark(map);
  pmem2::map_internal::SetMsyncForTest(&FailingMsync);
  {
    FailNthAllocation fail(1);
    address[0] = 'a';
    persist(address, 1);
    fail.Disarm();
    EXPECT_FALSE(fail.failed()) << "recording the failure allocated";
  }
  // A thread's first persist: its sync slot comes from the pool.
  std::thread([&] {
    FailNthAllocation fail(1);
    memcpy_fn(address + 4096, "b", 1, 0);
    fail.Disarm();
    EXPECT_FALSE(fail.failed()) << "a thread's first persist allocated";
  }).join();
  pmem2::map_internal::SetMsyncForTest(nullptr);

  // Reading the error allocates its message; clearing it must not lose it when that fails.
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem2, "pmem2_map_get_persist_error", Nothing, [&] { return pmem2_map_get_persist_error(map); },
      Keep);
  EXPECT_EQ(pmem2_map_get_persist_error(map), -EIO);
  EXPECT_NE(std::strstr(pmem2_errormsg(), "1 later failure"), nullptr) << pmem2_errormsg();
  for (int64_t n = 1; n <= kMostAllocations; ++n) {
    FailNthAllocation fail(n);
    const int ret = pmem2_map_clear_persist_error(map);
    fail.Disarm();
    if (!fail.failed()) {
      EXPECT_EQ(ret, -EIO) << pmem2_errormsg();  // cleared now, and the error it cleared returned
      break;
    }
    ASSERT_EQ(ret, -ENOMEM) << pmem2_errormsg();
    ASSERT_EQ(pmem2_map_get_persist_error(map), -EIO) << "a clear that failed for want of memory cleared";
  }
  EXPECT_EQ(pmem2_map_get_persist_error(map), 0) << pmem2_errormsg();
  // Acknowledged, but not for a caller that took its mark before its failed persists (libpmem2.h).
  EXPECT_EQ(pmem2_map_get_persist_error_since(map, mark), -EIO) << pmem2_errormsg();
  EXPECT_EQ(pmem2_map_get_persist_error_since(map, pmem2_map_get_persist_failure_mark(map)), 0) << pmem2_errormsg();
  EXPECT_EQ(pmem2_map_delete(&map), 0);
}

bool ForkedWithoutOwnDescription() {
  return std::strstr(pmem2_errormsg(), "fork") != nullptr;
}

// fork() with each allocation of the forking thread failing in turn, with maps, a reservation holding one and a
// libpmem mapping in the parent: pmem2's fork handlers that allocate (the child's copy of the map registry, its
// re-mapping through descriptions of its own) do without, and the child goes on with working maps. An exception out of
// a fork handler ends the child in std::terminate: the registry's copy in the child once did, uncaught.
TEST_F(OutOfMemoryTest, EachFailedAllocationInForkHandlersLeavesTheChildWorking) {
  pmem2_map* map = nullptr;
  ASSERT_EQ(pmem2_map_new(&map, config_, source_), 0) << pmem2_errormsg();
  pmem2_vm_reservation* reservation = nullptr;
  ASSERT_EQ(pmem2_vm_reservation_new(&reservation, nullptr, 2 * kFileSize), 0) << pmem2_errormsg();
  pmem2_config* into = nullptr;
  ASSERT_EQ(pmem2_config_new(&into), 0);
  ASSERT_EQ(pmem2_config_set_required_store_granularity(into, PMEM2_GRANULARITY_PAGE), 0);
  ASSERT_EQ(pmem2_config_set_vm_reservation(into, reservation, kFileSize), 0);
  pmem2_map* reserved = nullptr;
  ASSERT_EQ(pmem2_map_new(&reserved, into, source_), 0) << pmem2_errormsg();
  size_t libpmem_length = 0;
  void* const libpmem_map =
      pmem_map_file(dir_.Join("libpmem").c_str(), kFileSize, PMEM_FILE_CREATE, 0600, &libpmem_length, nullptr);
  ASSERT_NE(libpmem_map, nullptr) << pmem_errormsg();

  int64_t n = 1;
  for (; n <= kMostAllocations; ++n) {
    bool failed = false;
    pid_t child = -1;
    {
      FailNthAllocation fail(n);
      child = fork();
      if (child == 0) {
        // The child: only what a plain C program would do next, with memory back.
        const bool failed_in_child = fail.failed();
        fail.Disarm();
        for (pmem2_map* m : {map, reserved}) {
          char* const address = static_cast<char*>(pmem2_map_get_address(m));
          address[0] = 'c';
          pmem2_get_persist_fn(m)(address, 1);
          // Without memory for a description of its own, a child's map reports so for good (not vouched for).
          if (pmem2_map_get_persist_error(m) != 0 && (!failed_in_child || !ForkedWithoutOwnDescription())) {
            _exit(1);
          }
        }
        static_cast<char*>(libpmem_map)[0] = 'c';
        // The libpmem mapping too (its child opens the file by its path): an error only for want of memory, for good.
        if (pmem_msync(libpmem_map, 1) != 0) {
          if (!failed_in_child || errno != ENOMEM || std::strstr(pmem_errormsg(), "fork") == nullptr) _exit(2);
          if (pmem_msync(libpmem_map, 1) == 0) _exit(3);
        }
        _exit(failed_in_child ? 10 : 11);
      }
      fail.Disarm();
      failed = fail.failed();
    }
    ASSERT_GT(child, 0) << strerror(errno);
    ASSERT_FALSE(failed) << "an allocation in the parent's fork handlers";
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "allocation " << n << " failing: the child died of signal " << WTERMSIG(status);
    ASSERT_TRUE(WEXITSTATUS(status) == 10 || WEXITSTATUS(status) == 11)
        << "allocation " << n << " failing: the child's maps do not work (" << WEXITSTATUS(status) << ")";
    if (WEXITSTATUS(status) == 11) break;  // fewer allocations than n
  }
  if (n > kMostAllocations) ADD_FAILURE() << "fork made more than " << kMostAllocations << " allocations";
  std::printf("fork: %lld allocations in the child's handlers, each failed once\n", static_cast<long long>(n - 1));
  EXPECT_GT(n, 1) << "the child's handlers allocated nothing: the test reached no failure";
  EXPECT_EQ(pmem_unmap(libpmem_map, libpmem_length), 0);
  EXPECT_EQ(pmem2_map_delete(&reserved), 0);
  pmem2_config_delete(&into);
  EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();
  EXPECT_EQ(pmem2_map_delete(&map), 0);
}

TEST_F(OutOfMemoryTest, Libpmem) {
  const std::string path = dir_.Join("libpmem");
  void* address = nullptr;
  size_t mapped = 0;
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem, "pmem_map_file", Nothing,
                [&] {
                  address = pmem_map_file(path.c_str(), kFileSize, PMEM_FILE_CREATE, 0600, &mapped, nullptr);
                  return address != nullptr ? 0 : -errno;
                },
                [&](int ret) {
                  if (ret == 0) {
                    EXPECT_EQ(pmem_unmap(address, mapped), 0) << pmem_errormsg();
                    EXPECT_EQ(unlink(path.c_str()), 0);
                  } else {
                    EXPECT_NE(access(path.c_str(), F_OK), 0) << "a failed pmem_map_file left the file it created";
                  }
                }),
            0);
  // An existing file that PMEM_FILE_CREATE grows is never cut back when the call fails, also for want of memory
  // (after the growth: in the Map's creation, in the table of pmem_map_file's mappings): another process may have
  // mapped the grown file and written past the old end meanwhile (libpmem.h). It is left at its old size or at
  // `len`, nothing else.
  const std::string existing = dir_.Join("existing");
  EXPECT_GT(ExpectEachFailedAllocationIsOutOfMemory(
                Api::kLibpmem, "pmem_map_file (an existing file grown)",
                [&] { pmem2::testing::CreateFile(existing, kFileSize / 2, O_RDWR); },
                [&] {
                  address = pmem_map_file(existing.c_str(), kFileSize, PMEM_FILE_CREATE, 0600, &mapped, nullptr);
                  return address != nullptr ? 0 : -errno;
                },
                [&](int ret) {
                  struct stat st {};
                  EXPECT_EQ(stat(existing.c_str(), &st), 0);
                  if (ret == 0) {
                    EXPECT_EQ(st.st_size, static_cast<off_t>(kFileSize));
                    EXPECT_EQ(pmem_unmap(address, mapped), 0) << pmem_errormsg();
                  } else {
                    EXPECT_TRUE(st.st_size == static_cast<off_t>(kFileSize / 2) ||
                                st.st_size == static_cast<off_t>(kFileSize))
                        << "a failed pmem_map_file left the file at " << st.st_size << " bytes";
                  }
                  EXPECT_EQ(unlink(existing.c_str()), 0);
                }),
            0);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem, "pmem_unmap",
      [&] {
        address = pmem_map_file(path.c_str(), kFileSize, PMEM_FILE_CREATE, 0600, &mapped, nullptr);
        ASSERT_NE(address, nullptr) << pmem_errormsg();
      },
      [&] { return pmem_unmap(address, mapped) == 0 ? 0 : -errno; },
      [&](int ret) {
        if (ret != 0) {
          EXPECT_EQ(pmem_unmap(address, mapped), 0) << pmem_errormsg();
        }
      });
  // A range that covers a pmem_map_file mapping and other memory (an anonymous page right after it): the other
  // memory is unmapped first, so every allocation that may fail must come before (a failure after it would report
  // ENOMEM with part of the range gone). A failed call leaves both in place.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* after = nullptr;
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem, "pmem_unmap (a mapping and the page after it)",
      [&] {
        address = pmem_map_file(path.c_str(), kFileSize, PMEM_FILE_CREATE, 0600, &mapped, nullptr);
        ASSERT_NE(address, nullptr) << pmem_errormsg();
        after = static_cast<char*>(address) + mapped;
        ASSERT_EQ(mmap(after, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0),
                  after)
            << "the page after the mapping is taken";
      },
      [&] { return pmem_unmap(address, mapped + page) == 0 ? 0 : -errno; },
      [&](int ret) {
        const bool page_mapped = msync(after, page, MS_ASYNC) == 0;
        if (ret == 0) {
          EXPECT_FALSE(page_mapped) << "pmem_unmap succeeded but left the page after the mapping";
          return;
        }
        EXPECT_TRUE(page_mapped) << "pmem_unmap failed (" << ret << ") but unmapped the page after the mapping";
        EXPECT_EQ(pmem_unmap(address, mapped), 0) << "the pmem_map_file mapping is still whole: " << pmem_errormsg();
        if (page_mapped) {
          EXPECT_EQ(munmap(after, page), 0);
        }
      });
  address = pmem_map_file(path.c_str(), kFileSize, PMEM_FILE_CREATE, 0600, &mapped, nullptr);
  ASSERT_NE(address, nullptr) << pmem_errormsg();
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem, "pmem_msync", Nothing, [&] { return pmem_msync(address, 4096) == 0 ? 0 : -errno; }, Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem, "pmem_deep_drain", Nothing, [&] { return pmem_deep_drain(address, 4096) == 0 ? 0 : -errno; },
      Keep);
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem, "pmem_deep_persist", Nothing,
      [&] { return pmem_deep_persist(address, 4096) == 0 ? 0 : -errno; }, Keep);
  // A page nothing maps: above 47 bits, where mmap places nothing unless asked (and nothing here asks), so no
  // allocation of the loop can map it meanwhile.
  void* const hole = reinterpret_cast<void*>(uintptr_t{0x900000000000});
  ExpectEachFailedAllocationIsOutOfMemory(
      Api::kLibpmem, "pmem_msync (unmapped memory)", Nothing,
      [&] { return pmem_msync(hole, 4096) == 0 ? 0 : -errno; }, Keep);
  EXPECT_EQ(pmem_unmap(address, mapped), 0);
  EXPECT_NE(pmem_check_version(PMEM_MAJOR_VERSION + 1, 0), nullptr);
}

}  // namespace
