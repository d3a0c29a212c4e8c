#!/bin/bash
# testing/dax_vm/run.sh: pmem2 on real DAX. Boots a Debian kernel under qemu with emulated NVDIMMs (fsdax on
# ext4 and xfs, devdax), once per platform persistence domain, and runs the named checks of guest/plans/*.sh
# inside. See README.md.
#
# Prints one `PASS <name>` or `FAIL <name>: <why>` line per named run, `dax_vm: ...` progress lines, and ends
# with exactly `dax_vm: N passed, N failed`; exits 1 if anything failed (including the harness itself: every
# run it could not carry out is a FAIL). Never waits without a bound.
#
# Environment:
#   PMEM2_SKIP_DAX_VM=1          skip (prints `dax_vm: skipped (PMEM2_SKIP_DAX_VM=1)`, exits 0)
#   PMEM2_DAX_VM_CACHE=DIR       kernel cache + work dir (default ~/.cache/pmem2-dax-vm)
#   PMEM2_DAX_VM_ACCEL=auto|kvm|tcg
#   PMEM2_DAX_VM_BOOT_TIMEOUT=S  wall-clock limit of one boot (default 240)
#   BAZEL="bazel --output_base=..."  the Bazel command (default: bazel)
set -uo pipefail

if [ "${PMEM2_SKIP_DAX_VM:-0}" = 1 ]; then
    echo "dax_vm: skipped (PMEM2_SKIP_DAX_VM=1)"
    exit 0
fi

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${PMEM2_DAX_VM_CACHE:-${HOME:-/root}/.cache/pmem2-dax-vm}
WORK=$CACHE/run
ACCEL=${PMEM2_DAX_VM_ACCEL:-auto}
BOOT_TIMEOUT=${PMEM2_DAX_VM_BOOT_TIMEOUT:-240}
INIT_TIMEOUT=60 # from qemu start to the guest's "@@ BOOTED" line
read -r -a BAZEL_CMD <<<"${BAZEL:-bazel}"
export PATH=$PATH:/usr/sbin:/sbin
# Linux builds these as modules in Debian's kernel; modprobe pulls in their dependencies (and soft deps).
MODULES="nfit nd_pmem dax_pmem device_dax ext4 xfs"
# The binaries the guest runs, built by Bazel.
TARGETS="//testing/dax_vm:dax_probe //testing/dax_vm:dax_checks //tools:pmem2"
PACKAGES="qemu-system-x86 busybox-static ndctl xfsprogs kmod e2fsprogs"

START=$SECONDS
PLANS=$(ls "$HERE"/guest/plans/*.sh | sort)
. "$HERE/guest/layout.sh"

# --- results ------------------------------------------------------------------------------------------------
declare -A RESULT=() PLAN_OF=()
NAMES=()
for p in $PLANS; do
    for n in $(awk '$1 == "run" { print $2 }' "$p"); do
        NAMES+=("$n")
        PLAN_OF[$n]=$(basename "$p" .sh)
    done
done
PASSED=0
FAILED=0

record() { # NAME PASS|FAIL [WHY]: the first result of a name counts
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

summary_and_exit() {
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

info() { echo "dax_vm: $*"; }

QPID=
cleanup() {
    if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then kill -9 "$QPID" 2>/dev/null; fi
    QPID=
}
trap 'cleanup' EXIT
trap 'info "interrupted"; summary_and_exit "interrupted"' INT TERM

mkdir -p "$CACHE" || { info "cannot create $CACHE"; summary_and_exit "cannot create the cache directory"; }
exec 9>"$CACHE/lock"
flock -w 600 9 || summary_and_exit "another dax_vm run held $CACHE/lock for 10 minutes"
rm -rf "$WORK"
mkdir -p "$WORK"

# --- 1. packages --------------------------------------------------------------------------------------------
ensure_packages() {
    local need=() p
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || need+=("$p")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    info "installing ${need[*]}"
    # Same policy as scripts/install-deps.sh: root, or passwordless sudo, or a clear message.
    local sudo=()
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "missing packages ${need[*]}: run as root, or install them: apt-get install ${need[*]}" >"$WORK/apt.log"
            return 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    local install=("${sudo[@]}" timeout 900 apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${need[@]}")
    "${install[@]}" >"$WORK/apt.log" 2>&1 && return 0
    # The package lists may be missing or stale: refresh them once and retry.
    "${sudo[@]}" timeout 300 apt-get update -q >>"$WORK/apt.log" 2>&1
    "${install[@]}" >>"$WORK/apt.log" 2>&1
}
T=$SECONDS
ensure_packages || { tail -n 5 "$WORK/apt.log" | sed 's/^/  apt: /'; summary_and_exit "apt-get install failed"; }
T_APT=$((SECONDS - T))

# --- 2. kernel: vmlinuz + the modules we need, from Debian's linux-image package (extracted, not installed) --
# Cached under $CACHE/kernel/<package>/ once complete; a warm run never touches apt.
kernel_package() {
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/ { print $2; exit }')
    if [ -z "$pkg" ]; then
        timeout 300 apt-get update -q >>"$WORK/kernel.log" 2>&1
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/ { print $2; exit }')
    fi
    echo "$pkg"
}

fetch_kernel() { # PACKAGE DEST
    local tmp rc
    tmp=$(mktemp -d "$CACHE/kernel/.tmp.XXXXXX") || return 1
    (fetch_kernel_into "$1" "$tmp") >>"$WORK/kernel.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        rm -rf "$2" && mv "$tmp/out" "$2" && touch "$2/.complete.v2"
        rc=$?
    fi
    rm -rf "$tmp"
    return $rc
}

fetch_kernel_into() { # PACKAGE TMPDIR (in a subshell: exits on the first error)
    set -e
    local pkg=$1 tmp=$2 x k deb m f rel
    cd "$tmp"
    timeout 600 apt-get download -q -o APT::Sandbox::User=root "$pkg"
    deb=$(ls "$tmp"/*.deb | head -n 1)
    x=$tmp/x
    mkdir -p "$x"
    # Only the kernel, the module metadata and the module directories the dependency closure can reach.
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards --no-wildcards-match-slash \
        './boot/vmlinuz-*' './lib/modules/*/modules.*' \
        './lib/modules/*/kernel/drivers/nvdimm' './lib/modules/*/kernel/drivers/acpi/nfit' \
        './lib/modules/*/kernel/drivers/dax' './lib/modules/*/kernel/fs' './lib/modules/*/kernel/lib' \
        './lib/modules/*/kernel/crypto' './lib/modules/*/kernel/arch/x86/crypto'
    rm -f "$deb"
    k=$(ls "$x/lib/modules" | head -n 1)
    # The package ships no modules.dep (its postinst runs depmod): make one for the extracted subset.
    depmod -b "$x" "$k"
    mkdir -p "$tmp/out/lib/modules/$k"
    cp "$x/boot/vmlinuz-$k" "$tmp/out/vmlinuz"
    # Under TCG the bzImage spends ~7 s of every boot decompressing itself: keep the decompressed ELF as well,
    # which qemu boots directly through its PVH entry point (Debian builds CONFIG_PVH). Optional.
    extract_vmlinux "$tmp/out/vmlinuz" "$tmp/out/vmlinux" || rm -f "$tmp/out/vmlinux"
    # The dependency closure in load order; -C /dev/null ignores the host's modprobe.d (ndctl installs one).
    for m in $MODULES; do
        modprobe -C /dev/null -d "$x" -S "$k" --show-depends "$m" >>"$tmp/deps"
    done
    awk '$1 == "insmod" && !seen[$2]++ { print $2 }' "$tmp/deps" >"$tmp/paths"
    : >"$tmp/out/modules.list"
    while read -r f; do
        rel=${f#"$x/lib/modules/$k/"}
        mkdir -p "$tmp/out/lib/modules/$k/$(dirname "$rel")"
        cp "$f" "$tmp/out/lib/modules/$k/$rel"
        echo "$rel" >>"$tmp/out/modules.list"
    done <"$tmp/paths"
    [ -s "$tmp/out/modules.list" ]
    echo "$k" >"$tmp/out/release"
    echo "kernel $k: $(wc -l <"$tmp/out/modules.list") modules"
}

extract_vmlinux() { # BZIMAGE OUT: the ELF kernel inside a bzImage, if it has a PVH entry note
    local magic tool off
    command -v readelf >/dev/null || return 1
    for magic in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08:gzip'; do
        tool=${magic##*:}
        command -v "$tool" >/dev/null || continue
        for off in $(LC_ALL=C grep -obUaP "${magic%:*}" "$1" | cut -d: -f1 | head -n 3); do
            tail -c "+$((off + 1))" "$1" | "$tool" -dc >"$2" 2>/dev/null
            # Xen ELF note 18 is XEN_ELFNOTE_PHYS32_ENTRY, the PVH entry point.
            [ "$(head -c 4 "$2" | od -An -c | tr -d ' ')" = 177ELF ] &&
                readelf -n "$2" 2>/dev/null | grep -q 'Xen.*(0x00000012)' && return 0
        done
    done
    return 1
}

ensure_kernel() {
    mkdir -p "$CACHE/kernel"
    KDIR=$(ls -td "$CACHE"/kernel/*/.complete.v2 2>/dev/null | head -n 1)
    if [ -n "$KDIR" ]; then
        KDIR=$(dirname "$KDIR")
        return 0
    fi
    local pkg
    pkg=$(kernel_package)
    [ -n "$pkg" ] || { echo "no linux-image-6.1 package known to apt" >>"$WORK/kernel.log"; return 1; }
    info "fetching kernel package $pkg"
    fetch_kernel "$pkg" "$CACHE/kernel/$pkg" || return 1
    KDIR=$CACHE/kernel/$pkg
}
T=$SECONDS
ensure_kernel || { tail -n 5 "$WORK/kernel.log" | sed 's/^/  kernel: /'; summary_and_exit "could not get the kernel"; }
KREL=$(cat "$KDIR/release")
KERNEL=$KDIR/vmlinuz
[ -f "$KDIR/vmlinux" ] && KERNEL=$KDIR/vmlinux
T_KERNEL=$((SECONDS - T))

# --- 3. guest binaries --------------------------------------------------------------------------------------
T=$SECONDS
# --symlink_prefix=/: no bazel-* convenience links, which would repoint the caller's to our configuration.
# 9>&-: the Bazel server outlives this script and must not inherit (and so hold) the cache lock.
if ! (cd "$ROOT" && timeout 1800 "${BAZEL_CMD[@]}" build -c opt --symlink_prefix=/ $TARGETS) >"$WORK/bazel.log" 2>&1 9>&-; then
    grep -E 'ERROR|error:' "$WORK/bazel.log" | head -n 10 | sed 's/^/  bazel: /'
    summary_and_exit "bazel build -c opt $TARGETS failed"
fi
BIN=$(cd "$ROOT" && timeout 300 "${BAZEL_CMD[@]}" info -c opt bazel-bin 2>>"$WORK/bazel.log" 9>&-)
T_BUILD=$((SECONDS - T))

# --- 4. initramfs: busybox + ndctl/mkfs + modules + our binaries + init + plans, uncompressed ----------------
copy_with_libs() { # ROOTFS BINARY DEST: the binary and every shared library it loads
    local r=$1 b=$2 d=$3 l
    mkdir -p "$r$(dirname "$d")" && cp -L "$b" "$r$d" || return 1
    ldd "$b" >/dev/null 2>&1 || return 0 # static
    if ldd "$b" | grep -q 'not found'; then
        echo "$b: $(ldd "$b" | grep 'not found' | head -n 1)"
        return 1
    fi
    for l in $(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        case $l in
            */ld-linux*) [ -e "$r$l" ] || { mkdir -p "$r$(dirname "$l")" && cp -L "$l" "$r$l"; } ;;
            # Every library in one directory of the default search path: Bazel's solib rpaths do not exist there.
            *) [ -e "$r/lib/x86_64-linux-gnu/$(basename "$l")" ] || cp -L "$l" "$r/lib/x86_64-linux-gnu/" ;;
        esac || return 1
    done
}

build_initramfs() {
    local r=$WORK/root a b t
    rm -rf "$r"
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,etc,plans,lib/x86_64-linux-gnu,lib/modules}
    copy_with_libs "$r" /bin/busybox /bin/busybox || return 1
    for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
    for b in ndctl mke2fs mkfs.xfs; do
        t=$(command -v "$b") || { echo "$b not found"; return 1; }
        copy_with_libs "$r" "$t" "/usr/sbin/$b" || { echo "copying $t failed"; return 1; }
    done
    ln -s mke2fs "$r/usr/sbin/mkfs.ext4"
    for t in $TARGETS; do
        b=$BIN/$(echo "${t#//}" | tr ':' '/')
        [ -x "$b" ] || { echo "$b not built"; return 1; }
        copy_with_libs "$r" "$b" "/usr/bin/$(basename "$b")" || { echo "copying $b failed"; return 1; }
    done
    cp -r "$KDIR/lib/modules/$KREL" "$r/lib/modules/" && cp "$KDIR/modules.list" "$r/modules.list" || return 1
    cp "$HERE/guest/init" "$r/init" && chmod 755 "$r/init" || return 1
    cp "$HERE/guest/layout.sh" "$HERE/guest/lib.sh" "$r/" && cp "$HERE"/guest/plans/*.sh "$r/plans/" || return 1
    ln -s /proc/mounts "$r/etc/mtab"
    touch "$r/etc/fstab"
    # The kernel opens /dev/console before init runs, from the initramfs (devtmpfs is mounted later).
    mknod -m 600 "$r/dev/console" c 5 1 2>/dev/null || true
    (cd "$r" && find . | /bin/busybox cpio -o -H newc -R 0:0 >"$WORK/initramfs.cpio" 2>/dev/null) || return 1
}
T=$SECONDS
build_initramfs >"$WORK/initramfs.log" 2>&1 ||
    { tail -n 5 "$WORK/initramfs.log" | sed 's/^/  initramfs: /'; summary_and_exit "could not build the initramfs"; }
T_INITRAMFS=$((SECONDS - T))

# --- 5. boots -----------------------------------------------------------------------------------------------
if [ "$ACCEL" = auto ]; then
    # /dev/kvm alone is not enough: under a paravirtualized KVM (no vmx/svm flag) a stock kernel hangs early.
    if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
SEED=$(date +%s)-$$-$RANDOM

make_images() {
    local i=0 s
    rm -f "$WORK"/nv*.img
    for s in $NV_ALL; do
        truncate -s "$s" "$WORK/nv$i.img" || return 1
        i=$((i + 1))
    done
}

# boot PLAN_FILE: runs one VM; sets OUTCOME to done|crashed|exited|noboot|timeout
boot() {
    local plan=$1 name machine crash=no log i=0 s acc booted=no start
    name=$(basename "$plan" .sh)
    machine=$(sed -n 's/^# machine: *//p' "$plan" | head -n 1)
    grep -q '^crash_point' "$plan" && crash=yes
    log=$WORK/$name.console.log
    # -arch-capabilities: as in the proven reference setup (some hosts refuse to pass it through).
    if [ "$ACCEL" = kvm ]; then acc=(-accel kvm -cpu host,-arch-capabilities); else acc=(-accel tcg,thread=multi -cpu max); fi
    local nv=()
    for s in $NV_ALL; do
        nv+=(-object "memory-backend-file,id=mem$i,share=on,mem-path=$WORK/nv$i.img,size=$s"
            -device "nvdimm,id=nv$i,memdev=mem$i")
        i=$((i + 1))
    done
    start=$SECONDS
    qemu-system-x86_64 "${acc[@]}" -machine "${machine:-pc,nvdimm=on}" -smp 2 -m 1G,slots=4,maxmem=4G "${nv[@]}" \
        -kernel "$KERNEL" -initrd "$WORK/initramfs.cpio" \
        -append "console=ttyS0 loglevel=3 panic=-1 rdinit=/init mitigations=off daxvm.plan=$name daxvm.seed=$SEED" \
        -nodefaults -no-user-config -display none -serial "file:$log" -no-reboot \
        </dev/null >"$WORK/$name.qemu.log" 2>&1 9>&- &
    QPID=$!
    OUTCOME=
    while :; do
        if ! kill -0 "$QPID" 2>/dev/null || grep -q '^State:.*zombie' "/proc/$QPID/status" 2>/dev/null; then
            grep -qa '^@@ DONE' "$log" 2>/dev/null && OUTCOME=done || OUTCOME=exited
            break
        fi
        if [ $booted = no ] && grep -qa '^@@ BOOTED' "$log" 2>/dev/null; then booted=yes; fi
        if [ $crash = yes ] && grep -qa '^@@ READY-TO-CRASH' "$log" 2>/dev/null; then
            kill -9 "$QPID" # a hard kill: no guest shutdown, no page-cache writeback
            OUTCOME=crashed
            break
        fi
        if [ $booted = no ] && [ $((SECONDS - start)) -ge $INIT_TIMEOUT ]; then
            kill -9 "$QPID"
            OUTCOME=noboot
            break
        fi
        if [ $((SECONDS - start)) -ge "$BOOT_TIMEOUT" ]; then
            kill -9 "$QPID"
            OUTCOME=timeout
            break
        fi
        sleep 0.2
    done
    wait "$QPID" 2>/dev/null
    QRC=$?
    QPID=
    grep -qa '^@@ BOOTED' "$log" 2>/dev/null && booted=yes
    BOOTED=$booted
    BOOT_SECONDS=$((SECONDS - start))
}

make_images || summary_and_exit "cannot create the NVDIMM backing files in $WORK"
T_BOOTS=""
for plan in $PLANS; do
    name=$(basename "$plan" .sh)
    boot "$plan"
    # The first boot may retry with safer settings: the bzImage instead of the PVH ELF, TCG instead of KVM.
    while [ "$BOOTED" = no ] && [ "$plan" = "$(echo "$PLANS" | head -n 1)" ]; do
        if [ "$KERNEL" != "$KDIR/vmlinuz" ]; then
            info "$name: init never ran ($OUTCOME) booting $KERNEL (PVH); retrying with the bzImage"
            KERNEL=$KDIR/vmlinuz
        elif [ "$ACCEL" = kvm ]; then
            info "$name: init never ran ($OUTCOME) with KVM; retrying with TCG"
            ACCEL=tcg
        else
            break
        fi
        make_images || summary_and_exit "cannot create the NVDIMM backing files in $WORK"
        boot "$plan"
    done
    T_BOOTS="$T_BOOTS $name=${BOOT_SECONDS}s"
    log=$WORK/$name.console.log
    tr -d '\r' <"$log" >"$log.txt" 2>/dev/null
    last=$(grep -av '^\s*$' "$log.txt" | tail -n 1 | cut -c1-160)
    grep -a '^@@ STEP-FAIL ' "$log.txt" | sed "s/^@@ STEP-FAIL /dax_vm: $name: setup step failed: /"
    case $OUTCOME in
        done | crashed) why="" ;;
        exited) why="VM $name stopped before this run (qemu exit status $QRC; last console line: $last)"
            [ "$BOOTED" = no ] && why="VM $name exited before init ran (qemu exit status $QRC)"
            [ -s "$WORK/$name.qemu.log" ] && why="$why; qemu: $(tail -n 1 "$WORK/$name.qemu.log" | cut -c1-200)" ;;
        noboot) why="VM $name did not reach init within ${INIT_TIMEOUT}s (last console line: $last)" ;;
        timeout) why="VM $name timed out after ${BOOT_TIMEOUT}s (last console line: $last)" ;;
    esac
    if grep -q '^crash_point' "$plan" && [ "$OUTCOME" != crashed ]; then
        info "$name: never reached its crash point (outcome $OUTCOME): the crash test's data was not written"
    fi
    while read -r _ status rest; do
        n=${rest%%:*}
        n=${n%% *}
        if [ "${PLAN_OF[$n]:-}" != "$name" ]; then
            info "$name: result for '$n', which is not a run of this plan: $status $rest"
            continue
        fi
        if [ "$status" = PASS ]; then record "$n" PASS; else record "$n" FAIL "${rest#*: }"; fi
    done < <(grep -aE '^@@ (PASS|FAIL) ' "$log.txt")
    for n in "${NAMES[@]}"; do
        [ "${PLAN_OF[$n]}" = "$name" ] && [ -z "${RESULT[$n]+x}" ] &&
            record "$n" FAIL "${why:-VM $name ended ($OUTCOME) without reporting it; see $log.txt}"
    done
    if [ -n "$why" ]; then
        info "$name: $why; last console lines ($log.txt):"
        tail -n 25 "$log.txt" | sed 's/^/  | /'
    fi
    # The same kernel and initramfs will not do better in the next boots: do not spend their timeouts.
    [ "$BOOTED" = no ] && summary_and_exit "VM $name never reached init, so no later boot was tried"
done

[ "$FAILED" -eq 0 ] && rm -f "$WORK"/nv*.img
info "accel=$ACCEL kernel=$KREL ($(basename "$KERNEL")) packages=${T_APT}s kernel=${T_KERNEL}s build=${T_BUILD}s initramfs=${T_INITRAMFS}s boots:$T_BOOTS total=$((SECONDS - START))s logs=$WORK"
summary_and_exit "harness error"
