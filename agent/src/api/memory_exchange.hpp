#pragma once
// A request and its response in memory, for LocalApi::handle(): what HTTPServerRequestImpl and
// HTTPServerResponseImpl are over a socket.
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>

#include <istream>
#include <sstream>
#include <string>

namespace fieldagent::agent::api {

class MemoryResponse final : public Poco::Net::HTTPServerResponse {
 public:
  void sendContinue() override {}
  std::ostream& send() override {
    sent_ = true;
    return out_;
  }
  void sendFile(const std::string&, const std::string&) override { sent_ = true; }
  void sendBuffer(const void* buffer, std::size_t length) override {
    sent_ = true;
    out_.write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
  }
  void redirect(const std::string& uri, HTTPStatus status) override {
    setStatus(status);
    set("Location", uri);
    sent_ = true;
  }
  void requireAuthentication(const std::string&) override { setStatus(HTTP_UNAUTHORIZED); }
  bool sent() const override { return sent_; }
  std::string body() const { return out_.str(); }

 private:
  std::ostringstream out_;
  bool sent_ = false;
};

class MemoryRequest final : public Poco::Net::HTTPServerRequest {
 public:
  MemoryRequest(std::istream& body, MemoryResponse& response)
      : body_(body), response_(response), params_(new Poco::Net::HTTPServerParams) {}
  std::istream& stream() override { return body_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return address_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return address_; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return *params_; }
  Poco::Net::HTTPServerResponse& response() const override { return response_; }
  bool secure() const override { return false; }

 private:
  std::istream& body_;
  MemoryResponse& response_;
  Poco::Net::HTTPServerParams::Ptr params_;
  Poco::Net::SocketAddress address_{"127.0.0.1", 0};
};

}  // namespace fieldagent::agent::api
