/*
 * Copyright 2026 The pmem2 Authors.
 *
 * pmem2/c/pmdk_examples/ex_common.h
 * -----------------------------------------------------------------------------
 *
 * PMDK's log example (examples/libpmem2/log/log.c) includes <ex_common.h>, a helper header of PMDK's source tree
 * that Debian's libpmem2-dev does not ship. This is pmem2's own stand-in, with only what that example takes from
 * it on Linux: the POSIX declarations of <unistd.h> (close).
 */

#ifndef PMEM2_C_PMDK_EXAMPLES_EX_COMMON_H_
#define PMEM2_C_PMDK_EXAMPLES_EX_COMMON_H_

#include <unistd.h>

#endif /* PMEM2_C_PMDK_EXAMPLES_EX_COMMON_H_ */
