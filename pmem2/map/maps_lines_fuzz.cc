// Copyright 2026 The pmem2 Authors.
//
// Fuzz target (testing/fuzz/driver.h): ForEachLineOfMaps (maps_lines.h) over text an input builds, handed over in
// reads of the sizes the input chooses, with EINTR and a failing read where it says. The text mixes lines in the
// kernel's format (paths up to beyond the 4 KiB part read of a line), such lines with one byte changed, any bytes and
// blank lines. Checked: the lines visited are those the same parser takes of the text split at '\n' apart from the
// reads (a line by its first kMapsLinePart bytes; a last line without '\n' only if that long), in order, however the
// reads cut it; EINTR changes nothing; a failed read returns its errno after a prefix of them; and a line in the
// kernel's format reads back as the values it was written from.

#include <sys/mman.h>
#include <sys/types.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "pmem2/map/maps_lines.h"
#include "testing/fuzz/driver.h"
#include "testing/fuzz/input.h"

namespace {

using pmem2::map_internal::ForEachLineOfMaps;
using pmem2::map_internal::kMapsLinePart;
using pmem2::map_internal::MappingLine;
using pmem2::map_internal::ParseMappingLine;
using pmem2::testing::FuzzInput;

[[noreturn]] void Fail(const std::string& what) {
  fprintf(stderr, "maps_lines_fuzz: %s\n", what.c_str());
  abort();
}

std::string Describe(const MappingLine& l) {
  return absl::StrFormat("%x-%x prot %d shared %d offset %x dev %x:%x inode %u", l.begin, l.end, l.prot, l.shared,
                         l.offset, l.device_major, l.device_minor, l.inode);
}

bool Same(const MappingLine& a, const MappingLine& b) {
  return a.begin == b.begin && a.end == b.end && a.prot == b.prot && a.shared == b.shared && a.offset == b.offset &&
         a.device_major == b.device_major && a.device_minor == b.device_minor && a.inode == b.inode;
}

// A line as the kernel writes it (fs/proc/task_mmu.c: hex numbers of at least 8 or 2 digits, the inode in decimal,
// the path after padding), from the input's values; `*written` the values.
std::string KernelLine(FuzzInput& in, MappingLine* written) {
  MappingLine& l = *written;
  l.begin = static_cast<uintptr_t>(in.Bytes(6) << 12);
  l.end = l.begin + 1 + static_cast<uintptr_t>(in.Bytes(4));
  const uint8_t perms = in.Byte();
  l.prot =
      ((perms & 1) != 0 ? PROT_READ : 0) | ((perms & 2) != 0 ? PROT_WRITE : 0) | ((perms & 4) != 0 ? PROT_EXEC : 0);
  l.shared = (perms & 8) != 0;
  l.offset = in.Bytes(8);
  l.device_major = static_cast<unsigned>(in.Bytes(2) & 0xfff);
  l.device_minor = static_cast<unsigned>(in.Bytes(3) & 0xfffff);
  l.inode = in.Bytes(8);
  std::string line =
      absl::StrFormat("%08x-%08x %c%c%c%c %08x %02x:%02x %u ", l.begin, l.end, (perms & 1) != 0 ? 'r' : '-',
                      (perms & 2) != 0 ? 'w' : '-', (perms & 4) != 0 ? 'x' : '-', l.shared ? 's' : 'p', l.offset,
                      l.device_major, l.device_minor, l.inode);
  const uint8_t path = in.Byte();
  size_t path_length = path & 0x3f;
  if ((path & 0x80) != 0) path_length = kMapsLinePart - 200 + in.Bytes(2) % 4400;  // around and past the part read
  if (path_length > 0) {
    line.append(std::max<size_t>(line.size(), 73) - line.size(), ' ');
    line += '/';
    for (size_t i = 1; i < path_length; ++i) line += static_cast<char>('a' + i % 26);
  }
  return line;
}

// What ForEachLineOfMaps must visit of `text`, split apart from any reads.
std::vector<MappingLine> Expected(const std::string& text) {
  std::vector<MappingLine> lines;
  size_t start = 0;
  for (;;) {
    const size_t newline = text.find('\n', start);
    const size_t length = (newline == std::string::npos ? text.size() : newline) - start;
    MappingLine line;
    if ((newline != std::string::npos || length >= kMapsLinePart) &&
        ParseMappingLine(absl::string_view(text).substr(start, std::min(length, kMapsLinePart)), &line)) {
      lines.push_back(line);
    }
    if (newline == std::string::npos) return lines;
    start = newline + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);

  // How the text is handed over: read sizes in turn, every `eintr_every`th call EINTR, the `fail_at`th read EIO.
  std::vector<size_t> read_sizes(1 + in.Byte() % 8);
  for (size_t& s : read_sizes) s = 1 + in.Bytes(2) % (2 * kMapsLinePart);
  const int eintr_every = in.Byte() % 5;  // 0, 1: never
  const uint8_t fail_byte = in.Byte();
  const int fail_at = fail_byte < 32 ? fail_byte : -1;  // 0: the first read

  // The text, and the lines in the kernel's format that must read back as written (by their place in it).
  std::string text;
  std::vector<std::pair<size_t, MappingLine>> written;
  for (int segment = 0; segment < 48 && !in.empty(); ++segment) {
    switch (in.Byte() % 5) {
      case 0: {
        MappingLine values;
        const size_t at = text.size();
        text += KernelLine(in, &values) + '\n';
        written.emplace_back(at, values);
        break;
      }
      case 1: {  // a kernel line with one byte changed, perhaps its '\n' (or none added)
        MappingLine values;
        std::string line = KernelLine(in, &values) + '\n';
        line[in.Bytes(2) % line.size()] = static_cast<char>(in.Byte());
        text += line;
        break;
      }
      case 2: {  // any bytes
        const size_t n = in.Byte() % 64;
        for (size_t i = 0; i < n; ++i) text += static_cast<char>(in.Byte());
        break;
      }
      case 3:
        text += '\n';
        break;
      default:  // a line of many bytes: a long path with no fields, or fields after 4 KiB
        text.append(kMapsLinePart - 8 + in.Byte() % 16, static_cast<char>(in.Byte()));
        break;
    }
  }

  const std::vector<MappingLine> expected = Expected(text);
  for (const auto& [at, values] : written) {
    MappingLine parsed;
    const size_t newline = text.find('\n', at);
    if (!ParseMappingLine(absl::string_view(text).substr(at, std::min(newline - at, kMapsLinePart)), &parsed) ||
        !Same(parsed, values)) {
      Fail("the kernel's line at " + std::to_string(at) + " (" + Describe(values) + ") read back as " +
           Describe(parsed));
    }
  }

  size_t offset = 0;
  int calls = 0, reads = 0;
  const auto read = [&](char* buffer, size_t capacity) -> ssize_t {
    if (capacity == 0) Fail("a read of 0 bytes (the buffer was full)");
    ++calls;
    if (eintr_every > 1 && calls % eintr_every == 0) {
      errno = EINTR;
      return -1;
    }
    if (reads++ == fail_at) {
      errno = EIO;
      return -1;
    }
    const size_t n =
        std::min({capacity, read_sizes[static_cast<size_t>(reads) % read_sizes.size()], text.size() - offset});
    memcpy(buffer, text.data() + offset, n);
    offset += n;
    return static_cast<ssize_t>(n);
  };
  std::vector<MappingLine> visited;
  const int error = ForEachLineOfMaps(read, [&](const MappingLine& line) { visited.push_back(line); });

  const bool failed_read = fail_at >= 0 && fail_at < reads;
  if (error != (failed_read ? EIO : 0)) {
    Fail(absl::StrFormat("returned %d after %d reads (EIO injected at read %d)", error, reads, fail_at));
  }
  if (failed_read ? visited.size() > expected.size() : visited.size() != expected.size()) {
    Fail(absl::StrFormat("visited %d lines, %d expected (read sizes from %d, text of %d bytes)", visited.size(),
                         expected.size(), read_sizes[0], text.size()));
  }
  for (size_t i = 0; i < visited.size(); ++i) {
    if (!Same(visited[i], expected[i])) {
      Fail(absl::StrFormat("line %d visited as %s, expected %s", i, Describe(visited[i]), Describe(expected[i])));
    }
  }
  return 0;
}
