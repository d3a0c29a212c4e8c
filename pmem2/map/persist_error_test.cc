// Copyright 2026 The pmem2 Authors.
//
// Page-granularity persistence and the error contract (map.h): every failed msync is recorded on its Map and on
// every Map of the same file, stays until acknowledged, and is returned by every Status method and
// PersistErrorAt(), whichever thread or function pointer hit it. msync is replaced through the test seam to
// inject EIO, ENOSPC, EDQUOT and EINTR; persistence_failure_test.cc makes a real file system fail.

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/optional.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/map/map.h"
#include "pmem2/map/map_registry.h"
#include "pmem2/map/page_persist_for_test.h"
#include "pmem2/map/raw_memory.h"
#include "pmem2/vm_reservation/vm_reservation.h"
#include "testing/child_process.h"
#include "testing/proc_maps.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ProtectionAt;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::testing::HasSubstr;
using ::testing::Not;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

absl::StatusOr<Map> MapFd(int fd, StoreGranularity required = StoreGranularity::kPage) {
  Config config;
  config.set_required_store_granularity(required);
  absl::StatusOr<Source> source = Source::FromFd(fd);
  if (!source.ok()) return source.status();
  return Map::Create(config, *source);
}

// Records the msync calls page-granularity persistence makes, and fails them as told.
class RecordingMsync {
 public:
  struct Call {
    uintptr_t address;
    size_t length;
    int flags;
  };
  RecordingMsync() {
    current_ = this;
    map_internal::SetMsyncForTest(&Record);
  }
  ~RecordingMsync() {
    map_internal::SetMsyncForTest(nullptr);
    current_ = nullptr;
  }
  // The next calls fail with these errno values, in order; later calls succeed.
  void FailWith(std::vector<int> errors) { errors_ = std::move(errors); }
  std::vector<Call> Take() { return std::exchange(calls_, {}); }

 private:
  static int Record(void* address, size_t length, int flags) {
    RecordingMsync* self = current_;
    self->calls_.push_back({reinterpret_cast<uintptr_t>(address), length, flags});
    if (!self->errors_.empty()) {
      errno = self->errors_.front();
      self->errors_.erase(self->errors_.begin());
      return -1;
    }
    return 0;
  }
  static RecordingMsync* current_;
  std::vector<Call> calls_;
  std::vector<int> errors_;
};
RecordingMsync* RecordingMsync::current_ = nullptr;

// A 16-page file on tmpfs: page granularity without forcing anything.
class PagePersistenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(map_.ok()) << map_.status();
    ASSERT_EQ(map_->store_granularity(), StoreGranularity::kPage);
    base_ = reinterpret_cast<uintptr_t>(map_->address());
  }
  char* at(size_t offset) { return reinterpret_cast<char*>(base_ + offset); }

  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{"/dev/shm"};
  ScopedFd fd_ = CreateFile(dir_.Join("f"), 16 * kPage, O_RDWR);
  absl::StatusOr<Map> map_ = MapFd(fd_.get());
  uintptr_t base_ = 0;
  RecordingMsync msync_;
};

TEST_F(PagePersistenceTest, PersistSyncsFromThePageStartToTheRangeEnd) {
  map_->persist_fn()(at(kPage + 100), 5000);
  std::vector<RecordingMsync::Call> calls = msync_.Take();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].address, base_ + kPage);
  EXPECT_EQ(calls[0].length, 100u + 5000u);
  EXPECT_EQ(calls[0].flags, MS_SYNC);
  map_->flush_fn()(at(3 * kPage), 1);
  calls = msync_.Take();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].address, base_ + 3 * kPage);
  EXPECT_EQ(calls[0].length, 1u);
  map_->drain_fn()();
  map_->persist_fn()(at(5), 0);
  EXPECT_TRUE(msync_.Take().empty()) << "drain and empty persists sync nothing";
}

// The persist function syncs the pages it is given, whichever mapping of the file they are in. libpmem2 1.12.1's
// page-granularity persist_fn makes no system call at all for an address outside its own maps (strace: msync of
// its own mapping's page, nothing for a second mmap of the same file) and returns as if the bytes were durable;
// so tools/bench's columns share libpmem2's page mapping, never pmem2's (on pmem2's, libpmem2's page rows came
// out 5-17x "faster" on the AMD 26/2 guest).
TEST_F(PagePersistenceTest, APersistThroughAnotherMappingOfTheFileSyncsItsPages) {
  void* other = mmap(nullptr, 16 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  ASSERT_NE(other, MAP_FAILED);
  const uintptr_t other_base = reinterpret_cast<uintptr_t>(other);
  char* p = reinterpret_cast<char*>(other_base + 2 * kPage + 200);
  *p = 7;
  map_->persist_fn()(p, 1);
  std::vector<RecordingMsync::Call> calls = msync_.Take();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].address, other_base + 2 * kPage);
  EXPECT_EQ(calls[0].length, 201u);
  EXPECT_EQ(calls[0].flags, MS_SYNC);
  map_->memcpy_fn()(p, "abc", 3, 0);
  calls = msync_.Take();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].address, other_base + 2 * kPage);
  EXPECT_EQ(at(2 * kPage + 200)[2], 'c') << "the same file's pages";
  ASSERT_EQ(munmap(other, 16 * kPage), 0);
}

TEST_F(PagePersistenceTest, CopiesSyncTheirDestinationUnlessNoFlush) {
  const char src[300] = "data";
  for (unsigned flags : {0u, kMemNoDrain, kMemNonTemporal, kMemTemporal, kMemWc, kMemWb}) {
    map_->memcpy_fn()(at(2 * kPage - 10), src, sizeof src, flags);
    map_->memmove_fn()(at(2 * kPage - 10), src, sizeof src, flags);
    map_->memset_fn()(at(2 * kPage - 10), 7, sizeof src, flags);
    std::vector<RecordingMsync::Call> calls = msync_.Take();
    ASSERT_EQ(calls.size(), 3u) << flags;
    for (const RecordingMsync::Call& call : calls) {
      EXPECT_EQ(call.address, base_ + kPage) << flags;
      EXPECT_EQ(call.length, kPage - 10 + sizeof src) << flags;
    }
  }
  map_->memcpy_fn()(at(0), src, sizeof src, kMemNoFlush);
  map_->memset_fn()(at(0), 1, sizeof src, kMemNoFlush | kMemNoDrain);
  EXPECT_TRUE(msync_.Take().empty()) << "kMemNoFlush leaves the sync to a later persist";
  EXPECT_EQ(std::memcmp(at(0), std::string(sizeof src, '\1').data(), sizeof src), 0);
}

TEST_F(PagePersistenceTest, InterruptedSyncIsRetried) {
  msync_.FailWith({EINTR, EINTR});
  map_->persist_fn()(at(0), 10);
  EXPECT_EQ(msync_.Take().size(), 3u);
  EXPECT_TRUE(map_->PersistError().ok());
}

// A FUSE server may answer EINTR forever: the persist must end, and must not pass for a success.
TEST_F(PagePersistenceTest, EndlessInterruptionIsBoundedAndRecorded) {
  msync_.FailWith(std::vector<int>(1000, EINTR));
  map_->persist_fn()(at(0), 10);
  EXPECT_EQ(msync_.Take().size(), static_cast<size_t>(map_internal::kMaxInterruptedSyncs + 1));
  absl::Status error = map_->PersistError();
  EXPECT_EQ(GetErrno(error), EINTR);
  EXPECT_EQ(GetErrorCode(error), ErrorCode::kErrno);
  msync_.FailWith({});
  EXPECT_EQ(GetErrno(map_->Persist(at(0), 10)), EINTR) << "a later success does not erase it";
}

// The last retry allowed still counts: an msync that succeeds on attempt kMaxInterruptedSyncs + 1 is a success.
TEST_F(PagePersistenceTest, ASyncThatSucceedsOnTheLastRetryIsASuccess) {
  msync_.FailWith(std::vector<int>(map_internal::kMaxInterruptedSyncs, EINTR));
  const uint64_t before = PersistErrorCount();
  map_->persist_fn()(at(0), 10);
  EXPECT_EQ(msync_.Take().size(), static_cast<size_t>(map_internal::kMaxInterruptedSyncs + 1));
  EXPECT_EQ(PersistErrorCount(), before);
  EXPECT_TRUE(map_->PersistError().ok());
}

TEST_F(PagePersistenceTest, AFailureAfterAnInterruptionIsRecorded) {
  msync_.FailWith({EINTR, EIO});
  map_->persist_fn()(at(0), 10);
  EXPECT_EQ(msync_.Take().size(), 2u) << "EIO is not retried";
  EXPECT_EQ(GetErrno(map_->PersistError()), EIO);
}

// The copies run the sync inline (page_persist.cc): the same retries, the same records, and they return their
// destination, with or without a sync, for any length.
TEST_F(PagePersistenceTest, CopiesRetryInterruptedSyncsAndReturnTheirDestination) {
  const char src[100] = "data";
  msync_.FailWith({EINTR, EINTR});
  EXPECT_EQ(map_->memcpy_fn()(at(kPage), src, sizeof src, 0), at(kPage));
  EXPECT_EQ(msync_.Take().size(), 3u);
  msync_.FailWith({EINTR});
  EXPECT_EQ(map_->memset_fn()(at(kPage), 1, sizeof src, 0), at(kPage));
  EXPECT_EQ(msync_.Take().size(), 2u);
  EXPECT_TRUE(map_->PersistError().ok());
  for (unsigned flags : {0u, kMemNoFlush, kMemNonTemporal | kMemNoFlush}) {
    for (size_t len : {size_t{0}, size_t{1}, sizeof src}) {
      EXPECT_EQ(map_->memcpy_fn()(at(3 * kPage), src, len, flags), at(3 * kPage)) << flags << " " << len;
      EXPECT_EQ(map_->memmove_fn()(at(3 * kPage), src, len, flags), at(3 * kPage)) << flags << " " << len;
      EXPECT_EQ(map_->memset_fn()(at(3 * kPage), 2, len, flags), at(3 * kPage)) << flags << " " << len;
      const size_t syncs = (flags & kMemNoFlush) == 0 && len != 0 ? 3 : 0;
      EXPECT_EQ(msync_.Take().size(), syncs) << flags << " " << len << ": a zero-length copy syncs nothing";
    }
  }
  EXPECT_EQ(at(3 * kPage)[sizeof src - 1], 2);
}

// A caller that sees the result itself (SyncPages's callers outside the function pointers: pmem_msync,
// pmem2::SyncPages) is told of memory that is not all mapped (ENOMEM for a range that leaves the live Maps), also
// after an interruption, and nothing is recorded. Over live Maps, ENOMEM and EINVAL can only come from the file's
// fsync (the kernel checks the page-aligned address and MS_SYNC pmem2 passes before anything else: a file system
// without fsync, a FUSE server's write-back error), so they are recorded like any other failure; through a function
// pointer, whose caller sees nothing, every failure is.
TEST_F(PagePersistenceTest, UsageErrorsGoToTheCallerThatSeesTheResult) {
  const uint64_t before = PersistErrorCount();
  // From the Map's last page into the page after it.
  char* const past_the_end = at(15 * kPage);
  ASSERT_FALSE(map_internal::RangeIsInLiveMaps(past_the_end, 2 * kPage)) << "another Map right after this one";
  // The page after the Map is free here (pmem2 places a Map inside a larger reservation whose rest it unmaps): the
  // Map's last page is synced again on its own (SyncAroundHoles), and the ENOMEM is the hole's.
  unsigned char resident;
  ASSERT_NE(mincore(at(16 * kPage), kPage, &resident), 0) << "a mapping right after the Map";
  for (const std::vector<int>& errors : std::vector<std::vector<int>>{{ENOMEM}, {EINTR, ENOMEM}}) {
    msync_.FailWith(errors);
    EXPECT_EQ(map_internal::SyncPages(past_the_end, 2 * kPage, /*caller_sees_result=*/true), errors.back());
    EXPECT_EQ(msync_.Take().size(), errors.size() + 1);
  }
  // Memory not mapped at all.
  void* const gone = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(gone, MAP_FAILED);
  ASSERT_EQ(munmap(gone, kPage), 0);
  msync_.FailWith({ENOMEM});
  EXPECT_EQ(map_internal::SyncPages(gone, 16, /*caller_sees_result=*/true), ENOMEM);
  EXPECT_EQ(PersistErrorCount(), before);
  EXPECT_TRUE(map_->PersistError().ok());
  for (const std::vector<int>& errors : std::vector<std::vector<int>>{{ENOMEM}, {EINVAL}, {EINTR, EIO}}) {
    msync_.FailWith(errors);
    EXPECT_EQ(map_internal::SyncPages(at(0), 10, /*caller_sees_result=*/true), errors.back());
    EXPECT_EQ(GetErrno(map_->ClearPersistError()), errors.back()) << "over the Map: a lost write-back";
  }
  EXPECT_EQ(PersistErrorCount(), before + 3);
  msync_.FailWith({ENOMEM});
  EXPECT_EQ(map_internal::SyncPages(past_the_end, 2 * kPage, /*caller_sees_result=*/false), ENOMEM);
  EXPECT_EQ(PersistErrorCount(), before + 4) << "through a function pointer nobody would see it";
  EXPECT_EQ(GetErrno(map_->PersistError()), ENOMEM);
}

// msync's ENOMEM over pages all mapped comes from an fsync (no hole): the file's failure, returned and recorded on the
// file's Maps, also where the range runs past the Map into another mapping (whose fsync it may have been: which file
// cannot be told; a failure reported that may not have happened rather than one lost). It was taken for the caller's
// usage error there, and kept from the file's other Maps.
TEST_F(PagePersistenceTest, AnEnomemOverPagesAllMappedIsAFailureOfTheFileEvenPastTheMap) {
  absl::StatusOr<Map> same_file = MapFd(fd_.get());
  ASSERT_TRUE(same_file.ok()) << same_file.status();
  // pmem2 places a Map inside a larger reservation whose rest it unmaps: the page after it is free.
  void* const after =
      mmap(at(16 * kPage), kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  ASSERT_EQ(after, static_cast<void*>(at(16 * kPage))) << "a mapping right after the Map";
  const absl::Cleanup unmap = [after] { munmap(after, kPage); };
  msync_.FailWith({ENOMEM});
  EXPECT_EQ(map_internal::SyncPages(at(15 * kPage), 2 * kPage, /*caller_sees_result=*/true), ENOMEM);
  EXPECT_EQ(GetErrno(same_file->PersistError()), ENOMEM) << "the file's other Maps are told";
  EXPECT_EQ(GetErrno(map_->PersistError()), ENOMEM);
}

// Pages of a Map unmapped behind pmem2's back (the application's munmap(2) of part of it): msync over them fails
// with ENOMEM, which is no failed write-back of the file (the stores of those pages are still in the page cache, which
// a sync of the file through any mapping writes back). A caller that sees the result gets it, and nothing is recorded;
// a function pointer's failure is recorded on the Map the range overlaps only. Recorded on the file's other Maps as
// well, as it was, it failed their persists for good (libpmem's pmem_msync cannot acknowledge a failure).
TEST_F(PagePersistenceTest, AHoleUnmappedInAMapIsTheRangesFailureNotTheFiles) {
  absl::StatusOr<Map> same_file = MapFd(fd_.get());
  ASSERT_TRUE(same_file.ok()) << same_file.status();
  const uint64_t before = PersistErrorCount();
  ASSERT_EQ(munmap(at(4 * kPage), kPage), 0);
  msync_.FailWith({ENOMEM});  // as the kernel's msync over the hole
  EXPECT_EQ(map_internal::SyncPages(at(0), 8 * kPage, /*caller_sees_result=*/true), ENOMEM);
  EXPECT_EQ(PersistErrorCount(), before);
  EXPECT_TRUE(map_->PersistError().ok());
  // The Status methods return it, though nothing records it (they returned OK for the hole's page: found by an audit).
  msync_.FailWith({ENOMEM});
  EXPECT_EQ(GetErrno(map_->Persist(at(0), 8 * kPage)), ENOMEM);
  msync_.FailWith({ENOMEM});
  EXPECT_EQ(GetErrno(map_->Flush(at(0), 8 * kPage)), ENOMEM);
  msync_.FailWith({ENOMEM});
  const absl::Status deep = map_->DeepFlush(at(0), 8 * kPage);
  EXPECT_EQ(GetErrno(deep), ENOMEM) << deep;
  EXPECT_THAT(std::string(deep.message()), ::testing::HasSubstr("DeepFlush: msync of ["));
  EXPECT_EQ(PersistErrorCount(), before);
  EXPECT_TRUE(map_->PersistError().ok());
  msync_.FailWith({ENOMEM});
  map_->persist_fn()(at(0), 8 * kPage);
  EXPECT_EQ(PersistErrorCount(), before + 1) << "through a function pointer nobody would see it";
  EXPECT_EQ(GetErrno(map_->PersistError()), ENOMEM);
  EXPECT_TRUE(same_file->PersistError().ok()) << same_file->PersistError();
  EXPECT_TRUE(same_file->Persist(same_file->address(), same_file->size()).ok());
  // Control: the same ENOMEM over pages all mapped comes from the file's fsync, a lost write-back of the file.
  msync_.FailWith({ENOMEM});
  map_->persist_fn()(at(8 * kPage), kPage);
  EXPECT_EQ(GetErrno(same_file->ClearPersistError()), ENOMEM);
  // The mapped runs beside the hole are synced again, each on its own (msync returns a file's fsync error ahead of a
  // hole's ENOMEM): one that fails is the file's failure, returned and recorded on the file's other Maps.
  msync_.Take();
  msync_.FailWith({ENOMEM, EIO});
  EXPECT_EQ(map_internal::SyncPages(at(0), 8 * kPage, /*caller_sees_result=*/true), EIO);
  EXPECT_EQ(GetErrno(same_file->PersistError()), EIO);
  const std::vector<RecordingMsync::Call> calls = msync_.Take();
  ASSERT_GE(calls.size(), 3u);  // the range, then its runs [0, 4) and [5, 8) pages, however halved
  EXPECT_EQ(calls[1].address, base_);
  uint64_t synced = 0;
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_TRUE(calls[i].address + calls[i].length <= base_ + 4 * kPage || calls[i].address >= base_ + 5 * kPage)
        << "a run's sync over the hole";
    synced += calls[i].length;
  }
  EXPECT_EQ(synced, 7 * kPage) << "every mapped page of the range, once";
}

// A range that runs into the top page of the address space or past it (a negative length, say) fails with ENOMEM,
// and nothing is synced. Handed to msync as it is, its length would wrap to a few pages, or to 0 once the kernel
// rounds it up to a page, and the call succeed for less than was asked: libpmem 1.12.1's pmem_msync returns 0 for
// such a range (libpmem_differential_test, "wraps"). Handed to msync up to the top page, MS_SYNC would fsync every
// shared file mapping above it, the application's own too.
Config PageConfigAt(VmReservation& reservation);  // below

TEST_F(PagePersistenceTest, ARangePastTheTopOfTheAddressSpaceFails) {
  const uintptr_t top_page = uintptr_t{0} - kPage;
  const uint64_t before = PersistErrorCount();
  msync_.Take();
  for (size_t size : {SIZE_MAX, SIZE_MAX - 100, size_t{0} - reinterpret_cast<uintptr_t>(at(5)),
                      top_page - reinterpret_cast<uintptr_t>(at(5)) + 1}) {
    EXPECT_EQ(map_internal::SyncPages(at(5), size, /*caller_sees_result=*/true), ENOMEM) << size;
  }
  EXPECT_EQ(map_internal::SyncPages(reinterpret_cast<void*>(UINTPTR_MAX - 10), 100, true), ENOMEM);
  EXPECT_EQ(map_internal::SyncPages(reinterpret_cast<void*>(top_page), 1, true), ENOMEM);
  EXPECT_TRUE(msync_.Take().empty()) << "nothing synced";
  EXPECT_EQ(map_internal::SyncPages(at(5), top_page - reinterpret_cast<uintptr_t>(at(5)), true), 0)
      << "a range that ends where the top page begins is an ordinary one";
  EXPECT_EQ(msync_.Take().size(), 1u);
  EXPECT_EQ(PersistErrorCount(), before) << "the caller saw each";
  EXPECT_TRUE(map_->PersistError().ok());
  // Through a function pointer it is recorded, on the Map that holds the address only: not on the file's other Maps,
  // nor on Maps of other files above it (no sync ran; they were all charged: found by an audit).
  absl::StatusOr<Map> same_file = MapFd(fd_.get());
  ASSERT_TRUE(same_file.ok()) << same_file.status();
  // Another file's Map above this one: placed in a reservation just past its end where that range is free.
  ScopedFd other_fd = CreateFile(dir_.Join("other"), 4 * kPage, O_RDWR);
  absl::StatusOr<VmReservation> above = absl::UnavailableError("no free range above");
  for (uintptr_t at_mib = 2; at_mib <= 1024 && !above.ok(); at_mib += 2) {
    above = VmReservation::CreateAt(reinterpret_cast<void*>((base_ + (at_mib << 20)) & ~uintptr_t{(2 << 20) - 1}),
                                    4 * kPage);
  }
  absl::StatusOr<Source> other_source = Source::FromFd(other_fd.get());
  ASSERT_TRUE(other_source.ok()) << other_source.status();
  absl::StatusOr<Map> other_file =
      above.ok() ? Map::Create(PageConfigAt(*above), *other_source) : MapFd(other_fd.get());
  ASSERT_TRUE(other_file.ok()) << other_file.status();
  const bool other_is_above = static_cast<char*>(other_file->address()) > at(5);
  map_->persist_fn()(at(5), SIZE_MAX);
  EXPECT_TRUE(msync_.Take().empty());
  EXPECT_EQ(PersistErrorCount(), before + 1);
  EXPECT_EQ(GetErrno(map_->ClearPersistError()), ENOMEM) << "through a function pointer it is recorded";
  EXPECT_TRUE(same_file->PersistError().ok()) << same_file->PersistError();
  EXPECT_TRUE(other_is_above) << "the range above this Map was taken: the other file's Map lies below it";
  EXPECT_TRUE(other_file->PersistError().ok()) << other_file->PersistError();
  // The kernel's own msync, for a range that wraps.
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(map_internal::SyncPages(at(5), SIZE_MAX, /*caller_sees_result=*/true), ENOMEM);
  EXPECT_EQ(map_internal::SyncPages(at(5), 10, /*caller_sees_result=*/true), 0);
  EXPECT_TRUE(map_->PersistError().ok());
}

TEST_F(PagePersistenceTest, FirstFailureIsKeptAndLaterOnesCounted) {
  msync_.FailWith({EIO, ENOSPC, EIO});
  const uint64_t before = PersistErrorCount();
  map_->persist_fn()(at(0), 10);
  map_->memcpy_fn()(at(kPage), "x", 1, 0);
  map_->persist_fn()(at(2 * kPage), 20);
  EXPECT_EQ(PersistErrorCount(), before + 3);
  absl::Status error = map_->PersistError();
  EXPECT_EQ(GetErrno(error), EIO);
  EXPECT_EQ(error.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(error.message()), HasSubstr("persisting 10 bytes at"));
  EXPECT_THAT(std::string(error.message()), HasSubstr("(2 later failures)"));
  EXPECT_THAT(std::string(error.message()), HasSubstr("may be lost"));
  EXPECT_EQ(map_->PersistError(), error) << "reading does not clear";
  EXPECT_EQ(map_->ClearPersistError(), error) << "clearing returns what it cleared";
  EXPECT_TRUE(map_->PersistError().ok());
  EXPECT_TRUE(map_->ClearPersistError().ok());
}

// A Status method whose own sync failed reports it, also when the failure was acknowledged (ClearPersistError(), as
// another thread may do at any time) between the sync and the method's return: before, the method then returned OK
// over data whose write-back had failed. The acknowledgement is made in that window by the registry's failure
// observer, which runs on the failing thread right after the record (a thread inside its own sync does not wait for
// itself).
Map* map_to_clear = nullptr;
void ClearOnFailure(const map_internal::PersistFailure&) { map_to_clear->ClearPersistError().IgnoreError(); }

TEST_F(PagePersistenceTest, AStatusMethodReportsItsOwnFailureThatWasAcknowledgedMeanwhile) {
  map_to_clear = &*map_;
  map_internal::SetPersistFailureObserver(&ClearOnFailure);
  const absl::Cleanup no_observer = [] { map_internal::SetPersistFailureObserver(nullptr); };
  const std::pair<const char*, std::function<absl::Status()>> calls[] = {
      {"Persist", [&] { return map_->Persist(at(0), 1); }},
      {"Flush", [&] { return map_->Flush(at(0), 1); }},
      {"Memcpy", [&] { return map_->Memcpy(at(0), "x", 1); }},
      {"Memmove", [&] { return map_->Memmove(at(0), "x", 1); }},
      {"Memset", [&] { return map_->Memset(at(0), 'x', 1); }},
      {"DeepFlush", [&] { return map_->DeepFlush(at(0), 1); }},
  };
  for (const auto& [name, call] : calls) {
    msync_.FailWith({EIO});
    const absl::Status status = call();
    EXPECT_EQ(GetErrno(status), EIO) << name << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("acknowledged it (ClearPersistError) before it was read"))
        << name;
    EXPECT_TRUE(map_->PersistError().ok()) << name << ": acknowledged";
    EXPECT_TRUE(map_->Persist(at(0), 1).ok()) << name << ": the next call's own sync succeeded";
  }
}

// The function pointers' way (map.h): a mark before the stores, PersistErrorSince() after. Another thread's
// ClearPersistError() between a failed persist_fn and the read of PersistError() hid the failure (found by review:
// the Status methods kept a mark, the function pointers' callers had none).
TEST_F(PagePersistenceTest, AFunctionPointerCallerSeesItsFailureAcknowledgedMeanwhileThroughItsMark) {
  const uint64_t mark = map_->PersistFailureMark();
  msync_.FailWith({EIO});
  map_->persist_fn()(at(0), 1);
  EXPECT_EQ(GetErrno(map_->ClearPersistError()), EIO) << "another thread's health check";
  EXPECT_TRUE(map_->PersistError().ok());
  const absl::Status since = map_->PersistErrorSince(mark);
  EXPECT_EQ(GetErrno(since), EIO) << since;
  EXPECT_THAT(std::string(since.message()), HasSubstr("acknowledged it (ClearPersistError) before it was read"));
  EXPECT_TRUE(map_->PersistErrorSince(map_->PersistFailureMark()).ok()) << "a mark taken after it";
  const absl::Status above = map_->PersistErrorSince(map_->PersistFailureMark() + 1);
  EXPECT_EQ(GetErrno(above), EINVAL) << "no mark of this Map's: " << above;
  Map moved = std::move(*map_);
  EXPECT_EQ(map_->PersistFailureMark(), 0u) << "moved from";
  EXPECT_TRUE(map_->PersistErrorSince(0).ok());
  EXPECT_EQ(GetErrno(moved.PersistErrorSince(mark)), EIO) << "the mark goes with the Map";
}

// The same for pmem2::SyncPages and DeepDrain (pmem_msync's and pmem_deep_drain's): another thread's sync took the
// kernel's report of this call's data (so this call's msync returned 0), recorded it on the Map and acknowledged it
// with ClearPersistError() before this call read the Map's error. Such a call returned OK before.
int AnotherThreadsSyncTookTheReport(void* address, size_t, int) {
  map_internal::RecordPersistFailure(address, 1, EIO, /*caller_sees_result=*/false);  // the observer acknowledges it
  return 0;
}

TEST_F(PagePersistenceTest, SyncPagesReportsAFailureAcknowledgedDuringTheCall) {
  map_to_clear = &*map_;
  map_internal::SetPersistFailureObserver(&ClearOnFailure);
  const absl::Cleanup no_observer = [] { map_internal::SetPersistFailureObserver(nullptr); };
  const std::pair<const char*, absl::Status (*)(const void*, size_t)> calls[] = {{"SyncPages", &SyncPages},
                                                                                 {"DeepDrain", &DeepDrain}};
  for (const auto& [name, call] : calls) {
    map_internal::SetMsyncForTest(&AnotherThreadsSyncTookTheReport);
    const absl::Status status = call(at(0), 1);
    map_internal::SetMsyncForTest(nullptr);
    EXPECT_EQ(GetErrno(status), EIO) << name << ": " << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("acknowledged it (ClearPersistError) before it was read"))
        << name;
    EXPECT_TRUE(map_->PersistError().ok()) << name << ": acknowledged";
    EXPECT_TRUE(call(at(0), 1).ok()) << name << ": the next call's own sync succeeded";
  }
}

// A page-granularity Config that places its Map at the start of `reservation`.
Config PageConfigAt(VmReservation& reservation) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_vm_reservation(&reservation, 0);
  return config;
}

// The mark SyncPages took belongs to the record it was taken of: a Map made meanwhile at the same range of the same
// file (a reservation gives the same address again) has a record of its own whose count starts again. Compared by
// range and file, the new record's count (0) was taken for a failure since the old mark (2), and pmem_msync reported
// "persisting 0 bytes at (nil) failed" for a sync that had failed nowhere.
TEST(MapRegistryTest, AFailureMarkIsOfItsOwnRecordNotOfAMapMadeSinceAtTheSameRange) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4 * kPage, O_RDWR);
  absl::StatusOr<VmReservation> reservation = VmReservation::Create(4 * kPage);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  const Config config = PageConfigAt(*reservation);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok());
  absl::optional<Map> first;
  {
    absl::StatusOr<Map> map = Map::Create(config, *source);
    ASSERT_TRUE(map.ok()) << map.status();
    first.emplace(*std::move(map));
  }
  void* const address = first->address();
  for (int i = 0; i < 2; ++i) map_internal::RecordPersistFailure(address, 1, EIO, /*caller_sees_result=*/true);
  first->ClearPersistError().IgnoreError();
  const std::vector<map_internal::MapExtent> before = map_internal::MapsInRange(address, 1);
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].failures_recorded, 2u);
  first.reset();
  absl::StatusOr<Map> second = Map::Create(config, *source);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->address(), address) << "the reservation's same range";
  EXPECT_TRUE(map_internal::ErrorForAddressSince(address, before[0]).ok())
      << map_internal::ErrorForAddressSince(address, before[0]);
  // The same record's mark still reports what was recorded and acknowledged since.
  const std::vector<map_internal::MapExtent> now = map_internal::MapsInRange(address, 1);
  ASSERT_EQ(now.size(), 1u);
  map_internal::RecordPersistFailure(address, 1, EIO, /*caller_sees_result=*/true);
  second->ClearPersistError().IgnoreError();
  EXPECT_EQ(GetErrno(map_internal::ErrorForAddressSince(address, now[0])), EIO);
}

// The observer (the C API's PMEM2_PERSIST_FAILURE) learns whether the failing call returns the failure: the Status
// methods do, the function pointers cannot. (Every failure counted as unseen before, so "abort" ended the process
// in a pmem2_deep_flush or a Status method that was about to return the error.)
std::vector<bool> seen_by_caller;
void NoteWhoSeesIt(const map_internal::PersistFailure& failure) {
  seen_by_caller.push_back(failure.caller_sees_result);
}

TEST_F(PagePersistenceTest, TheObserverLearnsWhetherTheCallReturnsTheFailure) {
  map_internal::SetPersistFailureObserver(&NoteWhoSeesIt);
  const absl::Cleanup no_observer = [] { map_internal::SetPersistFailureObserver(nullptr); };
  const std::pair<const char*, std::function<bool()>> calls[] = {
      {"Persist", [&] { return !map_->Persist(at(0), 1).ok(); }},
      {"Flush", [&] { return !map_->Flush(at(0), 1).ok(); }},
      {"Memcpy", [&] { return !map_->Memcpy(at(0), "x", 1).ok(); }},
      {"Memset", [&] { return !map_->Memset(at(0), 'x', 1).ok(); }},
      {"DeepFlush", [&] { return !map_->DeepFlush(at(0), 1).ok(); }},
      {"persist_fn", [&] { return (map_->persist_fn()(at(0), 1), false); }},
      {"memcpy_fn", [&] { return (map_->memcpy_fn()(at(0), "x", 1, 0), false); }},
  };
  for (const auto& [name, call] : calls) {
    seen_by_caller.clear();
    msync_.FailWith({EIO});
    const bool returned = call();
    EXPECT_EQ(seen_by_caller, std::vector<bool>{returned}) << name;
    EXPECT_FALSE(map_->ClearPersistError().ok()) << name << ": recorded either way";
  }
}

// DeepFlush of a cache-line Map of a file (its msync is the deep flush) whose msync succeeds while a failure of the
// file is recorded meanwhile (another thread's sync took the kernel's report) and acknowledged before the call returns:
// reported, as by the other Status methods. Here the msync hook records that failure itself, and the observer clears.
TEST(DeepFlushTest, AFailureRecordedAndAcknowledgedDuringTheCallIsReported) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", "cache_line");
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  ASSERT_EQ(map->store_granularity(), StoreGranularity::kCacheLine);
  map_to_clear = &*map;
  map_internal::SetPersistFailureObserver(&ClearOnFailure);
  map_internal::SetMsyncForTest([](void* address, size_t length, int) {
    // Another thread's failure, recorded meanwhile.
    map_internal::RecordPersistFailure(address, length, EIO, /*caller_sees_result=*/false);
    return 0;
  });
  const absl::Cleanup restore = [] {
    map_internal::SetMsyncForTest(nullptr);
    map_internal::SetPersistFailureObserver(nullptr);
  };
  const absl::Status status = map->DeepFlush(map->address(), 64);
  EXPECT_EQ(GetErrno(status), EIO) << status;
  EXPECT_TRUE(map->PersistError().ok()) << "acknowledged by the observer";
}

// A page persist in a signal handler that interrupts fork(): the map registry's fork handlers hold its locks from
// prepare to parent and child, with the thread's signals blocked, so the handler's persist (whose failed msync takes
// the registry's lock to record) runs after them instead of waiting for its own thread's lock for ever.
Map* map_to_persist_in_handler = nullptr;
void PersistInAHandler(int) {
  const int saved_errno = errno;  // a handler leaves errno as it found it (the failed msync sets it)
  map_to_persist_in_handler->persist_fn()(map_to_persist_in_handler->address(), 1);
  errno = saved_errno;
}

// For a child's body: every msync fails (each persist records a failure: the registry's lock, each time), SIGUSR1's
// handler persists a byte of `map`, and this thread's sync slot is taken (a persist) before what the test does.
bool PersistInHandlersOfSigusr1(Map& map) {
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  map_to_persist_in_handler = &map;
  struct sigaction action {};
  action.sa_handler = &PersistInAHandler;
  action.sa_flags = SA_RESTART;
  if (sigaction(SIGUSR1, &action, nullptr) != 0) return false;
  map.persist_fn()(map.address(), 1);
  return true;
}

TEST_F(PagePersistenceTest, APersistInAHandlerThatInterruptedAForkDoesNotWaitForItsOwnThread) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "TSan delays asynchronous signals to its own points";
#endif
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    if (!PersistInHandlersOfSigusr1(*map_)) return 3;
    ::pmem2::testing::WriteToParent(out, absl::StrCat("forks ", ::pmem2::testing::ForkWhileSignalled(300, SIGUSR1)));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "forks 300");
}

// The same at fixed points: fork handlers of this test binary, registered before pmem2's (a constructor of the first
// priority, ahead of every static initializer), run inside pmem2's: their prepare after pmem2's prepare took its
// locks, their child handler before pmem2's child handlers released them. Each raises SIGUSR1 there, whose handler
// persists (a failing msync: the registry's lock), in the parent and in the child.
std::atomic<bool> raise_in_fork_handlers{false};
void RaiseUsr1InForkHandler() {
  if (raise_in_fork_handlers.load()) raise(SIGUSR1);
}
bool raising_fork_handlers_registered = false;
__attribute__((constructor(101))) void RegisterRaisingForkHandlers() {
  raising_fork_handlers_registered = pthread_atfork(&RaiseUsr1InForkHandler, nullptr, &RaiseUsr1InForkHandler) == 0;
}

TEST_F(PagePersistenceTest, APersistInAHandlerRunInsidePmemsForkHandlersWaitsForThem) {
  ASSERT_TRUE(raising_fork_handlers_registered);
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild([&](int out) {
    if (!PersistInHandlersOfSigusr1(*map_)) return 3;
    raise_in_fork_handlers.store(true);
    int forks = 0, children_ok = 0;
    for (int i = 0; i < 20; ++i) {
      const pid_t pid = fork();
      if (pid == 0) _exit(0);  // reached only once the child's handlers, and its persist, are done
      int status = 0;
      if (pid > 0 && waitpid(pid, &status, 0) == pid) {
        ++forks;
        children_ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
      }
    }
    raise_in_fork_handlers.store(false);
    ::pmem2::testing::WriteToParent(out, absl::StrCat("forks ", forks, ", children ", children_ok));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "forks 20, children 20");
}

// A write-back failure reported to one caller must reach every caller that relies on the same data: the
// "fsyncgate" lesson. Linux returns the error once per open file description; a later successful msync
// proves nothing.
TEST_F(PagePersistenceTest, OneThreadsFailureIsSeenByAnotherThreadsLaterPersist) {
  std::thread a([&] {
    msync_.FailWith({ENOSPC});
    map_->persist_fn()(at(0), 1);  // A's own page: the kernel reports the failure of B's page to A
  });
  a.join();
  absl::Status b_status;
  std::thread b([&] {
    std::memcpy(at(5 * kPage), "record", 6);
    b_status = map_->Persist(at(5 * kPage), 6);  // msync succeeds now
  });
  b.join();
  EXPECT_EQ(GetErrno(b_status), ENOSPC);
  EXPECT_EQ(b_status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetErrno(PersistErrorAt(at(5 * kPage))), ENOSPC);
}

// How long a test waits for another thread to get where it is expected (into a held msync, asleep as a reader)
// before it fails: far beyond what a loaded 2-vCPU machine or a sanitizer needs, and the test then fails with
// a message instead of hanging until Bazel's timeout.
constexpr std::chrono::seconds kHandshakeDeadline{10};
// How long a held msync waits to be let go before it gives up and fails the test (a test that failed or returned
// without letting it go). Longer than the handshakes of one test together (two readers: 20 s), shorter than the
// "small" test's 60 s.
constexpr std::chrono::seconds kHoldDeadline{40};

// Holds the calling thread (inside a test's msync) until `stage` is 2.
void HoldUntilLetGo(const std::atomic<int>& stage) {
  const auto deadline = std::chrono::steady_clock::now() + kHoldDeadline;
  while (stage.load() != 2) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ADD_FAILURE() << "a held msync was not let go within " << kHoldDeadline.count() << " s; going on";
      return;
    }
    std::this_thread::yield();
  }
}

// The kernel hands the file's write-back error to A's msync; A records it a moment later. B's own msync, in
// between, returns 0. B must still not be told OK: the read waits for A's sync, which started before it.
std::atomic<int> race_stage{0};
thread_local bool fail_this_thread = false;
int SlowFailingMsync(void*, size_t, int) {
  if (!fail_this_thread) return 0;
  race_stage = 1;  // the kernel has reported the error to A...
  HoldUntilLetGo(race_stage);  // ...and A is preempted before it records it
  errno = ENOSPC;
  return -1;
}

// Thread A, persisting [ptr, ptr + length) (by default the first byte of `map`) through `map`'s persist_fn and the
// msync `fn`, which holds it inside the call: returns once `stage` says A is there. The caller sets `stage` to 2 to
// let A go, joins it and restores msync.
std::thread StartAHeldSync(const Map& map, map_internal::MsyncFn fn, std::atomic<int>* stage,
                           const void* ptr = nullptr, size_t length = 1) {
  map_internal::SetMsyncForTest(fn);
  *stage = 0;
  std::thread a([&map, ptr, length] {
    fail_this_thread = true;
    map.persist_fn()(ptr != nullptr ? ptr : map.address(), length);
  });
  const auto deadline = std::chrono::steady_clock::now() + kHandshakeDeadline;
  while (stage->load() != 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  if (stage->load() != 1) ADD_FAILURE() << "A did not reach its msync within " << kHandshakeDeadline.count() << " s";
  return a;
}

// Returns once the registry counts `waiters` readers asleep waiting for a sync, or `done` is set (the reader
// answered, without waiting or after it); fails the test if neither happens within kHandshakeDeadline.
void AwaitWaitingReadersOrDone(size_t waiters, const std::atomic<bool>& done) {
  const auto deadline = std::chrono::steady_clock::now() + kHandshakeDeadline;
  while (map_internal::WaitingReadersForTest() < waiters && !done.load()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ADD_FAILURE() << "after " << kHandshakeDeadline.count() << " s the reader neither waited for a sync ("
                    << map_internal::WaitingReadersForTest() << " of " << waiters << " readers waiting) nor answered";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Runs `read` on a thread of its own and returns once that reader is asleep waiting for a sync (one more waiting
// reader than before) or has answered: then `done` tells whether it answered without waiting. A fixed pause
// instead could end before the reader ran at all, and a reader that does not wait would pass unseen.
std::thread StartAWaitingReader(std::function<void()> read, std::atomic<bool>* done) {
  *done = false;
  const size_t waiting_before = map_internal::WaitingReadersForTest();
  std::thread reader([read = std::move(read), done] {
    read();
    *done = true;
  });
  AwaitWaitingReadersOrDone(waiting_before + 1, *done);
  return reader;
}

TEST_F(PagePersistenceTest, ASuccessWhileAnotherThreadsFailureIsInFlightIsNotOk) {
  std::thread a = StartAHeldSync(*map_, &SlowFailingMsync, &race_stage);
  std::atomic<bool> b_done{false};
  absl::Status b_status, b_at;
  std::thread b = StartAWaitingReader(
      [&] {
        b_status = map_->Persist(at(5 * kPage), 6);  // its own msync succeeds
        b_at = PersistErrorAt(at(5 * kPage));
      },
      &b_done);
  EXPECT_FALSE(b_done.load()) << "B answered while A's failing sync was still unrecorded";
  race_stage = 2;
  a.join();
  b.join();
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(b_status), ENOSPC);
  EXPECT_EQ(GetErrno(b_at), ENOSPC);
}

// A read waits for the syncs of its own file only: one through another mapping of the same file holds it up until
// it ends, one of an unrelated file in flight at the same time does not.
std::atomic<int> blocked_stage{0};
int BlockingMsync(void*, size_t, int) {
  if (!fail_this_thread) return 0;
  blocked_stage = 1;
  HoldUntilLetGo(blocked_stage);
  return 0;
}

TEST_F(PagePersistenceTest, AReadWaitsForSyncsOfItsFileOnly) {
  ScopedFd unrelated_fd = CreateFile(dir_.Join("unrelated"), kPage, O_RDWR);
  absl::StatusOr<Map> unrelated = MapFd(unrelated_fd.get());
  absl::StatusOr<Map> same_file = MapFd(fd_.get());
  ASSERT_TRUE(unrelated.ok() && same_file.ok());
  std::thread a = StartAHeldSync(*map_, &BlockingMsync, &blocked_stage);
  std::atomic<bool> unrelated_done{false};
  std::atomic<bool> same_file_done{false};
  std::thread c([&] {
    EXPECT_TRUE(unrelated->PersistError().ok());
    EXPECT_TRUE(unrelated->Persist(unrelated->address(), 1).ok());
    unrelated_done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + kHandshakeDeadline;
  while (!unrelated_done.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(unrelated_done.load()) << "a read of another file waited for this file's sync";
  // Started once C is done, so that the reader counted asleep is B (C, if it wrongly waits, is counted before).
  std::thread b = StartAWaitingReader([&] { EXPECT_TRUE(same_file->PersistError().ok()); }, &same_file_done);
  EXPECT_FALSE(same_file_done.load()) << "another mapping of the file answered while its sync was in flight";
  blocked_stage = 2;
  a.join();
  b.join();
  c.join();
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_TRUE(same_file_done.load());
}

// A Map destroyed while another thread's sync of its pages is in flight, and that sync fails: the failure reaches the
// file's other Map. (Before, the destruction did not wait: the sync then found no Map at its address, recorded the
// failure outside every Map, and the other Map's reads said OK.)
TEST_F(PagePersistenceTest, AFailureOfASyncOfAMapDestroyedMeanwhileReachesTheFilesOtherMaps) {
  absl::StatusOr<Map> other = MapFd(fd_.get());
  ASSERT_TRUE(other.ok()) << other.status();
  absl::optional<Map> doomed;
  {
    absl::StatusOr<Map> made = MapFd(fd_.get());
    ASSERT_TRUE(made.ok()) << made.status();
    doomed.emplace(*std::move(made));
  }
  std::thread a = StartAHeldSync(*doomed, &SlowFailingMsync, &race_stage);
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    doomed.reset();
    destroyed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(destroyed.load()) << "the Map was destroyed with a sync of its pages in flight";
  race_stage = 2;
  a.join();
  destroyer.join();
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(other->PersistError()), ENOSPC) << "the failure did not reach the file's other Map";
  other->ClearPersistError().IgnoreError();
  map_->ClearPersistError().IgnoreError();
}

// A reader of `map`'s error on a thread of its own, as StartAWaitingReader: `read` tells whether it answered
// without waiting.
std::thread StartAWaitingErrorReader(const Map& map, std::atomic<bool>* read) {
  return StartAWaitingReader([&map] { EXPECT_TRUE(map.PersistError().ok()); }, read);
}

// A sync inside another sync of the same thread (a scope within a scope: a test seam, a signal handler) leaves the
// outer one in flight, and a reader of the inner one's file waits for it even when the outer one's address is in
// no mapping at all.
TEST_F(PagePersistenceTest, AnInnerSyncLeavesTheOuterOneInFlight) {
  std::atomic<bool> read{false};
  std::thread reader;
  {
    map_internal::SyncScope outer(at(0), 1);
    { map_internal::SyncScope inner(at(kPage), 1); }
    reader = StartAWaitingErrorReader(*map_, &read);
    EXPECT_FALSE(read.load()) << "the inner sync's end ended the outer one";
  }
  reader.join();
  EXPECT_TRUE(read.load());

  char outside_every_map[64];
  {
    map_internal::SyncScope outer(outside_every_map, sizeof outside_every_map);
    map_internal::SyncScope inner(at(kPage), 1);
    reader = StartAWaitingErrorReader(*map_, &read);
    EXPECT_FALSE(read.load()) << "a reader of the file did not wait for the inner sync";
  }
  reader.join();
  EXPECT_TRUE(read.load());
}

// A thread that reads a Map's error, or destroys a Map of the range, while it is inside its own sync (a signal
// handler, a test's msync, an AsyncPersister fault injection hook) does not wait for that sync, which cannot end
// while it waits (before, it waited forever: in a child here, so that a hang is a failed test).
TEST_F(PagePersistenceTest, AThreadInsideItsOwnSyncDoesNotWaitForItself) {
  ::pmem2::testing::ChildOptions options;
  options.timeout = absl::Seconds(20);
  const ::pmem2::testing::ChildResult child = ::pmem2::testing::RunInChild(
      [&](int out) {
        absl::optional<Map> other;
        {
          absl::StatusOr<Map> made = MapFd(fd_.get());
          if (!made.ok()) return 2;
          other.emplace(*std::move(made));
        }
        map_internal::SyncScope own(other->address(), kPage);
        ::pmem2::testing::WriteToParent(out, map_->PersistError().ok() ? "read; " : "an error; ");
        other.reset();
        ::pmem2::testing::WriteToParent(out, "destroyed");
        return 0;
      },
      options);
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "read; destroyed");
}

// The end of a sync does not fence its store against its look for readers to wake, so it can miss a reader that
// came at that moment; such a reader must still return, at its next timed look, not sleep forever, and see the
// failure that sync recorded. Every wake-up is skipped here, so only that look can end the reader's wait.
TEST_F(PagePersistenceTest, AReaderWhoseWakeUpWasMissedStillReturnsWithTheSyncsFailure) {
  struct WakeUpsSkipped {
    WakeUpsSkipped() { map_internal::SkipWakeUpsForTest(true); }
    ~WakeUpsSkipped() { map_internal::SkipWakeUpsForTest(false); }
  };
  std::atomic<bool> read{false};
  std::thread reader;
  {
    WakeUpsSkipped skipped;
    {
      map_internal::SyncScope sync(at(0), 1);
      map_internal::RecordPersistFailure(at(0), 1, EIO, /*caller_sees_result=*/false);
      reader = std::thread([&] {
        const absl::Status error = map_->PersistError();
        EXPECT_EQ(GetErrno(error), EIO) << error;
        read = true;
      });
      // The reader must be asleep before the sync ends, or it would never need the timed look. A reader that does
      // not wait at all ends this loop too (and fails below) rather than hanging the test.
      const auto asleep_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (map_internal::WaitingReadersForTest() == 0 && !read.load() &&
             std::chrono::steady_clock::now() < asleep_by) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      EXPECT_EQ(map_internal::WaitingReadersForTest(), 1u) << "the reader is not asleep";
      EXPECT_FALSE(read.load()) << "the reader did not wait for the sync in flight";
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!read.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_TRUE(read.load()) << "a reader not woken at the end of the sync still waited 10 s later";
  }
  // Wakes the reader if it failed to return by itself, so that the test ends.
  { map_internal::SyncScope sync(at(0), 1); }
  reader.join();
}

// Every thread that syncs takes a slot for the time it lives; a thread that ended gives it to the next one, so
// threads coming and going do not grow what a reader scans.
TEST_F(PagePersistenceTest, AThreadThatEndedGivesItsSyncSlotBack) {
  map_->persist_fn()(at(0), 1);
  const size_t slots = map_internal::SyncSlotCount();
  EXPECT_GE(slots, 1u);
  for (int i = 0; i < 50; ++i) {
    std::thread([&] { map_->persist_fn()(at(kPage), 1); }).join();
  }
  EXPECT_LE(map_internal::SyncSlotCount(), slots + 1);
  EXPECT_TRUE(map_->PersistError().ok());
}

// A signal handler that syncs pages on a thread that is taking its first slot (here: raised in the middle, by a test
// hook) runs once the slot is the thread's, and uses it: one slot per thread. (It took a second one, which the thread
// then overwrote and never gave back; and it could wait for the slots' lock its own thread held. Found by an audit.)
std::atomic<map_internal::SyncSlot*> handlers_slot{nullptr};
void SyncInAHandler(int) {
  static char outside[1];
  { map_internal::SyncScope scope(outside, 1); }
  handlers_slot = map_internal::this_thread_slot;
}
void RaiseSigusr1() { pthread_kill(pthread_self(), SIGUSR1); }

TEST_F(PagePersistenceTest, AHandlerThatSyncsWhileItsThreadTakesItsFirstSlotUsesThatSlot) {
  struct sigaction action {
  }, old;
  action.sa_handler = SyncInAHandler;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &action, &old), 0);
  handlers_slot = nullptr;
  map_internal::SyncSlot* threads_slot = nullptr;
  std::thread([&] {
    map_internal::SetInTakeSlotForTest(&RaiseSigusr1);
    map_->persist_fn()(at(0), 1);  // the thread's first sync
    map_internal::SetInTakeSlotForTest(nullptr);
    threads_slot = map_internal::this_thread_slot;
  }).join();
  ASSERT_EQ(sigaction(SIGUSR1, &old, nullptr), 0);
  ASSERT_NE(handlers_slot.load(), nullptr) << "the handler did not run";
  EXPECT_EQ(handlers_slot.load(), threads_slot) << "the handler took a slot of its own";
  EXPECT_TRUE(map_->PersistError().ok());
}

// fork() while another thread's sync is in flight: that thread does not exist in the child, so its sync never
// ends there. The child's reads and persists go on (with the old tracker, and before this was fixed, the child's
// first read waited forever).
TEST_F(PagePersistenceTest, AForkDuringAnotherThreadsSyncLeavesTheChildFree) {
  absl::StatusOr<Map> same_file = MapFd(fd_.get());
  ASSERT_TRUE(same_file.ok());
  std::thread a = StartAHeldSync(*map_, &BlockingMsync, &blocked_stage);
  std::atomic<bool> read{false};
  std::thread reader = StartAWaitingErrorReader(*same_file, &read);  // asleep, waiting for A, when the process forks
  const bool reader_waited = !read.load();
  const pid_t child = fork();
  const int fork_errno = errno;
  if (child == 0) {
    // No GoogleTest assertions in the child: the exit code says which step failed.
    if (!map_->PersistError().ok() || !same_file->PersistError().ok()) _exit(2);
    map_->persist_fn()(at(kPage), 1);
    if (!map_->Persist(at(0), 1).ok()) _exit(3);
    {
      absl::StatusOr<Map> another = MapFd(fd_.get());  // the registry, under the child's own lock
      if (!another.ok() || !another->Persist(another->address(), 1).ok()) _exit(4);
    }
    if (!map_->PersistError().ok()) _exit(5);
    _exit(0);
  }
  int status = 0;
  pid_t waited = 0;
  for (int i = 0; child > 0 && i < 1000 && (waited = waitpid(child, &status, WNOHANG)) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (child > 0 && waited == 0) {
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
  }
  blocked_stage = 2;
  a.join();
  reader.join();
  map_internal::SetMsyncForTest(nullptr);
  ASSERT_GT(child, 0) << strerror(fork_errno);
  EXPECT_TRUE(reader_waited) << "the reader did not wait for A's sync, so it was not asleep at the fork";
  ASSERT_NE(waited, 0) << "the child still waited for the parent thread's sync after 10 s";
  ASSERT_EQ(waited, child) << strerror(errno);
  ASSERT_TRUE(WIFEXITED(status)) << "child status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's step that failed (see the exit codes above)";
  EXPECT_TRUE(map_->PersistError().ok());
}

// Syncs that begin after a read are not waited for: a stream of persists cannot starve a reader.
TEST_F(PagePersistenceTest, AReadDoesNotWaitForLaterSyncs) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop.load()) map_->persist_fn()(at(0), 1);
  });
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(map_->PersistError().ok());
  stop = true;
  writer.join();
}

TEST_F(PagePersistenceTest, FailuresBelongToEveryMapOfTheFile) {
  absl::StatusOr<Map> same_fd = MapFd(fd_.get());
  ScopedFd other_description(open(dir_.Join("f").c_str(), O_RDWR));
  absl::StatusOr<Map> same_file = MapFd(other_description.get());
  ScopedFd other_file = CreateFile(dir_.Join("g"), kPage, O_RDWR);
  absl::StatusOr<Map> unrelated = MapFd(other_file.get());
  ASSERT_TRUE(same_fd.ok() && same_file.ok() && unrelated.ok());

  msync_.FailWith({EIO});
  map_->persist_fn()(at(0), 1);
  EXPECT_EQ(GetErrno(map_->PersistError()), EIO);
  for (const Map* other : {&*same_fd, &*same_file}) {
    absl::Status error = other->Persist(other->address(), 1);
    EXPECT_EQ(GetErrno(error), EIO);
    EXPECT_THAT(std::string(error.message()), HasSubstr("through another mapping of the same file"));
  }
  EXPECT_TRUE(unrelated->Persist(unrelated->address(), 1).ok()) << "another file is unaffected";
  EXPECT_THAT(std::string(map_->PersistError().message()), Not(HasSubstr("another mapping")));

  // Acknowledged per Map: each application component that relied on the data must see it.
  EXPECT_FALSE(map_->ClearPersistError().ok());
  EXPECT_FALSE(same_fd->PersistError().ok());
  // A Map made after the failure starts clean.
  absl::StatusOr<Map> later = MapFd(fd_.get());
  ASSERT_TRUE(later.ok());
  EXPECT_TRUE(later->PersistError().ok());
}

// Two Maps by address, and the range from the last byte of the lower one to the first byte of the higher one.
struct Across {
  const Map* low;
  const Map* high;
  char* from;
  size_t length;
};
Across RangeAcross(const Map& a, const Map& b) {
  const Map* low = a.address() < b.address() ? &a : &b;
  const Map* high = low == &a ? &b : &a;
  char* from = static_cast<char*>(low->address()) + low->size() - 1;
  return {low, high, from, static_cast<size_t>(static_cast<char*>(high->address()) - from) + 1};
}

// A persist_fn range may run from one Map into another (the function pointers accept any range): a failure
// belongs to both files.
TEST_F(PagePersistenceTest, ARangeAcrossTwoMapsFailsBoth) {
  ScopedFd other_fd = CreateFile(dir_.Join("second"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> second = MapFd(other_fd.get());
  ASSERT_TRUE(second.ok()) << second.status();
  const Across r = RangeAcross(*map_, *second);
  msync_.FailWith({EIO});
  map_->persist_fn()(r.from, r.length);
  EXPECT_EQ(GetErrno(r.low->PersistError()), EIO);
  EXPECT_EQ(GetErrno(r.high->PersistError()), EIO);
}

// A sync whose range starts in one Map and runs into another holds up readers of the second one too, and of every
// other Map of the second one's file: the kernel may hand that file's write-back error to it, and a reader that
// skipped it could answer OK before it is recorded.
TEST_F(PagePersistenceTest, ASyncThatRunsIntoAnotherMapHoldsUpItsReaders) {
  ScopedFd other_fd = CreateFile(dir_.Join("second"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> second = MapFd(other_fd.get());
  ASSERT_TRUE(second.ok()) << second.status();
  const Across r = RangeAcross(*map_, *second);
  // Another Map of the file the sync runs into, outside the sync's range.
  absl::StatusOr<Map> third = MapFd(r.high == &*second ? other_fd.get() : fd_.get());
  ASSERT_TRUE(third.ok()) << third.status();
  const char* const third_at = static_cast<const char*>(third->address());
  ASSERT_TRUE(third_at + third->size() <= r.from || third_at >= r.from + r.length) << "placed inside the range";
  std::thread a = StartAHeldSync(*r.low, &SlowFailingMsync, &race_stage, r.from, r.length);
  std::atomic<bool> b_done{false}, c_done{false};
  absl::Status b_status, c_status;
  std::thread b = StartAWaitingReader([&] { b_status = r.high->PersistError(); }, &b_done);
  std::thread c = StartAWaitingReader([&] { c_status = third->PersistError(); }, &c_done);
  EXPECT_FALSE(b_done.load()) << "a reader of the Map the sync runs into answered while its failure was unrecorded";
  EXPECT_FALSE(c_done.load()) << "a reader of another Map of that file answered while the failure was unrecorded";
  race_stage = 2;
  a.join();
  b.join();
  c.join();
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(GetErrno(b_status), ENOSPC) << b_status;
  EXPECT_EQ(GetErrno(c_status), ENOSPC) << c_status;
  EXPECT_EQ(GetErrno(r.low->PersistError()), ENOSPC);
}

// msync syncs whole pages, and fsyncs the file of every shared mapping in them: a failed sync of bytes just before
// a Map adopted at an unaligned address, in its page, may have taken that Map's file's write-back error (the kernel
// hands it to the first sync of the file), so the Map reports it, and its readers wait for such a sync. Before, only
// Maps overlapping the bytes asked for were charged (this one was not: its PersistError() said OK, and so did its
// next persist, the error being taken), and its readers did not wait.
TEST_F(PagePersistenceTest, AFailedSyncBelongsToAMapInTheSamePage) {
  void* raw = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
  ASSERT_NE(raw, MAP_FAILED) << std::strerror(errno);
  const absl::Cleanup unmap = [raw] { munmap(raw, kPage); };
  char* const page = static_cast<char*>(raw);
  absl::StatusOr<Source> source = Source::FromFd(fd_.get());
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<Map> adopted = Map::FromExisting(*source, page + kPage / 2, kPage / 2, StoreGranularity::kPage);
  ASSERT_TRUE(adopted.ok()) << adopted.status();

  // A reader of the adopted Map waits for a sync of the page's first bytes...
  std::thread a = StartAHeldSync(*adopted, &SlowFailingMsync, &race_stage, page, 16);
  std::atomic<bool> b_done{false};
  absl::Status b_status;
  std::thread b = StartAWaitingReader([&] { b_status = adopted->PersistError(); }, &b_done);
  EXPECT_FALSE(b_done.load()) << "a reader of the Map answered while a failed sync of its page was unrecorded";
  race_stage = 2;
  a.join();
  b.join();
  map_internal::SetMsyncForTest(nullptr);
  // ...and the failure is the Map's.
  EXPECT_EQ(GetErrno(b_status), ENOSPC) << b_status;
  EXPECT_EQ(GetErrno(adopted->PersistError()), ENOSPC);
}

TEST_F(PagePersistenceTest, TheErrorMovesWithTheMap) {
  const absl::Span<char> bytes = map_->bytes();
  EXPECT_EQ(bytes.data(), map_->address());
  EXPECT_EQ(bytes.size(), map_->size());
  Map moved = std::move(*map_);
  EXPECT_EQ(moved.bytes(), bytes);
  EXPECT_TRUE(map_->bytes().empty());
  msync_.FailWith({EIO});
  moved.persist_fn()(at(0), 1);
  EXPECT_EQ(GetErrno(moved.PersistError()), EIO);
  EXPECT_TRUE(map_->PersistError().ok()) << "the moved-from Map maps nothing";
  EXPECT_EQ(GetErrorCode(map_->Persist(at(0), 1)), ErrorCode::kMapRange);
  EXPECT_EQ(GetErrorCode(map_->Drain()), ErrorCode::kMapRange);
  // The rest of map.h's promise for a moved-from Map: null function pointers, every Status method refused.
  EXPECT_EQ(map_->persist_fn(), nullptr);
  EXPECT_EQ(map_->flush_fn(), nullptr);
  EXPECT_EQ(map_->drain_fn(), nullptr);
  EXPECT_EQ(map_->memcpy_fn(), nullptr);
  EXPECT_EQ(map_->memmove_fn(), nullptr);
  EXPECT_EQ(map_->memset_fn(), nullptr);
  char buffer[8] = {};
  EXPECT_EQ(GetErrorCode(map_->Flush(at(0), 1)), ErrorCode::kMapRange);
  EXPECT_EQ(GetErrorCode(map_->Memcpy(at(0), buffer, 1)), ErrorCode::kMapRange);
  EXPECT_EQ(GetErrorCode(map_->Memmove(at(0), buffer, 1)), ErrorCode::kMapRange);
  EXPECT_EQ(GetErrorCode(map_->Memset(at(0), 0, 1)), ErrorCode::kMapRange);
  EXPECT_EQ(GetErrorCode(map_->DeepFlush(at(0), 1)), ErrorCode::kDeepFlushRange);
  EXPECT_EQ(GetErrorCode(map_->Persist(buffer, 0)), ErrorCode::kMapRange) << "not even 0 bytes anywhere";
}

// ClearPersistError() reads and clears at once: failures recorded by other threads while it runs are each either
// returned by one clear or still there for the next, never lost. Two threads fail syncs while a third clears, and
// every failure shows up once, counted: the first of each clear, plus its "N later failures".
TEST_F(PagePersistenceTest, ConcurrentClearsLoseNoFailure) {
  constexpr int kFailures = 4000;
  std::atomic<int> recorded{0};
  map_internal::SetMsyncForTest([](void*, size_t, int) {
    errno = EIO;
    return -1;
  });
  std::atomic<bool> stop{false};
  uint64_t seen = 0;
  std::thread clearer([&] {
    auto take = [&] {
      const absl::Status error = map_->ClearPersistError();
      if (error.ok()) return;
      ++seen;
      const std::string message(error.message());
      const size_t at = message.find(" later failure");
      if (at == std::string::npos) return;
      const size_t open = message.rfind('(', at);
      seen += std::stoull(message.substr(open + 1, at - open - 1));
    };
    while (!stop.load()) take();
    take();
  });
  std::vector<std::thread> failing;
  for (int t = 0; t < 2; ++t) {
    failing.emplace_back([&, t] {
      for (int i = 0; i < kFailures / 2; ++i) {
        map_->persist_fn()(at(t * kPage), 1);
        recorded.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : failing) thread.join();
  stop.store(true);
  clearer.join();
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(recorded.load(), kFailures);
  EXPECT_EQ(seen, static_cast<uint64_t>(kFailures)) << "failures lost or counted twice between clears";
}

TEST_F(PagePersistenceTest, StatusMethodsCheckTheRangeAndFlagsBeforeTouchingAnything) {
  char outside[8] = {};
  const size_t size = map_->size();
  for (absl::Status s : {map_->Persist(outside, 1), map_->Flush(at(0), size + 1), map_->Persist(at(size), 1),
                         map_->Memcpy(at(size - 1), "ab", 2), map_->Memset(at(0), 0, SIZE_MAX),
                         map_->Memmove(reinterpret_cast<char*>(base_ - 1), "a", 1)}) {
    EXPECT_EQ(GetErrorCode(s), ErrorCode::kMapRange) << s;
    EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
    EXPECT_THAT(std::string(s.message()), HasSubstr("is not inside this mapping"));
  }
  absl::Status flags = map_->Memset(at(0), 'z', 4, 1u << 7);
  EXPECT_EQ(GetErrorCode(flags), ErrorCode::kInvalidMemFlags);
  EXPECT_THAT(std::string(flags.message()), HasSubstr("0x80"));
  EXPECT_NE(*at(0), 'z');
  EXPECT_TRUE(msync_.Take().empty());
  EXPECT_TRUE(map_->Persist(at(size), 0).ok()) << "an empty range at the end is inside";
  EXPECT_TRUE(map_->Memcpy(at(size - 2), "ab", 2, kMemNonTemporal).ok());
}

// Every path, function pointer or Status method, records each injected errno with the right canonical code.
struct PathCase {
  const char* name;
  std::function<absl::Status(const Map&, char*)> run;
  bool returns_status;  // a Status method: it returns the failure (map.h), where a function pointer cannot
};

class EveryPathTest : public PagePersistenceTest, public ::testing::WithParamInterface<std::tuple<PathCase, int>> {};

TEST_P(EveryPathTest, RecordsTheFailure) {
  const PathCase& path = std::get<0>(GetParam());
  const int error_number = std::get<1>(GetParam());
  // EINTR is retried kMaxInterruptedSyncs times before it counts as a failure.
  const size_t calls = error_number == EINTR ? map_internal::kMaxInterruptedSyncs + 1 : 1;
  msync_.FailWith(std::vector<int>(calls, error_number));
  const uint64_t before = PersistErrorCount();
  absl::Status returned = path.run(*map_, at(kPage + 3));
  EXPECT_EQ(msync_.Take().size(), calls);
  EXPECT_EQ(PersistErrorCount(), before + 1);
  absl::Status sticky = map_->PersistError();
  EXPECT_EQ(GetErrno(sticky), error_number) << sticky;
  EXPECT_EQ(sticky.code(), error_number == EIO     ? absl::StatusCode::kDataLoss
                           : error_number == EINTR ? absl::ErrnoToStatusCode(EINTR)
                                                   : absl::StatusCode::kResourceExhausted);
  if (path.returns_status) {
    EXPECT_EQ(returned, sticky) << "a Status method returns the failure it met, as the sticky error";
  }
  EXPECT_EQ(PersistErrorAt(at(0)), sticky);
  EXPECT_TRUE(map_->Drain().code() == sticky.code());
  EXPECT_EQ(map_->ClearPersistError(), sticky);
  EXPECT_TRUE(map_->Persist(at(0), 1).ok());
}

const PathCase kPaths[] = {
    {"persist_fn",
     [](const Map& m, char* p) {
       m.persist_fn()(p, 8);
       return absl::OkStatus();
     },
     false},
    {"flush_fn",
     [](const Map& m, char* p) {
       m.flush_fn()(p, 8);
       return absl::OkStatus();
     },
     false},
    {"memcpy_fn",
     [](const Map& m, char* p) {
       m.memcpy_fn()(p, "abc", 3, 0);
       return absl::OkStatus();
     },
     false},
    {"memmove_fn",
     [](const Map& m, char* p) {
       m.memmove_fn()(p, p + 1, 3, kMemNoDrain);
       return absl::OkStatus();
     },
     false},
    {"memset_fn",
     [](const Map& m, char* p) {
       m.memset_fn()(p, 1, 3, kMemNonTemporal);
       return absl::OkStatus();
     },
     false},
    {"Persist", [](const Map& m, char* p) { return m.Persist(p, 8); }, true},
    {"Flush", [](const Map& m, char* p) { return m.Flush(p, 8); }, true},
    {"Memcpy", [](const Map& m, char* p) { return m.Memcpy(p, "abc", 3); }, true},
    {"Memmove", [](const Map& m, char* p) { return m.Memmove(p, p + 1, 3, kMemWb); }, true},
    {"Memset", [](const Map& m, char* p) { return m.Memset(p, 1, 3, kMemTemporal); }, true},
    {"MemcpyNoFlushThenPersist",
     [](const Map& m, char* p) {
       if (absl::Status s = m.Memcpy(p, "abc", 3, kMemNoFlush); !s.ok()) return s;
       return m.Persist(p, 3);
     },
     true},
};

INSTANTIATE_TEST_SUITE_P(
    InjectedErrors, EveryPathTest,
    ::testing::Combine(::testing::ValuesIn(kPaths), ::testing::Values(EIO, ENOSPC, EDQUOT, EINTR)),
    [](const ::testing::TestParamInfo<EveryPathTest::ParamType>& param_info) {
      const int e = std::get<1>(param_info.param);
      return absl::StrCat(std::get<0>(param_info.param).name, "_",
                          e == EIO ? "EIO" : e == ENOSPC ? "ENOSPC" : e == EDQUOT ? "EDQUOT" : "EINTR");
    });

// Byte and cache-line mappings cannot fail to persist; their Status methods report OK (with no other thread inside
// a page sync, they look nothing up but the Map's own flag and the sync slots).
TEST(CpuGranularityTest, StatusMethodsReportOk) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  Config config;
  config.set_required_store_granularity(StoreGranularity::kByte);
  absl::StatusOr<Map> map = Map::Create(config, *Source::Anonymous(kPage));
  ASSERT_TRUE(map.ok()) << map.status();
  char* p = static_cast<char*>(map->address());
  EXPECT_TRUE(map->Memcpy(p, "abc", 3).ok());
  EXPECT_TRUE(map->Memset(p + 3, 'd', 1, kMemNoDrain).ok());
  EXPECT_TRUE(map->Drain().ok());
  EXPECT_TRUE(map->Persist(p, 4).ok());
  EXPECT_EQ(std::string(p, 4), "abcd");
  EXPECT_EQ(GetErrorCode(map->Persist(p + kPage, 1)), ErrorCode::kMapRange);
}

// A persist of memory that no Map owns (a real msync failure: ENOMEM for an unmapped range) is kept process-wide
// and does not leak into any Map.
// A reader of the failures at an address outside every Map waits, as a Map's reader does, for a sync in flight over
// that address: the kernel may have handed it the file's write-back error (the application's own mapping of a
// file, synced through pmem_msync or a function pointer), and it records the failure there a moment later. (The
// sync held here succeeds: a failure outside every Map stays for the process, and other tests read that record.)
TEST_F(PagePersistenceTest, AReaderOutsideEveryMapWaitsForSyncsOverItsAddress) {
  void* outside = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(outside, MAP_FAILED);
  std::thread a = StartAHeldSync(*map_, &BlockingMsync, &blocked_stage, outside, 1);
  std::atomic<bool> b_done{false};
  std::thread b = StartAWaitingReader([&] { (void)PersistErrorAt(outside); }, &b_done);
  EXPECT_FALSE(b_done.load()) << "a reader of the address answered while a sync over it was in flight";
  blocked_stage = 2;
  a.join();
  b.join();
  map_internal::SetMsyncForTest(nullptr);
  EXPECT_TRUE(b_done.load());
  munmap(outside, kPage);
}

// The "(N later failures)" count of a recorded failure's message (0 without one), and the message before it.
size_t LaterFailures(const absl::Status& status) {
  const std::string message(status.message());
  if (message.find(" later failure") == std::string::npos) return 0;
  return std::stoul(message.substr(message.rfind(" (") + 2));
}
std::string WithoutLaterFailures(const absl::Status& status) {
  const std::string message(status.message());
  return message.find(" later failure") == std::string::npos ? message : message.substr(0, message.rfind(" ("));
}

TEST(PersistErrorAtTest, FailuresOutsideEveryMapAreKeptApart) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  void* hole = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(hole, MAP_FAILED);
  ASSERT_EQ(munmap(hole, kPage), 0);
  // The record outside every Map is the process's and keeps its first failure, counting later ones; another test
  // (ConcurrentMapsKeepTheirOwnErrors, in whatever order the tests run) may have put one there already.
  const absl::Status earlier = PersistErrorAt(hole);
  const uint64_t before = PersistErrorCount();
  map->persist_fn()(hole, 100);
  EXPECT_EQ(PersistErrorCount(), before + 1);
  absl::Status outside = PersistErrorAt(hole);
  EXPECT_EQ(GetErrno(outside), ENOMEM);
  if (earlier.ok()) {
    EXPECT_THAT(std::string(outside.message()), HasSubstr("persisting 100 bytes"));
    EXPECT_EQ(LaterFailures(outside), 0u) << outside;
  } else {
    EXPECT_EQ(GetErrno(outside), GetErrno(earlier));
    EXPECT_EQ(WithoutLaterFailures(outside), WithoutLaterFailures(earlier)) << "the first failure is kept";
    EXPECT_EQ(LaterFailures(outside), LaterFailures(earlier) + 1) << "this failure is counted there: " << outside;
  }
  EXPECT_TRUE(map->PersistError().ok());
  EXPECT_TRUE(PersistErrorAt(map->address()).ok());
}

// Maps are created, used and destroyed from many threads at once while failures are recorded: the registry
// keeps each failure with its own file (run under TSan in CI).
TEST(PersistErrorAtTest, ConcurrentMapsKeepTheirOwnErrors) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  ScopedTempDir dir("/dev/shm");
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ScopedFd fd = CreateFile(dir.Join("f" + std::to_string(t)), 16 * kPage, O_RDWR);
      for (int round = 0; round < 20; ++round) {
        absl::StatusOr<Map> map = MapFd(fd.get());
        if (!map.ok()) {
          ++failures;
          continue;
        }
        char* base = static_cast<char*>(map->address());
        if (!map->Memset(base, 'a' + t, 16 * kPage).ok()) ++failures;
        if (t == 0) {
          // Only thread 0 persists an unmapped range: recorded outside every Map.
          map->persist_fn()(base + (uintptr_t{1} << 46), 1);
          if (GetErrno(PersistErrorAt(base + (uintptr_t{1} << 46))) != ENOMEM) ++failures;
        }
        if (!map->PersistError().ok()) ++failures;
        if (base[16 * kPage - 1] != 'a' + t) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

// A record left in the registry by a mapping released with munmap(2) behind its Map's back (libpmem.h allows that
// for pmem_map_file) must not answer for a mapping the kernel places over its addresses later: here a larger one
// that begins below it. Negative control: with RegisterMap only adding the new record, IsPersistentMemory answered
// for the stale record, and the EIO was recorded on it, not on the new one, whose Persist() would then report OK.
// A Map part of whose range the application unmapped, the range then mapped again by other code (here: a
// reservation placed there): the Map can no longer vouch for its persists (ESTALE, for good: a failed sync of what is
// left of it would be recorded outside every Map), and destroying it leaves its range alone (before, it unmapped the
// new mapping's pages with its own).
TEST(MapRegistryTest, AMapWhoseRangeWasMappedAgainBehindItsBackLeavesItAlone) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  char* const hole = static_cast<char*>(map->address()) + 2 * kPage;
  ASSERT_EQ(munmap(hole, kPage), 0);
  absl::StatusOr<VmReservation> reservation = VmReservation::CreateAt(hole, kPage);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  const absl::Status error = map->Persist(map->address(), 1);
  EXPECT_EQ(GetErrno(error), ESTALE) << error;
  EXPECT_EQ(GetErrno(map->ClearPersistError()), ESTALE);
  EXPECT_EQ(GetErrno(map->PersistError()), ESTALE) << "no acknowledgement ends it";
  map = absl::InternalError("destroyed");
  EXPECT_EQ(ProtectionAt(hole), "---p") << "the Map's end unmapped the reservation's page";
}

// A reader that found a Map before its record was dropped as stale (an AsyncPersister's entry, a libpmem sync's
// MapExtent) gets that record's ESTALE wherever in the Map it asks, though no record holds the address now; one with
// no mark asks the address (nothing there). The drop counts as a failure (the marks' readers look then), and once
// the Map is gone its record is forgotten.
TEST(MapRegistryTest, AReaderThatFoundAMapBeforeItsRecordWasDroppedGetsItsEstale) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4 * kPage, O_RDWR);
  absl::StatusOr<Map> map = MapFd(fd.get());
  ASSERT_TRUE(map.ok()) << map.status();
  map_internal::MapExtent extent{};
  ASSERT_TRUE(map_internal::FirstMapInRange(map->address(), 0, &extent));
  char* const hole = static_cast<char*>(map->address()) + 2 * kPage;
  ASSERT_EQ(munmap(hole, kPage), 0);
  const uint64_t failures = PersistErrorCount();
  absl::StatusOr<VmReservation> reservation = VmReservation::CreateAt(hole, kPage);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  EXPECT_EQ(PersistErrorCount(), failures + 1);
  EXPECT_EQ(GetErrno(map_internal::ErrorForAddressSince(map->address(), extent)), ESTALE);
  EXPECT_EQ(GetErrno(map_internal::ErrorForAddressSince(hole, extent)), ESTALE);
  // (Failures outside every Map that other tests of this process recorded may answer there, never this ESTALE.)
  EXPECT_NE(GetErrno(map_internal::ErrorForAddress(map->address())), ESTALE) << "no record holds the address";
  map = absl::InternalError("destroyed");
  EXPECT_NE(GetErrno(map_internal::ErrorForAddressSince(hole, extent)), ESTALE) << "the record went with its Map";
}

// The same for a Map placed in a reservation: its end neither puts the reservation's placeholder back over the
// mapping now in the hole (a store there then reached anonymous memory, and a persist of it said OK) nor offers the
// range again (a lost hole).
TEST(MapRegistryTest, AMapInAReservationWhoseRangeWasMappedAgainBehindItsBackLeavesItAlone) {
  ScopedTempDir dir("/dev/shm");
  ScopedFd fd = CreateFile(dir.Join("f"), 4 * kPage, O_RDWR);
  ScopedFd other = CreateFile(dir.Join("g"), kPage, O_RDWR);
  absl::StatusOr<VmReservation> reservation = VmReservation::Create(4 * kPage);
  ASSERT_TRUE(reservation.ok()) << reservation.status();
  const Config config = PageConfigAt(*reservation);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok());
  absl::StatusOr<Map> map = Map::Create(config, *source);
  ASSERT_TRUE(map.ok()) << map.status();
  char* const hole = static_cast<char*>(map->address()) + 2 * kPage;
  ASSERT_EQ(munmap(hole, kPage), 0);
  absl::StatusOr<VmReservation> inner = VmReservation::CreateAt(hole, kPage);
  ASSERT_TRUE(inner.ok()) << inner.status();
  absl::StatusOr<Source> other_source = Source::FromFd(other.get());
  ASSERT_TRUE(other_source.ok());
  const Config inner_config = PageConfigAt(*inner);
  absl::StatusOr<Map> newcomer = Map::Create(inner_config, *other_source);
  ASSERT_TRUE(newcomer.ok()) << newcomer.status();
  EXPECT_EQ(GetErrno(map->PersistError()), ESTALE);
  map = absl::InternalError("destroyed");
  EXPECT_EQ(ProtectionAt(hole), "rw-s") << "the reservation's placeholder went back over the newcomer's page";
  EXPECT_EQ(reservation->map_count(), 0u) << "a lost hole counts as no Map";
  Config again = config;
  again.set_vm_reservation(&*reservation, 0);
  EXPECT_FALSE(Map::Create(again, *source).ok()) << "the lost range was offered to a Map";
}

TEST(MapRegistryTest, AMappingPlacedOverAStaleRecordAnswersForItsAddresses) {
  // Addresses that no other mapping of the process can take while the test runs: a PROT_NONE mapping of its own.
  void* area = mmap(nullptr, 8 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(area, MAP_FAILED);
  const uintptr_t base = reinterpret_cast<uintptr_t>(area);
  map_internal::FileIdentity old_file, new_file;
  old_file.valid = new_file.valid = true;
  old_file.device = new_file.device = 1;
  old_file.inode = 1001;
  new_file.inode = 1002;
  map_internal::MapRecord stale(base + 2 * kPage, 4 * kPage, old_file);
  stale.set_cpu_persistent(true);
  map_internal::RegisterMap(&stale);
  EXPECT_TRUE(IsPersistentMemory(reinterpret_cast<void*>(base + 3 * kPage), kPage));
  map_internal::MapRecord fresh(base, 8 * kPage, new_file);  // page granularity: not CPU-persistent
  map_internal::RegisterMap(&fresh);
  EXPECT_FALSE(IsPersistentMemory(reinterpret_cast<void*>(base + 3 * kPage), kPage));
  map_internal::RecordPersistFailure(reinterpret_cast<void*>(base + 3 * kPage), 8, EIO, /*caller_sees_result=*/false);
  EXPECT_EQ(GetErrno(fresh.TakeError()), EIO);
  // Not the new mapping's EIO, but its own drop, which no acknowledgement ends: what is left of its mapping has no
  // record in the index any more.
  const absl::Status dropped = stale.TakeError();
  EXPECT_EQ(GetErrno(dropped), ESTALE) << dropped;
  EXPECT_THAT(std::string(dropped.message()), HasSubstr("unmapped behind pmem2's back"));
  EXPECT_THAT(std::string(dropped.message()), ::testing::Not(HasSubstr("later failure"))) << "the EIO is not its";
  EXPECT_EQ(GetErrno(stale.TakeError()), ESTALE) << "acknowledged away";
  map_internal::UnregisterMap(&stale);  // gone from the index already: leaves the new record there
  map_internal::RecordPersistFailure(reinterpret_cast<void*>(base + 7 * kPage), 8, EIO, /*caller_sees_result=*/false);
  EXPECT_EQ(GetErrno(fresh.TakeError()), EIO) << "the new record left the index with the stale one";
  map_internal::UnregisterMap(&fresh);
  munmap(area, 8 * kPage);
}

}  // namespace
}  // namespace pmem2
