#pragma once
// The apps' Idempotency-Key: the same key with the same request gets the first answer again and
// nothing is written twice; the same key with another request is refused (422), as upstream
// does. Kept in <dataDir>/app-idempotency.json so a retry across an agent restart is still
// recognised. Not locked: its callers hold the agent's write lock.
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldagent::agent {

class AppIdempotency {
 public:
  struct Entry {
    std::string requestHash;
    int status = 202;
    nlohmann::json body;
  };

  explicit AppIdempotency(std::filesystem::path file);
  std::optional<Entry> find(const std::string& key) const;
  // Remembers `entry` under `key` (forgetting the oldest past the cap) and writes the file.
  void remember(const std::string& key, Entry entry);

 private:
  std::filesystem::path file_;
  std::vector<std::string> order_;
  std::map<std::string, Entry> entries_;
};

}  // namespace fieldagent::agent
