#pragma once
// A real HTTP server on 127.0.0.1 (free port) whose answers a test scripts with a function:
// for exercising a client against answers the reference upstream would never give
// (malformed bodies, odd headers, closed connections). Stopped when it goes out of scope.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fieldagent::testing {

struct SeenRequest {
  std::string method;
  std::string uri;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

class ScriptedServer {
 public:
  using Script = std::function<void(const SeenRequest&, Poco::Net::HTTPServerResponse&)>;

  explicit ScriptedServer(Script script) : shared_(std::make_shared<Shared>()) {
    shared_->script = std::move(script);
    Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    params->setKeepAlive(true);
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(shared_), socket, params);
    server_->start();
    port_ = socket.address().port();
  }
  ~ScriptedServer() { server_->stopAll(true); }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  std::string baseUrl() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(shared_->mutex);
    return shared_->seen;
  }

 private:
  struct Shared {
    Script script;
    std::mutex mutex;
    std::vector<SeenRequest> seen;
  };
  class Handler final : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
    void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
      SeenRequest seen;
      seen.method = request.getMethod();
      seen.uri = request.getURI();
      for (const auto& [k, v] : request) seen.headers.emplace_back(k, v);
      Poco::StreamCopier::copyToString(request.stream(), seen.body);
      {
        std::lock_guard lock(shared_->mutex);
        shared_->seen.push_back(seen);
      }
      shared_->script(seen, response);
    }

   private:
    std::shared_ptr<Shared> shared_;
  };
  class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(shared_);
    }

   private:
    std::shared_ptr<Shared> shared_;
  };

  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  Poco::UInt16 port_ = 0;
};

// Sends `body` with `status` and JSON content type.
inline void answer(Poco::Net::HTTPServerResponse& response, int status, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  response.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  for (const auto& [k, v] : headers) response.set(k, v);
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

}  // namespace fieldagent::testing
