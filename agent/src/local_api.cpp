// The local API's server: Poco's HTTP server on the configured address, each request handed
// to api::serve (api/dispatch.cpp), which runs the route table (api/routes.cpp).
#include "fieldagent/agent/local_api.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <sstream>

#include "api/app_idempotency.hpp"
#include "api/dispatch.hpp"
#include "api/memory_exchange.hpp"
#include "fieldagent/agent/tuning.hpp"

namespace fieldagent::agent {

namespace {

class ApiHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  ApiHandler(LocalApiContext& context, const std::string& token, AppIdempotency& idempotency)
      : context_(context), token_(token), idempotency_(idempotency) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    api::serve(request, response, context_, idempotency_, token_);
  }

 private:
  LocalApiContext& context_;
  const std::string& token_;
  AppIdempotency& idempotency_;
};

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  HandlerFactory(LocalApiContext& context, const std::string& token, AppIdempotency& idempotency)
      : context_(context), token_(token), idempotency_(idempotency) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new ApiHandler(context_, token_, idempotency_);
  }

 private:
  LocalApiContext& context_;
  const std::string& token_;
  AppIdempotency& idempotency_;
};

}  // namespace

std::unique_ptr<LocalApi> LocalApi::detached(Agent& agent, std::string token) {
  return detached(agent.localApiContext(), std::move(token));
}

std::unique_ptr<LocalApi> LocalApi::detached(LocalApiContext context, std::string token) {
  return std::unique_ptr<LocalApi>(new LocalApi(std::move(context), std::move(token)));
}

Result<LocalReply> LocalApi::handle(const std::string& raw) {
  std::istringstream head(raw);
  std::istringstream body;
  api::MemoryResponse response;
  api::MemoryRequest request(body, response);
  std::string rest;
  try {
    request.read(head);  // request line and headers; the body is what follows
    const auto at = head.tellg();
    rest = at < 0 ? std::string() : raw.substr(static_cast<std::size_t>(at));
    // As the server's request does: the body is Content-Length bytes, a malformed length is
    // refused before any handler runs.
    if (request.hasContentLength()) {
      const auto length = request.getContentLength64();
      if (length < 0) return makeError("bad_request", "malformed request: negative Content-Length");
      if (static_cast<std::uint64_t>(length) < rest.size()) rest.resize(static_cast<std::size_t>(length));
    }
  } catch (const Poco::Exception& e) {
    return makeError("bad_request", "malformed request: " + e.displayText());
  }
  body.str(rest);
  api::serve(request, response, context_, *idempotency_, token_);
  return LocalReply{static_cast<int>(response.getStatus()), response.getContentType(), response.body()};
}

LocalApi::LocalApi(LocalApiContext context, std::string token)
    : context_(std::move(context)),
      token_(std::move(token)),
      idempotency_(std::make_unique<AppIdempotency>(context_.settings.dataDir / "app-idempotency.json")) {}

LocalApi::~LocalApi() { stop(); }

Result<std::unique_ptr<LocalApi>> LocalApi::start(Agent& agent, std::string token) {
  return start(agent.localApiContext(), std::move(token));
}

Result<std::unique_ptr<LocalApi>> LocalApi::start(LocalApiContext context, std::string token) {
  std::unique_ptr<LocalApi> api(new LocalApi(std::move(context), std::move(token)));
  const auto& settings = api->context_.settings;
  try {
    Poco::Net::SocketAddress address(settings.bind, static_cast<Poco::UInt16>(settings.port));
    Poco::Net::ServerSocket socket(address, tuning::kListenBacklog);
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(settings.maxConnections);
    params->setMaxQueued(tuning::kMaxQueuedConnections);
    params->setKeepAlive(true);
    api->server_ = std::make_unique<Poco::Net::HTTPServer>(
        new HandlerFactory(api->context_, api->token_, *api->idempotency_), socket, params);
    api->server_->start();
  } catch (const Poco::Exception& e) {
    return makeError("bind", "local API on " + settings.bind + ":" + std::to_string(settings.port) + ": " +
                                 e.displayText());
  }
  return api;
}

std::uint16_t LocalApi::port() const { return server_ ? server_->port() : 0; }

void LocalApi::stop() {
  if (!server_) return;
  context_.events.close();  // event streams end, so their threads can be joined
  server_->stopAll(true);
  server_.reset();
}

}  // namespace fieldagent::agent
