// Copyright 2026 The pmem2 Authors.

#include "tools/bench/table.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * 1024;

bool Measured(double ns) { return std::isfinite(ns) && ns > 0; }

std::string Ns(double ns) {
  if (!Measured(ns)) return "-";
  if (ns >= 100000) return absl::StrFormat("%.0f", ns);
  if (ns >= 100) return absl::StrFormat("%.1f", ns);
  return absl::StrFormat("%.2f", ns);
}

std::string Percent(double fraction) { return absl::StrFormat("%+.1f%%", 100 * fraction); }

Evaluation RatioAtLeast(const Row& row, double min_ratio) {
  Evaluation e;
  e.target = absl::StrFormat("ratio>=%.2f", min_ratio);
  const double r = Ratio(row);
  if (!std::isfinite(r)) {
    e.verdict = Verdict::kMiss;
    e.detail = "not measured";
  } else if (r >= min_ratio) {
    e.verdict = Verdict::kPass;
  } else {
    e.verdict = Verdict::kMiss;
    e.detail = absl::StrFormat("ratio %.2f (%s)", r, Percent(r / min_ratio - 1));
  }
  return e;
}

}  // namespace

double Ratio(const Row& row) {
  if (!Measured(row.pmem2_ns) || !Measured(row.reference_ns)) return NAN;
  return row.reference_ns / row.pmem2_ns;
}

Evaluation Evaluate(const Row& row) {
  const bool copy = row.op == "memcpy" || row.op == "memset";
  if (row.op == "persist") {
    // pmem2 and the reference run the same instructions here (write back each line, fence; or msync), so a
    // difference under 1 % is a tie, not a result: PASS, marked as a tie.
    Evaluation e = RatioAtLeast(row, 0.99);
    e.target = "ratio>=1.00 (1% tie)";
    if (e.verdict == Verdict::kPass && Ratio(row) < 1.0) e.detail = "tie";
    return e;
  }
  if (!copy) return Evaluation();
  if (row.granularity == "cache_line") {
    if (row.size <= 128) return RatioAtLeast(row, 1.6);
    Evaluation e = RatioAtLeast(row, 0.97);
    e.target = "ratio>=0.97, <=limit+5%";
    if (!Measured(row.limit_ns)) {
      if (e.verdict == Verdict::kPass) e.verdict = Verdict::kMiss;
      e.detail = absl::StrCat(e.detail, e.detail.empty() ? "" : "; ", "limit not measured");
      return e;
    }
    const double over = row.pmem2_ns / row.limit_ns - 1;
    if (over > 0.05) {
      e.verdict = Verdict::kMiss;
      e.detail = absl::StrCat(e.detail, e.detail.empty() ? "" : "; ", "limit ", Percent(over));
    }
    return e;
  }
  if (row.granularity == "page") {
    if (!row.on_tmpfs) return Evaluation();  // the targets are defined on tmpfs, where msync is cheap
    return RatioAtLeast(row, row.size <= 4 * kKiB ? 1.2 : 0.97);
  }
  if (row.granularity == "byte" && row.op == "memcpy" && row.size == 64 && row.limit_kind == "glibc") {
    Evaluation e;
    e.target = "<=glibc+2ns";
    if (!Measured(row.pmem2_ns) || !Measured(row.limit_ns)) {
      e.verdict = Verdict::kMiss;
      e.detail = "not measured";
    } else if (row.pmem2_ns <= row.limit_ns + 2.0) {
      e.verdict = Verdict::kPass;
    } else {
      e.verdict = Verdict::kMiss;
      e.detail = absl::StrFormat("glibc+%.2fns", row.pmem2_ns - row.limit_ns);
    }
    return e;
  }
  return Evaluation();
}

std::string FormatSize(size_t size) {
  if (size >= kMiB && size % kMiB == 0) return absl::StrCat(size / kMiB, " MiB");
  if (size >= kKiB && size % kKiB == 0) return absl::StrCat(size / kKiB, " KiB");
  return absl::StrCat(size, " B");
}

std::string FormatTable(const std::vector<Row>& rows, const std::vector<std::string>& notes) {
  std::string out;
  for (const std::string& note : notes) absl::StrAppend(&out, note, "\n");
  const char* kHeader = "%-8s %-10s %7s %11s %11s %7s %11s %-6s %8s %6s  %-24s %s\n";
  absl::StrAppend(&out, absl::StrFormat(kHeader, "op", "gran", "size", "pmem2 ns", "ref ns", "ratio", "limit ns",
                                        "limit", "vs limit", "noise", "target", "verdict"));
  int pass = 0;
  int miss = 0;
  for (const Row& row : rows) {
    const Evaluation e = Evaluate(row);
    std::string verdict = "-";
    if (e.verdict == Verdict::kPass) {
      verdict = e.detail.empty() ? "PASS" : absl::StrCat("PASS (", e.detail, ")");
      ++pass;
    } else if (e.verdict == Verdict::kMiss) {
      verdict = absl::StrCat("MISS ", e.detail);
      ++miss;
    }
    const double ratio = Ratio(row);
    const std::string ratio_text = std::isfinite(ratio) ? absl::StrFormat("%.2fx", ratio) : "-";
    const std::string vs_limit =
        Measured(row.pmem2_ns) && Measured(row.limit_ns) ? Percent(row.pmem2_ns / row.limit_ns - 1) : "-";
    // The larger of the two libraries' spreads: if it dwarfs the margin, run again.
    const double spread = std::fmax(row.pmem2_spread, row.reference_spread);
    const std::string noise = std::isfinite(spread) ? absl::StrFormat("%.0f%%", 100 * spread) : "-";
    absl::StrAppend(&out, absl::StrFormat(kHeader, row.op, row.granularity, FormatSize(row.size), Ns(row.pmem2_ns),
                                          Ns(row.reference_ns), ratio_text, Ns(row.limit_ns), row.limit_kind, vs_limit,
                                          noise, e.target.empty() ? "-" : e.target, verdict));
  }
  absl::StrAppend(&out, "targets: ", pass, " PASS, ", miss, " MISS (ratio = reference/pmem2, >1 = pmem2 faster; ",
                  "noise = larger interquartile range / median of the two libraries' repetitions)\n");
  return out;
}

}  // namespace bench
}  // namespace pmem2
