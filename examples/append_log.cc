// Copyright 2026 The pmem2 Authors.
//
// An append-only log, the pattern transactional libraries build on: the record body is copied without a
// drain, then a single drain orders it before the 8-byte tail update that publishes it. After a crash, a
// reader trusts only records below the persisted tail.
//
// It uses the Status methods, so a failed write-back (a full or failing disk under a page-granularity file)
// stops the log before it publishes a tail over records that may be lost; and it asks for a fully allocated
// file, so a full file system is an error at startup instead of a SIGBUS mid-log. The log is 4 MiB: more
// records than fit are an error ("log full after N records", exit 1), not a silent stop. Each run starts a new log
// in the first 4 MiB of the file at the path (created, or grown to 4 MiB), zeroed once its mapping is made: a run
// that fails before that leaves the path as it was (log_file.h).
//
// The header holds the tail and a magic ("PMEM2LOG", as append_log_async's), written and persisted after the log is
// zeroed and before the first tail. A reader of the file must check both before trusting a record: the magic, since
// without it the first 8 bytes of whatever the file held before would pass for a tail; and tail <= 4 MiB - 64 (the
// log's size less its header), since only then do the records it covers lie inside the log.
//
//   bazel run //examples:append_log -- /tmp/log 1000

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "examples/log_file.h"
#include "examples/start_log.h"
#include "pmem2/pmem2.h"

namespace {

struct LogHeader {
  uint64_t tail;  // bytes of records after the header; updated with one aligned 8-byte store
  char magic[8];  // kMagic once the log is started: what tells a reader the tail is this log's, not old bytes
};
constexpr char kMagic[8] = {'P', 'M', 'E', 'M', '2', 'L', 'O', 'G'};
constexpr size_t kDataOffset = 64;  // records start on the next cache line
constexpr size_t kLogSize = 4 << 20;

}  // namespace

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "/tmp/pmem2-append-log";
  int records = 100;
  auto usage = [argv] { return std::fprintf(stderr, "usage: %s [path [records (>= 0)]]\n", argv[0]), 2; };
  if (argc > 3) return usage();
  // Strictly: atoi read "1e3" as 1 and "abc" as 0, a run that wrote nothing and exited 0.
  if (argc > 2 && (!absl::SimpleAtoi(argv[2], &records) || records < 0)) {
    std::fprintf(stderr, "append_log: records \"%s\": not a whole number >= 0\n", argv[2]);
    return usage();
  }
  // A new file's name is durable once its folder is synced (LogFile does it); the records, once their persists say OK.
  examples::LogFile file;
  if (const std::string error = file.Open(path, kLogSize); !error.empty()) {
    return std::fprintf(stderr, "%s: %s\n", path, error.c_str()), 1;
  }
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  config.set_fully_allocated(true);
  config.set_length(kLogSize);  // a larger file keeps the rest
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(file.fd());
  absl::StatusOr<pmem2::Map> map = source.ok() ? pmem2::Map::Create(config, *source) : source.status();
  if (!map.ok()) return std::fprintf(stderr, "%s: %s\n", path, map.status().ToString().c_str()), 1;

  char* base = static_cast<char*>(map->address());
  // The new log: what the file held there (an earlier log, anything) is zeroed and durable before the first record,
  // its header first (start_log.h: a crash never leaves the old tail over zeroed records).
  if (absl::Status s = examples::StartLog(*map, kDataOffset); !s.ok()) {
    return std::fprintf(stderr, "%s: starting the log: %s\n", path, s.ToString().c_str()), 1;
  }
  auto* header = reinterpret_cast<LogHeader*>(base);
  // The magic, durable before any tail is: a crash from here on leaves a log a reader recognises, with tail 0 or one
  // published below. Written after the zeroing is durable, so no crash leaves the magic over an old tail.
  if (absl::Status s = map->Memcpy(header->magic, kMagic, sizeof kMagic); !s.ok()) {
    return std::fprintf(stderr, "%s: writing the magic: %s\n", path, s.ToString().c_str()), 1;
  }
  file.Keep();
  char* data = base + kDataOffset;

  for (int i = 0; i < records; ++i) {
    std::string record = "record " + std::to_string(i) + "\n";
    const uint64_t tail = header->tail;
    if (tail + record.size() > map->size() - kDataOffset) {
      // Those published stay (the tail covers them); the caller asked for more than fit, so say so and fail.
      return std::fprintf(stderr, "%s: log full after %d records (%llu bytes); %d not written\n", path, i,
                          static_cast<unsigned long long>(tail), records - i),
             1;
    }
    absl::Status status = map->Memcpy(data + tail, record.data(), record.size(), pmem2::kMemNoDrain);
    if (status.ok()) status = map->Drain();  // the body is durable before the tail points past it
    if (status.ok()) {
      // One explicit 8-byte store: a crash sees the old or the new tail, never a mix (a plain `+=` may be
      // split or merged by the compiler).
      __atomic_store_n(&header->tail, tail + record.size(), __ATOMIC_RELEASE);
      status = map->Persist(&header->tail, sizeof header->tail);
    }
    if (!status.ok()) {
      // Records since the last successful persist may be lost: stop, and let recovery trust the durable tail.
      return std::fprintf(stderr, "%s: record %d: %s\n", path, i, status.ToString().c_str()), 1;
    }
  }
  // The last record: from the newline before the final one (or the start) to the end; "(none)" without records.
  const std::string records_text(data, header->tail);
  const size_t before_last =
      records_text.size() < 2 ? std::string::npos : records_text.rfind('\n', records_text.size() - 2);
  const std::string last =
      records_text.empty() ? "(none)\n" : records_text.substr(before_last == std::string::npos ? 0 : before_last + 1);
  std::printf("%s: %llu bytes of records, %s granularity, last: %s", path,
              static_cast<unsigned long long>(header->tail),
              std::string(pmem2::StoreGranularityName(map->store_granularity())).c_str(), last.c_str());
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return perror("standard output"), 1;
  return 0;
}
