// fieldagent sync: asks the running daemon for a sync round now (POST /agent/sync) and follows
// it on the event stream until the round that serves the request is done ("sync" event with
// phase "round_done"). A one-line progress bar on a terminal, plain lines otherwise, JSON lines
// with --json.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cli_commands.hpp"
#include "fieldagent/agent/tuning.hpp"

namespace fieldagent::cli {

namespace {

std::int64_t num(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return 0;
  return j[key].get<std::int64_t>();
}

std::string str(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return std::string();
  return j[key].get<std::string>();
}

std::string megabytes(std::int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", static_cast<double>(bytes) / 1e6);
  return text;
}

std::string bar(std::int64_t done, std::int64_t total, int width) {
  if (total <= 0) return std::string(static_cast<std::size_t>(width), '.');
  const auto filled = static_cast<int>(std::min<std::int64_t>(width, done * width / total));
  return std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '.');
}

// What the round did so far, as the events tell it.
struct Round {
  json pullDone = nullptr, pushDone = nullptr, done = nullptr;
  json pullProgress = json::object(), pushProgress = json::object();
  std::int64_t pushPending = 0;
  std::string pullError, pushError;
  std::vector<json> conflicts, rejections;
};

class Printer {
 public:
  Printer(bool asJson, bool terminal) : json_(asJson), terminal_(terminal && !asJson) {}

  void event(const ServerEvent& e, const Round& round) {
    if (json_) {
      json line = {{"type", "event"}, {"event", e.type}, {"data", e.data}};
      if (!e.id.empty()) line["id"] = e.id;
      std::printf("%s\n", line.dump().c_str());
      std::fflush(stdout);
      return;
    }
    const json& d = e.data;
    const std::string phase = str(d, "phase");
    if (e.type == "sync" && phase == "progress") {
      if (terminal_) {
        drawBar(round);
      } else if (str(d, "step") == "pull" && num(d, "pages") != lastPages_) {
        lastPages_ = num(d, "pages");
        line("pull: page " + std::to_string(lastPages_) + " of " + std::to_string(num(d, "pagesTotal")) + ", " +
             std::to_string(num(d, "workOrders")) + " work orders and " + std::to_string(num(d, "reference")) +
             " reference documents read");
      } else if (str(d, "step") == "push" && num(d, "operations") != lastOps_) {
        lastOps_ = num(d, "operations");
        std::string text =
            "push: " + std::to_string(lastOps_) + " of " + std::to_string(round.pushPending) + " operations sent";
        if (num(d, "uploadBytesTotal") > 0)
          text += ", uploads " + megabytes(num(d, "uploadedBytes")) + " of " + megabytes(num(d, "uploadBytesTotal")) +
                  " MB";
        line(text);
      }
      return;
    }
    if (e.type == "sync" && phase == "pull_started") line("pull: started");
    if (e.type == "sync" && phase == "pull_done")
      line(std::string("pull: done") + (d.value("prime", false) ? " (prime)" : "") + ", " +
           std::to_string(num(d, "workOrdersStored")) + " work orders stored, " +
           std::to_string(num(d, "workOrdersReleased")) + " released, " + std::to_string(num(d, "referenceDocuments")) +
           " reference documents");
    if (e.type == "sync" && phase == "pull_failed") line("pull: failed: " + str(d, "message"));
    if (e.type == "sync" && phase == "push_started")
      line("push: " + std::to_string(num(d, "pending")) + " operations to send");
    if (e.type == "sync" && phase == "push_done")
      line("push: done, " + std::to_string(num(d, "sent")) + " sent, " + std::to_string(num(d, "done")) +
           " accepted, " + std::to_string(num(d, "retried")) + " to retry, " + std::to_string(num(d, "rejected")) +
           " rejected, " + std::to_string(num(d, "conflicts")) + " conflicts");
    if (e.type == "sync" && phase == "push_failed") line("push: failed: " + str(d, "message"));
    if (e.type == "conflict")
      line("conflict #" + std::to_string(num(d, "conflictId")) + " on " + str(d, "workOrderId") + " (" +
           str(d, "field") + "): " + str(d, "message"));
    if (e.type == "rejected")
      line("rejected: operation " + std::to_string(num(d, "operationId")) + " (" + str(d, "kind") + ") on " +
           str(d, "workOrderId") + ": " + str(d, "message"));
    if (e.type == "session" && !str(d, "error").empty()) line("session: " + str(d, "message"));
  }

  void summary(const json& s, const std::string& text) {
    if (json_) {
      std::printf("%s\n", s.dump().c_str());
    } else {
      line(text);
    }
    std::fflush(stdout);
  }

 private:
  void line(const std::string& text) {
    if (terminal_ && barShown_) std::printf("\r\x1b[K");
    barShown_ = false;
    std::printf("%s\n", text.c_str());
    std::fflush(stdout);
  }

  void drawBar(const Round& r) {
    const json& p = r.pullProgress;
    const json& q = r.pushProgress;
    std::string text = "pull [" + bar(num(p, "pages"), num(p, "pagesTotal"), 12) + "] " +
                       std::to_string(num(p, "pages")) + "/" + std::to_string(num(p, "pagesTotal")) + " pages " +
                       std::to_string(num(p, "workOrders")) + " wo";
    if (!q.empty()) {
      text += " | push [" + bar(num(q, "operations"), r.pushPending, 10) + "] " + std::to_string(num(q, "operations")) +
              "/" + std::to_string(r.pushPending) + " ops";
      if (num(q, "uploadBytesTotal") > 0)
        text += " | upload " + megabytes(num(q, "uploadedBytes")) + "/" + megabytes(num(q, "uploadBytesTotal")) + " MB";
    }
    std::printf("\r\x1b[K%s", text.c_str());
    std::fflush(stdout);
    barShown_ = true;
  }

  bool json_;
  bool terminal_;
  bool barShown_ = false;
  std::int64_t lastPages_ = -1, lastOps_ = -1;
};

}  // namespace

int syncNow(const Args& args, const ApiClient& api) {
  long timeoutSeconds = agent::tuning::kSyncCommandTimeoutSeconds;
  if (args.has("timeout")) {
    char* end = nullptr;
    timeoutSeconds = std::strtol(args.options.at("timeout").c_str(), &end, 10);
    if (!end || *end || timeoutSeconds < 1 || timeoutSeconds > 86400) {
      std::fprintf(stderr, "fieldagent sync: --timeout needs seconds from 1 to 86400\n");
      return kUsage;
    }
  }
  Printer printer(args.json, stdoutIsTerminal());
  auto failWith = [&](int code, const std::string& outcome, const std::string& message) {
    if (args.json) {
      printer.summary({{"type", "summary"}, {"outcome", outcome}, {"exitCode", code}, {"message", message}}, "");
    } else {
      std::fprintf(stderr, "fieldagent sync: %s\n", message.c_str());
    }
    return code;
  };

  auto stream = EventStream::open(api);
  if (!stream) return failWith(kFailed, "unreachable", stream.error().message);
  auto posted = api.call("POST", "/agent/sync");
  if (!posted) return failWith(kFailed, "unreachable", posted.error().message);
  if (posted->status != 202) return failWith(kFailed, "failed", "POST /agent/sync answered " + posted->text);
  // Our request's number is at most what the agent counts now: the round that serves this count
  // started after our request.
  auto status = api.get("/agent/status");
  if (!status) return failWith(kFailed, "unreachable", status.error().message);
  const std::int64_t request = num((*status)["sync"], "requested");
  if (request <= 0) return failWith(kFailed, "failed", "the agent does not number sync requests (too old?)");

  Round round;
  bool ours = false;  // events before the round serving our request belong to an earlier round
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeoutSeconds);
  while (round.done.is_null()) {
    auto event = (*stream)->next(deadline);
    if (!event) return failWith(kFailed, "failed", event.error().message);
    if (!*event)
      return failWith(kFailed, "timeout",
                      "the sync round did not finish within " + std::to_string(timeoutSeconds) +
                          " s; it goes on in the agent (see `fieldagent status`)");
    const ServerEvent& e = **event;
    const json& d = e.data;
    const std::string phase = str(d, "phase");
    if (e.type == "status") continue;  // the snapshot the stream starts with
    if (e.type == "sync" && phase == "round_started" && num(d, "serving") >= request) ours = true;
    if (e.type == "sync" && phase == "round_done" && num(d, "served") >= request) ours = true;
    if (!ours) continue;
    if (e.type == "sync") {
      if (phase == "progress") (str(d, "step") == "pull" ? round.pullProgress : round.pushProgress) = d;
      if (phase == "pull_done") round.pullDone = d;
      if (phase == "pull_failed") round.pullError = str(d, "message");
      if (phase == "push_started") round.pushPending = num(d, "pending");
      if (phase == "push_done") round.pushDone = d;
      if (phase == "push_failed") round.pushError = str(d, "message");
      if (phase == "round_done") round.done = d;
    }
    if (e.type == "conflict") round.conflicts.push_back(d);
    if (e.type == "rejected") round.rejections.push_back(d);
    if (phase != "round_done" && phase != "round_started") printer.event(e, round);
  }

  const json& d = round.done;
  auto after = api.get("/agent/status");
  json outbox = after && after->contains("outbox") ? (*after)["outbox"] : json::object();
  const std::int64_t openConflicts = after ? num(*after, "openConflicts") : num(d, "openConflicts");
  const std::int64_t rejected = num(outbox, "rejected");
  const std::int64_t pending = num(outbox, "pending");
  const std::string session = str(d, "session");
  const std::string pull = str(d, "pull"), push = str(d, "push");

  int code = kOk;
  std::string outcome = "ok", message;
  if (!d.value("online", true)) {
    code = kOffline;
    outcome = "offline";
    message = "the device is offline: nothing was synced; the agent syncs when it is back online";
  } else if (session != "active") {
    code = kNotSignedIn;
    outcome = "not_signed_in";
    message = session == "mfa_pending"
                  ? "the sign-in waits for the MFA code: `fieldagent login --code CODE`"
                  : "not signed in (" + session +
                        (str(d, "sessionError").empty() ? "" : ": " + str(d, "sessionError")) + "): `fieldagent login`";
  } else if ((!pull.empty() && pull != "ok") || (!push.empty() && push != "ok")) {
    code = kFailed;
    outcome = "failed";
    message = "the round did not complete: pull " + (pull.empty() ? std::string("not run") : pull) + "; push " +
              (push.empty() ? std::string("nothing to send") : push);
  } else if (rejected > 0 || openConflicts > 0) {
    code = kRefused;
    outcome = "attention";
    message = "synced, but " + std::to_string(rejected) + " rejected operations and " + std::to_string(openConflicts) +
              " open conflicts need the technician (`fieldagent outbox --state rejected`, `fieldagent conflicts`)";
  } else {
    message = "synced: " + std::to_string(pending) + " operations pending, nothing needs attention";
  }
  json summary = {{"type", "summary"},
                  {"outcome", outcome},
                  {"exitCode", code},
                  {"message", message},
                  {"request", request},
                  {"round", d},
                  {"pull", round.pullDone.is_null() ? json(nullptr) : round.pullDone},
                  {"push", round.pushDone.is_null() ? json(nullptr) : round.pushDone},
                  {"outbox", outbox},
                  {"openConflicts", openConflicts},
                  {"conflicts", round.conflicts},
                  {"rejections", round.rejections}};
  if (code == kOk || code == kRefused) {
    printer.summary(summary, "sync: " + message);
  } else if (args.json) {
    printer.summary(summary, "");
  } else {
    std::fprintf(stderr, "fieldagent sync: %s\n", message.c_str());
  }
  return code;
}

}  // namespace fieldagent::cli
