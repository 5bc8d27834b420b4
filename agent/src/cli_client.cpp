#include "cli_client.hpp"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/NetException.h>
#include <termios.h>
#include <unistd.h>

#include <csignal>
#include <iostream>
#include <set>
#include <sstream>

namespace fieldagent::cli {

namespace {

const std::set<std::string> kFlags = {"json", "password-stdin", "keep-totp-secret", "help"};

// The terminal's settings while echo is off, put back if the person presses Ctrl-C.
termios savedTerminal{};
volatile std::sig_atomic_t echoOff = 0;

void restoreTerminalAndExit(int signal) {
  if (echoOff) tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal);
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

}  // namespace

Args parseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) == 0 && s.size() > 2) {
      std::string name = s.substr(2);
      std::string value;
      bool inlineValue = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inlineValue = true;
      }
      if (name == "json") {
        a.json = true;
      } else if (kFlags.count(name)) {
        a.flags[name] = true;
      } else if (inlineValue) {
        a.options[name] = value;
      } else if (i + 1 < argc) {
        a.options[name] = argv[++i];
      } else if (a.error.empty()) {
        a.error = s + " needs a value";
      }
    } else if (a.command.empty()) {
      a.command = s;
    } else {
      a.positional.push_back(s);
    }
  }
  return a;
}

Result<Reply> ApiClient::call(const std::string& method, const std::string& path, const json& body) const {
  try {
    Poco::Net::HTTPClientSession session(host, port);
    session.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + token);
    const std::string text = body.is_null() ? std::string() : body.dump();
    if (!body.is_null()) request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(text.size()));
    session.sendRequest(request) << text;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    std::stringstream got;
    got << in.rdbuf();
    Reply r;
    r.status = static_cast<int>(response.getStatus());
    r.text = got.str();
    r.body = json::parse(r.text, nullptr, false);
    if (r.body.is_discarded()) r.body = nullptr;
    return r;
  } catch (const Poco::Exception& e) {
    return makeError("unreachable", "cannot reach the agent at " + where() + ": " + e.displayText() +
                                        " (is `fieldagent run` running?)");
  }
}

Result<json> ApiClient::get(const std::string& path) const {
  auto r = call("GET", path);
  if (!r) return r.error();
  if (r->status >= 400) {
    const std::string message = r->body.is_object() ? r->body.value("message", r->text) : r->text;
    return makeError("api", std::to_string(r->status) + " " + message);
  }
  if (r->body.is_null()) return makeError("api", "the agent answered something that is not JSON");
  return r->body;
}

Result<std::unique_ptr<EventStream>> EventStream::open(const ApiClient& api) {
  auto stream = std::unique_ptr<EventStream>(new EventStream);
  try {
    stream->session_ = std::make_unique<Poco::Net::HTTPClientSession>(api.host, api.port);
    stream->session_->setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, "/agent/events", Poco::Net::HTTPMessage::HTTP_1_1);
    request.set("Authorization", "Bearer " + api.token);
    request.set("Accept", "text/event-stream");
    stream->session_->sendRequest(request);
    stream->in_ = &stream->session_->receiveResponse(stream->response_);
  } catch (const Poco::Exception& e) {
    return makeError("unreachable", "cannot reach the agent at " + api.where() + ": " + e.displayText() +
                                        " (is `fieldagent run` running?)");
  }
  if (stream->response_.getStatus() != Poco::Net::HTTPResponse::HTTP_OK)
    return makeError("api", "GET /agent/events answered " + std::to_string(stream->response_.getStatus()));
  return stream;
}

Result<std::optional<ServerEvent>> EventStream::next(std::chrono::steady_clock::time_point deadline) {
  ServerEvent event;
  std::string line;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::microseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<ServerEvent>();
    try {
      session_->socket().setReceiveTimeout(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(left.count())));
      if (!std::getline(*in_, line)) {
        // A receive timeout surfaces as a failed stream on some Poco versions.
        if (std::chrono::steady_clock::now() >= deadline) return std::optional<ServerEvent>();
        return makeError("closed", "the agent closed the event stream (shutting down?)");
      }
    } catch (const Poco::TimeoutException&) {
      return std::optional<ServerEvent>();
    } catch (const Poco::Exception& e) {
      return makeError("closed", "the event stream broke: " + e.displayText());
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!event.type.empty()) return std::optional<ServerEvent>(std::move(event));
      continue;
    }
    if (line.rfind("id: ", 0) == 0) event.id = line.substr(4);
    if (line.rfind("event: ", 0) == 0) event.type = line.substr(7);
    if (line.rfind("data: ", 0) == 0) {
      event.data = json::parse(line.substr(6), nullptr, false);
      if (event.data.is_discarded()) event.data = nullptr;
    }
  }
}

bool stdinIsTerminal() { return ::isatty(STDIN_FILENO) == 1; }
bool stdoutIsTerminal() { return ::isatty(STDOUT_FILENO) == 1; }

std::optional<std::string> ask(const std::string& question, bool secret) {
  // Echo goes off before the prompt shows, and nothing typed ahead is discarded (TCSANOW, not
  // TCSAFLUSH): whoever answers as soon as the prompt appears is neither echoed nor lost.
  termios quiet{};
  const bool canHide = secret && tcgetattr(STDIN_FILENO, &savedTerminal) == 0;
  if (canHide) {
    quiet = savedTerminal;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;  // the Enter still moves to the next line
    echoOff = 1;
    std::signal(SIGINT, restoreTerminalAndExit);
    std::signal(SIGTERM, restoreTerminalAndExit);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::cerr << question << std::flush;
  std::string answer;
  const bool got = static_cast<bool>(std::getline(std::cin, answer));
  if (canHide) {
    tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal);
    echoOff = 0;
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
  if (!got) return std::nullopt;
  if (!answer.empty() && answer.back() == '\r') answer.pop_back();
  return answer;
}

}  // namespace fieldagent::cli
