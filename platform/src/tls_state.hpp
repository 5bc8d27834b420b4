#pragma once
// What tls.cpp (trust, configuration) and tls_socket.cpp (the socket) share: the mbedTLS objects
// behind a TlsClientContext. Private to platform/src.
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <string>
#include <vector>

#include "fieldagent/platform/tls.hpp"

namespace fieldagent::platform {

struct TlsClientContext::State {
  TlsOptions options;
  mbedtls_x509_crt trusted;
  mbedtls_ssl_config config;
  std::vector<std::string> pins;  // 32-byte digests
  int trustedCount = 0;

  State() {
    mbedtls_x509_crt_init(&trusted);
    mbedtls_ssl_config_init(&config);
  }
  ~State() {
    mbedtls_ssl_config_free(&config);
    mbedtls_x509_crt_free(&trusted);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

// mbedTLS's text for an error code.
std::string mbedtlsText(int rc);

}  // namespace fieldagent::platform
