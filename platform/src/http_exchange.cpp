#include "fieldagent/platform/http_exchange.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>

#include <istream>
#include <ostream>
#include <strings.h>

#include "fieldagent/platform/http_transport.hpp"

namespace fieldagent::platform {
namespace {

Poco::Timespan timespan(std::chrono::milliseconds ms) { return Poco::Timespan(ms.count() * 1000); }

// Reading and writing are where Poco reports trouble through stream state, not exceptions: the
// exception that broke a read or write is kept by the session.
[[noreturn]] void rethrowNetworkFailure(const Poco::Net::HTTPClientSession& session, const char* during) {
  if (const Poco::Exception* failure = session.networkException()) failure->rethrow();
  throw Poco::Net::NetException(std::string("the connection failed while ") + during);
}

}  // namespace

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (::strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return std::nullopt;
}

std::optional<WallTime> HttpResponse::date() const {
  auto value = header("Date");
  if (!value) return std::nullopt;
  return parseHttpDate(*value);
}

PocoHttpExchange::PocoHttpExchange(HttpOptions options, SessionFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {
  if (!factory_) {
    factory_ = [connect = options_.connectTimeout, io = options_.ioTimeout](const Origin& origin) -> Result<SessionPtr> {
      if (origin.scheme != "http") {
        return makeError("bad_url", origin.scheme + " needs the TLS transport, which this exchange was not given");
      }
      auto session = std::make_unique<Poco::Net::HTTPClientSession>(origin.host, origin.port);
      session->setTimeout(timespan(connect), timespan(io), timespan(io));
      return session;
    };
  }
}

PocoHttpExchange::~PocoHttpExchange() = default;

Result<PocoHttpExchange::SessionPtr> PocoHttpExchange::checkout(const Origin& origin) {
  {
    std::lock_guard lock(mutex_);
    auto it = idle_.find(origin);
    if (it != idle_.end()) {
      SessionPtr session = std::move(it->second);
      idle_.erase(it);
      return session;
    }
  }
  auto made = factory_(origin);
  if (!made) return made.error();
  SessionPtr session = std::move(made).value();
  session->setKeepAlive(true);
  return session;
}

void PocoHttpExchange::checkin(const Origin& origin, SessionPtr session) {
  std::lock_guard lock(mutex_);
  if (idle_.count(origin) < tuning::kIdleConnectionsPerOrigin) idle_.emplace(origin, std::move(session));
}

void PocoHttpExchange::closeIdle() {
  std::lock_guard lock(mutex_);
  idle_.clear();
}

Result<HttpResponse> PocoHttpExchange::exchange(const HttpRequest& request) {
  auto split = splitUrl(request.url);
  if (!split) return split.error();
  const auto& [origin, target] = *split;
  auto checkedOut = checkout(origin);
  if (!checkedOut) return checkedOut.error();
  SessionPtr session = std::move(checkedOut).value();
  const std::string what = request.method + " " + request.url;

  Poco::Net::HTTPRequest req(request.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setKeepAlive(true);
  req.set("User-Agent", options_.userAgent);
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty() || request.method == "POST" || request.method == "PATCH" || request.method == "PUT") {
    req.setContentLength64(static_cast<Poco::Int64>(request.body.size()));
  }
  // Every failure drops the session (with its connection): what is left of the answer may still
  // be on the wire, and a connection that failed once is not worth keeping.
  const auto failed = [&](Error error) {
    session->reset();
    error.message = what + ": " + error.message;
    return error;
  };
  try {
    std::ostream& out = session->sendRequest(req);
    out.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
    out.flush();
    if (!out) rethrowNetworkFailure(*session, "sending the request");

    Poco::Net::HTTPResponse res;
    std::istream& in = session->receiveResponse(res);
    HttpResponse response;
    response.status = static_cast<int>(res.getStatus());
    response.reason = res.getReason();
    for (const auto& [name, value] : res) response.headers.emplace_back(name, value);

    const bool bodyExpected = request.method != "HEAD" && response.status != 204 && response.status != 304;
    const bool lengthKnown = bodyExpected && res.hasContentLength();
    const auto length = lengthKnown ? static_cast<std::uint64_t>(res.getContentLength64()) : 0;
    if (lengthKnown && length > options_.maxResponseBytes) {
      return failed(makeError("response_too_large", "the answer announces " + std::to_string(length) +
                                                        " bytes, more than the " +
                                                        std::to_string(options_.maxResponseBytes) + " accepted"));
    }
    if (lengthKnown) response.body.reserve(static_cast<std::size_t>(length));
    char chunk[tuning::kReadChunkBytes];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) {
      response.body.append(chunk, static_cast<std::size_t>(in.gcount()));
      if (response.body.size() > options_.maxResponseBytes) {
        return failed(makeError("response_too_large", "the answer is larger than the " +
                                                          std::to_string(options_.maxResponseBytes) +
                                                          " bytes accepted"));
      }
    }
    if (in.bad() || session->networkException()) rethrowNetworkFailure(*session, "reading the answer");
    if (lengthKnown && response.body.size() != length) {
      return failed(makeError("transport_failed", "the server closed the connection after " +
                                                      std::to_string(response.body.size()) + " of " +
                                                      std::to_string(length) + " bytes of the answer"));
    }
    if (res.getKeepAlive()) checkin(origin, std::move(session));
    return response;
  } catch (const Poco::Exception& e) {
    return failed(transportError(e));
  } catch (const std::exception& e) {
    return failed(transportError(e));
  }
}

}  // namespace fieldagent::platform
