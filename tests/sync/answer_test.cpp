#include <catch2/catch.hpp>

#include <cstring>
#include <set>

#include "fieldagent/sync/answer.hpp"
#include "fieldagent/sync/tuning.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using namespace std::chrono_literals;

namespace {
// Entropy that yields a scripted sequence of 64-bit values, so jitter is reproducible.
class SequenceEntropy final : public platform::Entropy {
 public:
  explicit SequenceEntropy(std::vector<std::uint64_t> values) : values_(std::move(values)) {}
  std::string bytes(std::size_t n) override {
    std::string out(n, '\0');
    const std::uint64_t v = values_[next_++ % values_.size()];
    std::memcpy(out.data(), &v, std::min(n, sizeof v));
    return out;
  }

 private:
  std::vector<std::uint64_t> values_;
  std::size_t next_ = 0;
};
}  // namespace

TEST_CASE("answers are classified as the design says", "[answer]") {
  CHECK(classifyStatus(200) == Outcome::ok);
  CHECK(classifyStatus(201) == Outcome::ok);
  CHECK(classifyStatus(204) == Outcome::ok);
  CHECK(classifyStatus(401) == Outcome::reauth);
  CHECK(classifyStatus(409) == Outcome::conflict);
  CHECK(classifyStatus(412) == Outcome::conflict);
  for (int s : {408, 429, 500, 502, 503, 504}) CHECK(classifyStatus(s) == Outcome::retry);
  for (int s : {400, 403, 404, 410, 422}) CHECK(classifyStatus(s) == Outcome::rejected);
  CHECK(classifyStatus(302) == Outcome::retry);  // a captive portal, not an answer
}

TEST_CASE("transport failures are retry when transient, blocked when permanent", "[answer]") {
  for (ErrorCode code : {ErrorCode("transport_timeout"), ErrorCode("transport_failed"), ErrorCode("tls_handshake"),
                         ErrorCode("tls_handshake_timeout"), ErrorCode("waiting")}) {
    INFO(code);
    CHECK(classifyTransportFailure(code) == Outcome::retry);
  }
  for (ErrorCode code : std::initializer_list<ErrorCode>{
           "tls_untrusted", "tls_pin_mismatch", "tls_expired", "tls_not_yet_valid", "tls_hostname_mismatch",
           "tls_bad_certificate", "tls_protocol", "bad_url", "insecure_url", "tls_config", "response_too_large",
           "internal"}) {
    INFO(code);
    CHECK(classifyTransportFailure(code) == Outcome::blocked);
  }
  CHECK(std::string(toString(Outcome::blocked)) == "blocked");
}

TEST_CASE("Retry-After in seconds or as an HTTP date, capped", "[answer]") {
  platform::WallTime now{};
  REQUIRE(platform::parseIso8601("2026-01-21T13:00:00Z", now));
  CHECK(parseRetryAfter("120", now) == 120s);
  CHECK(parseRetryAfter("0", now) == 0s);
  CHECK(parseRetryAfter("Wed, 21 Jan 2026 13:01:30 GMT", now) == 90s);
  CHECK(parseRetryAfter("Wed, 21 Jan 2026 12:00:00 GMT", now) == 0s);  // in the past
  CHECK(parseRetryAfter("99999999", now) == tuning::kMaxRetryAfter);
  CHECK(parseRetryAfter("999999999999999999999", now) == tuning::kMaxRetryAfter);
  CHECK_FALSE(parseRetryAfter("soon", now).has_value());
  CHECK_FALSE(parseRetryAfter("-5", now).has_value());
  CHECK_FALSE(parseRetryAfter("", now).has_value());
  // Dates far outside a system_clock's range (found by fuzzing: signed overflow).
  CHECK(parseRetryAfter("Mon, 01 Jan 0001 00:00:00 GMT", now) == 0s);
  CHECK(parseRetryAfter("Fri, 31 Dec 9999 23:59:59 GMT", now) == tuning::kMaxRetryAfter);
}

TEST_CASE("back-off grows exponentially up to the cap, with full jitter", "[answer]") {
  SequenceEntropy highest({~std::uint64_t{0}});
  Backoff ceiling(highest, 1000ms, 60'000ms);
  // With the largest random value the delay sits at (or just under) the ceiling of each step.
  std::chrono::milliseconds previous{0};
  for (int attempt = 0; attempt < 12; ++attempt) {
    const auto d = ceiling.delay(attempt);
    CHECK(d <= std::min<std::chrono::milliseconds>(60'000ms, 1000ms * (1LL << attempt)));
    CHECK(d >= previous);
    previous = d;
  }
  CHECK(ceiling.delay(40) <= 60'000ms);  // no overflow for large attempt counts

  SequenceEntropy zero({0});
  CHECK(Backoff(zero, 1000ms, 60'000ms).delay(5) == 0ms);  // full jitter reaches zero

  SequenceEntropy spread({0x0123456789abcdefULL, 0x89abcdef01234567ULL, 0xfedcba9876543210ULL, 0x5555555555555555ULL});
  Backoff jittered(spread, 1000ms, 60'000ms);
  std::set<long long> seen;
  for (int i = 0; i < 6; ++i) seen.insert(jittered.delay(6).count());
  CHECK(seen.size() > 1);
}

TEST_CASE("back-off waits at least what Retry-After asked", "[answer]") {
  SequenceEntropy zero({0});
  Backoff backoff(zero, 1000ms, 60'000ms);
  CHECK(backoff.delay(0, 30s) == 30'000ms);
  CHECK(backoff.delay(3, 0s) == 0ms);
}
