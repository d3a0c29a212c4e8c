// Copyright 2026 The pmem2 Authors.
//
// main() for fuzz targets outside libFuzzer (driver.h): the files on the command line, then --fuzz_runs inputs made
// from --fuzz_seed. Input number k depends only on the seed and k, so --fuzz_only_run=k replays one.

#include "testing/fuzz/driver.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"

ABSL_FLAG(int64_t, fuzz_runs, 2000, "pseudo-random inputs to run after the files named on the command line");
ABSL_FLAG(uint64_t, fuzz_seed, 1, "seed of the pseudo-random inputs");
ABSL_FLAG(int64_t, fuzz_max_len, 512, "longest pseudo-random input, in bytes");
ABSL_FLAG(int64_t, fuzz_only_run, -1, "run only this pseudo-random input (as numbered in a failure's message)");

namespace {

// What the fatal-signal handler reports; set before each input runs.
const uint8_t* current_data = nullptr;
size_t current_size = 0;
char current_name[512] = "";
char crash_file[512] = "";  // where the handler writes the input, or "" for nowhere

void WriteAll(int fd, const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t done = write(fd, c, n);
    if (done <= 0) return;
    c += done;
    n -= static_cast<size_t>(done);
  }
}

void Say(const char* text) { WriteAll(STDERR_FILENO, text, strlen(text)); }

// Async-signal-safe: names the input, writes it where Bazel keeps a test's outputs, dies of the same signal.
void OnFatalSignal(int sig) {
  Say("\n*** fuzz target died while running ");
  Say(current_name);
  if (crash_file[0] != '\0' && current_data != nullptr) {  // between inputs (a leak report at exit): no input
    const int fd = open(crash_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      WriteAll(fd, current_data, current_size);
      close(fd);
      Say("; the input is in ");
      Say(crash_file);
      Say(" (under bazel test: fuzz-crash-input in the test's test.outputs/outputs.zip in bazel-testlogs; replay: "
          "give that file on the test's command line)");
    }
  }
  Say("\n");
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallFatalSignalHandlers() {
  if (const char* outputs = getenv("TEST_UNDECLARED_OUTPUTS_DIR"); outputs != nullptr) {
    snprintf(crash_file, sizeof crash_file, "%s/fuzz-crash-input", outputs);
  }
  struct sigaction action {};
  action.sa_handler = OnFatalSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (const int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) {
    struct sigaction old {};
    // A sanitizer's own handler (AddressSanitizer's for SIGSEGV) reports better; it aborts afterwards, and SIGABRT's
    // handler here then names the input.
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_DFL) continue;
    sigaction(sig, &action, nullptr);
  }
}

void Run(const std::vector<uint8_t>& input, const std::string& name) {
  snprintf(current_name, sizeof current_name, "%s (%zu bytes)", name.c_str(), input.size());
  // A copy of exactly the input's size, so that AddressSanitizer catches a read past its end.
  std::unique_ptr<uint8_t[]> exact(new uint8_t[std::max<size_t>(input.size(), 1)]);
  std::copy(input.begin(), input.end(), exact.get());
  current_data = exact.get();
  current_size = input.size();
  LLVMFuzzerTestOneInput(exact.get(), input.size());
  current_data = nullptr;  // a fault between inputs names none
  current_size = 0;
  snprintf(current_name, sizeof current_name, "no input (between inputs)");
}

bool ReadFile(const std::string& path, std::vector<uint8_t>* out) {
  FILE* f = fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  out->clear();
  uint8_t buffer[4096];
  size_t got;
  while ((got = fread(buffer, 1, sizeof buffer, f)) > 0) out->insert(out->end(), buffer, buffer + got);
  const bool ok = ferror(f) == 0;
  fclose(f);
  return ok;
}

// The files a command-line argument names: itself, or a directory's regular files in name order.
std::vector<std::string> FilesOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    fprintf(stderr, "fuzz driver: cannot read %s: %s\n", path.c_str(), strerror(errno));
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) return {path};
  std::vector<std::string> files;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) {
    fprintf(stderr, "fuzz driver: cannot list %s: %s\n", path.c_str(), strerror(errno));
    exit(2);
  }
  while (const dirent* entry = readdir(dir)) {
    const std::string file = path + "/" + entry->d_name;
    struct stat fst {};
    if (stat(file.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) files.push_back(file);
  }
  closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

// Input number `k` of seed `seed`: mostly short, sometimes up to max_len, bytes uniform.
std::vector<uint8_t> PseudoRandomInput(uint64_t seed, int64_t k, size_t max_len) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(k),
                    static_cast<uint32_t>(static_cast<uint64_t>(k) >> 32)};
  std::mt19937_64 random(seq);
  const size_t cap = (random() % 4 == 0) ? max_len : std::min<size_t>(max_len, 64);
  std::vector<uint8_t> input(cap == 0 ? 0 : random() % (cap + 1));
  for (uint8_t& b : input) b = static_cast<uint8_t>(random());
  return input;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<char*> args = absl::ParseCommandLine(argc, argv);
  InstallFatalSignalHandlers();
  int64_t files = 0;
  std::vector<uint8_t> input;
  for (size_t i = 1; i < args.size(); ++i) {
    for (const std::string& file : FilesOf(args[i])) {
      if (!ReadFile(file, &input)) {
        fprintf(stderr, "fuzz driver: cannot read %s\n", file.c_str());
        return 2;
      }
      Run(input, file);
      ++files;
    }
  }
  const uint64_t seed = absl::GetFlag(FLAGS_fuzz_seed);
  const int64_t only = absl::GetFlag(FLAGS_fuzz_only_run);
  const int64_t runs = absl::GetFlag(FLAGS_fuzz_runs);
  const size_t max_len = static_cast<size_t>(std::max<int64_t>(absl::GetFlag(FLAGS_fuzz_max_len), 0));
  int64_t generated = 0;
  for (int64_t k = only >= 0 ? only : 0; k < (only >= 0 ? only + 1 : runs); ++k) {
    char name[128];
    snprintf(name, sizeof name, "input %" PRId64 " of --fuzz_seed=%" PRIu64 " --fuzz_max_len=%zu (replay: "
             "--fuzz_only_run=%" PRId64 ")", k, seed, max_len, k);
    Run(PseudoRandomInput(seed, k, max_len), name);
    ++generated;
  }
  printf("%" PRId64 " files and %" PRId64 " pseudo-random inputs (seed %" PRIu64 ") ran without a failure\n", files,
         generated, seed);
  return 0;
}
