#!/usr/bin/env bash
# The `pmem2` tool's command line: errors print the whole usage message (with the strategy names), and `info`
# refuses the bench flags it would ignore. $1: the pmem2 binary.
set -euo pipefail
pmem2="$1"
failed=0
check() {  # check NAME EXPECTED_EXIT PATTERN ARGS...
  local name="$1" expected="$2" pattern="$3" out status
  shift 3
  set +e
  out=$("$pmem2" "$@" 2>&1)
  status=$?
  set -e
  if [[ "$status" -ne "$expected" ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $status (expected $expected), output:"
    echo "$out"
    failed=1
  else
    echo "ok $name"
  fi
}
tmp=$(mktemp -d "${TEST_TMPDIR:-/tmp}/pmem2_main_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
check "no command: the usage with its strategy names" 1 '--strategies names: [a-z]'
check "unknown command: the usage with its strategy names" 1 '--strategies names: [a-z]' frobnicate
check "info with --plot is refused" 1 'info takes no bench flags' info "$tmp/f" --create=64K --plot="$tmp/x.svg"
check "info with --cpu is refused" 1 'info takes no bench flags' info "$tmp/f" --create=64K --cpu=0
[[ ! -e "$tmp/f" ]] || { echo "FAIL: a refused info created its PATH"; failed=1; }
check "info alone works" 0 '^granularity: ' info "$tmp/f" --create=64K
# A report that cannot be written (stdout on a full device) is a failure, not exit 0.
set +e
out=$("$pmem2" info "$tmp/f" 2>&1 >/dev/full)
status=$?
set -e
if [[ "$status" -ne 1 ]] || ! grep -q 'writing the report to standard output failed' <<<"$out"; then
  echo "FAIL info > /dev/full: exit $status (expected 1), output:"
  echo "$out"
  failed=1
else
  echo "ok info > /dev/full"
fi
exit "$failed"
