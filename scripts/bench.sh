#!/usr/bin/env bash
# The README's benchmark: pmem2 against PMDK's libpmem2 1.12 (Debian's, loaded into the same process) and the
# limit (the fastest write-back strategy: NT stores, stores + CLWB/CLFLUSHOPT, MOVDIR64B), in one run on this
# machine, for three destination patterns (hot, sequential cold, random cold). Builds optimized and prints the CPU
# and one table per pattern, a row per (op, granularity, size): median ns per call of both libraries, the ratio
# reference/pmem2 (> 1: pmem2 faster), the limit and its strategy, and PASS/MISS against the targets. Takes about
# nine minutes on a 2-core machine (about three with --patterns=hot); progress goes to stderr.
#
#   scripts/bench.sh                          # the default run
#   scripts/bench.sh --repetitions=31         # more repetitions than the default 15 (steadier medians on a noisy host)
#   scripts/bench.sh --benchmark_filter=memcpy/cache_line
#
# Method (destination offsets, interleaving, pinning): tools/bench/comparison.h. For your own file or device:
# `pmem2 bench PATH [--plot=FILE.svg]`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-pmdk-examples --no-buildifier

if ! out=$(bazel build -c opt //tools/bench:compare_benchmark 2>&1); then
  echo "$out" >&2
  exit 1
fi
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
exec "$bin/tools/bench/compare_benchmark" "$@"
