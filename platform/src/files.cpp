#include "fieldagent/platform/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>
#include <string>

namespace fieldagent::platform::fs {
namespace {

Error osError(const char* what, const std::filesystem::path& path, int err) {
  const ErrorCode code = (err == ENOSPC || err == EDQUOT) ? ErrorCode("no_space")
                         : err == ENOENT                  ? ErrorCode("not_found")
                                                          : ErrorCode("io");
  return makeError(code, std::string(what) + " " + path.string() + ": " + std::error_code(err, std::generic_category()).message());
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

Result<std::string> readFile(const std::filesystem::path& path, std::uint64_t maxBytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return osError("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return osError("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return makeError("io", path.string() + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > maxBytes) {
    return makeError("payload_too_large", path.string() + " is " + std::to_string(st.st_size) + " bytes, more than the " +
                                      std::to_string(maxBytes) + " allowed");
  }
  std::string out;
  out.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (true) {
    if (got == out.size()) out.resize(out.size() + 4096);  // the file grew since fstat
    const ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return osError("cannot read", path, errno);
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
    if (got > maxBytes)
      return makeError("payload_too_large", path.string() + " grew past " + std::to_string(maxBytes) + " bytes");
  }
  out.resize(got);
  return out;
}

Result<void> syncDir(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return osError("cannot open folder", path, errno);
  if (::fsync(fd.get()) != 0) return osError("cannot fsync folder", path, errno);
  return {};
}

Result<void> atomicWrite(const std::filesystem::path& path, std::string_view bytes, unsigned mode) {
  static std::atomic<unsigned long> counter{0};
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  const std::filesystem::path tmp =
      path.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode)));
  if (fd.get() < 0) return osError("cannot create", tmp, errno);
  auto fail = [&](const char* what, int err) {
    ::close(fd.release());
    ::unlink(tmp.c_str());
    return osError(what, tmp, err);
  };
  // open() applies the umask; the caller asked for this exact mode.
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) return Result<void>(fail("cannot chmod", errno));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Result<void>(fail("cannot write", errno));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) return Result<void>(fail("cannot fsync", errno));
  if (::close(fd.release()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return osError("cannot close", tmp, err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return osError("cannot rename onto", path, err);
  }
  return syncDir(dir);
}

Result<void> ensureDir(const std::filesystem::path& path, unsigned mode) {
  std::error_code ec;
  if (path.has_parent_path() && path.parent_path() != path) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) return makeError("io", "cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
    return osError("cannot create folder", path, errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return osError("cannot stat", path, errno);
  if (!S_ISDIR(st.st_mode)) return makeError("io", path.string() + " exists and is not a folder");
  if ((st.st_mode & 07777) != mode && ::chmod(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    return osError("cannot chmod", path, errno);
  }
  return {};
}

Result<std::uint64_t> freeBytes(const std::filesystem::path& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return osError("cannot statvfs", path, errno);
  return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

}  // namespace fieldagent::platform::fs
