// Copyright 2026 The pmem2 Authors.
//
// pmem_deep_drain and pmem_deep_persist (pmem2/c/libpmem.h) when the write-back fails: -1 with errno, at cache-line
// granularity (PMEM2_FORCE_GRANULARITY=cache_line on tmpfs) and at page granularity, with the failure made by the
// kernel (msync(2) denied by a seccomp filter, in a child) and, for what stays after it, by the msync test seam.

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"
#include "gtest/gtest.h"
#include "pmem2/c/libpmem.h"
#include "pmem2/map/page_persist_for_test.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/temp_files.h"

namespace {

using ::pmem2::testing::ChildResult;
using ::pmem2::testing::RunInChild;
using ::pmem2::testing::ScopedEnv;
using ::pmem2::testing::ScopedTempDir;
using ::pmem2::testing::WriteToParent;

constexpr size_t kPage = 4096;

// "<result> <errno name>" of a call returning 0 or -1 with errno.
std::string Outcome(int result, int error) {
  if (result == 0) return "0";
  const char* name = strerrorname_np(error);
  return absl::StrCat(result, " ", name != nullptr ? name : "?");
}

class LibpmemDeepTest : public ::testing::TestWithParam<const char*> {
 protected:
  // PMEM2_FORCE_GRANULARITY for the mapping: "cache_line", or nullptr (tmpfs: page).
  const char* force() const { return GetParam(); }
  bool cache_line() const { return force() != nullptr; }

  ScopedEnv no_force_{"PMEM2_FORCE_GRANULARITY", absl::nullopt};
  ScopedTempDir dir_{"/dev/shm"};
};

// Promised (libpmem.h): pmem_deep_drain and pmem_deep_persist return 0, or -1 with errno. A write-back the kernel
// fails (msync(2) denied with EIO in a child) makes both return -1 with EIO, each time it is asked (the mapping's
// failure stays): at cache-line granularity (is_pmem 1; not on fsdax, so the drain is pmem_msync) and at page
// granularity, where a deep persist after a failed pmem_msync is -1 with EIO too. Zero before the filter.
TEST_P(LibpmemDeepTest, AFailedWriteBackIsMinusOneWithErrno) {
  if (!pmem2::testing::SystemCallsCanBeDenied())
    GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  const std::string path = dir_.Join("f");
  const ChildResult child = RunInChild([&](int out) {
    if (cache_line()) setenv("PMEM2_FORCE_GRANULARITY", force(), 1);
    size_t len = 0;
    int is_pmem = -1;
    char* const p = static_cast<char*>(pmem_map_file(path.c_str(), 4 * kPage, PMEM_FILE_CREATE, 0600, &len, &is_pmem));
    if (p == nullptr) {
      WriteToParent(out, absl::StrCat("pmem_map_file: ", pmem_errormsg()));
      return 0;
    }
    std::memset(p, 'd', len);
    std::string said = absl::StrCat("is_pmem ", is_pmem, "; before ", Outcome(pmem_deep_persist(p, len), errno));
    pmem2::testing::DenySystemCall(__NR_msync, EIO);
    std::memset(p, 'e', len);
    if (!cache_line()) {
      errno = 0;
      const int r = pmem_msync(p + kPage, 1);
      absl::StrAppend(&said, "; msync ", Outcome(r, errno));
    }
    for (int i = 0; i < 2; ++i) {
      errno = 0;
      const int r = pmem_deep_persist(p, len);
      absl::StrAppend(&said, "; deep persist ", Outcome(r, errno));
    }
    errno = 0;
    const int drained = pmem_deep_drain(p + 2 * kPage + 5, 100);
    absl::StrAppend(&said, "; deep drain ", Outcome(drained, errno));
    absl::StrAppend(&said, "; message ", std::strlen(pmem_errormsg()) > 0 ? "set" : "empty");
    WriteToParent(out, said);
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output,
            absl::StrCat("is_pmem ", cache_line() ? 1 : 0, "; before 0", cache_line() ? "" : "; msync -1 EIO",
                         "; deep persist -1 EIO; deep persist -1 EIO; deep drain -1 EIO; message set"));
}

// Promised (libpmem.h, "Errors", and pmem_deep_drain's "pmem_msync()"): a failed write-back stays with the mapping,
// so a deep persist or deep drain after it is -1 with its errno even once msync succeeds again (the test seam fails
// one msync: the failing call is pmem_deep_persist at cache-line granularity, pmem_msync at page granularity); a
// new mapping of the file starts clean.
TEST_P(LibpmemDeepTest, AFailedWriteBackStaysForLaterDeepPersists) {
  const std::string path = dir_.Join("f");
  size_t len = 0;
  int is_pmem = -1;
  char* p = nullptr;
  {
    const ScopedEnv force("PMEM2_FORCE_GRANULARITY",
                          cache_line() ? absl::optional<std::string>(GetParam()) : absl::nullopt);
    p = static_cast<char*>(pmem_map_file(path.c_str(), 4 * kPage, PMEM_FILE_CREATE, 0600, &len, &is_pmem));
  }
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(is_pmem, cache_line() ? 1 : 0);
  std::memset(p, 'd', len);
  EXPECT_EQ(pmem_deep_persist(p, len), 0);
  static int failed_msyncs = 0;
  failed_msyncs = 0;
  pmem2::map_internal::SetMsyncForTest([](void*, size_t, int) {
    ++failed_msyncs;
    errno = EIO;
    return -1;
  });
  errno = 0;
  const int failed = cache_line() ? pmem_deep_persist(p + kPage, 10) : pmem_msync(p + kPage, 10);
  const int failed_errno = errno;
  pmem2::map_internal::SetMsyncForTest(nullptr);
  EXPECT_EQ(failed, -1);
  EXPECT_EQ(failed_errno, EIO);
  EXPECT_GE(failed_msyncs, 1);
  for (int i = 0; i < 2; ++i) {
    errno = 0;
    EXPECT_EQ(pmem_deep_persist(p, len), -1) << i;
    EXPECT_EQ(errno, EIO) << i;
  }
  errno = 0;
  EXPECT_EQ(pmem_deep_drain(p + 3 * kPage, 1), -1);
  EXPECT_EQ(errno, EIO);
  EXPECT_EQ(pmem_deep_drain(p, 0), 0) << "no byte asked about";
  EXPECT_EQ(pmem_unmap(p, len), 0);
  p = static_cast<char*>(pmem_map_file(path.c_str(), 0, 0, 0, &len, nullptr));
  ASSERT_NE(p, nullptr) << pmem_errormsg();
  EXPECT_EQ(pmem_deep_persist(p, len), 0) << "a new mapping starts without the old failure";
  EXPECT_EQ(pmem_unmap(p, len), 0);
}

INSTANTIATE_TEST_SUITE_P(Granularities, LibpmemDeepTest, ::testing::Values("cache_line", nullptr),
                         [](const ::testing::TestParamInfo<const char*>& param) {
                           return std::string(param.param != nullptr ? "CacheLine" : "Page");
                         });

}  // namespace
