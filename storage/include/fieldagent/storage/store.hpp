#pragma once
// The offline store: one SQLite database (WAL) beside an attachments folder, holding the
// technician's work orders, reference data, the outbox, attachments and conflicts. The Store
// opens the database and hands out its parts (workOrders(), localWrites(), referenceData(),
// outbox(), conflicts(), attachments(), syncState()), which share its one connection and lock.
// Every call is one transaction; a local write (cache change + outbox rows) is one call, so
// nobody can do half of it. Thread-safe (see docs/storage.md for why one connection).
#include <filesystem>
#include <memory>

#include "fieldagent/platform/clock.hpp"
#include "fieldagent/platform/crypto.hpp"
#include "fieldagent/platform/keystore.hpp"
#include "fieldagent/platform/result.hpp"
#include "fieldagent/storage/attachments.hpp"
#include "fieldagent/storage/conflicts.hpp"
#include "fieldagent/storage/local_writes.hpp"
#include "fieldagent/storage/outbox.hpp"
#include "fieldagent/storage/records.hpp"
#include "fieldagent/storage/reference_data.hpp"
#include "fieldagent/storage/sync_state.hpp"
#include "fieldagent/storage/tuning.hpp"
#include "fieldagent/storage/work_orders.hpp"

namespace fieldagent::storage {

enum class Durability {
  full,    // synchronous=FULL: a returned commit survives a power cut (the default)
  normal,  // synchronous=NORMAL: a power cut may lose the last commits, never corrupts
};

struct StoreOptions {
  std::filesystem::path dataDir;  // holds fieldagent.db and attachments/; created 0700 if missing
  std::uint64_t attachmentQuotaBytes = tuning::kDefaultAttachmentQuotaBytes;
  Durability durability = Durability::full;
};

class Store {
 public:
  // Opens (creating if needed) <dataDir>/fieldagent.db, applies pending migrations, puts
  // operations that were in flight when the agent died back to pending, and sweeps attachment
  // files that no write recorded. Errors: "schema_too_new", "corrupt", "io", "no_space", "busy",
  // and the key store's own ("corrupt", "insecure") when the data key cannot be had.
  static Result<std::unique_ptr<Store>> open(StoreOptions options, platform::Clock& clock, platform::Entropy& entropy,
                                             platform::KeyStore& keys);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  int schemaVersion() const;
  std::filesystem::path databasePath() const;
  std::filesystem::path attachmentsDir() const;

  WorkOrders& workOrders() { return workOrders_; }
  LocalWrites& localWrites() { return localWrites_; }
  ReferenceData& referenceData() { return referenceData_; }
  Outbox& outbox() { return outbox_; }
  Conflicts& conflicts() { return conflicts_; }
  Attachments& attachments() { return attachments_; }
  SyncState& syncState() { return syncState_; }

 private:
  explicit Store(std::unique_ptr<detail::StoreCore> core);

  std::unique_ptr<detail::StoreCore> core_;
  WorkOrders workOrders_;
  LocalWrites localWrites_;
  ReferenceData referenceData_;
  Outbox outbox_;
  Conflicts conflicts_;
  Attachments attachments_;
  SyncState syncState_;
};

}  // namespace fieldagent::storage
