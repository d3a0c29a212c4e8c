// Copyright 2026 The pmem2 Authors.
//
// The header's promise that queueing, submitting and completing an operation allocates nothing, on either backend,
// checked by counting the global operator new (replaced in this binary only, so the other tests keep the real
// one).

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "pmem2/pmem2.h"
#include "pmem2/uring/async_persister.h"
#include "testing/scratch_fs.h"
#include "testing/temp_files.h"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
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

class AsyncPersisterAllocTest : public ::testing::TestWithParam<AsyncBackend> {};

INSTANTIATE_TEST_SUITE_P(Backends, AsyncPersisterAllocTest,
                         ::testing::Values(AsyncBackend::kIoUring, AsyncBackend::kSynchronous),
                         [](const ::testing::TestParamInfo<AsyncBackend>& backend) {
                           return std::string(AsyncBackendName(backend.param));
                         });

TEST_P(AsyncPersisterAllocTest, SteadyStateOperationsAllocateNothing) {
  if (GetParam() == AsyncBackend::kIoUring && !ProbeIoUring().available) {
    GTEST_SKIP() << "io_uring is not available here: " << ProbeIoUring().detail;
  }
  testing::ScopedEnv no_force("PMEM2_FORCE_GRANULARITY", absl::nullopt);
  testing::ScopedTempDir dir(DiskBase());
  testing::ScopedFd fd = testing::CreateFile(dir.Join("file"), 1 << 20, O_RDWR);
  absl::StatusOr<Source> source = Source::FromFd(fd.get());
  ASSERT_TRUE(source.ok()) << source.status();
  Config config;
  config.set_required_store_granularity(StoreGranularity::kPage);
  absl::StatusOr<Map> map = Map::Create(config, *source);
  ASSERT_TRUE(map.ok()) << map.status();
  AsyncOptions options;
  options.allow_io_uring = GetParam() == AsyncBackend::kIoUring;
  absl::StatusOr<AsyncPersister> persister = AsyncPersister::Create(*map, *source, options);
  ASSERT_TRUE(persister.ok()) << persister.status();
  ASSERT_EQ(persister->backend(), GetParam());
  char* base = static_cast<char*>(map->address());
  const char record[] = "record";
  Completion persist, copy, barrier;
  for (int round = 0; round < 103; ++round) {
    if (round == 3) counting = true;  // after warming up (first use of the ring, lazily made statics)
    base[round * 64] = 1;
    ASSERT_TRUE(persister->Persist(base + round * 64, 8, &persist).ok());
    ASSERT_TRUE(persister->Copy(base + 4096 + round * 64, record, sizeof record, &copy).ok());
    ASSERT_TRUE(persister->Barrier(&barrier).ok());
    ASSERT_TRUE(persister->Wait(barrier).ok()) << barrier.status();
    ASSERT_TRUE(persister->Poll() == 0 && persister->WaitAll().ok());
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0) << "allocations in 100 rounds of Persist, Copy, Barrier, Wait, Poll, WaitAll";
}

}  // namespace
}  // namespace pmem2
