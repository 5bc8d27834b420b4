#include "fieldagent/sync/answer.hpp"

#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <cstring>
#include <regex>

#include "fieldagent/platform/http_exchange.hpp"
#include "fieldagent/sync/tuning.hpp"

namespace fieldagent::sync {

const char* toString(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok: return "ok";
    case Outcome::retry: return "retry";
    case Outcome::reauth: return "reauth";
    case Outcome::conflict: return "conflict";
    case Outcome::rejected: return "rejected";
    case Outcome::blocked: return "blocked";
  }
  return "unknown";
}

Outcome classifyStatus(int status) {
  if (status >= 200 && status < 300) return Outcome::ok;
  if (status == 401) return Outcome::reauth;
  if (status == 409 || status == 412) return Outcome::conflict;
  if (status == 408 || status == 429 || status >= 500) return Outcome::retry;
  if (status >= 400) return Outcome::rejected;
  // 1xx/3xx are not part of the contract: something between us and upstream is misbehaving
  // (a captive portal redirect, typically). Try again later.
  return Outcome::retry;
}

Outcome classifyTransportFailure(ErrorCode errorCode) {
  return platform::isPermanentTransportError(Error{errorCode, {}}) ? Outcome::blocked : Outcome::retry;
}

UpstreamCode upstreamCode(const std::string& upstreamError, int status) {
  if (auto known = ErrorCode::fromUpstream(upstreamError)) return {*known, true};
  return {status >= 400 && status < 500 ? ErrorCode("upstream_rejected") : ErrorCode("upstream_failed"), false};
}

std::optional<std::chrono::seconds> parseRetryAfter(const std::string& value, platform::WallTime now) {
  if (value.empty()) return std::nullopt;
  std::chrono::seconds result{0};
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return tuning::kMaxRetryAfter;
    result = std::chrono::seconds{std::stol(value)};
  } else {
    // Only the IMF-fixdate form ("Wed, 21 Jan 2026 13:01:30 GMT"): Poco's parser alone
    // accepts almost anything.
    static const std::regex imfFixdate(R"(^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$)");
    if (!std::regex_match(value, imfFixdate)) return std::nullopt;
    try {
      int tzd = 0;
      const Poco::DateTime when = Poco::DateTimeParser::parse(Poco::DateTimeFormat::HTTP_FORMAT, value, tzd);
      // In microseconds since the epoch, not as a WallTime: the date may be years 1 to 9999,
      // and a system_clock time point (nanoseconds) overflows beyond 1677..2262 (fuzzing).
      const long long atUs = when.timestamp().epochMicroseconds() - tzd * 1'000'000LL;
      const long long nowUs = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
      result = std::chrono::seconds{std::max(0LL, (atUs - nowUs) / 1'000'000)};
    } catch (const Poco::Exception&) {
      return std::nullopt;
    }
  }
  return std::min(result, std::chrono::seconds{tuning::kMaxRetryAfter});
}

Backoff::Backoff(platform::Entropy& entropy, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                 Jitter jitter)
    : entropy_(entropy), base_(base), cap_(cap), jitter_(jitter) {}

Backoff::Backoff(platform::Entropy& entropy) : Backoff(entropy, tuning::kBackoffBase, tuning::kBackoffCap) {}

std::chrono::milliseconds Backoff::delay(int attempt, std::optional<std::chrono::seconds> retryAfter) const {
  const int shift = std::clamp(attempt, 0, 30);
  const long long ceiling = std::min<long long>(cap_.count(), base_.count() << shift);
  std::uint64_t r = 0;
  const std::string bytes = entropy_.bytes(sizeof r);
  std::memcpy(&r, bytes.data(), sizeof r);
  // A uniform fraction of the ceiling from the top 53 bits (no modulo bias).
  const double fraction = static_cast<double>(r >> 11) / 9007199254740992.0;
  const long long floor = jitter_ == Jitter::equal ? ceiling / 2 : 0;
  const long long span = ceiling - floor;
  auto jittered = std::chrono::milliseconds{
      floor + std::min<long long>(span, static_cast<long long>(fraction * static_cast<double>(span + 1)))};
  if (retryAfter) jittered = std::max<std::chrono::milliseconds>(jittered, *retryAfter);
  return jittered;
}

}  // namespace fieldagent::sync
