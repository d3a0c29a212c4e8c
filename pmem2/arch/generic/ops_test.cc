// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/generic/ops.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"

namespace pmem2 {
namespace arch {
namespace generic {
namespace {

std::vector<unsigned char> Pattern(size_t n) {
  std::vector<unsigned char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>(i * 37 + 11);
  return v;
}

// No write-back instruction: the map package must see that and fall back to msync for cache-line mappings.
TEST(GenericOpsTest, DoesNotClaimToWriteCacheLinesBack) {
  EXPECT_FALSE(CacheLineOps().writes_back_cache_lines);
  EXPECT_FALSE(ByteOps().writes_back_cache_lines);
}

TEST(CopyWordsTest, MatchesMemmoveForAllOverlaps) {
  for (size_t len = 0; len < 80; ++len) {
    for (ptrdiff_t shift = -20; shift <= 20; ++shift) {
      std::vector<unsigned char> buf = Pattern(200);
      std::vector<unsigned char> want = buf;
      std::memmove(want.data() + 60 + shift, want.data() + 60, len);
      CopyWords(buf.data() + 60 + shift, buf.data() + 60, len);
      ASSERT_EQ(buf, want) << "len " << len << " shift " << shift;
    }
  }
}

TEST(FillWordsTest, MatchesMemset) {
  for (size_t len = 0; len < 80; ++len) {
    for (size_t off = 0; off < 9; ++off) {
      std::vector<unsigned char> buf = Pattern(100);
      std::vector<unsigned char> want = buf;
      std::memset(want.data() + off, 0xab, len);
      FillWords(buf.data() + off, 0xab, len);
      ASSERT_EQ(buf, want) << "len " << len << " off " << off;
    }
  }
}

TEST(GenericOpsTest, TablesWork) {
  for (const PersistOps* ops : {&CacheLineOps(), &ByteOps()}) {
    std::vector<unsigned char> buf(300, 0);
    std::vector<unsigned char> src = Pattern(300);
    ops->memmove(buf.data(), src.data(), 300, 0);
    EXPECT_EQ(buf, src);
    ops->memset(buf.data(), 0, 300, kMemNoDrain);
    ops->persist(buf.data(), 300);
    EXPECT_EQ(buf, std::vector<unsigned char>(300, 0));
  }
  EXPECT_EQ(DescribeCpu().rfind("generic (", 0), 0u);
}

}  // namespace
}  // namespace generic
}  // namespace arch
}  // namespace pmem2
