#!/usr/bin/env bash
# The README's demo: installs what is missing, builds the `pmem2` tool and shows what pmem2 decides for a file
# (default: a new temporary file; pass a path, e.g. a file on a DAX file system or /dev/dax0.0, to see yours).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

path="${1:-}"
if [ -z "$path" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  path="$tmp/pmem2-demo"
fi
if ! out=$(bazel build -c opt //tools:pmem2 //examples:quickstart 2>&1); then
  echo "$out" >&2
  exit 1
fi
bin=$(bazel info -c opt bazel-bin 2>/dev/null)
echo "\$ pmem2 info $path"
"$bin/tools/pmem2" info "$path"
echo
echo "\$ PMEM2_FORCE_GRANULARITY=cache_line pmem2 info $path   # what persistent memory without eADR would get"
PMEM2_FORCE_GRANULARITY=cache_line "$bin/tools/pmem2" info "$path" | grep -E "^(granularity|forced|flush|drain|memmove|memset):"
echo
echo "\$ quickstart $path.greeting"
"$bin/examples/quickstart" "$path.greeting"
