#include "powercut_vfs.hpp"

#include <sqlite3.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace fieldagent::testing::powercut {
namespace {

struct Change {
  bool truncate = false;
  sqlite3_int64 offset = 0;  // write: where; truncate: the new size
  std::string bytes;         // write: what was written
  std::string replaced;      // write: the bytes it covered (up to the old size); truncate: the cut-off tail
  sqlite3_int64 oldSize = 0;
};

struct Tracked {
  std::vector<Change> unsynced;
};

struct State {
  std::recursive_mutex mutex;
  std::map<std::string, Tracked> files;  // by full path
  std::function<void(std::uint64_t, bool)> hook;
  std::uint64_t operations = 0;
  bool inHook = false;
  sqlite3_vfs* real = nullptr;
  sqlite3_vfs vfs{};
  sqlite3_io_methods methods{};
};

State& state() {
  static State s;
  return s;
}

struct ShimFile {
  sqlite3_file base;
  sqlite3_file* real;
  std::string* path;  // null: not tracked (temp files)
  bool wal;
};

sqlite3_file* real(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f)->real; }

void before(ShimFile* f, bool walSync) {
  auto& s = state();
  ++s.operations;
  if (s.hook && !s.inHook) {
    s.inHook = true;
    s.hook(s.operations, walSync);
    s.inHook = false;
  }
  (void)f;
}

int xClose(sqlite3_file* f) {
  auto* shim = reinterpret_cast<ShimFile*>(f);
  const int rc = shim->real->pMethods ? shim->real->pMethods->xClose(shim->real) : SQLITE_OK;
  delete shim->path;
  shim->path = nullptr;
  return rc;
}
int xRead(sqlite3_file* f, void* out, int amount, sqlite3_int64 offset) {
  return real(f)->pMethods->xRead(real(f), out, amount, offset);
}
int xWrite(sqlite3_file* f, const void* in, int amount, sqlite3_int64 offset) {
  auto* shim = reinterpret_cast<ShimFile*>(f);
  if (shim->path == nullptr) return real(f)->pMethods->xWrite(real(f), in, amount, offset);
  auto& s = state();
  std::lock_guard lock(s.mutex);
  before(shim, false);
  Change c;
  c.offset = offset;
  c.bytes.assign(static_cast<const char*>(in), static_cast<std::size_t>(amount));
  if (int rc = real(f)->pMethods->xFileSize(real(f), &c.oldSize); rc != SQLITE_OK) return rc;
  if (offset < c.oldSize) {
    const auto covered = static_cast<int>(std::min<sqlite3_int64>(amount, c.oldSize - offset));
    c.replaced.resize(static_cast<std::size_t>(covered));
    const int rc = real(f)->pMethods->xRead(real(f), c.replaced.data(), covered, offset);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  }
  const int rc = real(f)->pMethods->xWrite(real(f), in, amount, offset);
  if (rc == SQLITE_OK) s.files[*shim->path].unsynced.push_back(std::move(c));
  return rc;
}
int xTruncate(sqlite3_file* f, sqlite3_int64 size) {
  auto* shim = reinterpret_cast<ShimFile*>(f);
  if (shim->path == nullptr) return real(f)->pMethods->xTruncate(real(f), size);
  auto& s = state();
  std::lock_guard lock(s.mutex);
  before(shim, false);
  Change c;
  c.truncate = true;
  c.offset = size;
  if (int rc = real(f)->pMethods->xFileSize(real(f), &c.oldSize); rc != SQLITE_OK) return rc;
  if (size < c.oldSize) {
    c.replaced.resize(static_cast<std::size_t>(c.oldSize - size));
    const int rc = real(f)->pMethods->xRead(real(f), c.replaced.data(), static_cast<int>(c.replaced.size()), size);
    if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  }
  const int rc = real(f)->pMethods->xTruncate(real(f), size);
  if (rc == SQLITE_OK) s.files[*shim->path].unsynced.push_back(std::move(c));
  return rc;
}
int xSync(sqlite3_file* f, int flags) {
  auto* shim = reinterpret_cast<ShimFile*>(f);
  if (shim->path == nullptr) return real(f)->pMethods->xSync(real(f), flags);
  auto& s = state();
  std::lock_guard lock(s.mutex);
  before(shim, shim->wal);
  const int rc = real(f)->pMethods->xSync(real(f), flags);
  // Only a sync that returned makes the file's writes durable.
  if (rc == SQLITE_OK) s.files[*shim->path].unsynced.clear();
  return rc;
}
int xFileSize(sqlite3_file* f, sqlite3_int64* size) { return real(f)->pMethods->xFileSize(real(f), size); }
int xLock(sqlite3_file* f, int level) { return real(f)->pMethods->xLock(real(f), level); }
int xUnlock(sqlite3_file* f, int level) { return real(f)->pMethods->xUnlock(real(f), level); }
int xCheckReservedLock(sqlite3_file* f, int* out) { return real(f)->pMethods->xCheckReservedLock(real(f), out); }
int xFileControl(sqlite3_file* f, int op, void* arg) { return real(f)->pMethods->xFileControl(real(f), op, arg); }
int xSectorSize(sqlite3_file* f) { return real(f)->pMethods->xSectorSize(real(f)); }
int xDeviceCharacteristics(sqlite3_file* f) { return real(f)->pMethods->xDeviceCharacteristics(real(f)); }
int xShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return real(f)->pMethods->xShmMap(real(f), page, size, extend, out);
}
int xShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return real(f)->pMethods->xShmLock(real(f), offset, n, flags);
}
void xShmBarrier(sqlite3_file* f) { real(f)->pMethods->xShmBarrier(real(f)); }
int xShmUnmap(sqlite3_file* f, int deleteFlag) { return real(f)->pMethods->xShmUnmap(real(f), deleteFlag); }
int xFetch(sqlite3_file* f, sqlite3_int64 offset, int amount, void** out) {
  return real(f)->pMethods->xFetch(real(f), offset, amount, out);
}
int xUnfetch(sqlite3_file* f, sqlite3_int64 offset, void* p) { return real(f)->pMethods->xUnfetch(real(f), offset, p); }

int xOpen(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* f, int flags, int* outFlags) {
  auto& s = state();
  auto* shim = reinterpret_cast<ShimFile*>(f);
  shim->base.pMethods = nullptr;
  shim->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + sizeof(ShimFile));
  shim->path = nullptr;
  shim->wal = (flags & SQLITE_OPEN_WAL) != 0;
  (void)vfs;
  const int rc = s.real->xOpen(s.real, name, shim->real, flags, outFlags);
  if (rc != SQLITE_OK) return rc;
  if (name != nullptr && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0)
    shim->path = new std::string(name);
  shim->base.pMethods = &s.methods;
  return SQLITE_OK;
}
int xDelete(sqlite3_vfs*, const char* name, int syncDir) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.files.erase(name);
  return s.real->xDelete(s.real, name, syncDir);
}
int xAccess(sqlite3_vfs*, const char* name, int flags, int* out) { return state().real->xAccess(state().real, name, flags, out); }
int xFullPathname(sqlite3_vfs*, const char* name, int n, char* out) {
  return state().real->xFullPathname(state().real, name, n, out);
}
void* xDlOpen(sqlite3_vfs*, const char* name) { return state().real->xDlOpen(state().real, name); }
void xDlError(sqlite3_vfs*, int n, char* out) { state().real->xDlError(state().real, n, out); }
void (*xDlSym(sqlite3_vfs*, void* h, const char* sym))(void) { return state().real->xDlSym(state().real, h, sym); }
void xDlClose(sqlite3_vfs*, void* h) { state().real->xDlClose(state().real, h); }
int xRandomness(sqlite3_vfs*, int n, char* out) { return state().real->xRandomness(state().real, n, out); }
int xSleep(sqlite3_vfs*, int us) { return state().real->xSleep(state().real, us); }
int xCurrentTime(sqlite3_vfs*, double* out) { return state().real->xCurrentTime(state().real, out); }
int xGetLastError(sqlite3_vfs*, int n, char* out) { return state().real->xGetLastError(state().real, n, out); }
int xCurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* out) { return state().real->xCurrentTimeInt64(state().real, out); }

std::string readWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

void install() {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  if (s.real != nullptr) return;
  s.real = sqlite3_vfs_find("unix");
  if (s.real == nullptr) throw std::runtime_error("no unix VFS");
  s.methods = sqlite3_io_methods{3,        xClose,   xRead,         xWrite,     xTruncate,
                                 xSync,    xFileSize, xLock,        xUnlock,    xCheckReservedLock,
                                 xFileControl, xSectorSize, xDeviceCharacteristics, xShmMap, xShmLock,
                                 xShmBarrier, xShmUnmap, xFetch,    xUnfetch};
  s.vfs = *s.real;
  s.vfs.iVersion = 2;
  s.vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + s.real->szOsFile;
  s.vfs.zName = "powercut";
  s.vfs.pAppData = nullptr;
  s.vfs.pNext = nullptr;
  s.vfs.xOpen = xOpen;
  s.vfs.xDelete = xDelete;
  s.vfs.xAccess = xAccess;
  s.vfs.xFullPathname = xFullPathname;
  s.vfs.xDlOpen = xDlOpen;
  s.vfs.xDlError = xDlError;
  s.vfs.xDlSym = xDlSym;
  s.vfs.xDlClose = xDlClose;
  s.vfs.xRandomness = xRandomness;
  s.vfs.xSleep = xSleep;
  s.vfs.xCurrentTime = xCurrentTime;
  s.vfs.xGetLastError = xGetLastError;
  s.vfs.xCurrentTimeInt64 = xCurrentTimeInt64;
  if (sqlite3_vfs_register(&s.vfs, 1) != SQLITE_OK) throw std::runtime_error("cannot register the powercut VFS");
}

void onOperation(std::function<void(std::uint64_t, bool)> hook) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.hook = std::move(hook);
}

std::uint64_t operations() {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  return s.operations;
}

void reset() {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  s.files.clear();
  s.operations = 0;
}

void snapshot(const std::filesystem::path& from, const std::filesystem::path& to, double keepShare,
              std::mt19937& dice) {
  auto& s = state();
  std::lock_guard lock(s.mutex);
  std::filesystem::create_directories(to);
  std::bernoulli_distribution keep(keepShare);
  for (const auto& entry : std::filesystem::directory_iterator(from)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.substr(name.size() - 4) == "-shm") continue;  // rebuilt at open
    std::string image = readWhole(entry.path());
    auto tracked = s.files.find(std::filesystem::absolute(entry.path()).string());
    if (tracked != s.files.end()) {
      const auto& changes = tracked->second.unsynced;
      // Back to the bytes of the last sync...
      for (auto c = changes.rbegin(); c != changes.rend(); ++c) {
        if (c->truncate) {
          image.resize(static_cast<std::size_t>(c->offset));
          image += c->replaced;
        } else {
          if (!c->replaced.empty()) image.replace(static_cast<std::size_t>(c->offset), c->replaced.size(), c->replaced);
          image.resize(static_cast<std::size_t>(c->oldSize));
        }
      }
      // ...then the unsynced changes the disk happened to get.
      for (const auto& c : changes) {
        if (!keep(dice)) continue;
        if (c.truncate) {
          image.resize(static_cast<std::size_t>(c.offset));
        } else {
          const auto end = static_cast<std::size_t>(c.offset) + c.bytes.size();
          if (image.size() < end) image.resize(end);
          image.replace(static_cast<std::size_t>(c.offset), c.bytes.size(), c.bytes);
        }
      }
    }
    std::ofstream(to / name, std::ios::binary) << image;
  }
}

}  // namespace fieldagent::testing::powercut
