// Copyright 2026 The pmem2 Authors.
//
// testing/scratch_fs.h
// -----------------------------------------------------------------------------
//
// Test-only scratch file systems: real, small file systems that can be filled up, so that tests can reproduce
// persistence errors and SIGBUS at the operating-system boundary instead of faking them.
//
//   * `ScratchFs::Tmpfs(size)`: a tmpfs of `size` bytes. Once full, a store to a hole of a MAP_SHARED mapping
//     raises SIGBUS and write(2) / posix_fallocate(3) fail with ENOSPC.
//   * `ScratchFs::Ext4OnFailingLoop(image, backing)`: an ext4 file system that believes it has `image` bytes,
//     on a loop device whose backing file is a sparse image on a tmpfs of only `backing` bytes. Allocation
//     and stores succeed; the kernel's write-back fails once the backing tmpfs is full, and msync(2) /
//     fsync(2) report it (ENOSPC or EIO): "the device's write-back failed".
//
// Both need root (mount(2), loop devices). Where the machine cannot provide one, the factory returns a non-OK
// status whose message is a one-line reason, meant for
//
//   absl::StatusOr<std::unique_ptr<ScratchFs>> fs = ScratchFs::Tmpfs(1 << 20);
//   if (!fs.ok()) GTEST_SKIP() << fs.status().message();
//   ScopedFd fd(open((*fs)->Join("file").c_str(), O_RDWR | O_CREAT, 0600));
//
// Status codes: kFailedPrecondition when the machine cannot do it (not root, no /dev/loop-control or no free
// loop device, mount(2) refused, no mkfs.ext4, no ext4 in the kernel); kInvalidArgument for sizes that
// cannot work (e.g. a backing tmpfs too small for mkfs.ext4's metadata); kInternal for anything unexpected.
//
// Mount namespace: the first factory call (as root) moves its thread into a mount namespace of its own, with
// every mount private (unshare(CLONE_NEWNS), then / made MS_REC | MS_PRIVATE), so that the mounts are seen by
// this process only and disappear with it however it ends: a sanitizer's abort, SIGSEGV or a timeout's SIGKILL
// runs no destructor, and under Bazel's processwrapper-sandbox the caller's namespace is the machine's, where
// they would stay mounted for good. The loop devices are auto-clear, so they are released with the mounts. Only
// the empty mkdtemp folders below /tmp stay behind after such a death. If unshare(2) is refused (EPERM in some
// containers), mounts are made in the caller's namespace, as before, with a note on stderr.
//
// Threads: unshare(2) moves only the calling thread and the threads and processes it starts later, never the
// threads that already exist (it also gives that thread its own working directory: CLONE_FS). So call every
// factory, and destroy every ScratchFs, on one thread, normally the test's main thread, and use the paths
// there, in threads that thread starts afterwards, or in forked children (death tests). A factory called on a
// thread outside that namespace fails with kInternal and ADD_FAILURE(); a thread started before the first call
// would see, at path(), only the empty folder below the mount.
//
// Every mount point is a fresh mkdtemp(3) folder below /tmp (named pmem2_scratch.XXXXXX, and the tmpfs source
// is named "pmem2_scratch"), and the destructor removes everything the object created. A factory that fails has
// already undone whatever it had set up.
//
// Death tests: use GoogleTest's "fast" style (`GTEST_FLAG_SET(death_test_style, "fast")`) in a test that holds a
// ScratchFs. The "threadsafe" style runs the test again in a child that dies without destructors, so its own
// ScratchFs would stay mounted for good; there the factories fail with kInternal and ADD_FAILURE() instead.
//
// Sizes: keep them small (a few MiB); tmpfs pages are RAM, and the tests run several at once.
//
// Thread safety: a ScratchFs is not synchronised; the factories may run in different processes at once (a loop
// device taken by someone else in between is retried with the next free one), and within a process on the one
// thread described above.

#ifndef PMEM2_TESTING_SCRATCH_FS_H_
#define PMEM2_TESTING_SCRATCH_FS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pmem2 {
namespace testing {

class ScratchFs {
 public:
  // A tmpfs of `size_bytes` (rounded up to whole pages by the kernel) mounted at a fresh folder below /tmp.
  // Root only.
  static absl::StatusOr<std::unique_ptr<ScratchFs>> Tmpfs(uint64_t size_bytes);

  // An ext4 file system of `image_bytes` (4 KiB blocks, no journal, no reserved blocks, errors=continue) on a
  // loop device whose backing image is a sparse file on a tmpfs of only `backing_bytes`. ext4 believes it has
  // `image_bytes` of space, so stores and block allocation succeed, but write-back fails once the backing tmpfs
  // is full, reported by msync(2) / fsync(2) as ENOSPC or EIO. With `backing_bytes >= image_bytes` it is a
  // plain, small ext4 (write-back never fails). Root only; needs loop devices and mkfs.ext4 (e2fsprogs).
  // Fails with kInvalidArgument if mkfs.ext4's metadata leaves less than 64 KiB of the backing tmpfs free.
  static absl::StatusOr<std::unique_ptr<ScratchFs>> Ext4OnFailingLoop(uint64_t image_bytes, uint64_t backing_bytes);

  // Unmounts (retrying while busy; lazily with MNT_DETACH as a last resort), detaches the loop device and
  // removes the folders. A mount or loop device it cannot release is reported with ADD_FAILURE().
  ~ScratchFs();
  ScratchFs(const ScratchFs&) = delete;
  ScratchFs& operator=(const ScratchFs&) = delete;

  // The mount point.
  const std::string& path() const { return path_; }
  // `path()/name`.
  std::string Join(absl::string_view name) const;
  // The loop device ("/dev/loop3", or a node made next to the mount point when /dev lacks it); empty for a
  // tmpfs.
  const std::string& loop_device() const { return loop_device_; }

  // Fills the file system completely: creates (or truncates) `Join(file_name)`, writes data to it until
  // ENOSPC, fsyncs, and repeats while the fsync gave space back (ext4's delayed allocation reserves more than
  // it finally uses). Afterwards an ordinary write(2) or posix_fallocate(3) that needs a new block fails with
  // ENOSPC; nothing is left free on purpose (ext4 keeps only its own small reserve for metadata, which user
  // data cannot take). Delete or truncate the file to free space again. Returns the bytes written.
  // On an Ext4OnFailingLoop whose backing is smaller than the image, the fsync reports the failed write-back
  // and Fill returns that error (kDataLoss).
  absl::StatusOr<uint64_t> Fill(const std::string& file_name);

  // Syncs the file open as `fd` (a descriptor of its own, as the kernel's flusher thread would sync it) until nothing
  // is left to write: on an Ext4OnFailingLoop the pages whose write-back failed are dropped from the page cache. The
  // failed attempts: 0 if the device did not fail, kMaxFlushes if it kept failing.
  static constexpr int kMaxFlushes = 20;
  static int FlushUntilClean(int fd);

 private:
  ScratchFs() = default;

  std::string root_;  // the mkdtemp folder; removed (recursively, not across mounts) last
  std::string path_;  // the mount point handed to tests
  bool path_mounted_ = false;
  std::string backing_;  // Ext4OnFailingLoop: the tmpfs holding the image
  bool backing_mounted_ = false;
  std::string loop_device_;
  int loop_fd_ = -1;  // open on loop_device_ while it is bound to the image
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_SCRATCH_FS_H_
