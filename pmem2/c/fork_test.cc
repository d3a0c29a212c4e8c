// Copyright 2026 The pmem2 Authors.
//
// The C libraries in the child of a multithreaded process: fork() copies only the calling thread, so a table lock
// that another thread held at that moment would stay locked in the child, and the child's first pmem2_map_delete
// or pmem_unmap would hang. A forking server's snapshot child does call them. Threads here take the tables'
// locks over and over (calls that fail without side effects: a delete of a handle that is not live, an unmap of
// length 0, a lookup in a reservation) while the test forks; every child must release what it inherited, map
// anew, and exit. The locks exercised: libpmem2's handle set, libpmem's mapping table, the reservations'.
//
// Negative controls, measured once: without the fork handlers (pmem2/internal/fork_safe_mutex.h), the libpmem2
// and libpmem cases had a child hang by the 18th fork in each of five runs (at the first fork at the earliest);
// with the reader/writer lock each reservation had before, the reservation case hung at the first or second fork
// in each of three runs. The deterministic control is in fork_safe_mutex_test.cc. Beside the fork after another
// thread's delete released its map's range, the same window without a fork (another thread maps there).

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "pmem2/c/libpmem2.h"
#include "pmem2/map/map.h"
#include "testing/child_process.h"
#include "testing/proc_maps.h"
#include "testing/reservation_step_pause.h"
#include "testing/temp_files.h"

namespace {

constexpr int kForks = 60;  // the controls (above) hung by the 18th
constexpr size_t kSize = 1 << 20;

// Runs `child` in kForks children while `threads` threads run `busy` in a loop. Stops at the first child that
// does not exit 0 (a hang costs the timeout).
//
// Under AddressSanitizer the threads are held outside `busy` at each fork: GCC 12's runtime (libasan.so.8) does not
// intercept fork() to lock its allocator, so a child forked while another thread was inside it waits for ever at its
// first allocation (seen in CI: "fork 35 of 60: child timed out"). There the children test the library's fork
// handlers with the threads alive but idle; the plain, tsan and clang builds fork while they are inside the library.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kHoldThreadsAtFork = true;
#else
constexpr bool kHoldThreadsAtFork = false;
#endif

template <typename Busy, typename Child>
void ForkWhileBusy(int threads, Busy busy, Child child) {
  std::atomic<bool> stop{false};
  std::atomic<bool> hold{false};
  std::atomic<int> inside{0};
  std::vector<std::thread> running;
  for (int i = 0; i < threads; ++i) {
    running.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (!kHoldThreadsAtFork) {
          busy();
          continue;
        }
        inside.fetch_add(1);
        if (!hold.load()) busy();
        inside.fetch_sub(1);
        while (hold.load() && !stop.load(std::memory_order_relaxed)) std::this_thread::yield();
      }
    });
  }
  pmem2::testing::ChildOptions options;
  options.timeout = absl::Seconds(20);
  for (int i = 0; i < kForks; ++i) {
    if (kHoldThreadsAtFork) {
      hold = true;
      while (inside.load() != 0) std::this_thread::yield();
    }
    // The child allocates (error messages, new mappings): glibc's malloc is ready for that after fork().
    const pmem2::testing::ChildResult result = pmem2::testing::RunInChild([&](int) { return child(); }, options);
    hold = false;
    if (!result.exited || result.exit_code != 0) {
      ADD_FAILURE() << "fork " << i << " of " << kForks << ": " << result.Describe();
      break;
    }
  }
  stop = true;
  for (std::thread& t : running) t.join();
}

// An application's fork handler, registered after the libraries loaded, runs its prepare before theirs (glibc:
// newest first), so it may still call them: the libraries register theirs when they load. A guard, not a
// negative control: with handlers registered at the first ForkSafeMutex instead, this binary passes too (the
// copy-function selection makes one while the program loads); a review reproduced the hang that way in a small
// program of its own, with the first pmem2 call after the application's pthread_atfork().
std::atomic<bool> call_in_prepare{false};
void CallTheLibrariesInPrepare() {
  if (!call_in_prepare.load()) return;
  pmem2_map* not_live = reinterpret_cast<pmem2_map*>(&not_live);
  pmem2_map_delete(&not_live);
  char spare = 0;
  pmem_unmap(&spare, 0);
}

TEST(ForkTest, AnApplicationsForkHandlerMayCallTheLibraries) {
  // In a child of its own, as the handler stays registered and a hang would hang the process that forks.
  const pmem2::testing::ChildResult result = pmem2::testing::RunInChild([](int) {
    if (pthread_atfork(&CallTheLibrariesInPrepare, nullptr, nullptr) != 0) return 2;
    call_in_prepare = true;
    const pid_t grandchild = fork();
    if (grandchild < 0) return 3;
    if (grandchild == 0) _exit(0);
    int status = 0;
    if (waitpid(grandchild, &status, 0) != grandchild || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 4;
    return 0;
  });
  EXPECT_TRUE(result.exited && result.exit_code == 0) << result.Describe();
}

TEST(ForkTest, Libpmem2ChildDeletesItsMapsAndMapsAgainWhileOtherThreadsUseTheLibrary) {
  pmem2_source* source = nullptr;
  ASSERT_EQ(pmem2_source_from_anon(&source, kSize), 0) << pmem2_errormsg();
  pmem2_config* config = nullptr;
  ASSERT_EQ(pmem2_config_new(&config), 0);
  ASSERT_EQ(pmem2_config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE), 0);
  pmem2_map* inherited = nullptr;
  ASSERT_EQ(pmem2_map_new(&inherited, config, source), 0) << pmem2_errormsg();
  pmem2_map* not_live = reinterpret_cast<pmem2_map*>(&not_live);  // never a handle: the set's lookup fails

  ForkWhileBusy(
      2,
      [&] {
        pmem2_map* copy = not_live;
        pmem2_map_delete(&copy);  // PMEM2_E_MAPPING_NOT_FOUND, after the table's lock
      },
      [&] {
        pmem2_map* mine = inherited;
        if (pmem2_map_delete(&mine) != 0) return 2;
        pmem2_map* fresh = nullptr;
        if (pmem2_map_new(&fresh, config, source) != 0) return 3;
        if (pmem2_map_delete(&fresh) != 0) return 4;
        return 0;
      });

  EXPECT_EQ(pmem2_map_delete(&inherited), 0) << "the parent's map is the parent's";
  pmem2_config_delete(&config);
  pmem2_source_delete(&source);
}

// The same for a reservation: threads look Maps up in it while the test forks; the child deletes the Map it
// inherited there and places a new one. With the reader/writer lock each reservation had before, a child hung at
// the first or second fork in each of three runs.
// A reservation of 4 x kSize with a page-granularity Map of an anonymous source at its start.
class ForkReservationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(pmem2_vm_reservation_new(&reservation_, nullptr, 4 * kSize), 0) << pmem2_errormsg();
    ASSERT_EQ(pmem2_source_from_anon(&source_, kSize), 0) << pmem2_errormsg();
    ASSERT_EQ(pmem2_config_new(&config_), 0);
    ASSERT_EQ(pmem2_config_set_required_store_granularity(config_, PMEM2_GRANULARITY_PAGE), 0);
    ASSERT_EQ(pmem2_config_set_vm_reservation(config_, reservation_, 0), 0) << pmem2_errormsg();
    ASSERT_EQ(pmem2_map_new(&map_, config_, source_), 0) << pmem2_errormsg();
  }
  void TearDown() override {
    if (map_ != nullptr) {
      EXPECT_EQ(pmem2_map_delete(&map_), 0) << pmem2_errormsg();
    }
    if (reservation_ != nullptr) {
      EXPECT_EQ(pmem2_vm_reservation_delete(&reservation_), 0) << pmem2_errormsg();
    }
    if (config_ != nullptr) pmem2_config_delete(&config_);
    if (source_ != nullptr) pmem2_source_delete(&source_);
  }

  pmem2_vm_reservation* reservation_ = nullptr;
  pmem2_source* source_ = nullptr;
  pmem2_config* config_ = nullptr;
  pmem2_map* map_ = nullptr;
};

TEST_F(ForkReservationTest, Libpmem2ChildMapsIntoAReservationWhileOtherThreadsSearchIt) {
  ForkWhileBusy(
      2,
      [&] {
        pmem2_map* found = nullptr;
        pmem2_vm_reservation_map_find(reservation_, 0, 4 * kSize, &found);
      },
      [&] {
        pmem2_map* mine = map_;
        if (pmem2_map_delete(&mine) != 0) return 2;
        if (pmem2_config_set_vm_reservation(config_, reservation_, 2 * kSize) != 0) return 3;
        pmem2_map* fresh = nullptr;
        if (pmem2_map_new(&fresh, config_, source_) != 0) return 4;
        if (pmem2_map_delete(&fresh) != 0) return 5;
        return 0;
      });
}

// A child forked while another thread deletes a Map of a reservation: the Map leaves the reservation's lookups
// before its handle is forgotten, and in the child the handle is live again, so the child may delete it and never
// finds a Map whose handle it could not delete (negative control: with the handle forgotten first, the child's
// delete of its copy failed with PMEM2_E_MAPPING_NOT_FOUND).
TEST_F(ForkReservationTest, Libpmem2ChildForkedDuringAnotherThreadsDeleteMayDeleteTheHandleAndFindsNoMap) {
  pmem2_map* const handle = std::exchange(map_, nullptr);
  pmem2::testing::ScopedStepPause deleting(pmem2::testing::ScopedStepPause::Step::kReleaseBegun, [handle] {
    pmem2_map* doomed = handle;
    EXPECT_EQ(pmem2_map_delete(&doomed), 0) << pmem2_errormsg();
  });
  ASSERT_TRUE(deleting.WaitUntilReached());
  pmem2::testing::ChildOptions options;
  options.timeout = absl::Seconds(20);
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild(
      [&](int out) {
        std::string problems;
        pmem2_map* found = nullptr;
        const int find = pmem2_vm_reservation_map_find(reservation_, 0, 4 * kSize, &found);
        if (find != PMEM2_E_MAPPING_NOT_FOUND) {
          problems += "pmem2_vm_reservation_map_find returned " + std::to_string(find) + "\n";
        }
        pmem2_map* mine = handle;
        if (pmem2_map_delete(&mine) != 0) problems += std::string("deleting its handle: ") + pmem2_errormsg() + "\n";
        pmem2_map* fresh = nullptr;
        if (pmem2_config_set_vm_reservation(config_, reservation_, 2 * kSize) != 0 ||
            pmem2_map_new(&fresh, config_, source_) != 0 || pmem2_map_delete(&fresh) != 0) {
          problems += std::string("a Map elsewhere in the reservation: ") + pmem2_errormsg() + "\n";
        }
        pmem2::testing::WriteToParent(out, problems);
        return problems.empty() ? 0 : 1;
      },
      options);
  deleting.Finish();
  EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
}

// For a map `placed` at the start of `reservation` (offset 0 of `config`, which maps `source`) while the handle of
// another, deleted map there was still live: "" if the reservation finds it, refuses to be deleted under it, and its
// delete puts the placeholder back and frees the range for the next map; else what went wrong. Deletes `placed`.
std::string CheckMapKeptItsClaim(pmem2_vm_reservation* reservation, pmem2_map* placed, pmem2_config* config,
                                 pmem2_source* source) {
  std::string problems;
  void* const address = pmem2_map_get_address(placed);
  pmem2_map* found = nullptr;
  if (pmem2_vm_reservation_map_find(reservation, 0, 1, &found) != 0 || found != placed) {
    problems += std::string("the reservation does not find the map placed there: ") + pmem2_errormsg() + "\n";
  }
  pmem2_vm_reservation* copy = reservation;
  if (const int deleted = pmem2_vm_reservation_delete(&copy); deleted != PMEM2_E_VM_RESERVATION_NOT_EMPTY) {
    problems += "deleting the reservation under the map returned " + std::to_string(deleted) + "\n";
  }
  if (pmem2_map_delete(&placed) != 0) problems += std::string("deleting the map: ") + pmem2_errormsg() + "\n";
  if (const std::string protection = pmem2::testing::ProtectionAt(address); protection != "---p") {
    problems += "after the map's delete its page is \"" + protection + "\", not the reservation's placeholder\n";
  }
  pmem2_map* next = nullptr;
  if (pmem2_map_new(&next, config, source) != 0) {
    problems += std::string("the range is not free for the next map: ") + pmem2_errormsg() + "\n";
  } else if (pmem2_map_delete(&next) != 0) {
    problems += std::string("deleting the next map: ") + pmem2_errormsg() + "\n";
  }
  return problems;
}

// Pauses the thread whose pmem2_map_delete() has released its map's range, before it forgets the handle.
std::atomic<bool> released_paused{false};
std::atomic<bool> released_resume{false};
void PauseAfterRelease() {
  released_paused = true;
  while (!released_resume.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// Deletes `map` on a thread of its own, which pauses once the delete has released the range (released_paused, up to
// 10 s waited for here) until released_resume is set; the caller then joins it.
std::thread DeleteOnAThreadPausedAfterRelease(pmem2_map* map) {
  released_paused = false;
  released_resume = false;
  pmem2::map_internal::SetAfterReleaseForCApiForTest(&PauseAfterRelease);
  std::thread deleting([map] {
    pmem2_map* doomed = map;
    EXPECT_EQ(pmem2_map_delete(&doomed), 0) << pmem2_errormsg();
  });
  for (int waited = 0; waited < 10000 && !released_paused.load(); ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  pmem2::map_internal::SetAfterReleaseForCApiForTest(nullptr);
  return deleting;
}

// A child forked after another thread's pmem2_map_delete() released the map's range and before it forgot the handle:
// the handle is live again in the child (live_handles.h) and its map whole, but the range is no longer the map's (the
// child may map its own memory there), so the child's delete releases nothing, as the map's record says (a released
// record; negative control without a reservation: released again, the child's own page was unmapped). Without a
// reservation and in one, where the child places a map of its own there with pmem2_map_new: the inherited handle's
// delete must leave that map's claim alone (with it taken over, the new map was not found in the reservation, and its
// delete returned 0 with its page still mapped).
TEST(ForkTest, Libpmem2ChildForkedAfterAnotherThreadsDeleteReleasedTheRangeLeavesItAlone) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (const bool in_reservation : {false, true}) {
    SCOPED_TRACE(in_reservation ? "in a reservation" : "no reservation");
    pmem2_source* source = nullptr;
    pmem2_config* config = nullptr;
    pmem2_vm_reservation* reservation = nullptr;
    pmem2_map* map = nullptr;
    ASSERT_EQ(pmem2_source_from_anon(&source, 4 * page), 0) << pmem2_errormsg();
    ASSERT_EQ(pmem2_config_new(&config), 0);
    ASSERT_EQ(pmem2_config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE), 0);
    if (in_reservation) {
      ASSERT_EQ(pmem2_vm_reservation_new(&reservation, nullptr, 4 * page), 0) << pmem2_errormsg();
      ASSERT_EQ(pmem2_config_set_vm_reservation(config, reservation, 0), 0) << pmem2_errormsg();
    }
    ASSERT_EQ(pmem2_map_new(&map, config, source), 0) << pmem2_errormsg();
    char* const address = static_cast<char*>(pmem2_map_get_address(map));
    std::thread deleting = DeleteOnAThreadPausedAfterRelease(map);
    if (!released_paused.load()) {
      released_resume = true;
      deleting.join();
      FAIL() << "the delete never released the range";
    }
    pmem2::testing::ChildOptions options;
    options.timeout = absl::Seconds(20);
    const pmem2::testing::ChildResult child = pmem2::testing::RunInChild(
        [&](int out) {
          std::string problems;
          // The child's own page where the map was: in a reservation a map of its own, else a page of its own (a
          // reservation's placeholder is there: replaced).
          pmem2_map* own_map = nullptr;
          if (in_reservation) {
            if (pmem2_map_new(&own_map, config, source) != 0 || pmem2_map_get_address(own_map) != address) {
              problems += std::string("cannot place the child's map there: ") + pmem2_errormsg() + "\n";
            }
          } else if (mmap(address, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
                     address) {
            problems += "cannot map the child's page there\n";
          }
          if (!problems.empty()) {
            pmem2::testing::WriteToParent(out, problems);
            return 1;
          }
          address[0] = 'c';
          pmem2_map* mine = map;
          if (pmem2_map_delete(&mine) != 0) problems += std::string("deleting its handle: ") + pmem2_errormsg() + "\n";
          unsigned char resident;
          if (mincore(address, page, &resident) != 0 || address[0] != 'c') {
            problems += "the delete released the child's page\n";
          }
          if (in_reservation) problems += CheckMapKeptItsClaim(reservation, own_map, config, source);
          pmem2::testing::WriteToParent(out, problems);
          return problems.empty() ? 0 : 1;
        },
        options);
    released_resume = true;
    deleting.join();
    EXPECT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
    if (reservation != nullptr) {
      EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();
    }
    pmem2_config_delete(&config);
    pmem2_source_delete(&source);
  }
}

// The same window without a fork: another thread places a map in the range a delete has just released, before the
// delete forgets its handle. The delete's end must leave the new map's claim alone (it took it over: the new map was
// not found, the reservation's delete refused with the wrong error, and the map's delete left its page mapped).
TEST(ForkTest, Libpmem2MapPlacedWhereAnotherThreadsDeleteReleasedTheRangeKeepsItsClaim) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  pmem2_source* source = nullptr;
  pmem2_config* config = nullptr;
  pmem2_vm_reservation* reservation = nullptr;
  pmem2_map* map = nullptr;
  ASSERT_EQ(pmem2_source_from_anon(&source, page), 0) << pmem2_errormsg();
  ASSERT_EQ(pmem2_config_new(&config), 0);
  ASSERT_EQ(pmem2_config_set_required_store_granularity(config, PMEM2_GRANULARITY_PAGE), 0);
  ASSERT_EQ(pmem2_vm_reservation_new(&reservation, nullptr, 4 * page), 0) << pmem2_errormsg();
  ASSERT_EQ(pmem2_config_set_vm_reservation(config, reservation, 0), 0) << pmem2_errormsg();
  ASSERT_EQ(pmem2_map_new(&map, config, source), 0) << pmem2_errormsg();
  void* const address = pmem2_map_get_address(map);
  std::thread deleting = DeleteOnAThreadPausedAfterRelease(map);
  pmem2_map* placed = nullptr;
  const int placed_result = released_paused.load() ? pmem2_map_new(&placed, config, source) : -1;
  const std::string placed_message = pmem2_errormsg();
  released_resume = true;
  deleting.join();
  ASSERT_EQ(placed_result, 0) << (released_paused.load() ? placed_message : "the delete never released the range");
  ASSERT_EQ(pmem2_map_get_address(placed), address);
  static_cast<char*>(address)[0] = 'p';
  EXPECT_EQ(CheckMapKeptItsClaim(reservation, placed, config, source), "");
  EXPECT_EQ(pmem2_vm_reservation_delete(&reservation), 0) << pmem2_errormsg();
  pmem2_config_delete(&config);
  pmem2_source_delete(&source);
}

TEST(ForkTest, LibpmemChildUnmapsItsMappingsAndMapsAgainWhileOtherThreadsUseTheLibrary) {
  pmem2::testing::ScopedTempDir dir("/dev/shm");
  const std::string path = dir.Join("file");
  const std::string child_path = dir.Join("child");
  size_t mapped = 0;
  void* inherited = pmem_map_file(path.c_str(), kSize, PMEM_FILE_CREATE, 0600, &mapped, nullptr);
  ASSERT_NE(inherited, nullptr) << pmem_errormsg();
  char spare = 0;

  ForkWhileBusy(
      2,
      [&] {
        pmem_unmap(&spare, 0);  // EINVAL from munmap, after the table's lock
      },
      [&] {
        if (pmem_unmap(inherited, mapped) != 0) return 2;
        size_t length = 0;
        void* fresh = pmem_map_file(child_path.c_str(), kSize, PMEM_FILE_CREATE, 0600, &length, nullptr);
        if (fresh == nullptr) return 3;
        pmem_persist(fresh, 1);
        if (pmem_unmap(fresh, length) != 0) return 4;
        return 0;
      });

  EXPECT_EQ(pmem_unmap(inherited, mapped), 0) << "the parent's mapping is the parent's";
}

}  // namespace
