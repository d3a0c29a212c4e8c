#!/usr/bin/env bash
# Coverage-guided fuzzing of one pmem2 fuzz target (testing/fuzz/driver.h) with clang's libFuzzer and
# AddressSanitizer, for as long as asked. The same targets run deterministically in `bazel test` (their _test targets);
# this finds what those fixed inputs do not. A crash leaves its input in the working folder (crash-*): give it to the
# target's _test on its command line to replay it, and commit it beside the target as a regression input.
#
#   scripts/fuzz.sh //pmem2/arch/x86_64:kernel_sequence_fuzz 600 [libFuzzer options, e.g. -max_len=2048]
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: scripts/fuzz.sh //package:target [seconds (default 60)] [libFuzzer options]" >&2
  exit 2
fi
target=$1
seconds=${2:-60}
shift $(($# < 2 ? $# : 2))
case $seconds in
  '' | *[!0-9]*) echo "fuzz: seconds must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh" --no-pmdk-examples --with-fuzzer
cd "$root"
# An output base of its own: the clang toolchain would otherwise replace GCC's in the everyday build's cache.
output_base=${PMEM2_FUZZ_OUTPUT_BASE:-${XDG_CACHE_HOME:-$HOME/.cache}/pmem2-fuzz-bazel}
bazel --output_base="$output_base" build --config=libfuzzer "${target}_libfuzzer"
binary="$(bazel --output_base="$output_base" info --config=libfuzzer bazel-bin)/${target#//}"
binary="${binary/://}_libfuzzer"
corpus="${PMEM2_FUZZ_CORPUS:-/tmp/pmem2-fuzz-corpus}/$(basename "${binary%_libfuzzer}")"
mkdir -p "$corpus"
echo "fuzz: $binary for $seconds s; corpus $corpus" >&2
"$binary" -max_total_time="$seconds" -print_final_stats=1 "$@" "$corpus"
