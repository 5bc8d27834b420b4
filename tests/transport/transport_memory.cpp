// Measures what the transport holds on the heap: the shared trust anchors (the system bundle
// versus one custom CA) and one open TLS connection. Not a test (no pass/fail): run it by hand and
// copy the figures into docs/transport.md. The server is `openssl s_server` in another process,
// so only the client's allocations are counted.
//
//   transport_memory            (heap figures from glibc's mallinfo2, or ASan's allocator
//                                under the dev preset)
#include <malloc.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Pipe.h>
#include <Poco/PipeStream.h>
#include <Poco/Process.h>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/http_transport.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"

#if defined(__SANITIZE_ADDRESS__)
// From ASan's public allocator interface (sanitizer/allocator_interface.h, not always installed).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

using namespace fieldagent;
using namespace fieldagent::platform;

namespace {

long long heapBytes() {
#if defined(__SANITIZE_ADDRESS__)
  return static_cast<long long>(__sanitizer_get_current_allocated_bytes());
#else
  return static_cast<long long>(mallinfo2().uordblks);
#endif
}

std::string kib(long long bytes) {
  char text[32];
  (void)std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024.0);
  return text;
}

}  // namespace

int main() {
  testing::TestPki pki;
  testing::TempDir dir;
  std::ofstream(dir / "cert.pem") << pki.server.certPem;
  std::ofstream(dir / "key.pem") << pki.server.keyPem;
  std::ofstream(dir / "ping") << "pong";
  Poco::Pipe input, output;
  const std::vector<std::string> args{"s_server", "-accept", "127.0.0.1:0", "-cert",
                                      "cert.pem", "-key",    "key.pem",     "-WWW"};
  Poco::ProcessHandle server =
      Poco::Process::launch(FIELDAGENT_OPENSSL, args, dir.path().string(), &input, &output, &output);
  Poco::PipeInputStream out(output);
  std::string line, port;
  while (port.empty() && std::getline(out, line)) {
    if (line.rfind("ACCEPT", 0) == 0) port = line.substr(line.rfind(':') + 1);
  }
  if (port.empty()) {
    std::cerr << "openssl s_server did not start\n";
    return 1;
  }

  // The process-wide random generator exists anyway (keys, nonces, idempotency keys); the
  // transport draws from it, so it is not counted against the transport.
  (void)systemEntropy().bytes(1);
  const long long beforeSystem = heapBytes();
  long long systemBundle = 0;
  int systemRoots = 0;
  {
    auto context = TlsClientContext::create(TlsOptions{});
    if (!context) {
      std::cerr << context.error().message << "\n";
      return 1;
    }
    systemBundle = heapBytes() - beforeSystem;
    systemRoots = (*context)->trustedCaCount();
  }

  TlsOptions options;
  options.customCaPem = pki.trustedCa.certPem();
  const long long beforeTransport = heapBytes();
  const HttpTransport transport(options);
  if (auto loaded = transport.loadTrust(); !loaded) {
    std::cerr << loaded.error().message << "\n";
    return 1;
  }
  const long long customContext = heapBytes() - beforeTransport;

  auto session = std::move(transport.newSession(parseBaseUrl("https://127.0.0.1:" + port).value())).value();
  const long long idle = heapBytes();
  long long open = 0;
  {
    // The session alone (no exchange pool around it): what one connection costs.
    std::string body;
    try {
      Poco::Net::HTTPRequest get("GET", "/ping", Poco::Net::HTTPMessage::HTTP_1_1);
      session->sendRequest(get);
      Poco::Net::HTTPResponse response;
      std::istream& in = session->receiveResponse(response);
      body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const Poco::Exception& e) {
      body = transportError(e).message;
    }
    if (body != "pong") {
      std::cerr << "request failed: " << body << "\n";
      return 1;
    }
  }
  open = heapBytes() - idle;  // the connection is still open on our side: s_server -WWW hung up, we did not
  session->reset();
  const long long afterClose = heapBytes() - idle;

  std::cout << "system CA bundle, parsed once per transport (" << systemRoots << " roots): " << kib(systemBundle)
            << "\n"
            << "custom CA context (one root):                              " << kib(customContext) << "\n"
            << "one open TLS connection (after handshake and a request):   " << kib(open) << "\n"
            << "left after the connection is closed:                       " << kib(afterClose) << "\n";

  Poco::Process::kill(server);
  server.wait();
  return 0;
}
