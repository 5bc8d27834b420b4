#include "tls_test_server.hpp"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/String.h>

#include <chrono>
#include <csignal>
#include <sstream>
#include <stdexcept>

namespace fieldagent::testing {
namespace {

constexpr auto kAwaitLimit = std::chrono::seconds(10);

void check(int rc, const char* what) {
  if (rc != 0) {
    char text[160];
    mbedtls_strerror(rc, text, sizeof text);
    throw std::runtime_error(std::string(what) + ": " + text);
  }
}

int bioSend(void* socket, const unsigned char* buf, size_t len) {
  try {
    return static_cast<Poco::Net::StreamSocket*>(socket)->sendBytes(buf, static_cast<int>(len));
  } catch (...) {
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

int bioRecv(void* socket, unsigned char* buf, size_t len) {
  try {
    return static_cast<Poco::Net::StreamSocket*>(socket)->receiveBytes(buf, static_cast<int>(len));
  } catch (...) {
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

std::size_t contentLength(const std::string& head) {
  std::istringstream lines(head);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    if (Poco::icompare(Poco::trim(line.substr(0, colon)), "content-length") == 0) {
      return static_cast<std::size_t>(std::stoul(Poco::trim(line.substr(colon + 1))));
    }
  }
  return 0;
}

}  // namespace

struct TlsTestServer::Tls {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt cert;
  mbedtls_pk_context key;
  mbedtls_ssl_config config;

  explicit Tls(const Options& options) {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&cert);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&config);
    try {
      check(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, nullptr, 0), "seed");
      check(mbedtls_x509_crt_parse(&cert, reinterpret_cast<const unsigned char*>(options.certPem.c_str()),
                                   options.certPem.size() + 1),
            "server certificate");
      check(mbedtls_pk_parse_key(&key, reinterpret_cast<const unsigned char*>(options.keyPem.c_str()),
                                 options.keyPem.size() + 1, nullptr, 0),
            "server key");
      check(mbedtls_ssl_config_defaults(&config, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                        MBEDTLS_SSL_PRESET_DEFAULT),
            "server config");
      mbedtls_ssl_conf_rng(&config, mbedtls_ctr_drbg_random, &drbg);
      check(mbedtls_ssl_conf_own_cert(&config, &cert, &key), "own certificate");
      if (options.tls11Only) {
        mbedtls_ssl_conf_min_version(&config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_2);
        mbedtls_ssl_conf_max_version(&config, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_2);
      }
    } catch (...) {
      release();
      throw;
    }
  }
  ~Tls() { release(); }
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;

  void release() {
    mbedtls_ssl_config_free(&config);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&cert);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
};

TlsTestServer::TlsTestServer(Options options) : options_(std::move(options)) {
  // A client that hangs up while the server writes must not kill the test process.
  (void)std::signal(SIGPIPE, SIG_IGN);
  if (!options_.certPem.empty()) tls_ = new Tls(options_);
  listener_.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true);
  listener_.listen(16);
  port_ = listener_.address().port();
  thread_ = std::thread([this] { run(); });
}

TlsTestServer::~TlsTestServer() {
  stop();
  delete tls_;
}

std::string TlsTestServer::url(const std::string& host) const {
  return std::string(tls_ ? "https" : "http") + "://" + host + ":" + std::to_string(port_);
}

int TlsTestServer::accepted() const {
  std::lock_guard lock(mutex_);
  return accepted_;
}
int TlsTestServer::handshakes() const {
  std::lock_guard lock(mutex_);
  return handshakes_;
}
int TlsTestServer::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}
std::string TlsTestServer::lastHandshakeError() const {
  std::lock_guard lock(mutex_);
  return lastHandshakeError_;
}

void TlsTestServer::hold(HoldPoint point) {
  std::lock_guard lock(mutex_);
  holding_ = true;
  holdPoint_ = point;
}

bool TlsTestServer::awaitHeld() {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, kAwaitLimit, [&] { return held_ > 0; });
}

void TlsTestServer::release() {
  {
    std::lock_guard lock(mutex_);
    holding_ = false;
  }
  changed_.notify_all();
}

bool TlsTestServer::awaitClosedConnections(int n) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, kAwaitLimit, [&] { return closed_ >= n; });
}

void TlsTestServer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    // Wakes a read blocked on the connection being served.
    try {
      if (current_.impl()->initialized()) current_.shutdown();
    } catch (const Poco::Exception&) {
    }
  }
  changed_.notify_all();
  try {  // wakes the accept
    Poco::Net::StreamSocket waker;
    waker.connect(Poco::Net::SocketAddress("127.0.0.1", port_));
  } catch (const Poco::Exception&) {
  }
  if (thread_.joinable()) thread_.join();
  listener_.close();
}

bool TlsTestServer::holdAt(HoldPoint point) {
  std::unique_lock lock(mutex_);
  if (!holding_ || holdPoint_ != point) return !stopping_;
  ++held_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return !holding_ || stopping_; });
  --held_;
  return !stopping_;
}

void TlsTestServer::run() {
  for (;;) {
    Poco::Net::StreamSocket socket;
    try {
      socket = listener_.acceptConnection();
    } catch (const Poco::Exception&) {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      continue;
    }
    int connection = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      connection = ++accepted_;
      current_ = socket;
    }
    try {
      serve(socket, connection);
    } catch (const std::exception&) {
      // A client that goes away mid-request ends only that connection.
    }
    {
      std::lock_guard lock(mutex_);
      current_ = Poco::Net::StreamSocket();
      socket.close();
      ++closed_;
    }
    changed_.notify_all();
  }
}

void TlsTestServer::serve(Poco::Net::StreamSocket& socket, int connection) {
  struct Session {
    mbedtls_ssl_context ssl;
    bool active = false;
    ~Session() {
      if (active) mbedtls_ssl_free(&ssl);
    }
  } session;

  if (tls_) {
    mbedtls_ssl_init(&session.ssl);
    session.active = true;
    check(mbedtls_ssl_setup(&session.ssl, &tls_->config), "ssl setup");
    mbedtls_ssl_set_bio(&session.ssl, &socket, bioSend, bioRecv, nullptr);
    int rc;
    while ((rc = mbedtls_ssl_handshake(&session.ssl)) != 0) {
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      char text[160];
      mbedtls_strerror(rc, text, sizeof text);
      std::lock_guard lock(mutex_);
      lastHandshakeError_ = text;
      return;
    }
    std::lock_guard lock(mutex_);
    ++handshakes_;
  }

  const auto readSome = [&](std::string& into) {
    unsigned char buf[16384];
    int n;
    if (tls_) {
      do {
        n = mbedtls_ssl_read(&session.ssl, buf, sizeof buf);
      } while (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE);
    } else {
      n = socket.receiveBytes(buf, sizeof buf);
    }
    if (n <= 0) return false;
    into.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
    return true;
  };
  const auto writeAll = [&](const std::string& data) {
    if (!tls_) {
      socket.sendBytes(data.data(), static_cast<int>(data.size()));
      return true;
    }
    std::size_t done = 0;
    while (done < data.size()) {
      const int n = mbedtls_ssl_write(&session.ssl, reinterpret_cast<const unsigned char*>(data.data()) + done,
                                      data.size() - done);
      if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      if (n < 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  };

  std::string pending;
  int answered = 0;
  for (;;) {
    if (!holdAt(HoldPoint::before_reading_request)) return;
    std::size_t headEnd;
    while ((headEnd = pending.find("\r\n\r\n")) == std::string::npos) {
      if (!readSome(pending)) return;
    }
    headEnd += 4;
    const std::string head = pending.substr(0, headEnd);
    const std::size_t bodyLength = contentLength(head);
    while (pending.size() < headEnd + bodyLength) {
      if (!readSome(pending)) return;
    }
    const std::string body = pending.substr(headEnd, bodyLength);
    pending.erase(0, headEnd + bodyLength);
    std::istringstream requestLine(head);
    std::string method, uri;
    requestLine >> method >> uri;
    {
      std::lock_guard lock(mutex_);
      ++requests_;
    }
    if (!holdAt(HoldPoint::before_answering)) return;

    ++answered;
    const bool goodbye = uri == "/bye";
    std::string answer = method;
    answer.append(" ").append(uri).append("\n").append(body);
    std::string response = "HTTP/1.1 200 OK\r\nDate: ";
    response.append(kTestServerDate)
        .append("\r\nContent-Type: text/plain\r\nContent-Length: ")
        .append(std::to_string(answer.size()))
        .append("\r\nX-Connection: ")
        .append(std::to_string(connection))
        .append("\r\nX-Request: ")
        .append(std::to_string(answered))
        .append("\r\n")
        .append(goodbye ? "Connection: close\r\n" : "")
        .append("\r\n")
        .append(answer);
    if (!writeAll(response)) return;
    if (goodbye || (options_.closeAfterAnswers > 0 && answered >= options_.closeAfterAnswers)) {
      if (tls_) (void)mbedtls_ssl_close_notify(&session.ssl);
      return;
    }
  }
}

}  // namespace fieldagent::testing
