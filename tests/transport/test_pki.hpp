#pragma once
// Certificates made in memory at test start with mbedTLS's x509write API (ECDSA P-256), so no
// key or certificate is committed and none can expire in the repository.
#include <string>
#include <vector>

namespace fieldagent::testing {

struct TestCert {
  std::string certPem;
  std::string keyPem;
  std::string spkiDer;  // DER SubjectPublicKeyInfo of the certificate's key, what pins hash
};

struct CertSpec {
  std::string commonName;
  std::vector<std::string> dnsNames;
  std::vector<std::string> ipAddresses;  // dotted IPv4 or IPv6 text
  int validFromDays = -1;                // relative to now
  int validToDays = 30;
};

class TestCa {
 public:
  explicit TestCa(const std::string& name);
  ~TestCa();
  TestCa(const TestCa&) = delete;
  TestCa& operator=(const TestCa&) = delete;

  const std::string& certPem() const { return cert_.certPem; }
  TestCert issue(const CertSpec& spec) const;

  struct Key;  // an mbedTLS key pair; complete in test_pki.cpp

 private:
  Key* key_;
  std::string name_;
  TestCert cert_;
};

// A certificate that signs itself (not issued by any CA).
TestCert selfSigned(const CertSpec& spec);

// The set the transport tests use: one trusted CA and certificates for each way a check can fail.
struct TestPki {
  TestPki();
  TestCa trustedCa{"fieldagent test CA"};
  TestCa unknownCa{"some other CA"};
  TestCert server;       // localhost + 127.0.0.1 + ::1, from trustedCa
  TestCert otherName;    // other.example only, from trustedCa
  TestCert expired;      // localhost + 127.0.0.1, ended yesterday, from trustedCa
  TestCert notYetValid;  // localhost + 127.0.0.1, starts tomorrow, from trustedCa
  TestCert fromUnknownCa;
  TestCert selfSigned;
};

}  // namespace fieldagent::testing
