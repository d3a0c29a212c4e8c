// Copyright 2026 The pmem2 Authors.

#include "tools/bench/svg_plot.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pmem2 {
namespace bench {
namespace {

constexpr double kWidth = 860;
constexpr double kHeight = 520;
constexpr double kLeft = 70;
constexpr double kRight = 250;  // room for the legend
constexpr double kTop = 50;
constexpr double kBottom = 60;

// The length of the UTF-8 sequence at text[i] if it encodes a character XML 1.0 allows in text (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF; not U+FFFE or U+FFFF), else 0. C0 controls but tab, line
// feed and carriage return are not allowed either.
size_t XmlCharLength(const std::string& text, size_t i) {
  const auto byte = [&text](size_t k) { return k < text.size() ? static_cast<unsigned char>(text[k]) : 0u; };
  const unsigned lead = byte(i);
  if (lead < 0x80) return lead >= 0x20 || lead == '\t' || lead == '\n' || lead == '\r' ? 1 : 0;
  const size_t length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (length == 0 || lead > 0xf4) return 0;
  uint32_t code = lead & (0x7f >> length);
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
    code = code << 6 | (byte(i + k) & 0x3f);
  }
  const uint32_t smallest = length == 2 ? 0x80 : length == 3 ? 0x800 : 0x10000;
  if (code < smallest || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || code == 0xfffe || code == 0xffff) {
    return 0;
  }
  return length;
}

// Text or an attribute value for the document: markup characters as entities, and every byte that is not part of a
// character XML allows (a path's bytes need not be UTF-8) as U+FFFD, so that the file always parses.
std::string Escape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const size_t length = XmlCharLength(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
      continue;
    }
    switch (text[i]) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        out.append(text, i, length);
    }
    i += length;
  }
  return out;
}

struct Point {
  double log_size;
  double gbps;
};

struct Series {
  std::string library;  // "pmem2", "reference", "limit"
  std::string op;
  std::string granularity;
  std::vector<Point> points;
};

// A round upper bound for the y axis that divides into five round ticks: 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 or 10
// times a power of ten.
double NiceCeiling(double v) {
  if (!(v > 0)) return 1;
  const double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

}  // namespace

std::string BandwidthSvg(const std::vector<Row>& rows, const std::string& title) {
  // Collect the series in a stable order: per granularity, per op, pmem2 then reference then limit.
  std::vector<Series> series;
  std::map<std::string, size_t> index;
  std::set<double> sizes;
  double max_gbps = 0;
  for (const Row& row : rows) {
    if (row.op != "memcpy" && row.op != "memset") continue;
    const std::pair<const char*, double> values[] = {
        {"pmem2", row.pmem2_ns}, {"reference", row.reference_ns}, {"limit", row.limit_ns}};
    for (const auto& [library, ns] : values) {
      if (!(std::isfinite(ns) && ns > 0)) continue;
      const std::string key = absl::StrCat(row.granularity, "/", row.op, "/", library);
      auto it = index.find(key);
      if (it == index.end()) {
        it = index.emplace(key, series.size()).first;
        series.push_back(Series{library, row.op, row.granularity, {}});
      }
      const double gbps = static_cast<double>(row.size) / ns;  // bytes per ns = GB/s
      series[it->second].points.push_back(Point{std::log2(static_cast<double>(row.size)), gbps});
      sizes.insert(std::log2(static_cast<double>(row.size)));
      max_gbps = std::max(max_gbps, gbps);
    }
  }
  const double y_max = NiceCeiling(max_gbps);
  const double x_min = sizes.empty() ? 6 : *sizes.begin();
  const double x_max = sizes.empty() ? 26 : std::max(*sizes.rbegin(), x_min + 1);
  const double plot_w = kWidth - kLeft - kRight;
  const double plot_h = kHeight - kTop - kBottom;
  auto x = [&](double log_size) { return kLeft + (log_size - x_min) / (x_max - x_min) * plot_w; };
  auto y = [&](double gbps) { return kTop + plot_h - gbps / y_max * plot_h; };

  std::string svg;
  absl::StrAppend(&svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  absl::StrAppend(&svg, absl::StrFormat("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
                                        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
                                        "font-size=\"12\">\n",
                                        kWidth, kHeight, kWidth, kHeight));
  absl::StrAppend(&svg, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  absl::StrAppend(&svg,
                  absl::StrFormat("<text x=\"%.0f\" y=\"24\" font-size=\"15\">%s</text>\n", kLeft, Escape(title)));
  // Axes and grid.
  absl::StrAppend(&svg, "<g id=\"axes\" stroke=\"#888\" stroke-width=\"1\">\n");
  absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", kLeft,
                                        kTop + plot_h, kLeft + plot_w, kTop + plot_h));
  absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", kLeft, kTop, kLeft,
                                        kTop + plot_h));
  absl::StrAppend(&svg, "</g>\n<g id=\"ticks\" fill=\"#333\">\n");
  for (double s : sizes) {
    absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                                          x(s), kTop, x(s), kTop + plot_h));
    absl::StrAppend(
        &svg, absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x(s),
                              kTop + plot_h + 18, Escape(FormatSize(static_cast<size_t>(std::llround(std::exp2(s)))))));
  }
  for (int i = 0; i <= 5; ++i) {
    const double v = y_max * i / 5;
    absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                                          kLeft, y(v), kLeft + plot_w, y(v)));
    absl::StrAppend(
        &svg, absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", kLeft - 6, y(v) + 4, v));
  }
  absl::StrAppend(&svg, absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">size (log scale)</text>\n",
                                        kLeft + plot_w / 2, kHeight - 16));
  absl::StrAppend(&svg, absl::StrFormat("<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
                                        "transform=\"rotate(-90 16 %.1f)\">bandwidth (GB/s)</text>\n",
                                        kTop + plot_h / 2, kTop + plot_h / 2));
  absl::StrAppend(&svg, "</g>\n");

  // Series: colour by library, dash by op, marker shape per granularity is not needed (few lanes).
  const std::map<std::string, std::string> colors = {
      {"pmem2", "#1f77b4"}, {"reference", "#ff7f0e"}, {"limit", "#7f7f7f"}};
  int legend_row = 0;
  for (const Series& s : series) {
    const std::string id = absl::StrCat(s.library, "-", s.op, "-", s.granularity);
    const std::string& color = colors.at(s.library);
    const char* dash = s.op == "memset" ? " stroke-dasharray=\"6 4\"" : "";
    absl::StrAppend(&svg, "<g class=\"series\" id=\"", Escape(id), "\">\n");
    std::string points;
    for (const Point& p : s.points) absl::StrAppend(&points, absl::StrFormat("%.1f,%.1f ", x(p.log_size), y(p.gbps)));
    if (!points.empty()) points.pop_back();
    absl::StrAppend(
        &svg, absl::StrFormat("<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"%s\"/>\n", color,
                              dash, points));
    for (const Point& p : s.points) {
      absl::StrAppend(
          &svg, absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s %s %s: "
                                "%.2f GB/s</title></circle>\n",
                                x(p.log_size), y(p.gbps), color, Escape(s.library), Escape(s.op),
                                Escape(FormatSize(static_cast<size_t>(std::llround(std::exp2(p.log_size))))), p.gbps));
    }
    const double ly = kTop + 10 + 20 * legend_row++;
    const double lx = kLeft + plot_w + 20;
    absl::StrAppend(&svg, absl::StrFormat("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                                          "stroke-width=\"2\"%s/>\n",
                                          lx, ly, lx + 30, ly, color, dash));
    absl::StrAppend(&svg, absl::StrFormat("<text x=\"%.1f\" y=\"%.1f\">%s %s (%s)</text>\n", lx + 36, ly + 4,
                                          Escape(s.library), Escape(s.op), Escape(s.granularity)));
    absl::StrAppend(&svg, "</g>\n");
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

absl::Status WriteBandwidthSvg(const std::vector<Row>& rows, const std::string& title, const std::string& path,
                               bool replace) {
  // Written beside `path` and renamed to it: a failed write (a full file system) leaves no partial SVG, and an
  // existing `path` is replaced whole, never written through (a symbolic link there is replaced, not followed), and
  // only with `replace` (a file that appeared since the arguments were checked is not replaced either).
  std::string temporary = path + ".XXXXXX";
  const int fd = mkstemp(temporary.data());
  if (fd < 0) {
    const int err = errno;
    return absl::Status(absl::ErrnoToStatusCode(err),
                        absl::StrCat("cannot write ", path, ": creating ", temporary, ": ", std::strerror(err)));
  }
  const std::string svg = BandwidthSvg(rows, title);
  int err = 0;
  for (size_t done = 0; done < svg.size() && err == 0;) {
    const ssize_t n = write(fd, svg.data() + done, svg.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      err = errno;
    }
  }
  // mkstemp makes it 0600: the mode of the file it replaces, or what a new file gets under the umask. Best effort:
  // some file systems (vfat) refuse mode changes, and the plot is written all the same.
  struct stat existing;
  mode_t mode = 0;
  if (lstat(path.c_str(), &existing) == 0 && S_ISREG(existing.st_mode)) {
    mode = existing.st_mode & 07777;
  } else {
    const mode_t mask = umask(0);
    umask(mask);
    mode = 0666 & ~mask;
  }
  const int mode_changed = fchmod(fd, mode);
  (void)mode_changed;
  if (err == 0 && fsync(fd) != 0) err = errno;  // no empty plot in its place after a crash
  if (close(fd) != 0 && err == 0) err = errno;
  if (err == 0 && renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path.c_str(), replace ? 0 : RENAME_NOREPLACE) != 0) {
    err = errno;
    // RENAME_NOREPLACE is refused (EINVAL) where the file system cannot promise it (NFS, 9p, FUSE, old kernels):
    // link(2) promises the same (EEXIST if the name exists), then the temporary name goes.
    if (err == EINVAL && !replace && link(temporary.c_str(), path.c_str()) == 0) {
      err = 0;
      unlink(temporary.c_str());
    } else if (err == EINVAL && !replace) {
      err = errno;
    }
  }
  if (err != 0) {
    unlink(temporary.c_str());
    return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat("writing ", path, " failed: ", std::strerror(err)));
  }
  return absl::OkStatus();
}

}  // namespace bench
}  // namespace pmem2
