"""Stand-ins for the repositories Bazel 4.2.3 fetches from the network for any C++ build.

Bazel's built-in WORKSPACE suffix declares rules_cc, rules_java and remote_coverage_tools as downloads. On a
machine that reaches only Debian's mirror those downloads fail, so pmem2_dependencies() declares these small
generated repositories first. They are written by a repository rule (not checked-in folders) so that a consumer
workspace gets them without needing a path into the pmem2 checkout.
"""

_RULES_CC_DEFS = '''"""Forwards the rules_cc macros to Bazel 4's native C++ rules (offline stand-in)."""

def cc_binary(**kwargs):
    native.cc_binary(**kwargs)

def cc_library(**kwargs):
    native.cc_library(**kwargs)

def cc_test(**kwargs):
    native.cc_test(**kwargs)

def cc_import(**kwargs):
    native.cc_import(**kwargs)

def cc_proto_library(**kwargs):
    native.cc_proto_library(**kwargs)

def objc_library(**kwargs):
    native.objc_library(**kwargs)

def cc_toolchain(**kwargs):
    native.cc_toolchain(**kwargs)

def cc_toolchain_suite(**kwargs):
    native.cc_toolchain_suite(**kwargs)
'''

def _rules_cc_standin_impl(ctx):
    ctx.file("WORKSPACE", 'workspace(name = "rules_cc")\n')
    ctx.file("BUILD.bazel", "")
    ctx.file("cc/BUILD.bazel", 'exports_files(["defs.bzl"])\n')
    ctx.file("cc/defs.bzl", _RULES_CC_DEFS)

rules_cc_standin = repository_rule(implementation = _rules_cc_standin_impl)

# Bazel's own @bazel_tools//tools/jdk package loads these even in a C++-only build.
_RULES_JAVA_DEFS = "\n".join([
    '"""Forwards the rules_java macros to the native Java rules of Bazel 4 (offline stand-in)."""',
] + [
    "\ndef %s(**kwargs):\n    native.%s(**kwargs)" % (rule, rule)
    for rule in [
        "java_binary",
        "java_import",
        "java_library",
        "java_plugin",
        "java_proto_library",
        "java_runtime",
        "java_test",
        "java_toolchain",
    ]
]) + "\n"

def _rules_java_standin_impl(ctx):
    ctx.file("WORKSPACE", 'workspace(name = "rules_java")\n')
    ctx.file("BUILD.bazel", "")
    ctx.file("java/BUILD.bazel", 'exports_files(["defs.bzl"])\n')
    ctx.file("java/defs.bzl", _RULES_JAVA_DEFS)

rules_java_standin = repository_rule(implementation = _rules_java_standin_impl)

def _coverage_tools_standin_impl(ctx):
    ctx.file("WORKSPACE", 'workspace(name = "remote_coverage_tools")\n')
    ctx.file("unavailable.sh", "#!/bin/sh\necho 'bazel coverage is not available offline (pmem2 stand-in)' >&2\nexit 1\n", executable = True)
    ctx.file("BUILD.bazel", """# Offline stand-in: `bazel test` needs these labels to exist; `bazel coverage` will not work.
package(default_visibility = ["//visibility:public"])

sh_binary(name = "coverage_report_generator", srcs = ["unavailable.sh"])

sh_binary(name = "lcov_merger", srcs = ["unavailable.sh"])

filegroup(name = "coverage_output_generator", srcs = ["unavailable.sh"])
""")

coverage_tools_standin = repository_rule(implementation = _coverage_tools_standin_impl)
