#!/usr/bin/env bash
# Coverage-guided fuzzing of one pmem2 fuzz target (testing/fuzz/driver.h) with clang's libFuzzer and
# AddressSanitizer, for as long as asked. The same targets run deterministically in `bazel test` (their _test targets);
# this finds what those fixed inputs do not. A crash leaves its input in ~/.cache/pmem2-fuzz-crashes/TARGET/ (crash-*,
# the path printed): give it to the target's _test on its command line to replay it, and commit it beside the target
# as a regression input, in the folder TARGET_corpus/ next to its BUILD file (the _test runs every file there first).
# The corpus is kept in ~/.cache/pmem2-fuzz-corpus/TARGET/ (PMEM2_FUZZ_CORPUS: another folder).
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
if [ -z "${HOME:-}" ]; then # a bare environment: Bazel and the folders below need a home
  HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
  export HOME=${HOME:-/tmp}
fi
"$root/scripts/install-deps.sh" --no-pmdk-examples --no-buildifier --with-fuzzer
cd "$root"
# An output base of its own: the clang toolchain would otherwise replace GCC's in the everyday build's cache.
output_base=${PMEM2_FUZZ_OUTPUT_BASE:-${XDG_CACHE_HOME:-$HOME/.cache}/pmem2-fuzz-bazel}
bazel --output_base="$output_base" build --config=libfuzzer "${target}_libfuzzer"
binary="$(bazel --output_base="$output_base" info --config=libfuzzer bazel-bin)/${target#//}"
binary="${binary/://}_libfuzzer"
# The user's own folders (a shared /tmp one may belong to another user, and libFuzzer ignores failed writes).
name=$(basename "${binary%_libfuzzer}")
corpus="${PMEM2_FUZZ_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/pmem2-fuzz-corpus}/$name"
crashes="${XDG_CACHE_HOME:-$HOME/.cache}/pmem2-fuzz-crashes/$name"
mkdir -p "$corpus" "$crashes"
echo "fuzz: $binary for $seconds s; corpus $corpus; crashing inputs into $crashes" >&2
"$binary" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$crashes/" "$@" "$corpus"
