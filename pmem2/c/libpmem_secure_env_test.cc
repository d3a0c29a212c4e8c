// Copyright 2026 The pmem2 Authors.
//
// pmem2's environment variables are not read in a set-group-ID (or set-user-ID) program: run by another user, a copy
// of libpmem_secure_env_probe made set-group-ID neither creates the log file PMEM_LOG_FILE names nor maps at
// PMEM_MMAP_HINT nor takes a setting that weakens its persists nor refuses a value pmem2_map_new or
// AsyncPersister::Create would refuse, where a plain copy does each. Needs root (to make the copy and run it as
// another user); argument: the probe's path (BUILD.bazel).

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
  bool is_pmem = false;
  bool log_made = false;
  int exit_code = -1;                 // 3: pmem_map_file failed (an invalid variable)
  bool cannot_become_nobody = false;  // no CAP_SETUID / CAP_SETGID (a container's root)
  std::string error;
};

class LibpmemSecureEnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(probe_path, nullptr);
    if (geteuid() != 0) {
      GTEST_SKIP() << "needs root: to make a set-group-ID copy of the probe and run it as another user";
    }
    struct statvfs fs;
    ASSERT_EQ(statvfs(dir_.path().c_str(), &fs), 0);
    if ((fs.f_flag & (ST_NOEXEC | ST_NOSUID)) != 0) GTEST_SKIP() << "/tmp is mounted noexec or nosuid here";
    // Only root can reach the copies (the folder is 0711, the copies' names known); the probe, run as nobody, writes
    // into a folder of its own.
    ASSERT_EQ(chmod(dir_.path().c_str(), 0711), 0);
    ASSERT_EQ(mkdir(out_.c_str(), 0777), 0);
    ASSERT_EQ(chmod(out_.c_str(), 0777), 0);
    ASSERT_TRUE(CopyFile(probe_path, plain_, 0755));
    ASSERT_TRUE(CopyFile(probe_path, set_group_id_, 0755));
    ASSERT_EQ(chown(set_group_id_.c_str(), 0, kCopyGroup), 0);
    ASSERT_EQ(chmod(set_group_id_.c_str(), 02755), 0);
    const ProbeRun check = Run(set_group_id_, "check", {});
    if (check.cannot_become_nobody) GTEST_SKIP() << "this root cannot become another user (no CAP_SETUID/SETGID)";
    ASSERT_TRUE(check.error.empty()) << check.error;
    if (!check.secure) GTEST_SKIP() << "the kernel did not run the set-group-ID copy as a secure program";
  }

  // Runs `program` as nobody with `environment` (NAME=value each) and nothing else; its files go to out_, named
  // after `name`.
  // `through`: the probe's second argument (libpmem, libpmem2 or uring).
  ProbeRun Run(const std::string& program, const std::string& name, std::vector<std::string> environment,
               const std::string& through = "libpmem") {
    ProbeRun run;
    const std::string log = out_ + "/" + name + ".log";
    const std::string file = out_ + "/" + name + ".pmem";
    for (std::string& variable : environment) {
      if (variable == "PMEM_LOG_FILE=") variable += log;
    }
    const pmem2::testing::ChildResult child = pmem2::testing::RunInChild([&](int out) {
      if (!pmem2::testing::BecomeUser(kNobody, kNobody)) return 100;
      if (dup2(out, STDOUT_FILENO) < 0) return 101;
      char* const argv[] = {const_cast<char*>(program.c_str()), const_cast<char*>(file.c_str()),
                            const_cast<char*>(through.c_str()), nullptr};
      std::vector<char*> envp;
      for (std::string& variable : environment) envp.push_back(variable.data());
      envp.push_back(nullptr);
      execve(program.c_str(), argv, envp.data());
      return 102;
    });
    run.log_made = access(log.c_str(), F_OK) == 0;
    if (child.exited && child.exit_code == 100) {
      run.cannot_become_nobody = true;
      return run;
    }
    if (!child.exited || (child.exit_code != 0 && child.exit_code != 3)) {
      run.error = child.Describe();
      return run;
    }
    run.exit_code = child.exit_code;
    if (run.exit_code != 0) return run;
    const std::vector<std::string> words = absl::StrSplit(child.output, absl::ByAnyChar(" \n"), absl::SkipEmpty());
    uint64_t address = 0;
    if (words.size() != 3 || !absl::SimpleHexAtoi(words[1], &address)) {
      run.error = "unexpected output: " + child.output;
      return run;
    }
    run.secure = words[0] == "1";
    run.address = static_cast<uintptr_t>(address);
    run.is_pmem = words[2] == "1";
    return run;
  }

  pmem2::testing::ScopedTempDir dir_{"/tmp"};
  const std::string out_ = dir_.Join("out");
  const std::string plain_ = dir_.Join("plain");
  const std::string set_group_id_ = dir_.Join("set_group_id");
};

TEST_F(LibpmemSecureEnvTest, ASetGroupIdProgramReadsNeitherTheLogVariablesNorTheMapHint) {
  const std::vector<std::string> environment = {"PMEM_LOG_LEVEL=3",
                                                "PMEM_LOG_FILE=", absl::StrCat("PMEM_MMAP_HINT=", absl::Hex(kHint))};
  const ProbeRun control = Run(plain_, "plain", environment);
  ASSERT_TRUE(control.error.empty()) << control.error;
  ASSERT_FALSE(control.secure);
  EXPECT_TRUE(control.log_made) << "a plain program logs where PMEM_LOG_FILE says";
  if (kHintChecked) {
    EXPECT_EQ(control.address, kHint) << "and maps at PMEM_MMAP_HINT";
  }
  const ProbeRun secure = Run(set_group_id_, "secure", environment);
  ASSERT_TRUE(secure.error.empty()) << secure.error;
  ASSERT_TRUE(secure.secure);
  EXPECT_FALSE(secure.log_made) << "a set-group-ID program made the file PMEM_LOG_FILE names";
  if (kHintChecked) {
    EXPECT_NE(secure.address, kHint) << "a set-group-ID program mapped at PMEM_MMAP_HINT";
  }
}

// Nor the variables that would have its persists skip the write-back (a file on a disk claimed persistent memory:
// pmem_map_file's *is_pmemp, and so its callers' pmem_persist where pmem_msync is needed), nor one whose invalid
// value would refuse its mappings (PMEM_NO_FLUSH, read by the engine as the other PMEM_* variables are).
TEST_F(LibpmemSecureEnvTest, ASetGroupIdProgramReadsNoSettingThatWeakensItsPersists) {
  const ProbeRun baseline = Run(plain_, "baseline", {});
  ASSERT_TRUE(baseline.error.empty()) << baseline.error;
  if (baseline.is_pmem) GTEST_SKIP() << "/tmp is on persistent memory here: no setting is needed to make is_pmem 1";
  for (const char* variable : {"PMEM_IS_PMEM_FORCE=1", "PMEM2_FORCE_GRANULARITY=byte"}) {
    SCOPED_TRACE(variable);
    const ProbeRun control = Run(plain_, "plain", {variable});
    ASSERT_TRUE(control.error.empty()) << control.error;
    EXPECT_EQ(control.exit_code, 0);
    EXPECT_TRUE(control.is_pmem) << "a plain program takes it";
    const ProbeRun secure = Run(set_group_id_, "secure", {variable});
    ASSERT_TRUE(secure.error.empty()) << secure.error;
    EXPECT_EQ(secure.exit_code, 0);
    EXPECT_FALSE(secure.is_pmem) << "a set-group-ID program claimed a file on a disk persistent memory";
  }
  const ProbeRun control = Run(plain_, "plain", {"PMEM_NO_FLUSH=sometimes"});
  ASSERT_TRUE(control.error.empty()) << control.error;
  EXPECT_EQ(control.exit_code, 3) << "a plain program refuses to map under an invalid PMEM_NO_FLUSH";
  const ProbeRun secure = Run(set_group_id_, "secure", {"PMEM_NO_FLUSH=sometimes"});
  ASSERT_TRUE(secure.error.empty()) << secure.error;
  EXPECT_EQ(secure.exit_code, 0) << "a set-group-ID program read PMEM_NO_FLUSH";
}

// Nor the variables pmem2_map_new and AsyncPersister::Create check: a value they refuse in a plain program is not
// read in a set-group-ID one (PMEM2_PERSIST_FAILURE would otherwise also choose whether its failed persists abort).
TEST_F(LibpmemSecureEnvTest, ASetGroupIdProgramReadsNeitherPersistFailureNorNoIoUring) {
  const struct {
    const char* variable;
    const char* through;
  } cases[] = {{"PMEM2_PERSIST_FAILURE=sometimes", "libpmem2"}, {"PMEM2_NO_IO_URING=sometimes", "uring"}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.variable);
    const ProbeRun baseline = Run(plain_, "baseline", {}, c.through);
    ASSERT_TRUE(baseline.error.empty()) << baseline.error;
    EXPECT_EQ(baseline.exit_code, 0) << "unset, the call succeeds";
    const ProbeRun control = Run(plain_, "plain", {c.variable}, c.through);
    ASSERT_TRUE(control.error.empty()) << control.error;
    EXPECT_EQ(control.exit_code, 3) << "a plain program refuses the invalid value";
    const ProbeRun secure = Run(set_group_id_, "secure", {c.variable}, c.through);
    ASSERT_TRUE(secure.error.empty()) << secure.error;
    EXPECT_EQ(secure.exit_code, 0) << "a set-group-ID program read it";
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
