#!/usr/bin/env bash
# The README's benchmark: pmem2 against PMDK's libpmem2 1.12 (Debian's, loaded into the same process) and the
# NT-store limit, in one run on this machine. Builds optimized and prints one table row per (op, granularity,
# size): median ns per call of both libraries, the ratio reference/pmem2 (> 1: pmem2 faster), the limit, and
# PASS/MISS against issue 3's targets. Takes about two and a half minutes on a 2-core machine; progress goes to
# stderr.
#
#   scripts/bench.sh                          # the default run
#   scripts/bench.sh --repetitions=15         # more repetitions (medians are steadier on a noisy host)
#   scripts/bench.sh --benchmark_filter=memcpy/cache_line
#
# Method (destination offsets, interleaving, pinning): tools/bench/comparison.h. For your own file or device:
# `pmem2 bench PATH [--plot=FILE.svg]`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

if ! out=$(bazel build -c opt //tools/bench:compare_benchmark 2>&1); then
  echo "$out" >&2
  exit 1
fi
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
exec "$bin/tools/bench/compare_benchmark" "$@"
