#pragma once
// Every error code the agent uses, in one table: its name on the wire (the local API's "error",
// the status JSON, log lines), the HTTP status the local API answers with it, and what it means
// for a person (the default message, and the text docs/local-api.yaml is checked against).
//
// A code is written as its name: `makeError("invalid", ...)`, `e.code == "not_found"`. The
// constructor from a name is consteval, so a name that is not in this table does not compile.
// A name read at run time (an upstream answer, a stored row) goes through ErrorCode::parse().
//
// To add a code: one line below, in the group it belongs to; the status is the one a client of
// the local API expects if the code reaches it (500 for a failure inside the agent). The unit
// test over the table (tests/platform/error_code_test.cpp) and the check of docs/local-api.yaml
// (tests/agent/error_status_test.cpp) run over every line.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

// X(name, HTTP status, source, meaning). The source is `contract` for a code of the upstream
// contract (../shared/contract/upstream-api.md), which upstream sends and the agent may use too,
// and `agent` for the agent's own: only a contract code read from an upstream answer is taken
// as itself (ErrorCode::fromUpstream), so upstream cannot make an answer look like, say, a
// damaged local file.
#define FIELDAGENT_ERROR_CODES(X)                                                                                    \
  /* A request to the local API that cannot be served as it is. */                                                   \
  X(bad_request, 400, agent, "the request is malformed: its body, a query parameter, a header or a multipart part")  \
  X(invalid, 400, agent, "a field of the request, or an argument, fails its check")                                  \
  X(unauthorized, 401, contract, "the bearer token is missing or wrong")                                             \
  X(signed_out, 403, agent, "nobody is signed in on this device")                                                    \
  X(forbidden, 403, contract, "the signed-in user lacks the entitlement")                                            \
  X(not_found, 404, contract, "no such thing: not in the offline cache, no such operation, conflict, file or route") \
  X(method_not_allowed, 405, agent, "the path is served, but not for this method")                                   \
  X(payload_too_large, 413, contract, "more bytes than the limit allows (a request body, an attachment, a file)")    \
  X(quota_exceeded, 413, agent, "the attachments on the device would exceed their quota")                            \
  X(idempotency_key_reused, 422, contract, "the Idempotency-Key was used before for a different request")            \
  /* The request is fine, but the state it meets does not allow it. */                                               \
  X(invalid_transition, 409, contract, "the work order's status cannot move that way from where it is")              \
  X(wrong_state, 409, agent, "the operation or conflict is not in a state that allows this")                         \
  X(already_resolved, 409, agent, "the conflict was already resolved")                                               \
  X(no_challenge, 409, agent, "no MFA challenge is pending")                                                         \
  X(no_credentials, 409, agent, "no credentials are stored on this device")                                          \
  X(mfa_pending, 409, agent, "a second factor is awaited: answer it through POST /agent/mfa")                        \
  X(not_confirmed, 409, agent, "the attachment is not confirmed upstream yet, so its bytes stay")                    \
  X(gone, 410, agent, "the attachment was confirmed upstream and its bytes removed from the device")                 \
  /* Signing in. */                                                                                                  \
  X(invalid_credentials, 422, contract, "upstream refused the username, password or tenant")                         \
  X(invalid_mfa_code, 422, contract, "the MFA code was not accepted")                                                \
  X(mfa_required, 422, contract, "upstream requires a second factor that is not configured")                         \
  X(bad_totp_secret, 400, agent, "the TOTP secret is neither an otpauth://totp URI nor a base32 key")                \
  X(no_technician, 403, agent, "the signed-in user is not a technician: there are no work orders to pull")           \
  /* Reaching upstream: not now (transient), or not until something changes (permanent). */                          \
  X(unreachable, 503, agent, "upstream cannot be reached now; try again later")                                      \
  X(transport_timeout, 503, agent, "upstream did not answer in time")                                                \
  X(transport_failed, 503, agent, "the connection to upstream failed or broke")                                      \
  X(tls_handshake, 503, agent, "the TLS handshake with upstream failed")                                             \
  X(tls_handshake_timeout, 503, agent, "the TLS handshake with upstream did not finish in time")                     \
  X(waiting, 503, agent, "held back on purpose (a dependency, or the bandwidth policy); it goes later")              \
  X(upload_unsettled, 503, agent, "an upload needed more rounds (URL renewals, resumes) than one send allows")       \
  X(tls_untrusted, 502, agent, "upstream's certificate is not signed by a trusted authority")                        \
  X(tls_expired, 502, agent, "upstream's certificate has expired")                                                   \
  X(tls_not_yet_valid, 502, agent, "upstream's certificate is not valid yet (or the device's clock is behind)")      \
  X(tls_hostname_mismatch, 502, agent, "upstream's certificate names another host")                                  \
  X(tls_pin_mismatch, 502, agent, "upstream's certificate key is not one of the pinned keys")                        \
  X(tls_bad_certificate, 502, agent, "upstream's certificate cannot be used")                                        \
  X(tls_protocol, 502, agent, "upstream and the agent have no TLS version or cipher in common")                      \
  X(response_too_large, 502, agent, "upstream's answer is larger than the agent's reply cap")                        \
  X(bad_answer, 502, agent, "upstream's answer does not have the shape the contract gives it")                       \
  X(bad_offset, 502, agent, "the upload server reports an offset the file cannot have")                              \
  X(bad_url, 500, agent, "the URL cannot be sent: it is not an absolute http(s) URL the agent can parse")            \
  X(insecure_url, 500, agent, "the URL is plain http to a host that is not loopback")                                \
  X(tls_config, 500, agent, "the TLS settings (CA bundle, pins) cannot be used")                                     \
  /* Upstream's own codes (../shared/contract/upstream-api.md), with upstream's status. */                           \
  X(invalid_request, 400, contract, "upstream refused the request's content")                                        \
  X(precondition_failed, 412, contract, "upstream's copy changed since the version the edit was based on")           \
  X(unknown_upload, 422, contract, "upstream knows no completed upload of that name on the work order")              \
  X(unknown_technician, 422, contract, "upstream knows no such technician")                                          \
  X(upload_url_expired, 403, contract, "the signed upload URL has expired; a fresh one is needed")                   \
  X(upload_incomplete, 409, contract, "upstream does not hold all of the upload's bytes yet")                        \
  X(upload_complete, 409, contract, "upstream holds the whole upload already")                                       \
  X(checksum_mismatch, 422, contract, "upstream's copy of the upload does not match its SHA-256")                    \
  X(upstream_rejected, 422, agent, "upstream refused with a code the agent does not know (the message has it)")      \
  X(upstream_failed, 502, agent, "upstream failed with a code the agent does not know (the message has it)")         \
  /* The device: storage, keys, files. */                                                                            \
  X(no_space, 507, agent, "the device's storage is full")                                                            \
  X(busy, 503, agent, "the database is held by another process; try again")                                          \
  X(io, 500, agent, "reading or writing a file failed")                                                              \
  X(corrupt, 500, agent, "stored data is damaged or not what was written")                                           \
  X(exists, 500, agent, "a file of that name is already being written")                                              \
  X(constraint, 500, agent, "a write broke a rule of the database schema")                                           \
  X(db, 500, agent, "the database failed")                                                                           \
  X(schema_too_new, 500, agent, "the database comes from a newer agent")                                             \
  X(unstable_window, 503, agent, "work orders kept changing while they were pulled; the pull goes again")            \
  X(insecure, 500, agent, "a key file is readable by others")                                                        \
  X(auth_failed, 500, agent, "sealed data fails its authentication tag: damaged, or sealed with another key")        \
  X(bad_key, 500, agent, "a key of the wrong length")                                                                \
  X(bad_nonce, 500, agent, "a nonce of the wrong length")                                                            \
  X(crypto, 500, agent, "a cryptographic operation failed")                                                          \
  X(internal, 500, contract, "an unexpected failure (in the agent, or upstream's own 500)")                          \
  /* The program and its command line (never an answer of the local API). */                                         \
  X(config, 500, agent, "the configuration file is wrong")                                                           \
  X(usage, 500, agent, "the command line is wrong")                                                                  \
  X(bind, 500, agent, "cannot listen on the configured address and port")                                            \
  X(api, 500, agent, "the agent's local API answered something the command line cannot use")                         \
  X(closed, 500, agent, "closed: the program or the stream is ending")

namespace fieldagent {

namespace detail {
// Not constexpr, and never defined: reaching it in the consteval constructor below is what makes
// an unknown name a compile error, and the compiler names this function in the message.
void error_code_name_not_in_the_table(const char* name);

enum class ErrorSource : std::uint8_t { agent, contract };

struct ErrorCodeEntry {
  std::string_view name;
  int httpStatus;
  ErrorSource source;
  std::string_view meaning;
};

inline constexpr ErrorCodeEntry kErrorCodes[] = {
#define FIELDAGENT_ERROR_ENTRY(name, status, source, meaning) {#name, status, ErrorSource::source, meaning},
    FIELDAGENT_ERROR_CODES(FIELDAGENT_ERROR_ENTRY)
#undef FIELDAGENT_ERROR_ENTRY
};
}  // namespace detail

class ErrorCode {
 public:
  enum class Id : std::uint8_t {
#define FIELDAGENT_ERROR_ID(name, status, source, meaning) name,
    FIELDAGENT_ERROR_CODES(FIELDAGENT_ERROR_ID)
#undef FIELDAGENT_ERROR_ID
  };
  static constexpr std::size_t kCount = std::size(detail::kErrorCodes);

  // `internal`: what an Error that nobody filled in says.
  constexpr ErrorCode() = default;
  constexpr ErrorCode(Id id) : id_(id) {}  // NOLINT(google-explicit-constructor)
  // From a name written in the code: checked against the table at compile time.
  consteval ErrorCode(const char* name) : id_(find(name)) {}  // NOLINT(google-explicit-constructor)

  // From a name read at run time; nullopt for one that is not in the table.
  static constexpr std::optional<ErrorCode> parse(std::string_view name) {
    for (std::size_t i = 0; i < kCount; ++i) {
      if (detail::kErrorCodes[i].name == name) return ErrorCode(static_cast<Id>(i));
    }
    return std::nullopt;
  }
  // From upstream's "error": only the contract's codes; nullopt for any other.
  static constexpr std::optional<ErrorCode> fromUpstream(std::string_view name) {
    auto code = parse(name);
    if (!code || !code->fromContract()) return std::nullopt;
    return code;
  }
  // Every code, in the table's order (for tests and documentation).
  static constexpr ErrorCode at(std::size_t index) { return ErrorCode(static_cast<Id>(index)); }

  constexpr Id id() const { return id_; }
  constexpr std::string_view name() const { return entry().name; }
  constexpr int httpStatus() const { return entry().httpStatus; }
  constexpr std::string_view meaning() const { return entry().meaning; }
  constexpr bool fromContract() const { return entry().source == detail::ErrorSource::contract; }
  std::string str() const { return std::string(name()); }

  friend constexpr bool operator==(const ErrorCode&, const ErrorCode&) = default;

 private:
  static consteval Id find(const char* name) {
    const std::string_view wanted(name);
    for (std::size_t i = 0; i < kCount; ++i) {
      if (detail::kErrorCodes[i].name == wanted) return static_cast<Id>(i);
    }
    detail::error_code_name_not_in_the_table(name);
    return Id::internal;
  }
  constexpr const detail::ErrorCodeEntry& entry() const { return detail::kErrorCodes[static_cast<std::size_t>(id_)]; }

  Id id_ = Id::internal;
};

static_assert(ErrorCode::kCount <= 255, "ErrorCode::Id is one byte");

inline std::ostream& operator<<(std::ostream& out, const ErrorCode& code) { return out << code.name(); }

// nlohmann/json writes a code as its name (found by argument-dependent lookup; a template, so
// that platform/ does not need nlohmann/json itself).
template <class Json>
void to_json(Json& j, const ErrorCode& code) {
  j = code.str();
}

}  // namespace fieldagent
