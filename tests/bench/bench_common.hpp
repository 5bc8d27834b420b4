#pragma once
// Shared by the benchmark programs: figure lines for scripts/bench, timing, memory readings of
// /proc, percentiles, a keep-alive HTTP client, and the sync layer wired as the agent wires it.
// Benchmarks measure and print; they fail (exit non-zero) only when something errs, never on a
// timing.
#include <sys/resource.h>
#include <unistd.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldagent::bench {

using nlohmann::json;

// One row of the results table. `better` is "lower" (times, bytes) or "higher" (throughput);
// the ratio scripts/bench prints is how many times worse ours is than the baseline (1.0 = equal,
// below 1 = ours is better). A baseline of null means the figure has none.
inline void emit(const std::string& figure, const std::string& unit, double ours, const json& baseline,
                 const std::string& better = "lower", const std::string& note = "") {
  json line = {{"figure", figure}, {"unit", unit}, {"ours", ours}, {"baseline", baseline}, {"better", better}};
  if (!note.empty()) line["note"] = note;
  std::printf("BENCH %s\n", line.dump().c_str());
  std::fflush(stdout);
}

inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A field of /proc/<pid>/status in kB ("VmHWM", "VmRSS"); -1 when unreadable.
inline long long procStatusKb(const std::string& pid, const std::string& field) {
  std::ifstream in("/proc/" + pid + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1));
  }
  return -1;
}
inline long long selfPeakRssKb() { return procStatusKb("self", "VmHWM"); }
inline long long rssKb(pid_t pid) { return procStatusKb(std::to_string(pid), "VmRSS"); }

inline double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

// User + system CPU time this process has used, in seconds.
inline double selfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

inline long long directoryBytes(const std::string& dir) {
  long long total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); it != std::filesystem::end(it);
       it.increment(ec)) {
    if (it->is_regular_file(ec)) total += static_cast<long long>(it->file_size(ec));
  }
  return total;
}

struct Reply {
  int status = 0;
  std::string body;
};

// One keep-alive connection, as a minimal client would use it.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(const std::string& baseUrl) {
    Poco::URI uri(baseUrl);
    prefix_ = uri.getPath();
    session_ = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    session_->setKeepAlive(true);
    session_->setTimeout(Poco::Timespan(120, 0));
  }
  // `path` is relative to the base URL and may carry a query.
  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::map<std::string, std::string>& headers = {}) {
    Poco::Net::HTTPRequest request(method, prefix_ + path, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setKeepAlive(true);
    for (const auto& [k, v] : headers) request.set(k, v);
    if (!body.empty() || method == "POST") {
      request.setContentLength(static_cast<std::streamsize>(body.size()));
      if (!body.empty()) request.setContentType("application/json");
    }
    std::ostream& os = session_->sendRequest(request);
    os.write(body.data(), static_cast<std::streamsize>(body.size()));
    Poco::Net::HTTPResponse response;
    std::istream& is = session_->receiveResponse(response);
    Reply reply;
    Poco::StreamCopier::copyToString(is, reply.body);
    reply.status = static_cast<int>(response.getStatus());
    return reply;
  }

 private:
  std::string prefix_;
  std::unique_ptr<Poco::Net::HTTPClientSession> session_;
};

// "--name value" options; flags without a value are "1".
class Args {
 public:
  Args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) throw std::runtime_error("unexpected argument " + a);
      if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
        values_[a.substr(2)] = argv[++i];
      } else {
        values_[a.substr(2)] = "1";
      }
    }
  }
  std::string get(const std::string& name, const std::string& fallback = "") const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  int integer(const std::string& name, int fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : std::stoi(it->second);
  }
  bool has(const std::string& name) const { return values_.count(name) > 0; }

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace fieldagent::bench
