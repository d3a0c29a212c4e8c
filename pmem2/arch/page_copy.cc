// Copyright 2026 The pmem2 Authors.

#include "pmem2/arch/page_copy.h"

#include "absl/strings/str_cat.h"
#include "pmem2/persist_fns.h"

namespace pmem2 {
namespace arch {

namespace {

std::string Size(size_t n) {
  if (n % (size_t{1} << 20) == 0 && n != 0) return absl::StrCat(n >> 20, " MiB");
  return n % 1024 == 0 && n != 0 ? absl::StrCat(n >> 10, " KiB") : absl::StrCat(n, " B");
}

}  // namespace

std::string PageCopyNameFor(const std::string& byte_kernel_name, bool threshold_from_environment, size_t nt_threshold,
                            size_t ahead_nt_threshold, size_t far_nt_threshold, size_t far_nt_below,
                            size_t far_from_below_nt_threshold, size_t string_from, const char* string_instruction) {
  const size_t nt = byte_kernel_name.find(" nt >= ");
  if (threshold_from_environment || nt == std::string::npos) return byte_kernel_name;
  // What the byte table's name says after its threshold (", 32-line batches >= 16 KiB") holds for page copies too.
  const size_t more = byte_kernel_name.find(", ", nt);
  const std::string after_threshold = more != std::string::npos ? byte_kernel_name.substr(more) : "";
  std::string name = absl::StrCat(byte_kernel_name.substr(0, nt), " nt >= ", Size(nt_threshold));
  const std::string strings =
      string_from != 0 ? absl::StrCat(" (", string_instruction, " from ", Size(string_from), ")") : "";
  if (far_nt_threshold == 0) {
    name += strings;
  } else {
    std::string far_bound;
    if (far_nt_below != 0) {
      far_bound = absl::StrCat(" (below ", Size(far_nt_below));
      if (far_from_below_nt_threshold != 0) absl::StrAppend(&far_bound, ", then ", Size(far_from_below_nt_threshold));
      far_bound += ")";
    }
    absl::StrAppend(&name, " on a rewrite", strings, ", ", Size(ahead_nt_threshold),
                    " after the thread's last page copy, ", Size(far_nt_threshold), far_bound, " far from it");
  }
  return name + after_threshold;
}

}  // namespace arch
}  // namespace pmem2
