// URLs the agent sends requests to: the upstream's base URL (parseBaseUrl) and any request URL
// (splitUrl: built on the base URL, or a signed upload URL upstream gave). Both read the scheme
// and authority here, by hand, to the letter of RFC 3986, because Poco::URI is lenient about
// hosts ("[[ov1]8443" was taken as one) and a host that is no host only fails later, and less
// clearly, when the first request is made. See docs/configuration.md.
#include <Poco/Net/IPAddress.h>
#include <Poco/String.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/platform/http_transport.hpp"

namespace fieldagent::platform {
namespace {

Error badUrl(std::string_view text, const std::string& why) {
  return makeError("bad_url", "base URL '" + std::string(text) + "' " + why);
}

bool isAsciiAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool isHexDigit(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// A registered name as DNS carries it: dot-separated labels of letters, digits and hyphens, each
// 1-63 characters and not starting or ending with a hyphen, 253 characters in all. An IPv4
// address is a name of this shape too. Internationalised names are taken in their ASCII
// (punycode, "xn--") form only: the agent does no IDNA mapping of its own.
std::string registeredNameProblem(std::string_view host) {
  if (host.size() > 253) return "has a host name longer than 253 characters";
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view label = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty()) return "has an empty label in its host name '" + std::string(host) + "'";
    if (label.size() > 63) return "has a host name label longer than 63 characters";
    for (char c : label) {
      if (static_cast<unsigned char>(c) >= 0x80)
        return "has a non-ASCII host name; write an internationalised name in its xn-- form";
      if (!isAsciiAlnum(c) && c != '-')
        return "has a host name with '" + std::string(1, c) + "' in it (letters, digits, hyphens and dots only)";
    }
    if (label.front() == '-' || label.back() == '-')
      return "has a host name label that starts or ends with a hyphen";
    if (dot == std::string_view::npos) return {};
    start = dot + 1;
  }
}

// What RFC 3986 lets a path carry as it is: pchar and '/' ('%' starts an escape).
bool isPathChar(char c) {
  static constexpr std::string_view allowed = "-._~!$&'()*+,;=:@/";
  return isAsciiAlnum(c) || allowed.find(c) != std::string_view::npos;
}

// A path as RFC 3986 allows it (pchar and '/'), percent-escapes well formed.
std::string pathProblem(std::string_view path) {
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size() || !isHexDigit(path[i + 1]) || !isHexDigit(path[i + 2]))
        return "has a '%' in its path that is not followed by two hex digits";
      i += 2;
      continue;
    }
    if (!isPathChar(c)) return "has '" + std::string(1, c) + "' in its path; percent-encode it";
  }
  return {};
}

// The scheme and authority of a URL, and what follows them (from the first '/', '?' or '#').
struct UrlStart {
  std::string scheme;  // lower case: "http" or "https"
  std::string host;    // a name, an IPv4 address, or an IPv6 address without its brackets
  std::uint16_t port = 0;
  std::string_view rest;
};

// What is wrong with `text` as the start of an http(s) URL, or the start.
std::variant<UrlStart, std::string> parseUrlStart(std::string_view text) {
  if (text.empty()) return std::string("is empty");
  if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return std::string("contains spaces or control characters");

  const std::size_t schemeEnd = text.find("://");
  if (schemeEnd == std::string_view::npos) return std::string("must start with https:// (or http://)");
  UrlStart url;
  url.scheme = Poco::toLower(std::string(text.substr(0, schemeEnd)));
  if (url.scheme != "http" && url.scheme != "https") return std::string("must start with https:// (or http://)");

  const std::string_view afterScheme = text.substr(schemeEnd + 3);
  const std::size_t authorityEnd = std::min(afterScheme.find_first_of("/?#"), afterScheme.size());
  const std::string_view authority = afterScheme.substr(0, authorityEnd);
  url.rest = afterScheme.substr(authorityEnd);
  if (authority.find('@') != std::string_view::npos)
    return std::string("must not carry user information; credentials go elsewhere");
  if (authority.empty()) return std::string("names no host");

  std::string_view portText;
  bool hasPort = false;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::string("has a '[' without its ']' around an IPv6 address");
    const std::string literal(authority.substr(1, close - 1));
    Poco::Net::IPAddress address;
    if (literal.find_first_of("[]") != std::string::npos || !Poco::Net::IPAddress::tryParse(literal, address) ||
        address.family() != Poco::Net::IPAddress::IPv6)
      return "has '[" + literal + "]', which is not an IPv6 address";
    url.host = literal;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return "has '" + std::string(after) + "' after the IPv6 address; only :port may follow";
      hasPort = true;
      portText = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.find(':');
    const std::string_view host = authority.substr(0, colon);
    if (host.empty()) return std::string("names no host");
    if (auto problem = registeredNameProblem(host); !problem.empty()) return problem;
    url.host = std::string(host);
    if (colon != std::string_view::npos) {
      hasPort = true;
      portText = authority.substr(colon + 1);
    }
  }

  url.port = url.scheme == "https" ? 443 : 80;
  if (hasPort) {
    if (portText.empty()) return std::string("has a ':' with no port after it");
    if (portText.size() > 5 || !std::all_of(portText.begin(), portText.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return "has port '" + std::string(portText) + "'; a port is a number from 1 to 65535";
    const unsigned long port = std::stoul(std::string(portText));
    if (port == 0 || port > 65535) return "has port " + std::string(portText) + "; a port is a number from 1 to 65535";
    url.port = static_cast<std::uint16_t>(port);
  }
  return url;
}

}  // namespace

Result<BaseUrl> parseBaseUrl(std::string_view text) {
  auto start = parseUrlStart(text);
  if (auto* problem = std::get_if<std::string>(&start)) return badUrl(text, *problem);
  auto& parsed = std::get<UrlStart>(start);
  if (parsed.rest.find_first_of("?#") != std::string_view::npos) return badUrl(text, "must not have a query or fragment");
  if (auto problem = pathProblem(parsed.rest); !problem.empty()) return badUrl(text, problem);
  BaseUrl url{std::move(parsed.scheme), std::move(parsed.host), parsed.port, std::string(parsed.rest)};
  while (!url.pathPrefix.empty() && url.pathPrefix.back() == '/') url.pathPrefix.pop_back();
  return url;
}

Result<std::pair<Origin, std::string>> splitUrl(const std::string& url) {
  auto start = parseUrlStart(url);
  if (auto* problem = std::get_if<std::string>(&start)) return makeError("bad_url", "URL '" + url + "' " + *problem);
  auto& parsed = std::get<UrlStart>(start);
  // The request target is the path and query as given (a signed URL's signature covers their
  // exact bytes, so nothing is decoded and encoded again); never the fragment.
  std::string_view target = parsed.rest.substr(0, parsed.rest.find('#'));
  const std::size_t query = target.find('?');
  // The path as Poco::URI sent it: characters a path may not carry percent-encoded, escapes
  // kept; the query as given.
  std::string out;
  const std::string_view path = target.substr(0, query);
  for (std::size_t i = 0; i < path.size(); ++i) {
    const char c = path[i];
    if (c == '%') {
      if (i + 2 >= path.size() || !isHexDigit(path[i + 1]) || !isHexDigit(path[i + 2]))
        return makeError("bad_url", "URL '" + url + "' has a '%' in its path that is not followed by two hex digits");
    } else if (!isPathChar(c)) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      const auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0F];
      continue;
    }
    out += c;
  }
  if (query != std::string_view::npos) out += target.substr(query);
  // "http://host?x=1" has no path: the request target is "/?x=1", never "?x=1" (found by fuzzing).
  if (out.empty() || out.front() != '/') out.insert(0, "/");
  return std::make_pair(Origin{std::move(parsed.scheme), std::move(parsed.host), parsed.port}, std::move(out));
}

bool BaseUrl::loopback() const {
  if (Poco::icompare(host, "localhost") == 0) return true;
  Poco::Net::IPAddress address;
  return Poco::Net::IPAddress::tryParse(host, address) && address.isLoopback();
}

std::string BaseUrl::toString() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  std::string out = scheme + "://" + (ipv6 ? "[" + host + "]" : host);
  const std::uint16_t defaultPort = secure() ? 443 : 80;
  if (port != defaultPort) out += ":" + std::to_string(port);
  return out + pathPrefix;
}

}  // namespace fieldagent::platform
