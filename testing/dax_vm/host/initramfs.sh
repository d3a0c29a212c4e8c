# shellcheck shell=bash
# Stage 4 of run.sh: an uncompressed initramfs with busybox, ndctl, mkfs.ext4/xfs, the kernel modules, the guest
# binaries and every shared library they load, guest/init with the helpers it sources (guest/*.sh) and the plans.

# copy_with_libs ROOTFS BINARY DEST: the binary and every shared library it loads. A libpmem2.so.1 from Bazel's
# tree (pmem2's own, which PMDK's examples load) goes to /usr/lib/pmem2, apart from Debian's of the same name.
copy_with_libs() {
    local r=$1 b=$2 d=$3 l dir
    mkdir -p "$r$(dirname "$d")" && cp -L "$b" "$r$d" || return 1
    ldd "$b" >/dev/null 2>&1 || return 0 # static
    if ldd "$b" | grep -q 'not found'; then
        echo "$b: $(ldd "$b" | grep 'not found' | head -n 1)"
        return 1
    fi
    for l in $(ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        dir=/lib/x86_64-linux-gnu
        case $l in /lib/* | /usr/lib/*) ;; */libpmem2.so.*) dir=/usr/lib/pmem2 ;; esac
        case $l in
            */ld-linux*) [ -e "$r$l" ] || { mkdir -p "$r$(dirname "$l")" && cp -L "$l" "$r$l"; } ;;
            # Every other library in one directory of the default search path: Bazel's solib rpaths do not exist
            # there.
            *) mkdir -p "$r$dir" && { [ -e "$r$dir/$(basename "$l")" ] || cp -L "$l" "$r$dir/"; } ;;
        esac || return 1
    done
}

# build_initramfs KDIR KREL BIN: writes $WORK/initramfs.cpio
build_initramfs() {
    local kdir=$1 krel=$2 bin=$3 r=$WORK/root a b t
    rm -rf "$r"
    mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,etc,plans,lib/x86_64-linux-gnu,lib/modules}
    copy_with_libs "$r" /bin/busybox /bin/busybox || return 1
    for a in $(/bin/busybox --list); do [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"; done
    for b in ndctl mke2fs mkfs.xfs; do
        t=$(command -v "$b") || { echo "$b not found"; return 1; }
        copy_with_libs "$r" "$t" "/usr/sbin/$b" || { echo "copying $t failed"; return 1; }
    done
    ln -s mke2fs "$r/usr/sbin/mkfs.ext4"
    for t in "${TARGETS[@]}"; do
        b=$bin/$(echo "${t#//}" | tr ':' '/')
        [ -x "$b" ] || { echo "$b not built"; return 1; }
        copy_with_libs "$r" "$b" "/usr/bin/$(basename "$b")" || { echo "copying $b failed"; return 1; }
    done
    cp -r "$kdir/lib/modules/$krel" "$r/lib/modules/" && cp "$kdir/modules.list" "$r/modules.list" || return 1
    cp "$HERE/guest/init" "$r/init" && chmod 755 "$r/init" || return 1
    cp "$HERE"/guest/*.sh "$r/" && cp "$HERE"/guest/plans/*.sh "$r/plans/" || return 1
    ln -s /proc/mounts "$r/etc/mtab"
    touch "$r/etc/fstab"
    # The kernel opens /dev/console before init runs, from the initramfs (devtmpfs is mounted later).
    mknod -m 600 "$r/dev/console" c 5 1 2>/dev/null || true
    (cd "$r" && find . | /bin/busybox cpio -o -H newc -R 0:0 >"$WORK/initramfs.cpio" 2>/dev/null) || return 1
}
