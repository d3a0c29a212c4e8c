// Copyright 2026 The pmem2 Authors.
//
// tools/bench/options.cc
// -----------------------------------------------------------------------------
//
// --patterns, --strategies, --sizes and the run's values (see options.h).

#include "tools/bench/options.h"

#include <sched.h>

#include <algorithm>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/bench/limit_kernels.h"

namespace pmem2 {
namespace bench {
namespace {

absl::Status Invalid(absl::string_view flag, absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(flag, "=", text, ": ", why));
}

// The trimmed items of a comma-separated list, or an error for an empty one or a repeated one.
absl::StatusOr<std::vector<std::string>> Items(absl::string_view flag, absl::string_view text,
                                               absl::string_view choices) {
  std::vector<std::string> items;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    if (item.empty()) return Invalid(flag, text, absl::StrCat("empty name in the list; choose from ", choices));
    if (std::find(items.begin(), items.end(), item) != items.end()) {
      return Invalid(flag, text, absl::StrCat("\"", item, "\" is listed twice"));
    }
    items.emplace_back(item);
  }
  return items;
}

}  // namespace

absl::StatusOr<std::vector<size_t>> ParseSizes(absl::string_view text) {
  absl::StatusOr<std::vector<std::string>> items = Items("--sizes", text, "byte counts such as 64, 4K, 2M");
  if (!items.ok()) return items.status();
  std::vector<size_t> out;
  for (const std::string& item : *items) {
    absl::string_view digits = item;
    size_t scale = 1;
    if (absl::EndsWith(digits, "K")) scale = size_t{1} << 10;
    if (absl::EndsWith(digits, "M")) scale = size_t{1} << 20;
    if (scale != 1) digits.remove_suffix(1);
    uint64_t n = 0;
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), absl::ascii_isdigit) ||
        !absl::SimpleAtoi(digits, &n) || n == 0 || n > (uint64_t{1} << 30) / scale) {
      return Invalid("--sizes", text,
                     absl::StrCat("\"", item, "\" is not a size from 1 B to 1 GiB (digits with an optional K or M)"));
    }
    const size_t size = static_cast<size_t>(n) * scale;
    if (!LimitKernelsTake(size)) {
      return Invalid("--sizes", text,
                     absl::StrCat("\"", item,
                                  "\" is neither a multiple of 64 B (whole cache lines) nor of 8 B below 64 (a record "
                                  "smaller than a line)"));
    }
    if (std::find(out.begin(), out.end(), size) != out.end()) {
      return Invalid("--sizes", text, absl::StrCat("\"", item, "\" is the same size as another item"));
    }
    out.push_back(size);
  }
  return out;
}

bool HasColdPattern(const std::vector<Pattern>& patterns) {
  return std::any_of(patterns.begin(), patterns.end(), IsCold);
}

absl::StatusOr<std::vector<Pattern>> ParsePatterns(absl::string_view text) {
  const std::string choices = "hot, seq, rand, same, move";
  absl::StatusOr<std::vector<std::string>> items = Items("--patterns", text, choices);
  if (!items.ok()) return items.status();
  for (const std::string& item : *items) {
    if (std::none_of(std::begin(kPatterns), std::end(kPatterns), [&](Pattern p) { return item == PatternName(p); })) {
      return Invalid("--patterns", text, absl::StrCat("unknown pattern \"", item, "\"; choose from ", choices));
    }
  }
  std::vector<Pattern> out;
  for (Pattern p : kPatterns) {
    if (std::find(items->begin(), items->end(), PatternName(p)) != items->end()) out.push_back(p);
  }
  return out;
}

absl::StatusOr<StrategySelection> ParseStrategies(absl::string_view text, const std::vector<std::string>& available) {
  StrategySelection selection;
  if (text.empty()) return selection;
  selection.print = true;
  if (text == "all") return selection;
  const std::string choices = absl::StrCat("all, or some of ", absl::StrJoin(available, ", "));
  absl::StatusOr<std::vector<std::string>> items = Items("--strategies", text, choices);
  if (!items.ok()) return items.status();
  const std::vector<std::string>& known = KnownLimitStrategyNames();
  for (const std::string& item : *items) {
    if (std::find(available.begin(), available.end(), item) != available.end()) continue;
    if (std::find(known.begin(), known.end(), item) != known.end()) {
      return Invalid(
          "--strategies", text,
          absl::StrCat("\"", item, "\" is not available on this CPU; it has ", absl::StrJoin(available, ", ")));
    }
    return Invalid("--strategies", text, absl::StrCat("unknown strategy \"", item, "\"; choose ", choices));
  }
  selection.names = *std::move(items);
  return selection;
}

absl::Status CheckRunValues(int repetitions, double min_time, int cpu) {
  if (repetitions < 1 || repetitions > kMaxRepetitions) {
    return absl::InvalidArgumentError(absl::StrCat("--repetitions=", repetitions, ": give 1 to ", kMaxRepetitions));
  }
  if (!(min_time > 0) || !(min_time <= kMaxMinTime)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--min_time=", min_time, ": give a number of seconds above 0, at most ", kMaxMinTime));
  }
  if (cpu < -2) return absl::InvalidArgumentError(absl::StrCat("--cpu=", cpu, ": give a CPU number, -1 or -2"));
  if (cpu >= 0) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && (cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed))) {
      return absl::InvalidArgumentError(absl::StrCat("--cpu=", cpu, ": not a CPU this process may run on"));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> AvailableStrategyNames() {
  std::vector<std::string> names;
  for (const LimitStrategy& s : CacheLineLimitStrategies()) names.push_back(s.name);
  return names;
}

std::string DescribeStrategyNames() {
  return absl::StrCat(absl::StrJoin(KnownLimitStrategyNames(), ", "), " (this CPU: ",
                      absl::StrJoin(AvailableStrategyNames(), ", "), ")");
}

}  // namespace bench
}  // namespace pmem2
