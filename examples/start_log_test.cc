// Copyright 2026 The pmem2 Authors.
//
// StartLog's order, seen from the msync calls a page-granularity map makes: the header is durable before a byte of
// the records changes, so a crash in between leaves a log with tail 0, never the old tail over zeroed records.

#include "examples/start_log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "absl/types/optional.h"
#include "gtest/gtest.h"
#include "pmem2/map/page_persist_for_test.h"
#include "pmem2/pmem2.h"
#include "testing/temp_files.h"

namespace examples {
namespace {

using ::pmem2::testing::CreateFile;
using ::pmem2::testing::ScopedFd;
using ::pmem2::testing::ScopedTempDir;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));
constexpr size_t kHeader = 64;

// What one msync covered, and what the map held when it was called.
struct Sync {
  uintptr_t begin;
  uintptr_t end;
  bool header_zero;   // the first kHeader bytes
  bool records_zero;  // every byte after the header (the first page's rest and the pages after it)
  bool records_old;   // every byte after the header still the old log's ('x')
};

class StartLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto file_systems = pmem2::testing::TestFileSystems();
    ASSERT_FALSE(file_systems.empty()) << "no folder to test in";
    dir_.emplace(file_systems.front().base);
    fd_ = CreateFile(dir_->Join("log"), 4 * kPage, O_RDWR);
    ASSERT_GE(fd_.get(), 0);
    pmem2::Config config;
    config.set_required_store_granularity(pmem2::StoreGranularity::kPage);
    absl::StatusOr<pmem2::Source> source = pmem2::Source::FromFd(fd_.get());
    ASSERT_TRUE(source.ok()) << source.status();
    absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, *source);
    ASSERT_TRUE(map.ok()) << map.status();
    map_.emplace(*std::move(map));
    ASSERT_EQ(map_->store_granularity(), pmem2::StoreGranularity::kPage);
    // An earlier log: a tail over records.
    std::memset(map_->address(), 'x', map_->size());
    current_ = this;
    pmem2::map_internal::SetMsyncForTest(&Record);
  }
  void TearDown() override {
    pmem2::map_internal::SetMsyncForTest(nullptr);
    current_ = nullptr;
  }

  static int Record(void* address, size_t length, int /*flags*/) {
    StartLogTest& self = *current_;
    const char* base = static_cast<const char*>(self.map_->address());
    auto all = [](const char* p, size_t n, char c) {
      for (size_t i = 0; i < n; ++i) {
        if (p[i] != c) return false;
      }
      return true;
    };
    self.syncs_.push_back(Sync{reinterpret_cast<uintptr_t>(address), reinterpret_cast<uintptr_t>(address) + length,
                               all(base, kHeader, 0), all(base + kHeader, self.map_->size() - kHeader, 0),
                               all(base + kHeader, self.map_->size() - kHeader, 'x')});
    if (self.errors_.empty()) return 0;
    const int error = self.errors_.front();
    self.errors_.erase(self.errors_.begin());
    if (error == 0) return 0;
    errno = error;
    return -1;
  }

  uintptr_t Base() const { return reinterpret_cast<uintptr_t>(map_->address()); }
  bool AllOf(size_t offset, size_t length, char c) const {
    const char* p = static_cast<const char*>(map_->address()) + offset;
    for (size_t i = 0; i < length; ++i) {
      if (p[i] != c) return false;
    }
    return true;
  }

  static StartLogTest* current_;
  absl::optional<ScopedTempDir> dir_;
  ScopedFd fd_;
  absl::optional<pmem2::Map> map_;
  std::vector<Sync> syncs_;
  std::vector<int> errors_;  // the next msyncs' errno values in order (0: it succeeds); later ones succeed
};

StartLogTest* StartLogTest::current_ = nullptr;

TEST_F(StartLogTest, HeaderIsDurableBeforeAnyRecordByteChanges) {
  ASSERT_TRUE(StartLog(*map_, kHeader).ok());
  ASSERT_GE(syncs_.size(), 2u);
  // The first sync makes the zeroed header durable while every record byte still holds the old log.
  EXPECT_LE(syncs_[0].begin, Base());
  EXPECT_GE(syncs_[0].end, Base() + kHeader);
  EXPECT_TRUE(syncs_[0].header_zero);
  EXPECT_TRUE(syncs_[0].records_old) << "a record byte changed before the header was durable";
  EXPECT_TRUE(AllOf(0, kHeader, 0));
  // Then the records, all of them, are zeroed and synced.
  EXPECT_TRUE(syncs_.back().records_zero);
  EXPECT_LE(syncs_.back().begin, Base() + kHeader);
  EXPECT_GE(syncs_.back().end, Base() + map_->size());
  EXPECT_TRUE(AllOf(kHeader, map_->size() - kHeader, 0));
}

TEST_F(StartLogTest, AFailedHeaderLeavesTheRecordsAlone) {
  errors_ = {EIO};
  absl::Status status = StartLog(*map_, kHeader);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(syncs_.size(), 1u);
  // Nothing past the header was touched: the old log's records are as they were.
  EXPECT_TRUE(AllOf(kHeader, map_->size() - kHeader, 'x'));
}

TEST_F(StartLogTest, AFailedRecordsSyncIsReported) {
  errors_ = {0, EIO};  // the header's sync succeeds, the records' fails
  absl::Status status = StartLog(*map_, kHeader);
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(syncs_.size(), 2u);
  EXPECT_TRUE(AllOf(0, kHeader, 0));
}

TEST_F(StartLogTest, AHeaderAsLargeAsTheMapIsOneSync) {
  ASSERT_TRUE(StartLog(*map_, map_->size() + 1).ok());
  EXPECT_EQ(syncs_.size(), 1u);
  EXPECT_TRUE(AllOf(0, map_->size(), 0));
}

}  // namespace
}  // namespace examples
