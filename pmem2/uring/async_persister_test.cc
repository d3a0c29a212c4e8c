// Copyright 2026 The pmem2 Authors.
//
// Tests of pmem2/uring/async_persister.h: every promise of the header, on both page-granularity backends
// (io_uring and synchronous) and the CPU path, with kernel results injected (EIO, ENOSPC, EINTR, short writes, a
// full ring), a real failing disk (ext4 on a loop device that runs out), the kernel's page flags as proof that
// a ranged sync writes back only its range, and io_uring refused by a seccomp filter.

#include "pmem2/uring/async_persister.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "pmem2/pmem2.h"
#include "pmem2/uring/fault_injection_for_test.h"
#include "testing/child_process.h"
#include "testing/scratch_fs.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace {

using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::uring_internal::FaultInjection;
using ::pmem2::uring_internal::KernelOp;
using ::pmem2::uring_internal::SetFaultInjectionForTest;
using ::testing::HasSubstr;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
constexpr size_t kMiB = size_t{1} << 20;

std::string DiskBase() {
  for (const testing::FileSystem& fs : testing::TestFileSystems()) {
    if (fs.name == "disk") return fs.base;
  }
  return "/var/tmp";
}

// A file on the disk, a page-granularity Map of it, and its Source.
struct MappedFile {
  std::unique_ptr<ScopedTempDir> dir;
  std::string path;
  ScopedFd fd;
  absl::optional<Source> source;
  absl::optional<Map> map;
};

std::unique_ptr<MappedFile> MapDiskFile(size_t size, StoreGranularity required = StoreGranularity::kPage,
                                        const std::string& base = DiskBase()) {
  auto file = std::make_unique<MappedFile>();
  file->dir = std::make_unique<ScopedTempDir>(base);
  file->path = file->dir->Join("file");
  file->fd = testing::CreateFile(file->path, size, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(file->fd.get());
  EXPECT_TRUE(source.ok()) << source.status();
  if (!source.ok()) return nullptr;
  file->source = std::move(*source);
  Config config;
  config.set_required_store_granularity(required);
  config.set_fully_allocated(true);
  absl::StatusOr<Map> map = Map::Create(config, *file->source);
  EXPECT_TRUE(map.ok()) << map.status();
  if (!map.ok()) return nullptr;
  file->map = std::move(*map);
  return file;
}

std::string ReadFile(int fd, uint64_t offset, size_t size) {
  std::string data(size, '\0');
  EXPECT_EQ(pread(fd, data.data(), size, static_cast<off_t>(offset)), static_cast<ssize_t>(size));
  return data;
}

// Counts and rewrites kernel results, and records their order.
struct Injector {
  FaultInjection hooks;
  std::vector<std::pair<KernelOp, int>> seen;  // the real results, in order
  std::function<int(KernelOp, int, uint32_t)> rewrite;
  std::function<bool()> full;

  Injector() {
    hooks.context = this;
    hooks.rewrite_result = [](void* context, KernelOp op, int result, uint32_t requested) {
      auto* self = static_cast<Injector*>(context);
      self->seen.emplace_back(op, result);
      return self->rewrite ? self->rewrite(op, result, requested) : result;
    };
    hooks.ring_full = [](void* context) {
      auto* self = static_cast<Injector*>(context);
      return self->full ? self->full() : false;
    };
  }
  int Count(KernelOp op) const {
    int n = 0;
    for (const auto& [kind, result] : seen) n += kind == op;
    return n;
  }
};

// ---------------------------------------------------------------------------------------------------------------
// Both page-granularity backends.

class AsyncPersisterTest : public ::testing::TestWithParam<AsyncBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == AsyncBackend::kIoUring && !ProbeIoUring().available) {
      GTEST_SKIP() << "io_uring is not available here: " << ProbeIoUring().detail;
    }
    file_ = MapDiskFile(4 * kMiB);
    ASSERT_NE(file_, nullptr);
    ASSERT_EQ(file_->map->store_granularity(), StoreGranularity::kPage);
    absl::StatusOr<AsyncPersister> persister = NewPersister();
    ASSERT_TRUE(persister.ok()) << persister.status();
    persister_.emplace(std::move(*persister));
    ASSERT_EQ(persister_->backend(), GetParam());
    SetFaultInjectionForTest(*persister_, &injector_.hooks);
  }
  void TearDown() override {
    // Tests that inject failures acknowledge them; whatever is left must still complete.
    if (persister_.has_value()) persister_->WaitAll().IgnoreError();
    persister_.reset();
  }
  char* base() const { return static_cast<char*>(file_->map->address()); }
  // Another engine of the test's backend for the test's Map, e.g. of another queue depth.
  absl::StatusOr<AsyncPersister> NewPersister(unsigned queue_depth = 16) const {
    AsyncOptions options;
    options.allow_io_uring = GetParam() == AsyncBackend::kIoUring;
    options.queue_depth = queue_depth;
    return AsyncPersister::Create(*file_->map, *file_->source, options);
  }
  // Makes another engine of the file see an EIO on a data sync and acknowledge only its own failure: the Maps'
  // sticky error stays, as after a failure seen by another thread's engine or a Map::Persist().
  void FailAWriteBackThroughAnotherEngine() {
    absl::StatusOr<AsyncPersister> other = NewPersister();
    ASSERT_TRUE(other.ok()) << other.status();
    Injector eio;
    eio.rewrite = [](KernelOp op, int result, uint32_t) { return op == KernelOp::kSync ? -EIO : result; };
    SetFaultInjectionForTest(*other, &eio.hooks);
    Completion done;
    ASSERT_TRUE(other->Persist(base(), 8, &done).ok());
    ASSERT_EQ(other->Wait(done).code(), absl::StatusCode::kDataLoss) << done.status();
    other->ClearFailure().IgnoreError();
    ASSERT_EQ(file_->map->PersistError().code(), absl::StatusCode::kDataLoss);
  }

  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  std::unique_ptr<MappedFile> file_;
  Injector injector_;
  absl::optional<AsyncPersister> persister_;
};

std::string BackendName(const ::testing::TestParamInfo<AsyncBackend>& info) {
  return AsyncBackendName(info.param);
}

INSTANTIATE_TEST_SUITE_P(Backends, AsyncPersisterTest,
                         ::testing::Values(AsyncBackend::kIoUring, AsyncBackend::kSynchronous), BackendName);

TEST_P(AsyncPersisterTest, PersistsAndBarrierSucceedAndTheDataIsInTheFile) {
  std::vector<Completion> done(8);
  for (int i = 0; i < 8; ++i) {
    std::memset(base() + i * kPage, 'a' + i, kPage);
    ASSERT_TRUE(persister_->Persist(base() + i * kPage, kPage, &done[i]).ok());
  }
  Completion barrier;
  ASSERT_TRUE(persister_->Barrier(&barrier).ok());
  EXPECT_TRUE(persister_->Wait(barrier).ok()) << barrier.status();
  for (int i = 0; i < 8; ++i) {
    EXPECT_TRUE(done[i].done());
    EXPECT_TRUE(done[i].status().ok()) << done[i].status();
    EXPECT_EQ(ReadFile(file_->fd.get(), i * kPage, kPage), std::string(kPage, 'a' + i));
  }
  EXPECT_EQ(persister_->in_flight(), 0u);
  EXPECT_TRUE(persister_->Failure().ok());
}

TEST_P(AsyncPersisterTest, AdjacentAndOverlappingPersistsBecomeOneDataSync) {
  for (int i = 0; i < 7; ++i) {  // 14 operations and the barrier: one queue-full (16)
    base()[i * kPage] = 1;
    ASSERT_TRUE(persister_->Persist(base() + i * kPage, kPage).ok());
    ASSERT_TRUE(persister_->Persist(base() + i * kPage + 10, 100).ok());  // overlaps
  }
  Completion barrier;
  ASSERT_TRUE(persister_->Barrier(&barrier).ok());
  ASSERT_TRUE(persister_->Wait(barrier).ok()) << barrier.status();
  EXPECT_EQ(injector_.Count(KernelOp::kSync), 1) << "14 ranges over 7 adjacent pages";
}

TEST_P(AsyncPersisterTest, ScatteredPersistsOfABatchBecomeOneDataSyncOfTheirSpan) {
  for (size_t page : {900, 3, 517, 64, 1000}) {
    base()[page * kPage + 7] = 2;
    ASSERT_TRUE(persister_->Persist(base() + page * kPage + 7, 1).ok());
  }
  EXPECT_EQ(persister_->WaitAll(), absl::OkStatus());
  EXPECT_EQ(injector_.Count(KernelOp::kSync), 1);
}

TEST_P(AsyncPersisterTest, ACopyIsAWriteThenASyncAndTheMapShowsIt) {
  std::string record(3 * kPage + 123, 'r');
  for (size_t i = 0; i < record.size(); ++i) record[i] = static_cast<char>('a' + i % 26);
  Completion done;
  ASSERT_TRUE(persister_->Copy(base() + 5000, record.data(), record.size(), &done).ok());
  EXPECT_TRUE(persister_->Wait(done).ok()) << done.status();
  EXPECT_EQ(std::string(base() + 5000, record.size()), record) << "the page cache is shared with the Map";
  EXPECT_EQ(ReadFile(file_->fd.get(), 5000, record.size()), record);
  EXPECT_EQ(injector_.Count(KernelOp::kWrite), 1);
  EXPECT_EQ(injector_.Count(KernelOp::kSync), 1);
}

TEST_P(AsyncPersisterTest, ManyCopiesOfABatchShareOneSync) {
  std::vector<std::string> records;
  for (int i = 0; i < 64; ++i) records.push_back(std::string(kPage, static_cast<char>('A' + i % 26)));
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(persister_->Copy(base() + i * kPage, records[i].data(), kPage).ok());
  Completion barrier;
  ASSERT_TRUE(persister_->Barrier(&barrier).ok());
  ASSERT_TRUE(persister_->Wait(barrier).ok()) << barrier.status();
  EXPECT_EQ(injector_.Count(KernelOp::kWrite), 64);
  // The queue holds 16: at most one sync per queue-full of copies, not one per copy.
  EXPECT_LE(injector_.Count(KernelOp::kSync), 64 / 16 + 1);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(ReadFile(file_->fd.get(), i * kPage, kPage), records[i]);
}

TEST_P(AsyncPersisterTest, AShortWriteContinuesWhereItStopped) {
  injector_.rewrite = [](KernelOp op, int result, uint32_t requested) {
    // The kernel wrote everything; pretend it wrote a third (at least 1 byte), so the engine writes the rest.
    if (op == KernelOp::kWrite && result > 0 && requested > 3) return static_cast<int>(requested / 3);
    return result;
  };
  std::string record(10000, 'x');
  for (size_t i = 0; i < record.size(); ++i) record[i] = static_cast<char>(i * 7);
  Completion done;
  ASSERT_TRUE(persister_->Copy(base() + 100, record.data(), record.size(), &done).ok());
  ASSERT_TRUE(persister_->Wait(done).ok()) << done.status();
  EXPECT_EQ(ReadFile(file_->fd.get(), 100, record.size()), record);
  EXPECT_GT(injector_.Count(KernelOp::kWrite), 3);
}

TEST_P(AsyncPersisterTest, InterruptedSyncsAndWritesAreRetried) {
  int interrupted = 0;
  injector_.rewrite = [&](KernelOp op, int result, uint32_t) {
    if (interrupted < 6) {
      ++interrupted;
      return op == KernelOp::kSync ? -EINTR : -EAGAIN;
    }
    return result;
  };
  std::string record(100, 'q');
  Completion copy, persist;
  ASSERT_TRUE(persister_->Copy(base(), record.data(), record.size(), &copy).ok());
  ASSERT_TRUE(persister_->Persist(base() + kPage, 8, &persist).ok());
  EXPECT_TRUE(persister_->Wait(copy).ok()) << copy.status();
  EXPECT_TRUE(persister_->Wait(persist).ok()) << persist.status();
  EXPECT_EQ(interrupted, 6);
  EXPECT_TRUE(persister_->Failure().ok());
}

TEST_P(AsyncPersisterTest, ASyncInterruptedForeverFailsInsteadOfHanging) {
  injector_.rewrite = [](KernelOp op, int result, uint32_t) { return op == KernelOp::kSync ? -EINTR : result; };
  Completion done;
  ASSERT_TRUE(persister_->Persist(base(), 8, &done).ok());
  EXPECT_EQ(GetErrno(persister_->Wait(done)), EINTR) << done.status();
  EXPECT_EQ(injector_.Count(KernelOp::kSync), 17) << "16 retries, as Map::Persist";
  EXPECT_FALSE(file_->map->PersistError().ok());
  file_->map->ClearPersistError().IgnoreError();
}

TEST_P(AsyncPersisterTest, AWriteThatMakesNoProgressFails) {
  injector_.rewrite = [](KernelOp op, int result, uint32_t) { return op == KernelOp::kWrite ? 0 : result; };
  char byte = 1;
  Completion done;
  ASSERT_TRUE(persister_->Copy(base(), &byte, 1, &done).ok());
  EXPECT_EQ(GetErrno(persister_->Wait(done)), EIO) << done.status();
  file_->map->ClearPersistError().IgnoreError();
}

TEST_P(AsyncPersisterTest, AWriteThatClaimsMoreThanAskedIsAFailure) {
  injector_.rewrite = [](KernelOp op, int result, uint32_t requested) {
    return op == KernelOp::kWrite ? static_cast<int>(requested) + 1 : result;
  };
  char byte = 1;
  Completion done;
  ASSERT_TRUE(persister_->Copy(base(), &byte, 1, &done).ok());
  EXPECT_EQ(GetErrno(persister_->Wait(done)), EIO) << done.status();
  file_->map->ClearPersistError().IgnoreError();
}

// The whole failure story: an EIO on a sync reaches the operation, the engine, the Map's sticky error and the
// barrier; operations behind the failed barrier never run (the tail is not written); after the application
// acknowledges, the engine runs again.
TEST_P(AsyncPersisterTest, AFailedSyncFailsItsOperationsTheBarrierAndAbortsWhatFollows) {
  injector_.rewrite = [](KernelOp op, int result, uint32_t) { return op == KernelOp::kSync ? -EIO : result; };
  std::memset(base() + kPage, 'R', 100);
  Completion record, barrier, tail, second_barrier;
  ASSERT_TRUE(persister_->Persist(base() + kPage, 100, &record).ok());
  ASSERT_TRUE(persister_->Barrier(&barrier).ok());
  const uint64_t new_tail = 100;
  ASSERT_TRUE(persister_->Copy(base(), &new_tail, sizeof new_tail, &tail).ok());
  ASSERT_TRUE(persister_->Barrier(&second_barrier).ok());
  if (GetParam() == AsyncBackend::kIoUring) {
    EXPECT_FALSE(tail.done()) << "held behind the barrier";
  }  // synchronously, Barrier() ran the persist and failed already: the Copy was aborted as it was queued

  EXPECT_EQ(persister_->Wait(second_barrier).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(record.status().code(), absl::StatusCode::kDataLoss) << record.status();
  EXPECT_EQ(GetErrno(record.status()), EIO);
  EXPECT_EQ(barrier.status().code(), absl::StatusCode::kDataLoss) << barrier.status();
  EXPECT_EQ(tail.status().code(), absl::StatusCode::kAborted) << tail.status();
  EXPECT_THAT(std::string(tail.status().message()), HasSubstr("barrier failed"));
  EXPECT_EQ(ReadFile(file_->fd.get(), 0, 8), std::string(8, '\0')) << "the tail was never written";
  EXPECT_EQ(injector_.Count(KernelOp::kWrite), 0);
  EXPECT_EQ(persister_->Failure().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(file_->map->PersistError().code(), absl::StatusCode::kDataLoss) << "recorded on the Map too";

  // Still failed: a new operation is aborted, not run.
  Completion later;
  ASSERT_TRUE(persister_->Persist(base(), 8, &later).ok());
  EXPECT_EQ(persister_->Wait(later).code(), absl::StatusCode::kAborted);

  // Acknowledged: the engine works again.
  injector_.rewrite = nullptr;
  EXPECT_EQ(persister_->ClearFailure().code(), absl::StatusCode::kDataLoss);
  EXPECT_FALSE(file_->map->ClearPersistError().ok());
  Completion again, final_barrier;
  ASSERT_TRUE(persister_->Copy(base(), &new_tail, sizeof new_tail, &again).ok());
  ASSERT_TRUE(persister_->Barrier(&final_barrier).ok());
  EXPECT_TRUE(persister_->Wait(final_barrier).ok()) << final_barrier.status();
  EXPECT_TRUE(again.status().ok()) << again.status();
  EXPECT_EQ(ReadFile(file_->fd.get(), 0, 8), std::string(reinterpret_cast<const char*>(&new_tail), 8));
}

TEST_P(AsyncPersisterTest, ENOSPCOnAWriteIsResourceExhaustedAndAnOperationWithoutCompletionReachesTheBarrier) {
  injector_.rewrite = [](KernelOp op, int result, uint32_t) { return op == KernelOp::kWrite ? -ENOSPC : result; };
  char data[64] = {1};
  ASSERT_TRUE(persister_->Copy(base(), data, sizeof data).ok());  // no Completion: fire and forget
  Completion barrier;
  ASSERT_TRUE(persister_->Barrier(&barrier).ok());
  EXPECT_EQ(persister_->Wait(barrier).code(), absl::StatusCode::kResourceExhausted) << barrier.status();
  EXPECT_EQ(GetErrno(persister_->Failure()), ENOSPC);
  EXPECT_EQ(GetErrno(file_->map->PersistError()), ENOSPC);
  persister_->ClearFailure().IgnoreError();
  file_->map->ClearPersistError().IgnoreError();
}

TEST_P(AsyncPersisterTest, OperationsQueuedBeforeAFailureStillRunAndReportTheirOwnResults) {
  int syncs = 0;
  injector_.rewrite = [&](KernelOp op, int result, uint32_t) {
    return op == KernelOp::kSync && syncs++ == 0 ? -EIO : result;
  };
  Completion first, second;
  ASSERT_TRUE(persister_->Persist(base(), 8, &first).ok());
  ASSERT_TRUE(persister_->Submit().ok());
  ASSERT_TRUE(persister_->Wait(first).code() == absl::StatusCode::kDataLoss) << first.status();
  // Not behind a barrier: it runs; its own sync succeeds, but the file's failure is not forgotten.
  ASSERT_TRUE(persister_->Persist(base() + kPage, 8, &second).ok());
  EXPECT_EQ(persister_->Wait(second).code(), absl::StatusCode::kDataLoss)
      << "OK would claim durability that the Map's sticky error denies";
  EXPECT_EQ(syncs, 2) << "it ran";
  persister_->ClearFailure().IgnoreError();
  file_->map->ClearPersistError().IgnoreError();
}

TEST_P(AsyncPersisterTest, AFullRingNeverLosesAnOperation) {
  std::mt19937 random(7);
  injector_.full = [&] { return random() % 2 == 0; };
  std::vector<Completion> done(200);
  std::vector<std::string> records;
  for (int i = 0; i < 200; ++i) records.push_back(std::string(100, static_cast<char>(i)));
  for (int i = 0; i < 200; ++i) {
    if (i % 3 == 0) {
      ASSERT_TRUE(persister_->Copy(base() + i * 128, records[i].data(), 100, &done[i]).ok());
    } else {
      std::memcpy(base() + i * 128, records[i].data(), 100);
      ASSERT_TRUE(persister_->Persist(base() + i * 128, 100, &done[i]).ok());
    }
    if (i % 50 == 49) {
      ASSERT_TRUE(persister_->Barrier().ok());
    }
  }
  EXPECT_TRUE(persister_->WaitAll().ok());
  for (int i = 0; i < 200; ++i) {
    EXPECT_TRUE(done[i].done() && done[i].status().ok()) << i << ": " << done[i].status();
    EXPECT_EQ(ReadFile(file_->fd.get(), i * 128, 100), records[i]) << i;
  }
}

TEST_P(AsyncPersisterTest, BackPressureBoundsTheQueue) {
  size_t most = 0;
  std::vector<Completion> done(500);
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE(persister_->Persist(base() + (i % 1000) * kPage, 8, &done[i]).ok());
    most = std::max(most, persister_->in_flight());
    if (i % 100 == 0) {
      ASSERT_TRUE(persister_->Barrier().ok());
    }
  }
  EXPECT_TRUE(persister_->WaitAll().ok());
  EXPECT_LE(most, 16u);
  for (const Completion& c : done) EXPECT_TRUE(c.done() && c.status().ok());
}

TEST_P(AsyncPersisterTest, CallbacksRunOnceInCompletionOrderAndPollReapsWithoutBlocking) {
  struct Log {
    std::vector<int> order;
  } log;
  std::vector<std::unique_ptr<Completion>> done;
  for (int i = 0; i < 10; ++i) {
    done.push_back(std::make_unique<Completion>(
        [](Completion& c) { static_cast<Log*>(c.user_data)->order.push_back(1); }, &log));
    ASSERT_TRUE(persister_->Persist(base() + i * kPage, 8, done.back().get()).ok());
  }
  Completion barrier([](Completion& c) { static_cast<Log*>(c.user_data)->order.push_back(2); }, &log);
  ASSERT_TRUE(persister_->Barrier(&barrier).ok());
  size_t polled = 0;
  for (int spins = 0; !barrier.done() && spins < 1000000; ++spins) polled += persister_->Poll();
  ASSERT_TRUE(barrier.done());
  // Barrier() only queues: Poll() started and reaped everything, on both backends.
  EXPECT_EQ(polled, 11u);
  EXPECT_EQ(log.order, std::vector<int>({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}));
}

TEST_P(AsyncPersisterTest, AnOperationAfterABarrierStartsOnlyOnceTheBarrierCompleted) {
  std::vector<KernelOp> order;
  injector_.rewrite = [&](KernelOp op, int result, uint32_t) {
    order.push_back(op);
    return result;
  };
  base()[0] = 'r';
  ASSERT_TRUE(persister_->Persist(base(), 1).ok());
  ASSERT_TRUE(persister_->Barrier().ok());
  const char tail = 't';
  ASSERT_TRUE(persister_->Copy(base() + kPage, &tail, 1).ok());
  ASSERT_TRUE(persister_->WaitAll().ok());
  EXPECT_EQ(order, std::vector<KernelOp>({KernelOp::kSync, KernelOp::kWrite, KernelOp::kSync}));
}

TEST_P(AsyncPersisterTest, ErrorsNameTheBadValueAndNothingIsQueued) {
  int outside = 0;
  EXPECT_EQ(GetErrorCode(persister_->Persist(&outside, 4)), ErrorCode::kMapRange);
  EXPECT_EQ(GetErrorCode(persister_->Persist(base() + file_->map->size() - 4, 5)), ErrorCode::kMapRange);
  EXPECT_EQ(GetErrorCode(persister_->Copy(base() - 1, &outside, 4)), ErrorCode::kMapRange);
  EXPECT_EQ(persister_->Copy(base(), nullptr, 4).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(persister_->in_flight(), 0u);

  Completion used;
  ASSERT_TRUE(persister_->Persist(base(), 1, &used).ok());
  if (!used.done()) {
    EXPECT_EQ(persister_->Persist(base(), 1, &used).code(), absl::StatusCode::kFailedPrecondition);
  }
  EXPECT_TRUE(persister_->Wait(used).ok());
  EXPECT_TRUE(persister_->Persist(base(), 1, &used).ok()) << "a done Completion may be used again";
  EXPECT_TRUE(persister_->Wait(used).ok());

  Completion never;
  EXPECT_EQ(persister_->Wait(never).code(), absl::StatusCode::kFailedPrecondition);

  Completion empty;
  EXPECT_TRUE(persister_->Persist(base() + file_->map->size(), 0, &empty).ok());
  EXPECT_TRUE(empty.done() && empty.status().ok()) << "size 0 completes at once";

  AsyncPersister moved = std::move(*persister_);
  EXPECT_EQ(persister_->Persist(base(), 1).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(persister_->Barrier().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(moved.Persist(base(), 1).ok());
  EXPECT_TRUE(moved.WaitAll().ok());
}

TEST_P(AsyncPersisterTest, TheDestructorWaitsForEverythingAndRunsTheCallbacks) {
  int called = 0;
  std::vector<std::unique_ptr<Completion>> done;
  for (int i = 0; i < 20; ++i) {
    done.push_back(std::make_unique<Completion>([](Completion& c) { ++*static_cast<int*>(c.user_data); }, &called));
    ASSERT_TRUE(persister_->Persist(base() + i * kPage, 8, done.back().get()).ok());
  }
  persister_.reset();
  EXPECT_EQ(called, 20);
}

TEST_P(AsyncPersisterTest, SeveralMapsOfOneFileShareTheEngineAndItsBatches) {
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  config.set_offset(2 * kMiB);
  config.set_length(kMiB);
  absl::StatusOr<Map> second = Map::Create(config, *file_->source);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(persister_->AddMap(*second).ok());
  char* other = static_cast<char*>(second->address());
  std::memset(other + 10, 'S', 10);
  std::memset(base() + 10, 'F', 10);
  ASSERT_TRUE(persister_->Persist(other + 10, 10).ok());
  ASSERT_TRUE(persister_->Persist(base() + 10, 10).ok());
  ASSERT_TRUE(persister_->WaitAll().ok());
  EXPECT_EQ(ReadFile(file_->fd.get(), 2 * kMiB + 10, 10), std::string(10, 'S'));
  EXPECT_EQ(ReadFile(file_->fd.get(), 10, 10), std::string(10, 'F'));

  std::unique_ptr<MappedFile> another = MapDiskFile(kMiB);
  ASSERT_NE(another, nullptr);
  EXPECT_EQ(persister_->AddMap(*another->map).code(), absl::StatusCode::kFailedPrecondition);
  persister_.reset();  // before `second` is unmapped
}

// ---------------------------------------------------------------------------------------------------------------
// Create() and the CPU path.

TEST(AsyncPersisterCreateTest, RefusesWhatItCannotServeNamingIt) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  std::unique_ptr<MappedFile> file = MapDiskFile(kMiB);
  ASSERT_NE(file, nullptr);
  AsyncOptions options;
  options.queue_depth = 0;
  absl::Status status = AsyncPersister::Create(*file->map, *file->source, options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("queue_depth 0"));
  options.queue_depth = 4097;
  EXPECT_EQ(AsyncPersister::Create(*file->map, *file->source, options).status().code(),
            absl::StatusCode::kInvalidArgument);

  std::unique_ptr<MappedFile> another = MapDiskFile(kMiB);
  ASSERT_NE(another, nullptr);
  EXPECT_EQ(AsyncPersister::Create(*file->map, *another->source).status().code(),
            absl::StatusCode::kFailedPrecondition);

  absl::StatusOr<Map> adopted =
      Map::FromExisting(*file->source, file->map->address(), file->map->size(), StoreGranularity::kPage);
  // Overlaps the live Map: refused by Map itself. Adopt a mapping of its own instead.
  void* raw = mmap(nullptr, kMiB, PROT_READ | PROT_WRITE, MAP_SHARED, file->fd.get(), 0);
  ASSERT_NE(raw, MAP_FAILED);
  adopted = Map::FromExisting(*file->source, raw, kMiB, StoreGranularity::kPage);
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  status = AsyncPersister::Create(*adopted, *file->source).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("FromExisting"));
  adopted = absl::UnknownError("released");
  munmap(raw, kMiB);

  Map moved_from = std::move(*file->map);
  EXPECT_EQ(AsyncPersister::Create(*file->map, *file->source).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AsyncPersisterCpuTest, CacheLineAndByteMapsCompleteAtOnceThroughTheCpu) {
  ScopedEnv force("PMEM2_FORCE_GRANULARITY", std::string("cache_line"));
  std::unique_ptr<MappedFile> file = MapDiskFile(kMiB);
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(file->map->store_granularity(), StoreGranularity::kCacheLine);
  absl::StatusOr<AsyncPersister> persister = AsyncPersister::Create(*file->map, *file->source);
  ASSERT_TRUE(persister.ok()) << persister.status();
  EXPECT_EQ(persister->backend(), AsyncBackend::kCpu);
  char* base = static_cast<char*>(file->map->address());
  const std::string record = "a record through the CPU path";
  Completion copy, persist, barrier;
  ASSERT_TRUE(persister->Copy(base, record.data(), record.size(), &copy).ok());
  EXPECT_TRUE(copy.done() && copy.status().ok()) << "at once";
  base[4096] = 'p';
  ASSERT_TRUE(persister->Persist(base + 4096, 1, &persist).ok());
  EXPECT_TRUE(persist.done() && persist.status().ok());
  ASSERT_TRUE(persister->Barrier(&barrier).ok());
  EXPECT_TRUE(barrier.done() && barrier.status().ok());
  EXPECT_EQ(std::string(base, record.size()), record);
  EXPECT_EQ(persister->in_flight(), 0u);

  // Anonymous memory is byte granularity: the same API, nothing to sync.
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Source> anonymous = Source::Anonymous(kMiB);
  ASSERT_TRUE(anonymous.ok());
  absl::StatusOr<Map> map = Map::Create(config, *anonymous);
  ASSERT_TRUE(map.ok()) << map.status();
  absl::StatusOr<AsyncPersister> anon = AsyncPersister::Create(*map, *anonymous);
  ASSERT_TRUE(anon.ok()) << anon.status();
  EXPECT_EQ(anon->backend(), AsyncBackend::kCpu);
  EXPECT_TRUE(anon->Persist(map->address(), 64).ok());
  EXPECT_TRUE(anon->WaitAll().ok());
}

// ---------------------------------------------------------------------------------------------------------------
// The kernel honours the range: after a ranged sync, the synced page is clean and a dirty page outside the
// range is still dirty, read from the kernel's own page flags (/proc/kpageflags, root only).

constexpr uint64_t kKpfDirty = uint64_t{1} << 4;
constexpr uint64_t kKpfWriteback = uint64_t{1} << 8;

absl::StatusOr<uint64_t> PageFlags(const void* address) {
  ScopedFd pagemap(open("/proc/self/pagemap", O_RDONLY));
  ScopedFd kpageflags(open("/proc/kpageflags", O_RDONLY));
  if (pagemap.get() < 0 || kpageflags.get() < 0) return absl::UnavailableError("no /proc/kpageflags (root only)");
  uint64_t entry = 0;
  const off_t index = static_cast<off_t>(reinterpret_cast<uintptr_t>(address) / kPage);
  if (pread(pagemap.get(), &entry, 8, index * 8) != 8) return absl::UnavailableError("pagemap unreadable");
  const uint64_t pfn = entry & ((uint64_t{1} << 55) - 1);
  if ((entry >> 63) == 0 || pfn == 0) return absl::UnavailableError("page not present or PFN hidden");
  uint64_t flags = 0;
  if (pread(kpageflags.get(), &flags, 8, static_cast<off_t>(pfn * 8)) != 8) {
    return absl::UnavailableError("kpageflags unreadable");
  }
  return flags;
}

TEST_P(AsyncPersisterTest, TheKernelSyncsOnlyTheRangeAsked) {
  char* synced = base() + 10 * kPage;
  char* outside = base() + 700 * kPage;
  synced[0] = 1;
  outside[0] = 1;
  absl::StatusOr<uint64_t> before = PageFlags(outside);
  if (!before.ok()) GTEST_SKIP() << before.status().message();
  ASSERT_NE(*PageFlags(synced) & kKpfDirty, 0u) << "a store dirties the page";
  Completion done;
  ASSERT_TRUE(persister_->Persist(synced, 1, &done).ok());
  ASSERT_TRUE(persister_->Wait(done).ok()) << done.status();
  EXPECT_EQ(*PageFlags(synced) & (kKpfDirty | kKpfWriteback), 0u) << "written back and waited for";
  EXPECT_NE(*PageFlags(outside) & kKpfDirty, 0u) << "a page outside the range stays dirty";
}

// ---------------------------------------------------------------------------------------------------------------
// A real failing disk: ext4 believes it has room, the device behind it runs out, write-back fails with EIO.

TEST_P(AsyncPersisterTest, ARealWriteBackFailureSurfacesEverywhere) {
  absl::StatusOr<std::unique_ptr<testing::ScratchFs>> fs = testing::ScratchFs::Ext4OnFailingLoop(64 * kMiB, 8 * kMiB);
  if (!fs.ok()) GTEST_SKIP() << fs.status().message();
  std::unique_ptr<MappedFile> file = MapDiskFile(32 * kMiB, StoreGranularity::kPage, (*fs)->path());
  ASSERT_NE(file, nullptr);
  AsyncOptions options;
  options.allow_io_uring = GetParam() == AsyncBackend::kIoUring;
  absl::StatusOr<AsyncPersister> persister = AsyncPersister::Create(*file->map, *file->source, options);
  ASSERT_TRUE(persister.ok()) << persister.status();
  char* base = static_cast<char*>(file->map->address());
  std::mt19937_64 random(3);
  for (size_t i = 0; i < file->map->size(); i += 8) *reinterpret_cast<uint64_t*>(base + i) = random();
  for (size_t i = 0; i < file->map->size(); i += kMiB) ASSERT_TRUE(persister->Persist(base + i, kMiB).ok());
  Completion barrier;
  ASSERT_TRUE(persister->Barrier(&barrier).ok());
  const absl::Status status = persister->Wait(barrier);
  EXPECT_FALSE(status.ok()) << "32 MiB of random data cannot fit on 8 MiB";
  // The loop device fails the write-back with EIO or passes on its backing's ENOSPC, depending on the kernel.
  EXPECT_THAT(GetErrno(status), ::testing::AnyOf(EIO, ENOSPC)) << status;
  EXPECT_EQ(file->map->PersistError().code(), status.code()) << "the Map's sticky error too";
  file->map->ClearPersistError().IgnoreError();
  persister->ClearFailure().IgnoreError();
}

// ---------------------------------------------------------------------------------------------------------------
// io_uring refused (seccomp): the same API falls back to the synchronous backend, and says why.

void DenyIoUringSetup(int error) {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(error) & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog program = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    _exit(90);
  }
}

class AsyncPersisterFallbackTest : public ::testing::TestWithParam<int> {};

INSTANTIATE_TEST_SUITE_P(Errors, AsyncPersisterFallbackTest, ::testing::Values(ENOSYS, EPERM),
                         [](const ::testing::TestParamInfo<int>& param) {
                           return std::string(param.param == ENOSYS ? "ENOSYS" : "EPERM");
                         });

TEST_P(AsyncPersisterFallbackTest, WithoutIoUringTheSameCallsRunSynchronously) {
  ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  std::unique_ptr<MappedFile> file = MapDiskFile(kMiB);
  ASSERT_NE(file, nullptr);
  const int error = GetParam();
  testing::ChildResult child = testing::RunInChild([&](int out) {
    DenyIoUringSetup(error);
    const IoUringSupport support = ProbeIoUring();
    absl::StatusOr<AsyncPersister> persister = AsyncPersister::Create(*file->map, *file->source);
    if (!persister.ok()) return 2;
    char* base = static_cast<char*>(file->map->address());
    const std::string record = "written without io_uring";
    Completion copy, barrier;
    if (!persister->Copy(base, record.data(), record.size(), &copy).ok()) return 3;
    if (!persister->Barrier(&barrier).ok() || !persister->Wait(barrier).ok()) return 4;
    testing::WriteToParent(out, absl::StrCat(AsyncBackendName(persister->backend()), "|", support.available, "|",
                                             support.detail, "|", copy.status().ok()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_THAT(child.output, HasSubstr("synchronous|0|"));
  EXPECT_THAT(child.output, HasSubstr(std::strerror(error)));
  EXPECT_THAT(child.output, HasSubstr("|1"));
  EXPECT_EQ(ReadFile(file->fd.get(), 0, 24), "written without io_uring");
}

TEST(AsyncPersisterEnvTest, PmemNoIoUringSelectsTheSynchronousBackend) {
  testing::ChildResult child = testing::RunInChild([&](int out) {
    setenv("PMEM2_NO_IO_URING", "1", 1);
    testing::WriteToParent(out, ProbeIoUring().detail);
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "not used: PMEM2_NO_IO_URING=1");
}

}  // namespace
}  // namespace pmem2
