/*
 * Copyright 2026 The pmem2 Authors.
 *
 * pmem2/c/libpmem2.h
 * -----------------------------------------------------------------------------
 *
 * The C interface of pmem2, source-compatible with PMDK's libpmem2 1.x for Linux: the same function names and
 * signatures, the same enum, flag and PMEM2_E_* values, so a C program written against libpmem2 compiles
 * against this header unchanged (within the part of the API listed below). It is valid C99 and C++.
 *
 * Include it as "pmem2/c/libpmem2.h", or as <libpmem2.h> when depending on the Bazel target //pmem2/c (which
 * puts this folder ahead of /usr/include).
 *
 * Example:
 *
 *   struct pmem2_config *cfg = NULL;
 *   struct pmem2_source *src = NULL;
 *   struct pmem2_map *map = NULL;
 *   if (pmem2_config_new(&cfg) != 0 ||
 *       pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE) != 0 ||
 *       pmem2_source_from_fd(&src, fd) != 0 || pmem2_map_new(&map, cfg, src) != 0) {
 *     pmem2_perror("cannot map");  // "cannot map: <why>"
 *   } else {
 *     pmem2_memcpy_fn copy = pmem2_get_memcpy_fn(map);
 *     copy(pmem2_map_get_address(map), "hello", 5, 0);  // copied and durable...
 *     if (pmem2_map_get_persist_error(map) != 0) ...     // ...unless a page write-back failed (extension)
 *     pmem2_map_delete(&map);
 *   }
 *   pmem2_source_delete(&src);
 *   pmem2_config_delete(&cfg);
 *
 * Return values: every int-returning function returns 0 on success, or a negative number: one of the PMEM2_E_*
 * values below, or -errno for a failure the operating system reported. pmem2_errormsg() then describes it.
 *
 * Threads: no function here is a pthread cancellation point but pmem2_perror(), which prints with stdio as perror(3)
 * does; a request pending during a call acts at the thread's next cancellation point after it returns.
 *
 * Memory: any int-returning function that cannot allocate what it needs returns -ENOMEM ("out of memory"), having
 * handed nothing out and left nothing behind (no mapping, descriptor or half-made handle); the call may be
 * repeated. A message that needs memory to name a bad value may then be lost: -ENOMEM stands in for the error it
 * named. Finds that succeed, pmem2_map_delete() and the functions pmem2_get_*_fn() return for a map allocate
 * nothing; those functions record a failed persist without allocating, also in a thread's first persist (for
 * the first 128 threads alive that persist at page granularity). pmem2_map_get_persist_error() and
 * pmem2_map_clear_persist_error() allocate the error's message: when that fails they return -ENOMEM and the error
 * stays recorded, uncleared. The getters allocate nothing also for a NULL map. Not covered: in a process that has
 * made no map, the first call of a copy function pmem2_get_memmove_fn(NULL), pmem2_get_memcpy_fn(NULL) or
 * pmem2_get_memset_fn(NULL) returned makes the process's CPU selection (allocated once), and a failure there
 * terminates the program; nor, with more than 128 threads alive that have persisted at page granularity, the first
 * page-granularity persist of each further thread, which allocates its sync slot (a failure terminates the
 * program: the function pointers return void). Nor glibc's own: in a
 * libpmem2.so.1 loaded with dlopen(), a thread's first error message makes glibc allocate that thread's copy of
 * the (thread-local) message buffer, and glibc aborts if it cannot.
 *
 * Arguments libpmem2 does not check: where libpmem2 would dereference a NULL handle or a NULL out-pointer,
 * these functions do not crash. The int-returning ones return -EINVAL (a NULL `*map_ptr` given to
 * pmem2_map_delete() returns PMEM2_E_MAPPING_NOT_FOUND); pmem2_map_get_address(NULL) returns NULL,
 * pmem2_map_get_size(NULL) 0, pmem2_map_get_store_granularity(NULL) PMEM2_GRANULARITY_PAGE; and the
 * pmem2_get_*_fn(NULL) getters return functions that persist with msync(MS_SYNC) of the range's pages (a drain
 * that does nothing): durable for a file in the page cache and for a file system DAX mapping without MAP_SYNC.
 * On Device DAX, where msync fails (EINVAL: testing/dax_vm's probe), they write the range back from the CPU
 * caches if pmem2 maps of the device hold all of it, and otherwise record the EINVAL as a failure. They are a
 * guard against a NULL map, not a substitute for the map's own functions. A failure they meet (their msync's errno) is
 * recorded on the pmem2 map that holds the range (read it there with pmem2_map_get_persist_error()); on memory no pmem2
 * map holds, the C API cannot read it.
 *
 * Stale handles: every function checks the handles it is given (a lookup under one process-wide lock) against those the
 * library handed out and has not deleted, so a copy of a handle kept across its delete (or a pointer that never was a
 * handle) is refused instead of being freed twice or read after it was freed, as in libpmem2. A source, config or
 * reservation: -EINVAL, the message naming the handle (pmem2_vm_reservation_get_address() NULL, _get_size() 0);
 * pmem2_map_new() also refuses a config whose reservation was deleted after pmem2_config_set_vm_reservation(). A map:
 * PMEM2_E_MAPPING_NOT_FOUND (as libpmem2's pmem2_map_delete), and the getters answer as for a NULL map. A bad block
 * context: -EINVAL, and pmem2_badblock_context_delete() leaves it alone. pmem2_source_delete() and
 * pmem2_config_delete() of a NULL `*ptr` return 0, as libpmem2. A handle is known by its address: a stale copy that
 * equals a handle of the same kind made since is that handle. A handle one thread uses while another deletes it
 * is still the program's race.
 *
 * Ownership: pmem2_config, pmem2_source and pmem2_map objects belong to the caller, who frees them with the
 * matching *_delete(). A source does not own its file descriptor; the descriptor may be closed once
 * pmem2_map_new() has returned. A map owns its mapping: pmem2_map_delete() unmaps it. Unlike libpmem2, pmem2
 * keeps an O_PATH descriptor of a file it maps shared through a descriptor open for writing (one per file, while a
 * map of it lives; read-only maps too, whose msync syncs the file through the description), from
 * which a forked child opens a file description of its own and maps such maps again through it before fork()
 * returns there, so that parent and child each hear of every write-back failure (pmem2/map/map.h, "fork()").
 *
 * Thread safety: configs and sources are plain values (no concurrent modification). The functions returned by
 * pmem2_get_*_fn() may be called from any thread, concurrently. pmem2_errormsg() is per thread.
 *
 * Durability: what a crash can leave after a persist, and the sticky persistence error of page-granularity
 * mappings, are described in pmem2/persist_fns.h and pmem2/map/map.h ("The error contract"). The function
 * pointers cannot return an error: read pmem2_map_get_persist_error() before declaring data durable (where another
 * thread may acknowledge failures meanwhile, pmem2_map_get_persist_error_since() with a mark taken before the stores).
 * A program written for libpmem2 never reads it (libpmem2 aborts the process on a failed page persist instead), so
 * a failure is never silent: the environment variable PMEM2_PERSIST_FAILURE says what else it does, read at each
 * failure. "warn" (the default): a line on stderr naming the range and the errno (the first 16 of the process; the
 * failure is recorded either way; a line stderr cannot take within a second, a stalled reader's, is left out) and the
 * program goes on. "record": only the record. "abort": the line, then abort(), as libpmem2 does. Empty is as unset,
 * and so is any value in a set-user-ID or set-group-ID program (secure_getenv(3), as for every pmem2 variable).
 * pmem2_map_new() and pmem2_map_from_existing() refuse another value (-EINVAL); another value at a failure (set after
 * the map was made, or in a process whose maps are all made through the C++ API, which nothing refuses) is named in
 * the line, then abort(), as under "abort". In a process that uses this API, this covers failures of maps made
 * through the C++ API too. It concerns the function pointers' failures only: a
 * call that returns its failure (pmem2_deep_flush, libpmem's pmem_msync, the C++ Status methods and asynchronous
 * completions) records it and returns it, whatever the variable says. A forked child that could not map a map again
 * through a file description of its own (see Ownership) can vouch for none of that map's persists, though each msync
 * succeeds: the map's first persist through a function pointer in the child says so as a failure does (once per map;
 * the fork itself says nothing).
 *
 * Provided: every function of libpmem2 1.x for Linux. Never provided: pmem2_source_from_handle /
 * pmem2_source_get_handle (Windows only, as in libpmem2 for Linux) and the asynchronous functions of libpmem2
 * 1.12 (pmem2_memcpy_async, pmem2_memmove_async, pmem2_memset_async, pmem2_config_set_vdm, miniasync), which
 * PMDK deprecated and removed in 2.0.
 */

#ifndef PMEM2_C_LIBPMEM2_H_
#define PMEM2_C_LIBPMEM2_H_

/* PMDK's include guards (libpmem2.h and the libpmem2/base.h it includes): a translation unit that includes ours
 * and then reaches PMDK's gets ours alone, rather than two definitions of each enum and struct. */
#ifndef LIBPMEM2_H
#define LIBPMEM2_H 1
#endif
#ifndef LIBPMEM2_BASE_H
#define LIBPMEM2_BASE_H 1
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The API version this header implements. (PMDK's libpmem2.h defines no version macros; these are a pmem2
 * addition, in the style of libpmem's PMEM_MAJOR_VERSION.)
 */
#define PMEM2_MAJOR_VERSION 1
#define PMEM2_MINOR_VERSION 0

/* Error codes. PMDK's values; some belong to functions not provided yet (see above). */
#define PMEM2_E_UNKNOWN (-100000)
#define PMEM2_E_NOSUPP (-100001)
#define PMEM2_E_FILE_HANDLE_NOT_SET (-100003)
#define PMEM2_E_INVALID_FILE_HANDLE (-100004)
#define PMEM2_E_INVALID_FILE_TYPE (-100005)
#define PMEM2_E_MAP_RANGE (-100006)
#define PMEM2_E_MAPPING_EXISTS (-100007)
#define PMEM2_E_GRANULARITY_NOT_SET (-100008)
#define PMEM2_E_GRANULARITY_NOT_SUPPORTED (-100009)
#define PMEM2_E_OFFSET_OUT_OF_RANGE (-100010)
#define PMEM2_E_OFFSET_UNALIGNED (-100011)
#define PMEM2_E_INVALID_ALIGNMENT_FORMAT (-100012)
#define PMEM2_E_INVALID_ALIGNMENT_VALUE (-100013)
#define PMEM2_E_INVALID_SIZE_FORMAT (-100014)
#define PMEM2_E_LENGTH_UNALIGNED (-100015)
#define PMEM2_E_MAPPING_NOT_FOUND (-100016)
#define PMEM2_E_BUFFER_TOO_SMALL (-100017)
#define PMEM2_E_SOURCE_EMPTY (-100018)
#define PMEM2_E_INVALID_SHARING_VALUE (-100019)
#define PMEM2_E_SRC_DEVDAX_PRIVATE (-100020)
#define PMEM2_E_INVALID_ADDRESS_REQUEST_TYPE (-100021)
#define PMEM2_E_ADDRESS_UNALIGNED (-100022)
#define PMEM2_E_ADDRESS_NULL (-100023)
#define PMEM2_E_DEEP_FLUSH_RANGE (-100024)
#define PMEM2_E_INVALID_REGION_FORMAT (-100025)
#define PMEM2_E_DAX_REGION_NOT_FOUND (-100026)
#define PMEM2_E_INVALID_DEV_FORMAT (-100027)
#define PMEM2_E_CANNOT_READ_BOUNDS (-100028)
#define PMEM2_E_NO_BAD_BLOCK_FOUND (-100029)
#define PMEM2_E_LENGTH_OUT_OF_RANGE (-100030)
#define PMEM2_E_INVALID_PROT_FLAG (-100031)
#define PMEM2_E_NO_ACCESS (-100032)
#define PMEM2_E_VM_RESERVATION_NOT_EMPTY (-100033)
#define PMEM2_E_MAP_EXISTS (-100034)
#define PMEM2_E_FILE_DESCRIPTOR_NOT_SET (-100035)
#define PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED (-100036)
#define PMEM2_E_IO_FAIL (-100037)

struct pmem2_config;
struct pmem2_source;
struct pmem2_map;
struct pmem2_vm_reservation;
struct pmem2_badblock_context;

/* ---- Sources: what to map ---- */

/*
 * Makes `*src` describe the open descriptor `fd` (a regular file or a Device DAX character device); the
 * descriptor stays the caller's. PMEM2_E_INVALID_FILE_HANDLE: `fd` is not open, was opened O_WRONLY or with access
 * mode 3 (ioctls only), or is an O_PATH descriptor (libpmem2 takes those two; their maps fail later).
 * PMEM2_E_INVALID_FILE_TYPE: a directory, block device, pipe, socket, memfd_secret(2) file (nothing can persist it)
 * or other character device, or a character device where no sysfs is mounted to say whether it is Device DAX.
 * -ENOMEM.
 * On failure `*src` is set to NULL (as libpmem2), so cleanup code may call pmem2_source_delete() on it.
 */
int pmem2_source_from_fd(struct pmem2_source **src, int fd);

/* Makes `*src` describe `size` bytes of zero-filled anonymous memory. A size of 0 is accepted here and refused
 * by pmem2_map_new() (PMEM2_E_SOURCE_EMPTY). -ENOMEM, with `*src` set to NULL. A config's offset selects nothing
 * for it, but pmem2_map_new() checks it as libpmem2 does (its man page says "ignored"): PMEM2_E_MAP_RANGE if it
 * passes the size (length 0: the whole source is mapped) or offset + length does. */
int pmem2_source_from_anon(struct pmem2_source **src, size_t size);

/* The descriptor given to pmem2_source_from_fd(); PMEM2_E_FILE_DESCRIPTOR_NOT_SET for anonymous sources. */
int pmem2_source_get_fd(const struct pmem2_source *src, int *fd);

/* The source's size in bytes, asked of the system on each call. On failure `*size` is left unchanged;
 * PMEM2_E_INVALID_FILE_HANDLE if the descriptor was closed, or its number is another file's now (libpmem2 answers
 * for whatever it is); for Device DAX, -errno if its sysfs size cannot be read (-ENOENT: missing), -ERANGE if it is
 * a number past 64 bits and PMEM2_E_INVALID_SIZE_FORMAT if it holds no number, as libpmem2. */
int pmem2_source_size(const struct pmem2_source *src, size_t *size);

/* The granule a mapping's offset and length must be multiples of (the page size, the Device DAX alignment, or a
 * hugetlbfs file's huge page size: libpmem2 says the page size there). On failure `*alignment` is left unchanged;
 * PMEM2_E_INVALID_FILE_HANDLE as for pmem2_source_size(); for Device DAX, -errno if its sysfs alignment cannot be
 * read, -ERANGE if it is a number past 64 bits, PMEM2_E_INVALID_ALIGNMENT_FORMAT if it holds no number and
 * PMEM2_E_INVALID_ALIGNMENT_VALUE if that is no power of two, as libpmem2. */
int pmem2_source_alignment(const struct pmem2_source *src, size_t *alignment);

/* Frees `*src` and sets it to NULL; nothing if `*src` is NULL. Returns 0, or -EINVAL for a handle that is no live
 * source (see "Stale handles"). */
int pmem2_source_delete(struct pmem2_source **src);

/*
 * Reads `size` bytes at `offset` of the source into `buf`, and writes them from `buf`, so that an
 * uncorrectable media error (a poisoned persistent-memory line) is an error return, not a SIGBUS. Regular files
 * use pread(2)/pwrite(2) (the kernel's copy is machine-check safe); Device DAX a temporary mapping and a copy
 * under a SIGBUS handler (installed for the time of the copy, every other SIGBUS passed on to the process's
 * handler), its writes flushed from the CPU caches (PMEM2_E_NOSUPP, nothing written, on a CPU without a cache-line
 * write-back where the platform does not write the caches back itself). PMEM2_E_IO_FAIL for a bad block in the range
 * (also for regular files, where libpmem2 1.12.1 returns -EIO; and for a write to a file on fsdax over one that is not
 * page-aligned whole pages, which Linux 6.0 on fails with EFAULT: only such a write clears poison there; EFAULT stays
 * -EFAULT where `buf` itself cannot be read); PMEM2_E_LENGTH_OUT_OF_RANGE if offset + size passes the
 * end of the source (also for size 0 at an offset past the end); PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED for
 * anonymous sources; -EINVAL for a NULL src, or a NULL buf with size > 0; -errno from the system otherwise.
 * Files are never extended (unless another process truncates the file between the size check and pwrite(2)).
 */
int pmem2_source_pread_mcsafe(struct pmem2_source *src, void *buf, size_t size, size_t offset);
int pmem2_source_pwrite_mcsafe(struct pmem2_source *src, void *buf, size_t size, size_t offset);

/* ---- Reliability: device identity, unsafe shutdowns, NUMA, bad blocks ---- */

/*
 * The identity of the NVDIMMs behind the source: the nfit/id of each DIMM of its region (ndctl's "id",
 * "VVVV-LL-DDDD-SSSSSSSS" or "VVVV-SSSSSSSS"), in libndctl's order as libpmem2's (the bus folder's DIMMs as listed,
 * last first), concatenated, as a NUL-terminated string. With
 * id == NULL, stores in *len the buffer size needed (including the NUL); otherwise *len must be at least that
 * (PMEM2_E_BUFFER_TOO_SMALL, *id and *len unchanged). PMEM2_E_NOSUPP, the message saying what is missing,
 * where the source is not on an NVDIMM region (a file on tmpfs or a disk, anonymous memory) or a DIMM reports
 * no id (an NVDIMM without ACPI NFIT data). PMEM2_E_INVALID_FILE_HANDLE, here and in the three functions below,
 * if the source's descriptor was closed or its number now names another file or device (no answer for that one).
 * -EINVAL for a NULL src or len.
 */
int pmem2_source_device_id(const struct pmem2_source *src, char *id, size_t *len);

/* The sum of the unsafe shutdown counts (nfit/dirty_shutdown) of the NVDIMMs behind the source; *usc is left
 * unchanged on failure. PMEM2_E_NOSUPP where they report none (as with qemu's emulated NVDIMMs) or the source
 * is not on an NVDIMM region (see pmem2_source_device_id). */
int pmem2_source_device_usc(const struct pmem2_source *src, uint64_t *usc);

/* The NUMA node of the NVDIMM region behind the source (its numa_node, as `ndctl list -v` shows it).
 * PMEM2_E_DAX_REGION_NOT_FOUND for a source not on an NVDIMM region (as libpmem2 1.12.1); PMEM2_E_NOSUPP for
 * anonymous sources, and where the kernel or region reports no node. *numa_node is left unchanged on failure. */
int pmem2_source_numa_node(const struct pmem2_source *src, int *numa_node);

/* A bad (poisoned) range of the source, in bytes from the start of the source. */
struct pmem2_badblock {
  size_t offset;
  size_t length;
};

/* Reads the source's bad blocks (a snapshot): for a file on fsdax, its block device's badblocks list mapped
 * through the file's extents (FIEMAP), each range widened to whole file system blocks (statfs f_bsize; libpmem2
 * widens to st_blksize, the same unless a mount asks for larger I/O) and cut at the end of the file (libpmem2
 * does not cut); for Device DAX, its region's list inside the device (needs root: the bounds are physical
 * addresses; PMEM2_E_CANNOT_READ_BOUNDS otherwise, as libpmem2). A source not on an NVDIMM simply has none.
 * *bbctx is set to NULL on failure. PMEM2_E_NOSUPP for anonymous sources, for a file on a block device stacked
 * over an NVDIMM's (device-mapper, md: libpmem2 says it has none), and for a file on a sector-mode (BTT) namespace
 * whose region lists bad ranges (the BTT device keeps no list of its own, and its sectors cannot be placed in the
 * region's: "none" only where the region has none); PMEM2_E_DAX_REGION_NOT_FOUND for a Device DAX
 * not on an NVDIMM region; PMEM2_E_INVALID_REGION_FORMAT for a malformed list or one that fills a page (the
 * kernel cuts longer ones there, so entries may be missing); PMEM2_E_CANNOT_READ_BOUNDS; PMEM2_E_INVALID_FILE_HANDLE
 * (see pmem2_source_device_id); -errno; -ENOMEM. */
int pmem2_badblock_context_new(struct pmem2_badblock_context **bbctx, const struct pmem2_source *src);

/* The next bad block, in offset order; PMEM2_E_NO_BAD_BLOCK_FOUND (with *bb zeroed) when there are no more. */
int pmem2_badblock_next(struct pmem2_badblock_context *bbctx, struct pmem2_badblock *bb);

/* Frees `*bbctx` and sets it to NULL; nothing if it is NULL, or if it is no live context (a stale copy: see
 * "Stale handles"). */
void pmem2_badblock_context_delete(struct pmem2_badblock_context **bbctx);

/* Clears a bad block of a regular file: its range is deallocated (fallocate PUNCH_HOLE) and allocated again,
 * so it reads as zeros on new, clean media (a range that ends at the end of the file to the end of its block,
 * so that the block is replaced whole: part of a block is zeroed in place, which fsdax refuses over poison).
 * PMEM2_E_INVALID_FILE_HANDLE if the source's descriptor no longer names the file the context was made for (closed,
 * and its number reused): nothing is deallocated.
 * PMEM2_E_OFFSET_OUT_OF_RANGE / PMEM2_E_LENGTH_OUT_OF_RANGE for an offset or length past INT64_MAX,
 * PMEM2_E_LENGTH_OUT_OF_RANGE for a range past the end of the source; PMEM2_E_NOSUPP for Device DAX (clearing needs the
 * NVDIMM bus's clear-error command, which pmem2 does not issue: use `ndctl clear-errors`); -errno from fallocate(2).
 * The range is not checked against the list again (as libpmem2): blocks that moved since the context was made (a
 * copy-on-write write, a rewrite) are deallocated all the same, what they hold read back as zeros. A bad block of
 * length 0 clears nothing and returns 0 (libpmem2 1.12.1 passes it to fallocate(2): -EINVAL). */
int pmem2_badblock_clear(struct pmem2_badblock_context *bbctx, const struct pmem2_badblock *bb);

/* ---- Configs: how to map ---- */

/* A new config: granularity unset (pmem2_map_new() requires it), offset 0, length 0 (to the end of the
 * source), PMEM2_SHARED, PMEM2_PROT_READ | PMEM2_PROT_WRITE. -ENOMEM, with `*cfg` set to NULL. */
int pmem2_config_new(struct pmem2_config **cfg);

/* Frees `*cfg` and sets it to NULL; nothing if `*cfg` is NULL. Returns 0, or -EINVAL for a handle that is no live
 * config (see "Stale handles"). */
int pmem2_config_delete(struct pmem2_config **cfg);

/* How stores become durable; ordered byte < cache line < page. See pmem2/config/config.h. */
enum pmem2_granularity {
  PMEM2_GRANULARITY_BYTE,
  PMEM2_GRANULARITY_CACHE_LINE,
  PMEM2_GRANULARITY_PAGE,
};

/* The coarsest granularity the application accepts. PMEM2_E_GRANULARITY_NOT_SUPPORTED for a value that is
 * no enumerator (the config is then unchanged). */
int pmem2_config_set_required_store_granularity(struct pmem2_config *cfg, enum pmem2_granularity g);

/* Where in the source the mapping starts. PMEM2_E_OFFSET_OUT_OF_RANGE above INT64_MAX (config unchanged);
 * alignment is checked by pmem2_map_new(). */
int pmem2_config_set_offset(struct pmem2_config *cfg, size_t offset);

/* How many bytes to map; 0 (the default) maps from the offset to the end of the source. Returns 0 (for a live
 * config, as every function here: see "Stale handles"). */
int pmem2_config_set_length(struct pmem2_config *cfg, size_t length);

enum pmem2_sharing_type {
  PMEM2_SHARED,  /* writes reach the source (MAP_SHARED) */
  PMEM2_PRIVATE, /* writes stay in the mapping (copy on write, MAP_PRIVATE) */
};

/* PMEM2_E_INVALID_SHARING_VALUE for a value that is no enumerator (config unchanged). */
int pmem2_config_set_sharing(struct pmem2_config *cfg, enum pmem2_sharing_type type);

#define PMEM2_PROT_EXEC (1U << 29)
#define PMEM2_PROT_READ (1U << 30)
#define PMEM2_PROT_WRITE (1U << 31)
#define PMEM2_PROT_NONE 0

/* PMEM2_PROT_NONE or an OR of the PMEM2_PROT_* flags. PMEM2_E_INVALID_PROT_FLAG for any other bit (config
 * unchanged). A writable shared mapping of a read-only descriptor fails in pmem2_map_new(). */
int pmem2_config_set_protection(struct pmem2_config *cfg, unsigned prot);

/* Makes pmem2_map_new() map into `rsv` at `offset` bytes from its start (NULL: anywhere, the default). The
 * offset is checked by pmem2_map_new(), which also refuses (-EINVAL) a reservation deleted since. Returns 0, or
 * -EINVAL for a config or reservation that is no live one. */
int pmem2_config_set_vm_reservation(struct pmem2_config *cfg, struct pmem2_vm_reservation *rsv, size_t offset);

/* ---- Virtual memory reservations: address space to map into ---- */

/*
 * Reserves `size` bytes of address space (inaccessible until mapped into), at `addr` or, with addr NULL,
 * wherever the system chooses (aligned for huge pages). `size` and `addr` must be multiples of the page size:
 * PMEM2_E_LENGTH_UNALIGNED, PMEM2_E_ADDRESS_UNALIGNED; PMEM2_E_MAPPING_EXISTS if [addr, addr + size) overlaps
 * an existing mapping; PMEM2_E_LENGTH_OUT_OF_RANGE for size 0; -errno from mmap(2). On failure `*rsv_ptr` is
 * set to NULL (as libpmem2).
 */
int pmem2_vm_reservation_new(struct pmem2_vm_reservation **rsv_ptr, void *addr, size_t size);

/* Releases the address space and frees `*rsv_ptr` (set to NULL). PMEM2_E_VM_RESERVATION_NOT_EMPTY while maps
 * are mapped into it (nothing is released then); -EINVAL for a NULL `rsv_ptr` or `*rsv_ptr` (unlike the source and
 * config deletes, which take a NULL `*ptr` as done). */
int pmem2_vm_reservation_delete(struct pmem2_vm_reservation **rsv_ptr);

void *pmem2_vm_reservation_get_address(struct pmem2_vm_reservation *rsv);
size_t pmem2_vm_reservation_get_size(struct pmem2_vm_reservation *rsv);

/* Grows the reservation by `size` bytes at its end. PMEM2_E_LENGTH_UNALIGNED, PMEM2_E_LENGTH_OUT_OF_RANGE if its
 * new end would wrap around the address space (libpmem2 1.12.1 returns 0), PMEM2_E_MAPPING_EXISTS if the address
 * space after it is taken. */
int pmem2_vm_reservation_extend(struct pmem2_vm_reservation *rsv, size_t size);

/* Releases [offset, offset + size) of the reservation, which must be empty and touch its beginning or its end
 * but not cover all of it: PMEM2_E_OFFSET_UNALIGNED, PMEM2_E_LENGTH_UNALIGNED, PMEM2_E_OFFSET_OUT_OF_RANGE,
 * PMEM2_E_LENGTH_OUT_OF_RANGE, PMEM2_E_NOSUPP (the middle, or the whole reservation),
 * PMEM2_E_VM_RESERVATION_NOT_EMPTY. */
int pmem2_vm_reservation_shrink(struct pmem2_vm_reservation *rsv, size_t offset, size_t size);

/* The earliest map intersecting [reserv_offset, reserv_offset + len) (for len 0, the map holding reserv_offset, as
 * libpmem2 does), the map before / after `map`, the first and the last map. PMEM2_E_MAPPING_NOT_FOUND, with *map
 * set to NULL, if there is none; *map is set to NULL on every other error too (a stale reservation or map handle:
 * -EINVAL, PMEM2_E_MAPPING_NOT_FOUND). */
int pmem2_vm_reservation_map_find(struct pmem2_vm_reservation *rsv, size_t reserv_offset, size_t len,
                                  struct pmem2_map **map);
int pmem2_vm_reservation_map_find_prev(struct pmem2_vm_reservation *rsv, struct pmem2_map *map,
                                       struct pmem2_map **prev_map);
int pmem2_vm_reservation_map_find_next(struct pmem2_vm_reservation *rsv, struct pmem2_map *map,
                                       struct pmem2_map **next_map);
int pmem2_vm_reservation_map_find_first(struct pmem2_vm_reservation *rsv, struct pmem2_map **map);
int pmem2_vm_reservation_map_find_last(struct pmem2_vm_reservation *rsv, struct pmem2_map **map);

/* ---- Maps ---- */

/*
 * Maps `src` as `cfg` asks and stores the new map in `*map_ptr` (NULL on failure). Errors:
 * PMEM2_E_GRANULARITY_NOT_SET, PMEM2_E_OFFSET_UNALIGNED, PMEM2_E_LENGTH_UNALIGNED, PMEM2_E_SOURCE_EMPTY,
 * PMEM2_E_MAP_RANGE (offset + length overflows or passes the end of the source), -ENOMEM (as mmap(2): the
 * range lies inside the source but is larger than the address space can hold), PMEM2_E_SRC_DEVDAX_PRIVATE,
 * PMEM2_E_NO_ACCESS (protection conflicts with the descriptor's mode), PMEM2_E_GRANULARITY_NOT_SUPPORTED (the
 * medium cannot honour the required granularity; or Device DAX without eADR on a CPU without a cache-line
 * write-back pmem2 can use, as msync cannot persist Device DAX; or a Device DAX on no NVDIMM region, volatile
 * memory such as hmem's or a CXL RAM region's, which libpmem2 maps), PMEM2_E_INVALID_FILE_HANDLE (the source's
 * descriptor was closed, or its number now names another file: libpmem2 maps that one), the errors of
 * pmem2_source_size() / _alignment(), -errno from mmap(2), and -EINVAL for a PMEM2_FORCE_GRANULARITY,
 * PMEM2_PERSIST_FAILURE or PMEM_* environment variable holding a value it does not take (libpmem2 ignores such
 * values; PMEM_NO_FLUSH, libpmem's, is read here too: libpmem2 does not read it, pmem2's engine, which this library
 * shares with libpmem.h's, does: "0" writes caches back even at byte granularity; "1" is libpmem's functions' only,
 * a cache-line map's persist_fn writes the lines back whatever it says, as libpmem2's). Into a reservation
 * (pmem2_config_set_vm_reservation), also: PMEM2_E_OFFSET_UNALIGNED (reservation offset not a multiple of the page
 * size), PMEM2_E_LENGTH_OUT_OF_RANGE (the mapping, rounded up to pages, does not fit: what libpmem2 1.12.1 returns,
 * though its man page names PMEM2_E_ADDRESS_UNALIGNED; differential_test's MatrixOfMapsIntoReservations),
 * PMEM2_E_ADDRESS_UNALIGNED (Device DAX: the address is not a multiple of its alignment), PMEM2_E_MAPPING_EXISTS
 * (another map of the reservation overlaps), -EEXIST (a range adopted with pmem2_map_from_existing lies there).
 */
int pmem2_map_new(struct pmem2_map **map_ptr, const struct pmem2_config *cfg, const struct pmem2_source *src);

/* Unmaps the mapping, frees `*map_ptr` and sets it to NULL. PMEM2_E_MAPPING_NOT_FOUND (as libpmem2), with
 * nothing freed and `*map_ptr` unchanged, for a NULL `*map_ptr` and for a handle that is no live map: one
 * already deleted (a copy of a handle deleted through another variable) or never returned by pmem2_map_new() /
 * pmem2_map_from_existing(). A handle is recognised by its address, so a stale copy that happens to equal the
 * handle of a map made since deletes that map. -errno from munmap(2) (in a reservation, from the mmap(2) that puts the
 * reservation's placeholder back), with the map left as it was (mapped, live, findable in its reservation, its
 * functions valid: the delete may be tried again) and `*map_ptr` unchanged, as libpmem2: -ENOMEM where the map's range
 * is the middle of a mapping the kernel merged with neighbouring mappings of the same file (maps of the file's next
 * pieces placed beside it in a reservation, or the application's own) and splitting it would exceed
 * vm.max_map_count. A map from pmem2_map_from_existing() is not unmapped. The munmap is made with pmem2's map registry
 * locked, so that no lookup answers for the range once it is free: other threads' map creations and deletions,
 * failure recordings and fork() wait for it; where the kernel waits in munmap for a thread of the process (a
 * userfaultfd monitor of the range, an in-process FUSE server writing the file back), that thread must not call
 * pmem2 meanwhile. */
int pmem2_map_delete(struct pmem2_map **map_ptr);

void *pmem2_map_get_address(struct pmem2_map *map);
size_t pmem2_map_get_size(struct pmem2_map *map);
/* The effective granularity: for pmem2_map_new(), never coarser than the required one (pmem2_map_from_existing() may
 * replace the caller's, see there). */
enum pmem2_granularity pmem2_map_get_store_granularity(struct pmem2_map *map);

/*
 * A map object for [addr, addr + len), a mapping of `src` made elsewhere (by mmap(2) or another library), with
 * the functions of granularity `gran`, which the caller vouches for. pmem2_map_delete() then frees the object
 * but does not unmap. PMEM2_E_MAP_EXISTS if the range overlaps a map pmem2 knows (of this copy of the engine:
 * libpmem.so.1's pmem_map_file mappings are not known to libpmem2.so.1, see libpmem.h) (as libpmem2 1.12.1 returns,
 * though its man page names PMEM2_E_MAPPING_EXISTS), or shares a page with one of another file or of anonymous memory
 * (a page is one mapping's, so one of the two names the wrong source; libpmem2 adopts it); PMEM2_E_ADDRESS_NULL,
 * PMEM2_E_LENGTH_OUT_OF_RANGE (len 0), PMEM2_E_GRANULARITY_NOT_SUPPORTED (no enumerator; or Device DAX at page
 * or cache-line granularity, or at byte without eADR, on a CPU without a cache-line write-back pmem2 can use; or a
 * Device DAX on no NVDIMM region, as for pmem2_map_new); PMEM2_E_INVALID_SHARING_VALUE
 * (a file's or Device DAX's range that is not all a shared mapping: a private mapping's stores never reach the file,
 * and its msync succeeds, so every persist would report success; libpmem2 1.12.1 adopts it; only the sharing is
 * checked, from /proc/self/maps where it can be read, not which file a shared mapping maps); -EINVAL for a PMEM_*
 * environment variable holding a value it does not take, as pmem2_map_new; -ENOMEM. Unlike libpmem2 1.12.1, whose
 * page-granularity persist on such a map never returns, a page-granularity persist here is msync(2) of the range like
 * any other map. Four granularities are replaced by one whose functions keep the promise
 * (pmem2_map_get_store_granularity() says which): byte of a file or Device DAX without eADR (the CPU caches not in
 * every NVDIMM region's persistence domain: byte's persists only fence) becomes cache line; page on Device DAX becomes
 * cache line (msync cannot persist Device DAX), cache line on a CPU without a cache-line write-back becomes page
 * (msync), and byte or cache line of a file that cannot be mapped with MAP_SYNC (not DAX: tmpfs, a disk's file system,
 * whose pages are the page cache's; or DAX on a file system that cannot keep a page fault's metadata durable:
 * virtio-pmem, virtiofs) or on a medium that keeps no store becomes page, as pmem2_map_new gives it: only msync makes
 * its stores durable (libpmem2 1.12.1 keeps the claim, and its persists report success over pages nothing wrote back).
 * A file that takes MAP_SYNC but was mapped without it is not told apart: that claim stays the caller's.
 */
int pmem2_map_from_existing(struct pmem2_map **map, const struct pmem2_source *src, void *addr, size_t len,
                            enum pmem2_granularity gran);

/*
 * Makes [ptr, ptr + size) of the map durable in the deepest persistence domain there is: after a persist, it also
 * flushes the memory controller's write-pending queues of the NVDIMM region, so the data no longer depends on ADR: for
 * a file by msync(2) of the range's pages (the kernel's fsync drains the region), for Device DAX by a write of the
 * region's sysfs deep_flush where it reads 1 (root only: -EACCES otherwise, where libpmem2 skips the flush and returns
 * 0). For page granularity it is msync(2). PMEM2_E_DEEP_FLUSH_RANGE if the range is not inside the map;
 * PMEM2_E_DAX_REGION_NOT_FOUND if the map is on DAX but its region cannot be found; PMEM2_E_NO_ACCESS if the map was
 * made without PMEM2_PROT_READ and PMEM2_PROT_WRITE and the range is still neither readable nor writable (the CPU's
 * write-back would fault there; libpmem2 crashes); PMEM2_E_NOSUPP for a map of an anonymous source (nothing is
 * durable there; as libpmem2 for pmem2_map_new()'s and byte-granularity pmem2_map_from_existing()'s, where it returns 0
 * for the other granularities), after the range check; -errno. A PMEM2_PRIVATE map of a file: 0 after the CPU's
 * write-back, as libpmem2 (its stores never reach the file: nothing there is durable, whatever this returns).
 */
int pmem2_deep_flush(struct pmem2_map *map, void *ptr, size_t size);

/* ---- Persistence functions; the getters never return NULL and return the same function for the same map ---- */

/* Each getter (and pmem2_map_get_address, _size, _store_granularity) first checks that `map` is a live handle, under
 * one process-wide lock (see "Arguments libpmem2 does not check"): get the functions once per map and keep them,
 * rather than per operation from many threads (libpmem2's man page says caching may not be necessary there). */

/* Makes [ptr, ptr + size) durable (flush, then drain). */
typedef void (*pmem2_persist_fn)(const void *ptr, size_t size);
/* Starts writing [ptr, ptr + size) back; durable only after a later drain. */
typedef void (*pmem2_flush_fn)(const void *ptr, size_t size);
/* Waits for this thread's earlier flushes. */
typedef void (*pmem2_drain_fn)(void);

pmem2_persist_fn pmem2_get_persist_fn(struct pmem2_map *map);
pmem2_flush_fn pmem2_get_flush_fn(struct pmem2_map *map);
pmem2_drain_fn pmem2_get_drain_fn(struct pmem2_map *map);

/* Flags of the memcpy / memmove / memset functions. */
#define PMEM2_F_MEM_NODRAIN (1U << 0)     /* skip the final drain */
#define PMEM2_F_MEM_NONTEMPORAL (1U << 1) /* prefer non-temporal stores */
#define PMEM2_F_MEM_TEMPORAL (1U << 2)    /* prefer ordinary stores + write-back */
#define PMEM2_F_MEM_WC (1U << 3)          /* write-combining hint */
#define PMEM2_F_MEM_WB (1U << 4)          /* write-back hint */
#define PMEM2_F_MEM_NOFLUSH (1U << 5)     /* neither flush nor drain */
#define PMEM2_F_MEM_VALID_FLAGS                                                                            \
  (PMEM2_F_MEM_NODRAIN | PMEM2_F_MEM_NONTEMPORAL | PMEM2_F_MEM_TEMPORAL | PMEM2_F_MEM_WC | PMEM2_F_MEM_WB | \
   PMEM2_F_MEM_NOFLUSH)

/* Copy / move / fill into the mapping and make the destination durable as `flags` say; return `pmemdest`. */
typedef void *(*pmem2_memmove_fn)(void *pmemdest, const void *src, size_t len, unsigned flags);
typedef void *(*pmem2_memcpy_fn)(void *pmemdest, const void *src, size_t len, unsigned flags);
typedef void *(*pmem2_memset_fn)(void *pmemdest, int c, size_t len, unsigned flags);

pmem2_memmove_fn pmem2_get_memmove_fn(struct pmem2_map *map);
pmem2_memcpy_fn pmem2_get_memcpy_fn(struct pmem2_map *map);
pmem2_memset_fn pmem2_get_memset_fn(struct pmem2_map *map);

/* ---- Errors ---- */

/* The message of the last failure in this thread (never cleared by a successful call; "" before any). The
 * buffer is the library's and stays valid until this thread's next failing call. */
const char *pmem2_errormsg(void);

/* Prints "<format, printf-style>: <pmem2_errormsg()>\n" to stderr in one call (just the message and a newline
 * for a NULL or empty format). */
void pmem2_perror(const char *format, ...)
#if defined(__GNUC__)
    __attribute__((__format__(__printf__, 1, 2)))
#endif
    ;

/* ---- pmem2 extensions (not in libpmem2) ---- */

/*
 * The sticky persistence error of `map`: 0 if no persist of this map has failed since the last
 * pmem2_map_clear_persist_error(), otherwise the first failure as -errno (-EIO, -ENOSPC, -EDQUOT, ...), its
 * description in pmem2_errormsg(). What can fail: a page-granularity persist (msync), and pmem2_deep_flush() of a
 * map of a file at any granularity (its msync); a write-back of Device DAX cache lines the mapping does not let the
 * CPU reach (-EFAULT); a failure seen through another map of the same file in this process is recorded here too. Two
 * errors mean that no persist of the map can be vouched for any more, and stay: in a forked child that could not map
 * it again through a file description of its own (the errno of that: -EACCES, -EMFILE, ...), and -ESTALE for a map
 * part of which was unmapped behind pmem2's back and mapped again by other code. -EINVAL for a NULL map.
 */
int pmem2_map_get_persist_error(struct pmem2_map *map);

/* Acknowledges the sticky error: returns it as pmem2_map_get_persist_error() does, and clears it, but for the two
 * errors above that stay (the map can vouch for no persist: delete it, and map the file again). */
int pmem2_map_clear_persist_error(struct pmem2_map *map);

/*
 * Where another thread may acknowledge failures (pmem2_map_clear_persist_error()) between a thread's persists and
 * its read of the error: a mark taken before the stores the thread persists, and afterwards
 * pmem2_map_get_persist_error_since(map, mark), which is pmem2_map_get_persist_error() if that is not 0, else the last
 * failure recorded on the map since the mark, even one acknowledged meanwhile (as -errno), else 0. The mark is a count
 * of the map's failures (it only grows): one above it is -EINVAL; one of another map's cannot be told from this map's.
 * For a NULL map the mark is 0 and pmem2_map_get_persist_error_since() -EINVAL; for a stale handle 0 and
 * PMEM2_E_MAPPING_NOT_FOUND.
 */
uint64_t pmem2_map_get_persist_failure_mark(struct pmem2_map *map);
int pmem2_map_get_persist_error_since(struct pmem2_map *map, uint64_t mark);

#ifdef __cplusplus
}
#endif

#endif /* PMEM2_C_LIBPMEM2_H_ */
