// Copyright 2026 The pmem2 Authors.
//
// PMEM_LOG_FILE, PMEM_LOG_LEVEL and PMEM_MMAP_HINT are not read in a set-group-ID (or set-user-ID) program: run by
// another user, a copy of libpmem_secure_env_probe made set-group-ID root neither creates the log file nor maps at
// the hint, where a plain copy does both. Needs root (to make the copy and run it as another user); argument: the
// probe's path (BUILD.bazel).

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/base/config.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "testing/child_process.h"
#include "testing/temp_files.h"

namespace {

const char* probe_path = nullptr;

constexpr uid_t kNobody = 65534;
// The set-group-ID copy's group: any group other than the runner's makes the kernel run it as a secure program, and
// one no files belong to gives it no privilege (not root's group: the copy is executable by everyone while it exists).
constexpr gid_t kCopyGroup = 65533;
constexpr uintptr_t kHint = 0x600000000000;  // far below where the kernel places mappings by itself
// The sanitizers keep ranges of the address space for themselves (ASan's shadow holds kHint): the hint goes unchecked.
#if defined(ABSL_HAVE_ADDRESS_SANITIZER) || defined(ABSL_HAVE_THREAD_SANITIZER)
constexpr bool kHintChecked = false;
#else
constexpr bool kHintChecked = true;
#endif

bool CopyFile(const std::string& from, const std::string& to, mode_t mode) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  out.close();
  return in.good() && !out.fail() && chmod(to.c_str(), mode) == 0;
}

struct ProbeRun {
  bool secure = false;
  uintptr_t address = 0;
  bool log_made = false;
  bool cannot_become_nobody = false;  // no CAP_SETUID / CAP_SETGID (a container's root)
  std::string error;
};

// Runs `program` as nobody with PMEM_LOG_LEVEL=3, a PMEM_LOG_FILE and PMEM_MMAP_HINT set; its files go to `out`.
ProbeRun RunProbe(const std::string& out_dir, const std::string& program, const std::string& name) {
  ProbeRun run;
  const std::string log = out_dir + "/" + name + ".log";
  const std::string file = out_dir + "/" + name + ".pmem";
  const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
    if (!pmem2::testing::BecomeUser(kNobody, kNobody)) return 100;
    if (dup2(out, STDOUT_FILENO) < 0) return 101;
    const std::string log_variable = "PMEM_LOG_FILE=" + log;
    const std::string hint_variable = absl::StrCat("PMEM_MMAP_HINT=", absl::Hex(kHint));
    char* const argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>(file.c_str()), nullptr};
    char* const envp[] = {const_cast<char*>("PMEM_LOG_LEVEL=3"), const_cast<char*>(log_variable.c_str()),
                          const_cast<char*>(hint_variable.c_str()), nullptr};
    execve(program.c_str(), argv, envp);
    return 102;
  });
  if (child.exited && child.exit_code == 100) {
    run.cannot_become_nobody = true;
    return run;
  }
  if (!child.exited || child.exit_code != 0) {
    run.error = child.Describe();
    return run;
  }
  const std::vector<std::string> words = absl::StrSplit(child.output, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  uint64_t address = 0;
  if (words.size() != 2 || !absl::SimpleHexAtoi(words[1], &address)) {
    run.error = "unexpected output: " + child.output;
    return run;
  }
  run.secure = words[0] == "1";
  run.address = static_cast<uintptr_t>(address);
  run.log_made = access(log.c_str(), F_OK) == 0;
  return run;
}

TEST(LibpmemSecureEnvTest, ASetGroupIdProgramReadsNeitherTheLogVariablesNorTheMapHint) {
  ASSERT_NE(probe_path, nullptr);
  if (geteuid() != 0) GTEST_SKIP() << "needs root: to make a set-group-ID copy of the probe and run it as another user";
  pmem2::testing::ScopedTempDir dir("/tmp");
  struct statvfs fs;
  ASSERT_EQ(statvfs(dir.path().c_str(), &fs), 0);
  if ((fs.f_flag & (ST_NOEXEC | ST_NOSUID)) != 0) GTEST_SKIP() << "/tmp is mounted noexec or nosuid here";
  // Only root can reach the copies (the folder is 0711, the copies' names known); the probe, run as nobody, writes
  // into a folder of its own.
  ASSERT_EQ(chmod(dir.path().c_str(), 0711), 0);
  const std::string out = dir.Join("out");
  ASSERT_EQ(mkdir(out.c_str(), 0777), 0);
  ASSERT_EQ(chmod(out.c_str(), 0777), 0);
  const std::string plain = dir.Join("plain");
  const std::string set_group_id = dir.Join("set_group_id");
  ASSERT_TRUE(CopyFile(probe_path, plain, 0755));
  ASSERT_TRUE(CopyFile(probe_path, set_group_id, 0755));
  ASSERT_EQ(chown(set_group_id.c_str(), 0, kCopyGroup), 0);
  ASSERT_EQ(chmod(set_group_id.c_str(), 02755), 0);

  const ProbeRun control = RunProbe(out, plain, "plain");
  if (control.cannot_become_nobody) GTEST_SKIP() << "this root cannot become another user (no CAP_SETUID/SETGID)";
  ASSERT_TRUE(control.error.empty()) << control.error;
  ASSERT_FALSE(control.secure);
  EXPECT_TRUE(control.log_made) << "a plain program logs where PMEM_LOG_FILE says";
  if (kHintChecked) {
    EXPECT_EQ(control.address, kHint) << "and maps at PMEM_MMAP_HINT";
  }

  const ProbeRun secure = RunProbe(out, set_group_id, "secure");
  ASSERT_TRUE(secure.error.empty()) << secure.error;
  if (!secure.secure) GTEST_SKIP() << "the kernel did not run the set-group-ID copy as a secure program (nosuid?)";
  EXPECT_FALSE(secure.log_made) << "a set-group-ID program made the file PMEM_LOG_FILE names";
  if (kHintChecked) {
    EXPECT_NE(secure.address, kHint) << "a set-group-ID program mapped at PMEM_MMAP_HINT";
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc != 2) {
    fprintf(stderr, "usage: %s PATH_TO_libpmem_secure_env_probe\n", argv[0]);
    return 2;
  }
  probe_path = argv[1];
  return RUN_ALL_TESTS();
}
