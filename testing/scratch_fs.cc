// Copyright 2026 The pmem2 Authors.

#include "testing/scratch_fs.h"

#include <fcntl.h>
#include <ftw.h>
#include <linux/loop.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "testing/temp_files.h"

extern char** environ;

namespace pmem2 {
namespace testing {

namespace {

// Below this much free space in the backing tmpfs after mkfs.ext4, mounting (which writes the superblock)
// might already fail: refuse such sizes instead of handing out a file system that is broken from the start.
constexpr uint64_t kMinBackingHeadroom = 64 << 10;
// ext4 rejects (or mkfs.ext4 refuses) much smaller images; 1 MiB keeps the error message ours.
constexpr uint64_t kMinExt4Image = 1 << 20;
// How many times a loop device that was free but got taken by someone else before we bound it is retried.
constexpr int kLoopAttempts = 16;
// Unmounting a busy file system is retried this many times, kRetryNanos apart, before detaching it lazily.
constexpr int kUnmountAttempts = 50;
constexpr long kRetryNanos = 10 * 1000 * 1000;

// "ENOSPC (No space left on device)"; thread-safe, unlike strerror().
std::string ErrnoText(int err) {
  const char* name = strerrorname_np(err);
  const char* desc = strerrordesc_np(err);
  return absl::StrCat(name != nullptr ? name : absl::StrCat("errno ", err), " (",
                      desc != nullptr ? desc : "unknown error", ")");
}

// The machine cannot do it: callers skip.
absl::Status Unavailable(absl::string_view what) {
  return absl::FailedPreconditionError(absl::StrCat("ScratchFs: ", what));
}

absl::Status Internal(absl::string_view what) { return absl::InternalError(absl::StrCat("ScratchFs: ", what)); }

absl::Status RequireRoot(absl::string_view factory) {
  if (geteuid() == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(factory, " needs root (mount(2), loop devices); running as euid ", geteuid()));
}

// The mount namespace the calling thread is in (the inode of /proc/thread-self/ns/mnt), or 0 if unknown.
ino_t ThreadMountNamespace() {
  struct stat st;
  return stat("/proc/thread-self/ns/mnt", &st) == 0 ? st.st_ino : 0;
}

// The private mount namespace the first factory call moved its thread into; 0 if it could not (then mounts are
// made where the caller is, as before). Written once, inside std::call_once, before any reader after it.
ino_t private_mount_namespace = 0;

// On the first call, moves the calling thread into a mount namespace of its own in which every mount is private,
// so that the file systems made afterwards are seen by this process only and go away with it however it ends (a
// sanitizer's abort, SIGSEGV, a timeout's SIGKILL skip the destructor; mounts in the machine's namespace would stay
// for good). unshare(2) moves only the calling thread and what it starts later, not the threads that exist: later
// calls on a thread outside that namespace would mount where the caller's paths do not lead, so they fail.
absl::Status UseAPrivateMountNamespace(absl::string_view factory) {
  static std::once_flag once;
  std::call_once(once, [] {
    if (unshare(CLONE_NEWNS) != 0) {
      // EPERM in some containers: mounting in the caller's namespace still works, only a crash leaks.
      const int err = errno;
      std::fprintf(stderr, "ScratchFs: unshare(CLONE_NEWNS): %s; mounting in this process's mount namespace\n",
                   ErrnoText(err).c_str());
      return;
    }
    // Without this, mounts below a shared mount point (systemd makes / shared) would still propagate to the
    // namespace the process came from, and stay there.
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      const int err = errno;
      std::fprintf(stderr, "ScratchFs: making / private in a new mount namespace: %s; mounts propagate back\n",
                   ErrnoText(err).c_str());
      return;
    }
    private_mount_namespace = ThreadMountNamespace();
  });
  if (private_mount_namespace == 0 || ThreadMountNamespace() == private_mount_namespace) return absl::OkStatus();
  const std::string why = absl::StrCat(
      factory, " was called on a thread outside the private mount namespace that the first call moved its own ",
      "thread into (threads started before that call stay outside); call the factories from one thread, the ",
      "test's main thread, and use the paths there or on threads it starts afterwards");
  ADD_FAILURE() << why;
  return absl::InternalError(why);
}

// A death test in GoogleTest's "threadsafe" style runs the whole test again in a new process, and that process
// ends inside the death statement without running destructors: a file system made there stays mounted (its
// tmpfs pages held in RAM, its loop device taken) until someone unmounts it by hand. GoogleTest sets the
// internal flag only in such a re-run child; a "fast" child is a fork that shares the parent's mounts.
absl::Status RefuseInAReRunDeathTestChild(absl::string_view factory) {
  const std::string death_test = GTEST_FLAG_GET(internal_run_death_test);
  if (death_test.empty()) return absl::OkStatus();
  const std::string why = absl::StrCat(
      factory, " was called in a death-test child that re-ran the test from its start (death_test_style ",
      "\"threadsafe\", --gtest_internal_run_death_test=", death_test,
      "): the child dies without destructors and its mount would outlive it; set ",
      "GTEST_FLAG_SET(death_test_style, \"fast\") before the death test");
  ADD_FAILURE() << why;
  std::fprintf(stderr, "%s\n", why.c_str());  // a death test shows the child's stderr, not its failures
  return absl::InternalError(why);
}

// What both factories check first, in this order: not in a re-run death-test child (nothing there may mount),
// root, then the private mount namespace.
absl::Status Preflight(absl::string_view factory) {
  if (absl::Status child = RefuseInAReRunDeathTestChild(factory); !child.ok()) return child;
  if (absl::Status root = RequireRoot(factory); !root.ok()) return root;
  return UseAPrivateMountNamespace(factory);
}

void SleepForRetry() {
  struct timespec ts = {0, kRetryNanos};
  nanosleep(&ts, nullptr);
}

absl::StatusOr<std::string> MakeRootFolder() {
  std::string templ = "/tmp/pmem2_scratch.XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    const int err = errno;
    return Internal(absl::StrCat("mkdtemp(", templ, "): ", ErrnoText(err)));
  }
  return templ;
}

absl::Status MakeFolder(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0) {
    const int err = errno;
    return Internal(absl::StrCat("mkdir(", path, "): ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

absl::Status MountTmpfs(const std::string& path, uint64_t size_bytes) {
  const std::string options = absl::StrCat("size=", size_bytes, ",mode=0700");
  if (mount("pmem2_scratch", path.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    const int err = errno;
    if (err == EPERM || err == EACCES) {
      return Unavailable(
          absl::StrCat("mount(2) of a tmpfs was refused: ", ErrnoText(err), " (no CAP_SYS_ADMIN in this container?)"));
    }
    if (err == ENODEV) return Unavailable("the kernel has no tmpfs");
    return Internal(absl::StrCat("mount(tmpfs, ", path, ", ", options, "): ", ErrnoText(err)));
  }
  return absl::OkStatus();
}

enum class Unmounted { kNow, kLazily, kNot };

// Unmounts `path`, retrying while it is busy (up to `attempts` times), then lazily (MNT_DETACH).
Unmounted Unmount(const std::string& path, int attempts) {
  int err = 0;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (umount2(path.c_str(), UMOUNT_NOFOLLOW) == 0) return Unmounted::kNow;
    err = errno;
    if (err == EINVAL || err == ENOENT) return Unmounted::kNow;  // not (or no longer) a mount point
    if (err != EBUSY) break;
    SleepForRetry();
  }
  if (umount2(path.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) == 0) {
    std::fprintf(stderr, "ScratchFs: %s stayed busy (%s); detached it lazily\n", path.c_str(), ErrnoText(err).c_str());
    return Unmounted::kLazily;
  }
  const int detach_err = errno;
  ADD_FAILURE() << "ScratchFs: cannot unmount " << path << ": " << ErrnoText(err)
                << ", lazily: " << ErrnoText(detach_err);
  return Unmounted::kNot;
}

// The first executable `name` in /usr/sbin, /sbin or $PATH (Bazel's test PATH has no sbin folders).
std::string FindProgram(const std::string& name) {
  std::vector<std::string> dirs = {"/usr/sbin", "/sbin"};
  if (const char* path = std::getenv("PATH")) {
    for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) dirs.emplace_back(dir);
  }
  for (const std::string& dir : dirs) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Runs `argv` (argv[0] a full path) without a shell, stdin from /dev/null; returns its stdout and stderr
// merged if it exits with 0, else an error quoting them on one line.
absl::StatusOr<std::string> Run(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int err = errno;
    return Internal(absl::StrCat("pipe2: ", ErrnoText(err)));
  }
  ScopedFd read_end(pipe_fds[0]);
  ScopedFd write_end(pipe_fds[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  absl::Cleanup destroy_actions = [&actions] { posix_spawn_file_actions_destroy(&actions); };
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);

  pid_t pid;
  const int spawn_err = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  if (spawn_err != 0) return Internal(absl::StrCat("posix_spawn(", argv[0], "): ", ErrnoText(spawn_err)));
  // Whatever happens below, the child is reaped before returning.
  int wait_status = 0;
  bool reaped = false;
  auto reap = [&] {
    while (!reaped) {
      if (waitpid(pid, &wait_status, 0) == pid || errno != EINTR) reaped = true;
    }
  };
  absl::Cleanup reap_child = reap;
  write_end = ScopedFd();  // so that reading sees EOF when the child exits

  std::string output;
  char buffer[4096];
  while (true) {
    const ssize_t n = read(read_end.get(), buffer, sizeof(buffer));
    if (n > 0) {
      output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  reap();
  std::string one_line =
      absl::StrJoin(absl::StrSplit(absl::StripAsciiWhitespace(output), '\n', absl::SkipWhitespace()), "; ");
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return output;
  const std::string how = WIFEXITED(wait_status) ? absl::StrCat("exited with ", WEXITSTATUS(wait_status))
                                                 : absl::StrCat("died of signal ", WTERMSIG(wait_status));
  return Internal(absl::StrCat(argv[0], " ", how, one_line.empty() ? "" : ": ", one_line));
}

uint64_t FreeBytes(const std::string& path) {
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

// The device node of loop device `n`: /dev/loopN, or, where this container's /dev lacks it, a node made in
// `folder` with the numbers sysfs gives.
absl::StatusOr<std::string> LoopNode(int n, const std::string& folder) {
  std::string dev = absl::StrCat("/dev/loop", n);
  struct stat st;
  if (stat(dev.c_str(), &st) == 0) {
    if (!S_ISBLK(st.st_mode)) return Unavailable(absl::StrCat(dev, " is not a block device"));
    return dev;
  }
  const int stat_err = errno;
  if (stat_err != ENOENT) return Internal(absl::StrCat("stat(", dev, "): ", ErrnoText(stat_err)));
  const std::string sys = absl::StrCat("/sys/block/loop", n, "/dev");
  std::ifstream in(sys);
  std::string numbers;
  unsigned major_number = 0, minor_number = 0;
  if (!std::getline(in, numbers) || std::sscanf(numbers.c_str(), "%u:%u", &major_number, &minor_number) != 2) {
    return Unavailable(absl::StrCat(dev, " does not exist in this container and ", sys, " cannot be read"));
  }
  std::string node = absl::StrCat(folder, "/loop", n);
  if (mknod(node.c_str(), S_IFBLK | 0600, makedev(major_number, minor_number)) != 0) {
    const int err = errno;
    if (err == EEXIST) return node;  // made by an earlier attempt
    return Unavailable(absl::StrCat(dev, " does not exist in this container and mknod(2) of ", numbers,
                                    " was refused: ", ErrnoText(err)));
  }
  return node;
}

// Binds `image_fd` to `loop_fd` with LOOP_CONFIGURE (Linux 5.8+), else LOOP_SET_FD + LOOP_SET_STATUS64.
// Auto-clear: the kernel detaches the device when its last user goes, even if this process dies. Returns 0
// or an errno (EBUSY: someone else bound it first).
int BindLoop(int loop_fd, int image_fd, const std::string& image) {
  struct loop_config config = {};
  config.fd = static_cast<__u32>(image_fd);
  config.info.lo_flags = LO_FLAGS_AUTOCLEAR;
  std::snprintf(reinterpret_cast<char*>(config.info.lo_file_name), sizeof(config.info.lo_file_name), "%s",
                image.c_str());
  if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0) return 0;
  const int err = errno;
  if (err != EINVAL && err != ENOTTY) return err;
  if (ioctl(loop_fd, LOOP_SET_FD, image_fd) != 0) return errno;
  if (ioctl(loop_fd, LOOP_SET_STATUS64, &config.info) != 0) {
    const int status_err = errno;
    ioctl(loop_fd, LOOP_CLR_FD, 0);
    return status_err;
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScratchFs>> ScratchFs::Tmpfs(uint64_t size_bytes) {
  if (absl::Status ready = Preflight("ScratchFs::Tmpfs"); !ready.ok()) return ready;
  if (size_bytes == 0) return absl::InvalidArgumentError("ScratchFs: a tmpfs of 0 bytes would be unlimited");
  std::unique_ptr<ScratchFs> fs(new ScratchFs());  // from here on, its destructor undoes what was done
  absl::StatusOr<std::string> root = MakeRootFolder();
  if (!root.ok()) return root.status();
  fs->root_ = fs->path_ = *root;
  if (absl::Status mounted = MountTmpfs(fs->path_, size_bytes); !mounted.ok()) return mounted;
  fs->path_mounted_ = true;
  return fs;
}

absl::StatusOr<std::unique_ptr<ScratchFs>> ScratchFs::Ext4OnFailingLoop(uint64_t image_bytes, uint64_t backing_bytes) {
  if (absl::Status ready = Preflight("ScratchFs::Ext4OnFailingLoop"); !ready.ok()) return ready;
  if (image_bytes < kMinExt4Image) {
    return absl::InvalidArgumentError(
        absl::StrCat("ScratchFs: an ext4 image of ", image_bytes, " bytes is too small; use at least ", kMinExt4Image));
  }
  if (backing_bytes == 0) return absl::InvalidArgumentError("ScratchFs: a tmpfs of 0 bytes would be unlimited");
  const std::string mkfs = FindProgram("mkfs.ext4");
  if (mkfs.empty()) return Unavailable("mkfs.ext4 not found in /usr/sbin, /sbin or $PATH (apt-get install e2fsprogs)");

  int control = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control < 0) {
    const int err = errno;
    if (err == ENOENT) {
      return Unavailable("no /dev/loop-control (loop module not loaded, or not exposed to this container)");
    }
    return Unavailable(absl::StrCat("cannot open /dev/loop-control: ", ErrnoText(err)));
  }
  ScopedFd control_fd(control);

  std::unique_ptr<ScratchFs> fs(new ScratchFs());  // from here on, its destructor undoes what was done
  absl::StatusOr<std::string> root = MakeRootFolder();
  if (!root.ok()) return root.status();
  fs->root_ = *root;
  fs->backing_ = absl::StrCat(fs->root_, "/backing");
  if (absl::Status made = MakeFolder(fs->backing_); !made.ok()) return made;
  if (absl::Status mounted = MountTmpfs(fs->backing_, backing_bytes); !mounted.ok()) return mounted;
  fs->backing_mounted_ = true;

  // The sparse image, and ext4 on it.
  const std::string image = absl::StrCat(fs->backing_, "/image");
  {
    ScopedFd image_fd(open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (image_fd.get() < 0 || ftruncate(image_fd.get(), static_cast<off_t>(image_bytes)) != 0) {
      const int err = errno;
      return Internal(absl::StrCat("create ", image, " of ", image_bytes, " bytes: ", ErrnoText(err)));
    }
  }
  absl::StatusOr<std::string> made = Run({mkfs, "-q", "-F", "-b", "4096", "-m", "0", "-O", "^has_journal", "-E",
                                          "lazy_itable_init=1,lazy_journal_init=1,nodiscard", image});
  const uint64_t headroom = FreeBytes(fs->backing_);
  if (headroom >= kMinBackingHeadroom && !made.ok()) return made.status();
  if (headroom < kMinBackingHeadroom) {
    return absl::InvalidArgumentError(absl::StrCat("ScratchFs: a backing tmpfs of ", backing_bytes,
                                                   " bytes is too small for mkfs.ext4 of ", image_bytes,
                                                   " bytes: ", headroom, " bytes left free, need ", kMinBackingHeadroom,
                                                   made.ok() ? "" : absl::StrCat(" (", made.status().message(), ")")));
  }

  // A loop device on the image. Another process may take the free device between LOOP_CTL_GET_FREE and the
  // binding (EBUSY): then ask again.
  ScopedFd image_fd(open(image.c_str(), O_RDWR | O_CLOEXEC));
  if (image_fd.get() < 0) {
    const int err = errno;
    return Internal(absl::StrCat("open(", image, "): ", ErrnoText(err)));
  }
  int bind_err = EBUSY;
  for (int attempt = 0; attempt < kLoopAttempts && bind_err == EBUSY; ++attempt) {
    const int n = ioctl(control_fd.get(), LOOP_CTL_GET_FREE);
    if (n < 0) {
      const int err = errno;
      return Unavailable(absl::StrCat("no free loop device (LOOP_CTL_GET_FREE): ", ErrnoText(err)));
    }
    absl::StatusOr<std::string> node = LoopNode(n, fs->root_);
    if (!node.ok()) return node.status();
    ScopedFd loop_fd(open(node->c_str(), O_RDWR | O_CLOEXEC));
    if (loop_fd.get() < 0) {
      const int err = errno;
      if (err == ENXIO || err == ENOENT) continue;  // removed meanwhile (LOOP_CTL_REMOVE): ask again
      return Unavailable(absl::StrCat("cannot open ", *node, ": ", ErrnoText(err),
                                      absl::StartsWith(*node, "/dev/") ? "" : " (is /tmp mounted nodev?)"));
    }
    bind_err = BindLoop(loop_fd.get(), image_fd.get(), image);
    if (bind_err == 0) {
      fs->loop_fd_ = loop_fd.release();
      fs->loop_device_ = *node;
    }
  }
  if (bind_err == EBUSY) {
    return Unavailable(
        absl::StrCat("every free loop device was taken by someone else first (", kLoopAttempts, " attempts)"));
  }
  if (bind_err != 0) return Internal(absl::StrCat("binding ", image, " to a loop device: ", ErrnoText(bind_err)));
  image_fd = ScopedFd();  // the loop device holds its own reference

  fs->path_ = absl::StrCat(fs->root_, "/mnt");
  if (absl::Status made_mnt = MakeFolder(fs->path_); !made_mnt.ok()) return made_mnt;
  // noinit_itable: no background zeroing of inode tables, which would write to (and fill) the backing.
  if (mount(fs->loop_device_.c_str(), fs->path_.c_str(), "ext4", MS_NOSUID | MS_NODEV,
            "errors=continue,noinit_itable") != 0) {
    const int err = errno;
    if (err == ENODEV) return Unavailable("the kernel has no ext4");
    if (err == EPERM || err == EACCES) {
      return Unavailable(absl::StrCat("mount(2) of ext4 on ", fs->loop_device_, " was refused: ", ErrnoText(err)));
    }
    return Internal(absl::StrCat("mount(", fs->loop_device_, ", ", fs->path_, ", ext4): ", ErrnoText(err)));
  }
  fs->path_mounted_ = true;
  return fs;
}

ScratchFs::~ScratchFs() {
  if (private_mount_namespace != 0 && ThreadMountNamespace() != private_mount_namespace) {
    // Its mounts are not visible here: umount2 would report "not a mount point" and the folders would be
    // removed from under them. They stay in the process's namespace and go away with the process.
    ADD_FAILURE() << "ScratchFs: " << path_ << " destroyed on a thread outside the mount namespace it was made in";
  }
  Unmounted path_state = Unmounted::kNow;
  if (path_mounted_) path_state = Unmount(path_, kUnmountAttempts);
  if (loop_fd_ >= 0) {
    // Auto-clear is set: the device is detached when its last user (normally this descriptor, unless the
    // unmount above had to be lazy and a file is still open) closes it.
    if (ioctl(loop_fd_, LOOP_CLR_FD, 0) != 0) {
      const int err = errno;
      if (err != ENXIO && err != EBUSY) {
        ADD_FAILURE() << "ScratchFs: LOOP_CLR_FD on " << loop_device_ << ": " << ErrnoText(err);
      }
    }
    close(loop_fd_);
  }
  Unmounted backing_state = Unmounted::kNow;
  if (backing_mounted_) {
    // While the ext4 lives on lazily, its loop device keeps the image open: no point waiting.
    backing_state = Unmount(backing_, path_state == Unmounted::kNow ? kUnmountAttempts : 0);
  }
  const bool all_unmounted = path_state != Unmounted::kNot && backing_state != Unmounted::kNot;
  if (root_.empty()) return;
  // FTW_MOUNT: never into a file system that could not be unmounted.
  nftw(
      root_.c_str(),
      [](const char* path, const struct stat*, int, struct FTW*) {
        remove(path);  // keep going: what is left is reported below
        return 0;
      },
      16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  struct stat st;
  if (all_unmounted && lstat(root_.c_str(), &st) == 0) ADD_FAILURE() << "ScratchFs: cannot remove " << root_;
}

std::string ScratchFs::Join(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

absl::StatusOr<uint64_t> ScratchFs::Fill(const std::string& file_name) {
  const std::string file = Join(file_name);
  ScopedFd fd(open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    const int err = errno;
    return Internal(absl::StrCat("Fill: open(", file, "): ", ErrnoText(err)));
  }
  struct statvfs st;
  const size_t block = statvfs(path_.c_str(), &st) == 0 && st.f_bsize > 0 ? st.f_bsize : 4096;
  const std::vector<char> data(size_t{1} << 20, static_cast<char>(0xa5));
  uint64_t total = 0;
  // Each round writes until ENOSPC (big chunks, then single blocks for the last partial one) and fsyncs. The
  // fsync can give space back (ext4 reserves blocks for delayed allocation pessimistically), so repeat until a
  // round writes nothing.
  for (int round = 0; round < 64; ++round) {
    uint64_t written = 0;
    size_t chunk = data.size();
    while (true) {
      const ssize_t n = write(fd.get(), data.data(), chunk);
      if (n > 0) {
        written += static_cast<uint64_t>(n);
        continue;
      }
      const int err = n < 0 ? errno : ENOSPC;
      if (err == EINTR) continue;
      if (err != ENOSPC) return Internal(absl::StrCat("Fill: write(", file, "): ", ErrnoText(err)));
      if (chunk == block) break;
      chunk = block;
    }
    if (fsync(fd.get()) != 0) {
      const int err = errno;
      return absl::DataLossError(
          absl::StrCat("ScratchFs: Fill: fsync(", file, ") after ", total + written, " bytes: ", ErrnoText(err)));
    }
    total += written;
    if (written == 0) return total;
  }
  return Internal(absl::StrCat("Fill: ", file, " kept growing after 64 rounds of write-until-ENOSPC and fsync"));
}

int ScratchFs::FlushUntilClean(int fd) {
  int attempts = 0;
  while (fdatasync(fd) != 0 && ++attempts < kMaxFlushes) {
  }
  return attempts;
}

}  // namespace testing
}  // namespace pmem2
