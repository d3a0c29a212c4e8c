#!/bin/bash
# Runs every example on a temporary file and checks what it wrote through the file, not the mapping.
set -euo pipefail
dir=$(mktemp -d "${TEST_TMPDIR:-/tmp}/examples.XXXXXX")
trap 'rm -rf "$dir"' EXIT

out=$("$1" "$dir/greeting")
echo "$out"
grep -q 'hello, persistent world' "$dir/greeting"
# An existing path is refused and left as it was; a run whose map cannot be made leaves no file behind.
echo keep >"$dir/existing"
rc=0; out=$("$1" "$dir/existing" 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 1 ]
grep -q 'exists; give a path that does not' <<<"$out"
[ "$(cat "$dir/existing")" = keep ]
rc=0; out=$(PMEM2_FORCE_GRANULARITY=bogus "$1" "$dir/greeting-bad" 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 1 ]
[ ! -e "$dir/greeting-bad" ]

# records N: the log's expected records, "record 0" to "record N-1", one a line.
records() { local i; for ((i = 0; i < $1; i++)); do echo "record $i"; done; }
# tail_of FILE: the log's published tail, the header's first 8 bytes (little-endian).
tail_of() { od -An -tu8 -N8 "$1" | tr -d ' '; }
# magic_of FILE: the header's bytes 8 to 15, the magic both logs write before their first tail ("PMEM2LOG").
magic_of() { head -c 16 "$1" | tail -c 8; }
# the_log FILE: exactly the bytes below the published tail (after the 64-byte header), so a gap or a stray byte
# inside the records shows; the header must hold the magic and a tail inside the log (what a reader checks before
# trusting a record: without the magic the tail could be any old bytes), and past the tail, every byte of the 4 MiB
# log must be zero (a new log leaves nothing of an old one), else it prints a line saying so, which no expected log
# matches.
the_log() {
  local tail
  if [ "$(magic_of "$1")" != PMEM2LOG ]; then
    echo "$1: no magic in the header"
    return
  fi
  tail=$(tail_of "$1")
  if [ "$tail" -gt $(((4 << 20) - 64)) ]; then
    echo "$1: tail $tail past the log"
    return
  fi
  if [ "$(head -c $((4 << 20)) "$1" | tail -c +$((65 + tail)) | tr -d '\0' | wc -c)" -ne 0 ]; then
    echo "$1: bytes past the tail ($tail) are not zero"
    return
  fi
  head -c $((64 + tail)) "$1" | tail -c +65
}

# The whole log, in order, under a tail that covers exactly its bytes, and the summary that says so.
out=$("$2" "$dir/log" 500)
echo "$out"
[ "$(the_log "$dir/log")" = "$(records 500)" ]
[ "$(tail_of "$dir/log")" -eq "$(records 500 | wc -c)" ]
grep -q "^$dir/log: $(records 500 | wc -c) bytes of records, page granularity, last: record 499$" <<<"$out"
# Again over the same file with fewer records: a new log, nothing of the old one left past it.
out=$("$2" "$dir/log" 3)
echo "$out"
[ "$(the_log "$dir/log")" = "$(records 3)" ]
[ "$(stat -c %s "$dir/log")" -eq $((4 << 20)) ]
# A file that is there already, shorter: grown to the log's 4 MiB, its bytes replaced by the log's.
printf 'old bytes\n%.0s' {1..100} >"$dir/log-short"
out=$("$2" "$dir/log-short" 10)
echo "$out"
[ "$(the_log "$dir/log-short")" = "$(records 10)" ]
[ "$(stat -c %s "$dir/log-short")" -eq $((4 << 20)) ]
# A larger file: the log is its first 4 MiB; its size and the bytes past them stay as they were (both examples).
for example in "$2" "$3"; do
  head -c $((5 << 20)) /dev/zero | tr '\0' x >"$dir/log-long"
  out=$("$example" "$dir/log-long" 10)
  echo "$out"
  [ "$(the_log "$dir/log-long")" = "$(records 10)" ]
  [ "$(stat -c %s "$dir/log-long")" -eq $((5 << 20)) ]
  [ "$(tail -c +$(((4 << 20) + 1)) "$dir/log-long" | tr -d x | wc -c)" -eq 0 ]
  [ "$(tail -c +$(((4 << 20) + 1)) "$dir/log-long" | wc -c)" -eq $((1 << 20)) ]
done
# A run that fails before its log exists (a map that cannot be made) leaves the path as it found it: no file where
# there was none, an existing file's bytes and size as they were.
for example in "$2" "$3"; do
  rc=0; out=$(PMEM2_FORCE_GRANULARITY=bogus "$example" "$dir/log-bad" 10 2>&1) || rc=$?
  echo "$out"
  [ "$rc" -eq 1 ]
  [ ! -e "$dir/log-bad" ]
  printf 'precious\n%.0s' {1..100} >"$dir/log-kept"
  cp "$dir/log-kept" "$dir/log-kept.copy"
  rc=0; out=$(PMEM2_FORCE_GRANULARITY=bogus "$example" "$dir/log-kept" 10 2>&1) || rc=$?
  echo "$out"
  [ "$rc" -eq 1 ]
  cmp "$dir/log-kept" "$dir/log-kept.copy"
done

# The asynchronous log, three ways over plain files: the default engine (io_uring, or the synchronous fallback
# where io_uring is unavailable, e.g. under a seccomp filter), the synchronous backend, and cache-line
# granularity forced on a shared file mapping (the CPU path). Each must publish the same bytes.
# check_async FILE BACKEND GRANULARITY [ENV...]: runs the example on FILE and checks its summary and the file.
check_async() {
  local file=$1 backend=$2 granularity=$3
  shift 3
  out=$(env "$@" "$async_log" "$file" 1000 16)
  echo "$out"
  grep -qE "^append_log_async: 1000 records in 63 batches, backend ($backend), $granularity granularity, tail 10890$" \
    <<<"$out"
  [ "$(magic_of "$file")" = PMEM2LOG ]
  [ "$(the_log "$file")" = "$(records 1000)" ]
}
async_log=$3
default=$(mktemp "$dir/async.XXXXXX")
synchronous=$(mktemp "$dir/async.XXXXXX")
cache_line=$(mktemp "$dir/async.XXXXXX")
check_async "$default" 'io_uring|synchronous' page
check_async "$synchronous" synchronous page PMEM2_NO_IO_URING=1
check_async "$cache_line" cpu cache_line PMEM2_FORCE_GRANULARITY=cache_line
cmp "$default" "$synchronous"
cmp "$default" "$cache_line"

# A batch size of 1, and a last batch that is not full.
out=$("$async_log" "$dir/async-small" 5 1)
echo "$out"
grep -q '^append_log_async: 5 records in 5 batches, ' <<<"$out"
out=$("$async_log" "$dir/async-small" 20 8)
echo "$out"
grep -q '^append_log_async: 20 records in 3 batches, ' <<<"$out"
[ "$(the_log "$dir/async-small")" = "$(records 20)" ]
out=$("$async_log" "$dir/async-small" 3 2)
echo "$out"
[ "$(the_log "$dir/async-small")" = "$(records 3)" ] # a new log: nothing of the last one past it

# Failures exit non-zero with the reason on stderr and no summary: a bad batch size, a map that cannot be made.
rc=0; out=$("$async_log" "$dir/async-bad" 10 0 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 2 ]
grep -q '^usage: ' <<<"$out"
rc=0; out=$(PMEM2_FORCE_GRANULARITY=bogus "$async_log" "$dir/async-bad" 10 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 1 ]
grep -q '^append_log_async: .*async-bad: opening: ' <<<"$out"

# Counts are parsed strictly (atoi read "abc" as 0 records, and the run exited 0): the error names the argument.
rc=0; out=$("$2" "$dir/log-bad" abc 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 2 ]
grep -q '^append_log: records "abc": not a whole number' <<<"$out"
grep -q '^usage: ' <<<"$out"
rc=0; out=$("$async_log" "$dir/async-bad" 1e3 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 2 ]
grep -q '^append_log_async: records "1e3": not a whole number' <<<"$out"
rc=0; out=$("$async_log" "$dir/async-bad" 10 4x 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 2 ]
grep -q '^append_log_async: records per batch "4x": not a whole number' <<<"$out"

# More records than the 4 MiB log holds: those that fit (307525 of "record N\n", 4 MiB - 64 bytes exactly) are
# published, and the run says so and fails instead of stopping silently with exit 0. Cache-line granularity
# forced, so that 300,000 persists are CPU flushes rather than msyncs.
full=307525
rc=0; out=$(PMEM2_FORCE_GRANULARITY=cache_line "$2" "$dir/log-full" 400000 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 1 ]
grep -q "^$dir/log-full: log full after $full records (4194240 bytes); $((400000 - full)) not written$" <<<"$out"
[ "$(magic_of "$dir/log-full")" = PMEM2LOG ]
[ "$(tail -c +65 "$dir/log-full" | tr -d '\0' | wc -l)" -eq $full ]
rc=0; out=$(PMEM2_FORCE_GRANULARITY=cache_line "$async_log" "$dir/async-full" 400000 1000 2>&1) || rc=$?
echo "$out"
[ "$rc" -eq 1 ]
grep -q "^append_log_async: $dir/async-full: log full after $full records (tail 4194240); $((400000 - full)) not written$" \
  <<<"$out"
[ "$(magic_of "$dir/async-full")" = PMEM2LOG ]
[ "$(tail -c +65 "$dir/async-full" | tr -d '\0' | wc -l)" -eq $full ]
echo "examples: ok"
