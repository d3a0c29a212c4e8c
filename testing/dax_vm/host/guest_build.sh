# shellcheck shell=bash
# Stage 3 of run.sh: the binaries the guest runs, built optimized by Bazel from this checkout.

# build_guest_binaries: builds $TARGETS (log in $WORK/bazel.log) and prints Bazel's bazel-bin folder
build_guest_binaries() {
    # --symlink_prefix=/: no bazel-* convenience links, which would repoint the caller's to our configuration.
    # 9>&-: the Bazel server outlives this script and must not inherit (and so hold) the cache lock.
    if ! (cd "$ROOT" && timeout --foreground 1800 "${BAZEL_CMD[@]}" build -c opt --symlink_prefix=/ "${TARGETS[@]}") \
        >"$WORK/bazel.log" 2>&1 9>&-; then
        grep -E 'ERROR|error:' "$WORK/bazel.log" | head -n 10 | sed 's/^/  bazel: /' >&2
        return 1
    fi
    (cd "$ROOT" && timeout --foreground 300 "${BAZEL_CMD[@]}" info -c opt bazel-bin 2>>"$WORK/bazel.log" 9>&-)
}
