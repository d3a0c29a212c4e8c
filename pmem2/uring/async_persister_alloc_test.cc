// Copyright 2026 The pmem2 Authors.
//
// The header's promise that queueing, submitting and completing an operation allocates nothing, on either backend,
// checked by counting the global operator new (replaced in this binary only, so the other tests keep the real
// one); and that a failure is recorded, and the engine goes on, when memory for its message runs out.

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "absl/types/optional.h"
#include "gtest/gtest.h"
#include "pmem2/pmem2.h"
#include "pmem2/uring/async_persister.h"
#include "pmem2/uring/fault_injection_for_test.h"
#include "testing/scratch_fs.h"
#include "testing/temp_files.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
std::atomic<bool> out_of_memory{false};  // every allocation fails
}  // namespace

void* operator new(size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (out_of_memory.load(std::memory_order_relaxed)) throw std::bad_alloc();
  void* p = std::malloc(size != 0 ? size : 1);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
// GCC 12 at -O2 inlines these into callers that got their pointer from the operator new above and then warns that
// free() is given memory from "new", which is exactly the pairing this replacement makes.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11  // the warning is new in GCC 11
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic pop
#endif

namespace pmem2 {
namespace {

std::string DiskBase() {
  for (const testing::FileSystem& fs : testing::TestFileSystems()) {
    if (fs.name == "disk") return fs.base;
  }
  return "/var/tmp";
}

// A page-granularity Map of a 1 MiB file on the disk, and an engine of the test's backend for it; for the CPU
// backend, the Map forced to cache-line granularity.
class AsyncPersisterAllocTest : public ::testing::TestWithParam<AsyncBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == AsyncBackend::kIoUring && !ProbeIoUring().available) {
      GTEST_SKIP() << "io_uring is not available here: " << ProbeIoUring().detail;
    }
    if (GetParam() == AsyncBackend::kCpu) force_.emplace("PMEM2_FORCE_GRANULARITY", std::string("cache_line"));
    fd_ = testing::CreateFile(dir_.Join("file"), 1 << 20, O_RDWR);
    absl::StatusOr<Source> source = Source::FromFd(fd_.get());
    ASSERT_TRUE(source.ok()) << source.status();
    source_.emplace(*std::move(source));
    Config config;
    config.set_required_store_granularity(StoreGranularity::kPage);
    absl::StatusOr<Map> map = Map::Create(config, *source_);
    ASSERT_TRUE(map.ok()) << map.status();
    map_.emplace(*std::move(map));
    AsyncOptions options;
    options.allow_io_uring = GetParam() == AsyncBackend::kIoUring;
    absl::StatusOr<AsyncPersister> persister = AsyncPersister::Create(*map_, *source_, options);
    ASSERT_TRUE(persister.ok()) << persister.status();
    ASSERT_EQ(persister->backend(), GetParam());
    persister_.emplace(*std::move(persister));
  }
  char* base() const { return static_cast<char*>(map_->address()); }

  testing::ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  absl::optional<testing::ScopedEnv> force_;
  testing::ScopedTempDir dir_{DiskBase()};
  testing::ScopedFd fd_;
  absl::optional<Source> source_;
  absl::optional<Map> map_;
  absl::optional<AsyncPersister> persister_;
};

INSTANTIATE_TEST_SUITE_P(Backends, AsyncPersisterAllocTest,
                         ::testing::Values(AsyncBackend::kIoUring, AsyncBackend::kSynchronous, AsyncBackend::kCpu),
                         [](const ::testing::TestParamInfo<AsyncBackend>& backend) {
                           return std::string(AsyncBackendName(backend.param));
                         });

TEST_P(AsyncPersisterAllocTest, SteadyStateOperationsAllocateNothing) {
  AsyncPersister* persister = &*persister_;
  char* base = this->base();
  const char record[] = "record";
  Completion persist, copy, barrier;
  for (int round = 0; round < 103; ++round) {
    if (round == 3) counting = true;  // after warming up (first use of the ring, lazily made statics)
    base[round * 64] = 1;
    ASSERT_TRUE(persister->Persist(base + round * 64, 8, &persist).ok());
    ASSERT_TRUE(persister->Copy(base + 4096 + round * 64, record, sizeof record, &copy).ok());
    ASSERT_TRUE(persister->Barrier(&barrier).ok());
    // Submitted first in every other round: io_uring's path (submission, reaping, completions) as well as the
    // system calls a waiting caller makes with nothing in the ring (Wait() alone never used the ring).
    if (round % 2 == 0) {
      ASSERT_TRUE(persister->Submit().ok());
    }
    ASSERT_TRUE(persister->Wait(barrier).ok()) << barrier.status();
    ASSERT_TRUE(persister->Poll() == 0 && persister->WaitAll().ok());
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0)
      << "allocations in 100 rounds of Persist, Copy, Barrier, Submit (half of them), Wait, Poll, WaitAll";
}

// A data sync fails (EIO) and from that moment every allocation fails: the failure is on the Map (read once memory is
// back), the operations complete with it, a barrier fails, what was held behind it is aborted, and nothing throws out
// of the engine's calls or its destructor (noexcept: before, the messages were made first, so a std::bad_alloc lost
// the kernel's one report of the failure and then ended the process there).
TEST_P(AsyncPersisterAllocTest, AFailureWithNoMemoryForItsMessageIsStillRecordedAndReported) {
  if (GetParam() == AsyncBackend::kCpu) GTEST_SKIP() << "the CPU backend makes no data sync that could fail";
  absl::optional<AsyncPersister>& persister = persister_;
  absl::optional<Map>& map = map_;
  uring_internal::FaultInjection eio;
  eio.rewrite_result = [](void*, uring_internal::KernelOp op, int result, uint32_t) {
    if (op != uring_internal::KernelOp::kSync) return result;
    out_of_memory = true;
    return -EIO;
  };
  uring_internal::SetFaultInjectionForTest(*persister, &eio);
  char* base = this->base();
  const char record[] = "record";
  Completion persist, barrier, held, copied_later;
  base[0] = 1;
  ASSERT_TRUE(persister->Persist(base, 8, &persist).ok());
  ASSERT_TRUE(persister->Barrier(&barrier).ok());
  ASSERT_TRUE(persister->Persist(base + 4096, 8, &held).ok());
  ASSERT_TRUE(persister->Submit().ok());  // io_uring: the failure comes back as a completion
  const absl::Status waited = persister->Wait(barrier);  // the sync fails in here, and memory with it
  ASSERT_TRUE(persister->Copy(base + 8192, record, sizeof record, &copied_later).ok());
  persister.reset();  // the destructor runs what is queued, still without memory
  out_of_memory = false;
  EXPECT_EQ(waited.code(), absl::StatusCode::kDataLoss) << waited;
  EXPECT_EQ(persist.status().code(), absl::StatusCode::kDataLoss) << persist.status();
  EXPECT_EQ(barrier.status().code(), absl::StatusCode::kDataLoss) << barrier.status();
  EXPECT_EQ(held.status().code(), absl::StatusCode::kAborted) << held.status();
  EXPECT_EQ(copied_later.status().code(), absl::StatusCode::kAborted) << copied_later.status();
  EXPECT_TRUE(persist.done() && barrier.done() && held.done() && copied_later.done());
  EXPECT_EQ(map->PersistError().code(), absl::StatusCode::kDataLoss) << "the failure was not recorded on the Map";
  EXPECT_TRUE(map->ClearPersistError().code() == absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace pmem2
