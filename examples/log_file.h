// Copyright 2026 The pmem2 Authors.
//
// examples/log_file.h
// -----------------------------------------------------------------------------
//
// The log examples' file: a run that fails before it starts its new log leaves the path as it found it (a file it
// created is removed, one it grew is cut back to its old size, nothing of an existing file's bytes is changed), so
// that a mistyped environment variable or a full disk costs nothing. Starting the log (zeroing its bytes and
// persisting them, header first: start_log.h) is where the file becomes the run's: a run that fails while zeroing has
// changed an existing file's bytes already (a grown one is still cut back), at worst into a log with no records.
// Once the log is started, the example calls Keep().
//
// The undoing is made durable too: Open made a new file's name durable (a sync of its folder), so the removal is
// synced there as well, and a cut-back file is synced for its old size; else a crash after the failed run could bring
// back the file, or its grown size, that the run reported it had left alone. Only a crash before the undoing is synced
// (during the run) can leave the new or grown file behind.

#ifndef PMEM2_EXAMPLES_LOG_FILE_H_
#define PMEM2_EXAMPLES_LOG_FILE_H_

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace examples {

class LogFile {
 public:
  LogFile() = default;
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;
  ~LogFile() {
    if (fd_ < 0) return;
    // Best effort: the run is failing already.
    if (!kept_) {
      if (created_) {
        if (unlink(path_.c_str()) == 0) (void)SyncFolder();
      } else if (grown_) {
        if (ftruncate(fd_, old_size_) == 0) (void)!fsync(fd_);
      }
    }
    close(fd_);
  }

  // Opens `path` for a log of `size` bytes: a new file (mode 0644, its name made durable by a sync of its folder), or
  // an existing regular file, grown to `size` if smaller (a larger one keeps its size). Returns an empty string or
  // what failed, with errno's text.
  std::string Open(const char* path, off_t size) {
    path_ = path;
    fd_ = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    created_ = fd_ >= 0;
    if (fd_ < 0 && errno == EEXIST) fd_ = open(path, O_RDWR | O_CLOEXEC);
    if (fd_ < 0) return Failed("opening it");
    struct stat st;
    if (fstat(fd_, &st) != 0) return Failed("fstat");
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    old_size_ = st.st_size;
    if (old_size_ < size) {
      if (ftruncate(fd_, size) != 0) return Failed("growing it");
      grown_ = true;
    }
    if (created_ && !SyncFolder()) return Failed("syncing its folder");
    return "";
  }

  int fd() const { return fd_; }
  void Keep() { kept_ = true; }

 private:
  static std::string Failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

  // fsync(2) of the path's folder, which makes its entries (the file's name, or its removal) durable. False with errno
  // if it failed.
  bool SyncFolder() const {
    std::string folder = path_;
    const int dir = open(dirname(&folder[0]), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool synced = dir >= 0 && fsync(dir) == 0;
    const int error = errno;
    if (dir >= 0) close(dir);
    errno = error;
    return synced;
  }

  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  bool grown_ = false;
  bool kept_ = false;
  off_t old_size_ = 0;
};

}  // namespace examples

#endif  // PMEM2_EXAMPLES_LOG_FILE_H_
