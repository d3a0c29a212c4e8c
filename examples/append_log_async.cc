// Copyright 2026 The pmem2 Authors.
//
// The append-only log of append_log.cc, asynchronous and in batches: each record of a batch is stored into the
// map and its range queued for persistence (AsyncPersister::Persist), then one barrier waits until every record
// of the batch is durable, and only then is the 8-byte tail published and persisted. After a crash, a reader
// trusts only records below the persisted tail, so a tail never points past a record that may be lost.
//
// Why batch: on an SSD (page granularity) a persist is a device flush, and a flush per record caps a log at a
// few thousand records a second. The engine coalesces the adjacent ranges of a batch into one ranged data sync,
// so a batch costs one flush for its records and one for its tail. On persistent memory (cache-line or byte
// granularity) the same calls complete at once through the CPU's flushes: the commit logic is written once.
//
// Every failure (a failed write-back under a full or failing disk, reported by the barrier even for persists
// queued without a Completion) stops the log before it publishes a tail over records that may be lost. At the
// end it maps the file again and checks the magic and every record below the tail: the layout a reader expects,
// not durability (Verify says why). The log is
// 4 MiB: the records that fit are published and checked, and the rest is an error ("log full after N records",
// exit 1), not a silent stop. Each run starts a new log in the first 4 MiB of the file at the path (created, or
// grown to 4 MiB), zeroed once its mapping is made: a run that fails before that leaves the path as it was
// (log_file.h).
//
//   bazel run //examples:append_log_async -- /tmp/log 1000 16      # path, records, records per batch

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/numbers.h"
#include "examples/log_file.h"
#include "examples/start_log.h"
#include "pmem2/pmem2.h"
#include "pmem2/uring/async_persister.h"

namespace {

struct LogHeader {
  uint64_t tail;   // bytes of records after the header; updated with one aligned 8-byte store
  char magic[8];   // kMagic once the log is initialised: written with AsyncPersister::Copy
};
constexpr char kMagic[8] = {'P', 'M', 'E', 'M', '2', 'L', 'O', 'G'};
constexpr size_t kDataOffset = 64;  // records start on the next cache line
constexpr size_t kLogSize = 4 << 20;

std::string Record(int i) { return "record " + std::to_string(i) + "\n"; }

int Fail(const char* path, const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "append_log_async: %s: %s: %s\n", path, what.c_str(), status.ToString().c_str());
  return 1;
}

// Reads the log as a recovering reader would (maps the file anew, read-only, and checks the magic, the tail and every
// record below it), but it is not one: it runs in the writer's process while the writer lives, and its mapping shows
// the same page cache, so it checks what the run published, not what survives a crash (a lost write-back still
// shows here). What survives a crash is checked by the DAX VM's crash test (testing/dax_vm/README.md, "Crash test":
// data persisted through pmem2, the VM killed, the data read back by the next boot), which tests pmem2's persists
// rather than this example.
int Verify(const char* path, uint64_t expected_tail, int expected_records) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return perror(path), 1;
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
  config.set_protection(pmem2::kProtRead);
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd);
  absl::StatusOr<pmem2::Map> map = source.ok() ? pmem2::Map::Create(config, *source) : source.status();
  close(fd);
  if (!map.ok()) return Fail(path, "reopening", map.status());
  const char* base = static_cast<const char*>(map->address());
  const auto* header = reinterpret_cast<const LogHeader*>(base);
  const uint64_t tail = __atomic_load_n(&header->tail, __ATOMIC_ACQUIRE);
  if (std::memcmp(header->magic, kMagic, sizeof kMagic) != 0 || tail != expected_tail) {
    std::fprintf(stderr, "append_log_async: %s: bad header (tail %llu, expected %llu)\n", path,
                 static_cast<unsigned long long>(tail), static_cast<unsigned long long>(expected_tail));
    return 1;
  }
  uint64_t offset = 0;
  for (int i = 0; i < expected_records; ++i) {
    const std::string record = Record(i);
    if (offset + record.size() > tail || std::memcmp(base + kDataOffset + offset, record.data(), record.size())) {
      std::fprintf(stderr, "append_log_async: %s: record %d differs at offset %llu\n", path, i,
                   static_cast<unsigned long long>(offset));
      return 1;
    }
    offset += record.size();
  }
  if (offset != tail) {
    std::fprintf(stderr, "append_log_async: %s: %llu bytes past the last record\n", path,
                 static_cast<unsigned long long>(tail - offset));
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const char* path = argc > 1 ? argv[1] : "/tmp/pmem2-append-log-async";
  int records = 100;
  int batch_size = 16;
  // Strictly: atoi read "abc" as 0 (nothing written, exit 0) and "1e3" as 1.
  const bool bad_records = argc > 2 && (!absl::SimpleAtoi(argv[2], &records) || records < 0);
  const bool bad_batch = argc > 3 && (!absl::SimpleAtoi(argv[3], &batch_size) || batch_size < 1);
  if (bad_records) std::fprintf(stderr, "append_log_async: records \"%s\": not a whole number >= 0\n", argv[2]);
  if (bad_batch) std::fprintf(stderr, "append_log_async: records per batch \"%s\": not a whole number >= 1\n", argv[3]);
  if (bad_records || bad_batch || argc > 4) {
    std::fprintf(stderr, "usage: %s [path [records [records per batch (>= 1)]]]\n", argv[0]);
    return 2;
  }
  // A new file's name is durable once its folder is synced (LogFile does it); the records, once their persists say OK.
  examples::LogFile file;
  if (const std::string error = file.Open(path, kLogSize); !error.empty()) {
    return std::fprintf(stderr, "append_log_async: %s: %s\n", path, error.c_str()), 1;
  }
  pmem2::Config config;
  config.set_required_store_granularity(pmem2::StoreGranularity::kPage);  // any medium: SSD or pmem
  config.set_fully_allocated(true);
  config.set_length(kLogSize);  // a larger file keeps the rest
  absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(file.fd());
  absl::StatusOr<pmem2::Map> map = source.ok() ? pmem2::Map::Create(config, *source) : source.status();
  // The engine reopens the file for its own descriptor. Declared after the Map, it is destroyed first (the Map must
  // outlive it).
  absl::StatusOr<pmem2::AsyncPersister> persister =
      map.ok() ? pmem2::AsyncPersister::Create(*map, *source) : map.status();
  if (!persister.ok()) return Fail(path, "opening", persister.status());

  char* base = static_cast<char*>(map->address());
  // The new log: what the file held there (an earlier log, anything) is zeroed and durable before the magic, its header
  // first (start_log.h: a crash never leaves the old magic and tail over zeroed records).
  if (absl::Status s = examples::StartLog(*map, kDataOffset); !s.ok()) return Fail(path, "starting the log", s);
  file.Keep();
  auto* header = reinterpret_cast<LogHeader*>(base);
  char* data = base + kDataOffset;

  // The magic goes through Copy (a write to the file plus a sync of its range at page granularity, a CPU copy
  // and flush on pmem). It needs no wait of its own: the first batch's barrier covers it, so no tail is ever
  // published before the magic is durable. kMagic is static, as Copy needs its source until it completes.
  if (absl::Status s = persister->Copy(header->magic, kMagic, sizeof kMagic); !s.ok()) {
    return Fail(path, "queueing the magic", s);
  }

  uint64_t tail = 0;  // the published tail
  int published = 0, batches = 0;
  bool full = false;  // a record did not fit: the batch so far is published, then the log stops
  while (published < records && !full) {
    // Store and queue the batch's records past the published tail; nothing is waited for yet.
    uint64_t end = tail;
    int count = 0;
    for (; count < batch_size && published + count < records; ++count) {
      const std::string record = Record(published + count);
      if (end + record.size() > map->size() - kDataOffset) {
        full = true;
        break;
      }
      std::memcpy(data + end, record.data(), record.size());
      // No Completion: a failure reaches the barrier below (and the Map's sticky error).
      if (absl::Status s = persister->Persist(data + end, record.size()); !s.ok()) {
        return Fail(path, "queueing record " + std::to_string(published + count), s);
      }
      end += record.size();
    }
    if (count == 0) break;

    // One barrier: OK only if every record of the batch (and everything queued before) is durable.
    pmem2::Completion records_durable;
    absl::Status status = persister->Barrier(&records_durable);
    if (status.ok()) status = persister->Wait(records_durable);
    if (!status.ok()) {
      // Nothing of the batch is known durable: stop, and leave the last durable tail in place.
      return Fail(path, "batch " + std::to_string(batches) + " (records " + std::to_string(published) + " to " +
                            std::to_string(published + count - 1) + ")",
                  status);
    }

    // Publish with one explicit 8-byte store (a crash sees the old or the new tail, never a mix), then make the
    // tail itself durable before the next batch builds on it.
    __atomic_store_n(&header->tail, end, __ATOMIC_RELEASE);
    pmem2::Completion tail_durable;
    status = persister->Persist(&header->tail, sizeof header->tail, &tail_durable);
    if (status.ok()) status = persister->Wait(tail_durable);
    if (!status.ok()) return Fail(path, "persisting tail " + std::to_string(end), status);
    tail = end;
    published += count;
    ++batches;
  }
  if (absl::Status s = persister->WaitAll(); !s.ok()) return Fail(path, "finishing", s);

  if (int rc = Verify(path, tail, published); rc != 0) return rc;
  if (full) {
    // The records that fit are durable and checked; the caller asked for more, so this run failed.
    std::fprintf(stderr, "append_log_async: %s: log full after %d records (tail %llu); %d not written\n", path,
                 published, static_cast<unsigned long long>(tail), records - published);
    return 1;
  }
  std::printf("append_log_async: %d records in %d batches, backend %s, %s granularity, tail %llu\n", published,
              batches, pmem2::AsyncBackendName(persister->backend()),
              std::string(pmem2::StoreGranularityName(map->store_granularity())).c_str(),
              static_cast<unsigned long long>(tail));
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) return perror("standard output"), 1;
  return 0;
}
