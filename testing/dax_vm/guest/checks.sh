# shellcheck shell=sh
# The checks the plans name in their runs (busybox sh; sourced through /lib.sh). Each prints "ok: ..." and
# "bad: ..." lines and fails if anything was bad; `run` in lib.sh turns that into the run's RESULT record.

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

# fsdax_checks DIR GRANULARITY: raw MAP_SYNC precondition, then pmem2's mapping rules on a new file in DIR
fsdax_checks() {
    case $2 in page) _sync=no ;; *) _sync=yes ;; esac
    all "dax_probe mapsync $1/raw-probe $_sync" "dax_checks fsdax $1/pmem2-file $2"
}

# devdax_checks DEV GRANULARITY
devdax_checks() { all "dax_probe devdax $1" "dax_checks devdax $1 $2"; }

# fsdax_info DIR GRANULARITY [DOMAIN]: `pmem2 info` on the file fsdax_checks left in DIR
fsdax_info() {
    _f=$1/pmem2-file _g=$2 _d=${3:-}
    case $_g in page) _sync=no ;; *) _sync=yes ;; esac
    set -- "$_f" source=regular_file "size=$(stat -c %s "$_f")" "map_sync=$_sync" "granularity=$_g"
    if [ -n "$_d" ]; then set -- "$@" "persistence_domain=$_d"; fi
    # The "flush" key is checked only at cache-line granularity, where the instruction matters.
    if [ "$_g" = cache_line ]; then set -- "$@" "flush=$(cpu_flush)"; fi
    check_info "$@"
}

# devdax_info DEV GRANULARITY DOMAIN
devdax_info() {
    _dev=$1 _g=$2
    set -- "$_dev" source=device_dax "size=$(sysfs_devdax size "$_dev")" \
        "alignment=$(sysfs_devdax align "$_dev")" map_sync=yes "granularity=$_g" "persistence_domain=$3"
    if [ "$_g" = cache_line ]; then set -- "$@" "flush=$(cpu_flush)"; fi
    check_info "$@"
}
