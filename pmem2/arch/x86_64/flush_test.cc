// Copyright 2026 The pmem2 Authors.
//
// flush.h's write-back loop and the persist/flush functions a cache-line Map is handed (ops.cc takes them from
// here), over recording line and fence functions: every line of the range is written back exactly once, and only
// Persist fences, once, last, with the fence its flush instruction needs. The kernels' own copy of the loop
// (kernels-inl.h, FlushRange) is kernels_recording_test's; persist_ops_test only sees that nothing outside the
// range is touched, which a loop that skipped a line would not change. The addresses are never dereferenced.

#include "pmem2/arch/x86_64/flush.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pmem2 {
namespace arch {
namespace x86_64 {
namespace {

struct Event {
  enum Kind { kWriteBack, kSfence, kMfence } kind;
  uintptr_t addr;             // kWriteBack: the address the line function was given
  void (*line)(const void*);  // kWriteBack: which production line function it stands for, if any
};

std::vector<Event> events;

void RecordLine(const void* p) { events.push_back({Event::kWriteBack, reinterpret_cast<uintptr_t>(p), nullptr}); }

// Flush's and Persist's policy (flush.h, FlushInstructions): records what the production one would execute.
struct Recording {
  template <void (*Line)(const void*)>
  static void WriteBack(const void* p) {
    events.push_back({Event::kWriteBack, reinterpret_cast<uintptr_t>(p), Line});
  }
  template <DrainFence kFence>
  static void Fence() {
    events.push_back({kFence == DrainFence::kMfence ? Event::kMfence : Event::kSfence, 0, nullptr});
  }
};

// The lines [p, p + n) touches, written out apart from flush.h's LineDown.
std::vector<uintptr_t> LinesOf(uintptr_t p, size_t n) {
  std::vector<uintptr_t> lines;
  if (n == 0) return lines;
  for (uintptr_t line = p / 64 * 64; line <= (p + n - 1) / 64 * 64; line += 64) lines.push_back(line);
  return lines;
}

struct Range {
  uintptr_t p;
  size_t n;
};

// Every start offset within a line, from a page boundary, a line boundary elsewhere and high in user space, with
// every length to 200 and a few around a page; lengths of about 1 MiB from a few offsets only, as each is 16 Ki lines.
std::vector<Range> Ranges() {
  std::vector<Range> ranges;
  for (uintptr_t base : {uintptr_t{0x10000}, uintptr_t{0x12345640}, uintptr_t{0x7fffffe00000}}) {
    for (uintptr_t offset = 0; offset < 64; ++offset) {
      for (size_t n = 0; n <= 200; ++n) ranges.push_back({base + offset, n});
      for (size_t n : {255, 256, 257, 4095, 4096, 4097}) ranges.push_back({base + offset, n});
      if (offset == 0 || offset == 1 || offset == 63) {
        ranges.push_back({base + offset, (size_t{1} << 20) - 1});
        ranges.push_back({base + offset, (size_t{1} << 20) + 13});
      }
    }
  }
  return ranges;
}

// The lines the events' write-backs name, sorted: equal to LinesOf() when each line is written back exactly once.
std::vector<uintptr_t> LinesWrittenBack(void (*line)(const void*), std::string* failure) {
  std::vector<uintptr_t> lines;
  for (const Event& e : events) {
    if (e.kind != Event::kWriteBack) continue;
    if (e.line != line) *failure = "a write-back with another line function";
    lines.push_back(e.addr / 64 * 64);
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

std::string Where(const char* name, uintptr_t p, size_t n) {
  std::ostringstream where;
  where << name << " p=0x" << std::hex << p << std::dec << " n=" << n;
  return where.str();
}

TEST(FlushLinesTest, WritesBackEveryLineOfTheRangeOnce) {
  for (const auto& [p, n] : Ranges()) {
    events.clear();
    FlushLines<RecordLine>(reinterpret_cast<const void*>(p), n);
    std::string failure;
    ASSERT_EQ(LinesWrittenBack(nullptr, &failure), LinesOf(p, n)) << Where("FlushLines", p, n);
    ASSERT_EQ(failure, "") << Where("FlushLines", p, n);
  }
}

// The production line functions and the fence each needs, written out apart from flush.h's kDrainFenceFor: AMD
// orders CLFLUSH only with MFENCE; CLFLUSHOPT and CLWB are ordered by SFENCE (flush.h).
struct LineCase {
  const char* name;
  void (*line)(const void*);
  void (*persist)(const void*, size_t);
  void (*flush)(const void*, size_t);
  Event::Kind fence;
};

const LineCase kLineCases[] = {
    {"clwb", ClwbLine, Persist<ClwbLine, Recording>, Flush<ClwbLine, Recording>, Event::kSfence},
    {"clflushopt", ClflushoptLine, Persist<ClflushoptLine, Recording>, Flush<ClflushoptLine, Recording>,
     Event::kSfence},
    {"clflush", ClflushLine, Persist<ClflushLine, Recording>, Flush<ClflushLine, Recording>, Event::kMfence},
};

TEST(PersistTest, WritesBackEveryLineThenFencesOnceWithTheLinesFence) {
  for (const LineCase& c : kLineCases) {
    for (const auto& [p, n] : Ranges()) {
      events.clear();
      c.persist(reinterpret_cast<const void*>(p), n);
      // One fence, even for an empty range, and after every write-back.
      ASSERT_FALSE(events.empty()) << Where(c.name, p, n);
      ASSERT_EQ(events.back().kind, c.fence) << Where(c.name, p, n);
      events.pop_back();
      for (const Event& e : events) ASSERT_EQ(e.kind, Event::kWriteBack) << Where(c.name, p, n) << ": a second fence";
      std::string failure;
      ASSERT_EQ(LinesWrittenBack(c.line, &failure), LinesOf(p, n)) << Where(c.name, p, n);
      ASSERT_EQ(failure, "") << Where(c.name, p, n);
    }
  }
}

TEST(FlushTest, WritesBackEveryLineAndNeverFences) {
  for (const LineCase& c : kLineCases) {
    for (const auto& [p, n] : Ranges()) {
      events.clear();
      c.flush(reinterpret_cast<const void*>(p), n);
      for (const Event& e : events) ASSERT_EQ(e.kind, Event::kWriteBack) << Where(c.name, p, n) << ": a fence";
      std::string failure;
      ASSERT_EQ(LinesWrittenBack(c.line, &failure), LinesOf(p, n)) << Where(c.name, p, n);
      ASSERT_EQ(failure, "") << Where(c.name, p, n);
    }
  }
}

}  // namespace
}  // namespace x86_64
}  // namespace arch
}  // namespace pmem2
