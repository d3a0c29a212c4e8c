// Copyright 2026 The pmem2 Authors.

#include "tools/bench/bench_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tools/bench/svg_plot.h"
#include "tools/create_file.h"

namespace pmem2 {
namespace bench {
namespace {

absl::Status Invalid(absl::string_view message) { return absl::InvalidArgumentError(message); }

std::string Dirname(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::Status CheckPlotPath(const std::string& plot) {
  if (plot.empty()) return absl::OkStatus();
  if (!absl::EndsWith(absl::AsciiStrToLower(plot), ".svg")) {
    return Invalid(absl::StrCat("--plot=", plot, ": the plot is an SVG; name it FILE.svg"));
  }
  struct stat st;
  if (stat(plot.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return Invalid(absl::StrCat("--plot=", plot, ": is a directory"));
  }
  const std::string dir = Dirname(plot);
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Invalid(absl::StrCat("--plot=", plot, ": folder ", dir, " does not exist"));
  }
  if (access(dir.c_str(), W_OK) != 0) {
    return Invalid(absl::StrCat("--plot=", plot, ": folder ", dir, " is not writable"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> RunBenchCommand(const std::vector<std::string>& args, const BenchCommandOptions& options) {
  if (args.empty()) return Invalid("bench needs a PATH: pmem2 bench PATH [--plot=FILE.svg]");
  if (args.size() > 1) return Invalid(absl::StrCat("bench takes exactly one PATH, got ", args.size()));
  const std::string& path = args[0];
  if (absl::Status s = CheckPlotPath(options.plot); !s.ok()) return s;
  if (options.run.repetitions < 1) return Invalid("--repetitions must be at least 1");
  if (!(options.run.min_time > 0)) return Invalid("--min_time must be a positive number of seconds");
  if (options.create_size == 0) return Invalid("--create_size must be positive");

  struct stat st;
  bool exists = false;
  if (stat(path.c_str(), &st) == 0) {
    exists = true;
    if (S_ISDIR(st.st_mode)) return Invalid(absl::StrCat(path, ": is a directory; give a file or /dev/daxX.Y"));
    if (!options.overwrite) {
      return Invalid(absl::StrCat(path,
                                  ": exists, and bench overwrites what it holds; pass --overwrite to "
                                  "confirm, or name a file that does not exist (created and removed)"));
    }
  } else if (const int err = errno; err != ENOENT) {
    return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(path, ": ", std::strerror(err)));
  }

  // Every block allocated before anything maps the file: the benchmark stores into all of it, and a store to
  // a block the file system cannot provide is a SIGBUS (exit 135, no message, the file left behind), not an
  // error. posix_fallocate reports the shortage while it can still be said and cleaned up.
  int fd = -1;
  if (exists) {
    fd = open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(path, ": ", std::strerror(err)));
    }
  } else {
    absl::StatusOr<int> created_fd =
        tools::CreateAllocatedFile(path, options.create_size, "; free space or pass a smaller --create_size");
    if (!created_fd.ok()) return created_fd.status();
    fd = *created_fd;
  }
  const bool created = !exists;
  absl::Cleanup cleanup = [fd, created, &path] {
    close(fd);
    if (created) unlink(path.c_str());
  };
  if (exists) {
    struct stat opened;
    if (fstat(fd, &opened) != 0) {
      const int err = errno;
      return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(path, ": ", std::strerror(err)));
    }
    // A Device DAX has no blocks to allocate; a regular file given with --overwrite may be sparse.
    if (S_ISREG(opened.st_mode)) {
      if (absl::Status s = tools::AllocateFile(fd, path, static_cast<uint64_t>(opened.st_size),
                                               "; free space on its file system, or give a smaller file");
          !s.ok()) {
        return s;
      }
    }
  }

  absl::StatusOr<std::unique_ptr<Destinations>> destinations = Destinations::ForFile(fd, path, kDefaultBenchFileSize);
  if (!destinations.ok()) return destinations.status();
  // Refuse to time functions that do not compute the same bytes.
  for (size_t n : {size_t{64}, size_t{4096}}) {
    if (absl::Status s = (*destinations)->VerifySameBytes(n); !s.ok()) return s;
  }
  std::vector<std::string> notes = (*destinations)->notes();
  if (options.cpu != -2) {
    absl::StatusOr<int> cpu = PinToCpu(options.cpu);
    notes.push_back(cpu.ok() ? absl::StrCat("pinned to CPU ", *cpu)
                             : absl::StrCat("not pinned: ", cpu.status().message()));
  }
  notes.push_back(absl::StrCat("medians of ", options.run.repetitions,
                               " interleaved repetitions of >= ", options.run.min_time, " s each"));
  absl::StatusOr<std::vector<Row>> rows = RunComparison(**destinations, options.run);
  if (!rows.ok()) return rows.status();
  std::string table = FormatTable(*rows, notes);
  if (!options.plot.empty()) {
    const std::string title = absl::StrCat("pmem2 vs libpmem2 1.12: ", path, " (",
                                           (*destinations)->lanes().front().granularity, " granularity)");
    if (absl::Status s = WriteBandwidthSvg(*rows, title, options.plot); !s.ok()) return s;
    absl::StrAppend(&table, "plot: ", options.plot, "\n");
  }
  return table;
}

}  // namespace bench
}  // namespace pmem2
