# Helpers of the DAX test VM's init and plans (busybox sh). Sourced by /init, and by the shell that runs each
# named run under a timeout.
. /layout.sh
SETUP_FAILED=
RUN_TIMEOUT=90

finish() {
    echo "@@ DONE uptime=$(cut -d' ' -f1 /proc/uptime)"
    poweroff -f
    sleep 30
}

# log LINE...: a detail line for the console log (the host ignores it)
log() { echo "## [$(cut -d" " -f1 /proc/uptime)] $*"; }

# step NAME CMD...: a setup command; on failure, every later run of this boot fails too
step() {
    _name=$1
    shift
    [ -n "$SETUP_FAILED" ] && return 1
    log "step $_name: $*"
    if ! timeout "$RUN_TIMEOUT" sh -c '. /lib.sh; "$@"' "$_name" "$@" >/tmp/step.out 2>&1; then
        sed 's/^/   | /' /tmp/step.out
        SETUP_FAILED="setup step '$_name' failed: $(tail -n 1 /tmp/step.out | tr -d '\r')"
        echo "@@ STEP-FAIL $_name: $SETUP_FAILED"
        return 1
    fi
    sed 's/^/   | /' /tmp/step.out
}

# run NAME CMD...: a named run; CMD prints "ok: ..." / "bad: ..." lines and exits 0 iff nothing was bad
run() {
    _name=$1
    shift
    if [ -n "$SETUP_FAILED" ]; then
        echo "@@ FAIL $_name: $SETUP_FAILED"
        return
    fi
    log "run $_name: $*"
    # A fresh shell under the timeout, so that CMD can be one of the functions below.
    timeout "$RUN_TIMEOUT" sh -c '. /lib.sh; "$@"' "$_name" "$@" >/tmp/run.out 2>&1
    _rc=$?
    sed 's/^/   | /' /tmp/run.out
    _bad=$(grep '^bad: ' /tmp/run.out | sed 's/^bad: //' | head -n 3 | tr '\n' ';' | sed 's/;$//; s/;/; /g')
    if [ $_rc -eq 0 ] && [ -z "$_bad" ]; then
        echo "@@ PASS $_name"
    elif [ -n "$_bad" ]; then
        echo "@@ FAIL $_name: $_bad"
    elif [ $_rc -eq 143 ] || [ $_rc -eq 137 ]; then
        echo "@@ FAIL $_name: timed out after ${RUN_TIMEOUT}s inside the VM"
    else
        echo "@@ FAIL $_name: exit status $_rc: $(tail -n 1 /tmp/run.out)"
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

# crash_point: tells the host to SIGKILL qemu. No sync: page-cache data must stay unwritten.
crash_point() {
    [ -n "$SETUP_FAILED" ] && return
    echo "@@ READY-TO-CRASH uptime=$(cut -d' ' -f1 /proc/uptime)"
    while :; do sleep 100; done
}

# --- setup helpers (used by the plans) ----------------------------------------------------------------------

load_modules() {
    for m in $(cat /modules.list); do
        case $m in
            # Optional accelerated variants: absent CPU features make them refuse to load.
            *crc32c-intel.ko | *crc32c_intel.ko | *crct10dif-pclmul.ko | *crc32-pclmul.ko)
                insmod "/lib/modules/$K/$m" 2>/dev/null || echo "optional module $m not loaded" ;;
            *) insmod "/lib/modules/$K/$m" || { echo "insmod $m failed"; return 1; } ;;
        esac
    done
    # Regions and namespaces are probed asynchronously: wait for the three label-less namespaces.
    _i=0
    while [ "$(ls -d /sys/bus/nd/devices/namespace*.0 2>/dev/null | wc -l)" -lt 3 ]; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && { echo "nvdimm namespaces did not appear: $(ls /sys/bus/nd/devices)"; return 1; }
        sleep 0.1
    done
    for r in /sys/bus/nd/devices/region*; do
        echo "$(basename "$r"): size=$(cat "$r/size") persistence_domain='$(cat "$r/persistence_domain" 2>/dev/null)'"
    done
}

# ns_of_size BYTES: the namespace (e.g. namespace1.0) of the region with that size. Region numbering does not
# follow qemu's -device order, so the host gives every NVDIMM a distinct size.
ns_of_size() {
    for r in /sys/bus/nd/devices/region*; do
        [ "$(cat "$r/size")" = "$1" ] || continue
        for n in "$r"/namespace*.0; do
            [ -e "$n" ] && { basename "$n"; return 0; }
        done
    done
    echo "no namespace in a region of size $1" >&2
    return 1
}

# make_namespace BYTES fsdax|devdax: reconfigures the raw namespace of that region
make_namespace() {
    _ns=$(ns_of_size "$1") || return 1
    case $2 in
        fsdax) ndctl create-namespace --force --reconfig="$_ns" --mode=fsdax --map=dev ;;
        devdax) ndctl create-namespace --force --reconfig="$_ns" --mode=devdax --align=2M ;;
    esac
}

# blockdev_of_size BYTES: /dev/pmemN of the fsdax namespace in that region
blockdev_of_size() {
    _ns=$(ns_of_size "$1") || return 1
    for b in /sys/bus/nd/devices/"$_ns"/block/pmem* /sys/bus/nd/devices/pfn*/block/pmem*; do
        [ -e "$b" ] || continue
        # the pfn device's block dev belongs to our namespace if its "namespace" attribute names it
        case $b in
            */pfn*) [ "$(cat "${b%/block/*}/namespace" 2>/dev/null)" = "$_ns" ] || continue ;;
        esac
        echo "/dev/$(basename "$b")"
        return 0
    done
    echo "no block device for $_ns" >&2
    return 1
}

# devdax_of_size BYTES: /dev/daxN.M of the devdax namespace in that region
devdax_of_size() {
    _ns=$(ns_of_size "$1") || return 1
    for d in /sys/bus/nd/devices/dax*; do
        [ "$(cat "$d/namespace" 2>/dev/null)" = "$_ns" ] || continue
        for c in "$d"/dax*.*; do
            [ -e "$c" ] && { echo "/dev/$(basename "$c")"; return 0; }
        done
    done
    echo "no device dax for $_ns" >&2
    return 1
}

# mount_fs TYPE DEVICE DIR OPTIONS
mount_fs() {
    mkdir -p "$3"
    mount -t "$1" -o "$4" "$2" "$3" || return 1
    grep " $3 " /proc/mounts
}

# check_info PATH KEY=VALUE...: `pmem2 info PATH` prints every KEY with VALUE
check_info() {
    _path=$1
    shift
    pmem2 info "$_path" >/tmp/info.out 2>&1
    _rc=$?
    if [ $_rc -ne 0 ]; then
        cat /tmp/info.out
        echo "bad: pmem2 info $_path exited with $_rc: $(tail -n 1 /tmp/info.out)"
        return 1
    fi
    cat /tmp/info.out
    _r=0
    for _kv in "$@"; do
        _k=${_kv%%=*}
        _v=${_kv#*=}
        _got=$(sed -n "s/^$_k: //p" /tmp/info.out | head -n 1)
        if [ "$_got" = "$_v" ]; then
            echo "ok: info $_k: $_got"
        else
            echo "bad: pmem2 info $_path: $_k is '$_got', want '$_v'"
            _r=1
        fi
    done
    return $_r
}

# sysfs_devdax ATTR DEV: an attribute of a device dax (size, align)
sysfs_devdax() { cat "/sys/bus/dax/devices/$(basename "$2")/$1"; }

# cpu_flush: the cache-line flush instruction pmem2 should pick on this CPU
cpu_flush() {
    if grep -qw clwb /proc/cpuinfo; then echo clwb
    elif grep -qw clflushopt /proc/cpuinfo; then echo clflushopt
    else echo clflush; fi
}

# --- compound runs (used by the plans) ----------------------------------------------------------------------

# fsdax_checks DIR GRANULARITY: raw MAP_SYNC precondition, then pmem2's mapping rules on a new file in DIR
fsdax_checks() {
    case $2 in page) _sync=no ;; *) _sync=yes ;; esac
    all "dax_probe mapsync $1/raw-probe $_sync" "dax_checks fsdax $1/pmem2-file $2"
}

# devdax_checks DEV GRANULARITY
devdax_checks() { all "dax_probe devdax $1" "dax_checks devdax $1 $2"; }

# fsdax_info DIR GRANULARITY DOMAIN: `pmem2 info` on the file fsdax_checks left in DIR
fsdax_info() {
    case $2 in page) _sync=no ;; *) _sync=yes ;; esac
    _f=$1/pmem2-file
    set -- "$_f" source=regular_file "size=$(stat -c %s "$_f")" map_sync=$_sync granularity=$2 \
        ${3:+persistence_domain=$3} $(flush_expect "$2")
    check_info "$@"
}

# devdax_info DEV GRANULARITY DOMAIN
devdax_info() {
    check_info "$1" source=device_dax "size=$(sysfs_devdax size "$1")" "alignment=$(sysfs_devdax align "$1")" \
        map_sync=yes granularity=$2 persistence_domain=$3 $(flush_expect "$2")
}

# flush_expect GRANULARITY: the "flush" key pmem2 info should print (only checked at cache-line granularity,
# where the instruction matters)
flush_expect() { [ "$1" = cache_line ] && echo "flush=$(cpu_flush)"; }

# no_writeback: keep the kernel from writing page-cache data back on its own before the crash
no_writeback() {
    echo 0 >/proc/sys/vm/dirty_writeback_centisecs
    echo 360000 >/proc/sys/vm/dirty_expire_centisecs
    echo 90 >/proc/sys/vm/dirty_ratio
    echo 80 >/proc/sys/vm/dirty_background_ratio
}

