// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/msync.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"

namespace pmem2 {
namespace internal {
namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// Two pages of an unnamed file in TEST_TMPDIR, mapped shared.
class MsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("TEST_TMPDIR");
    fd_ = open(dir != nullptr ? dir : "/tmp", O_TMPFILE | O_RDWR, 0600);
    ASSERT_GE(fd_, 0) << "errno " << errno;
    ASSERT_EQ(ftruncate(fd_, static_cast<off_t>(2 * kPage)), 0);
    void* p = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    ASSERT_NE(p, MAP_FAILED);
    pages_ = static_cast<char*>(p);
  }
  void TearDown() override {
    if (pages_ != nullptr) munmap(pages_, 2 * kPage);
    if (fd_ >= 0) close(fd_);
  }

  int fd_ = -1;
  char* pages_ = nullptr;
};

TEST_F(MsyncTest, SyncsAndLeavesErrnoAsItWas) {
  pages_[0] = 'a';
  pages_[kPage + 1] = 'b';
  errno = EDOM;
  EXPECT_EQ(MsyncSystemCall(pages_, 2 * kPage, MS_SYNC), 0);
  EXPECT_EQ(MsyncSystemCall(pages_, 1, MS_SYNC), 0) << "a length that is not whole pages";
  EXPECT_EQ(MsyncSystemCall(pages_, 0, MS_SYNC), 0);
  EXPECT_EQ(errno, EDOM);
  char read_back[2] = {};
  ASSERT_EQ(pread(fd_, &read_back[0], 1, 0), 1);
  ASSERT_EQ(pread(fd_, &read_back[1], 1, static_cast<off_t>(kPage + 1)), 1);
  EXPECT_EQ(std::string(read_back, 2), "ab");
}

// The kernel's errors as msync(2) reports them, as positive numbers, errno untouched.
TEST_F(MsyncTest, ReturnsTheKernelsErrorNumbers) {
  errno = EDOM;
  EXPECT_EQ(MsyncSystemCall(pages_ + 1, kPage, MS_SYNC), EINVAL) << "not page-aligned";
  EXPECT_EQ(MsyncSystemCall(pages_, kPage, MS_SYNC | MS_ASYNC), EINVAL) << "both kinds of sync";
  ASSERT_EQ(munmap(pages_ + kPage, kPage), 0);
  EXPECT_EQ(MsyncSystemCall(pages_, 2 * kPage, MS_SYNC), ENOMEM) << "a page not mapped";
  EXPECT_EQ(MsyncSystemCall(pages_, kPage, MS_SYNC), 0);
  EXPECT_EQ(errno, EDOM);
  munmap(pages_, kPage);
  pages_ = nullptr;
}

// The kernel's answer is what the call returns: a filter that makes msync(2) fail with EIO (a lost write-back) is
// seen, so this is the system call, not a stand-in that succeeds.
TEST_F(MsyncTest, ReturnsWhatTheKernelAnswers) {
  if (!pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    pmem2::testing::DenySystemCall(__NR_msync, EIO);
    errno = EDOM;
    const int result = MsyncSystemCall(pages_, kPage, MS_SYNC);
    pmem2::testing::WriteToParent(out, absl::StrCat(result, " ", errno));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, absl::StrCat(EIO, " ", EDOM));
}

// A thread that has a cancellation request pending when it syncs (deferred cancellation, the default).
struct Canceled {
  void* page = nullptr;
  bool glibc = false;                 // glibc's msync() instead of MsyncSystemCall()
  std::atomic<bool> returned{false};  // the sync returned to its caller
  int result = -1;
};

void* SyncWithCancellationPending(void* arg) {
  Canceled* c = static_cast<Canceled*>(arg);
  pthread_cancel(pthread_self());  // pending until the thread's next cancellation point
  c->result = c->glibc ? msync(c->page, kPage, MS_SYNC) : MsyncSystemCall(c->page, kPage, MS_SYNC);
  c->returned.store(true);
  pthread_testcancel();
  return nullptr;
}

// Why the page persists use the system call: glibc's msync() is a cancellation point (POSIX requires it), so a
// cancellation can end the thread inside it with the kernel's answer unread (msync.h); the system call is none.
TEST_F(MsyncTest, IsNoCancellationPointWhereGlibcsMsyncIsOne) {
  for (const bool glibc : {false, true}) {
    Canceled c;
    c.page = pages_;
    c.glibc = glibc;
    pthread_t thread;
    ASSERT_EQ(pthread_create(&thread, nullptr, SyncWithCancellationPending, &c), 0);
    void* exit_value = nullptr;
    ASSERT_EQ(pthread_join(thread, &exit_value), 0);
    EXPECT_EQ(exit_value, PTHREAD_CANCELED) << (glibc ? "glibc" : "the system call");
    if (glibc) {
      EXPECT_FALSE(c.returned.load()) << "glibc's msync() is no longer a cancellation point?";
    } else {
      EXPECT_TRUE(c.returned.load()) << "the thread ended inside the sync";
      EXPECT_EQ(c.result, 0);
    }
  }
}

}  // namespace
}  // namespace internal
}  // namespace pmem2
