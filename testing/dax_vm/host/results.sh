# shellcheck shell=bash
# The tally of run.sh: the named runs the plans declare (`run NAME ...` lines), the one result each gets, and
# the closing `dax_vm: N passed, N failed` line.
declare -A RESULT=() PLAN_OF=()
NAMES=()
PASSED=0
FAILED=0

info() { echo "dax_vm: $*"; }

# expect_runs PLAN_FILE...: every plan's named runs, in order
expect_runs() {
    local p n
    for p in "$@"; do
        [ -f "$p" ] || continue
        while read -r n; do
            NAMES+=("$n")
            PLAN_OF[$n]=$(basename "$p" .sh)
        done < <(awk '$1 == "run" { print $2 }' "$p")
    done
}

# record NAME PASS|FAIL [WHY]: prints the run's line; the first result of a name counts
record() {
    [ -n "${RESULT[$1]+x}" ] && return
    if [ "$2" = PASS ]; then
        RESULT[$1]=PASS
        PASSED=$((PASSED + 1))
        echo "PASS $1"
    else
        RESULT[$1]="FAIL: $3"
        FAILED=$((FAILED + 1))
        echo "FAIL $1: $3"
    fi
}

# collect_results PLAN LOG MISSING_WHY: one boot's RESULT records against the runs of its plan. Each run must
# report exactly once: a run that did not report fails with MISSING_WHY, one that reported twice fails, and so
# does a result for a run the plan does not have.
collect_results() {
    local plan=$1 log=$2 missing=$3 n status detail line
    local -A count=() first=()
    while IFS=$'\t' read -r n status detail; do
        if [ "${PLAN_OF[$n]:-}" != "$plan" ]; then
            record "$plan/$n" FAIL \
                "VM $plan reported '$status${detail:+: $detail}' for '$n', which is not one of its runs"
            continue
        fi
        count[$n]=$((${count[$n]:-0} + 1))
        [ "${count[$n]}" -eq 1 ] && first[$n]="$status	$detail"
        [ "${count[$n]}" -eq 2 ] && info "$plan: '$n' reported again: $status${detail:+: $detail}"
    done < <(guest_records "$log" RESULT)
    while IFS= read -r line; do info "$plan: ignored a malformed record: $line"; done < <(guest_malformed "$log")
    for n in "${NAMES[@]}"; do
        [ "${PLAN_OF[$n]}" = "$plan" ] || continue
        case ${count[$n]:-0} in
            0) record "$n" FAIL "$missing" ;;
            1) record "$n" "${first[$n]%%	*}" "${first[$n]#*	}" ;;
            *) record "$n" FAIL "VM $plan reported it ${count[$n]} times, not once (first: ${first[$n]%%	*})" ;;
        esac
    done
}

# summary_and_exit WHY: every run without a result fails with WHY; the closing line; exit 1 if anything failed
summary_and_exit() {
    local n
    for n in "${NAMES[@]}"; do
        [ -n "${RESULT[$n]+x}" ] || record "$n" FAIL "not run: $1"
    done
    if [ ${#NAMES[@]} -eq 0 ]; then
        echo "FAIL dax_vm: no named runs in $HERE/guest/plans"
        FAILED=$((FAILED + 1))
    fi
    cleanup
    echo "dax_vm: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && exit 0
    exit 1
}
