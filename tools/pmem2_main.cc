// Copyright 2026 The pmem2 Authors.
//
// The `pmem2` command-line tool.
//
//   pmem2 info PATH [--create_size=BYTES]   what pmem2 decides for PATH, and why

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "tools/info.h"

ABSL_FLAG(uint64_t, create_size, 16 << 20, "info: size in bytes of the file to create when PATH does not exist");

namespace {

constexpr char kUsage[] =
    "pmem2 <command> ...\n"
    "  pmem2 info PATH [--create_size=BYTES]\n"
    "      Map PATH (a file, created if missing, or a Device DAX such as /dev/dax0.0) and print what pmem2\n"
    "      decided: source kind, size, alignment, MAP_SYNC, persistence domain, granularity and why, CPU\n"
    "      features, the flush/drain/copy functions in use.";

int Fail(const std::string& message) {
  std::cerr << "pmem2: " << message << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(kUsage);
  std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  if (args.size() < 2) return Fail(std::string("missing command\n") + kUsage);
  const std::string command = args[1];
  if (command == "info") {
    if (args.size() != 3) return Fail("info takes exactly one PATH");
    pmem2::tools::InfoOptions options;
    options.create_size = absl::GetFlag(FLAGS_create_size);
    absl::StatusOr<std::string> report = pmem2::tools::Info(args[2], options);
    if (!report.ok()) return Fail(std::string(report.status().message()));
    std::cout << *report;
    return 0;
  }
  return Fail("unknown command \"" + command + "\"\n" + kUsage);
}
