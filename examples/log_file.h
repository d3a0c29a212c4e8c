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
    if (!kept_) {
      if (created_) {
        unlink(path_.c_str());
      } else if (grown_) {
        (void)!ftruncate(fd_, old_size_);  // best effort: the run is failing already
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
    if (created_) {
      std::string folder = path;
      const int dir = open(dirname(&folder[0]), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      const bool synced = dir >= 0 && fsync(dir) == 0;
      const int error = errno;
      if (dir >= 0) close(dir);
      errno = error;
      if (!synced) return Failed("syncing its folder");
    }
    return "";
  }

  int fd() const { return fd_; }
  void Keep() { kept_ = true; }

 private:
  static std::string Failed(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  bool grown_ = false;
  bool kept_ = false;
  off_t old_size_ = 0;
};

}  // namespace examples

#endif  // PMEM2_EXAMPLES_LOG_FILE_H_
