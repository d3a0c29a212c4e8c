#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
TEST(Smoke, Works) { absl::StatusOr<int> s = absl::InvalidArgumentError(absl::StrCat("x", 1)); EXPECT_FALSE(s.ok()); }
