// The local API's baseline: a bare Poco HTTPServer with the agent's server settings (keep-alive,
// 16 threads, 64 queued) answering every GET with a fixed body of --get-bytes and every other
// method (after reading the request body) with 202 and a fixed body of --post-bytes. No routing,
// no authentication, no storage: the floor an HTTP service on this stack can reach.
//   bare_server [--get-bytes N] [--post-bytes N]
// Prints {"ready":true,"url":...,"pid":...} when serving, stops on SIGTERM or SIGINT.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace {

std::string fixedBody(std::size_t bytes) {
  if (bytes < 2) return std::string(bytes, ' ');
  return "\"" + std::string(bytes - 2, 'x') + "\"";
}

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(const std::string& get, const std::string& post) : get_(get), post_(post) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) override {
    std::string ignored;
    Poco::StreamCopier::copyToString(request.stream(), ignored);
    const bool isGet = request.getMethod() == "GET";
    const std::string& body = isGet ? get_ : post_;
    response.setStatus(isGet ? Poco::Net::HTTPResponse::HTTP_OK : Poco::Net::HTTPResponse::HTTP_ACCEPTED);
    response.setContentType("application/json");
    response.setContentLength(static_cast<std::streamsize>(body.size()));
    response.send().write(body.data(), static_cast<std::streamsize>(body.size()));
  }

 private:
  const std::string& get_;
  const std::string& post_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(std::string get, std::string post) : get_(std::move(get)), post_(std::move(post)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(get_, post_);
  }

 private:
  std::string get_, post_;
};

}  // namespace

int main(int argc, char** argv) {
  std::size_t getBytes = 1000, postBytes = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string name = argv[i];
    if (name == "--get-bytes") {
      getBytes = std::stoul(argv[i + 1]);
    } else if (name == "--post-bytes") {
      postBytes = std::stoul(argv[i + 1]);
    } else {
      std::fprintf(stderr, "bare_server: unknown option %s\n", name.c_str());
      return 2;
    }
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  auto params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(16);
  params->setMaxQueued(64);
  params->setKeepAlive(true);
  Poco::Net::HTTPServer server(new Factory(fixedBody(getBytes), fixedBody(postBytes)), socket, params);
  server.start();
  std::printf("%s\n", nlohmann::json{{"ready", true},
                                     {"url", "http://127.0.0.1:" + std::to_string(socket.address().port())},
                                     {"pid", ::getpid()}}
                          .dump()
                          .c_str());
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  server.stopAll(true);
  return 0;
}
