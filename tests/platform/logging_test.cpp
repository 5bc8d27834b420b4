#include <catch2/catch.hpp>

#include <Poco/Logger.h>
#include <Poco/Message.h>

#include "fieldagent/platform/logging.hpp"

using namespace fieldagent::platform;

namespace {
class CaptureChannel final : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override { lines.push_back(message.getText()); }
  std::vector<std::string> lines;
};
}  // namespace

TEST_CASE("registered secrets never reach the log", "[logging]") {
  Redactor r;
  r.addSecret("hunter2-pass");
  r.addSecret("JBSWY3DPEHPK3PXP");
  r.addSecret("abc");  // too short to redact safely; ignored
  const std::string out = r.apply("login tech1 with hunter2-pass, totp JBSWY3DPEHPK3PXP, code abc");
  CHECK(out.find("hunter2-pass") == std::string::npos);
  CHECK(out.find("JBSWY3DPEHPK3PXP") == std::string::npos);
  CHECK(out.find("code abc") != std::string::npos);
  r.removeSecret("hunter2-pass");
  CHECK(r.apply("hunter2-pass") == "hunter2-pass");
}

TEST_CASE("things shaped like secrets are redacted without registration", "[logging]") {
  Redactor r;
  CHECK(r.apply("Authorization: Bearer eyJhbGciOi.abc-def") == "Authorization: Bearer ***");
  CHECK(r.apply("header Basic dXNlcjpwYXNz=") == "header Basic ***");
  CHECK(r.apply(R"({"username":"dana","password":"s3cr3t!","mfa":{"code":"123456"}})") ==
        R"({"username":"dana","password":"***","mfa":{"code":"***"}})");
  CHECK(r.apply(R"({"authToken": "tok_1"})") == R"({"authToken": "***"})");
  CHECK(r.apply("GET /download?token=abc123&x=1") == "GET /download?token=***&x=1");
  CHECK(r.apply("work order wo_1f92a0 moved to en_route") == "work order wo_1f92a0 moved to en_route");
}

TEST_CASE("the redacting channel passes redacted text on to the sink", "[logging]") {
  Poco::AutoPtr<CaptureChannel> capture(new CaptureChannel);
  auto redactor = std::make_shared<Redactor>();
  redactor->addSecret("tok_secret_value");
  Poco::AutoPtr<RedactingChannel> channel(new RedactingChannel(capture, redactor));
  Poco::Logger& logger = Poco::Logger::get("redaction-test");
  logger.setChannel(channel);
  logger.setLevel(Poco::Message::PRIO_INFORMATION);
  logger.information("session renewed, token tok_secret_value");
  logger.debug("below the level: not logged");
  REQUIRE(capture->lines.size() == 1);
  CHECK(capture->lines[0] == "session renewed, token ***");
}

TEST_CASE("setting up logging refuses an unknown level by name", "[logging]") {
  LogOptions options;
  options.level = "loud";
  CHECK_THROWS_WITH(setupLogging(options), Catch::Contains("loud"));
  options.level = "warning";
  auto redactor = setupLogging(options);
  CHECK(redactor == logRedactor());
  CHECK(Poco::Logger::root().getLevel() == Poco::Message::PRIO_WARNING);
}
