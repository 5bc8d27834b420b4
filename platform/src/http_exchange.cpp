#include "fieldagent/platform/http_exchange.hpp"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <istream>
#include <ostream>
#include <strings.h>

namespace fieldagent::platform {

std::optional<std::string> HttpResponse::header(const std::string& name) const {
  for (const auto& [key, value] : headers) {
    if (::strcasecmp(key.c_str(), name.c_str()) == 0) return value;
  }
  return std::nullopt;
}

Result<std::pair<Origin, std::string>> splitUrl(const std::string& url) {
  try {
    const Poco::URI uri(url);
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      return makeError("bad_url", "'" + url + "' is not an http or https URL");
    }
    if (uri.getHost().empty()) return makeError("bad_url", "'" + url + "' has no host");
    std::string target = uri.getPathEtc();
    // "http://host?x=1" has no path: the request target is "/?x=1", never "?x=1".
    if (target.empty() || target.front() != '/') target.insert(0, "/");
    return std::make_pair(Origin{uri.getScheme(), uri.getHost(), uri.getPort()}, target);
  } catch (const Poco::Exception& e) {
    return makeError("bad_url", "'" + url + "' is not a URL: " + e.message());
  }
}

PocoHttpExchange::PocoHttpExchange(HttpOptions options, SessionFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {
  if (!factory_) {
    factory_ = [](const Origin& origin) -> Result<SessionPtr> {
      if (origin.scheme != "http") {
        return makeError("bad_url", origin.scheme + " needs the TLS transport, which this exchange was not given");
      }
      return std::make_unique<Poco::Net::HTTPClientSession>(origin.host, origin.port);
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
  session->setTimeout(Poco::Timespan(std::chrono::microseconds(options_.connectTimeout).count()),
                      Poco::Timespan(std::chrono::microseconds(options_.ioTimeout).count()),
                      Poco::Timespan(std::chrono::microseconds(options_.ioTimeout).count()));
  return session;
}

void PocoHttpExchange::checkin(const Origin& origin, SessionPtr session) {
  std::lock_guard lock(mutex_);
  // A handful of idle connections per origin is all a device needs.
  if (idle_.count(origin) < 4) idle_.emplace(origin, std::move(session));
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

  Poco::Net::HTTPRequest req(request.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setKeepAlive(true);
  req.set("User-Agent", options_.userAgent);
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty() || request.method == "POST" || request.method == "PATCH" || request.method == "PUT") {
    req.setContentLength(static_cast<std::streamsize>(request.body.size()));
  }
  try {
    std::ostream& out = session->sendRequest(req);
    out.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
    Poco::Net::HTTPResponse res;
    std::istream& in = session->receiveResponse(res);
    HttpResponse response;
    response.status = static_cast<int>(res.getStatus());
    response.reason = res.getReason();
    for (const auto& [name, value] : res) response.headers.emplace_back(name, value);
    if (request.method != "HEAD" && res.hasContentLength() &&
        static_cast<std::uint64_t>(res.getContentLength64()) > options_.maxResponseBytes) {
      return makeError("response_too_large", request.method + " " + request.url + ": the answer announces " +
                                                 std::to_string(res.getContentLength64()) + " bytes");
    }
    char buf[16384];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
      response.body.append(buf, static_cast<std::size_t>(in.gcount()));
      if (response.body.size() > options_.maxResponseBytes) {
        return makeError("response_too_large",
                         request.method + " " + request.url + ": the answer is larger than " +
                             std::to_string(options_.maxResponseBytes) + " bytes");
      }
    }
    const bool bodyExpected = request.method != "HEAD" && response.status != 204 && response.status != 304;
    if (bodyExpected && res.hasContentLength() &&
        response.body.size() != static_cast<std::uint64_t>(res.getContentLength64())) {
      return makeError("transport", request.method + " " + request.url + ": connection closed after " +
                                        std::to_string(response.body.size()) + " of " +
                                        std::to_string(res.getContentLength64()) + " bytes");
    }
    if (res.getKeepAlive()) checkin(origin, std::move(session));
    return response;
  } catch (const Poco::Net::NetException& e) {
    return makeError(std::string(e.className()).find("Certificate") != std::string::npos ? "tls" : "transport",
                     request.method + " " + request.url + ": " + e.displayText());
  } catch (const Poco::Exception& e) {
    return makeError("transport", request.method + " " + request.url + ": " + e.displayText());
  } catch (const std::exception& e) {
    return makeError("transport", request.method + " " + request.url + ": " + e.what());
  }
}

}  // namespace fieldagent::platform
