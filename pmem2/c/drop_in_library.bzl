"""drop_in_shared_library: a C library of pmem2/c as a shared object that replaces PMDK's (libpmem2.so.1, libpmem.so.1)."""

load("@rules_cc//cc:defs.bzl", "cc_binary")

def drop_in_shared_library(
        name,
        soname,
        version_script,
        deps,
        header,
        symbol_prefix,
        version_node,
        symbols_test,
        not_exported = None,
        visibility = None):
    """A shared object named `name`, with `soname`, exporting what `version_script` lists and nothing else.

    Also the sh_test `symbols_test` (so_symbols_test.sh): the soname, and that `nm -D` shows exactly the
    functions of `version_script`, each declared by `header`, all named `symbol_prefix`..., at least
    `version_node`, and none matching the extended regular expression `not_exported`.

    Abseil, libstdc++ and libgcc_s stay the system's shared libraries: Debian's static Abseil archives are built
    as PIE, not PIC, and cannot be linked into a shared object. Each exported function is also passed to the
    linker as `--undefined`: Bazel links the objects of `deps` lazily (like an archive's members), so an object
    that nothing inside the library calls would otherwise be left out.

    Args:
      name: the output file name, e.g. "libpmem2.so.1".
      soname: the DT_SONAME.
      version_script: the linker version script (one `name;` per line within its node).
      deps: the cc_library targets that implement it.
      header: the C header that declares the exported functions.
      symbol_prefix: every exported function's name starts with it.
      version_node: the symbol version the functions carry (more nodes may follow in `version_script`).
      symbols_test: the name of the sh_test.
      not_exported: an extended regular expression of names that must not be exported, or None.
      visibility: of the shared object.
    """
    exports = name + "_exports"
    native.genrule(
        name = exports,
        srcs = [version_script],
        outs = [exports + ".params"],
        cmd = "sed -n 's/^[[:space:]]*\\([a-z_][a-z0-9_]*\\);[[:space:]]*$$/-Wl,--undefined=\\1/p' $< > $@",
    )
    cc_binary(
        name = name,
        additional_linker_inputs = [
            version_script,
            ":" + exports,
        ],
        linkopts = [
            "-Wl,-soname," + soname,
            "-Wl,--version-script=$(location %s)" % version_script,
            "-Wl,--no-undefined",
            # Only the Abseil libraries the code uses become dependencies (the flags that follow are Abseil's).
            "-Wl,--as-needed",
            "@$(location :%s)" % exports,
        ],
        linkshared = True,
        visibility = visibility,
        deps = deps,
    )
    args = [
        "$(rootpath :%s)" % name,
        "$(rootpath %s)" % header,
        "$(rootpath %s)" % version_script,
        soname,
        symbol_prefix,
        version_node,
    ]
    if not_exported:
        args.append("'%s'" % not_exported)
    native.sh_test(
        name = symbols_test,
        size = "small",
        srcs = ["so_symbols_test.sh"],
        args = args,
        data = [
            header,
            version_script,
            ":" + name,
        ],
    )
