// Copyright 2026 The pmem2 Authors.

#include "pmem2/errors/errors.h"

#include <cerrno>
#include <string>
#include <type_traits>

#include <libpmem2.h>

#include "absl/strings/match.h"
#include "pmem2/persist_fns.h"

#include "gtest/gtest.h"

namespace pmem2 {
namespace {

// Every libpmem2 code: its value (libpmem2's header) and its name (what pmem2's messages and `pmem2 info` print).
TEST(ErrorsTest, CodesAreLibpmem2ValuesAndNames) {
  struct Row {
    ErrorCode code;
    int libpmem2_value;
    const char* libpmem2_name;
  };
#define PMEM2_ERROR_ROW(code, name) \
  Row { ErrorCode::code, name, #name }
  const Row rows[] = {
      PMEM2_ERROR_ROW(kUnknown, PMEM2_E_UNKNOWN),
      PMEM2_ERROR_ROW(kMapRange, PMEM2_E_MAP_RANGE),
      PMEM2_ERROR_ROW(kGranularityNotSet, PMEM2_E_GRANULARITY_NOT_SET),
      PMEM2_ERROR_ROW(kGranularityNotSupported, PMEM2_E_GRANULARITY_NOT_SUPPORTED),
      PMEM2_ERROR_ROW(kOffsetOutOfRange, PMEM2_E_OFFSET_OUT_OF_RANGE),
      PMEM2_ERROR_ROW(kOffsetUnaligned, PMEM2_E_OFFSET_UNALIGNED),
      PMEM2_ERROR_ROW(kLengthUnaligned, PMEM2_E_LENGTH_UNALIGNED),
      PMEM2_ERROR_ROW(kSourceEmpty, PMEM2_E_SOURCE_EMPTY),
      PMEM2_ERROR_ROW(kInvalidSharingValue, PMEM2_E_INVALID_SHARING_VALUE),
      PMEM2_ERROR_ROW(kSrcDevdaxPrivate, PMEM2_E_SRC_DEVDAX_PRIVATE),
      PMEM2_ERROR_ROW(kInvalidProtFlag, PMEM2_E_INVALID_PROT_FLAG),
      PMEM2_ERROR_ROW(kNoAccess, PMEM2_E_NO_ACCESS),
      PMEM2_ERROR_ROW(kInvalidFileHandle, PMEM2_E_INVALID_FILE_HANDLE),
      PMEM2_ERROR_ROW(kInvalidFileType, PMEM2_E_INVALID_FILE_TYPE),
      PMEM2_ERROR_ROW(kNoSupp, PMEM2_E_NOSUPP),
      PMEM2_ERROR_ROW(kIoFail, PMEM2_E_IO_FAIL),
      PMEM2_ERROR_ROW(kInvalidSizeFormat, PMEM2_E_INVALID_SIZE_FORMAT),
      PMEM2_ERROR_ROW(kInvalidAlignmentFormat, PMEM2_E_INVALID_ALIGNMENT_FORMAT),
      PMEM2_ERROR_ROW(kInvalidAlignmentValue, PMEM2_E_INVALID_ALIGNMENT_VALUE),
      PMEM2_ERROR_ROW(kFileHandleNotSet, PMEM2_E_FILE_HANDLE_NOT_SET),
      PMEM2_ERROR_ROW(kMappingExists, PMEM2_E_MAPPING_EXISTS),
      PMEM2_ERROR_ROW(kMappingNotFound, PMEM2_E_MAPPING_NOT_FOUND),
      PMEM2_ERROR_ROW(kBufferTooSmall, PMEM2_E_BUFFER_TOO_SMALL),
      PMEM2_ERROR_ROW(kInvalidAddressRequestType, PMEM2_E_INVALID_ADDRESS_REQUEST_TYPE),
      PMEM2_ERROR_ROW(kAddressUnaligned, PMEM2_E_ADDRESS_UNALIGNED),
      PMEM2_ERROR_ROW(kAddressNull, PMEM2_E_ADDRESS_NULL),
      PMEM2_ERROR_ROW(kDeepFlushRange, PMEM2_E_DEEP_FLUSH_RANGE),
      PMEM2_ERROR_ROW(kInvalidRegionFormat, PMEM2_E_INVALID_REGION_FORMAT),
      PMEM2_ERROR_ROW(kDaxRegionNotFound, PMEM2_E_DAX_REGION_NOT_FOUND),
      PMEM2_ERROR_ROW(kInvalidDevFormat, PMEM2_E_INVALID_DEV_FORMAT),
      PMEM2_ERROR_ROW(kCannotReadBounds, PMEM2_E_CANNOT_READ_BOUNDS),
      PMEM2_ERROR_ROW(kNoBadBlockFound, PMEM2_E_NO_BAD_BLOCK_FOUND),
      PMEM2_ERROR_ROW(kLengthOutOfRange, PMEM2_E_LENGTH_OUT_OF_RANGE),
      PMEM2_ERROR_ROW(kVmReservationNotEmpty, PMEM2_E_VM_RESERVATION_NOT_EMPTY),
      PMEM2_ERROR_ROW(kMapExists, PMEM2_E_MAP_EXISTS),
      PMEM2_ERROR_ROW(kFileDescriptorNotSet, PMEM2_E_FILE_DESCRIPTOR_NOT_SET),
      PMEM2_ERROR_ROW(kSourceTypeNotSupported, PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED),
  };
#undef PMEM2_ERROR_ROW
  for (const Row& row : rows) {
    EXPECT_EQ(static_cast<int>(row.code), row.libpmem2_value) << row.libpmem2_name;
    EXPECT_EQ(std::string(ErrorCodeName(row.code)), row.libpmem2_name);
  }
}

TEST(ErrorsTest, MakeErrorRoundTrips) {
  absl::Status s = MakeError(ErrorCode::kMapRange, "offset 5 + length 10 exceeds source size 8");
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kMapRange);
  EXPECT_EQ(ToLibpmem2ReturnValue(s), PMEM2_E_MAP_RANGE);
  EXPECT_EQ(s.message(), "offset 5 + length 10 exceeds source size 8");
  EXPECT_EQ(GetErrno(s), 0);
}

TEST(ErrorsTest, ErrnoErrors) {
  absl::Status s = MakeErrnoError(ENOMEM, "mmap of 4096 bytes");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetErrorCode(s), ErrorCode::kErrno);
  EXPECT_EQ(GetErrno(s), ENOMEM);
  EXPECT_EQ(ToLibpmem2ReturnValue(s), -ENOMEM);
  EXPECT_NE(s.message().find("mmap of 4096 bytes: "), absl::string_view::npos);
}

TEST(ErrorsTest, WithMessagePrefixKeepsCodesAndPayloads) {
  absl::Status range = WithMessagePrefix("/mnt/f", MakeError(ErrorCode::kMapRange, "offset 5 past size 4"));
  EXPECT_EQ(range.message(), "/mnt/f: offset 5 past size 4");
  EXPECT_EQ(range.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(GetErrorCode(range), ErrorCode::kMapRange);

  absl::Status io = WithMessagePrefix("/mnt/f", MakeErrnoError(EIO, "msync"));
  EXPECT_EQ(io.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(GetErrorCode(io), ErrorCode::kErrno);
  EXPECT_EQ(GetErrno(io), EIO);
  EXPECT_TRUE(absl::StartsWith(io.message(), "/mnt/f: msync: ")) << io;

  // Named once however often it is passed on; OK and foreign statuses keep what they are.
  EXPECT_EQ(WithMessagePrefix("/mnt/f", range), range);
  EXPECT_TRUE(WithMessagePrefix("/mnt/f", absl::OkStatus()).ok());
  absl::Status foreign = WithMessagePrefix("p", absl::NotFoundError("gone"));
  EXPECT_EQ(foreign, absl::NotFoundError("p: gone"));
  EXPECT_EQ(GetErrorCode(foreign), ErrorCode::kUnknown);

  absl::Status renamed = WithMessage(io, "another text");
  EXPECT_EQ(renamed.message(), "another text");
  EXPECT_EQ(renamed.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(GetErrno(renamed), EIO);
  EXPECT_TRUE(WithMessage(absl::OkStatus(), "text").ok());
}

// Persistence failures: the canonical code says what the application must do (EIO: the data is gone; ENOSPC /
// EDQUOT: make room), not absl's generic mapping (EIO would be kUnavailable, i.e. "retry", which is wrong).
TEST(ErrorsTest, WriteBackErrnosHaveMeaningfulCodes) {
  EXPECT_EQ(MakeErrnoError(EIO, "msync").code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(MakeErrnoError(ENOSPC, "msync").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(MakeErrnoError(EDQUOT, "msync").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(GetErrno(MakeErrnoError(EIO, "msync")), EIO);
  EXPECT_EQ(ToLibpmem2ReturnValue(MakeErrnoError(EIO, "msync")), -EIO);
}

TEST(ErrorsTest, Pmem2AdditionsAreEinvalForLibpmem2Callers) {
  for (ErrorCode code :
       {ErrorCode::kInvalidForcedGranularity, ErrorCode::kInvalidEnvironment, ErrorCode::kInvalidMemFlags}) {
    absl::Status s = MakeError(code, "x");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << ErrorCodeName(code);
    EXPECT_EQ(ToLibpmem2ReturnValue(s), -EINVAL) << ErrorCodeName(code);
  }
  EXPECT_EQ(ErrorCodeName(ErrorCode::kInvalidEnvironment), "PMEM2_E_INVALID_ENVIRONMENT");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kInvalidMemFlags), "PMEM2_E_INVALID_MEM_FLAGS");
}

TEST(ErrorsTest, ForeignAndOkStatuses) {
  EXPECT_EQ(GetErrorCode(absl::OkStatus()), ErrorCode::kOk);
  EXPECT_EQ(ToLibpmem2ReturnValue(absl::OkStatus()), 0);
  EXPECT_EQ(GetErrorCode(absl::InternalError("x")), ErrorCode::kUnknown);
  EXPECT_EQ(ToLibpmem2ReturnValue(absl::InternalError("x")), PMEM2_E_UNKNOWN);
}

// A failure stays a failure whatever errno value it was given: 0 made an OK status (absl drops payloads there),
// -5 a C return value of +5, and MakeError(kErrno, ...) a C return value of 0 (success), before this was fixed.
TEST(ErrorsTest, AnErrnoErrorWithoutAnErrorNumberIsStillAFailure) {
  for (int not_an_errno : {0, -5}) {
    const absl::Status status = MakeErrnoError(not_an_errno, "x");
    EXPECT_FALSE(status.ok()) << not_an_errno;
    EXPECT_EQ(GetErrno(status), EIO) << not_an_errno;
    EXPECT_EQ(ToLibpmem2ReturnValue(status), -EIO) << not_an_errno;
    EXPECT_NE(status.message().find("not an error number"), absl::string_view::npos) << status;
  }
  EXPECT_EQ(ToLibpmem2ReturnValue(MakeError(ErrorCode::kErrno, "no errno attached")), PMEM2_E_UNKNOWN);
}

// pmem2::kMem* and the function types are libpmem2's (persist_fns.h).
static_assert(kMemNoDrain == PMEM2_F_MEM_NODRAIN && kMemNonTemporal == PMEM2_F_MEM_NONTEMPORAL &&
                  kMemTemporal == PMEM2_F_MEM_TEMPORAL && kMemWc == PMEM2_F_MEM_WC && kMemWb == PMEM2_F_MEM_WB &&
                  kMemNoFlush == PMEM2_F_MEM_NOFLUSH,
              "the memcpy flags are libpmem2's");
static_assert(std::is_same_v<PersistFn, pmem2_persist_fn> && std::is_same_v<FlushFn, pmem2_flush_fn> &&
                  std::is_same_v<DrainFn, pmem2_drain_fn> && std::is_same_v<MemmoveFn, pmem2_memmove_fn> &&
                  std::is_same_v<MemcpyFn, pmem2_memcpy_fn> && std::is_same_v<MemsetFn, pmem2_memset_fn>,
              "the function types are libpmem2's");

TEST(ErrorsTest, EveryCodeHasAStableName) {
  EXPECT_EQ(ErrorCodeName(ErrorCode::kMapRange), "PMEM2_E_MAP_RANGE");
  EXPECT_EQ(ErrorCodeName(ErrorCode::kErrno), "PMEM2_E_ERRNO");
  EXPECT_EQ(ErrorCodeName(static_cast<ErrorCode>(12345)), "PMEM2_E_UNRECOGNIZED");
}

}  // namespace
}  // namespace pmem2
