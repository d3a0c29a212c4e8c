/*
 * Copyright 2026 The pmem2 Authors.
 *
 * pmem2/c/libpmem.h
 * -----------------------------------------------------------------------------
 *
 * The C interface of PMDK's libpmem 1.x for Linux on pmem2's engine: the same names, signatures, flags and
 * version macros, so a program (or a library such as libpmemobj) written against libpmem compiles against this
 * header unchanged and runs on libpmem.so.1 built from it. Valid C99 and C++.
 *
 * libpmem's model is raw pointers: pmem_map_file() maps a file and says whether it is persistent memory; the
 * program then persists ranges with pmem_persist() (persistent memory: CPU cache write-back and a fence) or
 * pmem_msync() (anything else: msync(2)), and copies with pmem_memcpy() and friends. The pmem_* flush and copy
 * functions assume persistent memory: on a page-cache file they do not make data durable; use pmem_msync().
 *
 * Example:
 *
 *   size_t len;
 *   int is_pmem;
 *   char *p = pmem_map_file("/mnt/pmem/f", 1 << 20, PMEM_FILE_CREATE, 0600, &len, &is_pmem);
 *   if (p == NULL) { perror(pmem_errormsg()); return 1; }
 *   if (is_pmem) {
 *     pmem_memcpy_persist(p, "hello", 5);
 *   } else {
 *     memcpy(p, "hello", 5);
 *     if (pmem_msync(p, 5) != 0) ...;  // the write-back failed: the data may be lost
 *   }
 *   pmem_unmap(p, len);
 *
 * Errors: functions that return a pointer return NULL, functions that return int return -1, and set errno;
 * pmem_errormsg() then describes the failure (per thread). The void functions cannot fail, except that a
 * failed write-back of a page-cache mapping can only be seen through pmem_msync(): it returns -1 with the
 * errno of any write-back failure of that mapping since it was mapped, not only its own msync's (see "The
 * error contract" in pmem2/map/map.h: Linux reports a failure once, and a later successful msync proves
 * nothing about the lost pages). That holds for memory a pmem2 mapping holds (pmem_map_file's, or a C++ Map's); on
 * memory none holds (an application's own mmap) pmem_msync returns only its own msync's answer. fork(): as a C++
 * Map's, a pmem_map_file mapping of a regular file is mapped again in a forked child, before fork() returns there,
 * through a file description of the child's own, so that parent and child each hear of a write-back failure (the
 * kernel tells one sync per description). Since a caller may release the mapping with munmap(2), which pmem2 does
 * not see, it keeps no descriptor of the file open for that (one would keep the file, and a deleted file's blocks,
 * until the process ends): the child opens the file by the name it was mapped by (as the kernel gave it then:
 * absolute, symbolic links resolved; of the names the file's mappings were made by, hard links being names too, the
 * newest that still leads to it), and only if that name still leads to the same file (device and inode), a regular
 * one, no symbolic link followed at its end; it looks each name up without opening it first, so nothing that took
 * the name is opened. Where no name leads to the file any more (renamed, unlinked or replaced since, a directory on
 * the way gone, or created with PMEM_FILE_TMPFILE; also, not told apart, a chroot(2) or another mount namespace since
 * the mapping was made), parent and child share the description as before, without an error, and the kernel tells
 * only whichever of them syncs first. A child that cannot tell (a directory on the way it may no longer search:
 * EACCES; another error of the lookup) or finds the file but cannot open or map it (permissions taken away since,
 * EMFILE, ENOMEM, /proc/self/maps unreadable) fails every pmem_msync of the mapping from then on (errno of the
 * failure, e.g. EACCES): nothing it persists there can be vouched for. Only what is still the mapping in the child
 * is mapped again, and the file is opened only if /proc/self/maps shows a shared mapping at the mapping's file
 * offsets in its range (or through a C++ Map's handle, while a Map of the file lives): a range the caller released
 * with munmap(2) and left empty or used otherwise is left alone and its file not opened, unless another file is
 * mapped shared there at those offsets (then the file is opened and closed again, and that mapping left alone; an
 * open that fails there, e.g. EWOULDBLOCK for another process's lease, fails the mapping's pmem_msync in the child
 * as above). The child pays two looks at /proc/self/maps (on kernels before 6.11, without
 * PROCMAP_QUERY, two reads of all of it; the second only where a file is to be opened), a lookup, an open and a
 * one-page probe mapping per file, and an mmap and an mremap per mapping (pmem2/map/map.h, "fork()").
 *
 * Threads: no function here is a pthread cancellation point; a request pending during a call acts at the thread's
 * next cancellation point after it returns (a log line is written with the thread's cancellation disabled).
 *
 * Memory: pmem_map_file, pmem_unmap, pmem_msync, pmem_deep_drain, pmem_deep_persist and pmem_has_auto_flush
 * return NULL or -1 with errno ENOMEM ("out of memory") when they cannot allocate what they need, having mapped,
 * unmapped and created nothing; a pmem_msync that fails so has still synced, or not, but never reports success
 * it cannot vouch for. pmem_is_pmem allocates nothing. Not covered: the first call of the process to pmem_persist,
 * pmem_flush, pmem_deep_flush, pmem_drain or a copy function chooses the functions, which allocates; a failure
 * there terminates the program. Nor glibc's own: in a libpmem.so.1 loaded with dlopen(), a thread's first error
 * message makes glibc allocate that thread's copy of the (thread-local) message buffer, and glibc aborts if it
 * cannot.
 *
 * Environment (read once, at the first call that needs it): PMEM_IS_PMEM_FORCE (0/1: pmem_is_pmem and
 * pmem_map_file's *is_pmemp always false / true; read as libpmem reads it, with atoi(3): "", "no" and " 0" are 0,
 * "01" and "1x" are 1, any other number no force), PMEM_NO_CLWB, PMEM_NO_CLFLUSHOPT, PMEM_NO_FLUSH, PMEM_NO_MOVNT,
 * PMEM_MOVNT_THRESHOLD (as in pmem2/arch/env_overrides.h), PMEM_MMAP_HINT (pmem_map_file maps in the first
 * free range at or above it, 2 MiB-aligned (1 GiB for 2 GiB and more; the hint itself rounded up), as libpmem
 * places it; hexadecimal, "0x" optional, as libpmem reads it; 0, or no number: no hint, where libpmem searches from
 * its first page up), PMEM_LOG_LEVEL (a whole decimal number, else 0, where PMDK's debug build reads it with atoi(3):
 * 1: errors, 2: maps and unmaps, 3: also every pmem_map_file call with its arguments, before it is checked; PMDK's
 * release build reads no log variable) and PMEM_LOG_FILE (where the log goes,
 * default stderr; a trailing "-" appends the process id). None of these (nor pmem2's own) is read in a set-user-ID or
 * set-group-ID program (nor one given capabilities: secure_getenv(3), as PMDK reads them), where whoever runs it
 * would choose how its persists work, its mappings' addresses, or a file it creates or appends to with its
 * privileges: defaults apply.
 * Unlike PMDK's libpmem, pmem2's own PMEM2_FORCE_GRANULARITY (byte, cache_line, page) applies to pmem_map_file,
 * when it maps the file: it decides the mapping's granularity and so *is_pmemp and pmem_is_pmem. Forcing byte or
 * cache_line on a file that is not persistent memory makes the application skip pmem_msync, so nothing it
 * writes is durable: a testing aid, like PMEM_IS_PMEM_FORCE=1. A value that names no granularity (and an
 * unparsable PMEM_* variable) makes pmem_map_file fail with EINVAL, naming it.
 *
 * Thread safety: every function may be called from any thread. pmem_drain() orders the calling thread's
 * earlier flushes.
 *
 * One engine per program or shared object: what this header says of pmem2's own maps (pmem_is_pmem sees them,
 * pmem_msync writes a Device DAX map back, pmem2_map_from_existing refuses a pmem_map_file range) holds where
 * libpmem and pmem2 share one copy of the engine: a program linked with //pmem2/c:libpmem and //pmem2/c:c (or
 * the C++ library). The shared objects libpmem.so.1 and libpmem2.so.1 each carry their own copy: with both loaded
 * (e.g. PMDK's libpmemobj on our libpmem.so.1 beside our libpmem2.so.1) neither sees the other's mappings, and
 * pmem_is_pmem answers 0, and pmem_msync fails with EINVAL over a Device DAX map, for pmem2_map_new's maps. Nor do
 * they share failure records: a write-back failure of a file that one library's msync takes (the kernel reports it to
 * that sync only) is recorded on that library's mappings of the file, and the other library's persists of the same
 * file may report success after it (libpmem2 and libpmem share nothing either): map one file through one of them.
 */

#ifndef PMEM2_C_LIBPMEM_H_
#define PMEM2_C_LIBPMEM_H_

#ifndef LIBPMEM_H
#define LIBPMEM_H 1 /* PMDK's include guard: a program that includes both gets one */
#endif

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The smallest part of a pool set PMDK's libraries accept (2 MiB). */
#define PMEM_MIN_PART ((size_t)(1024 * 1024 * 2))

/* pmem_map_file() flags; see pmem2/map_file/map_file.h for what each does. */
#define PMEM_FILE_CREATE (1 << 0)  /* create the file, or resize an existing one, to len bytes */
#define PMEM_FILE_EXCL (1 << 1)    /* with CREATE: fail with EEXIST if it exists */
#define PMEM_FILE_SPARSE (1 << 2)  /* with CREATE: ftruncate only, no block allocation */
#define PMEM_FILE_TMPFILE (1 << 3) /* with CREATE: an unnamed file in the folder `path` */

/*
 * Maps all of the file `path` (opened or created as `flags` say) and returns its address; the length in
 * *mapped_lenp and whether it is persistent memory in *is_pmemp (either may be NULL; untouched on failure).
 * Without PMEM_FILE_CREATE `len` must be 0. NULL with errno on failure (EINVAL for flags or lengths that do
 * not go together, or an empty file; ENOENT, EEXIST, EISDIR, ENOTDIR, EACCES, ENOSPC, ... from the system).
 * A missing file is made unnamed and linked at `path` only once mapped, so a call that fails leaves none behind,
 * and one that another caller created at `path` meanwhile is mapped (EEXIST with PMEM_FILE_EXCL); EIO if `path` no
 * longer names it right after the link (replaced meanwhile). On a file system without O_TMPFILE, without /proc, or
 * where the link fails for another reason than EEXIST (EPERM, EXDEV, ENOSPC, an LSM's denial), it is made by name
 * first and, as in libpmem, removed on failure only with PMEM_FILE_EXCL (map_file.h). Its mode is `mode` under the
 * umask (or the folder's default ACL), as with open(O_CREAT); its SELinux label is the folder's rule's, never a
 * name-based type_transition's. An existing file PMEM_FILE_CREATE grows stays at len if a later step fails, as in
 * libpmem (another process may already have mapped and written the grown part); one it shrinks keeps its old size
 * (libpmem leaves it cut short): the shrink waits for a trial mapping, so only a mapping that fails after it
 * (address space, memory) leaves the file shrunk.
 * Device DAX (/dev/daxX.Y), as in libpmem: PMEM_FILE_CREATE and PMEM_FILE_SPARSE are accepted and ignored,
 * EXCL and TMPFILE are EINVAL, `len` must be 0 or the device's exact size, and all of the device is mapped;
 * EINVAL also on a CPU without a cache-line write-back pmem2 can use, unless the platform has eADR (msync
 * cannot persist Device DAX), and for a Device DAX on no NVDIMM region (volatile memory: hmem's soft-reserved
 * ranges, a CXL RAM region).
 */
void *pmem_map_file(const char *path, size_t len, int flags, mode_t mode, size_t *mapped_lenp, int *is_pmemp);

/*
 * Deletes all the mappings in [addr, addr + len), as munmap(2) does: the pmem_map_file() mappings the range
 * covers whole are released (a range may start before them, end after them, or anywhere in their last page, as
 * munmap releases whole pages, and cover several), and the rest of the range is munmap'ed. -1 with errno: EINVAL,
 * with nothing unmapped, if the range covers a pmem_map_file() mapping only in part (libpmem unmaps that part; unmap
 * all of it), or holds a pmem2 map pmem_map_file() did not make (pmem2_map_new's, a C++ Map: delete it with
 * pmem2_map_delete; libpmem knows none) or part of a pmem2 reservation (pmem2_vm_reservation_new's, a C++
 * VmReservation, also one deleted whose maps still hold its range: libpmem would unmap its placeholder, and a
 * mapping made in the hole would later be unmapped under its owner); EINVAL for length 0, an unaligned addr, or a
 * range past the top of the address space; munmap's errno. A pmem_map_file() mapping the application released with
 * munmap(2) instead is forgotten, without unmapping anything, when pmem_map_file() maps over its addresses.
 */
int pmem_unmap(void *addr, size_t len);

/* 1 if every byte of [addr, addr + len) lies in live mappings whose stores a flush makes durable, else 0:
 * pmem_map_file() mappings of persistent memory, and pmem2's own maps of a shared file at byte or cache-line
 * granularity in this process (pmem2_map_new(), pmem2_map_from_existing() at the granularity it settled on: a file that
 * cannot be mapped with MAP_SYNC is page whatever its caller declared; or C++; not anonymous or private ones; in one
 * copy of the engine, see above). 0 for len 0 (as libpmem, also with PMEM_IS_PMEM_FORCE=1). PMEM_IS_PMEM_FORCE=1 makes
 * it 1 for any other range (0: 0). A pmem_map_file() mapping released with munmap(2) instead of pmem_unmap() is not
 * seen to go: its addresses count as it did until pmem_map_file(), a pmem2 map or a pmem2 reservation is placed over
 * them (another mmap(2) there is not seen, and pmem2_map_from_existing() of memory there is refused as overlapping a
 * mapping). Release such mappings with pmem_unmap(). */
int pmem_is_pmem(const void *addr, size_t len);

/* Makes [addr, addr + len) of persistent memory durable: flush, then drain. */
void pmem_persist(const void *addr, size_t len);

/* msync(MS_SYNC) of the pages holding [addr, addr + len): for any mapping. 0, or -1 with errno (see Errors). Device DAX
 * has no fsync, so msync fails there with EINVAL (libpmem's pmem_msync returns that); over memory that pmem2 mappings
 * of Device DAX hold (pmem_map_file's, pmem2 maps' of the same engine), the range is written back from the CPU caches
 * instead, as pmem_persist does, and 0 returned (unless a failure recorded earlier is still held): durable, and no
 * failure recorded on those mappings (EFAULT where such a mapping allows neither reading nor writing: the write-back
 * would fault; a range over other memory too has that memory synced apart, see pmem2/map/page_persist.h). len 0
 * syncs nothing and returns 0 (libpmem msyncs the page holding an unaligned addr: -1 with ENOMEM where it is not
 * mapped). */
int pmem_msync(const void *addr, size_t len);

/* 1 if the platform writes CPU caches back on power loss for every NVDIMM (eADR), else 0; -1 with errno ENOMEM if
 * its first call cannot allocate (see Memory). Read once; 0 from the time a mapping's creation (pmem_map_file, a
 * pmem2 map) finds a region that does not (one added since: a CXL or hot-added NVDIMM region), and pmem_persist and
 * the other flushing functions write cache lines back from then on (libpmem reads it once, and keeps skipping the
 * flush for such a region). */
int pmem_has_auto_flush(void);

/* Starts writing [addr, addr + len) back from the CPU caches; durable after pmem_drain(). */
void pmem_flush(const void *addr, size_t len);

/* As pmem_flush(), but also when PMEM_NO_FLUSH=1 or the platform has auto flush. */
void pmem_deep_flush(const void *addr, size_t len);

/* After pmem_deep_flush(), as libpmem 1.12.1: where all of the range is persistent memory, a fence, then for a
 * Device DAX its NVDIMM region drains its write-pending queues (sysfs deep_flush; best effort: writing it needs
 * root, and libpmem ignores its failure too) and for a file on fsdax pmem_msync() (the kernel's fsync flushes the
 * device, without root); anywhere else, pmem_msync(). 0, or -1 with errno. */
int pmem_deep_drain(const void *addr, size_t len);

/* pmem_deep_flush() then pmem_deep_drain(). 0, or -1 with errno. */
int pmem_deep_persist(const void *addr, size_t len);

/* Waits for the calling thread's earlier flushes. */
void pmem_drain(void);

/* 1 if the CPU has a separate hardware drain instruction; 0 on x86-64, where the fence suffices. */
int pmem_has_hw_drain(void);

/* Copies (like memmove / memcpy / memset) and makes the destination durable before returning; return pmemdest.
 * _nodrain: without the final drain (call pmem_drain() later). */
void *pmem_memmove_persist(void *pmemdest, const void *src, size_t len);
void *pmem_memcpy_persist(void *pmemdest, const void *src, size_t len);
void *pmem_memset_persist(void *pmemdest, int c, size_t len);
void *pmem_memmove_nodrain(void *pmemdest, const void *src, size_t len);
void *pmem_memcpy_nodrain(void *pmemdest, const void *src, size_t len);
void *pmem_memset_nodrain(void *pmemdest, int c, size_t len);

#define PMEM_F_MEM_NODRAIN (1U << 0)     /* skip the final drain */
#define PMEM_F_MEM_NONTEMPORAL (1U << 1) /* prefer non-temporal stores */
#define PMEM_F_MEM_TEMPORAL (1U << 2)    /* prefer ordinary stores + write-back */
#define PMEM_F_MEM_WC (1U << 3)          /* write-combining hint */
#define PMEM_F_MEM_WB (1U << 4)          /* write-back hint */
#define PMEM_F_MEM_NOFLUSH (1U << 5)     /* neither flush nor drain */
#define PMEM_F_MEM_VALID_FLAGS                                                                                \
  (PMEM_F_MEM_NODRAIN | PMEM_F_MEM_NONTEMPORAL | PMEM_F_MEM_TEMPORAL | PMEM_F_MEM_WC | PMEM_F_MEM_WB | \
   PMEM_F_MEM_NOFLUSH)

/* The copies with flags; bits outside PMEM_F_MEM_VALID_FLAGS are ignored. */
void *pmem_memmove(void *pmemdest, const void *src, size_t len, unsigned flags);
void *pmem_memcpy(void *pmemdest, const void *src, size_t len, unsigned flags);
void *pmem_memset(void *pmemdest, int c, size_t len, unsigned flags);

/* The libpmem API version this library implements. */
#define PMEM_MAJOR_VERSION 1
#define PMEM_MINOR_VERSION 1

/* NULL if this library provides version major_required.minor_required or a compatible later one (same major,
 * minor at least), else a message saying why not. Call as pmem_check_version(PMEM_MAJOR_VERSION,
 * PMEM_MINOR_VERSION). */
const char *pmem_check_version(unsigned major_required, unsigned minor_required);

/* The last error message of the calling thread. */
const char *pmem_errormsg(void);

#ifdef __cplusplus
}
#endif

#endif /* PMEM2_C_LIBPMEM_H_ */
