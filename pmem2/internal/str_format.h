// Copyright 2026 The pmem2 Authors.
//
// pmem2/internal/str_format.h (internal to pmem2)
// -----------------------------------------------------------------------------
//
// absl::StrFormat for the library's messages, safe when memory runs out. absl::StrFormat writes its output into
// the result from a destructor (its sink's, which flushes a buffer), so a std::bad_alloc there cannot leave it:
// the program terminates. The C entry points turn std::bad_alloc into -ENOMEM (pmem2/c/handles.h), which a message
// built with absl::StrFormat would defeat. StrFormat here formats with absl::SNPrintF into a buffer on the stack
// (no allocation, no sink), then makes the string, whose allocation throws in the open; a longer output is
// formatted again, into a string of its size.

#ifndef PMEM2_INTERNAL_STR_FORMAT_H_
#define PMEM2_INTERNAL_STR_FORMAT_H_

#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace pmem2 {
namespace internal {

template <typename... Args>
std::string StrFormat(const absl::FormatSpec<Args...>& format, const Args&... args) {
  char buffer[256];
  const int length = absl::SNPrintF(buffer, sizeof buffer, format, args...);
  if (length < 0) return std::string();  // absl's formats do not fail for their checked arguments
  if (static_cast<size_t>(length) < sizeof buffer) return std::string(buffer, static_cast<size_t>(length));
  std::string out(static_cast<size_t>(length) + 1, '\0');
  absl::SNPrintF(&out[0], out.size(), format, args...);
  out.resize(static_cast<size_t>(length));
  return out;
}

// absl::StrAppendFormat, as safe.
template <typename... Args>
std::string& StrAppendFormat(std::string* dst, const absl::FormatSpec<Args...>& format, const Args&... args) {
  absl::StrAppend(dst, internal::StrFormat(format, args...));  // qualified: ADL would find absl::StrFormat too
  return *dst;
}

}  // namespace internal
}  // namespace pmem2

#endif  // PMEM2_INTERNAL_STR_FORMAT_H_
