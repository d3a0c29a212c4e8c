// Copyright 2026 The pmem2 Authors.
//
// Checks the public tables through the public header only, as the map package sees them.

#include "pmem2/arch/persist_ops.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "pmem2/arch/cpu_description.h"

namespace pmem2 {
namespace arch {
namespace {

const unsigned kFlagSets[] = {0,
                              kMemNoDrain,
                              kMemNonTemporal,
                              kMemTemporal,
                              kMemWc,
                              kMemWb,
                              kMemNoFlush,
                              kMemNoDrain | kMemTemporal,
                              kMemNoDrain | kMemNonTemporal};

std::vector<unsigned char> Pattern(size_t n, unsigned seed) {
  std::vector<unsigned char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>((i * 131 + seed * 7 + 1) & 0xff);
  return v;
}

class PersistOpsTest : public ::testing::TestWithParam<bool> {
 protected:
  const PersistOps& ops() const { return GetParam() ? CacheLineOps() : ByteOps(); }
};

TEST_P(PersistOpsTest, TableIsComplete) {
  const PersistOps& o = ops();
  EXPECT_NE(o.persist, nullptr);
  EXPECT_NE(o.flush, nullptr);
  EXPECT_NE(o.drain, nullptr);
  EXPECT_NE(o.memmove, nullptr);
  EXPECT_NE(o.memset, nullptr);
  EXPECT_NE(o.flush_name, nullptr);
  EXPECT_NE(o.drain_name, nullptr);
  EXPECT_NE(o.memmove_name, nullptr);
  EXPECT_NE(o.memset_name, nullptr);
}

TEST_P(PersistOpsTest, MemmoveCopiesAndLeavesGuardsAlone) {
  constexpr size_t kGuard = 128;
  for (unsigned flags : kFlagSets) {
    for (size_t len : {0, 1, 7, 8, 63, 64, 65, 127, 255, 256, 257, 4096, 5000}) {
      for (size_t off : {0, 1, 8, 31, 63}) {
        std::vector<unsigned char> buf(kGuard + off + len + kGuard, 0xee);
        std::vector<unsigned char> src = Pattern(len + 1, static_cast<unsigned>(len));
        std::vector<unsigned char> want = buf;
        std::memcpy(want.data() + kGuard + off, src.data() + 1, len);
        EXPECT_EQ(ops().memmove(buf.data() + kGuard + off, src.data() + 1, len, flags), buf.data() + kGuard + off);
        ops().drain();
        ASSERT_EQ(buf, want) << "len " << len << " off " << off << " flags " << flags;
      }
    }
  }
}

TEST_P(PersistOpsTest, MemmoveOverlapsBothWays) {
  for (size_t len : {1, 15, 64, 100, 1000, 4097}) {
    for (ptrdiff_t shift : {-65, -8, -1, 1, 3, 64, 200}) {
      std::vector<unsigned char> buf = Pattern(len + 600, 3);
      std::vector<unsigned char> want = buf;
      unsigned char* src = buf.data() + 300;
      std::memmove(want.data() + 300 + shift, want.data() + 300, len);
      ops().memmove(src + shift, src, len, 0);
      ASSERT_EQ(buf, want) << "len " << len << " shift " << shift;
    }
  }
}

TEST_P(PersistOpsTest, MemsetFillsAndLeavesGuardsAlone) {
  constexpr size_t kGuard = 128;
  for (unsigned flags : kFlagSets) {
    for (size_t len : {0, 1, 9, 64, 65, 300, 4096, 5001}) {
      for (size_t off : {0, 5, 32}) {
        std::vector<unsigned char> buf(kGuard + off + len + kGuard, 0xee);
        std::vector<unsigned char> want = buf;
        std::memset(want.data() + kGuard + off, 0x5a, len);
        EXPECT_EQ(ops().memset(buf.data() + kGuard + off, 0x15a, len, flags), buf.data() + kGuard + off);
        ASSERT_EQ(buf, want) << "len " << len << " off " << off << " flags " << flags;
      }
    }
  }
}

// libpmem2 leaves bits outside kMemValidFlags undefined; pmem2 ignores them.
TEST_P(PersistOpsTest, UnknownFlagBitsAreIgnored) {
  std::vector<unsigned char> dst(300, 0), src = Pattern(300, 9);
  ops().memmove(dst.data(), src.data(), dst.size(), ~kMemValidFlags);
  EXPECT_EQ(dst, src);
  ops().memset(dst.data(), 1, dst.size(), 1u << 20);
  EXPECT_EQ(dst, std::vector<unsigned char>(300, 1));
}

// Persist and flush touch exactly the lines of [p, p + len): a range that ends at a page followed by an
// inaccessible page, or starts right after one, must not fault (CLFLUSH/CLFLUSHOPT/CLWB of an inaccessible line
// does), and no byte may change. An off-by-one in the line loop fails here.
TEST_P(PersistOpsTest, PersistAndFlushStayInsideTheRange) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  char* region = static_cast<char*>(mmap(nullptr, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(region, MAP_FAILED);
  char* usable = region + page;  // pages 1 and 2; pages 0 and 3 stay inaccessible
  ASSERT_EQ(mprotect(usable, 2 * page, PROT_READ | PROT_WRITE), 0);
  const std::vector<unsigned char> pattern = Pattern(2 * page, 3);
  std::memcpy(usable, pattern.data(), pattern.size());
  for (size_t len : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{4000}, 2 * page}) {
    for (char* p : {usable, usable + 2 * page - len, usable + page - len / 2}) {
      ops().flush(p, len);
      ops().drain();
      ops().persist(p, len);
    }
  }
  ops().persist(nullptr, 0);
  ops().flush(nullptr, 0);
  EXPECT_EQ(std::memcmp(usable, pattern.data(), pattern.size()), 0);
  munmap(region, 4 * page);
}

INSTANTIATE_TEST_SUITE_P(Granularity, PersistOpsTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "CacheLine" : "Byte";
                         });

TEST(DescribeCpuTest, NamesTheArchitecture) {
  const std::string text = DescribeCpu();
  EXPECT_FALSE(text.empty());
#if defined(__x86_64__)
  EXPECT_EQ(text.rfind("x86_64: ", 0), 0u) << text;
  EXPECT_NE(text.find("sse2"), std::string::npos) << text;
#endif
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
