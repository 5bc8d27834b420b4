// Fuzz target: decoding of upstream answers by sync::UpstreamClient (sign-in and MFA
// challenges, work-order and reference pages, single resources, attachment slots, tus offsets,
// error bodies, Retry-After, ETag, Date), including the repeat after a 401 with a new token.
//
// Input: one letter choosing the call, then the upstream's answers as raw HTTP responses
// separated by lines "%%" (the first answers the call, the next the repeat after a 401).
//   b\nHTTP/1.1 200 OK\r\nETag: "3"\r\n\r\n{"items":[{"workOrderId":"WO-1"}],"page":1}
#include <chrono>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/sync/tuning.hpp"
#include "fieldagent/sync/upstream_client.hpp"
#include "fuzz_support.hpp"

using namespace fieldagent;
using sync::Answer;
using sync::json;

namespace {

class Tokens final : public sync::TokenSource {
 public:
  std::string token() override { return current; }
  Result<std::string> renewAfterUnauthorized(const std::string&) override {
    ++renewals;
    current = "token-" + std::to_string(renewals);
    return current;
  }
  std::string current = "token-0";
  int renewals = 0;
};

// What every answer must be, whatever the upstream said.
template <class T>
void checkAnswer(const Answer<T>& a, int requests) {
  FUZZ_CHECK(requests <= 2);  // the call, and at most one repeat after a 401
  if (a.ok()) {
    FUZZ_CHECK(a.value.has_value());
    FUZZ_CHECK(a.status >= 200 && a.status < 300);
  } else {
    FUZZ_CHECK(!a.value.has_value());
    FUZZ_CHECK(!a.message.empty());
  }
  if (a.retryAfter) {
    FUZZ_CHECK(a.retryAfter->count() >= 0);
    FUZZ_CHECK(*a.retryAfter <= std::chrono::seconds{sync::tuning::kMaxRetryAfter});
  }
}

void checkPage(const Answer<sync::Page>& a, const std::string& idField) {
  if (!a.ok()) return;
  FUZZ_CHECK(a.value->page >= 1);
  FUZZ_CHECK(a.value->pageSize >= 0);
  for (const auto& item : a.value->items) {
    FUZZ_CHECK(item.is_object());
    FUZZ_CHECK(item.contains(idField) && item[idField].is_string() && !item[idField].get<std::string>().empty());
  }
}

void checkObject(const Answer<json>& a) {
  if (a.ok()) FUZZ_CHECK(a.value->is_object());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::quietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  constexpr unsigned kCalls = 18;
  const unsigned call =
      (data[0] >= 'a' && data[0] < 'a' + kCalls) ? static_cast<unsigned>(data[0] - 'a') : data[0] % kCalls;
  std::string_view rest = fuzz::asText(data + 1, size - 1);
  if (!rest.empty() && rest.front() == '\n') rest.remove_prefix(1);

  fuzz::ScriptedExchange http;
  http.script(fuzz::sections(rest));
  platform::FakeClock clock;
  Tokens tokens;
  sync::UpstreamClient client({"https://upstream.example/integrations/int_1", "integration-token"}, http, clock);
  client.setTokenSource(&tokens);

  switch (call) {
    case 0: {  // sign-in: a session, an MFA challenge (202), or a refusal
      sync::SignIn in{"tech", "secret", "acme", "totp", "123456", ""};
      auto a = client.createSession(in);
      checkAnswer(a, http.requests());
      FUZZ_CHECK(http.requests() == 1);  // a 401 on sign-in is an answer, never a cue to sign in again
      if (a.ok()) {
        FUZZ_CHECK(a.value->grant.has_value() != a.value->challenge.has_value());
        if (a.value->grant) {
          FUZZ_CHECK(!a.value->grant->authToken.empty());
          FUZZ_CHECK(a.value->grant->expiresIn.count() > 0);
          FUZZ_CHECK(!a.value->grant->user.id.empty());
        }
      }
      break;
    }
    case 1: {
      sync::WorkOrderQuery q;
      q.status = "open";
      q.sortByUpdatedAt = true;
      auto a = client.listWorkOrders(q);
      checkAnswer(a, http.requests());
      checkPage(a, "workOrderId");
      break;
    }
    case 2: {
      auto a = client.getWorkOrder("WO-1");
      checkAnswer(a, http.requests());
      checkObject(a);
      if (a.ok()) FUZZ_CHECK((*a.value)["workOrderId"].is_string());
      break;
    }
    case 3: {
      auto a = client.postStatus("WO-1", {{"status", "in_progress"}}, "\"2\"", "key-1");
      checkAnswer(a, http.requests());
      checkObject(a);
      break;
    }
    case 4: {
      auto a = client.patchWorkOrder("WO-1", {{"notes", "x"}});
      checkAnswer(a, http.requests());
      checkObject(a);
      break;
    }
    case 5: {
      auto a = client.postAssignment("WO-1", {{"technicianId", "T-1"}}, "key-2");
      checkAnswer(a, http.requests());
      checkObject(a);
      break;
    }
    case 6: {
      auto a = client.postConsumption("WO-1", {{"parts", json::array()}}, "key-3");
      checkAnswer(a, http.requests());
      checkObject(a);
      break;
    }
    case 7: {
      auto a = client.listConsumptions("WO-1");
      checkAnswer(a, http.requests());
      checkPage(a, "consumptionId");
      break;
    }
    case 8: {  // an attachment slot: what the uploader then reads without further checks
      auto a = client.createAttachment("WO-1", {{"kind", "photo"}}, "key-4");
      checkAnswer(a, http.requests());
      if (a.ok()) {
        const json& v = *a.value;
        FUZZ_CHECK(v["attachmentId"].is_string() && v["uploadToken"].is_string());
        FUZZ_CHECK(v["upload"].is_object() && v["upload"]["url"].is_string());
      }
      break;
    }
    case 9: {
      auto a = client.refreshUploadUrl("WO-1", "ATT-1");
      checkAnswer(a, http.requests());
      if (a.ok()) FUZZ_CHECK((*a.value)["upload"].is_object() && (*a.value)["upload"]["url"].is_string());
      break;
    }
    case 10: {
      auto a = client.completeAttachment("WO-1", "ATT-1");
      checkAnswer(a, http.requests());
      checkObject(a);
      break;
    }
    case 11: {
      auto a = client.listAttachments("WO-1");
      checkAnswer(a, http.requests());
      checkPage(a, "attachmentId");
      break;
    }
    case 12: {
      auto a = client.tusOffset("https://uploads.example/files/abc?sig=1");
      checkAnswer(a, http.requests());
      if (a.ok()) FUZZ_CHECK(*a.value >= 0);
      break;
    }
    case 13: {
      auto a = client.tusPatch("https://uploads.example/files/abc?sig=1", 10, "0123456789", true);
      checkAnswer(a, http.requests());
      if (a.ok()) FUZZ_CHECK(*a.value >= 0);
      break;
    }
    case 14: {  // was a whole-body download (removed with Uploader::download): another resource read
      auto a = client.getResource("/assets/A-1", "assetId");
      checkAnswer(a, http.requests());
      if (a.ok()) FUZZ_CHECK(a.value->is_object());
      break;
    }
    case 15: {
      auto a = client.listResource("/customers", {{"updatedFrom", "2026-01-01T00:00:00Z"}, {"page", "2"}},
                                   "customerId");
      checkAnswer(a, http.requests());
      checkPage(a, "customerId");
      break;
    }
    case 16: {
      auto a = client.getResource("/parts/P%2F1", "partNumber");
      checkAnswer(a, http.requests());
      checkObject(a);
      if (a.ok()) FUZZ_CHECK((*a.value)["partNumber"].is_string());
      break;
    }
    default: {  // sign-in without MFA, then what the server clock is thought to be
      sync::SignIn in{"tech", "secret", "acme", "", "", ""};
      auto a = client.createSession(in);
      checkAnswer(a, http.requests());
      if (auto offset = client.serverClockOffset()) (void)offset->count();
      break;
    }
  }
  return 0;
}
