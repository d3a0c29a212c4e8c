# shellcheck shell=sh
# How the guest tells the host what happened (busybox sh; sourced through /lib.sh). The host reads this boot's
# outcome from the console, and only from the records `emit` writes: lines of tab-separated fields that start
# with the field "@@" (no field holds a tab or a line break):
#   @@ BOOTED uptime=S                    init is running (the host's liveness check)
#   @@ RESULT name PASS|FAIL detail       the outcome of a named run; exactly one per `run` line of the plan
#   @@ STEP name FAIL detail              a setup step failed; every later run of this boot fails with it
#   @@ READY-TO-CRASH uptime=S            the host SIGKILLs qemu now (crash test); nothing after this runs
#   @@ DONE uptime=S                      the plan finished; the VM powers off
# Everything else on the console (kernel messages, the "## " log and "   | " output lines) is for people.
TAB=$(printf '\t')

# emit KIND FIELD...: one protocol record on the console
emit() {
    _rec="@@$TAB$1"
    shift
    for _f in "$@"; do
        _rec="$_rec$TAB$(printf '%s' "$_f" | tr '\t\r\n' '   ')"
    done
    printf '%s\n' "$_rec"
}

# result NAME PASS|FAIL [DETAIL]: the one record of a named run
result() { emit RESULT "$1" "$2" "${3:-}"; }

# guest_uptime: seconds since boot
guest_uptime() { cut -d' ' -f1 /proc/uptime; }

finish() {
    emit DONE "uptime=$(guest_uptime)"
    poweroff -f
    sleep 30
}

# log LINE...: a detail line for the console log (the host ignores it)
log() { echo "## [$(guest_uptime)] $*"; }

# crash_point: tells the host to SIGKILL qemu. No sync: page-cache data must stay unwritten.
crash_point() {
    [ -n "$SETUP_FAILED" ] && return
    emit READY-TO-CRASH "uptime=$(guest_uptime)"
    while :; do sleep 100; done
}
