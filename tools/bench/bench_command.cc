// Copyright 2026 The pmem2 Authors.

#include "tools/bench/bench_command.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/machine.h"
#include "tools/bench/svg_plot.h"
#include "tools/create_file.h"

namespace pmem2 {
namespace bench {
namespace {

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

absl::Status CheckPlotPath(const std::string& plot, bool replace) {
  if (plot.empty()) return absl::OkStatus();
  if (!absl::EndsWith(absl::AsciiStrToLower(plot), ".svg")) {
    return Invalid(absl::StrCat("--plot=", plot, ": the plot is an SVG; name it FILE.svg"));
  }
  // An existing FILE.svg is replaced only with --replace_plot (not --overwrite, which is about PATH: a flag added to
  // replace a plot must not also make a mistyped PATH writable), and only a regular file: not through a symbolic
  // link, not a FIFO (the write would wait for a reader after the whole run).
  struct stat st;
  if (lstat(plot.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Invalid(absl::StrCat("--plot=", plot, ": is a directory"));
    if (!S_ISREG(st.st_mode)) {
      return Invalid(absl::StrCat("--plot=", plot, ": exists and is not a regular file (",
                                  S_ISLNK(st.st_mode) ? "a symbolic link" : "a FIFO, socket or device", ")"));
    }
    if (!replace) {
      return Invalid(absl::StrCat("--plot=", plot, ": exists; pass --replace_plot to replace it, or name a new file"));
    }
  }
  const std::string dir = tools::Dirname(plot);
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Invalid(absl::StrCat("--plot=", plot, ": folder ", dir, " does not exist"));
  }
  if (access(dir.c_str(), W_OK) != 0) {
    return Invalid(absl::StrCat("--plot=", plot, ": folder ", dir, " is not writable"));
  }
  return absl::OkStatus();
}

// Argument errors, found before anything is written.
absl::Status CheckArguments(const std::vector<std::string>& args, const BenchCommandOptions& options) {
  if (args.empty()) return Invalid("bench needs a PATH: pmem2 bench PATH [--plot=FILE.svg]");
  if (args.size() > 1) return Invalid(absl::StrCat("bench takes exactly one PATH, got ", args.size()));
  if (absl::Status s = CheckPlotPath(options.plot, options.replace_plot); !s.ok()) return s;
  // Before PATH's blocks are allocated: a CPU this process may not run on would fail the pinning only then.
  if (absl::Status s = CheckRunValues(options.run.repetitions, options.run.min_time, options.cpu); !s.ok()) return s;
  if (options.create_size.has_value() && *options.create_size == 0) return Invalid("--create_size must be positive");
  if (options.run.patterns.empty()) return Invalid("--patterns: no pattern to measure");
  const std::vector<Pattern>& patterns = options.run.patterns;
  if (!options.plot.empty() && std::find(patterns.begin(), patterns.end(), Pattern::kHot) == patterns.end()) {
    return Invalid(absl::StrCat("--plot=", options.plot, " draws the hot pattern: add hot to --patterns"));
  }
  return absl::OkStatus();
}

// The cold window on this machine, with no cap from a file system (PATH's size caps it).
uint64_t ColdWindowHere() { return ColdWindowBytes(LastLevelCacheBytes(), AvailableMemoryBytes(), UINT64_MAX); }

// The size of a PATH bench creates (see BenchCommandOptions::create_size).
uint64_t CreateSize(const std::string& path, const BenchCommandOptions& options) {
  if (options.create_size.has_value()) return *options.create_size;
  if (!HasColdPattern(options.run.patterns)) return kDefaultBenchFileSize;
  const uint64_t cold = ColdWindowBytes(LastLevelCacheBytes(), AvailableMemoryBytes(), FreeBytes(tools::Dirname(path)));
  return std::max(cold, kDefaultBenchFileSize);
}

absl::Status PathError(const std::string& path, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(path, ": ", std::strerror(err)));
}

// PATH open for writing with every block allocated, before anything maps it: the benchmark stores into all of
// it, and a store to a block the file system cannot provide is a SIGBUS (exit 135, no message), not an error.
// posix_fallocate reports the shortage while it can still be said. A PATH bench creates is removed at once
// (CreateAllocatedUnlinkedFile): everything after this uses the descriptor only (PATH is named in messages),
// and a run stopped by Ctrl-C or SIGTERM, which run no cleanup, would otherwise leave GiBs behind.
// `cold_window`: the cold window the run will walk (0: no cold pattern), as Destinations::ForFile() is given it.
absl::StatusOr<int> OpenBenchFile(const std::string& path, const BenchCommandOptions& options, uint64_t cold_window) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    if (const int err = errno; err != ENOENT) return PathError(path, err);
    return tools::CreateAllocatedUnlinkedFile(path, CreateSize(path, options),
                                              "; free space or pass a smaller --create_size");
  }
  if (S_ISDIR(st.st_mode)) return Invalid(absl::StrCat(path, ": is a directory; give a file or /dev/daxX.Y"));
  if (!options.overwrite) {
    return Invalid(absl::StrCat(path,
                                ": exists, and bench overwrites what it holds; pass --overwrite to "
                                "confirm, or name a file that does not exist (a scratch file, removed at once)"));
  }
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return PathError(path, errno);
  struct stat opened;
  if (fstat(fd, &opened) != 0) {
    const int err = errno;
    close(fd);
    return PathError(path, err);
  }
  // A Device DAX has no blocks to allocate; a regular file given with --overwrite may be sparse. Only what bench
  // stores into is allocated: the first max(hot window, cold window) bytes (Destinations::ForFile). And a file
  // system that plainly lacks room is said so before anything is allocated: an allocation that fails halfway keeps
  // the blocks it took, and left the file system full (found by review). Plainly: fewer bytes free than the range
  // has beyond all the blocks the file holds anywhere (a lower bound of what the allocation needs: SEEK_DATA would
  // count blocks allocated but not written, fallocate's, as holes), where the file system counts its blocks at all
  // (an unlimited tmpfs says 0 of 0). An allocation that still fails halfway (quotas, metadata) keeps what it took.
  if (S_ISREG(opened.st_mode)) {
    const uint64_t touched =
        std::min<uint64_t>(static_cast<uint64_t>(opened.st_size), std::max(kDefaultBenchFileSize, cold_window));
    const uint64_t held = static_cast<uint64_t>(opened.st_blocks) * 512;
    const uint64_t needed = touched > held ? touched - held : 0;
    struct statvfs fs;
    if (needed > 0 && fstatvfs(fd, &fs) == 0 && fs.f_blocks > 0) {
      const uint64_t free_bytes = static_cast<uint64_t>(geteuid() == 0 ? fs.f_bfree : fs.f_bavail) * fs.f_frsize;
      if (free_bytes < needed) {
        close(fd);
        return absl::ResourceExhaustedError(
            absl::StrCat(path, ": bench writes its first ", touched, " bytes, of which at least ", needed,
                         " are holes, and its file system has ", free_bytes,
                         " bytes free; free space on its file system, or give a smaller file"));
      }
    }
    if (absl::Status s =
            tools::AllocateFile(fd, path, touched, "; free space on its file system, or give a smaller file");
        !s.ok()) {
      close(fd);
      return s;
    }
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::string> RunBenchCommand(const std::vector<std::string>& args, const BenchCommandOptions& options) {
  if (absl::Status s = CheckArguments(args, options); !s.ok()) return s;
  const std::string& path = args[0];
  // Once: the allocation below must cover what the run walks (tmpfs blocks lower the available memory it depends on).
  const uint64_t cold_window = HasColdPattern(options.run.patterns) ? ColdWindowHere() : 0;
  // Pinned before the file's pages are allocated and faulted in, so that on a host of several memory nodes they
  // are the timed CPU's; Measure pins again and reports how that went.
  if (options.cpu != -2) (void)PinToCpu(options.cpu);
  absl::StatusOr<int> fd = OpenBenchFile(path, options, cold_window);
  if (!fd.ok()) return fd.status();
  absl::Cleanup close_fd = [fd = *fd] { close(fd); };
  absl::StatusOr<std::unique_ptr<Destinations>> destinations =
      Destinations::ForFile(*fd, path, kDefaultBenchFileSize, cold_window);
  if (!destinations.ok()) return destinations.status();
  // A CPU named with --cpu must be there; the default (the last one allowed) is pinned where it can be.
  absl::StatusOr<Measurement> m =
      Measure(**destinations, options.cpu, options.cpu >= 0 ? Pinning::kRequired : Pinning::kBestEffort, options.run);
  if (!m.ok()) return m.status();
  const CpuKind& cpu = ThisCpuKind();
  std::string table = FormatTable(m->rows, m->notes, TargetsFor(cpu.vendor, cpu.family, cpu.model));
  if (const std::string summary = FormatPatternSummary(m->rows); !summary.empty()) {
    absl::StrAppend(&table, "\n", summary);
  }
  if (options.print_strategies) {
    if (const std::string strategies = FormatStrategies(m->rows); !strategies.empty()) {
      absl::StrAppend(&table, "\n", strategies);
    }
  }
  if (!options.plot.empty()) {
    const std::string title = absl::StrCat("pmem2 vs libpmem2 1.12: ", path, " (",
                                           (*destinations)->lanes().front().granularity, " granularity, hot)");
    std::vector<Row> hot;
    for (const Row& row : m->rows) {
      if (row.pattern == "hot") hot.push_back(row);
    }
    // The run's tables are not lost to a plot that cannot be written: they are returned, the failure in
    // *plot_result where the caller asked for it.
    if (absl::Status s = WriteBandwidthSvg(hot, title, options.plot, options.replace_plot); !s.ok()) {
      if (options.plot_result == nullptr) return s;
      *options.plot_result = s;
      absl::StrAppend(&table, "plot: not written: ", s.message(), "\n");
    } else {
      absl::StrAppend(&table, "plot: ", options.plot, " (hot pattern)\n");
    }
  }
  return table;
}

}  // namespace bench
}  // namespace pmem2
