#include "fieldagent/platform/logging.hpp"

#include <Poco/ConsoleChannel.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/PatternFormatter.h>
#include <Poco/SyslogChannel.h>

#include <algorithm>
#include <stdexcept>

namespace fieldagent::platform {

Redactor::Redactor() {
  const auto icase = std::regex::ECMAScript | std::regex::icase;
  patterns_.emplace_back(std::regex(R"(\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/=-]+)", icase), "$1$2***");
  patterns_.emplace_back(
      std::regex(R"re(("(?:password|authToken|token|code|secret|totpSecret|uploadToken|apiToken)"\s*:\s*")[^"]*")re",
                 icase),
      "$1***\"");
  patterns_.emplace_back(std::regex(R"((password|secret|token)=[^&\s]+)", icase), "$1=***");
}

void Redactor::addSecret(const std::string& value) {
  if (value.size() < 4) return;
  std::lock_guard lock(mutex_);
  if (std::find(secrets_.begin(), secrets_.end(), value) == secrets_.end()) secrets_.push_back(value);
  // Longer first, so a secret that contains another is replaced whole.
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

void Redactor::removeSecret(const std::string& value) {
  std::lock_guard lock(mutex_);
  std::erase(secrets_, value);
}

std::string Redactor::apply(std::string text) const {
  {
    std::lock_guard lock(mutex_);
    for (const auto& secret : secrets_) {
      for (std::size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3)) {
        text.replace(pos, secret.size(), "***");
      }
    }
  }
  for (const auto& [re, replacement] : patterns_) text = std::regex_replace(text, re, replacement);
  return text;
}

RedactingChannel::RedactingChannel(Poco::AutoPtr<Poco::Channel> next, std::shared_ptr<const Redactor> redactor)
    : next_(std::move(next)), redactor_(std::move(redactor)) {}

void RedactingChannel::open() { next_->open(); }
void RedactingChannel::close() { next_->close(); }

void RedactingChannel::log(const Poco::Message& message) {
  Poco::Message copy(message);
  copy.setText(redactor_->apply(message.getText()));
  next_->log(copy);
}

namespace {
std::shared_ptr<Redactor>& currentRedactor() {
  static std::shared_ptr<Redactor> instance = std::make_shared<Redactor>();
  return instance;
}
}  // namespace

std::shared_ptr<Redactor> logRedactor() { return currentRedactor(); }

std::shared_ptr<Redactor> setupLogging(const LogOptions& options) {
  int level = 0;
  try {
    level = Poco::Logger::parseLevel(options.level);
  } catch (const Poco::Exception&) {
    throw std::invalid_argument("unknown log level '" + options.level +
                                "' (fatal, critical, error, warning, notice, information, debug, trace)");
  }
  Poco::AutoPtr<Poco::Channel> sink;
  Poco::AutoPtr<Poco::PatternFormatter> formatter;
  if (options.sink == LogOptions::Sink::syslog) {
    Poco::AutoPtr<Poco::SyslogChannel> syslog(new Poco::SyslogChannel(options.syslogName));
    sink = syslog;
    formatter = new Poco::PatternFormatter("%s: %t");
  } else {
    sink = new Poco::ConsoleChannel;
    formatter = new Poco::PatternFormatter("%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t");
    formatter->setProperty("times", "UTC");
  }
  Poco::AutoPtr<Poco::Channel> formatting(new Poco::FormattingChannel(formatter, sink));
  auto redactor = currentRedactor();
  Poco::AutoPtr<Poco::Channel> redacting(new RedactingChannel(formatting, redactor));
  Poco::Logger::root().setChannel(redacting);
  Poco::Logger::root().setLevel(level);
  // Loggers made before this call keep their old channel unless told.
  Poco::Logger::setChannel("", redacting);
  Poco::Logger::setLevel("", level);
  return redactor;
}

}  // namespace fieldagent::platform
