// Copyright 2026 The pmem2 Authors.
//
// The PASS/MISS rules of the table, on made-up numbers. No timing happens here.

#include "tools/bench/table.h"

#include <cmath>
#include <string>

#include "gtest/gtest.h"

namespace pmem2 {
namespace bench {
namespace {

Row MakeRow(const std::string& op, const std::string& gran, size_t size, double pmem2, double ref, double limit,
            const std::string& limit_kind = "nt") {
  Row row;
  row.op = op;
  row.granularity = gran;
  row.size = size;
  row.pmem2_ns = pmem2;
  row.reference_ns = ref;
  row.limit_ns = limit;
  row.limit_kind = limit_kind;
  return row;
}

TEST(TableTest, RatioIsReferenceOverPmem2) {
  EXPECT_DOUBLE_EQ(Ratio(MakeRow("memcpy", "cache_line", 64, 50, 100, 40)), 2.0);
  EXPECT_TRUE(std::isnan(Ratio(MakeRow("memcpy", "cache_line", 64, NAN, 100, 40))));
}

TEST(TableTest, SmallCacheLineCopiesNeed1_6x) {
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "cache_line", 64, 50, 85, 40)).verdict, Verdict::kPass);
  const Evaluation miss = Evaluate(MakeRow("memset", "cache_line", 128, 50, 75, 40));
  EXPECT_EQ(miss.verdict, Verdict::kMiss);
  EXPECT_EQ(miss.target, "ratio>=1.60");
  EXPECT_EQ(miss.detail, "ratio 1.50 (-6.2%)");
}

TEST(TableTest, LargerCacheLineCopiesNeedParityAndTheLimit) {
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "cache_line", 4096, 100, 98, 96)).verdict, Verdict::kPass);
  // Fast enough against the reference, but 8 % over the limit.
  const Evaluation over = Evaluate(MakeRow("memcpy", "cache_line", 4096, 108, 110, 100));
  EXPECT_EQ(over.verdict, Verdict::kMiss);
  EXPECT_EQ(over.detail, "limit +8.0%");
  // Slower than 0.97x.
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "cache_line", 256, 100, 90, 99)).verdict, Verdict::kMiss);
  // No limit measured: cannot pass.
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "cache_line", 256, 100, 100, NAN)).verdict, Verdict::kMiss);
}

TEST(TableTest, PageGranularity) {
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "page", 4096, 100, 121, 50)).verdict, Verdict::kPass);
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "page", 64, 100, 119, 50)).verdict, Verdict::kMiss);
  EXPECT_EQ(Evaluate(MakeRow("memset", "page", 65536, 100, 97, 50)).verdict, Verdict::kPass);
  EXPECT_EQ(Evaluate(MakeRow("memset", "page", 65536, 100, 96, 50)).verdict, Verdict::kMiss);
  Row disk = MakeRow("memcpy", "page", 64, 100, 100, 50);
  disk.on_tmpfs = false;
  EXPECT_EQ(Evaluate(disk).verdict, Verdict::kNone);  // the page targets are about tmpfs
  disk.size = 65536;
  EXPECT_EQ(Evaluate(disk).verdict, Verdict::kNone);
}

TEST(TableTest, BytePathWithinTwoNanosecondsOfGlibc) {
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "byte", 64, 6.5, 11, 4.6, "glibc")).verdict, Verdict::kPass);
  const Evaluation miss = Evaluate(MakeRow("memcpy", "byte", 64, 7.0, 11, 4.5, "glibc"));
  EXPECT_EQ(miss.verdict, Verdict::kMiss);
  EXPECT_EQ(miss.detail, "glibc+2.50ns");
  EXPECT_EQ(Evaluate(MakeRow("memcpy", "byte", 4096, 70, 75, 60, "glibc")).verdict, Verdict::kNone);
}

TEST(TableTest, PersistNeedsParityWithinOnePercent) {
  EXPECT_EQ(Evaluate(MakeRow("persist", "cache_line", 64, 100, 101, 90, "flush")).verdict, Verdict::kPass);
  EXPECT_EQ(Evaluate(MakeRow("persist", "cache_line", 64, 100, 101, 90, "flush")).detail, "");
  const Evaluation tie = Evaluate(MakeRow("persist", "page", 4096, 100, 99.5, 90, "msync"));
  EXPECT_EQ(tie.verdict, Verdict::kPass);
  EXPECT_EQ(tie.detail, "tie");
  EXPECT_EQ(Evaluate(MakeRow("persist", "page", 4096, 100, 98, 90, "msync")).verdict, Verdict::kMiss);
}

TEST(TableTest, FormatSize) {
  EXPECT_EQ(FormatSize(64), "64 B");
  EXPECT_EQ(FormatSize(4096), "4 KiB");
  EXPECT_EQ(FormatSize(2 << 20), "2 MiB");
  EXPECT_EQ(FormatSize(1000), "1000 B");
}

TEST(TableTest, TableHasNotesRowsAndCounts) {
  const std::string table =
      FormatTable({MakeRow("memcpy", "cache_line", 64, 50, 100, 45), MakeRow("memcpy", "cache_line", 128, 50, 60, 45)},
                  {"note one"});
  EXPECT_EQ(table.rfind("note one\n", 0), 0u) << table;
  EXPECT_NE(table.find("2.00x"), std::string::npos) << table;
  EXPECT_NE(table.find("MISS ratio 1.20"), std::string::npos) << table;
  EXPECT_NE(table.find("targets: 1 PASS, 1 MISS"), std::string::npos) << table;
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
