# shellcheck shell=bash
# Stage 2 of run.sh: the kernel and the modules the guest needs, from Debian's linux-image package (extracted by
# kernel_extract.sh, not installed). Cached under $CACHE/kernel/<package>/ once complete; a warm run never
# touches apt.

# kernel_package: the linux-image-6.1 package linux-image-amd64 depends on
kernel_package() {
    local pkg
    pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/ { print $2; exit }')
    if [ -z "$pkg" ]; then
        timeout --foreground 300 apt-get update -q >>"$WORK/kernel.log" 2>&1
        pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-6\.1/ { print $2; exit }')
    fi
    echo "$pkg"
}

# complete_mark: the name of the file that marks a cached kernel complete, for this list of modules (a cache made
# for another list is fetched again)
complete_mark() { echo ".complete.v3.$(printf '%s' "$MODULES" | cksum | cut -d' ' -f1)"; }

# fetch_kernel PACKAGE DEST: extracts into a temporary folder, then moves it to DEST, marked complete
fetch_kernel() {
    local tmp rc
    tmp=$(mktemp -d "$CACHE/kernel/.tmp.XXXXXX") || return 1
    (fetch_kernel_into "$1" "$tmp") >>"$WORK/kernel.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        rm -rf "$2" && mv "$tmp/out" "$2" && touch "$2/$(complete_mark)"
        rc=$?
    fi
    rm -rf "$tmp"
    return $rc
}

# ensure_kernel: prints the cache folder of a complete kernel (vmlinuz, vmlinux if any, release, modules.list,
# lib/modules/), fetching it first if there is none; progress goes to stderr
ensure_kernel() {
    local marks=() pkg
    mkdir -p "$CACHE/kernel"
    # The newest complete one.
    mapfile -t marks < <(find "$CACHE/kernel" -mindepth 2 -maxdepth 2 -name "$(complete_mark)" -printf '%T@ %h\n' |
        sort -rn | cut -d' ' -f2-)
    if [ ${#marks[@]} -gt 0 ]; then
        echo "${marks[0]}"
        return 0
    fi
    pkg=$(kernel_package)
    [ -n "$pkg" ] || { echo "no linux-image-6.1 package known to apt" >>"$WORK/kernel.log"; return 1; }
    info "fetching kernel package $pkg" >&2
    if ! fetch_kernel "$pkg" "$CACHE/kernel/$pkg"; then
        # Lists older than the archive name a package it has replaced (a security update): refreshed once (as root,
        # or with passwordless sudo), and the package asked for again.
        local sudo=()
        [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null && sudo=(sudo -n); }
        "${sudo[@]}" timeout --foreground 300 apt-get update -q -o DPkg::Lock::Timeout=300 >>"$WORK/kernel.log" 2>&1
        pkg=$(kernel_package)
        [ -n "$pkg" ] || return 1
        info "fetching kernel package $pkg again, after refreshing the package lists" >&2
        fetch_kernel "$pkg" "$CACHE/kernel/$pkg" || return 1
    fi
    echo "$CACHE/kernel/$pkg"
}
