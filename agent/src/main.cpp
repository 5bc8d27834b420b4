// fieldagent: `run` is the daemon; the other commands are a small terminal client of a running
// daemon's local API. A plain main with sigwait() rather than Poco's ServerApplication: the
// agent needs nothing of Poco::Util's option and subsystem machinery, and waiting for signals on
// the main thread (blocked everywhere else) makes shutdown one ordered sequence.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>

#include <csignal>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli_commands.hpp"
#include "fieldagent/agent/agent.hpp"
#include "fieldagent/agent/config.hpp"
#include "fieldagent/agent/local_api.hpp"
#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/connectivity.hpp"
#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/logging.hpp"
#include "fieldagent/platform/notify.hpp"

using namespace fieldagent;
using nlohmann::json;

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: fieldagent run --config FILE\n"
               "       fieldagent check-config --config FILE\n"
               "       fieldagent status [--json] [--config FILE]\n"
               "       fieldagent work-orders [list [--status S] | show ID] [--json] [--config FILE]\n"
               "       fieldagent outbox [--state S] [--json] [--config FILE]\n"
               "       fieldagent conflicts [--json] [--config FILE]\n"
               "       fieldagent login [--username U] [--password-file F | --password-stdin]\n"
               "                        [--totp-secret-file F | --keep-totp-secret] [--code CODE]\n"
               "                        [--timeout S] [--json] [--config FILE]\n"
               "       fieldagent sync [--timeout S] [--json] [--config FILE]\n"
               "login also reads FIELDAGENT_USERNAME, FIELDAGENT_PASSWORD, FIELDAGENT_TOTP_SECRET and\n"
               "FIELDAGENT_MFA_CODE, and asks on a terminal for what is missing (docs/agent.md).\n"
               "The config file may also come from FIELDAGENT_CONFIG; settings from FIELDAGENT_* variables\n"
               "(docs/configuration.md).\n");
  return 2;
}

using cli::Args;

Result<agent::Config> config(const Args& args) {
  std::string file;
  if (args.options.count("config")) {
    file = args.options.at("config");
  } else if (const char* env = std::getenv("FIELDAGENT_CONFIG")) {
    file = env;
  }
  // login's own FIELDAGENT_* variables are not settings of the config.
  auto environment = agent::processEnvironment();
  for (auto it = environment.begin(); it != environment.end();)
    it = cli::isClientVariable(it->first) ? environment.erase(it) : std::next(it);
  return agent::loadConfig(file, environment);
}

int run(const Args& args) {
  auto cfg = config(args);
  if (!cfg) {
    std::fprintf(stderr, "fieldagent: %s\n", cfg.error().message.c_str());
    return 78;  // EX_CONFIG
  }
  platform::LogOptions logOptions;
  logOptions.level = cfg->logLevel;
  logOptions.sink = cfg->logSink == "syslog" ? platform::LogOptions::Sink::syslog : platform::LogOptions::Sink::console;
  platform::setupLogging(logOptions);

  // Signals are taken by sigwait() below; every thread started after this inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A client that hangs up mid-answer must cost an error on that connection, not the process.
  std::signal(SIGPIPE, SIG_IGN);

  platform::SystemClock clock;
  platform::LinuxConnectivity connectivity;
  auto opened = agent::Agent::open(*cfg, clock, connectivity, platform::systemEntropy());
  if (!opened) {
    std::fprintf(stderr, "fieldagent: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& a = **opened;
  auto token = agent::apiToken(*cfg, platform::systemEntropy());
  if (!token) {
    std::fprintf(stderr, "fieldagent: %s\n", token.error().message.c_str());
    return 78;
  }
  auto api = agent::LocalApi::start(a, *token);
  if (!api) {
    std::fprintf(stderr, "fieldagent: %s\n", api.error().message.c_str());
    return 1;
  }
  const auto port = (*api)->port();
  (void)platform::fs::atomicWrite(cfg->dataDir / "api-port", std::to_string(port) + "\n", 0644);
  a.start();
  // The readiness line scripts and tests wait for.
  std::printf("%s\n", json{{"ready", true},
                           {"url", "http://" + cfg->localApiBind + ":" + std::to_string(port)},
                           {"tokenFile", cfg->localApiToken.empty() ? cfg->tokenFile().string() : ""},
                           {"pid", ::getpid()}}
                          .dump()
                          .c_str());
  std::fflush(stdout);
  (void)platform::notifyServiceManager("READY=1");
  const auto watchdog = platform::watchdogInterval();

  int received = 0;
  for (;;) {
    if (watchdog) {
      // Half the watchdog period: systemd restarts us if this loop (and so the process) hangs.
      timespec wait{static_cast<time_t>(watchdog->count() / 2000000), static_cast<long>((watchdog->count() / 2 % 1000000) * 1000)};
      siginfo_t info;
      received = sigtimedwait(&signals, &info, &wait);
      if (received < 0) {
        (void)platform::notifyServiceManager("WATCHDOG=1");
        continue;
      }
    } else if (sigwait(&signals, &received) != 0) {
      continue;
    }
    if (received == SIGHUP) continue;  // nothing to reload: settings are read at start
    break;
  }
  (void)platform::notifyServiceManager("STOPPING=1");
  std::fprintf(stderr, "fieldagent: signal %d, shutting down\n", received);
  (*api)->stop();
  a.stop();
  opened = makeError("closed", "");  // closes the store
  std::fprintf(stderr, "fieldagent: stopped\n");
  return 0;
}

int checkConfig(const Args& args) {
  auto cfg = config(args);
  if (!cfg) {
    std::fprintf(stderr, "fieldagent: %s\n", cfg.error().message.c_str());
    return 78;
  }
  std::printf("%s\n", cfg->toJson(true).dump(2).c_str());
  return 0;
}

// ---- the terminal client -------------------------------------------------------------------

Result<cli::ApiClient> client(const Args& args) {
  auto cfg = config(args);
  if (!cfg) return cfg.error();
  cli::ApiClient c;
  c.host = cfg->localApiBind == "localhost" ? "127.0.0.1" : cfg->localApiBind;
  c.port = static_cast<std::uint16_t>(cfg->localApiPort);
  if (c.port == 0) {
    auto text = platform::fs::readFile(cfg->dataDir / "api-port", 64);
    if (!text) return makeError("config", "the agent's port is not known: " + text.error().message);
    c.port = static_cast<std::uint16_t>(std::stoi(*text));
  }
  if (const char* t = std::getenv("FIELDAGENT_API_TOKEN")) {
    c.token = t;
  } else {
    auto token = agent::apiToken(*cfg, platform::systemEntropy());
    if (!token) return token.error();
    c.token = *token;
  }
  return c;
}

std::string str(const json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "-";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

int show(const Result<json>& r, bool asJson, const std::function<void(const json&)>& human) {
  if (!r) {
    std::fprintf(stderr, "fieldagent: %s\n", r.error().message.c_str());
    return 1;
  }
  if (asJson) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    human(*r);
  }
  return 0;
}

int client_command(const Args& args) {
  auto c = client(args);
  if (!c) {
    std::fprintf(stderr, "fieldagent: %s\n", c.error().message.c_str());
    return 1;
  }
  if (args.command == "login") return cli::login(args, *c);
  if (args.command == "sync") return cli::syncNow(args, *c);
  if (args.command == "status") {
    return show(c->get("/agent/status"), args.json, [](const json& s) {
      std::printf("session      %s %s\n", str(s["session"], "state").c_str(), str(s["session"], "userId").c_str());
      std::printf("network      %s\n", s["connectivity"].value("online", false) ? "online" : "offline");
      const auto& q = s["outbox"];
      std::printf("outbox       %s pending, %s in flight, %s rejected, %s conflict, %s done\n",
                  str(q, "pending").c_str(), str(q, "in_flight").c_str(), str(q, "rejected").c_str(),
                  str(q, "conflict").c_str(), str(q, "done").c_str());
      std::printf("oldest       %s s\n", str(q, "oldestPendingAgeSeconds").c_str());
      std::printf("last pull    %s %s\n", str(s["lastPull"], "at").c_str(), str(s["lastPull"], "outcome").c_str());
      std::printf("last push    %s %s\n", str(s["lastPush"], "at").c_str(), str(s["lastPush"], "outcome").c_str());
    });
  }
  if (args.command == "work-orders") {
    const std::string sub = args.positional.empty() ? "list" : args.positional[0];
    if (sub == "show" && args.positional.size() == 2) {
      return show(c->get("/work-orders/" + args.positional[1]), args.json, [](const json& w) {
        std::printf("%s  %s  %s\n", str(w, "workOrderId").c_str(), str(w, "number").c_str(), str(w, "status").c_str());
        std::printf("priority %s, SLA due %s\n", str(w, "priority").c_str(), str(w, "slaDueAt").c_str());
        std::printf("customer %s, asset %s\n", str(w, "customerId").c_str(),
                    w.contains("asset") ? str(w["asset"], "assetId").c_str() : "-");
        std::printf("%s\n", str(w, "description").c_str());
        if (w.contains("_local") && w["_local"].value("hasLocalChanges", false)) std::printf("(local changes not yet confirmed)\n");
      });
    }
    if (sub != "list") return usage();
    std::string path = "/work-orders?pageSize=200";
    if (args.options.count("status")) path += "&status=" + args.options.at("status");
    return show(c->get(path), args.json, [](const json& page) {
      std::printf("%-14s %-10s %-9s %s\n", "WORK ORDER", "STATUS", "PRIORITY", "SLA DUE");
      for (const auto& w : page["items"])
        std::printf("%-14s %-10s %-9s %s%s\n", str(w, "workOrderId").c_str(), str(w, "status").c_str(),
                    str(w, "priority").c_str(), str(w, "slaDueAt").c_str(),
                    w["_local"].value("hasLocalChanges", false) ? " *" : "");
      std::printf("%s work orders\n", str(page, "total").c_str());
    });
  }
  if (args.command == "outbox") {
    std::string path = "/agent/outbox?limit=200";
    if (args.options.count("state")) path += "&state=" + args.options.at("state");
    return show(c->get(path), args.json, [](const json& page) {
      std::printf("%-6s %-18s %-14s %-10s %s\n", "ID", "KIND", "WORK ORDER", "STATE", "LAST ERROR");
      for (const auto& o : page["items"])
        std::printf("%-6s %-18s %-14s %-10s %s\n", str(o, "operationId").c_str(), str(o, "kind").c_str(),
                    str(o, "workOrderId").c_str(), str(o, "state").c_str(), o.value("lastError", "").c_str());
    });
  }
  if (args.command == "conflicts") {
    return show(c->get("/agent/conflicts"), args.json, [](const json& page) {
      if (page["items"].empty()) std::printf("no open conflicts\n");
      for (const auto& k : page["items"])
        std::printf("#%s %s on %s: theirs %s, yours %s\n  %s\n", str(k, "conflictId").c_str(), str(k, "field").c_str(),
                    str(k, "workOrderId").c_str(), k["theirs"].dump().c_str(), k["yours"].dump().c_str(),
                    str(k, "message").c_str());
    });
  }
  return usage();
}

}  // namespace

int main(int argc, char** argv) {
  Args args = cli::parseArgs(argc, argv);
  if (!args.error.empty()) {
    std::fprintf(stderr, "fieldagent: %s\n", args.error.c_str());
    return usage();
  }
  if (args.command == "run") return run(args);
  if (args.command == "check-config") return checkConfig(args);
  if (args.command == "status" || args.command == "work-orders" || args.command == "outbox" ||
      args.command == "conflicts" || args.command == "login" || args.command == "sync")
    return client_command(args);
  return usage();
}
