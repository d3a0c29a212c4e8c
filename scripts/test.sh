#!/usr/bin/env bash
# pmem2's whole test suite, as CI runs it: installs what is missing, then
#   1. every test target (bazel test //...), then again under AddressSanitizer, UndefinedBehaviorSanitizer and
#      ThreadSanitizer;
#   2. the separate consumer workspace in examples/consumer (local_repository + pmem2_dependencies());
#   3. the DAX VM stage (testing/dax_vm/run.sh; skip with PMEM2_SKIP_DAX_VM=1).
# Counts individual test cases (GoogleTest cases; one per shell test) and ends with `N passed, N failed`.
#
# Options: --quick runs stage 1 without the sanitizers and skips the DAX VM stage.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0
[ "${1:-}" = "--quick" ] && quick=1

scripts/install-deps.sh || { echo "install-deps failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0 failed=0 skipped=0
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

# count_bazel_results LOG TESTLOGS: adds the test cases of every test target in a `bazel test` log.
count_bazel_results() {
  local log=$1 testlogs=$2 stage=$3
  local target status dir p f s
  local -a xmls
  while read -r target status; do
    dir="$testlogs/${target#//}"; dir="${dir/://}"
    # A sharded test writes one report per shard and none at the top.
    xmls=()
    [ -f "$dir/test.xml" ] && xmls+=("$dir/test.xml")
    for x in "$dir"/shard_*_of_*/test.xml; do [ -f "$x" ] && xmls+=("$x"); done
    p=0 f=0 s=0
    if [ ${#xmls[@]} -gt 0 ] && [ "$status" != "NO_STATUS" ] && [ "$status" != "FAILED_TO_BUILD" ]; then
      read -r p f s < <(awk '
        /<testsuite / {
          t = e = fl = sk = d = 0
          if (match($0, / tests="[0-9]+"/)) t = substr($0, RSTART + 8, RLENGTH - 9)
          if (match($0, / failures="[0-9]+"/)) fl = substr($0, RSTART + 11, RLENGTH - 12)
          if (match($0, / errors="[0-9]+"/)) e = substr($0, RSTART + 9, RLENGTH - 10)
          if (match($0, / skipped="[0-9]+"/)) sk = substr($0, RSTART + 10, RLENGTH - 11)
          if (match($0, / disabled="[0-9]+"/)) d = substr($0, RSTART + 11, RLENGTH - 12)
          fail += fl + e; skip += sk + d; pass += t - fl - e - sk - d
        }
        END { print pass + 0, fail + 0, skip + 0 }' "${xmls[@]}")
    fi
    # A target that failed although its cases passed (a sanitizer report at exit, a crash, a timeout, a
    # build failure) counts as one failed case. So does FLAKY: it failed at least once.
    if [ "$status" != "PASSED" ] && [ "$f" -eq 0 ]; then f=1; fi
    [ "$status" != "PASSED" ] && echo "  $stage: $target $status"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  done < <(sed -nE 's#^(//[^ ]+) +(\(cached\) )?(PASSED|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS|FLAKY)([ ,].*)?$#\1 \3#p' "$log" |
           sed -e 's/ FAILED TO BUILD$/ FAILED_TO_BUILD/' -e 's/ NO STATUS$/ NO_STATUS/')
}

# bazel_stage NAME [bazel flags...]: bazel test //... with the flags; counts the results.
bazel_stage() {
  local name=$1; shift
  local start=$SECONDS before_p=$passed before_f=$failed
  local log="$log_dir/$name.log"
  bazel test --keep_going "$@" //... >"$log" 2>&1
  local rc=$?
  if ! grep -qE '^//[^ ]+ +(\(cached\) )?(PASSED|FAILED|TIMEOUT|NO STATUS|FLAKY)' "$log"; then
    echo "  $name: bazel test produced no results (exit $rc):"; tail -30 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
  else
    count_bazel_results "$log" "$(bazel info "$@" bazel-testlogs 2>/dev/null)" "$name"
    if [ $rc -ne 0 ] && [ $failed -eq $before_f ]; then
      echo "  $name: bazel exited $rc:"; grep -E "^(ERROR|FAILED)" "$log" | head -20 | sed 's/^/    /'
      failed=$((failed + 1))
    fi
  fi
  echo "stage $name: $((passed - before_p)) passed, $((failed - before_f)) failed ($((SECONDS - start)) s)"
}

bazel_stage tests
if [ $quick -eq 0 ]; then
  bazel_stage asan --config=asan
  bazel_stage ubsan --config=ubsan
  bazel_stage tsan --config=tsan

  # A consumer workspace that knows pmem2 only through local_repository + pmem2_dependencies().
  start=$SECONDS before_p=$passed before_f=$failed
  log="$log_dir/consumer.log"
  (cd examples/consumer && bazel test --keep_going //... && bazel run //:consumer) >"$log" 2>&1
  rc=$?
  count_bazel_results "$log" "$(cd examples/consumer && bazel info bazel-testlogs 2>/dev/null)" consumer
  if grep -q "^consumer ok" "$log"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  if [ $rc -ne 0 ]; then echo "  consumer: exit $rc"; tail -20 "$log" | sed 's/^/    /'; fi
  echo "stage consumer: $((passed - before_p)) passed, $((failed - before_f)) failed ($((SECONDS - start)) s)"

  # Always run (bash, not the exec bit): PMEM2_SKIP_DAX_VM=1 is the only way to skip it.
  {
    start=$SECONDS
    log="$log_dir/dax_vm.log"
    bash testing/dax_vm/run.sh >"$log" 2>&1
    rc=$?
    grep -E "^(PASS|FAIL|INFO)" "$log" | sed 's/^/  dax_vm: /'
    line=$(grep -E "^dax_vm: " "$log" | tail -1)
    echo "stage ${line:-dax_vm: no result line} ($((SECONDS - start)) s)"
    if [[ "$line" =~ ^dax_vm:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
      passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
      [ $rc -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && failed=$((failed + 1))
    elif [[ "$line" != *skipped* ]] || [ $rc -ne 0 ]; then
      tail -20 "$log" | sed 's/^/    /'
      failed=$((failed + 1))
    fi
  }
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
