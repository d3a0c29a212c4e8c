// Copyright 2026 The pmem2 Authors.
//
// tools/bench/svg_plot.h
// -----------------------------------------------------------------------------
//
// `pmem2 bench --plot=FILE.svg`: bandwidth (GB/s, 10^9 bytes per second) against size (log scale) for pmem2,
// the reference and the limit, one line per (library, op), as a self-contained SVG 1.1 document. Hand-written:
// no plotting dependency. Each series is a <g> with class "series" and an id naming it (e.g. "pmem2-memcpy"),
// so scripts and tests can find them.

#ifndef PMEM2_TOOLS_BENCH_SVG_PLOT_H_
#define PMEM2_TOOLS_BENCH_SVG_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/bench/table.h"

namespace pmem2 {
namespace bench {

// The SVG for the memcpy and memset rows of `rows` (persist rows are left out: they copy nothing). `title` is
// escaped. Series without any measured point are left out.
std::string BandwidthSvg(const std::vector<Row>& rows, const std::string& title);

// Writes BandwidthSvg() to `path`: into a new file beside it, synced, then renamed to `path` (a failed write leaves
// neither a partial SVG nor a changed `path`), replacing an existing `path` only if `replace` (else EEXIST), with
// its mode (a new one: 0666 less the umask). Errno errors naming `path`.
absl::Status WriteBandwidthSvg(const std::vector<Row>& rows, const std::string& title, const std::string& path,
                               bool replace = false);

}  // namespace bench
}  // namespace pmem2

#endif  // PMEM2_TOOLS_BENCH_SVG_PLOT_H_
