"""pmem2_dependencies(): everything a workspace needs to build pmem2, offline, from Debian's packages.

Use from another workspace:

    local_repository(name = "pmem2", path = "/path/to/pmem2")
    load("@pmem2//bazel:repositories.bzl", "pmem2_dependencies")
    pmem2_dependencies()

Each repository is declared only if the workspace has not declared one of that name already, so a consumer that
builds Abseil, GoogleTest or liburing from source (under the canonical names) keeps its own copies.

Debian packages needed: bazel-bootstrap libabsl-dev libgtest-dev libgmock-dev liburing-dev; for pmem2's own
tests and benchmarks also libbenchmark-dev libpmem2-dev (the reference library, and the sources of PMDK's
example programs in /usr/share/doc/libpmem2-dev/examples), and for the tests of libpmem.so.1 libpmem-dev
libpmemobj-dev libpmemblk-dev libpmemlog-dev libpmempool-dev pmdk-tools (PMDK's libpmem and its clients).
"""

load(":offline_repositories.bzl", "coverage_tools_standin", "rules_cc_standin", "rules_java_standin")
load(
    ":system_libraries.bzl",
    "system_absl",
    "system_benchmark",
    "system_googletest",
    "system_liburing",
    "system_pmdk_examples",
    "system_pmdk_library",
)

def _maybe(repo_rule, name, **kwargs):
    if not native.existing_rule(name):
        repo_rule(name = name, **kwargs)

def pmem2_dependencies():
    """Declares the repositories pmem2 needs that the workspace does not declare itself."""

    # Must come before Bazel's own WORKSPACE suffix, which would otherwise try to download them.
    _maybe(rules_cc_standin, "rules_cc")
    _maybe(rules_java_standin, "rules_java")
    _maybe(coverage_tools_standin, "remote_coverage_tools")

    _maybe(system_absl, "com_google_absl")
    _maybe(system_googletest, "com_google_googletest")
    _maybe(system_liburing, "liburing")
    _maybe(system_benchmark, "com_github_google_benchmark")
    _maybe(system_pmdk_library, "libpmem2_reference", library = "libpmem2")
    _maybe(system_pmdk_examples, "pmdk_examples")

    # PMDK's libpmem and its clients, for the tests of pmem2's libpmem.so.1 (//pmem2/c/pmdk_clients).
    _maybe(system_pmdk_library, "libpmem_reference", library = "libpmem")
    _maybe(system_pmdk_library, "libpmemobj_reference", library = "libpmemobj")
    _maybe(
        system_pmdk_examples,
        "pmdk_libpmem_examples",
        path = "/usr/share/doc/libpmem-dev/examples",
        package = "libpmem-dev",
    )
    _maybe(
        system_pmdk_examples,
        "pmdk_libpmemobj_examples",
        path = "/usr/share/doc/libpmemobj-dev/examples",
        package = "libpmemobj-dev",
        # As the map example's Makefile: -I.. -I../hashmap -I../tree_map -I../list_map, and map/ for <map.h>.
        includes = [".", "map", "hashmap", "tree_map", "list_map"],
    )
