#pragma once
// What the fuzz targets share: input split into sections, upstream answers given as raw HTTP
// responses and read by Poco exactly as PocoHttpExchange reads them off a socket, a scripted
// HttpExchange that plays them back, entropy that repeats from run to run, a FUZZ_CHECK that stops the run on a broken invariant,
// and a scratch folder on tmpfs where one is available.
#include <Poco/Logger.h>
#include <Poco/Net/HTTPResponse.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/http_exchange.hpp"

// An invariant of the code under test that the input broke: a find, reported like a crash.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace fuzz {

// Random bytes that are the same on every run (splitmix64), so a find replays; never
// repeating, so ids made from them stay unique.
class CountingEntropy final : public fieldagent::platform::Entropy {
 public:
  std::string bytes(std::size_t n) override {
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
      if (i % 8 == 0) {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        word_ = z ^ (z >> 31);
      }
      out[i] = static_cast<char>((word_ >> (8 * (i % 8))) & 0xFF);
    }
    return out;
  }

 private:
  std::uint64_t state_ = 0;
  std::uint64_t word_ = 0;
};


inline std::string_view asText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Sections of an input are separated by a line holding only "%%".
inline std::vector<std::string> sections(std::string_view text) {
  std::vector<std::string> out;
  constexpr std::string_view sep = "\n%%\n";
  std::size_t start = 0;
  for (;;) {
    const auto at = text.find(sep, start);
    if (at == std::string_view::npos) {
      out.emplace_back(text.substr(start));
      return out;
    }
    out.emplace_back(text.substr(start, at - start));
    start = at + sep.size();
  }
}

// A raw HTTP response ("HTTP/1.1 200 OK\r\nName: value\r\n\r\nbody") read with Poco's
// HTTPResponse::read, the parser PocoHttpExchange's session uses, and copied field by field as
// PocoHttpExchange does. Poco refusing the head is a transport error there as well.
inline fieldagent::Result<fieldagent::platform::HttpResponse> parseResponse(const std::string& raw) {
  std::istringstream in(raw);
  Poco::Net::HTTPResponse res;
  try {
    res.read(in);
  } catch (const Poco::Exception& e) {
    return fieldagent::makeError("transport_failed", "malformed response head: " + e.displayText());
  }
  fieldagent::platform::HttpResponse response;
  // The status as Poco read it (the second word of the status line, which Poco just accepted
  // as a number of at most 3 digits), not through res.getStatus(): Poco returns it as an enum
  // declared up to 511, and a "600" there is undefined behaviour that both g++'s and clang's
  // UBSan report (PocoHttpExchange has it too; see docs/reliability.md).
  {
    std::istringstream statusLine(raw.substr(0, raw.find('\n')));
    std::string version, code;
    statusLine >> version >> code;
    response.status = static_cast<int>(std::strtol(code.c_str(), nullptr, 10));
  }
  response.reason = res.getReason();
  for (const auto& [name, value] : res) response.headers.emplace_back(name, value);
  std::ostringstream rest;
  rest << in.rdbuf();
  response.body = rest.str();
  return response;
}

// Plays back answers in order; once they run out every request fails as a transport error
// (the network went away), so every loop in the code under test must end.
class ScriptedExchange final : public fieldagent::platform::HttpExchange {
 public:
  void script(const std::vector<std::string>& rawResponses) {
    answers_.assign(rawResponses.begin(), rawResponses.end());
    requests_ = 0;
  }
  fieldagent::Result<fieldagent::platform::HttpResponse> exchange(
      const fieldagent::platform::HttpRequest& request) override {
    ++requests_;
    last_ = request;
    if (answers_.empty()) return fieldagent::makeError("transport_failed", request.method + " " + request.url + ": offline");
    std::string raw = std::move(answers_.front());
    answers_.pop_front();
    return parseResponse(raw);
  }
  int requests() const { return requests_; }
  const fieldagent::platform::HttpRequest& last() const { return last_; }

 private:
  std::deque<std::string> answers_;
  int requests_ = 0;
  fieldagent::platform::HttpRequest last_;
};

// Logging off: the code under test logs what it refuses, which would drown libFuzzer's output.
inline void quietLogs() { Poco::Logger::root().setLevel(0); }

// A fresh scratch folder for one fuzzer process: /dev/shm when it exists (SQLite and file
// writes at memory speed), else the temp folder.
// Folders of earlier runs whose process is gone (a crash ends a run without its cleanup) are
// removed first; this run's folder goes when the process exits.
inline std::filesystem::path scratchDir(const char* name) {
  std::filesystem::path base = std::filesystem::exists("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                    : std::filesystem::temp_directory_path();
  const std::string prefix = std::string("fieldagent-") + name + "-";
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(base, ignored)) {
    const std::string leaf = entry.path().filename().string();
    if (leaf.rfind(prefix, 0) != 0) continue;
    const std::string pid = leaf.substr(prefix.size());
    if (!pid.empty() && !std::filesystem::exists("/proc/" + pid)) std::filesystem::remove_all(entry.path(), ignored);
  }
  // scripts/fuzz --runs names the folder itself: a path with the pid in it would be compared
  // (and learnt from) by the fuzzer, and the same seed would try other inputs on every run.
  const char* fixed = std::getenv("FIELDAGENT_FUZZ_SCRATCH");
  auto dir = fixed && *fixed ? std::filesystem::path(fixed) / name : base / (prefix + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  static std::filesystem::path atExit;
  atExit = dir;
  std::atexit([] {
    std::error_code e;
    std::filesystem::remove_all(atExit, e);
  });
  return dir;
}

// Removes the scratch folder when the fuzzer process ends.
struct ScratchCleanup {
  std::filesystem::path dir;
  ~ScratchCleanup() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

}  // namespace fuzz
