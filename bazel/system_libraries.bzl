"""Repository rules that expose Debian's packaged C++ libraries under their canonical Bazel names.

The labels match the upstream projects' own BUILD files (`@com_google_absl//absl/status:statusor`,
`@com_google_googletest//:gtest_main`, `@liburing//:liburing`, `@com_github_google_benchmark//:benchmark`), so a
consumer who builds these libraries from source can declare its own repositories under the same names and
pmem2's BUILD files pick them up unchanged.

Headers come from the compiler's default search path (/usr/include); the generated targets carry only link
flags and dependencies. Never mix a system Abseil with a source-built one in one binary: Debian's build uses an
inline namespace that differs from a source build.
"""

def _parse_pc(text):
    """Returns (requires, libs) of one pkg-config file: names of required modules and -l/-Wl flags."""
    requires = []
    libs = []
    for line in text.splitlines():
        if line.startswith("Requires:"):
            for item in line[len("Requires:"):].split(","):
                name = item.strip().split(" ")[0]
                if name:
                    requires.append(name)
        elif line.startswith("Libs:"):
            for flag in line[len("Libs:"):].split(" "):
                if flag and not flag.startswith("-L"):
                    libs.append(flag)
    return requires, libs

def _multiarch_libdir(ctx):
    """Debian's library folder for this machine, e.g. /usr/lib/x86_64-linux-gnu or /usr/lib/aarch64-linux-gnu."""
    result = ctx.execute(["gcc", "-print-multiarch"])
    triplet = result.stdout.strip()
    if result.return_code != 0 or not triplet:
        fail("cannot ask gcc for the multiarch triplet: apt-get install gcc")
    return "/usr/lib/" + triplet

def _system_absl_impl(ctx):
    pcdir = ctx.path(ctx.attr.pkgconfig_dir or (_multiarch_libdir(ctx) + "/pkgconfig"))
    include = ctx.path(ctx.attr.include_dir + "/absl")
    if not include.exists:
        fail("Abseil headers not found at %s: apt-get install libabsl-dev" % include)
    root = ['package(default_visibility = ["//visibility:public"])', ""]
    names = []
    for pc in pcdir.readdir():
        base = pc.basename
        if not (base.startswith("absl_") and base.endswith(".pc")):
            continue
        name = base[len("absl_"):-len(".pc")]
        requires, libs = _parse_pc(ctx.read(pc))
        deps = ['":%s"' % r[len("absl_"):] for r in requires if r.startswith("absl_")]
        names.append(name)
        root.append("cc_library(\n    name = %r,\n    linkopts = %r,\n    deps = [%s],\n)\n" % (name, libs, ", ".join(deps)))
    ctx.file("BUILD.bazel", "\n".join(root))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

    # Upstream spells a target as //absl/<component>:<name>. Every component package aliases every target:
    # the system build has no record of which component a target belongs to, and a few extra aliases are
    # harmless where the upstream labels all resolve.
    #
    # Debian's pkg-config files follow Abseil's CMake names, which prefix a target with its component
    # (flags_parse, random_distributions); upstream Bazel labels do not (//absl/flags:parse). Each component
    # therefore also gets the unprefixed names, and the one irregular name, flags -> //absl/flags:flag.
    for component in include.readdir():
        c = component.basename
        if "." in c:  # Bazel 4 paths have no is_dir; components are the dotless names
            continue
        targets = {name: name for name in names}
        for name in names:
            if name.startswith(c + "_"):
                targets[name[len(c) + 1:]] = name
        if c == "flags" and "flags" in targets:
            targets["flag"] = "flags"
        lines = ['package(default_visibility = ["//visibility:public"])', ""]
        for alias_name in sorted(targets):
            lines.append('alias(name = %r, actual = "//:%s")' % (alias_name, targets[alias_name]))
        ctx.file("absl/%s/BUILD.bazel" % c, "\n".join(lines) + "\n")

system_absl = repository_rule(
    implementation = _system_absl_impl,
    attrs = {
        "include_dir": attr.string(default = "/usr/include"),
        # Empty: Debian's folder for this machine's architecture.
        "pkgconfig_dir": attr.string(default = ""),
    },
    local = True,
)

def _require(ctx, path, package):
    if not ctx.path(path).exists:
        fail("%s not found: apt-get install %s" % (path, package))

def _system_googletest_impl(ctx):
    _require(ctx, "/usr/include/gtest/gtest.h", "libgtest-dev")
    _require(ctx, "/usr/include/gmock/gmock.h", "libgmock-dev")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", """package(default_visibility = ["//visibility:public"])

# Upstream's two targets and no more: its "gtest" carries GoogleMock too (it has no "gmock" target), so a
# consumer's source-built googletest declared under this name serves pmem2's BUILD files unchanged.
cc_library(name = "gtest", linkopts = ["-lgmock", "-lgtest", "-pthread"])

cc_library(name = "gtest_main", linkopts = ["-lgtest_main"], deps = [":gtest"])
""")

system_googletest = repository_rule(implementation = _system_googletest_impl, local = True)

def _system_benchmark_impl(ctx):
    _require(ctx, "/usr/include/benchmark/benchmark.h", "libbenchmark-dev")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", """package(default_visibility = ["//visibility:public"])

cc_library(name = "benchmark", linkopts = ["-lbenchmark", "-pthread"])

cc_library(name = "benchmark_main", linkopts = ["-lbenchmark_main"], deps = [":benchmark"])
""")

system_benchmark = repository_rule(implementation = _system_benchmark_impl, local = True)

def _system_liburing_impl(ctx):
    _require(ctx, "/usr/include/liburing.h", "liburing-dev")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", """package(default_visibility = ["//visibility:public"])

cc_library(name = "liburing", linkopts = ["-luring"])
""")

system_liburing = repository_rule(implementation = _system_liburing_impl, local = True)

def _system_pmdk_library_impl(ctx):
    library = ctx.attr.library
    _require(ctx, "/usr/include/%s.h" % library, library + "-dev")
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", """# PMDK's %s from Debian: the reference implementation pmem2 is tested and benchmarked against.
package(default_visibility = ["//visibility:public"])

cc_library(name = "%s", linkopts = ["-l%s"])

# Only the headers, for code that loads the library at run time with dlopen/dlmopen.
cc_library(name = "headers")
""" % (library, library, library[len("lib"):]))

# One of PMDK's libraries as Debian packages it (headers in /usr/include, lib<name>.so in the library path):
# @<repository>//:<library> links it, @<repository>//:headers gives only its headers.
system_pmdk_library = repository_rule(
    implementation = _system_pmdk_library_impl,
    attrs = {"library": attr.string(mandatory = True, doc = "e.g. libpmem2, libpmemobj")},
    local = True,
)

def _system_pmdk_examples_impl(ctx):
    root = ctx.path(ctx.attr.path)
    if not root.exists:
        fail(("PMDK's example sources not found at %s: apt-get install %s (and make sure dpkg does not leave out " +
              "/usr/share/doc: a path-exclude in /etc/dpkg/dpkg.cfg.d)") % (root, ctx.attr.package))
    for entry in root.readdir():
        ctx.symlink(entry, entry.basename)
    missing = [i for i in ctx.attr.includes if i != "." and not root.get_child(i).exists]
    if missing:
        fail("no folders %s under %s" % (missing, root))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)
    ctx.file("BUILD.bazel", """# PMDK's example programs as Debian ships them (%s), from %s, with their folders as they are there:
# <file>.c or <folder>/<file>.c. Built and run against pmem2 and against Debian's library by //pmem2/c/pmdk_examples
# and //pmem2/c/pmdk_clients.
package(default_visibility = ["//visibility:public"])

# allow_empty = False: an empty folder (a dpkg path-exclude) is an error here, not a missing label later.
exports_files(glob(["**/*.c"], allow_empty = False))

# Every header of the examples, with the folders the examples' Makefiles put on the include path.
cc_library(
    name = "headers",
    hdrs = glob(["**/*.h"]),
    includes = %r,
)
""" % (ctx.attr.package, root, ctx.attr.includes))

# The C example programs of one of PMDK's libraries (Debian's lib<name>-dev ships their sources in
# /usr/share/doc/<package>/examples), for the compatibility tests of pmem2's C interfaces.
system_pmdk_examples = repository_rule(
    implementation = _system_pmdk_examples_impl,
    attrs = {
        "path": attr.string(default = "/usr/share/doc/libpmem2-dev/examples"),
        "package": attr.string(default = "libpmem2-dev", doc = "the Debian package that ships them"),
        # Folders (relative to `path`, "." for itself) that the examples include headers from with <...>.
        "includes": attr.string_list(default = []),
    },
    local = True,
)
