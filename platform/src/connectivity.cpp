#include "fieldagent/platform/connectivity.hpp"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <limits>
#include <sstream>
#include <thread>

namespace fieldagent::platform {

struct ConnectivityBroadcaster::Entry {
  Connectivity::Listener listener;
};

std::shared_ptr<void> ConnectivityBroadcaster::add(Connectivity::Listener listener) {
  auto entry = std::make_shared<Entry>(Entry{std::move(listener)});
  std::lock_guard lock(mutex_);
  entries_.push_back(entry);
  return entry;
}

void ConnectivityBroadcaster::publish(const ConnectivityState& state) {
  std::vector<std::shared_ptr<Entry>> live;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(entries_, [](const std::weak_ptr<Entry>& w) { return w.expired(); });
    for (auto& w : entries_) {
      if (auto e = w.lock()) live.push_back(std::move(e));
    }
  }
  for (auto& e : live) e->listener(state);
}

FakeConnectivity::FakeConnectivity(ConnectivityState initial) : state_(std::move(initial)) {}

ConnectivityState FakeConnectivity::current() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::shared_ptr<void> FakeConnectivity::subscribe(Listener listener) { return broadcaster_.add(std::move(listener)); }

void FakeConnectivity::set(const ConnectivityState& state) {
  {
    std::lock_guard lock(mutex_);
    if (state_ == state) return;
    state_ = state;
  }
  broadcaster_.publish(state);
}

namespace {

bool isMeteredInterface(const std::string& name) {
  for (const char* prefix : {"wwan", "wwp", "ppp", "rmnet", "usb", "ccmni"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::string readFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

struct LinuxConnectivity::Watcher {
  int netlink = -1;
  std::array<int, 2> stopPipe{-1, -1};
  std::thread thread;
};

LinuxConnectivity::LinuxConnectivity(std::string procRoot, std::string sysRoot, bool watch)
    : procRoot_(std::move(procRoot)), sysRoot_(std::move(sysRoot)) {
  state_ = read();
  if (!watch) return;
  watcher_ = std::make_unique<Watcher>();
  watcher_->netlink = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (watcher_->netlink >= 0) {
    sockaddr_nl addr{};
    addr.nl_family = AF_NETLINK;
    addr.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
    if (::bind(watcher_->netlink, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(watcher_->netlink);
      watcher_->netlink = -1;
    }
  }
  if (::pipe2(watcher_->stopPipe.data(), O_CLOEXEC) != 0) {
    watcher_->stopPipe = {-1, -1};
  }
  watcher_->thread = std::thread([this] {
    // Without netlink (a sandbox that forbids it) the routes are read again every 30 s: slow
    // enough to cost nothing while offline, quick enough to notice coverage.
    const int timeoutMs = watcher_->netlink >= 0 ? -1 : 30'000;
    std::array<char, 8192> buf{};
    while (true) {
      std::array<pollfd, 2> fds{{{watcher_->stopPipe[0], POLLIN, 0}, {watcher_->netlink, POLLIN, 0}}};
      const int n = ::poll(fds.data(), watcher_->netlink >= 0 ? 2 : 1, timeoutMs);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || (fds[0].revents & (POLLIN | POLLHUP)) != 0) return;
      if (watcher_->netlink >= 0 && (fds[1].revents & POLLIN) != 0) {
        while (::recv(watcher_->netlink, buf.data(), buf.size(), MSG_DONTWAIT) > 0) {
        }
      }
      refresh();
    }
  });
}

LinuxConnectivity::~LinuxConnectivity() {
  if (!watcher_) return;
  if (watcher_->stopPipe[1] >= 0) {
    const char byte = 1;
    [[maybe_unused]] const ssize_t n = ::write(watcher_->stopPipe[1], &byte, 1);
  }
  if (watcher_->thread.joinable()) watcher_->thread.join();
  for (int fd : {watcher_->netlink, watcher_->stopPipe[0], watcher_->stopPipe[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

ConnectivityState LinuxConnectivity::current() const {
  std::lock_guard lock(mutex_);
  return state_;
}

std::shared_ptr<void> LinuxConnectivity::subscribe(Listener listener) { return broadcaster_.add(std::move(listener)); }

void LinuxConnectivity::refresh() {
  const ConnectivityState next = read();
  {
    std::lock_guard lock(mutex_);
    if (next == state_) return;
    state_ = next;
  }
  broadcaster_.publish(next);
}

ConnectivityState LinuxConnectivity::read() const {
  auto linkUp = [&](const std::string& iface) {
    const std::string state = readFirstLine(sysRoot_ + "/class/net/" + iface + "/operstate");
    // Many virtual and point-to-point links report "unknown" while they carry traffic.
    return state == "up" || state == "unknown";
  };
  std::string best;
  unsigned long bestMetric = std::numeric_limits<unsigned long>::max();
  {
    std::ifstream routes(procRoot_ + "/net/route");
    std::string line;
    std::getline(routes, line);  // header
    while (std::getline(routes, line)) {
      std::istringstream fields(line);
      std::string iface, dest, gateway, flags, refcnt, use, metric, mask;
      if (!(fields >> iface >> dest >> gateway >> flags >> refcnt >> use >> metric >> mask)) continue;
      unsigned long f = 0, m = 0;
      try {
        f = std::stoul(flags, nullptr, 16);
        m = std::stoul(metric);
      } catch (const std::exception&) {
        continue;
      }
      if (dest != "00000000" || mask != "00000000" || (f & 1u) == 0 || iface == "lo") continue;
      if (m < bestMetric && linkUp(iface)) {
        best = iface;
        bestMetric = m;
      }
    }
  }
  if (best.empty()) {
    std::ifstream routes(procRoot_ + "/net/ipv6_route");
    std::string dest, destLen, src, srcLen, next, metric, refcnt, use, flags, iface;
    while (routes >> dest >> destLen >> src >> srcLen >> next >> metric >> refcnt >> use >> flags >> iface) {
      if (dest != std::string(32, '0') || destLen != "00" || iface == "lo") continue;
      unsigned long m = 0;
      try {
        m = std::stoul(metric, nullptr, 16);
      } catch (const std::exception&) {
        continue;
      }
      // 0xffffffff marks an unreachable route, not a usable one.
      if (m != 0xffffffffUL && m < bestMetric && linkUp(iface)) {
        best = iface;
        bestMetric = m;
      }
    }
  }
  if (best.empty()) return {};
  return {true, isMeteredInterface(best), best};
}

}  // namespace fieldagent::platform
