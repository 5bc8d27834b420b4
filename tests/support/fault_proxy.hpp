#pragma once
// A TCP proxy on 127.0.0.1 (a free port) between the agent and alliance-sim that breaks the
// network on command, for the fault suite (tests/reliability/): pass everything through, cut a
// connection mid-request or mid-response after N bytes, stall (forward nothing, hold the
// connection open so the client's own timeout has to fire), refuse every connection
// (a partition), and point at a new upstream port (alliance-sim restarted). It counts what it
// saw: connections, requests, faults fired. It runs in threads of the test process and stops
// (closing every connection) when destroyed.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace fieldagent::testing {

class FaultProxy {
 public:
  // What happens to a connection once `trigger` (e.g. "POST ") shows up in what the client
  // sends: resetRequest forwards `afterBytes` bytes of the request counted from the trigger and
  // then resets both sides (the server never sees a whole request); resetResponse forwards the
  // whole request and `afterBytes` bytes of the answer, then resets (the effect happened, the
  // client cannot know); stallRequest / stallResponse forward as far and then nothing more,
  // holding the connection until the client gives up.
  enum class Action { resetRequest, resetResponse, stallRequest, stallResponse };
  struct Rule {
    Action action = Action::resetResponse;
    std::string trigger = "POST ";
    std::size_t afterBytes = 0;
    int times = 1;  // connections it fires on, then it is used up
  };

  struct Counts {
    std::uint64_t connections = 0;  // accepted, including refused ones
    std::uint64_t refused = 0;      // reset at once: partition, or the upstream was down
    std::uint64_t requests = 0;     // HTTP request lines seen from clients
    std::uint64_t faultsFired = 0;  // rules fired
    std::uint64_t stalledConnections = 0;  // connections that stopped forwarding (counted when they do)
  };

  // Listens on 127.0.0.1, a free port; forwards to 127.0.0.1:`upstreamPort`.
  explicit FaultProxy(std::uint16_t upstreamPort);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const { return port_; }
  // `url` ("http://127.0.0.1:4123/integrations/int_local") with its port replaced by the proxy's.
  std::string rewrite(const std::string& url) const;

  // Forward everything again: no partition, no stall; rules not yet fired are dropped.
  void passThrough();
  // Every connection, open or new, is reset at once, until passThrough().
  void partition();
  // Every connection, open or new, forwards nothing and is held open, until passThrough().
  void stallAll();
  // Adds a rule for the connections to come (and the idle ones the client reuses).
  void addRule(const Rule& rule);
  // The upstream moved (alliance-sim restarted on another port).
  void setUpstreamPort(std::uint16_t port);

  Counts counts() const;
  int rulesLeft() const;  // fires still to come

 private:
  void acceptLoop();
  void serve(int client);
  bool claimRule(const std::string& seen, Rule& out);

  int listenFd_ = -1;
  int wakeRead_ = -1, wakeWrite_ = -1;  // closing the write end wakes every poll at stop
  std::uint16_t port_ = 0;
  std::atomic<std::uint16_t> upstreamPort_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> mode_{0};  // 0 pass, 1 partition, 2 stall
  std::atomic<std::uint64_t> generation_{0};  // bumped by partition(): open connections reset

  mutable std::mutex mutex_;
  std::vector<Rule> rules_;
  Counts counts_;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace fieldagent::testing
