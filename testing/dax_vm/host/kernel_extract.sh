# shellcheck shell=bash
# Part of stage 2 of run.sh: the files the guest needs out of a linux-image .deb, without installing it.

# fetch_kernel_into PACKAGE TMPDIR: downloads the package, leaves TMPDIR/out/{vmlinuz,vmlinux,release,
# modules.list,lib/modules/K/...}. Run in a subshell: exits on the first error.
fetch_kernel_into() {
    set -e
    local pkg=$1 tmp=$2 x k debs kdirs m f rel
    cd "$tmp"
    timeout --foreground 600 apt-get download -q -o APT::Sandbox::User=root "$pkg"
    debs=("$tmp"/*.deb)
    x=$tmp/x
    mkdir -p "$x"
    # Only the kernel, the module metadata and the module directories the dependency closure can reach.
    dpkg-deb --fsys-tarfile "${debs[0]}" | tar -x -C "$x" --wildcards --no-wildcards-match-slash \
        './boot/vmlinuz-*' './lib/modules/*/modules.*' \
        './lib/modules/*/kernel/drivers/nvdimm' './lib/modules/*/kernel/drivers/acpi/nfit' \
        './lib/modules/*/kernel/drivers/dax' './lib/modules/*/kernel/drivers/virtio' \
        './lib/modules/*/kernel/fs' './lib/modules/*/kernel/lib' \
        './lib/modules/*/kernel/crypto' './lib/modules/*/kernel/arch/x86/crypto'
    rm -f "${debs[0]}"
    kdirs=("$x"/lib/modules/*)
    k=$(basename "${kdirs[0]}")
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

# extract_vmlinux BZIMAGE OUT: the ELF kernel inside a bzImage, if it has a PVH entry note
extract_vmlinux() {
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
