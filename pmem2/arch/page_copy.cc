// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/page_copy.h"

#include "absl/strings/str_cat.h"
#include "pmem2/persist_fns.h"

namespace pmem2 {
namespace arch {

unsigned PageCopyFlagsFor(size_t len, unsigned flags, bool threshold_from_environment, size_t nt_threshold) {
  if (len >= nt_threshold && (flags & (kMemTemporal | kMemWb)) == 0 && !threshold_from_environment) {
    flags |= kMemNonTemporal;
  }
  return flags | kMemNoDrain;
}

bool PageCopyUsesStringsFor(size_t len, unsigned page_flags, bool threshold_from_environment, size_t string_from,
                            size_t string_below) {
  return string_from != 0 && !threshold_from_environment && (page_flags & (kMemNonTemporal | kMemWc)) == 0 &&
         len >= string_from && len < string_below;
}

namespace {

std::string Size(size_t n) {
  return n % 1024 == 0 && n != 0 ? absl::StrCat(n >> 10, " KiB") : absl::StrCat(n, " B");
}

}  // namespace

std::string PageCopyNameFor(const std::string& byte_kernel_name, const EnvOverrides& overrides,
                            size_t nt_threshold, size_t ahead_nt_threshold, size_t far_nt_threshold,
                            size_t string_from, size_t string_below) {
  if (overrides.has_movnt_threshold) return byte_kernel_name;
  const std::string strings =
      string_from != 0 ? absl::StrCat(", string instructions for ", Size(string_from), " to ", Size(string_below))
                       : "";
  const size_t nt = byte_kernel_name.find(" nt >= ");
  if (overrides.no_movnt || nt == std::string::npos) return absl::StrCat(byte_kernel_name, strings);
  std::string name = absl::StrCat(byte_kernel_name.substr(0, nt), " nt >= ", Size(nt_threshold));
  if (far_nt_threshold != 0) {
    absl::StrAppend(&name, " on a rewrite, ", Size(ahead_nt_threshold), " after the thread's last page copy, ",
                    Size(far_nt_threshold), " far from it");
  }
  absl::StrAppend(&name, strings);
  return name;
}

}  // namespace arch
}  // namespace pmem2
