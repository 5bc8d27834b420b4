// The typed client against a scripted server on loopback: what it sends, and what it makes
// of answers good, bad and broken.
#include <catch2/catch.hpp>

#include <Poco/Net/ServerSocket.h>

#include <atomic>

#include "error_code_checks.hpp"
#include "fieldagent/platform/encoding.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "fieldagent/sync/upstream_client.hpp"
#include "scripted_server.hpp"

using namespace fieldagent;
using namespace fieldagent::sync;
using fieldagent::testing::answer;
using fieldagent::testing::ScriptedServer;
using fieldagent::testing::SeenRequest;
using Poco::Net::HTTPServerResponse;

namespace {

class CountingTokens final : public TokenSource {
 public:
  explicit CountingTokens(std::string first) : current_(std::move(first)) {}
  std::string token() override {
    std::lock_guard lock(mutex_);
    return current_;
  }
  Result<std::string> renewAfterUnauthorized(const std::string& rejected) override {
    std::lock_guard lock(mutex_);
    ++renewals;
    lastRejected = rejected;
    current_ = "tok_renewed_" + std::to_string(renewals);
    return current_;
  }
  int renewals = 0;
  std::string lastRejected;

 private:
  std::mutex mutex_;
  std::string current_;
};

struct Fixture {
  explicit Fixture(ScriptedServer::Script script)
      : server(std::move(script)),
        client({server.baseUrl() + "/integrations/int_test/", "aW50ZWdyYXRpb24="}, http, clock) {
    client.setTokenSource(&tokens);
  }
  ScriptedServer server;
  platform::PocoHttpExchange http;
  platform::FakeClock clock{platform::WallTime{std::chrono::seconds{1'768'996'800}}};  // 2026-01-21T12:00:00Z
  CountingTokens tokens{"tok_first"};
  UpstreamClient client;
};

const char* kWorkOrder = R"({"workOrderId":"wo_1f92a0","number":"WO-2026-1045","status":"scheduled",
  "updatedAt":"2026-01-21T09:30:00Z","futureField":{"kept":true}})";

}  // namespace

TEST_CASE("calls carry the path prefix, the right credentials and the idempotency key", "[client]") {
  Fixture f([](const SeenRequest& r, HTTPServerResponse& res) {
    if (r.uri.find("/sessions") != std::string::npos) {
      answer(res, 200, R"({"authToken":"tok_x","expiresIn":3600,"user":{"id":"u_1","name":"Dana",
        "entitlements":["workOrders","inventory"],"technicianId":"tech_45af1d"}})");
    } else if (r.method == "POST") {
      answer(res, 200, kWorkOrder, {{"ETag", "\"v7\""}});
    } else {
      answer(res, 200, R"({"items":[)" + std::string(kWorkOrder) + R"(],"page":1,"pageSize":50,"total":1})");
    }
  });
  auto session = f.client.createSession({"dana", "pw", "global-services", "totp", "123456", ""});
  REQUIRE(session.ok());
  REQUIRE(session.value->grant);
  CHECK(session.value->grant->user.technicianId == "tech_45af1d");
  CHECK(session.value->grant->user.entitled("inventory"));
  CHECK_FALSE(session.value->grant->user.entitled("dispatch"));

  WorkOrderQuery query;
  query.technicianId = "tech_45af1d";
  query.updatedFrom = "2026-01-21T09:00:00Z";
  query.sortByUpdatedAt = true;
  auto page = f.client.listWorkOrders(query);
  REQUIRE(page.ok());
  REQUIRE(page.value->items.size() == 1);
  CHECK(page.value->items[0]["futureField"]["kept"] == true);  // unknown fields pass through

  auto status = f.client.postStatus("wo_1f92a0", {{"status", "en_route"}}, "\"v6\"", "idem-123");
  REQUIRE(status.ok());
  CHECK(status.etag == "\"v7\"");

  const auto seen = f.server.requests();
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].uri == "/integrations/int_test/sessions");
  CHECK(seen[0].header("Authorization") == "Basic aW50ZWdyYXRpb24=");
  CHECK(nlohmann::json::parse(seen[0].body)["mfa"]["code"] == "123456");
  CHECK(seen[1].uri ==
        "/integrations/int_test/work-orders?updatedFrom=2026-01-21T09%3A00%3A00Z&technicianId=tech_45af1d"
        "&sort=updatedAt&page=1&pageSize=50");
  CHECK(seen[1].header("Authorization") == "Bearer tok_first");
  CHECK(seen[2].uri == "/integrations/int_test/work-orders/wo_1f92a0/status");
  CHECK(seen[2].header("Idempotency-Key") == "idem-123");
  CHECK(seen[2].header("If-Match") == "\"v6\"");
  CHECK(seen[2].header("Content-Type") == "application/json");
}

TEST_CASE("a 401 renews the session once and repeats the call", "[client]") {
  Fixture f([](const SeenRequest& r, HTTPServerResponse& res) {
    if (r.header("Authorization") == "Bearer tok_first") {
      answer(res, 401, R"({"error":"unauthorized","message":"token expired"})");
    } else {
      answer(res, 200, kWorkOrder);
    }
  });
  auto wo = f.client.getWorkOrder("wo_1f92a0");
  REQUIRE(wo.ok());
  CHECK(f.tokens.renewals == 1);
  CHECK(f.tokens.lastRejected == "tok_first");
  CHECK(f.server.requests().size() == 2);
}

TEST_CASE("a second 401 after renewal is reported as reauth, with one renewal only", "[client]") {
  Fixture f([](const SeenRequest&, HTTPServerResponse& res) {
    answer(res, 401, R"({"error":"unauthorized","message":"revoked"})");
  });
  auto wo = f.client.getWorkOrder("wo_1f92a0");
  CHECK(wo.outcome == Outcome::reauth);
  CHECK(wo.errorCode == "unauthorized");
  CHECK(f.tokens.renewals == 1);
  CHECK(f.server.requests().size() == 2);
}

TEST_CASE("malformed answers are errors with context, never crashes", "[client]") {
  std::atomic<int> which{0};
  const std::vector<std::string> bodies = {
      "<html>gateway</html>",
      R"({"items":"nope"})",
      R"({"items":[{"number":"WO-1"}],"page":1,"pageSize":50,"total":1})",
      R"({"items":[42],"page":1})",
      R"({"items":[],"page":"one"})",
      R"([1,2,3])",
      "",
      R"({"items":[{"workOrderId":""}]})",
  };
  Fixture f([&](const SeenRequest&, HTTPServerResponse& res) {
    answer(res, 200, bodies[static_cast<std::size_t>(which.load())]);
  });
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    which = static_cast<int>(i);
    auto page = f.client.listWorkOrders({});
    CAPTURE(bodies[i]);
    CHECK(page.outcome == Outcome::retry);
    CHECK(page.errorCode == "bad_answer");
    CHECK(page.message.find("/work-orders") != std::string::npos);
    CHECK_FALSE(page.value.has_value());
  }
}

TEST_CASE("a session answer without a token or user is refused", "[client]") {
  std::atomic<int> which{0};
  const std::vector<std::string> bodies = {
      R"({"expiresIn":3600,"user":{"id":"u"}})",
      R"({"authToken":"t","expiresIn":-1,"user":{"id":"u"}})",
      R"({"authToken":"t","expiresIn":3600})",
      R"({"authToken":"t","expiresIn":3600,"user":{"id":"u","entitlements":[1]}})",
  };
  Fixture f([&](const SeenRequest&, HTTPServerResponse& res) {
    answer(res, 200, bodies[static_cast<std::size_t>(which.load())]);
  });
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    which = static_cast<int>(i);
    auto s = f.client.createSession({"u", "p", "t", "", "", ""});
    CAPTURE(bodies[i]);
    CHECK(s.errorCode == "bad_answer");
  }
}

TEST_CASE("the contract's error shape, Retry-After and replay markers are read", "[client]") {
  Fixture f([](const SeenRequest& r, HTTPServerResponse& res) {
    if (r.uri.find("/status") != std::string::npos) {
      answer(res, 409,
             R"({"error":"invalid_transition","message":"cancelled by dispatch","details":{"current":{"status":"cancelled"}}})");
    } else if (r.uri.find("/consumptions") != std::string::npos) {
      answer(res, 201, R"({"consumptionId":"cns_1","status":"pending_billing"})", {{"Idempotent-Replayed", "true"}});
    } else if (r.uri.find("/assignments") != std::string::npos) {
      answer(res, 422, R"({"error":"idempotency_key_reused","message":"key used with another body"})");
    } else {
      answer(res, 503, "Service Unavailable", {{"Retry-After", "7"}});
    }
  });
  auto status = f.client.postStatus("wo_1", {{"status", "on_site"}}, "", "k1");
  CHECK(status.outcome == Outcome::conflict);
  CHECK(status.errorCode == "invalid_transition");
  CHECK(status.details["current"]["status"] == "cancelled");

  auto consumption = f.client.postConsumption("wo_1", {{"parts", nlohmann::json::array()}}, "k2");
  REQUIRE(consumption.ok());
  CHECK(consumption.replayed);

  auto assignment = f.client.postAssignment("wo_1", {{"technicianId", "t"}}, "k3");
  CHECK(assignment.outcome == Outcome::rejected);
  CHECK(assignment.message == "key used with another body");

  auto busy = f.client.getWorkOrder("wo_1");
  CHECK(busy.outcome == Outcome::retry);
  CHECK(busy.status == 503);
  CHECK(busy.retryAfter == std::chrono::seconds{7});
  CHECK(busy.message.find("503") != std::string::npos);
}

TEST_CASE("an upstream code the agent does not know is upstream_rejected or upstream_failed, kept in the message",
          "[client]") {
  Fixture f([](const SeenRequest& r, HTTPServerResponse& res) {
    if (r.uri.find("/wo_teapot") != std::string::npos) {
      answer(res, 418, R"({"error":"teapot_mode","message":"short and stout"})");
    } else if (r.uri.find("/wo_corrupt") != std::string::npos) {
      answer(res, 400, R"({"error":"corrupt","message":"your data is bad"})");
    } else if (r.uri.find("/wo_bare") != std::string::npos) {
      answer(res, 403, "");
    } else {
      answer(res, 502, R"({"error":"gateway_sad","message":"the back office is down"})");
    }
  });
  auto teapot = f.client.getWorkOrder("wo_teapot");
  CHECK(teapot.outcome == Outcome::rejected);
  CHECK(teapot.errorCode == "upstream_rejected");
  CHECK_THAT(teapot.message, Catch::Contains("418") && Catch::Contains("teapot_mode") &&
                                 Catch::Contains("short and stout"));
  // One of the agent's own codes from upstream is not taken as the agent's: a damaged local file.
  auto corrupt = f.client.getWorkOrder("wo_corrupt");
  CHECK(corrupt.errorCode == "upstream_rejected");
  CHECK_THAT(corrupt.message, Catch::Contains("'corrupt'"));
  auto bare = f.client.getWorkOrder("wo_bare");
  CHECK(bare.errorCode == "upstream_rejected");
  CHECK_THAT(bare.message, Catch::Contains("403"));
  auto down = f.client.getWorkOrder("wo_down");
  CHECK(down.outcome == Outcome::retry);
  CHECK(down.errorCode == "upstream_failed");
  CHECK_THAT(down.message, Catch::Contains("gateway_sad") && Catch::Contains("the back office is down"));
}

TEST_CASE("sign-in answers: MFA required, a challenge, wrong code", "[client]") {
  Fixture f([](const SeenRequest& r, HTTPServerResponse& res) {
    const auto body = nlohmann::json::parse(r.body);
    if (!body.contains("mfa")) {
      answer(res, 401, R"({"error":"mfa_required","message":"MFA needed","details":{"methods":["totp","sms"]}})");
    } else if (!body["mfa"].contains("code")) {
      answer(res, 202, R"({"challengeId":"chl_9","deliveredTo":"***-***-1234"})");
    } else {
      answer(res, 401, R"({"error":"invalid_mfa_code","message":"wrong code"})");
    }
  });
  auto needsMfa = f.client.createSession({"u", "p", "t", "", "", ""});
  CHECK(needsMfa.outcome == Outcome::rejected);  // on the sign-in call, 401 is an answer
  CHECK(needsMfa.errorCode == "mfa_required");
  CHECK(needsMfa.details["methods"][1] == "sms");
  CHECK(f.tokens.renewals == 0);

  auto challenge = f.client.createSession({"u", "p", "t", "sms", "", ""});
  REQUIRE(challenge.ok());
  REQUIRE(challenge.value->challenge);
  CHECK(challenge.value->challenge->challengeId == "chl_9");
  CHECK_FALSE(challenge.value->grant);

  auto wrong = f.client.createSession({"u", "p", "t", "sms", "000000", "chl_9"});
  CHECK(wrong.errorCode == "invalid_mfa_code");
}

TEST_CASE("tus offset and chunk upload with a per-chunk checksum", "[client]") {
  Fixture f([](const SeenRequest& r, HTTPServerResponse& res) {
    res.set("Tus-Resumable", "1.0.0");
    if (r.method == "HEAD") {
      res.set("Upload-Offset", "1024");
      res.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
      res.setContentLength(0);
      res.send();
    } else if (r.header("Upload-Checksum").empty()) {
      res.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(460));
      res.setContentLength(0);
      res.send();
    } else {
      res.set("Upload-Offset", std::to_string(1024 + r.body.size()));
      res.setStatus(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
      res.send();
    }
  });
  const std::string uploadUrl = f.server.baseUrl() + "/uploads/att_1?expires=1&sig=abc";
  auto offset = f.client.tusOffset(uploadUrl);
  REQUIRE(offset.ok());
  CHECK(*offset.value == 1024);

  auto patched = f.client.tusPatch(uploadUrl, 1024, "chunk-bytes", true);
  REQUIRE(patched.ok());
  CHECK(*patched.value == 1024 + 11);
  const auto seen = f.server.requests();
  CHECK(seen.back().header("Upload-Checksum") ==
        "sha256 " + platform::base64Encode(platform::sha256("chunk-bytes")));
  CHECK(seen.back().header("Authorization").empty());  // signed URLs carry no bearer token
  CHECK(seen.back().header("Content-Type") == "application/offset+octet-stream");

  auto damaged = f.client.tusPatch(uploadUrl, 1024, "chunk-bytes", false);
  CHECK(damaged.status == 460);
  CHECK(damaged.outcome == Outcome::retry);
}

TEST_CASE("the server's clock offset is learnt from its Date header", "[client]") {
  Fixture f([](const SeenRequest&, HTTPServerResponse& res) {
    answer(res, 200, kWorkOrder, {{"Date", "Wed, 21 Jan 2026 12:05:00 GMT"}});
  });
  CHECK_FALSE(f.client.serverClockOffset().has_value());
  REQUIRE(f.client.getWorkOrder("wo_1f92a0").ok());
  CHECK(f.client.serverClockOffset() == std::chrono::seconds{300});
}

TEST_CASE("a Date header no clock could show is ignored, not overflowed", "[client]") {
  // Found by fuzzing: year 1 overflowed the nanosecond time point (UBSan: signed overflow).
  Fixture f([](const SeenRequest&, HTTPServerResponse& res) {
    answer(res, 200, kWorkOrder, {{"Date", "Mon, 01 Jan 0001 00:00:00 GMT"}});
  });
  REQUIRE(f.client.getWorkOrder("wo_1f92a0").ok());
  CHECK_FALSE(f.client.serverClockOffset().has_value());
}

TEST_CASE("a refused connection is a retry with the transport's reason", "[client]") {
  Poco::UInt16 port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    port = probe.address().port();
  }  // closed again: nothing listens there now
  platform::PocoHttpExchange http;
  platform::FakeClock clock;
  UpstreamClient client({"http://127.0.0.1:" + std::to_string(port) + "/p", "x"}, http, clock);
  auto wo = client.getWorkOrder("wo_1");
  CHECK(wo.outcome == Outcome::retry);
  CHECK(wo.errorCode == "transport_failed");
  CHECK(wo.status == 0);
  CHECK_FALSE(wo.message.empty());
}

TEST_CASE("an answer larger than the limit is refused, not buffered", "[client]") {
  ScriptedServer server([](const SeenRequest&, HTTPServerResponse& res) { answer(res, 200, std::string(5000, ' ')); });
  platform::HttpOptions options;
  options.maxResponseBytes = 1000;
  platform::PocoHttpExchange http(options);
  auto r = http.exchange({"GET", server.baseUrl() + "/big", {}, ""});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "response_too_large");
  CHECK(platform::PocoHttpExchange().exchange({"GET", "ftp://x/y", {}, ""}).error().code == "bad_url");
  CHECK(platform::PocoHttpExchange().exchange({"GET", "https://127.0.0.1:1/y", {}, ""}).error().code == "bad_url");
}

namespace {
// An exchange whose transport fails every request with `code`, counting what would have gone out.
class RefusingExchange final : public platform::HttpExchange {
 public:
  explicit RefusingExchange(ErrorCode code) : code_(code) {}
  Result<platform::HttpResponse> exchange(const platform::HttpRequest& request) override {
    urls.push_back(request.url);
    return makeError(code_, "TLS handshake with api.example.com failed: refused");
  }
  std::vector<std::string> urls;

 private:
  ErrorCode code_;
};
}  // namespace

TEST_CASE("a refused certificate blocks its origin on the slow schedule until retryNow()", "[client]") {
  RefusingExchange http("tls_untrusted");
  platform::FakeClock clock;
  UpstreamClient client({"https://api.example.com/integrations/int_1", "x"}, http, clock);

  auto first = client.getWorkOrder("wo_1");
  CHECK(first.outcome == Outcome::blocked);
  CHECK(first.errorCode == "tls_untrusted");
  CHECK(first.status == 0);
  REQUIRE(http.urls.size() == 1);

  // Every call to that origin now answers at once, with the same code, sending nothing...
  auto second = client.listWorkOrders({});
  CHECK(second.outcome == Outcome::blocked);
  CHECK(second.errorCode == "tls_untrusted");
  CHECK_THAT(second.message, Catch::StartsWith("not sent: "));
  CHECK(http.urls.size() == 1);
  // ...but another origin (a signed upload URL's host) is asked.
  CHECK(client.tusOffset("https://uploads.example.com/files/f1?sig=1").outcome == Outcome::blocked);
  CHECK(http.urls.size() == 2);

  // On the slow schedule the origin is tried again; before it, not.
  clock.advance(tuning::kBlockedRetry - std::chrono::seconds{1});
  (void)client.getWorkOrder("wo_1");
  CHECK(http.urls.size() == 2);
  clock.advance(std::chrono::seconds{1});
  (void)client.getWorkOrder("wo_1");
  CHECK(http.urls.size() == 3);

  // Connectivity changed, or a sync was asked for: at once.
  client.retryNow();
  (void)client.getWorkOrder("wo_1");
  CHECK(http.urls.size() == 4);
}

TEST_CASE("transient transport failures and bad URLs do not block an origin", "[client]") {
  for (ErrorCode code : std::initializer_list<ErrorCode>{"transport_timeout", "transport_failed", "tls_handshake",
                                                        "bad_url", "response_too_large"}) {
    INFO(code);
    RefusingExchange http(code);
    platform::FakeClock clock;
    UpstreamClient client({"https://api.example.com/p", "x"}, http, clock);
    auto first = client.getWorkOrder("wo_1");
    CHECK(first.outcome == classifyTransportFailure(code));
    (void)client.getWorkOrder("wo_1");
    CHECK(http.urls.size() == 2);
  }
}
