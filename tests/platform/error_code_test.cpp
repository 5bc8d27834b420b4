// The one table of error codes (error_code.hpp): every line of it, and the statuses a client of
// the local API expects for the codes it meets.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <set>
#include <sstream>
#include <string>

#include "error_code_checks.hpp"
#include "fieldagent/platform/error_code.hpp"
#include "fieldagent/platform/result.hpp"

using fieldagent::Error;
using fieldagent::ErrorCode;

// Compile-time: a name in the table is a constant, and its row is readable where it is written.
static_assert(ErrorCode("not_found").httpStatus() == 404);
static_assert(ErrorCode("not_found") != ErrorCode("invalid"));
static_assert(ErrorCode().name() == "internal");

TEST_CASE("every error code has a unique name that reads back as itself", "[error_code]") {
  REQUIRE(ErrorCode::kCount > 0);
  std::set<std::string> names;
  for (std::size_t i = 0; i < ErrorCode::kCount; ++i) {
    const ErrorCode code = ErrorCode::at(i);
    INFO(code.name());
    CHECK(names.insert(code.str()).second);
    const auto parsed = ErrorCode::parse(code.name());
    REQUIRE(parsed);
    CHECK(*parsed == code);
    CHECK(parsed->name() == code.name());
    // A name is what goes on the wire: lower case, digits and underscores only.
    CHECK(code.name().find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos);
    CHECK(code.httpStatus() >= 400);
    CHECK(code.httpStatus() <= 599);
    CHECK_FALSE(code.meaning().empty());
  }
  CHECK(names.size() == ErrorCode::kCount);
}

TEST_CASE("a name that is not in the table reads as nothing", "[error_code]") {
  for (const char* unknown : {"", "too_large", "Not_Found", "not_found ", "http_503", "bogus"}) {
    INFO("'" << unknown << "'");
    CHECK_FALSE(ErrorCode::parse(unknown));
    CHECK_FALSE(ErrorCode::fromUpstream(unknown));
  }
}

TEST_CASE("upstream's codes are taken as themselves, the agent's own are not", "[error_code]") {
  // The contract's codes (../shared/contract/upstream-api.md) that the agent acts on.
  for (const char* contract :
       {"unauthorized", "forbidden", "not_found", "invalid_credentials", "mfa_required", "invalid_mfa_code",
        "idempotency_key_reused", "invalid_transition", "precondition_failed", "unknown_upload", "upload_url_expired",
        "checksum_mismatch", "upload_incomplete", "upload_complete", "payload_too_large", "invalid_request"}) {
    INFO(contract);
    const auto code = ErrorCode::fromUpstream(contract);
    REQUIRE(code);
    CHECK(code->name() == contract);
  }
  // An upstream that says "corrupt" must not make the agent think its own copy is damaged.
  for (const char* own : {"corrupt", "io", "no_space", "tls_untrusted", "waiting", "mfa_pending", "signed_out"}) {
    INFO(own);
    CHECK(ErrorCode::parse(own));
    CHECK_FALSE(ErrorCode::fromUpstream(own));
  }
}

TEST_CASE("each code a client meets carries the HTTP status it expects", "[error_code]") {
  struct Expected {
    ErrorCode code;
    int status;
  };
  const Expected expected[] = {{"bad_request", 400},
                               {"invalid", 400},
                               {"unauthorized", 401},
                               {"signed_out", 403},
                               {"forbidden", 403},
                               {"not_found", 404},
                               {"method_not_allowed", 405},
                               {"invalid_transition", 409},
                               {"wrong_state", 409},
                               {"already_resolved", 409},
                               {"no_challenge", 409},
                               {"no_credentials", 409},
                               {"mfa_pending", 409},
                               {"payload_too_large", 413},
                               {"quota_exceeded", 413},
                               {"idempotency_key_reused", 422},
                               {"invalid_mfa_code", 422},
                               {"invalid_credentials", 422},
                               {"upstream_rejected", 422},
                               {"internal", 500},
                               {"io", 500},
                               {"corrupt", 500},
                               {"unreachable", 503},
                               {"busy", 503},
                               {"tls_untrusted", 502},
                               {"no_space", 507}};
  for (const auto& [code, status] : expected) {
    INFO(code);
    CHECK(code.httpStatus() == status);
  }
}

TEST_CASE("a code is written as its name in JSON and in text", "[error_code]") {
  const Error e{"quota_exceeded", "over 64 MiB"};
  CHECK(nlohmann::json{{"error", e.code}}.dump() == R"({"error":"quota_exceeded"})");
  std::ostringstream text;
  text << e.code;
  CHECK(text.str() == "quota_exceeded");
  CHECK(e.describe() == "quota_exceeded: over 64 MiB");
  // An Error nobody filled in is an internal failure, not a blank.
  CHECK(Error{}.code == "internal");
  CHECK(fieldagent::makeError("no_space", "disk full").code.httpStatus() == 507);
}
