// Copyright 2026 The pmem2 Authors.
//
// Test-only (libpmem_secure_env_test): maps the file named by its argument with pmem_map_file (2 MiB, created), under
// whatever environment it was started with, and prints "AT_SECURE address is_pmem": whether the kernel ran it as a
// secure program (set-user-ID, set-group-ID), where the mapping went and what pmem_map_file said of it.
// PMEM_LOG_LEVEL=3 logs the call, to PMEM_LOG_FILE.

#include <stdio.h>
#include <sys/auxv.h>

#include "pmem2/c/libpmem.h"

// LeakSanitizer (the asan-ubsan build) cannot stop the threads of a program that is not dumpable, as a set-group-ID
// one is, and fails its exit: off (a secure program's environment may not be read for it).
extern "C" const char* __lsan_default_options() { return "detect_leaks=0"; }

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  size_t length = 0;
  int is_pmem = 0;
  void* address = pmem_map_file(argv[1], 2 << 20, PMEM_FILE_CREATE, 0600, &length, &is_pmem);
  if (address == nullptr) {
    fprintf(stderr, "pmem_map_file: %s\n", pmem_errormsg());
    return 3;
  }
  printf("%lu %p %d\n", getauxval(AT_SECURE), address, is_pmem);
  fflush(stdout);
  pmem_unmap(address, length);
  return 0;
}
