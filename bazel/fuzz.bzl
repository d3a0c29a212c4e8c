"""pmem2_fuzz_test: a fuzz target (testing/fuzz/driver.h) as a deterministic test and as a libFuzzer binary.

    pmem2_fuzz_test(
        name = "kernel_sequence_fuzz",
        srcs = ["kernel_sequence_fuzz.cc"],
        deps = [...],
    )

makes `kernel_sequence_fuzz` (the target's library), `kernel_sequence_fuzz_test` (a cc_test running it over
`corpus` and over pseudo-random inputs: every `bazel test //...` and CI's sanitizer stages) and
`kernel_sequence_fuzz_libfuzzer` (tagged manual: built only by scripts/fuzz.sh, with clang's -fsanitize=fuzzer,
which no GCC build has). `corpus` defaults to the files in the folder `<name>_corpus` beside the BUILD file (not in
its subfolders, nor dot files), where scripts/fuzz.sh says to commit a crash's input: each runs first, as a
regression input.
"""

load("@rules_cc//cc:defs.bzl", "cc_binary", "cc_library", "cc_test")
load("//bazel:copts.bzl", "PMEM2_TEST_COPTS")

def pmem2_fuzz_test(name, srcs, deps, corpus = None, args = [], size = "small", tags = []):
    """A fuzz target's library, its deterministic cc_test and its libFuzzer binary (see the file's docstring).

    Args:
      name: the target's library; NAME_test and NAME_libfuzzer are made beside it.
      srcs: the sources defining LLVMFuzzerTestOneInput.
      deps: the library's dependencies.
      corpus: files the test runs first; None: those in NAME_corpus/.
      args: the test's arguments (e.g. --fuzz_runs=N).
      size: the test's size.
      tags: the test's tags.
    """
    if corpus == None:
        # The folder's own files, as the driver reads them (not its subfolders'), dot files (an editor's, .gitkeep)
        # left out; the folder given once, so that no file name passes through $(location) or the splitting of args.
        corpus = native.glob([name + "_corpus/*"], exclude = [name + "_corpus/.*"], allow_empty = True)
        corpus_args = [native.package_name() + "/" + name + "_corpus"] if corpus else []
    else:
        corpus_args = ["$(location %s)" % c for c in corpus]
    cc_library(
        name = name,
        testonly = True,
        srcs = srcs,
        copts = PMEM2_TEST_COPTS,
        deps = deps + ["//testing/fuzz:target"],
        alwayslink = True,
    )
    cc_test(
        name = name + "_test",
        size = size,
        args = args + corpus_args,
        data = corpus,
        linkstatic = True,
        tags = tags,
        deps = [
            ":" + name,
            "//testing/fuzz:driver",
        ],
    )
    cc_binary(
        name = name + "_libfuzzer",
        testonly = True,
        linkopts = ["-fsanitize=fuzzer"],
        tags = ["manual"],
        deps = [":" + name],
    )
