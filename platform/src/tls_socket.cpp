// The TLS socket under Poco's classes: TCP through Poco's StreamSocketImpl, the bytes through
// mbedTLS with our own poll()-based BIO and deadlines, the peer checked for IP addresses and pins.
#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <system_error>

#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocketImpl.h>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/tls.hpp"
#include "tls_state.hpp"

namespace fieldagent::platform {

// ---------------------------------------------------------------------------------------------
// The socket

namespace {

using SteadyClock = std::chrono::steady_clock;

std::optional<std::string> ipAddressBytes(const std::string& host) {
  std::string bytes(16, '\0');
  if (::inet_pton(AF_INET, host.c_str(), bytes.data()) == 1) return bytes.substr(0, 4);
  if (::inet_pton(AF_INET6, host.c_str(), bytes.data()) == 1) return bytes;
  return std::nullopt;
}

// mbedTLS 2.28 matches the host name against dNSName entries and the CN only: it does not even
// collect iPAddress entries of subjectAltName. A connection to an IP address is therefore checked
// here, by walking the certificate's extensions for the SAN and comparing its iPAddress entries
// byte for byte (RFC 6125: an IP address is never matched against a CN or DNS name).
bool certificateNamesIp(const mbedtls_x509_crt& crt, const std::string& ip) {
  if (crt.v3_ext.p == nullptr || crt.v3_ext.len == 0) return false;
  unsigned char* p = crt.v3_ext.p;
  const unsigned char* end = p + crt.v3_ext.len;
  size_t len = 0;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return false;
  end = p + len;
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) return false;
    const unsigned char* extEnd = p + len;
    if (mbedtls_asn1_get_tag(&p, extEnd, &len, MBEDTLS_ASN1_OID) != 0) return false;
    const bool isSan =
        len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME) && std::memcmp(p, MBEDTLS_OID_SUBJECT_ALT_NAME, len) == 0;
    p += len;
    int critical = 0;
    const int boolRc = mbedtls_asn1_get_bool(&p, extEnd, &critical);
    if (boolRc != 0 && boolRc != MBEDTLS_ERR_ASN1_UNEXPECTED_TAG) return false;
    if (mbedtls_asn1_get_tag(&p, extEnd, &len, MBEDTLS_ASN1_OCTET_STRING) != 0) return false;
    if (isSan) {
      unsigned char* q = p;
      const unsigned char* sanEnd = p + len;
      size_t namesLen = 0;
      if (mbedtls_asn1_get_tag(&q, sanEnd, &namesLen, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0) {
        return false;
      }
      const unsigned char* namesEnd = q + namesLen;
      while (q < namesEnd) {
        const unsigned char tag = *q++;
        size_t nameLen = 0;
        if (mbedtls_asn1_get_len(&q, namesEnd, &nameLen) != 0) return false;
        if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) && nameLen == ip.size() &&
            std::memcmp(q, ip.data(), nameLen) == 0) {
          return true;
        }
        q += nameLen;
      }
    }
    p = const_cast<unsigned char*>(extEnd);
  }
  return false;
}

std::string millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

class TlsSocketImpl final : public Poco::Net::StreamSocketImpl {
 public:
  TlsSocketImpl(std::shared_ptr<const TlsClientContext> context, std::string host)
      : context_(std::move(context)),
        host_(std::move(host)),
        hostIp_(ipAddressBytes(host_)),
        readTimeout_(context_->options().readTimeout),
        writeTimeout_(context_->options().writeTimeout) {}

  void connect(const Poco::Net::SocketAddress& address) override {
    connect(address,
            Poco::Timespan(
                std::chrono::duration_cast<std::chrono::microseconds>(context_->options().connectTimeout).count()));
  }

  // HTTPClientSession::reconnect() closes the socket and calls connect() again with the same
  // address, so every connect() ends any earlier TLS session and makes a full handshake.
  void connect(const Poco::Net::SocketAddress& address, const Poco::Timespan& timeout) override {
    endSession(false);
    if (initialized()) Poco::Net::StreamSocketImpl::close();
    Poco::Net::StreamSocketImpl::connect(address, timeout);
    try {
      handshake();
    } catch (...) {
      endSession(false);
      Poco::Net::StreamSocketImpl::close();
      throw;
    }
  }

  // Refused on purpose, not left to do: what SocketImpl would do here bypasses the TLS session.
  // A non-blocking connect would return before the handshake, so the first write would go out
  // in the clear; a client socket accepts nothing. (Poco's own SecureStreamSocketImpl refuses
  // accept the same way.) HTTPClientSession only ever calls connect(address, timeout).
  void connectNB(const Poco::Net::SocketAddress&) override {
    throw Poco::InvalidAccessException("a TLS socket connects blocking: the handshake follows the connect");
  }

  Poco::Net::SocketImpl* acceptConnection(Poco::Net::SocketAddress&) override {
    throw Poco::InvalidAccessException("the TLS socket is a client socket");
  }

  void close() override {
    endSession(true);
    Poco::Net::StreamSocketImpl::close();
  }

  // HTTPSession::abort() shuts down before it closes, so neither may wait for a peer that has
  // stopped reading.
  void shutdownSend() override {
    sendCloseNotify();
    Poco::Net::StreamSocketImpl::shutdownSend();
  }

  void shutdown() override {
    sendCloseNotify();
    Poco::Net::StreamSocketImpl::shutdown();
  }

  int sendBytes(const void* buffer, int length, int flags) override {
    requireSession(flags);
    if (checkForIdleClose_) {
      checkForIdleClose_ = false;
      // Poco's HTTPClientSession reconnects and repeats the first write of a request when that
      // write fails with a network error. A server that dropped the kept-alive connection while
      // it was idle is noticed here, before a byte of the new request goes out.
      if (peerSpokeWhileIdle()) {
        throw Poco::Net::ConnectionResetException("the server closed the kept-alive connection", host_);
      }
    }
    const auto* bytes = static_cast<const unsigned char*>(buffer);
    int sent = 0;
    while (sent < length) {
      armDeadline(writeTimeout_);
      const int rc = mbedtls_ssl_write(ssl_.get(), bytes + sent, static_cast<size_t>(length - sent));
      if (rc > 0) {
        sent += rc;
      } else if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
        throw Poco::TimeoutException("TLS write to " + host_ + " made no progress within " + millis(writeTimeout_));
      } else if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) {
        throwIoFailure("write to", rc);
      }
    }
    return sent;
  }

  int sendBytes(const Poco::Net::SocketBufVec& buffers, int flags) override {
    int total = 0;
    for (const auto& b : buffers) total += sendBytes(b.iov_base, static_cast<int>(b.iov_len), flags);
    return total;
  }

  int receiveBytes(void* buffer, int length, int flags) override {
    requireSession(flags);
    if (peerClosed_ || length <= 0) return 0;
    for (;;) {
      armDeadline(readTimeout_);
      const int rc = mbedtls_ssl_read(ssl_.get(), static_cast<unsigned char*>(buffer), static_cast<size_t>(length));
      if (rc > 0) {
        checkForIdleClose_ = true;
        return rc;
      }
      if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF) {
        peerClosed_ = true;
        return 0;
      }
      if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
        throw Poco::TimeoutException("no data from " + host_ + " within " + millis(readTimeout_));
      }
      if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE) throwIoFailure("read from", rc);
    }
  }

  int receiveBytes(Poco::Net::SocketBufVec& buffers, int flags) override {
    for (auto& b : buffers) {
      if (b.iov_len > 0) return receiveBytes(b.iov_base, static_cast<int>(b.iov_len), flags);
    }
    return 0;
  }

  int receiveBytes(Poco::Buffer<char>& buffer, int flags, const Poco::Timespan& timeout) override {
    requireSession(flags);
    if (available() == 0 && !poll(timeout, SELECT_READ)) return 0;
    if (buffer.capacity() == 0) buffer.resize(4096);
    const int n = receiveBytes(buffer.begin(), static_cast<int>(buffer.capacity()), flags);
    buffer.resize(static_cast<std::size_t>(n));
    return n;
  }

  // Refused on purpose: TCP urgent data travels outside the TLS records, unencrypted.
  void sendUrgent(unsigned char) override { throw Poco::InvalidAccessException("out-of-band data would bypass TLS"); }

  // Bytes already decrypted and waiting in mbedTLS; the kernel's count is of ciphertext.
  int available() override {
    if (!ssl_) return 0;
    return static_cast<int>(mbedtls_ssl_get_bytes_avail(ssl_.get()));
  }

  bool poll(const Poco::Timespan& timeout, int mode) override {
    if (ssl_ && (mode & SELECT_READ) != 0 && mbedtls_ssl_get_bytes_avail(ssl_.get()) > 0) return true;
    return Poco::Net::StreamSocketImpl::poll(timeout, mode);
  }

  // All waits are poll()s against the deadlines below, so the timeouts are kept here rather than
  // as SO_RCVTIMEO/SO_SNDTIMEO (which would also cut mbedTLS off in the middle of a record).
  void setReceiveTimeout(const Poco::Timespan& timeout) override {
    readTimeout_ = std::chrono::milliseconds(timeout.totalMilliseconds());
  }
  Poco::Timespan getReceiveTimeout() override { return Poco::Timespan(readTimeout_.count() * 1000); }
  void setSendTimeout(const Poco::Timespan& timeout) override {
    writeTimeout_ = std::chrono::milliseconds(timeout.totalMilliseconds());
  }
  Poco::Timespan getSendTimeout() override { return Poco::Timespan(writeTimeout_.count() * 1000); }

  bool secure() const override { return true; }

 protected:
  ~TlsSocketImpl() override { endSession(true); }

 private:
  const TlsClientContext::State& shared() const { return context_->state(); }

  void handshake() {
    ssl_ = std::make_unique<mbedtls_ssl_context>();
    mbedtls_ssl_init(ssl_.get());
    int rc = mbedtls_ssl_setup(ssl_.get(), &shared().config);
    if (rc != 0) throw TlsException(TlsFailure::handshake_failed, "cannot set up TLS: " + mbedtlsText(rc));
    // An IP address is neither sent as SNI (RFC 6066 forbids it) nor given to mbedTLS's name
    // check; verifyPeer() checks it against the iPAddress entries instead.
    if (!hostIp_) {
      rc = mbedtls_ssl_set_hostname(ssl_.get(), host_.c_str());
      if (rc != 0) throw TlsException(TlsFailure::handshake_failed, "bad host name " + host_ + ": " + mbedtlsText(rc));
    }
    mbedtls_ssl_set_verify(ssl_.get(), &TlsSocketImpl::verifyPeer, this);
    mbedtls_ssl_set_bio(ssl_.get(), this, &TlsSocketImpl::bioSend, &TlsSocketImpl::bioRecv, nullptr);
    pinMismatch_ = false;
    ioErrno_ = 0;
    const auto timeout = context_->options().handshakeTimeout;
    deadline_ = SteadyClock::now() + timeout;
    while ((rc = mbedtls_ssl_handshake(ssl_.get())) != 0) {
      if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      throwHandshakeFailure(rc, timeout);
    }
    peerClosed_ = false;
    checkForIdleClose_ = false;
  }

  [[noreturn]] void throwHandshakeFailure(int rc, std::chrono::milliseconds timeout) const {
    const std::string who = "TLS handshake with " + host_;
    if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
      const uint32_t flags = mbedtls_ssl_get_verify_result(ssl_.get());
      char details[512];
      const int n = mbedtls_x509_crt_verify_info(details, sizeof details, "",
                                                 flags & ~static_cast<uint32_t>(MBEDTLS_X509_BADCERT_OTHER));
      std::string detail = n > 0 ? std::string(details, static_cast<size_t>(n)) : std::string();
      std::replace(detail.begin(), detail.end(), '\n', ';');
      if (pinMismatch_) detail += "the server's public key is not one of the pinned keys;";
      TlsFailure failure = TlsFailure::bad_certificate;
      std::string what = "the server certificate was refused";
      if (flags & (MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_MISSING)) {
        failure = TlsFailure::untrusted;
        what = "the server certificate is not issued by a trusted CA (unknown CA or self-signed)";
      } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
        failure = TlsFailure::expired;
        what = "the server certificate has expired";
      } else if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
        failure = TlsFailure::not_yet_valid;
        what = "the server certificate is not valid yet (check the device clock)";
      } else if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
        failure = TlsFailure::hostname_mismatch;
        what =
            std::string("the server certificate does not name ") + (hostIp_ ? "the IP address " : "the host ") + host_;
      } else if (pinMismatch_) {
        failure = TlsFailure::pin_mismatch;
        what = "the server's public key does not match the pinned key";
      }
      throw TlsCertificateException(failure, who + " failed: " + what + " [" + detail + "]");
    }
    if (rc == MBEDTLS_ERR_SSL_TIMEOUT) {
      throw TlsException(TlsFailure::handshake_timeout, who + " did not finish within " + millis(timeout));
    }
    if (rc == MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION || rc == MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE) {
      throw TlsException(TlsFailure::protocol,
                         who + " failed: no common protocol version or cipher suite (TLS 1.2 or newer is required): " +
                             mbedtlsText(rc));
    }
    if (rc == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE && ssl_->in_msgtype == MBEDTLS_SSL_MSG_ALERT && ssl_->in_msg) {
      const int alert = ssl_->in_msg[1];
      const bool versionOrCipher = alert == MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION ||
                                   alert == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE ||
                                   alert == MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY;
      throw TlsException(versionOrCipher ? TlsFailure::protocol : TlsFailure::handshake_failed,
                         who + " failed: the server sent alert " + std::to_string(alert));
    }
    std::string reason = mbedtlsText(rc);
    if (ioErrno_ != 0) reason += " (" + std::system_category().message(ioErrno_) + ")";
    if (rc == MBEDTLS_ERR_SSL_CONN_EOF) reason = "the server closed the connection";
    throw TlsException(TlsFailure::handshake_failed, who + " failed: " + reason);
  }

  static int verifyPeer(void* self, mbedtls_x509_crt* crt, int depth, uint32_t* flags) {
    if (depth != 0) return 0;
    try {
      auto& socket = *static_cast<TlsSocketImpl*>(self);
      if (socket.hostIp_ && !certificateNamesIp(*crt, *socket.hostIp_)) *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
      const auto& pins = socket.shared().pins;
      if (!pins.empty()) {
        const std::string digest =
            sha256(std::string_view(reinterpret_cast<const char*>(crt->pk_raw.p), crt->pk_raw.len));
        if (std::find(pins.begin(), pins.end(), digest) == pins.end()) {
          socket.pinMismatch_ = true;
          *flags |= MBEDTLS_X509_BADCERT_OTHER;
        }
      }
      return 0;
    } catch (...) {
      return MBEDTLS_ERR_X509_FATAL_ERROR;  // no exception may unwind through mbedTLS's C frames
    }
  }

  // Waits until the socket is ready for `events` or the current deadline passes.
  bool waitReady(short events) const {
    for (;;) {
      int waitMs = -1;
      if (deadline_) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - SteadyClock::now());
        waitMs = static_cast<int>(std::max<std::chrono::milliseconds::rep>(0, left.count()));
      }
      pollfd pfd{sockfd(), events, 0};
      const int rc = ::poll(&pfd, 1, waitMs);
      if (rc > 0) return true;
      if (rc == 0) return false;
      if (errno != EINTR) return true;  // let the recv/send report the socket's error
    }
  }

  static int bioSend(void* self, const unsigned char* buf, size_t len) {
    auto& socket = *static_cast<TlsSocketImpl*>(self);
    if (!socket.waitReady(POLLOUT)) return MBEDTLS_ERR_SSL_TIMEOUT;
    ssize_t n;
    do {
      n = ::send(socket.sockfd(), buf, len, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    socket.ioErrno_ = errno;
    return (errno == EPIPE || errno == ECONNRESET) ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_SEND_FAILED;
  }

  static int bioRecv(void* self, unsigned char* buf, size_t len) {
    auto& socket = *static_cast<TlsSocketImpl*>(self);
    if (!socket.waitReady(POLLIN)) return MBEDTLS_ERR_SSL_TIMEOUT;
    ssize_t n;
    do {
      n = ::recv(socket.sockfd(), buf, len, 0);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    socket.ioErrno_ = errno;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
  }

  void armDeadline(std::chrono::milliseconds timeout) {
    if (timeout.count() > 0) {
      deadline_ = SteadyClock::now() + timeout;
    } else {
      deadline_.reset();
    }
  }

  void requireSession(int flags) const {
    if (!ssl_) throw Poco::Net::InvalidSocketException("TLS socket to " + host_ + " is not connected");
    if (flags != 0) throw Poco::InvalidArgumentException("socket flags are not supported on a TLS socket");
  }

  // Between an answer and the next request an HTTP/1.1 server has nothing to say; anything
  // readable now is its close_notify, a FIN, a reset, or a parting "408" before it hangs up.
  bool peerSpokeWhileIdle() const {
    if (peerClosed_ || mbedtls_ssl_get_bytes_avail(ssl_.get()) > 0) return true;
    pollfd pfd{sockfd(), POLLIN, 0};
    return ::poll(&pfd, 1, 0) > 0;
  }

  [[noreturn]] void throwIoFailure(const char* direction, int rc) const {
    std::string reason = mbedtlsText(rc);
    if (ioErrno_ != 0) reason = std::system_category().message(ioErrno_);
    const std::string message = std::string("TLS ") + direction + " " + host_ + " failed: " + reason;
    if (rc == MBEDTLS_ERR_NET_CONN_RESET) throw Poco::Net::ConnectionResetException(message);
    throw Poco::Net::NetException(message);
  }

  // Best effort, without waiting: the server may be gone or not reading.
  void sendCloseNotify() {
    if (!ssl_ || peerClosed_ || !initialized() || ssl_->state != MBEDTLS_SSL_HANDSHAKE_OVER) return;
    deadline_ = SteadyClock::now();
    (void)mbedtls_ssl_close_notify(ssl_.get());
  }

  void endSession(bool sayGoodbye) {
    if (!ssl_) return;
    if (sayGoodbye) sendCloseNotify();
    mbedtls_ssl_free(ssl_.get());
    ssl_.reset();
    peerClosed_ = false;
    checkForIdleClose_ = false;
  }

  std::shared_ptr<const TlsClientContext> context_;
  std::string host_;
  std::optional<std::string> hostIp_;  // 4 or 16 bytes when host_ is an IP address
  std::chrono::milliseconds readTimeout_;
  std::chrono::milliseconds writeTimeout_;
  std::unique_ptr<mbedtls_ssl_context> ssl_;  // only while connected: it holds both record buffers
  std::optional<SteadyClock::time_point> deadline_;
  bool peerClosed_ = false;
  bool checkForIdleClose_ = false;
  bool pinMismatch_ = false;
  int ioErrno_ = 0;
};

}  // namespace

Poco::Net::StreamSocket makeTlsSocket(std::shared_ptr<const TlsClientContext> context, const std::string& host) {
  return Poco::Net::StreamSocket(new TlsSocketImpl(std::move(context), host));
}

}  // namespace fieldagent::platform
