# shellcheck shell=bash
# Part of stage 5 of run.sh: the settings every boot uses (accelerator, kernel image, NVDIMM backing files)
# and the safer settings a first boot falls back to. boot.sh starts the VMs with them.

# vm_setup KDIR ACCEL: KVM only if /dev/kvm is writable and the CPU reports vmx/svm (under a paravirtualized
# KVM, /dev/kvm alone is not enough: a stock kernel hangs early); the decompressed ELF kernel if there is one
vm_setup() {
    KDIR=$1 ACCEL=$2
    if [ "$ACCEL" = auto ]; then
        if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
    fi
    KERNEL=$KDIR/vmlinuz
    [ -f "$KDIR/vmlinux" ] && KERNEL=$KDIR/vmlinux
    return 0
}

# vm_fall_back NAME: after a first boot that never reached init, safer settings for the next try: the bzImage
# instead of the PVH ELF, then TCG instead of KVM. Fails when there is nothing left to try.
vm_fall_back() {
    if [ "$KERNEL" != "$KDIR/vmlinuz" ]; then
        info "$1: init never ran ($OUTCOME) booting $KERNEL (PVH); retrying with the bzImage"
        KERNEL=$KDIR/vmlinuz
    elif [ "$ACCEL" = kvm ]; then
        info "$1: init never ran ($OUTCOME) with KVM; retrying with TCG"
        ACCEL=tcg
    else
        return 1
    fi
}

# vm_accel_args / vm_kernel: what boot.sh passes to qemu
vm_accel_args() {
    # -arch-capabilities: as in the proven reference setup (some hosts refuse to pass it through).
    if [ "$ACCEL" = kvm ]; then
        echo "-accel kvm -cpu host,-arch-capabilities"
    else
        echo "-accel tcg,thread=multi -cpu max"
    fi
}
vm_kernel() { echo "$KERNEL"; }

# vm_settings: for the closing summary line
vm_settings() { echo "accel=$ACCEL kernel=$(cat "$KDIR/release") ($(basename "$KERNEL"))"; }

# make_images: new, empty NVDIMM backing files (sparse), one per size in layout.sh, and the virtio-pmem device's
make_images() {
    local i=0 s
    rm -f "$WORK"/nv*.img
    truncate -s "$NV_VIRTIO" "$WORK/nv-virtio.img" || return 1
    for s in $NV_ALL; do
        truncate -s "$s" "$WORK/nv$i.img" || return 1
        i=$((i + 1))
    done
}
