# shellcheck shell=bash
# Stage 1 of run.sh: the Debian packages the VM needs on the host, installed with apt if missing.

# ensure_packages: installs what is missing of $PACKAGES (log in $WORK/apt.log)
ensure_packages() {
    local need=() p sudo=() install
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || need+=("$p")
    done
    [ ${#need[@]} -eq 0 ] && return 0
    info "installing ${need[*]}"
    # Same policy as scripts/install-deps.sh: root, or passwordless sudo, or a clear message.
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "missing packages ${need[*]}: run as root, or install them: apt-get install ${need[*]}" \
                >"$WORK/apt.log"
            return 1
        fi
    fi
    # Through env: sudo's env_reset drops an exported DEBIAN_FRONTEND.
    install=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive timeout --foreground 900 apt-get install -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${need[@]}")
    "${install[@]}" >"$WORK/apt.log" 2>&1 && return 0
    # The package lists may be missing or stale: refresh them once and retry.
    "${sudo[@]}" timeout --foreground 300 apt-get update -o DPkg::Lock::Timeout=300 -q >>"$WORK/apt.log" 2>&1
    "${install[@]}" >>"$WORK/apt.log" 2>&1
}
