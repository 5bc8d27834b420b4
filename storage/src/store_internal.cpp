#include "store_internal.hpp"

#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/encoding.hpp"

namespace fieldagent::storage::detail {

std::optional<std::int64_t> isoFieldMillis(const Json& doc, const char* field) {
  const auto it = doc.find(field);
  if (it == doc.end() || !it->is_string()) return std::nullopt;
  WallTime t;
  if (!platform::parseIso8601(it->get<std::string>(), t)) return std::nullopt;
  return toMillis(t);
}

std::string stringField(const Json& doc, const char* field) {
  const auto it = doc.find(field);
  if (it == doc.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

Result<Json> parseStored(const std::string& text, std::string_view what) {
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return makeError("corrupt", "stored " + std::string(what) + " is not valid JSON");
  return parsed;
}

std::string randomHex(platform::Entropy& entropy, std::size_t bytes) {
  return platform::hexEncode(entropy.bytes(bytes));
}

}  // namespace fieldagent::storage::detail
