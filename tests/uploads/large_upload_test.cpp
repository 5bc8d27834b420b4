// The acceptance on a 50 MB photo: the link cut at random points (mid-body and after
// the body), the upload resumed rather than restarted, and the agent's memory flat meanwhile.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>

#include "upload_rig.hpp"

// ASan keeps freed blocks in a quarantine (256 MB by default) that would read as growth of the
// process; a small one keeps the RSS figures about the uploader, not the sanitizer.
extern "C" const char* __asan_default_options() { return "quarantine_size_mb=8"; }

using namespace fieldagent;
using fieldagent::testing::PatternSource;
using fieldagent::testing::TapAction;
using fieldagent::testing::UploadRig;

namespace {

// kB from /proc/self/status ("VmHWM", "VmRSS").
long statusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// Resets the high-water mark so the next reading covers only what follows.
void resetPeak() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
}

}  // namespace

TEST_CASE("a 50 MB photo cut at random points at least 10 times resumes to the right SHA-256 under 1.2x bytes") {
  constexpr std::uint64_t kSize = 50ull << 20;
  UploadRig rig({"--max-chunk-bytes", "4194304"});
  PatternSource source(kSize, 2024);
  const std::string id = rig.capturePhoto(std::ref(source));
  const std::string expected = source.sha256Hex();

  // 12 of the first 50 PATCHes are cut: half mid-body at a random byte, half after the whole
  // body went out (the answer is lost). The simulator drops a share of answers on its own too.
  std::mt19937_64 random(77);
  std::set<int> cutAt;
  while (cutAt.size() < 12) cutAt.insert(static_cast<int>(random() % 50) + 1);
  rig.tap.decide = [&](const platform::HttpRequest& r, int patch) {
    if (!cutAt.count(patch)) return TapAction{};
    if (patch % 2 == 0) return TapAction{TapAction::cutAnswer, 0};
    return TapAction{TapAction::cutBody, static_cast<std::size_t>(random() % r.body.size())};
  };
  REQUIRE(rig.f.sim.admin("PUT", "/faults", nlohmann::json{{"dropShare", 0.05}, {"pathContains", "/uploads/"}})
              .status == 200);

  resetPeak();
  const long idleKb = statusKb("VmRSS");
  const int rounds = rig.drainAll(120);
  const long peakKb = statusKb("VmHWM");
  std::printf("50 MB upload: %d cuts, %llu PATCH body bytes (%.3fx), %d drain rounds, %d renewals; "
              "RSS idle %ld kB, peak while uploading %ld kB (%.2fx)\n",
              rig.tap.cuts, static_cast<unsigned long long>(rig.tap.patchBytes),
              static_cast<double>(rig.tap.patchBytes) / static_cast<double>(kSize), rounds, rig.tap.renewals, idleKb,
              peakKb, static_cast<double>(peakKb) / static_cast<double>(idleKb));
  REQUIRE(rounds <= 120);
  auto att = rig.f.store->attachments().attachment(id).value();
  REQUIRE(att.state == storage::AttachmentState::confirmed);
  CHECK(rig.tap.cuts >= 10);
  CHECK(static_cast<double>(rig.tap.patchBytes) < 1.2 * static_cast<double>(kSize));
  auto upstream = rig.upstreamAttachment(rig.workOrders[0], att.upstreamId);
  CHECK(upstream["status"] == "available");
  CHECK(upstream["sha256"] == expected);
  CHECK(upstream["sizeBytes"] == kSize);
  CHECK(peakKb < 2 * idleKb);
}
