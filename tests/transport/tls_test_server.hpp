#pragma once
// A small HTTP/1.1 keep-alive server on 127.0.0.1 (port 0), built directly on mbedTLS (or plain,
// with no certificate), for the transport tests. It serves one connection at a time, counts TCP
// accepts and finished handshakes, and can be told to hold at a point until the test releases it.
//
// Every answer is 200 with a fixed Date, X-Connection (1-based accept count) and X-Request
// (1-based request count on that connection) headers, and the body "<METHOD> <URI>\n<request body>".
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>

namespace fieldagent::testing {

inline constexpr const char* kTestServerDate = "Wed, 21 Jan 2026 13:00:00 GMT";

class TlsTestServer {
 public:
  struct Options {
    std::string certPem;  // empty: plain HTTP
    std::string keyPem;
    bool tls11Only = false;
    // > 0: after this many answers on a connection the server ends it (close_notify and FIN,
    // without a "Connection: close" header), as a server dropping an idle keep-alive connection.
    int closeAfterAnswers = 0;
  };
  enum class HoldPoint { before_reading_request, before_answering };

  explicit TlsTestServer(Options options);
  ~TlsTestServer();
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& host = "127.0.0.1") const;

  int accepted() const;
  int handshakes() const;
  int requests() const;
  std::string lastHandshakeError() const;

  // The server stops at `point` (for every connection or request) until release().
  void hold(HoldPoint point);
  // Waits until the server is stopped at the hold point; false if it is not within a few seconds.
  bool awaitHeld();
  void release();
  // Waits until the server has ended `n` connections; false if not within a few seconds.
  bool awaitClosedConnections(int n);

  void stop();

 private:
  void run();
  void serve(Poco::Net::StreamSocket& socket, int connection);
  bool holdAt(HoldPoint point);  // false when the server is stopping

  struct Tls;
  Options options_;
  Tls* tls_ = nullptr;
  Poco::Net::ServerSocket listener_;
  std::uint16_t port_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  bool holding_ = false;
  HoldPoint holdPoint_ = HoldPoint::before_answering;
  int held_ = 0;
  int accepted_ = 0;
  int handshakes_ = 0;
  int requests_ = 0;
  int closed_ = 0;
  std::string lastHandshakeError_;
  Poco::Net::StreamSocket current_;
  std::thread thread_;
};

}  // namespace fieldagent::testing
