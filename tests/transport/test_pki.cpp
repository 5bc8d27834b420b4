#include "test_pki.hpp"

#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include <Poco/Net/IPAddress.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "fieldagent/platform/clock.hpp"

namespace fieldagent::testing {
namespace {

void check(int rc, const char* what) {
  if (rc < 0) throw std::runtime_error(std::string(what) + " failed: -0x" + std::to_string(-rc));
}

class Rng {
 public:
  Rng() {
    mbedtls_entropy_init(&entropy_);
    mbedtls_ctr_drbg_init(&drbg_);
    check(mbedtls_ctr_drbg_seed(&drbg_, mbedtls_entropy_func, &entropy_, nullptr, 0), "drbg seed");
  }
  ~Rng() {
    mbedtls_ctr_drbg_free(&drbg_);
    mbedtls_entropy_free(&entropy_);
  }
  Rng(const Rng&) = delete;
  Rng& operator=(const Rng&) = delete;
  mbedtls_ctr_drbg_context* get() { return &drbg_; }

 private:
  mbedtls_entropy_context entropy_;
  mbedtls_ctr_drbg_context drbg_;
};

Rng& rng() {
  static Rng instance;
  return instance;
}

// "YYYYMMDDhhmmss" in UTC, `days` from now.
std::string x509Time(int days) {
  const auto t = platform::SystemClock().now() + std::chrono::hours(24) * days;
  std::string iso = platform::formatIso8601(t);  // 2026-01-21T13:00:00Z
  std::string out;
  for (char c : iso) {
    if (c >= '0' && c <= '9') out += c;
  }
  return out;
}

std::string derLength(std::size_t n) {
  if (n < 0x80) return std::string(1, static_cast<char>(n));
  if (n <= 0xff) return std::string{'\x81', static_cast<char>(n)};
  return std::string{'\x82', static_cast<char>(n >> 8), static_cast<char>(n & 0xff)};
}

// SubjectAltName value: GeneralNames with dNSName [2] and iPAddress [7] entries (the x509write
// API of mbedTLS 2.28 has no setter for it).
std::string subjectAltName(const CertSpec& spec) {
  std::string names;
  for (const auto& dns : spec.dnsNames) names += '\x82' + derLength(dns.size()) + dns;
  for (const auto& ipText : spec.ipAddresses) {
    Poco::Net::IPAddress ip(ipText);
    const std::string bytes(static_cast<const char*>(ip.addr()), ip.length());
    names += '\x87' + derLength(bytes.size()) + bytes;
  }
  return '\x30' + derLength(names.size()) + names;
}

}  // namespace

struct TestCa::Key {
  mbedtls_pk_context pk;
  Key() {
    mbedtls_pk_init(&pk);
    check(mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), "pk setup");
    check(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random, rng().get()),
          "ec key generation");
  }
  ~Key() { mbedtls_pk_free(&pk); }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  std::string pem() {
    unsigned char buf[1024];
    check(mbedtls_pk_write_key_pem(&pk, buf, sizeof buf), "key pem");
    return reinterpret_cast<const char*>(buf);
  }
  std::string spkiDer() {
    unsigned char buf[512];
    const int n = mbedtls_pk_write_pubkey_der(&pk, buf, sizeof buf);
    check(n, "pubkey der");
    return std::string(reinterpret_cast<const char*>(buf + sizeof buf - n), static_cast<std::size_t>(n));
  }
};

namespace {

std::string writeCert(const CertSpec& spec, TestCa::Key& subject, TestCa::Key& issuer, const std::string& issuerName,
                      bool isCa) {
  static std::atomic<int> serialCounter{1};
  mbedtls_x509write_cert crt;
  mbedtls_x509write_crt_init(&crt);
  mbedtls_mpi serial;
  mbedtls_mpi_init(&serial);
  std::string pem;
  try {
    check(mbedtls_mpi_lset(&serial, serialCounter++), "serial");
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, &subject.pk);
    mbedtls_x509write_crt_set_issuer_key(&crt, &issuer.pk);
    check(mbedtls_x509write_crt_set_serial(&crt, &serial), "set serial");
    const std::string subjectName = "CN=" + spec.commonName + ",O=fieldagent tests";
    check(mbedtls_x509write_crt_set_subject_name(&crt, subjectName.c_str()), "subject");
    check(mbedtls_x509write_crt_set_issuer_name(&crt, issuerName.c_str()), "issuer");
    check(mbedtls_x509write_crt_set_validity(&crt, x509Time(spec.validFromDays).c_str(),
                                             x509Time(spec.validToDays).c_str()),
          "validity");
    check(mbedtls_x509write_crt_set_basic_constraints(&crt, isCa ? 1 : 0, isCa ? 0 : -1), "basic constraints");
    check(mbedtls_x509write_crt_set_key_usage(&crt, isCa ? (MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN)
                                                         : MBEDTLS_X509_KU_DIGITAL_SIGNATURE),
          "key usage");
    check(mbedtls_x509write_crt_set_subject_key_identifier(&crt), "ski");
    check(mbedtls_x509write_crt_set_authority_key_identifier(&crt), "aki");
    if (!spec.dnsNames.empty() || !spec.ipAddresses.empty()) {
      const std::string san = subjectAltName(spec);
      check(mbedtls_x509write_crt_set_extension(&crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
                                                MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0,
                                                reinterpret_cast<const unsigned char*>(san.data()), san.size()),
            "subjectAltName");
    }
    unsigned char buf[4096];
    check(mbedtls_x509write_crt_pem(&crt, buf, sizeof buf, mbedtls_ctr_drbg_random, rng().get()), "certificate pem");
    pem = reinterpret_cast<const char*>(buf);
  } catch (...) {
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&crt);
    throw;
  }
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&crt);
  return pem;
}

}  // namespace

TestCa::TestCa(const std::string& name) : key_(new Key()), name_("CN=" + name + ",O=fieldagent tests") {
  CertSpec spec{name, {}, {}, -1, 365};
  cert_.certPem = writeCert(spec, *key_, *key_, name_, true);
  cert_.keyPem = key_->pem();
  cert_.spkiDer = key_->spkiDer();
}

TestCa::~TestCa() { delete key_; }

TestCert TestCa::issue(const CertSpec& spec) const {
  Key subject;
  TestCert out;
  out.certPem = writeCert(spec, subject, *key_, name_, false);
  out.keyPem = subject.pem();
  out.spkiDer = subject.spkiDer();
  return out;
}

TestCert selfSigned(const CertSpec& spec) {
  TestCa::Key key;
  TestCert out;
  out.certPem = writeCert(spec, key, key, "CN=" + spec.commonName + ",O=fieldagent tests", false);
  out.keyPem = key.pem();
  out.spkiDer = key.spkiDer();
  return out;
}

TestPki::TestPki() {
  const std::vector<std::string> local{"localhost"};
  const std::vector<std::string> localIps{"127.0.0.1", "::1"};
  server = trustedCa.issue({"localhost", local, localIps, -1, 30});
  otherName = trustedCa.issue({"other.example", {"other.example"}, {}, -1, 30});
  expired = trustedCa.issue({"localhost", local, localIps, -10, -1});
  notYetValid = trustedCa.issue({"localhost", local, localIps, 2, 30});
  fromUnknownCa = unknownCa.issue({"localhost", local, localIps, -1, 30});
  selfSigned = testing::selfSigned({"localhost", local, localIps, -1, 30});
}

}  // namespace fieldagent::testing
