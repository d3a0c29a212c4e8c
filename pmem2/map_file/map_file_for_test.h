// Copyright 2026 The pmem2 Authors.
//
// pmem2/map_file/map_file_for_test.h
// -----------------------------------------------------------------------------
//
// Test seams of MapFile (target //pmem2/map_file:map_file_for_test, testonly): run code right after MapFile created
// a named file, or sized a file, to play another process that renames, replaces or resizes it before a later step
// fails; or answer its block allocations in place of posix_fallocate, to play signals that interrupt them; or take the
// umask away from a file's mode as MapFile does after an O_TMPFILE open.

#ifndef PMEM2_MAP_FILE_MAP_FILE_FOR_TEST_H_
#define PMEM2_MAP_FILE_MAP_FILE_FOR_TEST_H_

#include <sys/types.h>

#include <string>

namespace pmem2 {
namespace map_file_internal {

// `hook` runs with the path of every file MapFile creates by name, just after it did, or made unnamed, just after it
// linked it at the path; nullptr: nothing runs. Not for concurrent use with MapFile in other threads.
using AfterCreateFn = void (*)(const std::string& path);
void SetAfterCreateForTest(AfterCreateFn hook);
// `hook` runs with the descriptor of every file MapFile sizes (created, made unnamed, temporary, or an existing one
// grown), just after it is sized and before it is mapped; nullptr: nothing runs. Same rule.
using AfterSizeFn = void (*)(int fd);
void SetAfterSizeForTest(AfterSizeFn hook);
// `fallocate` is called in place of posix_fallocate(fd, offset, length) for every allocation MapFile makes, with the
// same arguments, and its answer (0 or an errno) taken as posix_fallocate's; nullptr: posix_fallocate. Same rule.
using FallocateFn = int (*)(int fd, off_t offset, off_t length);
void SetFallocateForTest(FallocateFn fallocate);

// Takes the umask (this thread's) away from the mode of `fd`, a file just made with O_TMPFILE in `folder`, unless the
// folder has a default ACL: what kernels before 6.0 left out (map_file.cc). false if that could not be made sure of.
// Here for a test to play such a kernel on a newer one.
bool ApplyUmask(int fd, const std::string& folder);

}  // namespace map_file_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_FILE_MAP_FILE_FOR_TEST_H_
