#include "fieldagent/platform/notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace fieldagent::platform {

Result<void> notifyServiceManager(const std::string& state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (!path || !*path) return {};
  std::string name = path;
  if (name.size() >= sizeof(sockaddr_un::sun_path))
    return makeError("io", "NOTIFY_SOCKET path too long");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  // '@' names a socket in the abstract namespace.
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError("io", std::string("notify socket: ") + std::strerror(errno));
  auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
  int err = errno;
  ::close(fd);
  if (sent < 0) return makeError("io", "notify " + name + ": " + std::strerror(err));
  return {};
}

std::optional<std::chrono::microseconds> watchdogInterval() {
  const char* usec = std::getenv("WATCHDOG_USEC");
  if (!usec) return std::nullopt;
  if (const char* pid = std::getenv("WATCHDOG_PID"); pid && std::atol(pid) != static_cast<long>(::getpid()))
    return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(usec, &end, 10);
  if (!end || *end || v <= 0) return std::nullopt;
  return std::chrono::microseconds{v};
}

}  // namespace fieldagent::platform
