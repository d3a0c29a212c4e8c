// Copyright 2026 The pmem2 Authors.

#include "tools/bench/table.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

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

// pmem2 within `max_over` of the limit; a MISS (with the excess) otherwise or when the limit was not measured.
void CheckLimit(const Row& row, double max_over, Evaluation* e) {
  if (!Measured(row.limit_ns)) {
    if (e->verdict == Verdict::kPass) e->verdict = Verdict::kMiss;
    e->detail = absl::StrCat(e->detail, e->detail.empty() ? "" : "; ", "limit not measured");
    return;
  }
  const double over = row.pmem2_ns / row.limit_ns - 1;
  if (over > max_over) {
    e->verdict = Verdict::kMiss;
    e->detail = absl::StrCat(e->detail, e->detail.empty() ? "" : "; ", "limit ", Percent(over));
  }
}

const char* PatternTitle(const std::string& pattern) {
  if (pattern == "hot") {
    return "pattern hot: the same destination lines again (from 4 KiB: the next bytes of the hot window)";
  }
  if (pattern == "seq") {
    return "pattern seq (sequential cold): a cursor shared by every column walks the cold window, stride = size "
           "(from 64 B each call starts a line; below it records are packed, as in a log)";
  }
  if (pattern == "rand") {
    return "pattern rand (random cold): a uniformly random size-aligned slot of the cold window per call, one PRNG "
           "stream shared by every column";
  }
  if (pattern == "same") {
    return "pattern same: the same destination bytes again at every size (a header, a ring or a block written again)";
  }
  if (pattern == "move") {
    return "pattern move (copies only): seq's cursor over the cold window's first half, from a source as cold, the "
           "same offset into its second half (a compaction, records moved into place)";
  }
  return "pattern ?";
}

// The patterns of `rows` in the table's order.
std::vector<std::string> PatternsOf(const std::vector<Row>& rows) {
  std::vector<std::string> out;
  for (const char* p : {"hot", "seq", "rand", "same", "move"}) {
    if (std::any_of(rows.begin(), rows.end(), [p](const Row& r) { return r.pattern == p; })) out.push_back(p);
  }
  for (const Row& r : rows) {  // anything else last, in order of appearance
    if (std::find(out.begin(), out.end(), r.pattern) == out.end()) out.push_back(r.pattern);
  }
  return out;
}

}  // namespace

void PickLimit(Row* row) {
  if (row->strategies.empty()) return;
  const StrategyTime* best = nullptr;
  for (const StrategyTime& s : row->strategies) {
    if (Measured(s.ns) && (best == nullptr || s.ns < best->ns)) best = &s;
  }
  row->limit_ns = best != nullptr ? best->ns : NAN;
  row->limit_kind = best != nullptr ? best->name : "-";
}

double Ratio(const Row& row) {
  if (!Measured(row.pmem2_ns) || !Measured(row.reference_ns)) return NAN;
  return row.reference_ns / row.pmem2_ns;
}

Targets TargetsFor(absl::string_view vendor, int family, int model) {
  Targets t;
  if (vendor == "AuthenticAMD" && family == 25 && model == 17) {
    t.cpu = "AMD Zen 4 (family 25 model 17)";
    t.hot_small_cache_line = 1.6;
    t.small_page = 1.2;
  } else if (vendor == "GenuineIntel" && family == 6 && model == 207) {
    t.cpu = "Intel Emerald Rapids (family 6 model 207)";
    t.rand_small_cache_line = 1.4;
  }
  return t;
}

Evaluation Evaluate(const Row& row, const Targets& targets) {
  const bool copy = row.op == "memcpy" || row.op == "memset";
  // The page targets, persist's too, are defined on tmpfs, where msync is cheap; on a disk it dominates.
  if (row.granularity == "page" && !row.on_tmpfs) return Evaluation();
  if (row.op == "persist") {
    // pmem2 and the reference run the same instructions here (write back each line, fence; or msync), so a
    // difference under 1 % is a tie, not a result: PASS, marked as a tie.
    Evaluation e = RatioAtLeast(row, 0.99);
    e.target = "ratio>=1.00 (1% tie)";
    if (e.verdict == Verdict::kPass && Ratio(row) < 1.0) e.detail = "tie";
    return e;
  }
  if (!copy) return Evaluation();
  const bool cache_line = row.granularity == "cache_line";
  if (cache_line || row.granularity == "page") {
    // same is hot at every size: the hot pattern's targets.
    const bool hot = row.pattern == "hot" || row.pattern == "same";
    double min_ratio = 0.97;
    if (cache_line && row.size >= 64 && row.size <= 128) {  // the 64-128 B, not records below a line
      if (hot) min_ratio = targets.hot_small_cache_line;
      if (row.pattern == "rand") min_ratio = targets.rand_small_cache_line;
    } else if (!cache_line && row.size <= 4 * kKiB) {
      min_ratio = targets.small_page;
    }
    const int max_over_percent = row.size >= 512 || (hot && row.size >= 256) ? 5 : 10;
    Evaluation e = RatioAtLeast(row, min_ratio);
    e.target = absl::StrFormat("ratio>=%.2f, <=limit+%d%%", min_ratio, max_over_percent);
    CheckLimit(row, max_over_percent / 100.0, &e);
    return e;
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

std::string FormatTable(const std::vector<Row>& rows, const std::vector<std::string>& notes, const Targets& targets) {
  std::string out;
  for (const std::string& note : notes) absl::StrAppend(&out, note, "\n");
  static constexpr char kHeader[] = "%-8s %-10s %7s %11s %11s %7s %11s %-20s %8s %6s  %-24s %s\n";
  int pass = 0;
  int miss = 0;
  for (const std::string& pattern : PatternsOf(rows)) {
    absl::StrAppend(&out, "\n", PatternTitle(pattern), "\n");
    absl::StrAppend(&out, absl::StrFormat(kHeader, "op", "gran", "size", "pmem2 ns", "ref ns", "ratio", "limit ns",
                                          "limit", "vs limit", "noise", "target", "verdict"));
    for (const Row& row : rows) {
      if (row.pattern != pattern) continue;
      const Evaluation e = Evaluate(row, targets);
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
                                            Ns(row.reference_ns), ratio_text, Ns(row.limit_ns), row.limit_kind,
                                            vs_limit, noise, e.target.empty() ? "-" : e.target, verdict));
    }
  }
  absl::StrAppend(&out, "targets (", targets.cpu, "): ", pass, " PASS, ", miss,
                  " MISS (ratio = reference/pmem2, >1 = pmem2 faster; ",
                  "noise = larger interquartile range / median of the two libraries' repetitions)\n");
  return out;
}

std::string FormatStrategies(const std::vector<Row>& rows) {
  std::vector<std::string> names;  // every strategy of the rows that have a choice, in order of appearance
  for (const Row& row : rows) {
    if (row.strategies.size() < 2) continue;
    for (const StrategyTime& s : row.strategies) {
      if (std::find(names.begin(), names.end(), s.name) == names.end()) names.push_back(s.name);
    }
  }
  if (names.empty()) return "";
  std::string out = "limit strategies: median ns per call; * = the fastest, the row's limit (limit_kernels.h)\n";
  absl::StrAppend(&out, absl::StrFormat("%-7s %-8s %-10s %7s", "pattern", "op", "gran", "size"));
  auto width = [](const std::string& name) { return std::max<int>(11, static_cast<int>(name.size())); };
  for (const std::string& name : names) absl::StrAppend(&out, absl::StrFormat(" %*s", width(name), name));
  absl::StrAppend(&out, "\n");
  for (const std::string& pattern : PatternsOf(rows)) {
    for (const Row& row : rows) {
      if (row.pattern != pattern || row.strategies.size() < 2) continue;
      absl::StrAppend(
          &out, absl::StrFormat("%-7s %-8s %-10s %7s", row.pattern, row.op, row.granularity, FormatSize(row.size)));
      for (const std::string& name : names) {
        std::string cell = "-";
        for (const StrategyTime& s : row.strategies) {
          if (s.name != name || !Measured(s.ns)) continue;
          cell = Ns(s.ns);
          if (s.name == row.limit_kind && s.ns == row.limit_ns) cell = "*" + cell;
        }
        absl::StrAppend(&out, absl::StrFormat(" %*s", width(name), cell));
      }
      absl::StrAppend(&out, "\n");
    }
  }
  return out;
}

std::string FormatPatternSummary(const std::vector<Row>& rows) {
  const std::vector<std::string> patterns = PatternsOf(rows);
  if (patterns.size() < 2) return "";
  std::vector<std::pair<std::string, std::string>> lines;  // (op, granularity) in order of appearance
  std::vector<size_t> sizes;
  std::map<std::tuple<std::string, std::string, size_t, std::string>, double> ratio;
  for (const Row& row : rows) {
    if (row.op != "memcpy" && row.op != "memset") continue;
    const std::pair<std::string, std::string> line(row.op, row.granularity);
    if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
    if (std::find(sizes.begin(), sizes.end(), row.size) == sizes.end()) sizes.push_back(row.size);
    ratio[{row.op, row.granularity, row.size, row.pattern}] = Ratio(row);
  }
  if (lines.empty()) return "";
  std::sort(sizes.begin(), sizes.end());
  std::string out =
      absl::StrCat("ratio reference/pmem2 by pattern (", absl::StrJoin(patterns, " / "), "; >1 = pmem2 faster)\n");
  // A cell of every pattern ("1.00/" each, the last without its slash) and two spaces; 16 for the three default ones.
  const int width = static_cast<int>(std::max<size_t>(16, 5 * patterns.size() + 1));
  absl::StrAppend(&out, absl::StrFormat("%-8s %-10s", "op", "gran"));
  for (size_t size : sizes) absl::StrAppend(&out, absl::StrFormat(" %*s", width, FormatSize(size)));
  absl::StrAppend(&out, "\n");
  for (const auto& [op, granularity] : lines) {
    absl::StrAppend(&out, absl::StrFormat("%-8s %-10s", op, granularity));
    for (size_t size : sizes) {
      std::vector<std::string> cells;
      bool any = false;
      for (const std::string& pattern : patterns) {
        auto it = ratio.find({op, granularity, size, pattern});
        const bool measured = it != ratio.end() && std::isfinite(it->second);
        cells.push_back(measured ? absl::StrFormat("%.2f", it->second) : "-");
        any = any || measured;
      }
      absl::StrAppend(&out, absl::StrFormat(" %*s", width, any ? absl::StrJoin(cells, "/") : "-"));
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

}  // namespace bench
}  // namespace pmem2
