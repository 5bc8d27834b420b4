#pragma once
// Puts the Simulator behind Poco's HTTPServer: reads each request whole (bounded), answers
// with what the simulator says, and carries out the latency and dropped-connection faults.
#include <Poco/Net/HTTPServer.h>

#include <memory>
#include <string>

#include "fieldagent/platform/result.hpp"
#include "simulator.hpp"

namespace fieldagent::sim {

class HttpFrontend {
 public:
  HttpFrontend(Simulator& sim, bool verbose) : sim_(sim), verbose_(verbose) {}
  ~HttpFrontend();
  HttpFrontend(const HttpFrontend&) = delete;
  HttpFrontend& operator=(const HttpFrontend&) = delete;

  // Binds and starts serving; returns the bound port (the real one when `port` is 0).
  Result<int> start(const std::string& bind, int port);
  // Stops accepting and waits for the requests in flight.
  void stop();

 private:
  Simulator& sim_;
  bool verbose_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace fieldagent::sim
