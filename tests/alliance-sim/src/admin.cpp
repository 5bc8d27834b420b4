// The admin API under <prefix>/_admin (Bearer admin token): fault injection, the server clock,
// token revocation, SMS/email codes, and effect counts for exactly-once checks.
#include "fieldagent/platform/crypto.hpp"
#include "simulator.hpp"

namespace fieldagent::sim {

HttpReply Simulator::admin(Request& req) {
  const std::string auth = req.call.header("authorization");
  if (auth.size() < 8 || !platform::constantTimeEqual(auth.substr(7), adminToken_) || auth.substr(0, 7) != "Bearer ") {
    throw HttpError{401, "unauthorized", "the admin API needs 'Authorization: Bearer <adminToken>'"};
  }
  const auto& s = req.segments;
  const std::string& m = req.call.method;
  const std::string what = s.size() >= 2 ? s[1] : "";

  if (what == "faults" && s.size() == 2) {
    if (m == "GET") return jsonReply(200, describeFaults(faults_.plan()));
    if (m == "PUT" || m == "POST") {
      auto plan = parseFaults(req.body());
      if (!plan) throw HttpError{400, plan.error().code.str(), plan.error().message};
      faults_.set(*plan);
      return jsonReply(200, describeFaults(*plan));
    }
    if (m == "DELETE") {
      faults_.set(FaultPlan{});
      return jsonReply(200, describeFaults(FaultPlan{}));
    }
  } else if (what == "clock" && s.size() == 2) {
    if (m == "GET") return jsonReply(200, clock_.describe());
    if (m == "POST") {
      const json body = req.body();
      check::onlyKeys(body, {"reset", "shiftSeconds", "freeze", "at"}, "");
      if (body.value("reset", false)) clock_.reset();
      if (body.contains("shiftSeconds")) {
        if (!body["shiftSeconds"].is_number_integer()) {
          throw HttpError{400, "invalid_request", "shiftSeconds must be an integer", json{{"field", "shiftSeconds"}}};
        }
        clock_.shift(std::chrono::seconds{body["shiftSeconds"].get<std::int64_t>()});
      }
      if (body.contains("freeze")) {
        if (!body["freeze"].is_boolean()) {
          throw HttpError{400, "invalid_request", "freeze must be true or false", json{{"field", "freeze"}}};
        }
        if (body["freeze"].get<bool>()) {
          std::optional<platform::WallTime> at;
          if (auto iso = check::optionalTimestamp(body, "at", "")) {
            platform::WallTime t;
            platform::parseIso8601(*iso, t);
            at = t;
          }
          clock_.freeze(at);
        } else {
          clock_.unfreeze();
        }
      }
      return jsonReply(200, clock_.describe());
    }
  } else if (what == "sessions" && s.size() == 3 && s[2] == "revoke" && m == "POST") {
    const json body = req.call.body.empty() ? json::object() : req.body();
    if (auto username = check::optionalString(body, "username", "")) {
      db_->write("UPDATE sessions SET revoked = 1 WHERE username = ? AND revoked = 0", *username);
    } else {
      db_->write("UPDATE sessions SET revoked = 1 WHERE revoked = 0");
    }
    return jsonReply(200, {{"revoked", db_->changes()}});
  } else if (what == "mfa-challenges" && s.size() == 2 && m == "GET") {
    auto username = req.param("username");
    Statement& st = db_->run(
        "SELECT challenge_id, username, type, code, delivered_to, expires_at, used, created_at FROM mfa_challenges "
        "WHERE ?1 IS NULL OR username = ?1 ORDER BY created_at DESC, rowid DESC",
        username);
    json items = json::array();
    while (st.step()) {
      items.push_back({{"challengeId", st.text(0)},
                       {"username", st.text(1)},
                       {"type", st.text(2)},
                       {"code", st.text(3)},
                       {"deliveredTo", st.text(4)},
                       {"expiresAt", isoFromUnix(st.integer(5))},
                       {"used", st.integer(6) != 0},
                       {"createdAt", st.text(7)}});
    }
    return jsonReply(200, {{"items", items}});
  } else if (what == "effects" && s.size() == 2 && m == "GET") {
    auto workOrderId = req.param("workOrderId");
    auto count = [&](const std::string& table) {
      return db_->scalar("SELECT COUNT(*) FROM " + table + " WHERE ?1 IS NULL OR work_order_id = ?1", workOrderId)
          .value_or(0);
    };
    json body = {{"assignments", count("assignments")},
                 {"consumptions", count("consumptions")},
                 {"attachments", count("attachments")},
                 {"attachmentsAvailable",
                  db_->scalar("SELECT COUNT(*) FROM attachments WHERE (?1 IS NULL OR work_order_id = ?1) AND "
                              "status = 'available'",
                              workOrderId)
                      .value_or(0)}};
    body["workOrderId"] = workOrderId ? json(*workOrderId) : json(nullptr);
    return jsonReply(200, body);
  } else if (what == "stats" && s.size() == 2 && m == "GET") {
    json byStatus = json::object();
    std::int64_t total = 0;
    {
      std::lock_guard lock(statsMutex_);
      for (const auto& [status, n] : answersByStatus_) {
        byStatus[std::to_string(status)] = n;
        total += n;
      }
    }
    return jsonReply(200, {{"requests", total}, {"byStatus", byStatus}});
  }
  throw HttpError{404, "not_found",
                  "no such admin endpoint (faults, clock, sessions/revoke, mfa-challenges, effects, stats)"};
}

}  // namespace fieldagent::sim
