#!/bin/bash
# testing/dax_vm/run.sh: pmem2 on real DAX. Boots a Debian kernel under qemu with emulated NVDIMMs (fsdax on
# ext4 and xfs, devdax) once per guest/plans/*.sh, each with its platform persistence domain, and runs the plan's
# named checks inside. The stages are host/*.sh; this file runs them in order. See README.md.
#
# Prints `PASS <name>` or `FAIL <name>: <why>` once per named run and `dax_vm: ...` progress lines, and ends with
# exactly `dax_vm: N passed, N failed`; exits 1 if anything failed, the harness included. Never waits without a
# bound. Environment: PMEM2_SKIP_DAX_VM=1 (skip: prints `dax_vm: skipped (PMEM2_SKIP_DAX_VM=1)`, exits 0),
# PMEM2_DAX_VM_CACHE (kernel cache + logs, default ~/.cache/pmem2-dax-vm), PMEM2_DAX_VM_ACCEL=auto|kvm|tcg,
# PMEM2_DAX_VM_BOOT_TIMEOUT (seconds per boot, default 240), BAZEL (the Bazel command, default bazel).
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
INIT_TIMEOUT=60 # from qemu start to the guest's BOOTED record
read -r -a BAZEL_CMD <<<"${BAZEL:-bazel}"
export PATH=$PATH:/usr/sbin:/sbin
# Linux builds these as modules in Debian's kernel; modprobe pulls in their dependencies (and soft deps).
# virtio_pci and virtio_pmem: the virtio-pmem device of the plans that have one (init leaves them to those plans).
MODULES="nfit nd_pmem dax_pmem device_dax dax_hmem ext4 xfs overlay virtio_pci virtio_pmem"
# The binaries the guest runs, built by Bazel; PMDK's unsafe_shutdown example on pmem2's libpmem2.so.1 and on
# Debian's (pmem2_deep_flush).
TARGETS=(//testing/dax_vm:dax_probe //testing/dax_vm:dax_checks //tools:pmem2
    //pmem2/c/pmdk_examples:unsafe_shutdown //pmem2/c/pmdk_examples:unsafe_shutdown_debian)
PACKAGES="qemu-system-x86 busybox-static ndctl xfsprogs kmod e2fsprogs" # also in scripts/install-deps.sh --with-dax-vm
START=$SECONDS
PLANS=("$HERE"/guest/plans/*.sh) # in boot order (the glob sorts)

# shellcheck source=guest/layout.sh
. "$HERE/guest/layout.sh"
# shellcheck source=host/protocol.sh
. "$HERE/host/protocol.sh"
# shellcheck source=host/results.sh
. "$HERE/host/results.sh"
# shellcheck source=host/packages.sh
. "$HERE/host/packages.sh"
# shellcheck source=host/kernel.sh
. "$HERE/host/kernel.sh"
# shellcheck source=host/kernel_extract.sh
. "$HERE/host/kernel_extract.sh"
# shellcheck source=host/guest_build.sh
. "$HERE/host/guest_build.sh"
# shellcheck source=host/initramfs.sh
. "$HERE/host/initramfs.sh"
# shellcheck source=host/vm.sh
. "$HERE/host/vm.sh"
# shellcheck source=host/boot.sh
. "$HERE/host/boot.sh"
# shellcheck source=host/boot_plans.sh
. "$HERE/host/boot_plans.sh"

expect_runs "${PLANS[@]}"
trap 'cleanup' EXIT
trap 'info "interrupted"; summary_and_exit "interrupted"' INT TERM
mkdir -p "$CACHE" || { info "cannot create $CACHE"; summary_and_exit "cannot create the cache directory"; }
exec 9>"$CACHE/lock"
flock -w 600 9 || summary_and_exit "another dax_vm run held $CACHE/lock for 10 minutes"
rm -rf "$WORK"
mkdir -p "$WORK"

T=$SECONDS
ensure_packages || { tail -n 5 "$WORK/apt.log" | sed 's/^/  apt: /'; summary_and_exit "apt-get install failed"; }
T_APT=$((SECONDS - T)) T=$SECONDS
KDIR=$(ensure_kernel) ||
    { tail -n 5 "$WORK/kernel.log" | sed 's/^/  kernel: /'; summary_and_exit "could not get the kernel"; }
T_KERNEL=$((SECONDS - T)) T=$SECONDS
BIN=$(build_guest_binaries) || summary_and_exit "bazel build -c opt ${TARGETS[*]} failed"
T_BUILD=$((SECONDS - T)) T=$SECONDS
build_initramfs "$KDIR" "$(cat "$KDIR/release")" "$BIN" >"$WORK/initramfs.log" 2>&1 ||
    { tail -n 5 "$WORK/initramfs.log" | sed 's/^/  initramfs: /'; summary_and_exit "could not build the initramfs"; }
T_INITRAMFS=$((SECONDS - T))
vm_setup "$KDIR" "$ACCEL"
boot_plans "${PLANS[@]}"

[ "$FAILED" -eq 0 ] && rm -f "$WORK"/nv*.img
info "$(vm_settings) packages=${T_APT}s kernel=${T_KERNEL}s build=${T_BUILD}s initramfs=${T_INITRAMFS}s" \
    "boots:$(boot_times) total=$((SECONDS - START))s logs=$WORK"
summary_and_exit "harness error"
