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

# fsdax_checks DIR GRANULARITY [named-apart]: raw MAP_SYNC precondition, then pmem2's mapping rules on a new file
# (or one in DIR's lower layer, on overlayfs) in DIR
fsdax_checks() {
    case $2 in page) _sync=no ;; *) _sync=yes ;; esac
    all "dax_probe mapsync $1/raw-probe $_sync" "dax_checks fsdax $1/pmem2-file $2${3:+ $3}"
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

# bench_devdax_forced_page DEV: `pmem2 bench DEV` with PMEM2_FORCE_GRANULARITY=PAGE, which libpmem2 (the reference it
# loads) honours on Device DAX, so that its persist would msync the device and abort: refused with a message, not
# SIGABRT
bench_devdax_forced_page() {
    _lib=/lib/x86_64-linux-gnu/libpmem2.so.1 # Debian's, which unsafe_shutdown_debian brought into the initramfs
    [ -e "$_lib" ] || { echo "bad: no reference library at $_lib"; return 1; }
    PMEM2_FORCE_GRANULARITY=PAGE PMEM2_BENCH_REFERENCE_LIBRARY=$_lib pmem2 bench "$1" --overwrite >/tmp/bench.out 2>&1
    _rc=$?
    cat /tmp/bench.out
    if [ $_rc -ne 0 ] && [ $_rc -lt 128 ] && grep -q 'Device DAX at page granularity' /tmp/bench.out; then
        echo "ok: bench refused the forced page granularity (exit $_rc)"
    else
        echo "bad: pmem2 bench $1 with PMEM2_FORCE_GRANULARITY=PAGE exited $_rc, not refusing it"
    fi
}

# info_value KEY: KEY's value in the last `pmem2 info` output (/tmp/info.out)
info_value() { sed -n "s/^$1: //p" /tmp/info.out | head -n 1; }

# expect_key KEY VALUE / expect_prefix KEY PREFIX: that key of the last `pmem2 info` output
expect_key() {
    _got=$(info_value "$1")
    if [ "$_got" = "$2" ]; then echo "ok: info $1: $_got"; else echo "bad: info $1 is '$_got', want '$2'"; return 1; fi
}
expect_prefix() {
    _got=$(info_value "$1")
    case $_got in
        "$2"*) echo "ok: info $1: $_got" ;;
        *) echo "bad: info $1 is '$_got', want '$2...'"; return 1 ;;
    esac
}

# run_info PATH: `pmem2 info PATH` into /tmp/info.out, shown
run_info() {
    if ! pmem2 info "$1" >/tmp/info.out 2>&1; then
        cat /tmp/info.out
        echo "bad: pmem2 info $1 failed: $(tail -n 1 /tmp/info.out)"
        return 1
    fi
    cat /tmp/info.out
}

# ras_info PATH BYTES: pmem2 info's reliability keys for PATH (a file, or a Device DAX) on the NVDIMM of that
# size, against `ndctl list` and sysfs: the region, its NUMA node, the DIMMs' ids and unsafe shutdown counts
# (or "not supported" where the emulated DIMM has no such nfit attribute), and no bad blocks.
ras_info() {
    _region=$(region_of_size "$2") || { echo "bad: no region of size $2"; return 1; }
    run_info "$1" || return 1
    ndctl list -R -v -M -r "$_region" >/tmp/ndctl.out 2>&1
    sed 's/^/ndctl: /' /tmp/ndctl.out
    _r=0
    expect_key nvdimm_region "$_region" || _r=1
    _numa=$(sed -n 's/.*"numa_node":\([-0-9]*\).*/\1/p' /tmp/ndctl.out | head -n 1)
    _sys_numa=$(cat "/sys/bus/nd/devices/$_region/numa_node" 2>/dev/null)
    if [ -n "$_numa" ]; then
        [ "$_numa" = "$_sys_numa" ] || { echo "bad: ndctl says numa_node $_numa, sysfs '$_sys_numa'"; _r=1; }
        expect_key numa_node "$_numa" || _r=1
    else
        echo "   (ndctl shows no numa_node for $_region; sysfs: '$_sys_numa')"
        expect_prefix numa_node "not supported: " || _r=1
    fi
    _id='' _usc=0 _no_id='' _no_usc=''
    for _m in /sys/bus/nd/devices/"$_region"/mapping[0-9]*; do
        _d=$(cut -d, -f1 <"$_m")
        _nfit=/sys/bus/nd/devices/$_d/nfit
        if [ -r "$_nfit/id" ]; then _id=$_id$(cat "$_nfit/id"); else _no_id=$_d; fi
        if [ -r "$_nfit/dirty_shutdown" ]; then _usc=$((_usc + $(cat "$_nfit/dirty_shutdown"))); else _no_usc=$_d; fi
    done
    echo "   (sysfs: DIMM ids '$_id'${_no_id:+, $_no_id without nfit/id}; count $_usc${_no_usc:+, $_no_usc without nfit/dirty_shutdown})"
    if [ -n "$_no_id" ]; then
        expect_prefix device_id "not supported: " || _r=1
    else
        expect_key device_id "$_id" || _r=1
    fi
    if [ -n "$_no_usc" ]; then
        expect_prefix unsafe_shutdown_count "not supported: no unsafe shutdown count: NVDIMM $_no_usc" || _r=1
    else
        expect_key unsafe_shutdown_count "$_usc" || _r=1
    fi
    # Emulated NVDIMMs have no media errors: ndctl counts none in the region, pmem2 none in the source.
    _ndctl_bad=$(sed -n 's/.*"badblock_count":\([0-9]*\).*/\1/p' /tmp/ndctl.out | head -n 1)
    [ "${_ndctl_bad:-0}" = 0 ] || { echo "bad: ndctl counts ${_ndctl_bad} bad blocks in $_region"; _r=1; }
    expect_key bad_blocks 0 || _r=1
    return $_r
}

# devdax_ndctl DEV BYTES: the Device DAX's size and alignment in `pmem2 info` against `ndctl list -X` (the
# device's own "size" and "align", or its dax region's "align" where ndctl shows none for the device)
devdax_ndctl() {
    _ns=$(ns_of_size "$2") || return 1
    _name=$(basename "$1")
    run_info "$1" || return 1
    ndctl list -N -X -n "$_ns" >/tmp/ndctl.out 2>&1
    sed 's/^/ndctl: /' /tmp/ndctl.out
    # shellcheck disable=SC2016 # awk's own variables
    _vals=$(awk -v dev="\"$_name\"" '
        /"daxregion":/ { region = 1 }
        region && !inside && /"align":/ && ra == "" { ra = $0; gsub(/[^0-9]/, "", ra) }
        /"chardev":/ { inside = index($0, dev) > 0 }
        inside && /"size":/ && s == "" { s = $0; gsub(/[^0-9]/, "", s) }
        inside && /"align":/ && a == "" { a = $0; gsub(/[^0-9]/, "", a) }
        inside && /}/ { inside = 0 }
        END { print (s == "" ? "none" : s), (a == "" ? (ra == "" ? "none" : ra) : a) }' /tmp/ndctl.out)
    echo "   (ndctl: size and align of $_name: $_vals)"
    _r=0
    expect_key size "${_vals% *}" || _r=1
    expect_key alignment "${_vals#* }" || _r=1
    return $_r
}
