#include "progress_meter.hpp"

#include <algorithm>

#include "fieldagent/agent/tuning.hpp"
#include "fieldagent/platform/http_transport.hpp"

namespace fieldagent::agent {

using nlohmann::json;

ProgressMeter::ProgressMeter(std::unique_ptr<platform::HttpExchange> inner, EventBus& events, platform::Clock& clock)
    : inner_(std::move(inner)), events_(events), clock_(clock) {}

Result<platform::HttpResponse> ProgressMeter::exchange(const platform::HttpRequest& request) {
  auto answer = inner_->exchange(request);
  if (answer && answer->status < 400) note(request, *answer);
  return answer;
}

void ProgressMeter::begin(const std::string& phase) {
  std::lock_guard lock(mutex_);
  phase_ = phase;
  counts_ = json{{"pages", 0},      {"pagesTotal", 0},    {"workOrders", 0},      {"reference", 0},
                 {"operations", 0}, {"uploadedBytes", 0}, {"uploadBytesTotal", 0}};
}

void ProgressMeter::note(const platform::HttpRequest& request, const platform::HttpResponse& response) {
  auto split = platform::splitUrl(request.url);
  if (!split) return;
  std::string path = split->second.substr(0, split->second.find('?'));
  std::lock_guard lock(mutex_);
  if (phase_.empty()) return;
  bool always = false;
  const auto at = path.rfind("/work-orders");
  const std::string rest = at == std::string::npos ? std::string() : path.substr(at + 12);
  const auto add = [&](const char* key, std::int64_t n) { counts_[key] = counts_[key].get<std::int64_t>() + n; };
  if (request.method == "GET" && at != std::string::npos && rest.empty()) {
    add("pages", 1);
    const auto read = counts_["pages"].get<std::int64_t>();
    // The first page announces how many there are; a window read again (its total moved)
    // counts its pages on top of those read before. Only those pages are parsed twice.
    if (read == 1 || counts_["pagesTotal"].get<std::int64_t>() < read) {
      const json page = json::parse(response.body, nullptr, false);
      if (page.is_object() && page.contains("total") && page["total"].is_number_integer()) {
        const auto total = page["total"].get<std::int64_t>();
        const auto size = std::max<std::int64_t>(1, page.value("pageSize", std::int64_t{1}));
        counts_["pagesTotal"] = read - 1 + std::max<std::int64_t>(1, (total + size - 1) / size);
      }
    }
    always = true;
  } else if (request.method == "GET" && at != std::string::npos && rest.size() > 1 &&
             rest.find('/', 1) == std::string::npos) {
    add("workOrders", 1);
  } else if (request.method == "GET") {
    add("reference", 1);
  } else if (request.method == "POST" && at != std::string::npos) {
    // status, consumptions, assignments, attachments: one operation each; not the upload's
    // own follow-ups (upload-url, complete).
    const auto slash = rest.find('/', 1);
    const std::string what = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
    if (what == "status" || what == "consumptions" || what == "assignments" || what == "attachments") {
      add("operations", 1);
      always = true;
      if (what == "attachments") {
        const json body = json::parse(request.body, nullptr, false);
        if (body.is_object() && body.contains("sizeBytes") && body["sizeBytes"].is_number_integer())
          add("uploadBytesTotal", body["sizeBytes"].get<std::int64_t>());
      }
    }
  } else if (request.method == "PATCH" && at == std::string::npos) {
    add("uploadedBytes", static_cast<std::int64_t>(request.body.size()));  // a tus chunk
    always = true;
  }
  const auto now = clock_.monotonic();
  if (!always && now - lastEvent_ < tuning::kProgressEvery) return;
  lastEvent_ = now;
  json data = counts_;
  data["phase"] = "progress";
  data["step"] = phase_;
  events_.publish("sync", std::move(data));
}

}  // namespace fieldagent::agent
