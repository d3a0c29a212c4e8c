// Copyright 2026 The pmem2 Authors.
//
// pmem2/map/maps_lines.h
// -----------------------------------------------------------------------------
//
// Internal to pmem2/map: reading /proc/<pid>/maps line by line without allocating, for the map registry, which
// does it also in a forked child's fork handler (where another thread may have held malloc's lock at the fork).
// Apart from map_registry.cc so that a fuzz target (maps_lines_fuzz.cc) can hand it any text, in reads of any size.

#ifndef PMEM2_MAP_MAPS_LINES_H_
#define PMEM2_MAP_MAPS_LINES_H_

#include <sys/mman.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"

namespace pmem2 {
namespace map_internal {

// The fields of one line of /proc/<pid>/maps that come before the path.
struct MappingLine {
  uintptr_t begin = 0;
  uintptr_t end = 0;
  int prot = PROT_NONE;
  bool shared = false;
  uint64_t offset = 0;
  unsigned device_major = 0;
  unsigned device_minor = 0;
  uint64_t inode = 0;
};

// "begin-end perms offset major:minor inode[ path]": false if `text` does not begin so (begin < end, four
// permission characters; numbers in hex but the inode, decimal). `*line` is meaningful only after true.
inline bool ParseMappingLine(absl::string_view text, MappingLine* line) {
  absl::string_view rest = text;
  // The field up to `stop` (or to the end), and the rest after it.
  const auto field = [&rest](char stop) {
    const size_t at = rest.find(stop);
    const absl::string_view taken = rest.substr(0, at);
    rest.remove_prefix(at == absl::string_view::npos ? rest.size() : at + 1);
    return taken;
  };
  uint64_t begin = 0, finish = 0;
  if (!absl::SimpleHexAtoi(field('-'), &begin) || !absl::SimpleHexAtoi(field(' '), &finish) || begin >= finish) {
    return false;
  }
  const absl::string_view perms = field(' ');
  if (perms.size() != 4 || !absl::SimpleHexAtoi(field(' '), &line->offset) ||
      !absl::SimpleHexAtoi(field(':'), &line->device_major) || !absl::SimpleHexAtoi(field(' '), &line->device_minor) ||
      !absl::SimpleAtoi(field(' '), &line->inode)) {
    return false;
  }
  line->begin = static_cast<uintptr_t>(begin);
  line->end = static_cast<uintptr_t>(finish);
  line->prot =
      (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) | (perms[2] == 'x' ? PROT_EXEC : 0);
  line->shared = perms[3] == 's';
  return true;
}

// The longest part of a line ForEachLineOfMaps reads: a line longer than this (a long path) is parsed by its first
// kMapsLinePart bytes, where its fields are.
inline constexpr size_t kMapsLinePart = 4096;

// Calls `visit(const MappingLine&)` for each line that ParseMappingLine takes, in order, of what `read(char* buffer,
// size_t size)` gives (read(2)'s contract: bytes, 0 at the end, -1 with errno; EINTR is asked again); returns 0 or
// the errno of a failed read. Only lines ended by '\n' are visited (the kernel ends every line so), and a line of
// kMapsLinePart bytes or more by its first kMapsLinePart bytes. Allocates nothing (the buffer is on the stack).
template <typename Read, typename Visit>
int ForEachLineOfMaps(Read&& read, Visit&& visit) {
  char buffer[kMapsLinePart];
  size_t held = 0;
  bool in_long_line = false;  // the buffer holds the rest of a line whose fields were read
  for (;;) {
    const ssize_t got = read(buffer + held, sizeof buffer - held);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return errno;
    if (got == 0) return 0;
    held += static_cast<size_t>(got);
    size_t done = 0;
    while (const void* newline = std::memchr(buffer + done, '\n', held - done)) {
      const char* const line_end = static_cast<const char*>(newline);
      MappingLine line;
      if (!in_long_line && ParseMappingLine(absl::string_view(buffer + done, line_end - (buffer + done)), &line)) {
        visit(line);
      }
      in_long_line = false;
      done = static_cast<size_t>(line_end - buffer) + 1;
    }
    std::memmove(buffer, buffer + done, held - done);
    held -= done;
    if (held == sizeof buffer) {
      MappingLine line;
      if (!in_long_line && ParseMappingLine(absl::string_view(buffer, held), &line)) visit(line);
      in_long_line = true;
      held = 0;
    }
  }
}

}  // namespace map_internal
}  // namespace pmem2

#endif  // PMEM2_MAP_MAPS_LINES_H_
