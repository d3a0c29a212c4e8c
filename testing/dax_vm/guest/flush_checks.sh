# shellcheck shell=sh
# The checks of deep flush (Map::DeepFlush, pmem2_deep_flush) the plans name (busybox sh; sourced through
# /lib.sh), in the manner of checks.sh: "ok: ..." and "bad: ..." lines, non-zero if anything was bad.

# deep_flush PATH BYTES EXPECT [STANDIN]: `dax_checks deepflush PATH REGION EXPECT` (dax_checks.cc), REGION being
# the NVDIMM region of that size. qemu's NVDIMMs have no flush hints: the kernel's deep_flush reads 0 (and is
# read-only), so only a stand-in takes the write path: with STANDIN, a file holding that value is bind-mounted
# over the region's attribute for this run.
deep_flush() {
    _region=$(region_of_size "$2") || { echo "bad: no region of size $2"; return 1; }
    _attr=/sys/bus/nd/devices/$_region/deep_flush
    echo "   (kernel: $_attr reads '$(cat "$_attr" 2>&1)', mode $(stat -L -c %a "$_attr" 2>&1))"
    if [ -n "${4:-}" ]; then
        if ! { printf '%s\n' "$4" >/tmp/deep_flush.standin && chmod 644 /tmp/deep_flush.standin &&
            mount -o bind /tmp/deep_flush.standin "$_attr"; }; then
            echo "bad: cannot bind a stand-in over $_attr"
            return 1
        fi
        echo "   (stand-in bound over $_attr: reads '$(cat "$_attr")')"
    fi
    dax_checks deepflush "$1" "$_region" "$3"
    _rc=$?
    if [ -n "${4:-}" ]; then
        echo "   (stand-in after the run: $(od -An -c /tmp/deep_flush.standin | tr -s ' '))"
        umount "$_attr" || { echo "bad: cannot unmount the stand-in from $_attr"; _rc=1; }
    fi
    return $_rc
}

# us_run WAY ARG...: PMDK's unsafe_shutdown example, `ours` (built against pmem2's libpmem2.h, on pmem2's
# libpmem2.so.1) or `debian` (built against Debian's libpmem2, on it); output in /tmp/us.{out,err}
us_run() {
    if [ "$1" = ours ]; then
        shift
        set -- env LD_LIBRARY_PATH=/usr/lib/pmem2:/lib/x86_64-linux-gnu /usr/bin/unsafe_shutdown "$@"
    else
        shift
        set -- /usr/bin/unsafe_shutdown_debian "$@"
    fi
    "$@" >/tmp/us.out 2>/tmp/us.err
}

# us_library WAY: the libpmem2.so.1 the dynamic loader gives that way's program
us_library() {
    (export LD_TRACE_LOADED_OBJECTS=1 && us_run "$1")
    sed -n 's/^[[:space:]]*libpmem2\.so\.1 => \([^ ]*\) .*/\1/p' /tmp/us.out
}

# us_step WAY COMMAND POOL [STRING] WANT_STDOUT: one run of the example must exit 0 and print WANT_STDOUT; on
# stderr only the one line of pmem2_perror("pmem2_source_device_usc") (PMEM2_E_NOSUPP: any other error, or a
# failed pmem2_deep_flush, makes it say "Unable to determine the state of the pool" and exit 1, or say "Failed
# to drop access to pool"; a pool left armed, "was not closed cleanly")
us_step() {
    _way=$1 _cmd=$2 _want=$4
    if [ $# -eq 5 ]; then _want=$5 && set -- "$3" "$4"; else set -- "$3"; fi
    us_run "$_way" "$_cmd" "$@"
    _rc=$?
    sed "s/^/   $_way stdout: /" /tmp/us.out
    sed "s/^/   $_way stderr: /" /tmp/us.err
    _usc=$(grep -c '^pmem2_source_device_usc: ' /tmp/us.err)
    _other=$(grep -v '^pmem2_source_device_usc: ' /tmp/us.err | head -n 1)
    if [ $_rc -eq 0 ] && [ "$_usc" = 1 ] && [ -z "$_other" ] && [ "$(cat /tmp/us.out)" = "$_want" ]; then
        echo "ok: $_way $_cmd: exit 0, stdout '$_want', stderr only pmem2_source_device_usc's message"
    else
        echo "bad: $_way $_cmd $1: exit $_rc, stdout '$(head -n 1 /tmp/us.out)', $_usc usc message(s)," \
            "other stderr '$_other'; want exit 0, stdout '$_want', 1 usc message, no other stderr"
        return 1
    fi
}

# pmdk_unsafe_shutdown POOL: PMDK's unsafe_shutdown example, which keeps its pool's header with
# pmem2_deep_flush and asks pmem2_source_device_usc and _device_id (qemu's DIMMs have no unsafe shutdown count:
# both libraries say PMEM2_E_NOSUPP, and the example goes on without it), on POOL (a new 4 MiB file, or a Device
# DAX): pmem2's build writes a string, Debian's reads it back, writes another, pmem2's reads that back.
pmdk_unsafe_shutdown() {
    _pool=$1 _r=0
    if [ ! -c "$_pool" ]; then
        rm -f "$_pool"
        dd if=/dev/zero of="$_pool" bs=1048576 count=4 2>/dev/null || { echo "bad: cannot create $_pool"; return 1; }
    fi
    for _w in ours:/usr/lib/pmem2/libpmem2.so.1 debian:/lib/x86_64-linux-gnu/libpmem2.so.1; do
        _got=$(us_library "${_w%%:*}")
        if [ "$_got" = "${_w#*:}" ]; then echo "ok: ${_w%%:*} loads $_got"; else
            echo "bad: ${_w%%:*} loads '$_got', want ${_w#*:}"
            _r=1
        fi
    done
    us_step ours write "$_pool" "pmem2 $SEED" "" || _r=1
    us_step debian read "$_pool" "pmem2 $SEED" || _r=1
    us_step debian write "$_pool" "debian $SEED" "" || _r=1
    us_step ours read "$_pool" "debian $SEED" || _r=1
    return $_r
}
