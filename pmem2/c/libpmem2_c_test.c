/*
 * Copyright 2026 The pmem2 Authors.
 *
 * libpmem2.h used from C99 as a libpmem2 program would: a file on tmpfs (/dev/shm) and anonymous memory, the
 * function getters, the errors and their messages, and the NULL arguments libpmem2 leaves undefined.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h> /* ours, through the target's `includes` */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PMEM2_C_LIBPMEM2_H_
#error "<libpmem2.h> resolved to another header than pmem2/c/libpmem2.h"
#endif

static int failures = 0;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s (errormsg: %s)\n", __FILE__, __LINE__, #cond, \
              pmem2_errormsg());                                                       \
      ++failures;                                                                      \
    }                                                                                  \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                             \
  do {                                                                                                 \
    long long a_ = (long long)(a), b_ = (long long)(b);                                                \
    if (a_ != b_) {                                                                                    \
      fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld (errormsg: %s)\n", __FILE__, __LINE__, #a, a_, \
              #b, b_, pmem2_errormsg());                                                               \
      ++failures;                                                                                      \
    }                                                                                                  \
  } while (0)

static const char *tmp_dir(void) {
  struct stat st;
  if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0) return "/dev/shm";
  return getenv("TEST_TMPDIR") != NULL ? getenv("TEST_TMPDIR") : "/tmp";
}

/* A regular file of `size` bytes, open read-write and already unlinked. */
static int make_file(size_t size) {
  char path[4096];
  int fd;
  snprintf(path, sizeof path, "%s/pmem2_c_test.XXXXXX", tmp_dir());
  fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void test_file_mapping(void) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  struct pmem2_config *cfg = NULL;
  struct pmem2_source *src = NULL;
  struct pmem2_map *map = NULL;
  size_t size = 0, alignment = 0;
  int fd = make_file(4 * page), got_fd = -1;
  char buf[16];
  char *base;
  CHECK(fd >= 0);

  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK(cfg != NULL);
  CHECK_EQ_INT(pmem2_source_from_fd(&src, fd), 0);
  CHECK_EQ_INT(pmem2_source_size(src, &size), 0);
  CHECK_EQ_INT(size, 4 * page);
  CHECK_EQ_INT(pmem2_source_alignment(src, &alignment), 0);
  CHECK_EQ_INT(alignment, page);
  CHECK_EQ_INT(pmem2_source_get_fd(src, &got_fd), 0);
  CHECK_EQ_INT(got_fd, fd);

  /* No granularity yet. */
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), PMEM2_E_GRANULARITY_NOT_SET);
  CHECK(map == NULL);
  CHECK(strlen(pmem2_errormsg()) > 0);

  /* tmpfs is a page-cache file system: byte and cache line cannot be honoured. */
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_CACHE_LINE), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), PMEM2_E_GRANULARITY_NOT_SUPPORTED);
  CHECK(map == NULL);

  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE), 0);
  CHECK_EQ_INT(pmem2_config_set_offset(cfg, page), 0);
  CHECK_EQ_INT(pmem2_config_set_length(cfg, 2 * page), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), 0);
  CHECK(map != NULL);
  if (map != NULL) {
    CHECK_EQ_INT(pmem2_map_get_size(map), 2 * page);
    CHECK_EQ_INT(pmem2_map_get_store_granularity(map), PMEM2_GRANULARITY_PAGE);
    base = (char *)pmem2_map_get_address(map);
    CHECK(base != NULL && (uintptr_t)base % page == 0);

    CHECK(pmem2_get_memcpy_fn(map)(base, "hello", 5, 0) == base);
    CHECK(pmem2_get_memmove_fn(map)(base + 5, base, 5, PMEM2_F_MEM_NODRAIN) == base + 5);
    CHECK(pmem2_get_memset_fn(map)(base + page, 'x', 3, PMEM2_F_MEM_NONTEMPORAL) == base + page);
    pmem2_get_drain_fn(map)();
    base[10] = '!';
    pmem2_get_persist_fn(map)(base + 10, 1);
    pmem2_get_flush_fn(map)(base, page);
    pmem2_get_drain_fn(map)();
    CHECK_EQ_INT(pmem2_map_get_persist_error(map), 0);
    CHECK_EQ_INT(pmem2_map_clear_persist_error(map), 0);
    CHECK_EQ_INT(pmem2_map_get_persist_failure_mark(map), 0);
    CHECK_EQ_INT(pmem2_map_get_persist_error_since(map, pmem2_map_get_persist_failure_mark(map)), 0);
    CHECK_EQ_INT(pmem2_map_get_persist_error_since(map, pmem2_map_get_persist_failure_mark(map) + 1), -EINVAL);

    /* The offset selected the file's second page. */
    CHECK_EQ_INT(pread(fd, buf, 11, (off_t)page), 11);
    CHECK(memcmp(buf, "hellohello!", 11) == 0);
    CHECK_EQ_INT(pread(fd, buf, 3, (off_t)(2 * page)), 3);
    CHECK(memcmp(buf, "xxx", 3) == 0);

    CHECK_EQ_INT(pmem2_map_delete(&map), 0);
    CHECK(map == NULL);
  }

  /* Range and alignment errors. */
  CHECK_EQ_INT(pmem2_config_set_offset(cfg, 1), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), PMEM2_E_OFFSET_UNALIGNED);
  CHECK_EQ_INT(pmem2_config_set_offset(cfg, 0), 0);
  CHECK_EQ_INT(pmem2_config_set_length(cfg, 8 * page), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), PMEM2_E_MAP_RANGE);
  CHECK_EQ_INT(pmem2_config_set_length(cfg, 100), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), PMEM2_E_LENGTH_UNALIGNED);

  CHECK_EQ_INT(pmem2_source_delete(&src), 0);
  CHECK(src == NULL);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0); /* NULL *src: nothing */
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
  CHECK(cfg == NULL);
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
  close(fd);
}

static void test_anonymous_mapping(void) {
  struct pmem2_config *cfg = NULL;
  struct pmem2_source *src = NULL;
  struct pmem2_map *map = NULL;
  size_t size = 0;
  int fd = 12345;
  char *base;
  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_BYTE), 0);

  CHECK_EQ_INT(pmem2_source_from_anon(&src, 0), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), PMEM2_E_SOURCE_EMPTY);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0);

  CHECK_EQ_INT(pmem2_source_from_anon(&src, 1 << 20), 0);
  CHECK_EQ_INT(pmem2_source_size(src, &size), 0);
  CHECK_EQ_INT(size, 1 << 20);
  CHECK_EQ_INT(pmem2_source_get_fd(src, &fd), PMEM2_E_FILE_DESCRIPTOR_NOT_SET);
  CHECK_EQ_INT(fd, 12345);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), 0);
  if (map != NULL) {
    /* Anonymous memory needs no flush: byte granularity, even though byte was required. */
    CHECK_EQ_INT(pmem2_map_get_store_granularity(map), PMEM2_GRANULARITY_BYTE);
    CHECK_EQ_INT(pmem2_map_get_size(map), 1 << 20);
    base = (char *)pmem2_map_get_address(map);
    CHECK(base[0] == 0 && base[(1 << 20) - 1] == 0);
    pmem2_get_memset_fn(map)(base, 0x5a, 1 << 20, 0);
    CHECK(base[(1 << 20) - 1] == 0x5a);
    CHECK_EQ_INT(pmem2_map_get_persist_error(map), 0);
    CHECK_EQ_INT(pmem2_map_delete(&map), 0);
  }
  CHECK_EQ_INT(pmem2_source_delete(&src), 0);
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
}

static void test_setters_validate_raw_values(void) {
  struct pmem2_config *cfg = NULL;
  struct pmem2_source *src = NULL;
  struct pmem2_map *map = NULL;
  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, (enum pmem2_granularity)3),
               PMEM2_E_GRANULARITY_NOT_SUPPORTED);
  CHECK(strstr(pmem2_errormsg(), "3") != NULL);
  CHECK_EQ_INT(pmem2_config_set_offset(cfg, (size_t)INT64_MAX + 1), PMEM2_E_OFFSET_OUT_OF_RANGE);
  CHECK_EQ_INT(pmem2_config_set_sharing(cfg, (enum pmem2_sharing_type)2), PMEM2_E_INVALID_SHARING_VALUE);
  CHECK_EQ_INT(pmem2_config_set_protection(cfg, PMEM2_PROT_READ | 1u), PMEM2_E_INVALID_PROT_FLAG);
  CHECK(strstr(pmem2_errormsg(), "bits 0x1 ") != NULL); /* names the stray bits */
  /* The refused values left the config as it was: granularity still unset. */
  CHECK_EQ_INT(pmem2_source_from_anon(&src, 4096), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), PMEM2_E_GRANULARITY_NOT_SET);
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), 0); /* offset 0, shared, read | write */
  CHECK_EQ_INT(pmem2_map_delete(&map), 0);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0);
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
}

/* A failing constructor sets its out-pointer to NULL, as libpmem2's do, so that PMDK-style cleanup (one label
 * that deletes everything) deletes nothing instead of whatever the variable held before. */
static void test_bad_sources(void) {
  char garbage[8];
  struct pmem2_source *src = (struct pmem2_source *)garbage;
  struct pmem2_vm_reservation *rsv = (struct pmem2_vm_reservation *)garbage;
  int fd;
  CHECK_EQ_INT(pmem2_source_from_fd(&src, -1), PMEM2_E_INVALID_FILE_HANDLE);
  CHECK(src == NULL);
  src = (struct pmem2_source *)garbage;
  fd = open(tmp_dir(), O_RDONLY);
  CHECK_EQ_INT(pmem2_source_from_fd(&src, fd), PMEM2_E_INVALID_FILE_TYPE);
  CHECK(src == NULL);
  close(fd);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0); /* the cleanup path: a no-op */
  CHECK_EQ_INT(pmem2_vm_reservation_new(&rsv, (void *)1, 4096), PMEM2_E_ADDRESS_UNALIGNED);
  CHECK(rsv == NULL);
}

/* A handle deleted through one variable and then through a copy of it: the second delete is refused with
 * PMEM2_E_MAPPING_NOT_FOUND, naming the handle, as libpmem2 does (not a double free). */
static void test_stale_handles(void) {
  struct pmem2_config *cfg = NULL;
  struct pmem2_source *src = NULL;
  struct pmem2_map *map = NULL, *copy = NULL;
  char handle[64];
  char *mapping;
  int fd;
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE), 0);
  CHECK_EQ_INT(pmem2_source_from_anon(&src, 1 << 20), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), 0);
  copy = map;
  snprintf(handle, sizeof handle, "%p", (void *)copy);
  CHECK_EQ_INT(pmem2_map_delete(&map), 0);
  CHECK_EQ_INT(pmem2_map_delete(&copy), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK(strstr(pmem2_errormsg(), handle) != NULL);
  CHECK(copy != NULL); /* left as it was: nothing was deleted */
  CHECK_EQ_INT(pmem2_map_delete(&copy), PMEM2_E_MAPPING_NOT_FOUND); /* and again */

  /* The same for an adopted mapping; the mapping itself stays the caller's. */
  fd = make_file(page);
  CHECK(fd >= 0);
  mapping = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(mapping != MAP_FAILED);
  if (mapping != MAP_FAILED) {
    CHECK_EQ_INT(pmem2_map_from_existing(&map, src, mapping, page, PMEM2_GRANULARITY_PAGE), 0);
    copy = map;
    CHECK_EQ_INT(pmem2_map_delete(&map), 0);
    CHECK_EQ_INT(pmem2_map_delete(&copy), PMEM2_E_MAPPING_NOT_FOUND);
    mapping[0] = 1;
    CHECK_EQ_INT(munmap(mapping, page), 0);
  }
  if (fd >= 0) close(fd);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0);
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
}

/* Stale copies of sources, configs and reservations, which libpmem2 frees twice or reads after free, are refused
 * with -EINVAL naming the handle, and so is a pointer that never was a handle; pmem2_map_new refuses a config whose
 * reservation was deleted since it was set; a stale map is PMEM2_E_MAPPING_NOT_FOUND where a call can say so, and its
 * getters answer as for a NULL map. No handle of a kind is made while a stale copy of that kind is tested: a new
 * one could take the freed address, and a stale copy equal to a live handle is that handle. */
static void test_stale_handles_of_every_kind(void) {
  struct pmem2_config *cfg = NULL, *cfg_copy;
  struct pmem2_source *src = NULL, *src_copy;
  struct pmem2_vm_reservation *rsv = NULL, *rsv_copy;
  struct pmem2_map *map = NULL, *map_copy;
  size_t size = 0;
  int fd = 0;
  char handle[64];
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE), 0);
  CHECK_EQ_INT(pmem2_source_from_anon(&src, 1 << 20), 0);

  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), 0);
  map_copy = map;
  CHECK_EQ_INT(pmem2_map_delete(&map), 0);
  CHECK(pmem2_map_get_address(map_copy) == NULL);
  CHECK_EQ_INT(pmem2_map_get_size(map_copy), 0);
  CHECK_EQ_INT(pmem2_map_get_store_granularity(map_copy), PMEM2_GRANULARITY_PAGE);
  CHECK(pmem2_get_persist_fn(map_copy) == pmem2_get_persist_fn(NULL));
  CHECK(pmem2_get_drain_fn(map_copy) == pmem2_get_drain_fn(NULL));
  CHECK(pmem2_get_memcpy_fn(map_copy) == pmem2_get_memcpy_fn(NULL));
  CHECK_EQ_INT(pmem2_map_get_persist_error(map_copy), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK_EQ_INT(pmem2_map_clear_persist_error(map_copy), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK_EQ_INT(pmem2_map_get_persist_failure_mark(map_copy), 0);
  CHECK_EQ_INT(pmem2_map_get_persist_error_since(map_copy, 0), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK_EQ_INT(pmem2_deep_flush(map_copy, NULL, 0), PMEM2_E_MAPPING_NOT_FOUND);

  CHECK_EQ_INT(pmem2_vm_reservation_new(&rsv, NULL, 4 << 20), 0);
  map = map_copy; /* not NULL: the stale handle's error must set it so, as the header says */
  CHECK_EQ_INT(pmem2_vm_reservation_map_find_next(rsv, map_copy, &map), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK(map == NULL);
  map = map_copy;
  CHECK_EQ_INT(pmem2_vm_reservation_map_find_prev(rsv, map_copy, &map), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK(map == NULL);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, rsv, 0), 0);
  rsv_copy = rsv;
  snprintf(handle, sizeof handle, "%p", (void *)rsv_copy);
  CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), 0);
  CHECK(rsv == NULL);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), -EINVAL); /* libpmem2 maps into the freed reservation */
  CHECK(map == NULL);
  CHECK(strstr(pmem2_errormsg(), handle) != NULL);
  CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv_copy), -EINVAL);
  CHECK(strstr(pmem2_errormsg(), "no live reservation") != NULL);
  CHECK(rsv_copy != NULL); /* left as it was: nothing was deleted */
  CHECK(pmem2_vm_reservation_get_address(rsv_copy) == NULL);
  CHECK_EQ_INT(pmem2_vm_reservation_get_size(rsv_copy), 0);
  CHECK_EQ_INT(pmem2_vm_reservation_extend(rsv_copy, page), -EINVAL);
  CHECK_EQ_INT(pmem2_vm_reservation_shrink(rsv_copy, 0, page), -EINVAL);
  CHECK_EQ_INT(pmem2_vm_reservation_map_find_first(rsv_copy, &map), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, rsv_copy, 0), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, NULL, 0), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), 0); /* without a reservation again */
  CHECK_EQ_INT(pmem2_map_delete(&map), 0);

  /* A new reservation at the deleted one's address (glibc hands the freed block back) is not the config's: its
   * address alone passed the check, and the map went into the new reservation. Made again until it has that address:
   * with another, the handle check alone refuses it, and the reservation's own check would go untested. Only
   * AddressSanitizer, which holds freed blocks back, never gives the address again: the plain build checks it. */
  CHECK_EQ_INT(pmem2_vm_reservation_new(&rsv, NULL, 4 << 20), 0);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, rsv, 2 * page), 0);
  rsv_copy = rsv;
  CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), 0);
  CHECK_EQ_INT(pmem2_vm_reservation_new(&rsv, NULL, 4 << 20), 0);
  {
    struct pmem2_vm_reservation *others[16];
    int n = 0;
    while (rsv != rsv_copy && n < 16) { /* kept until the end: each holds a block the allocator would give again */
      others[n++] = rsv;
      CHECK_EQ_INT(pmem2_vm_reservation_new(&rsv, NULL, 4 << 20), 0);
    }
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PMEM2_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(PMEM2_TEST_ASAN)
    if (rsv != rsv_copy) fprintf(stderr, "note: AddressSanitizer gave no reservation the deleted one's address\n");
#else
    CHECK(rsv == rsv_copy);
#endif
    while (n > 0) CHECK_EQ_INT(pmem2_vm_reservation_delete(&others[--n]), 0);
  }
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), -EINVAL);
  CHECK(map == NULL);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, rsv, 2 * page), 0);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src), 0); /* set again: this one */
  CHECK(pmem2_map_get_address(map) == (char *)pmem2_vm_reservation_get_address(rsv) + 2 * page);
  CHECK_EQ_INT(pmem2_map_delete(&map), 0);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, NULL, 0), 0);
  CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), 0);

  src_copy = src;
  snprintf(handle, sizeof handle, "%p", (void *)src_copy);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0);
  CHECK(src == NULL);
  CHECK_EQ_INT(pmem2_source_delete(&src_copy), -EINVAL);
  CHECK(strstr(pmem2_errormsg(), handle) != NULL);
  CHECK(strstr(pmem2_errormsg(), "no live source") != NULL);
  CHECK(src_copy != NULL);
  CHECK_EQ_INT(pmem2_source_size(src_copy, &size), -EINVAL);
  CHECK_EQ_INT(pmem2_source_get_fd(src_copy, &fd), -EINVAL);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, src_copy), -EINVAL);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0); /* NULL: as libpmem2, nothing to do */

  cfg_copy = cfg;
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_delete(&cfg_copy), -EINVAL);
  CHECK(strstr(pmem2_errormsg(), "no live config") != NULL);
  CHECK_EQ_INT(pmem2_config_set_length(cfg_copy, page), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_length((struct pmem2_config *)&size, page), -EINVAL); /* never a handle */
}

static void test_null_arguments(void) {
  struct pmem2_config *cfg = NULL;
  struct pmem2_source *src = NULL;
  struct pmem2_map *map = NULL;
  char buf[8] = "abcdefg";
  CHECK_EQ_INT(pmem2_config_new(NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_config_delete(NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(NULL, PMEM2_GRANULARITY_PAGE), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_offset(NULL, 0), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_length(NULL, 0), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_sharing(NULL, PMEM2_SHARED), -EINVAL);
  CHECK_EQ_INT(pmem2_config_set_protection(NULL, PMEM2_PROT_READ), -EINVAL);
  CHECK_EQ_INT(pmem2_source_from_fd(NULL, 0), -EINVAL);
  CHECK_EQ_INT(pmem2_source_from_anon(NULL, 4096), -EINVAL);
  CHECK_EQ_INT(pmem2_source_delete(NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_source_size(NULL, NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_source_alignment(NULL, NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_source_get_fd(NULL, NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_source_from_anon(&src, 4096), 0);
  CHECK_EQ_INT(pmem2_source_size(src, NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_source_alignment(src, NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  map = (struct pmem2_map *)buf; /* pmem2_map_new sets *map_ptr to NULL on failure */
  CHECK_EQ_INT(pmem2_map_new(&map, NULL, src), -EINVAL);
  CHECK(map == NULL);
  CHECK_EQ_INT(pmem2_map_new(&map, cfg, NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_map_new(NULL, cfg, src), -EINVAL);
  CHECK_EQ_INT(pmem2_map_delete(NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_map_delete(&map), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK(pmem2_map_get_address(NULL) == NULL);
  CHECK_EQ_INT(pmem2_map_get_size(NULL), 0);
  CHECK_EQ_INT(pmem2_map_get_store_granularity(NULL), PMEM2_GRANULARITY_PAGE);
  CHECK_EQ_INT(pmem2_map_get_persist_error(NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_map_clear_persist_error(NULL), -EINVAL);
  CHECK_EQ_INT(pmem2_map_get_persist_failure_mark(NULL), 0);
  CHECK_EQ_INT(pmem2_map_get_persist_error_since(NULL, 0), -EINVAL);
  CHECK_EQ_INT(pmem2_deep_flush(NULL, buf, 1), -EINVAL);
  CHECK_EQ_INT(pmem2_map_from_existing(NULL, src, buf, sizeof buf, PMEM2_GRANULARITY_PAGE), -EINVAL);
  map = (struct pmem2_map *)buf; /* set to NULL on failure */
  CHECK_EQ_INT(pmem2_map_from_existing(&map, NULL, buf, sizeof buf, PMEM2_GRANULARITY_PAGE), -EINVAL);
  CHECK(map == NULL);
  /* Reservations. */
  {
    struct pmem2_vm_reservation *rsv = NULL;
    struct pmem2_map *found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_new(NULL, NULL, 1 << 21), -EINVAL);
    CHECK_EQ_INT(pmem2_vm_reservation_delete(NULL), -EINVAL);
    CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), -EINVAL);
    CHECK_EQ_INT(pmem2_vm_reservation_extend(NULL, 4096), -EINVAL);
    CHECK_EQ_INT(pmem2_vm_reservation_shrink(NULL, 0, 4096), -EINVAL);
    CHECK(pmem2_vm_reservation_get_address(NULL) == NULL);
    CHECK(pmem2_vm_reservation_get_size(NULL) == 0);
    found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_map_find(NULL, 0, 4096, &found), -EINVAL);
    CHECK(found == NULL);
    found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_first(NULL, &found), -EINVAL);
    CHECK(found == NULL);
    found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_last(NULL, &found), -EINVAL);
    CHECK(found == NULL);
    found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_next(NULL, NULL, &found), -EINVAL);
    CHECK(found == NULL);
    found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_prev(NULL, NULL, &found), -EINVAL);
    CHECK(found == NULL);
    CHECK_EQ_INT(pmem2_config_set_vm_reservation(NULL, NULL, 0), -EINVAL);
    CHECK_EQ_INT(pmem2_vm_reservation_new(&rsv, NULL, 1 << 21), 0);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find(rsv, 0, 4096, NULL), -EINVAL);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_first(rsv, NULL), -EINVAL);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_last(rsv, NULL), -EINVAL);
    found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_next(rsv, NULL, &found), -EINVAL);
    CHECK(found == NULL);
    found = (struct pmem2_map *)buf;
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_prev(rsv, NULL, &found), -EINVAL);
    CHECK(found == NULL);
    CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), 0);
    CHECK(rsv == NULL);
  }
  /* The getters never return NULL; for a NULL map their functions work on any memory. */
  CHECK(pmem2_get_persist_fn(NULL) != NULL);
  CHECK(pmem2_get_flush_fn(NULL) != NULL);
  CHECK(pmem2_get_drain_fn(NULL) != NULL);
  CHECK(pmem2_get_memmove_fn(NULL) != NULL);
  CHECK(pmem2_get_memcpy_fn(NULL) != NULL);
  CHECK(pmem2_get_memset_fn(NULL) != NULL);
  CHECK(pmem2_get_memcpy_fn(NULL)(buf, "xyz", 3, 0) == buf);
  CHECK(memcmp(buf, "xyzdefg", 7) == 0);
  pmem2_get_persist_fn(NULL)(buf, sizeof buf);
  pmem2_get_drain_fn(NULL)();
  CHECK_EQ_INT(pmem2_source_delete(&src), 0);
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
}

/* What pmem2_perror(format, "log", 3) writes to stderr, in `out` (NUL-terminated); its length, or -1. */
static ssize_t perror_output(const char *format, char *out, size_t size) {
  int saved_stderr, pipe_fds[2];
  ssize_t n;
  if (pipe(pipe_fds) != 0) return -1;
  fflush(stderr);
  saved_stderr = dup(2);
  dup2(pipe_fds[1], 2);
  pmem2_perror(format, "log", 3);
  fflush(stderr);
  dup2(saved_stderr, 2);
  close(saved_stderr);
  close(pipe_fds[1]);
  n = read(pipe_fds[0], out, size - 1);
  close(pipe_fds[0]);
  if (n >= 0) out[n] = '\0';
  return n;
}

static void test_errormsg_and_perror(void) {
  struct pmem2_config *cfg = NULL;
  char out[512], line[512];
  ssize_t n;
  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_set_sharing(cfg, (enum pmem2_sharing_type)7), PMEM2_E_INVALID_SHARING_VALUE);
  CHECK(strstr(pmem2_errormsg(), "7") != NULL);
  /* A successful call leaves the message alone. */
  CHECK_EQ_INT(pmem2_config_set_length(cfg, 0), 0);
  CHECK(strstr(pmem2_errormsg(), "7") != NULL);

  n = perror_output("mapping %s #%d", out, sizeof out);
  CHECK(n > 0);
  if (n > 0) {
    CHECK(strncmp(out, "mapping log #3: ", 16) == 0);
    CHECK(strstr(out, pmem2_errormsg()) == out + 16);
    CHECK(out[n - 1] == '\n');
  }
  /* A NULL or empty format: the message alone, no ": " before it (libpmem2 1.12.1 prints ": message" for both). */
  snprintf(line, sizeof line, "%s\n", pmem2_errormsg());
  n = perror_output(NULL, out, sizeof out);
  CHECK(n > 0 && strcmp(out, line) == 0);
  n = perror_output("", out, sizeof out);
  CHECK(n > 0 && strcmp(out, line) == 0);
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
}

/* One thread's view of its pmem2_errormsg() in test_errormsg_is_per_thread. */
struct message_thread {
  pthread_barrier_t *barrier;
  int value;                /* the sharing value its failing call names */
  int fails_first;          /* 1: fails before the other thread does; 0: after */
  int failed;               /* the failing call returned PMEM2_E_INVALID_SHARING_VALUE */
  int succeeded;            /* the successful calls returned 0 */
  char at_start[1024];      /* its message before any call of its own, once the other thread has failed */
  char own[1024];           /* its message right after its failing call */
  char after_other[1024];   /* its message once both threads have failed */
  char after_success[1024]; /* ... and after a successful call of its own */
};

static void *message_thread_main(void *arg) {
  struct message_thread *t = (struct message_thread *)arg;
  struct pmem2_config *cfg = NULL;
  if (!t->fails_first) pthread_barrier_wait(t->barrier); /* the other thread has failed */
  snprintf(t->at_start, sizeof t->at_start, "%s", pmem2_errormsg());
  t->succeeded = pmem2_config_new(&cfg) == 0;
  t->failed = pmem2_config_set_sharing(cfg, (enum pmem2_sharing_type)t->value) == PMEM2_E_INVALID_SHARING_VALUE;
  snprintf(t->own, sizeof t->own, "%s", pmem2_errormsg());
  if (t->fails_first) pthread_barrier_wait(t->barrier); /* let the other thread fail */
  pthread_barrier_wait(t->barrier);                     /* both have failed */
  snprintf(t->after_other, sizeof t->after_other, "%s", pmem2_errormsg());
  t->succeeded = t->succeeded && pmem2_config_set_sharing(cfg, PMEM2_PRIVATE) == 0;
  snprintf(t->after_success, sizeof t->after_success, "%s", pmem2_errormsg());
  t->succeeded = t->succeeded && pmem2_config_delete(&cfg) == 0;
  return NULL;
}

/*
 * libpmem2.h, "Thread safety": pmem2_errormsg() is per thread; and its declaration: "The message of the last failure
 * in this thread (never cleared by a successful call; "" before any)". The main thread fails naming 5; thread A then
 * fails naming 7, thread B (started at once, but held back until A has failed) reads "" and fails naming 9, and
 * only then does A read its message again: each names its own value, and the main thread's is unchanged.
 */
static void test_errormsg_is_per_thread(void) {
  struct pmem2_config *cfg = NULL;
  pthread_barrier_t barrier;
  struct message_thread a, b;
  pthread_t ta, tb;
  char main_message[1024];
  const int failures_before = failures;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_set_sharing(cfg, (enum pmem2_sharing_type)5), PMEM2_E_INVALID_SHARING_VALUE);
  snprintf(main_message, sizeof main_message, "%s", pmem2_errormsg());
  CHECK(strstr(main_message, "5") != NULL);

  CHECK_EQ_INT(pthread_barrier_init(&barrier, NULL, 2), 0);
  a.barrier = b.barrier = &barrier;
  a.value = 7;
  a.fails_first = 1;
  b.value = 9;
  b.fails_first = 0;
  CHECK_EQ_INT(pthread_create(&ta, NULL, message_thread_main, &a), 0);
  CHECK_EQ_INT(pthread_create(&tb, NULL, message_thread_main, &b), 0);
  CHECK_EQ_INT(pthread_join(ta, NULL), 0);
  CHECK_EQ_INT(pthread_join(tb, NULL), 0);
  CHECK_EQ_INT(pthread_barrier_destroy(&barrier), 0);

  CHECK(a.failed && b.failed);
  CHECK(a.succeeded && b.succeeded);
  /* A new thread's message is "", even after the main thread's failure (and, for B, after A's). */
  CHECK(strcmp(a.at_start, "") == 0);
  CHECK(strcmp(b.at_start, "") == 0);
  /* Each failure names its own value ... */
  CHECK(strstr(a.own, "7") != NULL && strstr(a.own, "9") == NULL);
  CHECK(strstr(b.own, "9") != NULL && strstr(b.own, "7") == NULL);
  /* ... and the other thread's later failure leaves it alone, as does a successful call. */
  CHECK(strcmp(a.after_other, a.own) == 0);
  CHECK(strcmp(b.after_other, b.own) == 0);
  CHECK(strcmp(a.after_success, a.own) == 0);
  CHECK(strcmp(b.after_success, b.own) == 0);
  /* The main thread's message is still its own. */
  CHECK(strcmp(pmem2_errormsg(), main_message) == 0);
  if (failures != failures_before) {
    fprintf(stderr, "main: \"%s\", now \"%s\"\n", main_message, pmem2_errormsg());
    fprintf(stderr, "A: \"%s\" at start, \"%s\" after failing, \"%s\" after both failed, \"%s\" after a success\n",
            a.at_start, a.own, a.after_other, a.after_success);
    fprintf(stderr, "B: \"%s\" at start, \"%s\" after failing, \"%s\" after both failed, \"%s\" after a success\n",
            b.at_start, b.own, b.after_other, b.after_success);
  }
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
}

/* Two files mapped back to back into one reservation: one contiguous range of address space. */
static void test_reservation(void) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  struct pmem2_vm_reservation *rsv = NULL;
  struct pmem2_config *cfg = NULL;
  struct pmem2_source *src_a = NULL, *src_b = NULL;
  struct pmem2_map *a = NULL, *b = NULL, *found = NULL;
  int fd_a = make_file(2 * page), fd_b = make_file(3 * page);
  char *base;
  char buf[8];
  CHECK(fd_a >= 0 && fd_b >= 0);
  CHECK_EQ_INT(pmem2_source_from_fd(&src_a, fd_a), 0);
  CHECK_EQ_INT(pmem2_source_from_fd(&src_b, fd_b), 0);
  CHECK_EQ_INT(pmem2_vm_reservation_new(&rsv, NULL, 5 * page), 0);
  CHECK(rsv != NULL);
  if (rsv == NULL) return;
  base = (char *)pmem2_vm_reservation_get_address(rsv);
  CHECK(base != NULL && (uintptr_t)base % (2u << 20) == 0); /* aligned for huge pages */
  CHECK_EQ_INT(pmem2_vm_reservation_get_size(rsv), 5 * page);
  CHECK_EQ_INT(pmem2_vm_reservation_map_find_first(rsv, &found), PMEM2_E_MAPPING_NOT_FOUND);
  CHECK(found == NULL);

  CHECK_EQ_INT(pmem2_config_new(&cfg), 0);
  CHECK_EQ_INT(pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE), 0);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, rsv, 0), 0);
  CHECK_EQ_INT(pmem2_map_new(&a, cfg, src_a), 0);
  CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, rsv, 2 * page), 0);
  CHECK_EQ_INT(pmem2_map_new(&b, cfg, src_b), 0);
  /* A third map over b's range is refused. */
  {
    struct pmem2_map *c = NULL;
    CHECK_EQ_INT(pmem2_config_set_vm_reservation(cfg, rsv, 3 * page), 0);
    CHECK_EQ_INT(pmem2_map_new(&c, cfg, src_a), PMEM2_E_MAPPING_EXISTS);
    CHECK(c == NULL);
  }
  if (a != NULL && b != NULL) {
    CHECK(pmem2_map_get_address(a) == base);
    CHECK(pmem2_map_get_address(b) == base + 2 * page);
    /* One contiguous range: a store across the seam lands in both files. */
    pmem2_get_memcpy_fn(a)(base + 2 * page - 3, "abcdef", 6, PMEM2_F_MEM_NODRAIN);
    pmem2_get_persist_fn(a)(base + 2 * page - 3, 3);
    pmem2_get_persist_fn(b)(base + 2 * page, 3);
    CHECK_EQ_INT(pmem2_map_get_persist_error(a), 0);
    CHECK_EQ_INT(pmem2_map_get_persist_error(b), 0);
    CHECK_EQ_INT(pread(fd_a, buf, 3, (off_t)(2 * page - 3)), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK_EQ_INT(pread(fd_b, buf, 3, 0), 3);
    CHECK(memcmp(buf, "def", 3) == 0);

    CHECK_EQ_INT(pmem2_vm_reservation_map_find_first(rsv, &found), 0);
    CHECK(found == a);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_next(rsv, found, &found), 0);
    CHECK(found == b);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_next(rsv, b, &found), PMEM2_E_MAPPING_NOT_FOUND);
    CHECK(found == NULL);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_last(rsv, &found), 0);
    CHECK(found == b);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_prev(rsv, b, &found), 0);
    CHECK(found == a);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find(rsv, page, 2 * page, &found), 0); /* earliest intersecting */
    CHECK(found == a);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find(rsv, 4 * page, 0, &found), 0);
    CHECK(found == b);

    /* Not while maps are in it; nothing is released then. */
    CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), PMEM2_E_VM_RESERVATION_NOT_EMPTY);
    CHECK(rsv != NULL);
    CHECK(base[2 * page] == 'd');
    CHECK_EQ_INT(pmem2_vm_reservation_shrink(rsv, 4 * page, page), PMEM2_E_VM_RESERVATION_NOT_EMPTY);
    CHECK_EQ_INT(pmem2_vm_reservation_extend(rsv, page), 0);
    CHECK_EQ_INT(pmem2_vm_reservation_get_size(rsv), 6 * page);
    CHECK_EQ_INT(pmem2_vm_reservation_shrink(rsv, 5 * page, page), 0);

    CHECK_EQ_INT(pmem2_map_delete(&a), 0);
    CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), PMEM2_E_VM_RESERVATION_NOT_EMPTY);
    CHECK_EQ_INT(pmem2_vm_reservation_map_find_first(rsv, &found), 0);
    CHECK(found == b);
    CHECK_EQ_INT(pmem2_map_delete(&b), 0);
  }
  CHECK_EQ_INT(pmem2_vm_reservation_delete(&rsv), 0);
  CHECK(rsv == NULL);
  CHECK_EQ_INT(pmem2_config_delete(&cfg), 0);
  CHECK_EQ_INT(pmem2_source_delete(&src_a), 0);
  CHECK_EQ_INT(pmem2_source_delete(&src_b), 0);
  close(fd_a);
  close(fd_b);
}

/* A mapping made with mmap(2), adopted: persisted through the page-granularity function, not unmapped by delete. */
static void test_from_existing(void) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  struct pmem2_source *src = NULL;
  struct pmem2_map *map = NULL, *other = NULL;
  int fd = make_file(4 * page);
  char *mapping;
  char buf[8];
  CHECK(fd >= 0);
  mapping = (char *)mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(mapping != MAP_FAILED);
  if (mapping == MAP_FAILED) return;
  CHECK_EQ_INT(pmem2_source_from_fd(&src, fd), 0);
  CHECK_EQ_INT(pmem2_map_from_existing(&map, src, mapping, 4 * page, PMEM2_GRANULARITY_PAGE), 0);
  CHECK(map != NULL);
  if (map != NULL) {
    CHECK(pmem2_map_get_address(map) == mapping);
    CHECK_EQ_INT(pmem2_map_get_size(map), 4 * page);
    CHECK_EQ_INT(pmem2_map_get_store_granularity(map), PMEM2_GRANULARITY_PAGE);
    /* The range is pmem2's now: adopting it again is refused. */
    CHECK_EQ_INT(pmem2_map_from_existing(&other, src, mapping + page, page, PMEM2_GRANULARITY_PAGE),
                 PMEM2_E_MAP_EXISTS);
    memcpy(mapping + page + 1, "adopted", 7);
    pmem2_get_persist_fn(map)(mapping + page + 1, 7); /* returns (libpmem2 1.12.1's would not) */
    CHECK_EQ_INT(pmem2_map_get_persist_error(map), 0);
    CHECK(pmem2_get_memset_fn(map)(mapping, 'z', 2, 0) == mapping);
    CHECK_EQ_INT(pread(fd, buf, 7, (off_t)(page + 1)), 7);
    CHECK(memcmp(buf, "adopted", 7) == 0);
    CHECK_EQ_INT(pmem2_map_delete(&map), 0);
    CHECK(map == NULL);
    /* Still mapped, and free to adopt again. */
    CHECK(mapping[0] == 'z');
    mapping[2 * page] = 'y';
    CHECK_EQ_INT(pmem2_map_from_existing(&other, src, mapping + page, page, PMEM2_GRANULARITY_PAGE), 0);
    CHECK_EQ_INT(pmem2_map_delete(&other), 0);
    /* A page holds ranges of one file: another file's source beside this one's in a page is refused (libpmem2 1.12.1
     * adopts it); this file's beside it is taken. */
    {
      struct pmem2_source *other_src = NULL;
      struct pmem2_map *part = NULL, *beside = NULL;
      int other_fd = make_file(page);
      CHECK(other_fd >= 0);
      CHECK_EQ_INT(pmem2_source_from_fd(&other_src, other_fd), 0);
      CHECK_EQ_INT(pmem2_map_from_existing(&part, src, mapping + 3 * page, 100, PMEM2_GRANULARITY_PAGE), 0);
      CHECK_EQ_INT(pmem2_map_from_existing(&beside, other_src, mapping + 3 * page + 1000, 100, PMEM2_GRANULARITY_PAGE),
                   PMEM2_E_MAP_EXISTS);
      CHECK_EQ_INT(pmem2_map_from_existing(&beside, src, mapping + 3 * page + 1000, 100, PMEM2_GRANULARITY_PAGE), 0);
      if (beside != NULL) {
        CHECK_EQ_INT(pmem2_map_delete(&beside), 0);
      }
      if (part != NULL) {
        CHECK_EQ_INT(pmem2_map_delete(&part), 0);
      }
      CHECK_EQ_INT(pmem2_source_delete(&other_src), 0);
      close(other_fd);
    }
  }
  CHECK_EQ_INT(pmem2_map_from_existing(&map, src, NULL, page, PMEM2_GRANULARITY_PAGE), PMEM2_E_ADDRESS_NULL);
  CHECK_EQ_INT(pmem2_map_from_existing(&map, src, mapping, 0, PMEM2_GRANULARITY_PAGE), PMEM2_E_LENGTH_OUT_OF_RANGE);
  CHECK_EQ_INT(pmem2_source_delete(&src), 0);
  CHECK_EQ_INT(munmap(mapping, 4 * page), 0);
  close(fd);
}

int main(void) {
  CHECK_EQ_INT(PMEM2_MAJOR_VERSION, 1);
  CHECK_EQ_INT(PMEM2_MINOR_VERSION, 0);
  test_file_mapping();
  test_anonymous_mapping();
  test_setters_validate_raw_values();
  test_bad_sources();
  test_stale_handles();
  test_stale_handles_of_every_kind();
  test_null_arguments();
  test_errormsg_and_perror();
  test_errormsg_is_per_thread();
  test_reservation();
  test_from_existing();
  if (failures != 0) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("libpmem2_c_test: all checks passed\n");
  return 0;
}
