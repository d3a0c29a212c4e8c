// Copyright 2026 The pmem2 Authors.
//
// pmem2's functions are no cancellation points (pmem2/internal/no_cancellation.h): a thread whose cancellation
// request is pending runs each call to its end, with its result, and is cancelled at its next cancellation point
// after it. Each case runs in a forked child, on a thread that requested its own cancellation first (deferred, the
// default), through the calls whose paths reach one of glibc's cancellation points: open, close, read, pread,
// pwrite, fallocate, usleep, a condition variable's wait, stdio's writes.

#include <fcntl.h>
#include <libpmem.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "gtest/gtest.h"
#include "pmem2/internal/no_cancellation.h"
#include "pmem2/map/page_persist_for_test.h"
#include "pmem2/map_file/map_file.h"
#include "pmem2/pmem2.h"
#include "pmem2/ras/bad_blocks.h"
#include "pmem2/ras/fake_nvdimm.h"
#include "pmem2/ras/mcsafe_io.h"
#include "pmem2/uring/async_persister.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"


namespace pmem2 {
namespace {

constexpr size_t kLength = 1 << 16;

// A body run on a thread of its own whose cancellation is pending from the start.
struct PendingCancellation {
  std::function<std::string()> body;
  bool requested_first = true;  // false: the body requests it (RequestCancellation) where a step begins
  std::atomic<bool> returned{false};
  std::string result;
};

// Not instrumented by AddressSanitizer: the thread leaves this frame by its cancellation's forced unwind, which runs no
// epilogue, and the use-after-scope poison of the frame's temporaries would stay on the stack, where ASan's own
// clean-up of the thread then reports it (its sigaltstack interceptor, from AsanThread::Destroy).
__attribute__((no_sanitize_address)) void* RunBody(void* arg) {
  PendingCancellation* run = static_cast<PendingCancellation*>(arg);
  if (run->requested_first) pthread_cancel(pthread_self());
  run->result = run->body();
  run->returned.store(true);
  pthread_testcancel();
  return nullptr;
}

// In a forked child: runs `body` on a thread with its cancellation pending. "returned: <body's result>, then
// cancelled" is what pmem2 promises; "ended inside the call" if the request acted inside it. A crash
// (std::terminate of an unwind out of a destructor) shows as the child's signal.
std::string RunWithCancellationPending(std::function<std::string()> body, bool requested_first = true) {
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    PendingCancellation run;
    run.body = std::move(body);
    run.requested_first = requested_first;
    pthread_t thread;
    if (pthread_create(&thread, nullptr, RunBody, &run) != 0) return 2;
    void* exit_value = nullptr;
    if (pthread_join(thread, &exit_value) != 0) return 3;
    if (!run.returned.load()) {
      testing::WriteToParent(out, "ended inside the call");
    } else {
      testing::WriteToParent(out,
                             absl::StrCat("returned: ", run.result,
                                          exit_value == PTHREAD_CANCELED ? ", then cancelled" : ", not cancelled"));
    }
    return 0;
  });
  if (!child.exited || child.exit_code != 0) return child.Describe();
  return child.output;
}

// For a step of its own: the body makes what it needs first, then requests.
std::string RunWithCancellationRequestedInside(std::function<std::string()> body) {
  return RunWithCancellationPending(std::move(body), /*requested_first=*/false);
}
void RequestCancellation() { pthread_cancel(pthread_self()); }

// The test's own calls that are cancellation points (sleeps, joins, waitpid, pread) run inside one of these: only
// pmem2's calls run with the request able to act.
using TestCodeScope = internal::ScopedNoCancellation;

std::string Ok(const absl::Status& status) { return status.ok() ? "ok" : status.ToString(); }

class CancellationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = testing::CreateFile(dir_.Join("file"), kLength, O_RDWR);
    ASSERT_GE(fd_.get(), 0);
    config_.set_required_store_granularity(StoreGranularity::kPage);
  }

  absl::StatusOr<Map> MapTheFile() {
    absl::StatusOr<Source> source = Source::FromFd(fd_.get());
    if (!source.ok()) return source.status();
    return Map::Create(config_, *source);
  }

  testing::ScopedTempDir dir_{std::getenv("TEST_TMPDIR") != nullptr ? std::getenv("TEST_TMPDIR") : "/tmp"};
  testing::ScopedFd fd_;
  Config config_;
};

// ~Map closes the file's reopen handle (the descriptor a forked child opens the file through): a close() in a
// destructor, where acting on the request ended the process (std::terminate) before.
TEST_F(CancellationTest, MapCreatePersistAndDestroy) {
  EXPECT_EQ(RunWithCancellationPending([&] {
              absl::StatusOr<Map> map = MapTheFile();
              if (!map.ok()) return map.status().ToString();
              std::memset(map->address(), 'x', 100);
              absl::Status persisted = map->Persist(map->address(), 100);
              { Map gone = *std::move(map); }
              return Ok(persisted);
            }),
            "returned: ok, then cancelled");
}

TEST_F(CancellationTest, MapFileCreatesMapsAndUnmaps) {
  EXPECT_EQ(RunWithCancellationPending([&] {
              MapFileOptions options;
              options.create = true;
              options.length = kLength;
              absl::StatusOr<MappedFile> mapped = MapFile(dir_.Join("created"), options);
              if (!mapped.ok()) return mapped.status().ToString();
              std::string failed_create =
                  MapFile(dir_.Join("no-such-folder/f"), options).status().ok() ? "made" : "refused";
              { MappedFile gone = *std::move(mapped); }
              return absl::StrCat("ok, ", failed_create);
            }),
            "returned: ok, refused, then cancelled");
}

// The destructors alone, each with work to do: ~Map closes the reopen handle, ~AsyncPersister runs what is queued
// (a pwrite of the synchronous backend, a sync, a callback that reaches a cancellation point itself) and closes
// its descriptor.
TEST_F(CancellationTest, DestructorsAlone) {
  EXPECT_EQ(RunWithCancellationRequestedInside([&] {
              absl::StatusOr<Map> map = MapTheFile();
              if (!map.ok()) return map.status().ToString();
              RequestCancellation();
              { Map gone = *std::move(map); }
              return std::string("ok");
            }),
            "returned: ok, then cancelled");
  for (const bool io_uring : {true, false}) {
    SCOPED_TRACE(io_uring ? "io_uring allowed" : "synchronous");
    EXPECT_EQ(RunWithCancellationRequestedInside([&] {
                absl::StatusOr<Map> map = MapTheFile();
                if (!map.ok()) return map.status().ToString();
                absl::StatusOr<AsyncPersister> engine =
                    AsyncPersister::Create(*map, Source::FromFd(fd_.get()).value(), AsyncOptions{64, io_uring});
                if (!engine.ok()) return engine.status().ToString();
                static bool called = false;
                Completion copied([](Completion&) {
                  close(-1);
                  called = true;
                });
                const char record[] = "record";
                if (!engine->Copy(map->address(), record, sizeof record, &copied).ok()) return std::string("Copy");
                RequestCancellation();
                { AsyncPersister gone = *std::move(engine); }
                return absl::StrCat(Ok(copied.status()), called ? " called" : " not called");
              }),
              "returned: ok called, then cancelled");
  }
}

// A reader of a Map's sticky error waits, on a condition variable, for a sync of the file in flight on another
// thread; the wait would have ended the thread with the waiter count still raised.
std::atomic<bool> sync_entered{false};
std::atomic<bool> sync_released{false};
int BlockingMsync(void* address, size_t length, int flags) {
  TestCodeScope test_code;
  sync_entered.store(true);
  while (!sync_released.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return msync(address, length, flags);
}

TEST_F(CancellationTest, AReaderWaitsForAnotherThreadsSync) {
  EXPECT_EQ(RunWithCancellationPending([&] {
              absl::StatusOr<Map> map = MapTheFile();
              if (!map.ok()) return map.status().ToString();
              map_internal::SetMsyncForTest(&BlockingMsync);
              PersistFn persist = map->persist_fn();
              void* address = map->address();
              absl::optional<std::thread> syncing;
              absl::optional<std::thread> releasing;
              {
                TestCodeScope test_code;
                syncing.emplace([&] { persist(address, 1); });
                while (!sync_entered.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
                releasing.emplace([] {
                  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the reader waits by then
                  sync_released.store(true);
                });
              }
              absl::Status error = map->PersistError();  // waits for the sync
              {
                TestCodeScope test_code;
                releasing->join();
                syncing->join();
              }
              map_internal::SetMsyncForTest(nullptr);
              return Ok(error);
            }),
            "returned: ok, then cancelled");
}

// A forked child inherits the request; the map registry's fork handler opens and reads files in the child, which
// would have unwound out of fork() there with the child's Maps half mapped again.
TEST_F(CancellationTest, ForkWithAPageMap) {
  EXPECT_EQ(RunWithCancellationPending([&] {
              absl::StatusOr<Map> map = MapTheFile();
              if (!map.ok()) return map.status().ToString();
              const pid_t pid = fork();
              if (pid == 0) {
                // The fork returned here: the child's Map persists through a description of its own.
                static_cast<char*>(map->address())[0] = 'c';
                _exit(map->Persist(map->address(), 1).ok() ? 42 : 43);
              }
              TestCodeScope test_code;
              int status = 0;
              if (pid < 0 || waitpid(pid, &status, 0) != pid) return std::string("no child");
              return WIFEXITED(status) ? absl::StrCat("child exited ", WEXITSTATUS(status))
                                       : absl::StrCat("child ended by signal ", WTERMSIG(status));
            }),
            "returned: child exited 42, then cancelled");
}

// Every engine entry point, with a callback that reaches a cancellation point itself (close(-1)), on both backends
// of page granularity; the synchronous one writes Copies with pwrite().
TEST_F(CancellationTest, AsyncPersisterOnEachBackend) {
  for (const bool io_uring : {true, false}) {
    SCOPED_TRACE(io_uring ? "io_uring allowed" : "synchronous");
    EXPECT_EQ(RunWithCancellationPending([&] {
                absl::StatusOr<Map> map = MapTheFile();
                if (!map.ok()) return map.status().ToString();
                absl::StatusOr<Source> source = Source::FromFd(fd_.get());
                if (!source.ok()) return source.status().ToString();
                AsyncOptions options;
                options.allow_io_uring = io_uring;
                absl::StatusOr<AsyncPersister> engine = AsyncPersister::Create(*map, *source, options);
                if (!engine.ok()) return engine.status().ToString();
                static int callbacks = 0;
                callbacks = 0;
                Completion copied([](Completion&) {
                  close(-1);
                  ++callbacks;
                });
                Completion barrier([](Completion&) {
                  close(-1);
                  ++callbacks;
                });
                char* base = static_cast<char*>(map->address());
                const char record[] = "record";
                std::string result;
                absl::StrAppend(&result, Ok(engine->Copy(base, record, sizeof record, &copied)));
                std::memset(base + 8192, 'p', 100);
                absl::StrAppend(&result, " ", Ok(engine->Persist(base + 8192, 100)));
                absl::StrAppend(&result, " ", Ok(engine->Barrier(&barrier)));
                absl::StrAppend(&result, " ", Ok(engine->Submit()));
                absl::StrAppend(&result, " ", Ok(engine->Wait(barrier)));
                engine->Poll();
                absl::StrAppend(&result, " ", Ok(engine->WaitAll()));
                { AsyncPersister gone = *std::move(engine); }
                absl::StrAppend(&result, ProbeIoUring().detail.empty() ? " no probe" : "");
                TestCodeScope test_code;
                char read_back[sizeof record] = {};
                if (pread(fd_.get(), read_back, sizeof record, 0) != sizeof record) return std::string("pread");
                absl::StrAppend(&result, " ", callbacks, " ", read_back);
                return result;
              }),
              "returned: ok ok ok ok ok ok 2 record, then cancelled");
  }
}

TEST_F(CancellationTest, MachineCheckSafeReadAndWrite) {
  EXPECT_EQ(RunWithCancellationPending([&] {
              absl::StatusOr<Source> source = Source::FromFd(fd_.get());
              if (!source.ok()) return source.status().ToString();
              const char data[] = "mcsafe";
              char read_back[sizeof data] = {};
              std::string result = Ok(WriteMcsafe(*source, data, sizeof data, 4096));
              absl::StrAppend(&result, " ", Ok(ReadMcsafe(*source, read_back, sizeof data, 4096)));
              absl::StrAppend(&result, " ", read_back);
              return result;
            }),
            "returned: ok ok mcsafe, then cancelled");
}

// Bad blocks of a file on a disk that a fake sysfs places on an NVDIMM region with a bad block in the file: the
// list read from sysfs (open, read, close), the block cleared (fallocate).
TEST_F(CancellationTest, BadBlocksReadAndCleared) {
  struct stat st;
  ASSERT_EQ(fstat(fd_.get(), &st), 0);
  if (major(st.st_dev) == 0) GTEST_SKIP() << "the test folder is on a virtual file system";
  const std::string data(16384, 'x');
  ASSERT_EQ(pwrite(fd_.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  ASSERT_EQ(fsync(fd_.get()), 0);
  testing::FakeNvdimm fake;
  fake.AddBlockDevice(fake.AddRegion(0, {}) + "/pfn0.1", "pmem0", st.st_dev, {{"badblocks", "0 1\n"}});
  {
    absl::StatusOr<BadBlocks> bad = BadBlocks::Create(Source::FromFd(fd_.get()).value());
    if (!bad.ok()) GTEST_SKIP() << "no bad block list of this file here: " << bad.status();
  }
  EXPECT_EQ(RunWithCancellationPending([&] {
              absl::StatusOr<Source> source = Source::FromFd(fd_.get());
              if (!source.ok()) return source.status().ToString();
              absl::StatusOr<BadBlocks> bad = BadBlocks::Create(*source);
              if (!bad.ok()) return bad.status().ToString();
              // Sector 0 of the device holds no file data (a file system's own start): none here, or one to clear.
              std::string result = "read";
              for (absl::StatusOr<BadBlock> block = bad->Next(); block.ok(); block = bad->Next()) {
                absl::StrAppend(&result, ", cleared: ", Ok(bad->Clear(*block)));
              }
              absl::StrAppend(&result, " ", Ok(bad->Clear(BadBlock{4096, 4096})));
              return result;
            }),
            "returned: read ok, then cancelled");
}

// libpmem's C functions, with its log on (PMEM_LOG_LEVEL, read at the first call that logs): a file opened with
// fopen() and written with stdio.
TEST_F(CancellationTest, LibpmemMapsLogsAndUnmaps) {
  const std::string log = dir_.Join("log");
  EXPECT_EQ(RunWithCancellationPending([&] {
              setenv("PMEM_LOG_LEVEL", "15", 1);
              setenv("PMEM_LOG_FILE", log.c_str(), 1);
              size_t mapped = 0;
              int is_pmem = 0;
              void* address =
                  pmem_map_file(dir_.Join("libpmem").c_str(), kLength, PMEM_FILE_CREATE, 0600, &mapped, &is_pmem);
              if (address == nullptr) return std::string(pmem_errormsg());
              std::memset(address, 'l', 64);
              std::string result = absl::StrCat(pmem_msync(address, 64));
              if (result != "0") absl::StrAppend(&result, " (", pmem_errormsg(), ")");
              absl::StrAppend(&result, " ", pmem_unmap(address, mapped));
              absl::StrAppend(&result, " ",
                              pmem_map_file(dir_.Join("no-such-folder/f").c_str(), kLength, PMEM_FILE_CREATE, 0600,
                                            nullptr, nullptr) == nullptr
                                  ? "refused"
                                  : "made");
              return result;
            }),
            "returned: 0 0 refused, then cancelled");
  EXPECT_GT(testing::StatOrZero(log).st_size, 0) << "nothing was logged: the test did not reach the log's writes";
}

}  // namespace
}  // namespace pmem2
