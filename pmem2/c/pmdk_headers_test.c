/* Copyright 2026 The pmem2 Authors.
 *
 * Our libpmem2.h and libpmem.h define PMDK's include guards: a translation unit that reaches PMDK's headers too
 * (through a third-party header, say) compiles, with ours. This file is the test: without the guards it does not
 * compile (each enum and struct defined twice). PMDK's headers come from Debian's libpmem2-dev and libpmem-dev. */

#include "libpmem2.h"
#include "libpmem.h"

#include "/usr/include/libpmem2.h"
#include "/usr/include/libpmem.h"

int main(void) {
  enum pmem2_granularity granularity = PMEM2_GRANULARITY_CACHE_LINE;
  struct pmem2_badblock bad_block = {0, 0};
  return granularity == PMEM2_GRANULARITY_CACHE_LINE && bad_block.length == 0 && PMEM_FILE_CREATE != 0 ? 0 : 1;
}
