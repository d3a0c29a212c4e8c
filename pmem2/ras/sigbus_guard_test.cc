// Copyright 2026 The pmem2 Authors.

#include "pmem2/ras/sigbus_guard.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pmem2/errors/errors.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace ras_internal {
namespace {

using ::testing::HasSubstr;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// Two pages of 'a' mapped shared, then the file cut to one page: reading the second page raises a real SIGBUS.
class TruncatedMapping : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = testing::CreateFile(dir_.Join("f"), 0, O_RDWR);
    std::string data(2 * kPage, 'a');
    ASSERT_EQ(pwrite(fd_.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    map_ = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0));
    ASSERT_NE(map_, MAP_FAILED);
    ASSERT_EQ(ftruncate(fd_.get(), static_cast<off_t>(kPage)), 0);
  }
  void TearDown() override {
    if (map_ != nullptr && map_ != MAP_FAILED) munmap(map_, 2 * kPage);
  }

  testing::ScopedTempDir dir_{"/dev/shm"};
  testing::ScopedFd fd_;
  char* map_ = nullptr;
};

TEST_F(TruncatedMapping, AFaultInTheCopyIsReturnedWithItsAddressAndTheProcessGoesOn) {
  char buffer[256];
  uintptr_t fault = 0;
  EXPECT_FALSE(CopyCatchingSigbus(buffer, map_ + kPage + 16, sizeof buffer, &fault));
  EXPECT_EQ(fault, reinterpret_cast<uintptr_t>(map_ + kPage + 16));
  EXPECT_FALSE(CopyCatchingSigbus(map_ + kPage, buffer, sizeof buffer, &fault)) << "writes fault too";
  ASSERT_TRUE(CopyCatchingSigbus(buffer, map_, sizeof buffer, &fault));
  EXPECT_EQ(std::string(buffer, sizeof buffer), std::string(sizeof buffer, 'a'));
}

TEST_F(TruncatedMapping, ThePreviousHandlerIsBackAfterwards) {
  struct sigaction before, after;
  ASSERT_EQ(sigaction(SIGBUS, nullptr, &before), 0);
  char buffer[8];
  uintptr_t fault = 0;
  EXPECT_FALSE(CopyCatchingSigbus(buffer, map_ + kPage, sizeof buffer, &fault));
  ASSERT_EQ(sigaction(SIGBUS, nullptr, &after), 0);
  EXPECT_EQ(before.sa_handler, after.sa_handler);
  EXPECT_EQ(before.sa_flags & SA_SIGINFO, after.sa_flags & SA_SIGINFO);
}

TEST_F(TruncatedMapping, CopiesInManyThreadsAtOnceEachGetTheirOwnResult) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      char buffer[64];
      for (int i = 0; i < 200; ++i) {
        uintptr_t fault = 0;
        const bool faulting = (i + t) % 2 == 0;
        const bool ok = CopyCatchingSigbus(buffer, faulting ? map_ + kPage : map_, sizeof buffer, &fault);
        if (ok == faulting) ++wrong;
        if (faulting && fault != reinterpret_cast<uintptr_t>(map_ + kPage)) ++wrong;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(TruncatedMapping, MappedCopyTurnsTheFaultIntoIoFailNamingTheOffset) {
  char buffer[kPage * 2];
  absl::Status read = MappedCopy(fd_.get(), 100, buffer, 2 * kPage - 200, /*write=*/false, kPage);
  EXPECT_EQ(GetErrorCode(read), ErrorCode::kIoFail);
  EXPECT_THAT(std::string(read.message()), HasSubstr("at source offset " + std::to_string(kPage)));
  ASSERT_TRUE(MappedCopy(fd_.get(), 10, buffer, 20, /*write=*/false, kPage).ok());
  EXPECT_EQ(std::string(buffer, 20), std::string(20, 'a'));
  std::memset(buffer, 'z', 20);
  ASSERT_TRUE(MappedCopy(fd_.get(), 30, buffer, 20, /*write=*/true, kPage).ok());
  EXPECT_EQ(std::string(map_ + 30, 20), std::string(20, 'z'));
}

std::atomic<int> previous_calls{0};
void CountingHandler(int, siginfo_t*, void*) { ++previous_calls; }

// The application's own handler, as the tests install it.
struct sigaction CountingAction() {
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_sigaction = CountingHandler;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  return action;
}

TEST(SigbusGuardTest, ASigbusOutsideTheCopyGoesToTheProcesssHandler) {
  struct sigaction mine = CountingAction(), old;
  ASSERT_EQ(sigaction(SIGBUS, &mine, &old), 0);
  {
    ScopedSigbusHandler guard;
    raise(SIGBUS);
  }
  EXPECT_EQ(previous_calls.load(), 1);
  struct sigaction now;
  ASSERT_EQ(sigaction(SIGBUS, &old, &now), 0);
  EXPECT_EQ(now.sa_sigaction, &CountingHandler);
}

// A handler the application installs while a copy runs is the application's: the end of the copy leaves it in
// place. (It was overwritten with the one saved when the copy began, before this was fixed.)
TEST(SigbusGuardTest, AHandlerInstalledDuringACopyStays) {
  struct sigaction mine = CountingAction(), old, now;
  ASSERT_EQ(sigaction(SIGBUS, nullptr, &old), 0);
  {
    ScopedSigbusHandler guard;
    ASSERT_EQ(sigaction(SIGBUS, &mine, nullptr), 0);
  }
  ASSERT_EQ(sigaction(SIGBUS, &old, &now), 0);
  EXPECT_TRUE((now.sa_flags & SA_SIGINFO) != 0 && now.sa_sigaction == &CountingHandler)
      << "the application's handler was replaced when the copy ended";
}

// A child forked while another thread copies (its ScopedSigbusHandler alive) has no such thread: its SIGBUS
// disposition is the one from before the copies, not pmem2's handler kept for good by a count nobody lowers.
TEST(SigbusGuardTest, AChildForkedDuringAnotherThreadsCopyGetsThePreviousHandlerBack) {
  struct sigaction mine = CountingAction(), old;
  ASSERT_EQ(sigaction(SIGBUS, &mine, &old), 0);
  std::atomic<bool> guarding{false};
  std::atomic<bool> child_ended{false};
  std::thread copier([&] {
    ScopedSigbusHandler guard;
    guarding = true;
    while (!child_ended) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  });
  while (!guarding) std::this_thread::yield();
  const pid_t child = fork();
  if (child == 0) {
    // No GoogleTest in the child: the exit code says what it found.
    struct sigaction now;
    if (sigaction(SIGBUS, nullptr, &now) != 0) _exit(2);
    _exit((now.sa_flags & SA_SIGINFO) != 0 && now.sa_sigaction == &CountingHandler ? 0 : 3);
  }
  int status = 0;
  const pid_t waited = child > 0 ? waitpid(child, &status, 0) : -1;
  child_ended = true;
  copier.join();
  struct sigaction now;
  ASSERT_EQ(sigaction(SIGBUS, &old, &now), 0);
  ASSERT_GT(child, 0) << std::strerror(errno);
  ASSERT_EQ(waited, child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the child's SIGBUS disposition was still pmem2's handler (exit code 3) or unreadable (2)";
  EXPECT_EQ(now.sa_sigaction, &CountingHandler) << "the parent's is the application's again after the copy";
}

// The kernel keeps SA_SIGINFO in a disposition that is SIG_DFL (a one-shot SA_RESETHAND handler that fired) or
// SIG_IGN: the guard must treat it as default / ignored, not call address 0 or 1 as a handler (it crashed with
// SIGSEGV before the fix).
TEST(SigbusGuardDeathTest, ADefaultOrIgnoredDispositionWithSaSiginfoIsNoHandler) {
  EXPECT_EXIT(
      {
        struct sigaction ignored;
        std::memset(&ignored, 0, sizeof ignored);
        ignored.sa_handler = SIG_IGN;
        ignored.sa_flags = SA_SIGINFO;
        sigemptyset(&ignored.sa_mask);
        if (sigaction(SIGBUS, &ignored, nullptr) != 0) _exit(3);
        {
          ScopedSigbusHandler guard;
          raise(SIGBUS);  // sent by raise(): ignored, as without the guard
        }
        _exit(0);
      },
      ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(
      {
        struct sigaction one_shot;
        std::memset(&one_shot, 0, sizeof one_shot);
        one_shot.sa_sigaction = CountingHandler;
        one_shot.sa_flags = SA_SIGINFO | SA_RESETHAND;
        sigemptyset(&one_shot.sa_mask);
        if (sigaction(SIGBUS, &one_shot, nullptr) != 0) _exit(3);
        raise(SIGBUS);  // runs once; the disposition is now SIG_DFL with SA_SIGINFO kept
        ScopedSigbusHandler guard;
        raise(SIGBUS);  // the default action: killed by SIGBUS, not SIGSEGV
        _exit(0);
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

TEST(SigbusGuardDeathTest, ASigbusOutsideTheCopyStillKillsAProcessWithoutAHandler) {
  EXPECT_EXIT(
      {
        signal(SIGBUS, SIG_DFL);
        ScopedSigbusHandler guard;
        raise(SIGBUS);
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

}  // namespace
}  // namespace ras_internal
}  // namespace pmem2
