// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/env_overrides.h"

#include <cerrno>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"

namespace pmem2 {
namespace arch {
namespace {

const char* const kAll[] = {"PMEM_NO_CLWB",   "PMEM_NO_CLFLUSHOPT",     "PMEM_NO_FLUSH", "PMEM_NO_MOVNT",
                            "PMEM_MOVNT_THRESHOLD", "PMEM_AVX",       "PMEM_AVX512F",  "PMEM_MOVDIR64B",
                            "PMEM_NO_GENERIC_MEMCPY", "PMEM2_NEAR_TEMPORAL_BELOW"};

class EnvOverridesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kAll) ::unsetenv(name);
  }
  void TearDown() override { SetUp(); }
};

TEST_F(EnvOverridesTest, NothingSet) {
  const EnvOverrides o = ReadEnvOverrides();
  EXPECT_FALSE(o.no_clwb || o.no_clflushopt || o.no_movnt || o.has_movnt_threshold || o.no_avx || o.no_avx512f ||
               o.no_movdir64b || o.no_generic_memcpy);
  EXPECT_EQ(o.flush, EnvOverrides::Flush::kAuto);
  EXPECT_EQ(o.description, "");
}

// The numbers are parsed with strtoull / strtoll, which report through errno; the caller's errno survives, also
// after an out-of-range value (ERANGE) and a valid one (0). (Found by review: it was left 0 or ERANGE.)
TEST_F(EnvOverridesTest, TheCallersErrnoIsLeftAlone) {
  for (const char* value : {"99999999999999999999999", "4096"}) {
    ::setenv("PMEM_MOVNT_THRESHOLD", value, 1);
    ::setenv("PMEM_NO_GENERIC_MEMCPY", value, 1);
    errno = EAGAIN;
    ReadEnvOverrides();
    EXPECT_EQ(errno, EAGAIN) << value;
  }
}

TEST_F(EnvOverridesTest, EverySwitch) {
  ::setenv("PMEM_NO_CLWB", "1", 1);
  ::setenv("PMEM_NO_CLFLUSHOPT", "1", 1);
  ::setenv("PMEM_NO_FLUSH", "1", 1);
  ::setenv("PMEM_NO_MOVNT", "1", 1);
  ::setenv("PMEM_MOVNT_THRESHOLD", "1024", 1);
  ::setenv("PMEM_AVX", "0", 1);
  ::setenv("PMEM_AVX512F", "0", 1);
  ::setenv("PMEM_MOVDIR64B", "0", 1);
  ::setenv("PMEM_NO_GENERIC_MEMCPY", "2", 1);
  const EnvOverrides o = ReadEnvOverrides();
  EXPECT_TRUE(o.no_clwb);
  EXPECT_TRUE(o.no_clflushopt);
  EXPECT_EQ(o.flush, EnvOverrides::Flush::kNever);
  EXPECT_TRUE(o.no_movnt);
  EXPECT_TRUE(o.has_movnt_threshold);
  EXPECT_EQ(o.movnt_threshold, 1024u);
  EXPECT_TRUE(o.no_avx);
  EXPECT_TRUE(o.no_avx512f);
  EXPECT_TRUE(o.no_movdir64b);
  EXPECT_TRUE(o.no_generic_memcpy);
  EXPECT_EQ(o.description,
            "PMEM_NO_CLWB=1 PMEM_NO_CLFLUSHOPT=1 PMEM_NO_FLUSH=1 PMEM_NO_MOVNT=1 PMEM_MOVNT_THRESHOLD=1024 "
            "PMEM_AVX=0 PMEM_AVX512F=0 PMEM_MOVDIR64B=0 PMEM_NO_GENERIC_MEMCPY=2");
}

// pmem2's own knob for the pattern-aware small copies: a byte count like PMEM_MOVNT_THRESHOLD, 0 included (off),
// anything else refused with its name and value.
TEST_F(EnvOverridesTest, NearTemporalBelow) {
  EXPECT_FALSE(ReadEnvOverrides().has_near_temporal_below);
  ::setenv("PMEM2_NEAR_TEMPORAL_BELOW", "384", 1);
  EnvOverrides o = ReadEnvOverrides();
  EXPECT_TRUE(o.has_near_temporal_below);
  EXPECT_EQ(o.near_temporal_below, 384u);
  EXPECT_EQ(o.description, "PMEM2_NEAR_TEMPORAL_BELOW=384");
  ::setenv("PMEM2_NEAR_TEMPORAL_BELOW", "0", 1);
  o = ReadEnvOverrides();
  EXPECT_TRUE(o.has_near_temporal_below);
  EXPECT_EQ(o.near_temporal_below, 0u);
  for (const char* bad : {"-1", "4k", " 64", "1e3", "99999999999999999999999"}) {
    ::setenv("PMEM2_NEAR_TEMPORAL_BELOW", bad, 1);
    o = ReadEnvOverrides();
    EXPECT_FALSE(o.has_near_temporal_below) << bad;
    EXPECT_EQ(o.invalid, std::string("PMEM2_NEAR_TEMPORAL_BELOW=\"") + bad +
                             "\" is not a byte count (a decimal number from 0, no sign or suffix)");
  }
}

TEST_F(EnvOverridesTest, NoFlushZeroForcesFlushing) {
  ::setenv("PMEM_NO_FLUSH", "0", 1);
  EXPECT_EQ(ReadEnvOverrides().flush, EnvOverrides::Flush::kAlways);
}

// The documented "not set" values switch nothing and are no error.
TEST_F(EnvOverridesTest, DocumentedNeutralValuesSwitchNothing) {
  ::setenv("PMEM_NO_CLWB", "0", 1);
  ::setenv("PMEM_AVX", "1", 1);
  ::setenv("PMEM_NO_MOVNT", "0", 1);
  ::setenv("PMEM_NO_GENERIC_MEMCPY", "0", 1);
  ::setenv("PMEM_NO_FLUSH", "", 1);
  const EnvOverrides o = ReadEnvOverrides();
  EXPECT_FALSE(o.no_clwb);
  EXPECT_EQ(o.flush, EnvOverrides::Flush::kAuto);
  EXPECT_FALSE(o.no_avx);
  EXPECT_FALSE(o.no_avx512f);
  EXPECT_FALSE(o.force_avx512f);
  EXPECT_FALSE(o.no_movnt);
  EXPECT_FALSE(o.no_generic_memcpy);
  EXPECT_EQ(o.description, "");
  EXPECT_EQ(o.invalid, "");
}

// PMEM_AVX512F=1 is not neutral: it asks for the AVX-512 kernels where pmem2 would not pick them by default.
TEST_F(EnvOverridesTest, Avx512fOneForcesAvx512) {
  ::setenv("PMEM_AVX512F", "1", 1);
  const EnvOverrides o = ReadEnvOverrides();
  EXPECT_TRUE(o.force_avx512f);
  EXPECT_FALSE(o.no_avx512f);
  EXPECT_EQ(o.description, "PMEM_AVX512F=1");
  EXPECT_EQ(o.invalid, "");
}

// PMDK ignores values it does not know; pmem2 names them so that nobody measures a configuration they did not
// ask for. The engine treats them as unset.
TEST_F(EnvOverridesTest, OtherValuesAreReportedAndOtherwiseIgnored) {
  ::setenv("PMEM_NO_CLWB", "yes", 1);
  ::setenv("PMEM_NO_FLUSH", "2", 1);
  ::setenv("PMEM_AVX", "true", 1);
  ::setenv("PMEM_NO_GENERIC_MEMCPY", "x1", 1);
  const EnvOverrides o = ReadEnvOverrides();
  EXPECT_FALSE(o.no_clwb);
  EXPECT_EQ(o.flush, EnvOverrides::Flush::kAuto);
  EXPECT_FALSE(o.no_avx);
  EXPECT_FALSE(o.no_generic_memcpy);
  EXPECT_EQ(o.description, "");
  EXPECT_EQ(o.invalid,
            "PMEM_NO_CLWB=\"yes\" is not 0 or 1; PMEM_NO_FLUSH=\"2\" is not 0 or 1; PMEM_AVX=\"true\" is not 0 or 1; "
            "PMEM_NO_GENERIC_MEMCPY=\"x1\" is not an integer");
}

TEST_F(EnvOverridesTest, ThresholdParsing) {
  for (const char* bad : {"-1", "abc", "5x", "+5", " 5", "4k", "99999999999999999999999"}) {
    ::setenv("PMEM_MOVNT_THRESHOLD", bad, 1);
    const EnvOverrides o = ReadEnvOverrides();
    EXPECT_FALSE(o.has_movnt_threshold) << bad;
    EXPECT_EQ(o.invalid, std::string("PMEM_MOVNT_THRESHOLD=\"") + bad +
                             "\" is not a byte count (a decimal number from 0, no sign or suffix)");
  }
  ::setenv("PMEM_MOVNT_THRESHOLD", "", 1);
  EXPECT_FALSE(ReadEnvOverrides().has_movnt_threshold);
  EXPECT_EQ(ReadEnvOverrides().invalid, "") << "empty counts as unset";
  ::setenv("PMEM_MOVNT_THRESHOLD", "0", 1);
  const EnvOverrides o = ReadEnvOverrides();
  EXPECT_TRUE(o.has_movnt_threshold);
  EXPECT_EQ(o.movnt_threshold, 0u);
  EXPECT_EQ(o.invalid, "");
}

}  // namespace
}  // namespace arch
}  // namespace pmem2
