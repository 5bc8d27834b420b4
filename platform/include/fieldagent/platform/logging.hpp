#pragma once
// Logging over Poco: console or syslog, with every line passed through a Redactor so that
// passwords, tokens and TOTP secrets never reach a log.
#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>

#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

namespace fieldagent::platform {

// Replaces secrets in text: values registered at run time (the password, the current token)
// and anything shaped like one (Authorization headers, JSON fields named like secrets).
class Redactor {
 public:
  Redactor();
  // Registers a secret value; values shorter than 4 characters are ignored (they would
  // redact ordinary words).
  void addSecret(const std::string& value);
  void removeSecret(const std::string& value);
  std::string apply(std::string text) const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> secrets_;
  std::vector<std::pair<std::regex, std::string>> patterns_;
};

// A channel that redacts each message's text and passes it on.
class RedactingChannel final : public Poco::Channel {
 public:
  RedactingChannel(Poco::AutoPtr<Poco::Channel> next, std::shared_ptr<const Redactor> redactor);
  void open() override;
  void close() override;
  void log(const Poco::Message& message) override;

 private:
  Poco::AutoPtr<Poco::Channel> next_;
  std::shared_ptr<const Redactor> redactor_;
};

struct LogOptions {
  enum class Sink { console, syslog };
  Sink sink = Sink::console;
  std::string level = "information";  // Poco's level names: fatal ... trace
  std::string syslogName = "fieldagent";
};

// Sets up Poco's root logger. Returns the redactor every log line passes through, for the
// session code to register secrets with. Throws std::invalid_argument on an unknown level.
std::shared_ptr<Redactor> setupLogging(const LogOptions& options);
// The redactor set up by setupLogging (an empty one before that).
std::shared_ptr<Redactor> logRedactor();

}  // namespace fieldagent::platform
