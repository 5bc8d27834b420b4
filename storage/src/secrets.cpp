#include "fieldagent/storage/secrets.hpp"

#include <nlohmann/json.hpp>

#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/logging.hpp"

namespace fieldagent::storage {
namespace {

// File layout: magic (8) | nonce (12) | AES-256-GCM(JSON object of name -> value) || tag.
// The magic is the associated data, so a file of another format or version fails the check.
constexpr std::string_view kMagic{"FASEC\x01\x00\x00", 8};

void redact(const std::string& value) {
  if (auto redactor = platform::logRedactor()) redactor->addSecret(value);
}

}  // namespace

SecretStore::SecretStore(std::filesystem::path file, std::string key, platform::Entropy& entropy)
    : file_(std::move(file)), key_(std::move(key)), entropy_(entropy) {}

Result<std::unique_ptr<SecretStore>> SecretStore::open(std::filesystem::path file, platform::KeyStore& keys,
                                                       platform::Entropy& entropy) {
  auto key = keys.dataKey();
  if (!key) return key.error();
  std::unique_ptr<SecretStore> store(new SecretStore(std::move(file), std::move(key).value(), entropy));
  auto bytes = platform::fs::readFile(store->file_, 1u << 20);
  if (!bytes) {
    if (bytes.error().code == "not_found") return store;
    return bytes.error();
  }
  const std::string_view raw = *bytes;
  const std::string where = "secrets file " + store->file_.string();
  if (raw.size() < kMagic.size() + platform::kGcmNonceBytes + platform::kGcmTagBytes ||
      raw.substr(0, kMagic.size()) != kMagic) {
    return makeError("corrupt", where + " is not a sealed secrets file; move it away to start over");
  }
  auto plain = platform::aesGcmOpen(store->key_, raw.substr(kMagic.size(), platform::kGcmNonceBytes),
                                    raw.substr(kMagic.size() + platform::kGcmNonceBytes), kMagic);
  if (!plain) {
    return makeError("corrupt", where + " fails its integrity check: damaged, or sealed under another data key");
  }
  const auto parsed = nlohmann::json::parse(*plain, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return makeError("corrupt", where + " holds no secrets object");
  for (const auto& [name, value] : parsed.items()) {
    if (!value.is_string()) return makeError("corrupt", where + " holds a non-text value for " + name);
    store->values_[name] = value.get<std::string>();
    redact(store->values_[name]);
  }
  return store;
}

Result<std::optional<std::string>> SecretStore::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  const auto it = values_.find(name);
  if (it == values_.end()) return std::optional<std::string>{};
  return std::optional<std::string>{it->second};
}

Result<void> SecretStore::put(const std::string& name, const std::string& value) {
  redact(value);
  std::lock_guard lock(mutex_);
  auto next = values_;
  next[name] = value;
  if (auto r = save(next); !r) return r;
  values_ = std::move(next);
  return {};
}

Result<void> SecretStore::erase(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (!values_.count(name)) return {};
  auto next = values_;
  next.erase(name);
  if (auto r = save(next); !r) return r;
  values_ = std::move(next);
  return {};
}

std::vector<std::string> SecretStore::names() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [name, value] : values_) out.push_back(name);
  return out;
}

Result<void> SecretStore::save(const std::map<std::string, std::string>& values) {
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [name, value] : values) doc[name] = value;
  // A fresh random nonce per save: the key is long-lived and GCM must never see a nonce twice.
  const std::string nonce = entropy_.bytes(platform::kGcmNonceBytes);
  auto sealed = platform::aesGcmSeal(key_, nonce, doc.dump(), kMagic);
  if (!sealed) return sealed.error();
  std::string out(kMagic);
  out += nonce;
  out += *sealed;
  return platform::fs::atomicWrite(file_, out, 0600);
}

}  // namespace fieldagent::storage
