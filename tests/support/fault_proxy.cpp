#include "fault_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace fieldagent::testing {
namespace {

constexpr int kModePass = 0;
constexpr int kModePartition = 1;
constexpr int kModeStall = 2;

// Closes with an RST rather than a FIN: what a middlebox or a crashed peer does.
void resetClose(int fd) {
  if (fd < 0) return;
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

bool writeAll(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

int connectLoopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

FaultProxy::FaultProxy(std::uint16_t upstreamPort) : upstreamPort_(upstreamPort) {
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error("fault proxy: socket: " + std::string(std::strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listenFd_, 64) != 0 ||
      ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("fault proxy: bind/listen: " + std::string(std::strerror(errno)));
  }
  port_ = ntohs(addr.sin_port);
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("fault proxy: pipe: " + std::string(std::strerror(errno)));
  }
  wakeRead_ = wake[0];
  wakeWrite_ = wake[1];
  acceptor_ = std::thread([this] { acceptLoop(); });
}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  ::close(wakeWrite_);  // EOF on the wake pipe: every poll below returns
  acceptor_.join();
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mutex_);
    workers.swap(workers_);
  }
  for (auto& t : workers) t.join();
  ::close(listenFd_);
  ::close(wakeRead_);
}

std::string FaultProxy::rewrite(const std::string& url) const {
  const auto hostStart = url.find("://");
  if (hostStart == std::string::npos) throw std::invalid_argument("fault proxy: not a URL: " + url);
  const auto colon = url.find(':', hostStart + 3);
  const auto slash = url.find('/', hostStart + 3);
  if (colon == std::string::npos || (slash != std::string::npos && colon > slash))
    throw std::invalid_argument("fault proxy: URL without a port: " + url);
  return url.substr(0, colon + 1) + std::to_string(port_) + (slash == std::string::npos ? "" : url.substr(slash));
}

void FaultProxy::passThrough() {
  std::lock_guard lock(mutex_);
  rules_.clear();
  mode_ = kModePass;
}

void FaultProxy::partition() {
  mode_ = kModePartition;
  ++generation_;
}

void FaultProxy::stallAll() { mode_ = kModeStall; }

void FaultProxy::addRule(const Rule& rule) {
  std::lock_guard lock(mutex_);
  rules_.push_back(rule);
}

void FaultProxy::setUpstreamPort(std::uint16_t port) { upstreamPort_ = port; }

FaultProxy::Counts FaultProxy::counts() const {
  std::lock_guard lock(mutex_);
  return counts_;
}

int FaultProxy::rulesLeft() const {
  std::lock_guard lock(mutex_);
  int n = 0;
  for (const auto& r : rules_) n += r.times;
  return n;
}

bool FaultProxy::claimRule(const std::string& seen, Rule& out) {
  std::lock_guard lock(mutex_);
  for (auto& r : rules_) {
    if (r.times > 0 && seen.find(r.trigger) != std::string::npos) {
      --r.times;
      ++counts_.faultsFired;
      out = r;
      return true;
    }
  }
  return false;
}

void FaultProxy::acceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listenFd_, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (stopping_ || fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int client = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mutex_);
    ++counts_.connections;
    if (mode_ == kModePartition) {
      ++counts_.refused;
      resetClose(client);
      continue;
    }
    workers_.emplace_back([this, client] { serve(client); });
  }
}

void FaultProxy::serve(int client) {
  const int server = connectLoopback(upstreamPort_);
  if (server < 0) {  // the upstream is down: the client sees the connection refused
    {
      std::lock_guard lock(mutex_);
      ++counts_.refused;
    }
    resetClose(client);
    return;
  }
  const std::uint64_t generation = generation_;
  bool active = false;  // a rule fired on this connection
  Rule rule;
  std::size_t sentSinceTrigger = 0;  // request bytes (request actions) or answer bytes (answer actions)
  bool frozen = false;
  std::string window;  // the client's last bytes, for triggers split across reads
  constexpr std::size_t kWindow = 64;
  static const std::string kRequestLine = " HTTP/1.1\r\n";
  char buf[16384];

  auto finish = [&](bool reset) {
    if (reset) {
      resetClose(client);
      resetClose(server);
    } else {
      ::close(client);
      ::close(server);
    }
  };

  while (true) {
    // Partition and stall changes must reach connections that sit idle, so the wait is bounded;
    // 50 ms of idling per open connection is nothing next to what the agent does.
    pollfd fds[3] = {{client, POLLIN, 0}, {frozen ? -1 : server, POLLIN, 0}, {wakeRead_, POLLIN, 0}};
    const int ready = ::poll(fds, 3, 50);
    if (stopping_ || (ready > 0 && fds[2].revents)) return finish(true);
    if (generation_ != generation || mode_ == kModePartition) return finish(true);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return finish(true);
    }
    if (ready == 0) continue;

    if (fds[0].revents) {
      const ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) return finish(false);
      if (frozen) continue;  // a stalled connection swallows what the client still sends
      if (mode_ == kModeStall) {
        frozen = true;
        std::lock_guard lock(mutex_);
        ++counts_.stalledConnections;
        continue;
      }
      std::string chunk(buf, static_cast<std::size_t>(n));
      std::string seen = window + chunk;
      {
        std::size_t lines = 0;
        for (auto p = seen.find(kRequestLine, window.size() >= kRequestLine.size() ? window.size() - (kRequestLine.size() - 1) : 0);
             p != std::string::npos; p = seen.find(kRequestLine, p + 1))
          ++lines;
        std::lock_guard lock(mutex_);
        counts_.requests += lines;
      }
      std::size_t forwardFrom = 0;  // bytes of chunk before the rule applies
      if (!active && claimRule(seen, rule)) {
        active = true;
        const auto at = seen.find(rule.trigger);
        if (at >= window.size()) {
          forwardFrom = at - window.size();
        } else {
          sentSinceTrigger = window.size() - at;  // the trigger's start already went through
        }
      }
      window = seen.size() > kWindow ? seen.substr(seen.size() - kWindow) : seen;
      const bool cutsRequest = active && (rule.action == Action::resetRequest || rule.action == Action::stallRequest);
      if (!cutsRequest) {
        if (!writeAll(server, chunk.data(), chunk.size())) return finish(true);
        continue;
      }
      if (!writeAll(server, chunk.data(), forwardFrom)) return finish(true);
      const std::size_t rest = chunk.size() - forwardFrom;
      const std::size_t allowed = rule.afterBytes > sentSinceTrigger ? rule.afterBytes - sentSinceTrigger : 0;
      const std::size_t now = std::min(rest, allowed);
      if (!writeAll(server, chunk.data() + forwardFrom, now)) return finish(true);
      sentSinceTrigger += now;
      if (rest > allowed) {
        if (rule.action == Action::resetRequest) return finish(true);
        frozen = true;
        std::lock_guard lock(mutex_);
        ++counts_.stalledConnections;
      }
    }

    if (!frozen && fds[1].revents) {
      const ssize_t n = ::recv(server, buf, sizeof buf, 0);
      if (n <= 0) return finish(false);
      if (mode_ == kModeStall) {
        frozen = true;
        std::lock_guard lock(mutex_);
        ++counts_.stalledConnections;
        continue;
      }
      const auto size = static_cast<std::size_t>(n);
      const bool cutsAnswer = active && (rule.action == Action::resetResponse || rule.action == Action::stallResponse);
      if (!cutsAnswer) {
        if (!writeAll(client, buf, size)) return finish(true);
        continue;
      }
      const std::size_t allowed = rule.afterBytes > sentSinceTrigger ? rule.afterBytes - sentSinceTrigger : 0;
      const std::size_t now = std::min(size, allowed);
      if (!writeAll(client, buf, now)) return finish(true);
      sentSinceTrigger += now;
      if (size > allowed) {
        if (rule.action == Action::resetResponse) return finish(true);
        frozen = true;
        std::lock_guard lock(mutex_);
        ++counts_.stalledConnections;
      }
    }
  }
}

}  // namespace fieldagent::testing
