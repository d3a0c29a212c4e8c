#!/usr/bin/env bash
# The README's demo: installs what is missing, builds the `pmem2` tool and shows what pmem2 decides for a file
# (default: a new temporary file; pass a path, e.g. a file on a DAX file system or /dev/dax0.0, to see yours).
# A missing file is created with 16 MiB allocated (`pmem2 info --create=16M`), except right in /dev: a mistyped
# /dev/daxX.Y is an error there instead of a new regular file (folders below /dev, such as /dev/shm, are fine).
# The quickstart example then writes its greeting to a file in a new temporary folder (mktemp -d), removed at
# exit: never next to PATH, where it would leave PATH.greeting behind (or create /dev/dax0.0.greeting).
set -euo pipefail
# A relative PATH names a file from the caller's folder, not the checkout's (the script runs from the latter).
given="${1:-}"
if [[ -n "$given" && "$given" != /* ]]; then given="${PWD%/}/$given"; fi
cd "$(dirname "$0")/.."
scripts/install-deps.sh --no-pmdk-examples --no-buildifier

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
path="${given:-$tmp/pmem2-demo}"
if ! out=$(bazel build -c opt //tools:pmem2 //examples:quickstart 2>&1); then
  echo "$out" >&2
  exit 1
fi
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
create=(--create=16M)
case "$path" in
  /dev/*/*) ;;
  /dev/*) create=() ;;
esac
echo "\$ pmem2 info $path${create[*]:+ ${create[*]}}"
"$bin/tools/pmem2" info "$path" ${create[@]+"${create[@]}"}
echo
echo "\$ PMEM2_FORCE_GRANULARITY=cache_line pmem2 info $path   # what persistent memory without eADR would get"
PMEM2_FORCE_GRANULARITY=cache_line "$bin/tools/pmem2" info "$path" | grep -E "^(granularity|forced|flush|drain|memmove|memset):"
echo
echo "\$ quickstart $tmp/greeting"
"$bin/examples/quickstart" "$tmp/greeting"
