#pragma once
// What a local API handler answers: a status and a JSON body (or text, or a stream it wrote
// itself), and the error replies every handler shares.
#include <string>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::agent::api {

using nlohmann::json;

struct Reply {
  Reply() = default;
  Reply(int s, json b, bool r = false) : status(s), body(std::move(b)), replayed(r) {}
  int status = 200;
  json body;
  bool replayed = false;  // an Idempotency-Key's first answer sent again
  bool text = false;      // body is a string sent as text/plain (metrics)
  bool streamed = false;  // the handler wrote the response itself (event stream)
  std::string rawJson;    // when set, sent as the body instead of `body` (already valid JSON text)
};

// An error answer: the code's HTTP status from the table (error_code.hpp), `{"error", "message"}`
// (the code's meaning when the message is empty).
Reply error(ErrorCode code, const std::string& message);
Reply fromError(const Error& e);

}  // namespace fieldagent::agent::api
