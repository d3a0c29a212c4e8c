// Copyright 2026 The pmem2 Authors.

#include "tools/bench/svg_plot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/deny_system_call.h"
#include "testing/temp_files.h"

namespace pmem2 {
namespace bench {
namespace {

// A small XML well-formedness check: one root, properly nested and closed tags, quoted attributes, only the
// five predefined entities. Enough to catch what a hand-written writer gets wrong.
::testing::AssertionResult WellFormedXml(const std::string& xml) {
  std::vector<std::string> open;
  size_t i = 0;
  int roots = 0;
  if (xml.rfind("<?xml", 0) == 0) i = xml.find("?>") + 2;
  while (i < xml.size()) {
    if (xml[i] == '&') {
      bool known = false;
      for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"}) {
        if (xml.compare(i, std::string(e).size(), e) == 0) known = true;
      }
      if (!known) return ::testing::AssertionFailure() << "bad entity at " << i;
      ++i;
      continue;
    }
    if (xml[i] != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(xml[i]))) {
        return ::testing::AssertionFailure() << "text outside the root at " << i;
      }
      ++i;
      continue;
    }
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) return ::testing::AssertionFailure() << "unterminated tag at " << i;
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) {
        return ::testing::AssertionFailure()
               << "</" << tag.substr(1) << "> closes " << (open.empty() ? "nothing" : open.back());
      }
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    const std::string name = tag.substr(0, tag.find_first_of(" \n\t"));
    // Attributes: name="value" pairs, nothing else.
    std::string rest = tag.substr(name.size());
    size_t k = 0;
    while (k < rest.size()) {
      if (std::isspace(static_cast<unsigned char>(rest[k]))) {
        ++k;
        continue;
      }
      const size_t eq = rest.find('=', k);
      if (eq == std::string::npos || eq + 1 >= rest.size() || rest[eq + 1] != '"') {
        return ::testing::AssertionFailure() << "unquoted attribute in <" << name << ">";
      }
      const size_t close = rest.find('"', eq + 2);
      if (close == std::string::npos) return ::testing::AssertionFailure() << "open quote in <" << name << ">";
      if (rest.substr(eq + 2, close - eq - 2).find('<') != std::string::npos) {
        return ::testing::AssertionFailure() << "'<' in an attribute of <" << name << ">";
      }
      k = close + 1;
    }
    if (open.empty()) ++roots;
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "<" << open.back() << "> never closed";
  if (roots != 1) return ::testing::AssertionFailure() << roots << " root elements";
  return ::testing::AssertionSuccess();
}

std::vector<Row> SampleRows() {
  std::vector<Row> rows;
  for (size_t size : {size_t{64}, size_t{4096}, size_t{2} << 20}) {
    for (const char* op : {"memcpy", "memset", "persist"}) {
      Row row;
      row.op = op;
      row.granularity = "page";
      row.size = size;
      row.pmem2_ns = 100 + size / 10.0;
      row.reference_ns = 150 + size / 9.0;
      row.limit_ns = 80 + size / 11.0;
      rows.push_back(row);
    }
  }
  return rows;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(SvgPlotTest, WellFormedWithBothLibrariesAndTheLimit) {
  const std::string svg = BandwidthSvg(SampleRows(), "pmem2 vs <libpmem2> & \"friends\"");
  EXPECT_TRUE(WellFormedXml(svg)) << svg;
  EXPECT_NE(svg.find("<g class=\"series\" id=\"pmem2-memcpy-page\">"), std::string::npos);
  EXPECT_NE(svg.find("<g class=\"series\" id=\"reference-memcpy-page\">"), std::string::npos);
  EXPECT_NE(svg.find("<g class=\"series\" id=\"limit-memcpy-page\">"), std::string::npos);
  EXPECT_NE(svg.find("<g class=\"series\" id=\"pmem2-memset-page\">"), std::string::npos);
  EXPECT_EQ(Count(svg, "class=\"series\""), 6u);  // persist rows copy nothing and are not plotted
  EXPECT_EQ(Count(svg, "<polyline"), 6u);
  EXPECT_EQ(Count(svg, "<circle"), 18u);  // 6 series x 3 sizes
  EXPECT_NE(svg.find("pmem2 vs &lt;libpmem2&gt; &amp; &quot;friends&quot;"), std::string::npos);
  EXPECT_NE(svg.find(">2 MiB<"), std::string::npos);  // a log-scale tick per measured size
  EXPECT_NE(svg.find("bandwidth (GB/s)"), std::string::npos);
}

// A title holds the user's path, whose bytes need not be UTF-8: the document declares UTF-8 and XML 1.0 allows no C0
// control but tab, line feed and carriage return, so anything else becomes U+FFFD and the file still parses.
TEST(SvgPlotTest, TitleBytesThatAreNoXmlCharacterBecomeReplacementCharacters) {
  const std::string kReplacement = "\xEF\xBF\xBD";
  const struct {
    std::string title;
    std::string shown;
  } cases[] = {
      {"/tmp/x\xff", "/tmp/x" + kReplacement},
      {std::string("/tmp/a\x01"
                   "b\x00"
                   "c",
                   10),
       "/tmp/a" + kReplacement + "b" + kReplacement + "c"},
      // é, €, 😀 and a tab: kept.
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\tend", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\tend"},
      {"over\xc0\xaflong", "over" + kReplacement + kReplacement + "long"},
      {"sur\xed\xa0\x80rogate", "sur" + kReplacement + kReplacement + kReplacement + "rogate"},
      {"cut \xe2\x82", "cut " + kReplacement + kReplacement},
      {"past \xf4\x90\x80\x80", "past " + kReplacement + kReplacement + kReplacement + kReplacement},
      {"not \xef\xbf\xbe", "not " + kReplacement + kReplacement + kReplacement},
  };
  for (const auto& c : cases) {
    const std::string svg = BandwidthSvg(SampleRows(), c.title);
    EXPECT_TRUE(WellFormedXml(svg));
    EXPECT_NE(svg.find(absl::StrCat(">", c.shown, "</text>")), std::string::npos) << c.shown;
  }
}

TEST(SvgPlotTest, BandwidthIsBytesPerNanosecond) {
  Row row;
  row.op = "memcpy";
  row.granularity = "cache_line";
  row.size = 4096;
  row.pmem2_ns = 256;  // 16 GB/s
  row.reference_ns = 512;
  row.limit_ns = NAN;  // not measured: no limit series
  const std::string svg = BandwidthSvg({row}, "t");
  EXPECT_TRUE(WellFormedXml(svg)) << svg;
  EXPECT_NE(svg.find("pmem2 memcpy 4 KiB: 16.00 GB/s"), std::string::npos) << svg;
  EXPECT_NE(svg.find("reference memcpy 4 KiB: 8.00 GB/s"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("id=\"limit-"), std::string::npos);
}

TEST(SvgPlotTest, EmptyInputIsStillAnSvg) { EXPECT_TRUE(WellFormedXml(BandwidthSvg({}, "nothing"))); }

TEST(SvgPlotTest, WritesTheFile) {
  testing::ScopedTempDir dir("/dev/shm");
  const std::string path = dir.Join("plot.svg");
  ASSERT_TRUE(WriteBandwidthSvg(SampleRows(), "t", path).ok());
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), BandwidthSvg(SampleRows(), "t"));
  EXPECT_FALSE(WriteBandwidthSvg(SampleRows(), "t", dir.Join("missing/plot.svg")).ok());
}

// The plot is written beside its path and renamed to it: an existing path is kept unless replacing is asked for, a
// symbolic link there is replaced, not written through, a replaced file's mode is kept, and nothing but the plot is
// left in the folder.
TEST(SvgPlotTest, ReplacesWholeOnlyWhenAskedAndNeverWritesThroughALink) {
  testing::ScopedTempDir dir("/dev/shm");
  const std::string victim = dir.Join("victim");
  { std::ofstream(victim) << "victim"; }
  const std::string path = dir.Join("plot.svg");
  ASSERT_EQ(symlink(victim.c_str(), path.c_str()), 0);
  const absl::Status kept = WriteBandwidthSvg(SampleRows(), "t", path);
  EXPECT_EQ(kept.code(), absl::StatusCode::kAlreadyExists) << kept;
  ASSERT_TRUE(WriteBandwidthSvg(SampleRows(), "t", path, /*replace=*/true).ok());
  std::string content;
  std::getline(std::ifstream(victim), content);
  EXPECT_EQ(content, "victim");
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0666u & ~mask) << "a new plot's mode under the umask";
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  ASSERT_TRUE(WriteBandwidthSvg(SampleRows(), "t", path, /*replace=*/true).ok());
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "a replaced plot keeps its mode";
  EXPECT_THAT(testing::FolderEntries(dir.path()), ::testing::UnorderedElementsAre("plot.svg", "victim"))
      << "no temporary file";
}

// Where the file system refuses RENAME_NOREPLACE (EINVAL: NFS, 9p, FUSE), a new plot is linked into place instead,
// which refuses an existing name as well (before, the plot failed there); replacing renames as before.
TEST(SvgPlotTest, WritesANewPlotWhereTheFileSystemRefusesRenameNoReplace) {
  if (!testing::SystemCallsCanBeDenied()) GTEST_SKIP() << "DenySystemCall: seccomp filters are not available here";
  testing::ScopedTempDir dir("/dev/shm");
  const std::string path = dir.Join("plot.svg");
  const testing::ChildResult child = testing::RunInChild([&](int out) {
    testing::DenySystemCallWithFlags(__NR_renameat2, 4, RENAME_NOREPLACE, EINVAL);
    const absl::Status made = WriteBandwidthSvg(SampleRows(), "t", path);
    const absl::Status again = WriteBandwidthSvg(SampleRows(), "u", path);
    const absl::Status replaced = WriteBandwidthSvg(SampleRows(), "v", path, /*replace=*/true);
    testing::WriteToParent(out, absl::StrCat(made.ToString(), "; ", again.code() == absl::StatusCode::kAlreadyExists,
                                             "; ", replaced.ToString()));
    return 0;
  });
  ASSERT_TRUE(child.exited && child.exit_code == 0) << child.Describe();
  EXPECT_EQ(child.output, "OK; 1; OK");
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), BandwidthSvg(SampleRows(), "v"));
  EXPECT_THAT(testing::FolderEntries(dir.path()), ::testing::ElementsAre("plot.svg")) << "no temporary file";
}

}  // namespace
}  // namespace bench
}  // namespace pmem2
