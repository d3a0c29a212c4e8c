// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/generic/ops.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
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

// The header's store-width promise, on the CPU running the test: while one thread writes a buffer again and again
// (every aligned 8-byte word each time, alternately all 0x22 and all 0x11 bytes: CopyWords and FillWords, in turn,
// from a misaligned start so that the byte loops run too), no aligned word a second thread reads holds bytes of both.
TEST(CopyWordsTest, NoAlignedWordIsSeenHalfWritten) {
  constexpr size_t kWords = 4096;  // 32 KiB
  alignas(64) static uint64_t buffer[kWords];
  alignas(64) static uint64_t twos[kWords];
  for (size_t i = 0; i < kWords; ++i) {
    twos[i] = 0x2222222222222222ull;
    __atomic_store_n(&buffer[i], 0x1111111111111111ull, __ATOMIC_RELAXED);
  }
  std::atomic<bool> reading{false}, done{false};
  std::thread writer([&] {
    while (!reading.load(std::memory_order_acquire)) {
    }
    // From byte 3 to 3 bytes before the end: the first and last words are written by bytes, and not read below.
    char* const start = reinterpret_cast<char*>(buffer) + 3;
    const size_t length = sizeof(buffer) - 6;
    // At least 300 ms, so that the reader, which may share the CPU, sees many words being written.
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    for (int round = 0; round < 4000 || std::chrono::steady_clock::now() < until; ++round) {
      if (round % 2 == 0) {
        CopyWords(start, reinterpret_cast<const char*>(twos) + 3, length);
      } else {
        FillWords(start, 0x11, length);
      }
    }
    done.store(true, std::memory_order_release);
  });
  size_t torn = 0, reads = 0;
  reading.store(true, std::memory_order_release);
  do {
    for (size_t i = 1; i < kWords - 1; i += 7, ++reads) {
      const uint64_t w = __atomic_load_n(&buffer[i], __ATOMIC_RELAXED);
      if (w != 0x1111111111111111ull && w != 0x2222222222222222ull) ++torn;
    }
  } while (!done.load(std::memory_order_acquire));
  writer.join();
  EXPECT_GT(reads, kWords / 7);
  EXPECT_EQ(torn, 0u) << torn << " of " << reads << " aligned words read half written";
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
