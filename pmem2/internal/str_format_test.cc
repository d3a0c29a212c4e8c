// Copyright 2026 The pmem2 Authors.

#include "pmem2/internal/str_format.h"

#include <cerrno>
#include <string>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"

namespace pmem2 {
namespace internal {
namespace {

// The same text as absl::StrFormat, from the stack buffer (below 256 bytes) and formatted again above it, at the
// edges of that buffer too.
TEST(StrFormatTest, MatchesAbslAtEveryLength) {
  for (size_t length : {size_t{0}, size_t{1}, size_t{254}, size_t{255}, size_t{256}, size_t{257}, size_t{2000}}) {
    const std::string text(length, 'x');
    EXPECT_EQ(StrFormat("%s", text), absl::StrFormat("%s", text)) << length;
    EXPECT_EQ(StrFormat("%s|%d|%#x|%.3f", text, -7, 255u, 2.5), absl::StrFormat("%s|%d|%#x|%.3f", text, -7, 255u, 2.5))
        << length;
  }
  std::string appended = "a";
  EXPECT_EQ(StrAppendFormat(&appended, "%d-%s", 42, std::string(300, 'y')), "a42-" + std::string(300, 'y'));
}

// Messages are often made between a failed system call and the read of its errno: formatting leaves errno alone.
TEST(StrFormatTest, LeavesErrnoAlone) {
  errno = ENOSPC;
  const std::string short_text = StrFormat("%s %d", "short", 1);
  EXPECT_EQ(errno, ENOSPC);
  const std::string long_text = StrFormat("%s", std::string(1000, 'z'));
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(long_text.size(), 1000u);
}

}  // namespace
}  // namespace internal
}  // namespace pmem2
