#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <istream>
#include <new>
#include <ostream>

#include "fieldagent/platform/http_transport.hpp"

namespace fieldagent::platform {
namespace {

Poco::Timespan timespan(std::chrono::milliseconds ms) { return Poco::Timespan(ms.count() * 1000); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Sessions

HttpTransport::HttpTransport(TlsOptions options) : options_(std::move(options)) {}

Result<std::shared_ptr<const TlsClientContext>> HttpTransport::trust() const {
  std::lock_guard lock(mutex_);
  if (!tls_) {
    auto made = TlsClientContext::create(options_);
    if (!made) return made.error();
    tls_ = std::move(made).value();
  }
  return tls_;
}

Result<void> HttpTransport::loadTrust() const {
  auto tls = trust();
  if (!tls) return tls.error();
  return {};
}

Result<std::unique_ptr<Poco::Net::HTTPClientSession>> HttpTransport::newSession(const BaseUrl& origin) const {
  std::unique_ptr<Poco::Net::HTTPClientSession> session;
  if (origin.secure()) {
    auto tls = trust();
    if (!tls) return tls.error();
    session = std::make_unique<Poco::Net::HTTPClientSession>(makeTlsSocket(std::move(tls).value(), origin.host));
  } else {
    if (!origin.loopback() && !options_.allowPlainHttpBeyondLoopback) {
      return makeError("insecure_url",
                       origin.toString() + ": plain http:// is only used on loopback; use https:// for the upstream");
    }
    session = std::make_unique<Poco::Net::HTTPClientSession>();
  }
  session->setHost(origin.host);
  session->setPort(origin.port);
  // Never the process-wide proxy: a proxy could not carry this TLS (no CONNECT tunnel here), and
  // would read http:// traffic.
  session->setProxyConfig(Poco::Net::HTTPClientSession::ProxyConfig());
  session->setKeepAlive(true);
  session->setKeepAliveTimeout(timespan(options_.keepAliveIdle));
  // Poco's own order is connect, send, receive.
  session->setTimeout(timespan(options_.connectTimeout), timespan(options_.writeTimeout),
                      timespan(options_.readTimeout));
  return session;
}

SessionFactory sessionFactory(std::shared_ptr<const HttpTransport> transport) {
  return [transport = std::move(transport)](const Origin& origin) {
    return transport->newSession(BaseUrl{origin.scheme, origin.host, origin.port, {}});
  };
}

// ---------------------------------------------------------------------------------------------
// Classification

Error transportError(const Poco::Exception& failure) {
  const std::string text = failure.displayText();
  if (const auto* tls = dynamic_cast<const TlsException*>(&failure)) {
    switch (tls->failure()) {
      case TlsFailure::untrusted:
        return makeError("tls_untrusted", failure.message());
      case TlsFailure::expired:
        return makeError("tls_expired", failure.message());
      case TlsFailure::not_yet_valid:
        return makeError("tls_not_yet_valid", failure.message());
      case TlsFailure::hostname_mismatch:
        return makeError("tls_hostname_mismatch", failure.message());
      case TlsFailure::pin_mismatch:
        return makeError("tls_pin_mismatch", failure.message());
      case TlsFailure::bad_certificate:
        return makeError("tls_bad_certificate", failure.message());
      case TlsFailure::protocol:
        return makeError("tls_protocol", failure.message());
      case TlsFailure::handshake_timeout:
        return makeError("tls_handshake_timeout", failure.message());
      case TlsFailure::handshake_failed:
        return makeError("tls_handshake", failure.message());
    }
  }
  if (dynamic_cast<const Poco::TimeoutException*>(&failure)) return makeError("transport_timeout", text);
  if (dynamic_cast<const Poco::IOException*>(&failure)) return makeError("transport_failed", text);
  if (dynamic_cast<const Poco::LogicException*>(&failure)) return makeError("internal", text);
  return makeError("transport_failed", text);
}

Error transportError(const std::exception& failure) {
  if (const auto* poco = dynamic_cast<const Poco::Exception*>(&failure)) return transportError(*poco);
  if (dynamic_cast<const std::bad_alloc*>(&failure)) return makeError("internal", "out of memory");
  return makeError("internal", failure.what());
}

bool isPermanentTransportError(const Error& error) {
  static constexpr std::array<ErrorCode, 12> kPermanent{
      "tls_untrusted", "tls_expired", "tls_not_yet_valid", "tls_hostname_mismatch", "tls_pin_mismatch",
      "tls_bad_certificate", "tls_protocol", "bad_url", "insecure_url", "tls_config", "response_too_large",
      "internal"};
  return std::find(kPermanent.begin(), kPermanent.end(), error.code) != kPermanent.end();
}

namespace {

// A cursor over an HTTP-date that accepts exactly the RFC 9110 grammar (Poco's DateTimeParser
// accepts "yesterday" and half dates, and a wrong server date would skew TOTP codes).
class DateReader {
 public:
  explicit DateReader(std::string_view text) : text_(text) {}
  bool literal(std::string_view s) {
    if (text_.substr(pos_, s.size()) != s) return false;
    pos_ += s.size();
    return true;
  }
  bool digits(std::size_t count, int& out) {
    out = 0;
    for (std::size_t i = 0; i < count; ++i, ++pos_) {
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') return false;
      out = out * 10 + (text_[pos_] - '0');
    }
    return true;
  }
  template <std::size_t N>
  bool oneOf(const std::array<std::string_view, N>& names, int& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  bool time(int& h, int& m, int& s) {
    return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, s);
  }
  bool done() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays{"Monday", "Tuesday",  "Wednesday", "Thursday",
                                                    "Friday", "Saturday", "Sunday"};

std::optional<WallTime> civil(int year, int month, int day, int h, int m, int s) {
  using namespace std::chrono;
  const year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)},
                            std::chrono::day{static_cast<unsigned>(day)}};
  if (!date.ok() || h > 23 || m > 59 || s > 60) return std::nullopt;  // 60: a leap second
  // A WallTime holds years 1678 to 2261 only; year 1 overflowed it (found by fuzzing).
  if (year < 1700 || year > 2200) return std::nullopt;
  return WallTime(sys_days(date).time_since_epoch() + hours(h) + minutes(m) + seconds(s));
}

}  // namespace

std::optional<WallTime> parseHttpDate(std::string_view text) {
  int weekday = 0, day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
  {  // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    DateReader r(text);
    if (r.oneOf(kDays, weekday) && r.literal(", ") && r.digits(2, day) && r.literal(" ") && r.oneOf(kMonths, month) &&
        r.literal(" ") && r.digits(4, year) && r.literal(" ") && r.time(h, m, s) && r.literal(" GMT") && r.done()) {
      return civil(year, month + 1, day, h, m, s);
    }
  }
  {  // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years 70-99 are 19xx, the rest 20xx)
    DateReader r(text);
    if (r.oneOf(kLongDays, weekday) && r.literal(", ") && r.digits(2, day) && r.literal("-") &&
        r.oneOf(kMonths, month) && r.literal("-") && r.digits(2, year) && r.literal(" ") && r.time(h, m, s) &&
        r.literal(" GMT") && r.done()) {
      return civil(year + (year >= 70 ? 1900 : 2000), month + 1, day, h, m, s);
    }
  }
  {  // asctime: Sun Nov  6 08:49:37 1994
    DateReader r(text);
    if (r.oneOf(kDays, weekday) && r.literal(" ") && r.oneOf(kMonths, month) && r.literal(" ") &&
        (r.literal(" ") ? r.digits(1, day) : r.digits(2, day)) && r.literal(" ") && r.time(h, m, s) && r.literal(" ") &&
        r.digits(4, year) && r.done()) {
      return civil(year, month + 1, day, h, m, s);
    }
  }
  return std::nullopt;
}

}  // namespace fieldagent::platform
