#pragma once
// Every upstream answer is classified once, here, into what the caller must do next.
#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/result.hpp"

namespace fieldagent::sync {

enum class Outcome {
  ok,        // 2xx with a well-formed body
  retry,     // transport error, 408, 429, 5xx, or a malformed answer: try again later
  reauth,    // 401: establish a new session once, then repeat
  conflict,  // 409 / 412: the resolver decides
  rejected,  // any other 4xx: permanent for this request; park it with the server's message
  // No answer, and none will come until something changes: the certificate is not trusted,
  // expired or not valid yet, names another host, or its key is not pinned; no common TLS
  // version; the URL or the TLS configuration is unusable; the answer is over the size cap.
  // Nothing is wrong with the request itself (never parked): it waits on the slow schedule
  // (tuning::kBlockedRetry) or until connectivity changes or someone asks for a sync.
  blocked,
};

const char* toString(Outcome outcome);

// The outcome for an HTTP status.
Outcome classifyStatus(int status);
// The outcome of a request that got no answer, from the exchange's error code
// (platform::transportError()): `blocked` for the permanent codes, `retry` for the rest.
Outcome classifyTransportFailure(ErrorCode errorCode);

// The code for an upstream error answer: upstream's own "error" when it is one of the contract's
// codes in the table (error_code.hpp), else upstream_rejected (a 4xx) or upstream_failed
// (anything else). `known` is false then, and the caller keeps upstream's string in the message.
struct UpstreamCode {
  ErrorCode code;
  bool known = false;
};
UpstreamCode upstreamCode(const std::string& upstreamError, int status);

template <class T>
struct Answer {
  Outcome outcome = Outcome::retry;
  int status = 0;              // 0 when the request never got an answer
  std::optional<T> value;      // set when outcome == ok
  ErrorCode errorCode;         // when not ok: the contract's "error" (upstreamCode()), a transport
                               // code ("transport_failed", "tls_untrusted", ...:
                               // platform::transportError()), "bad_answer", ...
  std::string message;         // for a person: the server's message or what went wrong
  nlohmann::json details;      // the contract's "details" (e.g. current work order on 409/412)
  std::optional<std::chrono::seconds> retryAfter;
  std::string etag;            // ETag header, quotes kept
  bool replayed = false;       // Idempotent-Replayed: true

  bool ok() const { return outcome == Outcome::ok; }
};

// "120" or an HTTP-date; nullopt when absent or unreadable. Capped at tuning::kMaxRetryAfter.
std::optional<std::chrono::seconds> parseRetryAfter(const std::string& value, platform::WallTime now);

// Capped exponential back-off: attempt n waits a uniform random time up to
// min(cap, base * 2^n), but at least what the server asked for with Retry-After. Full jitter
// draws from [0, ceiling] (operations: spread out, some go again soon); equal jitter from
// [ceiling/2, ceiling] (the pull: spread out, but each wait at least half its ceiling).
enum class Jitter { full, equal };

class Backoff {
 public:
  Backoff(platform::Entropy& entropy, std::chrono::milliseconds base, std::chrono::milliseconds cap,
          Jitter jitter = Jitter::full);
  explicit Backoff(platform::Entropy& entropy);
  std::chrono::milliseconds delay(int attempt, std::optional<std::chrono::seconds> retryAfter = std::nullopt) const;

 private:
  platform::Entropy& entropy_;
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  Jitter jitter_;
};

}  // namespace fieldagent::sync
