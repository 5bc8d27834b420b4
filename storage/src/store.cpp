#include "fieldagent/storage/store.hpp"

#include <set>
#include <string>
#include <utility>

#include "fieldagent/platform/files.hpp"
#include "fieldagent/platform/staged_file.hpp"
#include "fieldagent/storage/schema.hpp"
#include "schema.hpp"
#include "store_internal.hpp"

namespace fieldagent::storage {

// ---- opening ---------------------------------------------------------------------------------

Store::Store(std::unique_ptr<detail::StoreCore> core)
    : core_(std::move(core)),
      workOrders_(*core_),
      localWrites_(*core_),
      referenceData_(*core_),
      outbox_(*core_),
      conflicts_(*core_),
      attachments_(*core_),
      syncState_(*core_) {
  core_->quota->limit = core_->options.attachmentQuotaBytes;
}

Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(StoreOptions options, platform::Clock& clock, platform::Entropy& entropy,
                                           platform::KeyStore& keys) {
  if (options.dataDir.empty()) return makeError("invalid", "the store needs a data folder");
  if (auto r = platform::fs::ensureDir(options.dataDir, 0700); !r) return r.error();
  if (auto r = platform::fs::ensureDir(options.dataDir / detail::kAttachmentsFolder, 0700); !r) return r.error();
  auto key = keys.dataKey();
  if (!key) return key.error();

  const auto path = options.dataDir / detail::kDatabaseFile;
  auto db = Database::open(path);
  if (!db) return db.error();
  {
    // The first statement that reads the file: a file that is not a database fails here.
    auto mode = (*db)->prepare("PRAGMA journal_mode = WAL");
    if (!mode) return makeError(mode.error().code, path.string() + ": " + mode.error().message);
    auto row = mode->step();
    if (!row) return makeError(row.error().code, path.string() + ": " + row.error().message);
    if (!*row || mode->text(0) != "wal") {
      return makeError("io", path.string() + ": the file system refused WAL mode (" + mode->text(0) + ")");
    }
  }
  const std::string pragmas =
      std::string("PRAGMA synchronous = ") + (options.durability == Durability::full ? "FULL" : "NORMAL") +
      "; PRAGMA foreign_keys = ON; PRAGMA wal_autocheckpoint = " + std::to_string(tuning::kWalAutocheckpointPages) +
      "; PRAGMA cache_size = " + std::to_string(-tuning::kPageCacheKiB) + "; PRAGMA trusted_schema = OFF";
  if (auto r = (*db)->exec(pragmas); !r) return makeError(r.error().code, path.string() + ": " + r.error().message);
  auto version = migrate(**db, kSchemaVersion, path.string());
  if (!version) return version.error();

  auto core = std::unique_ptr<detail::StoreCore>(
      new detail::StoreCore{std::move(options), clock, entropy, std::move(key).value(), std::move(*db)});
  std::unique_ptr<Store> store(new Store(std::move(core)));
  detail::StoreCore& shared = *store->core_;
  // An operation in flight when the agent died may or may not have reached upstream; it goes
  // again with the same idempotency key, so upstream applies it at most once.
  if (auto r = shared.transact([](Database& d, std::int64_t now) {
        return d.run(
            "UPDATE outbox SET state = 'pending', updated_at = ?1 "
            "WHERE state IN ('in_flight', 'conflict', 'rejected') AND state = 'in_flight'",  // via outbox_parked
            now);
      });
      !r) {
    return r.error();
  }

  // Attachment files that no committed write recorded (a crash between writing the file and
  // recording it, or a capture abandoned half way) are removed; recorded ones are counted.
  auto onDevice = shared.db().query("SELECT id, size_bytes FROM attachments WHERE on_device = 1");
  if (!onDevice) return onDevice.error();
  auto files = onDevice->rows([](Statement& row) { return std::pair{row.text(0), row.integer(1)}; });
  if (!files) return files.error();
  std::set<std::string> recorded;
  for (const auto& [id, bytes] : *files) {
    recorded.insert(id);
    shared.quota->recorded += static_cast<std::uint64_t>(bytes);
  }
  const auto folder = shared.attachmentsDir();
  auto names = platform::fs::listFiles(folder);
  if (!names) return names.error();
  for (const auto& name : *names) {
    const auto dot = name.find('.');
    const bool keep = dot != std::string::npos && name.substr(dot) == ".att" && recorded.count(name.substr(0, dot));
    if (!keep) {
      if (auto r = platform::fs::removeFile(folder / name); !r) return r.error();
    }
  }
  return store;
}

int Store::schemaVersion() const { return kSchemaVersion; }
std::filesystem::path Store::databasePath() const { return core_->options.dataDir / detail::kDatabaseFile; }
std::filesystem::path Store::attachmentsDir() const { return core_->attachmentsDir(); }

}  // namespace fieldagent::storage
