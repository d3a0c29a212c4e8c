// Copyright 2026 The pmem2 Authors.
//
// tools/create_file.h
// -----------------------------------------------------------------------------
//
// The files the `pmem2` tool creates to map: parsing a size given on the command line (`info --create=SIZE`,
// `bench --create_size=SIZE`), and creating or completing files whose blocks are all allocated before anything
// maps them.
//
// Why allocate up front: a sparse file maps fine on a full file system, and the first store to a page the file
// system cannot back then kills the process with SIGBUS (exit 135, no message, the file left behind).
// posix_fallocate reports the same shortage as ENOSPC while there is still a chance to say so and clean up.
//
// Example:
//
//   absl::StatusOr<uint64_t> size = ParseByteSize("--create", "16M");  // 16777216
//   absl::StatusOr<int> fd = CreateAllocatedFile(path, *size, "; free space or pass a smaller --create=SIZE");

#ifndef PMEM2_TOOLS_CREATE_FILE_H_
#define PMEM2_TOOLS_CREATE_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pmem2 {
namespace tools {

// Parses `text`, the value of `flag`: a positive whole number of bytes, optionally followed by K, M or G (or
// KiB, MiB, GiB: all powers of 1024), at most INT64_MAX bytes (off_t). kInvalidArgument naming the flag and the
// text otherwise, e.g. "--create=16MB: not a size; ...". No white space, signs, fractions or "KB"-style
// suffixes: 1000 or 1024 would be a guess.
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view flag, absl::string_view text);

// The folder of `path`, as dirname(1) without trailing-slash handling: "." for a bare name, "/" for "/name".
std::string Dirname(const std::string& path);

// Creates `path`, which must not exist yet (O_EXCL, so an existing file or a symbolic link is never followed
// into), as a regular file of `size` bytes (> 0) with every block allocated, and returns a descriptor opened
// O_RDWR | O_CLOEXEC | O_NOCTTY that the caller closes. On failure nothing is left behind: the file it created
// is removed. A full file system (ENOSPC, EDQUOT) is kResourceExhausted with a message naming the path, the
// size and the free space, followed by `hint` (e.g. "; free space or pass a smaller --create=SIZE"). Once it
// returns, the file is the caller's to remove if a later step fails.
absl::StatusOr<int> CreateAllocatedFile(const std::string& path, uint64_t size, absl::string_view hint);

// As CreateAllocatedFile(), for a scratch file: `path` is removed right after it is created, before its blocks
// are allocated, and the returned descriptor is the file's only reference. Nothing is left behind however the
// process ends (Ctrl-C and SIGTERM run no cleanup, SIGKILL none at all); the file system frees the blocks when
// the descriptor and every mapping of it are closed. Errors still name `path`.
absl::StatusOr<int> CreateAllocatedUnlinkedFile(const std::string& path, uint64_t size, absl::string_view hint);

// Allocates every block of the first `size` bytes of the regular file open as `fd` (named `path` in errors),
// without changing its contents or (for `size` up to its length) its length: a sparse file becomes safe to
// store into. Errors as for CreateAllocatedFile(); the file itself is left in place.
absl::Status AllocateFile(int fd, const std::string& path, uint64_t size, absl::string_view hint);

}  // namespace tools
}  // namespace pmem2

#endif  // PMEM2_TOOLS_CREATE_FILE_H_
