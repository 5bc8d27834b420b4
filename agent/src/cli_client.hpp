#pragma once
// The terminal client's side of the local API: plain calls, the Server-Sent Events stream, and
// asking a person on a terminal (with echo off for secrets).
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPResponse.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::cli {

using nlohmann::json;

// The command line after the command name: `--name value` options, boolean flags, positionals.
struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;
  std::map<std::string, bool> flags;
  bool json = false;
  std::string error;  // a usage mistake found while parsing

  bool has(const std::string& option) const { return options.count(option) != 0; }
  bool flag(const std::string& name) const { return flags.count(name) != 0; }
};

// Flags that take no value: everything else starting with "--" takes the next argument.
Args parseArgs(int argc, char** argv);

struct Reply {
  int status = 0;
  json body;  // null when the answer is not JSON
  std::string text;
};

class ApiClient {
 public:
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string token;

  // One request; an error only when the agent cannot be reached ("unreachable").
  Result<Reply> call(const std::string& method, const std::string& path, const json& body = nullptr) const;
  // A GET whose 4xx/5xx answer becomes an error with the agent's message.
  Result<json> get(const std::string& path) const;
  std::string where() const { return host + ":" + std::to_string(port); }
};

struct ServerEvent {
  std::string id;
  std::string type;
  json data;
};

// GET /agent/events, open from construction: events published after open() are queued by the
// agent until read.
class EventStream {
 public:
  static Result<std::unique_ptr<EventStream>> open(const ApiClient& api);
  // The next event; nullopt when `deadline` passed first. An error when the stream ended.
  Result<std::optional<ServerEvent>> next(std::chrono::steady_clock::time_point deadline);

 private:
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
  Poco::Net::HTTPResponse response_;
  std::istream* in_ = nullptr;
};

bool stdinIsTerminal();
bool stdoutIsTerminal();
// Writes `question` to stderr and reads one line from the terminal on stdin; with echo off
// when `secret`. nullopt at end of input.
std::optional<std::string> ask(const std::string& question, bool secret);

}  // namespace fieldagent::cli
