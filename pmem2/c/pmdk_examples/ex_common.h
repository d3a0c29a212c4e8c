/*
 * Copyright 2026 The pmem2 Authors.
 *
 * pmem2/c/pmdk_examples/ex_common.h
 * -----------------------------------------------------------------------------
 *
 * Many of PMDK's examples include <ex_common.h>, a helper header of PMDK's source tree (examples/ex_common.h)
 * that Debian's -dev packages do not ship. This is pmem2's own stand-in, with only what the examples built by
 * //pmem2/c/pmdk_examples (libpmem2's log) and //pmem2/c/pmdk_clients (libpmemobj's btree, lists, pi, map,
 * tree_map, ...) take from it on Linux: the declarations of <unistd.h>, <sys/stat.h> and <sys/param.h>,
 * file_exists(), CREATE_MODE_RW and find_last_set_64(), with PMDK's meanings.
 */

#ifndef PMEM2_C_PMDK_EXAMPLES_EX_COMMON_H_
#define PMEM2_C_PMDK_EXAMPLES_EX_COMMON_H_

#include <stdint.h>
#include <sys/param.h> /* MIN, MAX (rtree_map.c) */
#include <sys/stat.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The mode of the pools the examples create: read and write for the owner. */
#define CREATE_MODE_RW (S_IWUSR | S_IRUSR)

/* 0 if `file` exists, else -1 (access(2)): the examples create a pool when this is not 0. */
static inline int file_exists(char const *file) { return access(file, F_OK); }

/* The index of the highest set bit of `val` (which must not be 0). */
static inline int find_last_set_64(uint64_t val) { return 64 - __builtin_clzll(val) - 1; }

#ifdef __cplusplus
}
#endif

#endif /* PMEM2_C_PMDK_EXAMPLES_EX_COMMON_H_ */
