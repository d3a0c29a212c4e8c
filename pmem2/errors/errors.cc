// Copyright 2026 The pmem2 Authors.

#include "pmem2/errors/errors.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/types/optional.h"

namespace pmem2 {
namespace {

constexpr absl::string_view kCodePayload = "type.pmem2/pmem2.ErrorCode";
constexpr absl::string_view kErrnoPayload = "type.pmem2/pmem2.Errno";

absl::optional<int> IntPayload(const absl::Status& status, absl::string_view url) {
  absl::optional<absl::Cord> payload = status.GetPayload(url);
  int value = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &value)) return absl::nullopt;
  return value;
}

}  // namespace

absl::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return "PMEM2_OK";
    case ErrorCode::kUnknown: return "PMEM2_E_UNKNOWN";
    case ErrorCode::kNoSupp: return "PMEM2_E_NOSUPP";
    case ErrorCode::kInvalidFileHandle: return "PMEM2_E_INVALID_FILE_HANDLE";
    case ErrorCode::kInvalidFileType: return "PMEM2_E_INVALID_FILE_TYPE";
    case ErrorCode::kMapRange: return "PMEM2_E_MAP_RANGE";
    case ErrorCode::kGranularityNotSet: return "PMEM2_E_GRANULARITY_NOT_SET";
    case ErrorCode::kGranularityNotSupported: return "PMEM2_E_GRANULARITY_NOT_SUPPORTED";
    case ErrorCode::kOffsetOutOfRange: return "PMEM2_E_OFFSET_OUT_OF_RANGE";
    case ErrorCode::kOffsetUnaligned: return "PMEM2_E_OFFSET_UNALIGNED";
    case ErrorCode::kInvalidAlignmentFormat: return "PMEM2_E_INVALID_ALIGNMENT_FORMAT";
    case ErrorCode::kInvalidAlignmentValue: return "PMEM2_E_INVALID_ALIGNMENT_VALUE";
    case ErrorCode::kInvalidSizeFormat: return "PMEM2_E_INVALID_SIZE_FORMAT";
    case ErrorCode::kLengthUnaligned: return "PMEM2_E_LENGTH_UNALIGNED";
    case ErrorCode::kSourceEmpty: return "PMEM2_E_SOURCE_EMPTY";
    case ErrorCode::kInvalidSharingValue: return "PMEM2_E_INVALID_SHARING_VALUE";
    case ErrorCode::kSrcDevdaxPrivate: return "PMEM2_E_SRC_DEVDAX_PRIVATE";
    case ErrorCode::kInvalidProtFlag: return "PMEM2_E_INVALID_PROT_FLAG";
    case ErrorCode::kNoAccess: return "PMEM2_E_NO_ACCESS";
    case ErrorCode::kIoFail: return "PMEM2_E_IO_FAIL";
    case ErrorCode::kFileHandleNotSet: return "PMEM2_E_FILE_HANDLE_NOT_SET";
    case ErrorCode::kMappingExists: return "PMEM2_E_MAPPING_EXISTS";
    case ErrorCode::kMappingNotFound: return "PMEM2_E_MAPPING_NOT_FOUND";
    case ErrorCode::kBufferTooSmall: return "PMEM2_E_BUFFER_TOO_SMALL";
    case ErrorCode::kInvalidAddressRequestType: return "PMEM2_E_INVALID_ADDRESS_REQUEST_TYPE";
    case ErrorCode::kAddressUnaligned: return "PMEM2_E_ADDRESS_UNALIGNED";
    case ErrorCode::kAddressNull: return "PMEM2_E_ADDRESS_NULL";
    case ErrorCode::kDeepFlushRange: return "PMEM2_E_DEEP_FLUSH_RANGE";
    case ErrorCode::kInvalidRegionFormat: return "PMEM2_E_INVALID_REGION_FORMAT";
    case ErrorCode::kDaxRegionNotFound: return "PMEM2_E_DAX_REGION_NOT_FOUND";
    case ErrorCode::kInvalidDevFormat: return "PMEM2_E_INVALID_DEV_FORMAT";
    case ErrorCode::kCannotReadBounds: return "PMEM2_E_CANNOT_READ_BOUNDS";
    case ErrorCode::kNoBadBlockFound: return "PMEM2_E_NO_BAD_BLOCK_FOUND";
    case ErrorCode::kLengthOutOfRange: return "PMEM2_E_LENGTH_OUT_OF_RANGE";
    case ErrorCode::kVmReservationNotEmpty: return "PMEM2_E_VM_RESERVATION_NOT_EMPTY";
    case ErrorCode::kMapExists: return "PMEM2_E_MAP_EXISTS";
    case ErrorCode::kFileDescriptorNotSet: return "PMEM2_E_FILE_DESCRIPTOR_NOT_SET";
    case ErrorCode::kSourceTypeNotSupported: return "PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED";
    case ErrorCode::kErrno: return "PMEM2_E_ERRNO";
    case ErrorCode::kInvalidForcedGranularity: return "PMEM2_E_INVALID_FORCED_GRANULARITY";
    case ErrorCode::kInvalidEnvironment: return "PMEM2_E_INVALID_ENVIRONMENT";
    case ErrorCode::kInvalidMemFlags: return "PMEM2_E_INVALID_MEM_FLAGS";
  }
  return "PMEM2_E_UNRECOGNIZED";
}

absl::StatusCode CanonicalCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk: return absl::StatusCode::kOk;
    case ErrorCode::kMapRange:
    case ErrorCode::kOffsetOutOfRange: return absl::StatusCode::kOutOfRange;
    case ErrorCode::kNoAccess: return absl::StatusCode::kPermissionDenied;
    case ErrorCode::kMappingExists:
    case ErrorCode::kMapExists: return absl::StatusCode::kAlreadyExists;
    case ErrorCode::kMappingNotFound:
    case ErrorCode::kDaxRegionNotFound:
    case ErrorCode::kNoBadBlockFound: return absl::StatusCode::kNotFound;
    case ErrorCode::kVmReservationNotEmpty: return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kLengthOutOfRange:
    case ErrorCode::kDeepFlushRange: return absl::StatusCode::kOutOfRange;
    case ErrorCode::kSourceTypeNotSupported: return absl::StatusCode::kUnimplemented;
    case ErrorCode::kInvalidRegionFormat:
    case ErrorCode::kInvalidDevFormat:
    case ErrorCode::kCannotReadBounds: return absl::StatusCode::kInternal;
    case ErrorCode::kGranularityNotSupported:
    case ErrorCode::kSourceEmpty:
    case ErrorCode::kSrcDevdaxPrivate: return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::kNoSupp: return absl::StatusCode::kUnimplemented;
    case ErrorCode::kIoFail: return absl::StatusCode::kDataLoss;
    case ErrorCode::kInvalidAlignmentFormat:
    case ErrorCode::kInvalidAlignmentValue:
    case ErrorCode::kInvalidSizeFormat: return absl::StatusCode::kInternal;
    case ErrorCode::kUnknown: return absl::StatusCode::kUnknown;
    case ErrorCode::kErrno: return absl::StatusCode::kUnknown;  // MakeErrnoError picks from errno.
    default: return absl::StatusCode::kInvalidArgument;
  }
}

absl::Status MakeError(ErrorCode code, absl::string_view message) {
  absl::Status status(CanonicalCode(code), message);
  status.SetPayload(kCodePayload, absl::Cord(absl::StrCat(static_cast<int>(code))));
  return status;
}

absl::Status WithMessage(const absl::Status& status, absl::string_view message) {
  if (status.ok()) return status;
  absl::Status replaced(status.code(), message);
  status.ForEachPayload(
      [&replaced](absl::string_view type_url, const absl::Cord& payload) { replaced.SetPayload(type_url, payload); });
  return replaced;
}

absl::Status WithMessagePrefix(absl::string_view prefix, const absl::Status& status) {
  if (absl::StartsWith(status.message(), absl::StrCat(prefix, ": "))) return status;
  return WithMessage(status, absl::StrCat(prefix, ": ", status.message()));
}

absl::Status MakeErrnoError(int errno_value, absl::string_view message) {
  if (errno_value <= 0) {
    // Not an errno: a failure all the same (an OK status would report success; a negative one a positive return
    // value to C callers). EIO, with what was given in the message.
    return MakeErrnoError(EIO, absl::StrCat(message, " (errno value ", errno_value, ", not an error number)"));
  }
  absl::Status status(errno_value == EIO ? absl::StatusCode::kDataLoss : absl::ErrnoToStatusCode(errno_value),
                      absl::StrCat(message, ": ", std::strerror(errno_value)));
  status.SetPayload(kCodePayload, absl::Cord(absl::StrCat(static_cast<int>(ErrorCode::kErrno))));
  status.SetPayload(kErrnoPayload, absl::Cord(absl::StrCat(errno_value)));
  return status;
}

ErrorCode GetErrorCode(const absl::Status& status) {
  if (status.ok()) return ErrorCode::kOk;
  absl::optional<int> code = IntPayload(status, kCodePayload);
  return code.has_value() ? static_cast<ErrorCode>(*code) : ErrorCode::kUnknown;
}

int GetErrno(const absl::Status& status) {
  return IntPayload(status, kErrnoPayload).value_or(0);
}

int ToLibpmem2ReturnValue(const absl::Status& status) {
  ErrorCode code = GetErrorCode(status);
  switch (code) {
    case ErrorCode::kOk: return 0;
    case ErrorCode::kErrno: {
      // A kErrno status without a positive errno (MakeError(kErrno, ...)) must still be a failure to C callers.
      const int error_number = GetErrno(status);
      return error_number > 0 ? -error_number : static_cast<int>(ErrorCode::kUnknown);
    }
    case ErrorCode::kInvalidForcedGranularity:
    case ErrorCode::kInvalidEnvironment:
    case ErrorCode::kInvalidMemFlags: return -EINVAL;
    default: return static_cast<int>(code);
  }
}

}  // namespace pmem2
