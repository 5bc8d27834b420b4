#include "http_frontend.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <sstream>
#include <thread>

namespace fieldagent::sim {

namespace {

std::string reasonFor(int status) {
  if (status == 460) return "Checksum Mismatch";  // tus checksum extension
  if (status == 422) return "Unprocessable Entity";
  return Poco::Net::HTTPResponse::getReasonForStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
}

// The whole response as bytes, for the dropped-connection fault that sends only part of it.
std::string rawResponse(const HttpReply& reply) {
  std::ostringstream out;
  out << "HTTP/1.1 " << reply.status << " " << reasonFor(reply.status) << "\r\n";
  for (const auto& [k, v] : reply.headers) out << k << ": " << v << "\r\n";
  if (!reply.contentType.empty()) out << "Content-Type: " << reply.contentType << "\r\n";
  out << "Content-Length: " << reply.body.size() << "\r\nConnection: close\r\n\r\n" << reply.body;
  return out.str();
}

class SimRequestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  SimRequestHandler(Simulator& sim, bool verbose) : sim_(sim), verbose_(verbose) {}

  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    HttpCall call;
    call.method = request.getMethod();
    call.target = request.getURI();
    for (const auto& [name, value] : request) {
      std::string lowerName = name;
      std::transform(lowerName.begin(), lowerName.end(), lowerName.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      call.headers.emplace(lowerName, value);
    }
    HttpReply reply;
    const std::size_t limit = sim_.maxBodyBytes();
    std::string body;
    char buffer[65536];
    bool tooLarge = false;
    // Without Content-Length or chunking there is no body; reading would wait for the client
    // to close the connection.
    const bool hasBody = request.hasContentLength() || request.getChunkedTransferEncoding();
    std::istream& in = request.stream();
    while (hasBody && (in.read(buffer, sizeof buffer) || in.gcount() > 0)) {
      body.append(buffer, static_cast<std::size_t>(in.gcount()));
      if (body.size() > limit) {
        tooLarge = true;
        break;
      }
    }
    if (tooLarge) {
      reply = jsonReply(413,
                        errorBody("payload_too_large", "the request body exceeds " + std::to_string(limit) + " bytes"));
      response.setKeepAlive(false);
    } else {
      call.body = std::move(body);
      reply = sim_.handle(call);
    }
    if (verbose_) std::cerr << call.method << " " << call.target << " -> " << reply.status << "\n";
    if (reply.latencyMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(reply.latencyMs));

    if (reply.dropConnection) {
      // Part of the response, then the connection goes away: the client cannot know whether the
      // request took effect (it did).
      const std::string raw = rawResponse(reply);
      response.setKeepAlive(false);
      try {
        auto& socket = static_cast<Poco::Net::HTTPServerRequestImpl&>(request).socket();
        socket.sendBytes(raw.data(), static_cast<int>(raw.size() / 2));
        socket.shutdown();
      } catch (const Poco::Exception&) {
        // The client may already be gone; either way the connection ends here.
      }
      return;
    }

    response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(reply.status),
                                reasonFor(reply.status));
    for (const auto& [k, v] : reply.headers) response.set(k, v);
    if (reply.status == 204 || reply.status == 304) {
      response.send();
      return;
    }
    if (!reply.contentType.empty()) response.setContentType(reply.contentType);
    if (call.method == "HEAD") {
      response.send();
      return;
    }
    response.sendBuffer(reply.body.data(), reply.body.size());
  }

 private:
  Simulator& sim_;
  bool verbose_;
};

class SimHandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  SimHandlerFactory(Simulator& sim, bool verbose) : sim_(sim), verbose_(verbose) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new SimRequestHandler(sim_, verbose_);
  }

 private:
  Simulator& sim_;
  bool verbose_;
};

}  // namespace

HttpFrontend::~HttpFrontend() { stop(); }

Result<int> HttpFrontend::start(const std::string& bind, int port) {
  try {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress(bind, static_cast<Poco::UInt16>(port)), true);
    socket.listen(64);
    const int bound = socket.address().port();
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(16);
    params->setMaxQueued(256);
    params->setKeepAlive(true);
    params->setTimeout(Poco::Timespan(30, 0));
    server_ = std::make_unique<Poco::Net::HTTPServer>(new SimHandlerFactory(sim_, verbose_), socket, params);
    server_->start();
    return bound;
  } catch (const Poco::Exception& e) {
    return makeError("bind", "cannot listen on " + bind + ":" + std::to_string(port) + ": " + e.displayText());
  }
}

void HttpFrontend::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
}

}  // namespace fieldagent::sim
