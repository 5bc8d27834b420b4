#include "api/app_idempotency.hpp"

#include "fieldagent/agent/tuning.hpp"
#include "fieldagent/platform/files.hpp"

namespace fieldagent::agent {

using nlohmann::json;

AppIdempotency::AppIdempotency(std::filesystem::path file) : file_(std::move(file)) {
  if (auto text = platform::fs::readFile(file_); text) {
    json doc = json::parse(*text, nullptr, false);
    if (doc.is_array()) {
      for (const auto& e : doc) {
        if (!e.is_object() || !e.contains("key") || !e["key"].is_string()) continue;
        order_.push_back(e["key"]);
        entries_[e["key"]] = {e.value("requestHash", ""), e.value("status", 202), e.value("body", json())};
      }
    }
  }
}

std::optional<AppIdempotency::Entry> AppIdempotency::find(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void AppIdempotency::remember(const std::string& key, Entry entry) {
  if (!entries_.count(key)) order_.push_back(key);
  entries_[key] = std::move(entry);
  while (order_.size() > tuning::kIdempotencyEntries) {
    entries_.erase(order_.front());
    order_.erase(order_.begin());
  }
  json doc = json::array();
  for (const auto& k : order_) {
    const auto& e = entries_[k];
    doc.push_back({{"key", k}, {"requestHash", e.requestHash}, {"status", e.status}, {"body", e.body}});
  }
  (void)platform::fs::atomicWrite(file_, doc.dump(), 0600);
}

}  // namespace fieldagent::agent
