# shellcheck shell=sh
# Helpers of the DAX test VM's init and plans (busybox sh). Sourced by /init, and by the shell that runs each
# step and named run under a timeout; it sources the others: report.sh (the records the host reads), nvdimm.sh
# (namespaces and devices), checks.sh and flush_checks.sh (the checks the plans run).
# shellcheck source=layout.sh
. /layout.sh
# shellcheck source=report.sh
. /report.sh
# shellcheck source=nvdimm.sh
. /nvdimm.sh
# shellcheck source=checks.sh
. /checks.sh
# shellcheck source=flush_checks.sh
. /flush_checks.sh
SETUP_FAILED=
RUN_TIMEOUT=90

# step NAME CMD...: a setup command; on failure, every later run of this boot fails too
step() {
    _name=$1
    shift
    [ -n "$SETUP_FAILED" ] && return 1
    log "step $_name: $*"
    if ! timeout "$RUN_TIMEOUT" sh -c '. /lib.sh; "$@"' "$_name" "$@" >/tmp/step.out 2>&1; then
        sed 's/^/   | /' /tmp/step.out
        SETUP_FAILED="setup step '$_name' failed: $(tail -n 1 /tmp/step.out | tr -d '\r')"
        emit STEP "$_name" FAIL "$SETUP_FAILED"
        return 1
    fi
    sed 's/^/   | /' /tmp/step.out
}

# run NAME CMD...: a named run; CMD prints "ok: ..." / "bad: ..." lines and exits 0 iff nothing was bad
run() {
    _name=$1
    shift
    if [ -n "$SETUP_FAILED" ]; then
        result "$_name" FAIL "$SETUP_FAILED"
        return
    fi
    log "run $_name: $*"
    # A fresh shell under the timeout, so that CMD can be one of the functions of these files.
    timeout "$RUN_TIMEOUT" sh -c '. /lib.sh; "$@"' "$_name" "$@" >/tmp/run.out 2>&1
    _rc=$?
    sed 's/^/   | /' /tmp/run.out
    _bad=$(grep '^bad: ' /tmp/run.out | sed 's/^bad: //' | head -n 3 | tr '\n' ';' | sed 's/;$//; s/;/; /g')
    if [ $_rc -eq 0 ] && [ -z "$_bad" ]; then
        result "$_name" PASS
    elif [ -n "$_bad" ]; then
        result "$_name" FAIL "$_bad"
    elif [ $_rc -eq 143 ] || [ $_rc -eq 137 ]; then
        result "$_name" FAIL "timed out after ${RUN_TIMEOUT}s inside the VM"
    else
        result "$_name" FAIL "exit status $_rc: $(tail -n 1 /tmp/run.out)"
    fi
}

# all CMD...: runs every command (for compound runs), exits non-zero if any failed
all() {
    _all_rc=0
    for _c in "$@"; do
        eval "$_c" || _all_rc=1
    done
    return $_all_rc
}

# mount_fs TYPE DEVICE DIR OPTIONS
mount_fs() {
    mkdir -p "$3"
    mount -t "$1" -o "$4" "$2" "$3" || return 1
    grep " $3 " /proc/mounts
}

# mount_overlay BASE DIR: an overlayfs on DIR whose layers are folders in BASE; its lower layer holds pmem2-file,
# which opening it for writing copies up
mount_overlay() {
    mkdir -p "$1/lower" "$1/upper" "$1/work" "$2" || return 1
    printf lower >"$1/lower/pmem2-file" || return 1
    mount -t overlay -o "lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" overlay "$2" || return 1
    grep " $2 " /proc/mounts
}

# no_writeback: keep the kernel from writing page-cache data back on its own before the crash
no_writeback() {
    echo 0 >/proc/sys/vm/dirty_writeback_centisecs
    echo 360000 >/proc/sys/vm/dirty_expire_centisecs
    echo 90 >/proc/sys/vm/dirty_ratio
    echo 80 >/proc/sys/vm/dirty_background_ratio
}
