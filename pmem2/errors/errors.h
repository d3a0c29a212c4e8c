// Copyright 2026 The pmem2 Authors.
//
// pmem2/errors/errors.h
// -----------------------------------------------------------------------------
//
// Every pmem2 call that can fail returns an `absl::Status` (or `absl::StatusOr<T>`). The canonical code says
// what kind of failure it is (kInvalidArgument, kOutOfRange, kPermissionDenied, ...); the message names the
// offending value; and a payload carries the precise, stable `pmem2::ErrorCode`, whose numeric values are
// libpmem2's PMEM2_E_* constants, so the C ABI can return them unchanged. Failures that come straight from
// the operating system carry `ErrorCode::kErrno` and the errno value (`GetErrno()`), which the C ABI returns
// as `-errno`, as libpmem2 does. Except pmem2/uring's AsyncPersister, which libpmem2 has no counterpart of: its
// failures to persist carry kErrno and the errno (a Map's sticky error's own code, when it passes that on), but its
// argument and state errors (a moved-from engine, a queue depth out of range, an operation aborted behind a failed
// barrier) and the messages it prebuilt for want of memory have only their canonical code (kUnknown here).
//
// Example:
//
//   absl::StatusOr<pmem2::Map> map = pmem2::Map::Create(config, source);
//   if (pmem2::GetErrorCode(map.status()) == pmem2::ErrorCode::kGranularityNotSupported) {
//     // The file is on a page-cache file system: retry asking for page granularity.
//   }

#ifndef PMEM2_ERRORS_ERRORS_H_
#define PMEM2_ERRORS_ERRORS_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pmem2 {

// The precise reason for a failure. Values below zero are libpmem2's PMEM2_E_* values and never change; pmem2's
// own additions start at -200000.
enum class ErrorCode : int {
  kOk = 0,
  // Not a pmem2 status (an absl::Status made elsewhere, or one of the AsyncPersister's that carries only its
  // canonical code); also libpmem2's PMEM2_E_UNKNOWN.
  kUnknown = -100000,
  kNoSupp = -100001,
  kFileHandleNotSet = -100003,
  kInvalidFileHandle = -100004,
  kInvalidFileType = -100005,
  kMapRange = -100006,
  kMappingExists = -100007,
  kGranularityNotSet = -100008,
  kGranularityNotSupported = -100009,
  kOffsetOutOfRange = -100010,
  kOffsetUnaligned = -100011,
  kInvalidAlignmentFormat = -100012,
  kInvalidAlignmentValue = -100013,
  kInvalidSizeFormat = -100014,
  kLengthUnaligned = -100015,
  kMappingNotFound = -100016,
  kBufferTooSmall = -100017,
  kSourceEmpty = -100018,
  kInvalidSharingValue = -100019,
  kSrcDevdaxPrivate = -100020,
  kInvalidAddressRequestType = -100021,
  kAddressUnaligned = -100022,
  kAddressNull = -100023,
  kDeepFlushRange = -100024,
  kInvalidRegionFormat = -100025,
  kDaxRegionNotFound = -100026,
  kInvalidDevFormat = -100027,
  kCannotReadBounds = -100028,
  kNoBadBlockFound = -100029,
  kLengthOutOfRange = -100030,
  kInvalidProtFlag = -100031,
  kNoAccess = -100032,
  kVmReservationNotEmpty = -100033,
  kMapExists = -100034,
  kFileDescriptorNotSet = -100035,
  kSourceTypeNotSupported = -100036,
  kIoFail = -100037,
  // pmem2 additions.
  //
  // The operating system reported errno `GetErrno(status)`.
  kErrno = -200001,
  // PMEM2_FORCE_GRANULARITY holds a value that names no granularity. (libpmem2 ignores such a value, so a
  // test that believes it forced a granularity silently runs another one.)
  kInvalidForcedGranularity = -200002,
  // A PMEM_* variable that tunes the engine (PMEM_MOVNT_THRESHOLD, PMEM_NO_FLUSH, ...) holds a value it does
  // not take. (libpmem2 ignores such values, so a benchmark or test silently runs another configuration.)
  kInvalidEnvironment = -200003,
  // A memcpy/memmove/memset flag set with bits outside kMemValidFlags.
  kInvalidMemFlags = -200004,
};

// The stable name of `code`, e.g. "PMEM2_E_MAP_RANGE" or "PMEM2_E_ERRNO"; "PMEM2_E_UNRECOGNIZED" for a value
// outside the enum.
absl::string_view ErrorCodeName(ErrorCode code);

// The canonical absl code used for statuses carrying `code`.
absl::StatusCode CanonicalCode(ErrorCode code);

// Builds a status of CanonicalCode(code) with `message` and `code` attached.
absl::Status MakeError(ErrorCode code, absl::string_view message);

// Builds a status for a failed system call: the canonical code follows errno (absl::ErrnoToStatusCode, except
// that EIO is kDataLoss: a failed write-back has lost data), the message is "`message`: <strerror>", the error
// code is kErrno and GetErrno() returns `errno_value`. ENOSPC and EDQUOT are kResourceExhausted. An `errno_value`
// that is no error number (0 or negative) gives EIO, naming it in the message: never an OK status.
absl::Status MakeErrnoError(int errno_value, absl::string_view message);

// `status` with `message` instead of its own, its canonical code and payloads (the ErrorCode, the errno) as they
// were, so GetErrorCode() and GetErrno() still answer. An OK status stays OK (and has no message).
absl::Status WithMessage(const absl::Status& status, absl::string_view message);

// WithMessage() with "`prefix`: " in front of the message: for callers that name what failed (a path, a device).
// A status whose message already starts with "`prefix`: " is returned as it is.
absl::Status WithMessagePrefix(absl::string_view prefix, const absl::Status& status);

// kOk for an OK status; the attached code for pmem2 statuses; kUnknown for any other status.
ErrorCode GetErrorCode(const absl::Status& status);

// The errno attached by MakeErrnoError(), or 0.
int GetErrno(const absl::Status& status);

// What libpmem2 would return for `status`: 0, a PMEM2_E_* value, or -errno.
int ToLibpmem2ReturnValue(const absl::Status& status);

}  // namespace pmem2

#endif  // PMEM2_ERRORS_ERRORS_H_
