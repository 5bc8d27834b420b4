#include "fieldagent/platform/staged_file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "fieldagent/platform/files.hpp"

namespace fieldagent::platform::fs {
namespace {

Error osError(const char* what, const std::filesystem::path& path, int err) {
  const ErrorCode code = (err == ENOSPC || err == EDQUOT) ? ErrorCode("no_space")
                         : err == ENOENT                  ? ErrorCode("not_found")
                         : err == EEXIST                  ? ErrorCode("exists")
                                                          : ErrorCode("io");
  return makeError(code, std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

}  // namespace

StagedFile::StagedFile(int fd, std::filesystem::path staged, std::filesystem::path final)
    : fd_(fd), staged_(std::move(staged)), final_(std::move(final)) {}

StagedFile::StagedFile(StagedFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      staged_(std::move(other.staged_)),
      final_(std::move(other.final_)),
      size_(other.size_) {}

StagedFile& StagedFile::operator=(StagedFile&& other) noexcept {
  if (this != &other) {
    abandon();
    fd_ = std::exchange(other.fd_, -1);
    staged_ = std::move(other.staged_);
    final_ = std::move(other.final_);
    size_ = other.size_;
  }
  return *this;
}

StagedFile::~StagedFile() { abandon(); }

Result<StagedFile> StagedFile::create(const std::filesystem::path& finalPath, unsigned mode) {
  std::filesystem::path staged = finalPath;
  staged += ".part";
  const int fd = ::open(staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) return osError("cannot create", staged, errno);
  // open() applies the umask; the caller asked for this exact mode.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(staged.c_str());
    return osError("cannot chmod", staged, err);
  }
  return StagedFile(fd, std::move(staged), finalPath);
}

Result<void> StagedFile::append(std::string_view bytes) {
  if (fd_ < 0) return makeError("io", "append to " + staged_.string() + " after it was closed");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return osError("cannot write", staged_, errno);
    }
    done += static_cast<std::size_t>(n);
    size_ += static_cast<std::uint64_t>(n);
  }
  return {};
}

Result<void> StagedFile::commit() {
  if (fd_ < 0) return makeError("io", "commit of " + staged_.string() + " after it was closed");
  if (::fsync(fd_) != 0) return osError("cannot fsync", staged_, errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(staged_.c_str());
    return osError("cannot close", staged_, err);
  }
  if (::rename(staged_.c_str(), final_.c_str()) != 0) {
    const int err = errno;
    ::unlink(staged_.c_str());
    return osError("cannot rename onto", final_, err);
  }
  staged_.clear();
  return syncDir(final_.has_parent_path() ? final_.parent_path() : std::filesystem::path("."));
}

void StagedFile::abandon() {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  if (!staged_.empty()) {
    ::unlink(staged_.c_str());
    staged_.clear();
  }
}

RandomAccessFile::RandomAccessFile(int fd, std::filesystem::path path, std::uint64_t size)
    : fd_(fd), path_(std::move(path)), size_(size) {}

RandomAccessFile::RandomAccessFile(RandomAccessFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), size_(other.size_) {}

RandomAccessFile& RandomAccessFile::operator=(RandomAccessFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    size_ = other.size_;
  }
  return *this;
}

RandomAccessFile::~RandomAccessFile() {
  if (fd_ >= 0) ::close(fd_);
}

Result<RandomAccessFile> RandomAccessFile::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return osError("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    const int err = errno;
    ::close(fd);
    return err != 0 ? osError("cannot stat", path, err) : makeError("io", path.string() + " is not a regular file");
  }
  return RandomAccessFile(fd, path, static_cast<std::uint64_t>(st.st_size));
}

Result<std::string> RandomAccessFile::readAt(std::uint64_t offset, std::size_t length) const {
  std::string out;
  if (offset >= size_) return out;
  const auto available = static_cast<std::size_t>(std::min<std::uint64_t>(length, size_ - offset));
  out.resize(available);
  std::size_t got = 0;
  while (got < available) {
    const ssize_t n = ::pread(fd_, out.data() + got, available - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return osError("cannot read", path_, errno);
    }
    if (n == 0) break;  // the file shrank under us
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

Result<void> removeFile(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return osError("cannot remove", path, errno);
  return {};
}

Result<std::vector<std::string>> listFiles(const std::filesystem::path& folder) {
  DIR* dir = ::opendir(folder.c_str());
  if (dir == nullptr) return osError("cannot open folder", folder, errno);
  std::vector<std::string> names;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      names.push_back(name);
    }
  }
  ::closedir(dir);
  return names;
}

}  // namespace fieldagent::platform::fs
