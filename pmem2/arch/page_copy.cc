// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/page_copy.h"

#include "absl/strings/str_cat.h"
#include "pmem2/persist_fns.h"

namespace pmem2 {
namespace arch {

unsigned PageCopyFlagsFor(size_t len, unsigned flags, bool threshold_from_environment) {
  if (len >= kPageNtThreshold && (flags & (kMemTemporal | kMemWb)) == 0 && !threshold_from_environment) {
    flags |= kMemNonTemporal;
  }
  return flags | kMemNoDrain;
}

std::string PageCopyNameFor(const std::string& byte_kernel_name, const EnvOverrides& overrides) {
  const size_t nt = byte_kernel_name.find(" nt >= ");
  if (overrides.no_movnt || overrides.has_movnt_threshold || nt == std::string::npos) return byte_kernel_name;
  return absl::StrCat(byte_kernel_name.substr(0, nt), " nt >= ", kPageNtThreshold >> 10, " KiB");
}

}  // namespace arch
}  // namespace pmem2
