#pragma once
// Whether the device can reach the network, and how well: the sync engine drains when the
// link comes back and holds large uploads while the link is metered.
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fieldagent::platform {

struct ConnectivityState {
  bool online = false;    // a default route over an interface that is up
  bool metered = false;   // cellular or tethered (wwan*, ppp*, rmnet*, usb*, wwp*)
  std::string interface;  // the default route's interface, empty when offline

  bool operator==(const ConnectivityState&) const = default;
};

class Connectivity {
 public:
  using Listener = std::function<void(const ConnectivityState&)>;
  virtual ~Connectivity() = default;
  virtual ConnectivityState current() const = 0;
  // `listener` is called from the watcher's thread after every change until the returned
  // handle is destroyed.
  [[nodiscard]] virtual std::shared_ptr<void> subscribe(Listener listener) = 0;
};

// Keeps listeners and tells them of changes; both implementations share it.
class ConnectivityBroadcaster {
 public:
  std::shared_ptr<void> add(Connectivity::Listener listener);
  void publish(const ConnectivityState& state);

 private:
  struct Entry;
  std::mutex mutex_;
  std::vector<std::weak_ptr<Entry>> entries_;
};

// Connectivity a test sets by hand.
class FakeConnectivity final : public Connectivity {
 public:
  explicit FakeConnectivity(ConnectivityState initial = {true, false, "eth0"});
  ConnectivityState current() const override;
  std::shared_ptr<void> subscribe(Listener listener) override;
  void set(const ConnectivityState& state);

 private:
  mutable std::mutex mutex_;
  ConnectivityState state_;
  ConnectivityBroadcaster broadcaster_;
};

// Linux: the default route from /proc/net/route (IPv4) and /proc/net/ipv6_route, the link
// state from /sys/class/net/<if>/operstate; changes arrive over a netlink socket
// (RTMGRP_LINK, IPv4/IPv6 route and address groups), so nothing polls while offline.
class LinuxConnectivity final : public Connectivity {
 public:
  // `procRoot` and `sysRoot` default to /proc and /sys; tests point them at a folder.
  explicit LinuxConnectivity(std::string procRoot = "/proc", std::string sysRoot = "/sys", bool watch = true);
  ~LinuxConnectivity() override;
  LinuxConnectivity(const LinuxConnectivity&) = delete;
  LinuxConnectivity& operator=(const LinuxConnectivity&) = delete;

  ConnectivityState current() const override;
  std::shared_ptr<void> subscribe(Listener listener) override;
  // Reads the routes again and publishes a change if there is one.
  void refresh();

 private:
  struct Watcher;
  ConnectivityState read() const;
  std::string procRoot_;
  std::string sysRoot_;
  mutable std::mutex mutex_;
  ConnectivityState state_;
  ConnectivityBroadcaster broadcaster_;
  std::unique_ptr<Watcher> watcher_;
};

}  // namespace fieldagent::platform
