#!/bin/bash
# Runs every example on a temporary file and checks what it wrote through the file, not the mapping.
set -euo pipefail
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/examples.XXXXXX")
trap 'rm -rf "$dir"' EXIT

out=$("$1" "$dir/greeting")
echo "$out"
grep -q 'hello, persistent world' "$dir/greeting"

out=$("$2" "$dir/log" 500)
echo "$out"
grep -q '^record 499$' <(tail -c +65 "$dir/log" | tr -d '\0')
[ "$(tail -c +65 "$dir/log" | tr -d '\0' | wc -l)" -eq 500 ]
echo "examples: ok"
