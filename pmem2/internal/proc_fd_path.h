// Copyright 2026 The pmem2 Authors.
//
// pmem2/internal/proc_fd_path.h (internal to pmem2)
// -----------------------------------------------------------------------------
//
// The path that opens (or links, or reads the name of) a descriptor's file again: "/proc/thread-self/fd/N", the
// calling thread's descriptor table. Not /proc/self/fd/N, which is the thread-group leader's: a thread that called
// unshare(CLONE_FILES) may hold another file under N there, and a reopen through it would take that file for this one
// (MapFile linked such a file at the caller's path; found by review). Linux 3.17 on. No allocation: for code that
// may not throw.
#ifndef PMEM2_INTERNAL_PROC_FD_PATH_H_
#define PMEM2_INTERNAL_PROC_FD_PATH_H_

#include <cstdio>

namespace pmem2 {
namespace internal {

struct ProcFdPath {
  explicit ProcFdPath(int fd) { std::snprintf(path, sizeof path, "/proc/thread-self/fd/%d", fd); }
  char path[40];
};

}  // namespace internal
}  // namespace pmem2

#endif  // PMEM2_INTERNAL_PROC_FD_PATH_H_
