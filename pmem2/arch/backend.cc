// Copyright 2026 The pmem2 Authors.
//
// What the backends publish for pmem2/arch (backend.h).

#include "pmem2/arch/backend.h"

#include <algorithm>

#include "pmem2/arch/destination_history.h"
#include "pmem2/arch/page_copy.h"

namespace pmem2 {
namespace arch {
namespace backend {

std::atomic<const PageCopyPlan*> current_page_plan{nullptr};

namespace {

size_t Or(size_t measured, size_t fallback) { return measured != 0 ? measured : fallback; }

// `rewrite` and `ahead` are the write kind's own thresholds on a rewrite (and without a history) and on the next
// lines (0: the rewrite one); a far copy takes t.far, from t.far_below the copies' rewrite threshold. Fills too: a fill
// takes the fills' own rewrite threshold where a copy takes the rewrite threshold, but not a far one, because on Zen 5
// ordinary stores won for the same 8 MiB filled again on both guests measured (8-16 MiB on the first), while for random
// fills of 8-32 MiB they won on one guest and lost on the other (x86_64/ops.cc).
template <class Fn>
PageDecision<Fn> Decide(const PageCopyPlan& plan, Fn kernel, size_t rewrite, size_t ahead) {
  const PageNtThresholds& t = plan.thresholds;
  PageDecision<Fn> d;
  d.kernel = kernel;
  d.threshold_from_environment = plan.threshold_from_environment;
  d.string_from = t.string_from;
  const auto index = [](Destination destination) { return static_cast<size_t>(destination); };
  if (t.far == 0) {
    std::fill(std::begin(d.nt), std::end(d.nt), rewrite);  // only nt[kRewrite] is read: no history
    return d;
  }
  d.history = true;
  d.nt[index(Destination::kFar)] = t.far;
  d.nt[index(Destination::kRewrite)] = rewrite;
  d.nt[index(Destination::kAhead)] = Or(ahead, rewrite);
  if (t.far_below != 0) d.far_below = t.far_below;
  d.far_from_below_nt = Or(t.rewrite, kPageNtThreshold);
  d.lines_back = std::max<size_t>(t.rewrite_back / 64, kNearLinesBack);
  d.rewrite_covering = t.rewrite_covering;
  d.run_on_is_ahead = t.run_on_is_ahead;
  return d;
}

}  // namespace

void DerivePageDecisions(PageCopyPlan* plan) {
  const PageNtThresholds& t = plan->thresholds;
  const size_t copy_rewrite = Or(t.rewrite, kPageNtThreshold);
  plan->copy = Decide(*plan, plan->memmove, copy_rewrite, t.ahead);
  plan->fill = Decide(*plan, plan->memset, Or(t.fill_rewrite, copy_rewrite), Or(t.fill_ahead, t.ahead));
}

}  // namespace backend
}  // namespace arch
}  // namespace pmem2
