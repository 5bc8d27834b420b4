#include "fieldagent/platform/keystore.hpp"

#include <sys/stat.h>

#include "fieldagent/platform/files.hpp"

namespace fieldagent::platform {

FileKeyStore::FileKeyStore(std::filesystem::path file, Entropy& entropy) : file_(std::move(file)), entropy_(entropy) {}

Result<std::string> FileKeyStore::dataKey() {
  auto existing = fs::readFile(file_, 4096);
  if (existing) {
    if (existing->size() != kAesKeyBytes) {
      // Never replace a key silently: everything encrypted under it would be lost.
      return makeError("corrupt", "key file " + file_.string() + " holds " + std::to_string(existing->size()) +
                                      " bytes, not a 32-byte key; restore it or move it away");
    }
    struct stat st {};
    if (::stat(file_.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      return makeError("insecure", "key file " + file_.string() + " is readable by others; chmod 600 it");
    }
    return std::move(existing).value();
  }
  if (existing.error().code != "not_found") return existing.error();
  std::string key = entropy_.bytes(kAesKeyBytes);
  if (auto dir = fs::ensureDir(file_.parent_path().empty() ? "." : file_.parent_path(), 0700); !dir) {
    return dir.error();
  }
  if (auto written = fs::atomicWrite(file_, key, 0600); !written) return written.error();
  return key;
}

}  // namespace fieldagent::platform
