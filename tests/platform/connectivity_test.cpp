#include <catch2/catch.hpp>

#include <fstream>
#include <vector>

#include "fieldagent/platform/connectivity.hpp"
#include "temp_dir.hpp"

using namespace fieldagent::platform;
using fieldagent::testing::TempDir;

namespace {

// A /proc and /sys in a folder, so the route reading is tested without touching the host's.
struct FakeProcSys {
  TempDir dir;
  FakeProcSys() {
    std::filesystem::create_directories(dir / "proc/net");
    routes({});
    ipv6({});
  }
  void routes(const std::vector<std::string>& lines) {
    std::ofstream out(dir / "proc/net/route");
    out << "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
    for (const auto& l : lines) out << l << "\n";
  }
  void ipv6(const std::vector<std::string>& lines) {
    std::ofstream out(dir / "proc/net/ipv6_route");
    for (const auto& l : lines) out << l << "\n";
  }
  void link(const std::string& iface, const std::string& state) {
    std::filesystem::create_directories(dir / ("sys/class/net/" + iface));
    std::ofstream(dir / ("sys/class/net/" + iface + "/operstate")) << state << "\n";
  }
  std::string proc() const { return (dir / "proc").string(); }
  std::string sys() const { return (dir / "sys").string(); }
};

std::string defaultRoute(const std::string& iface, int metric) {
  return iface + "\t00000000\t0102A8C0\t0003\t0\t0\t" + std::to_string(metric) + "\t00000000\t0\t0\t0";
}

}  // namespace

TEST_CASE("no default route means offline", "[connectivity]") {
  FakeProcSys fake;
  fake.routes({"eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0"});  // a LAN route only
  fake.link("eth0", "up");
  LinuxConnectivity c(fake.proc(), fake.sys(), false);
  CHECK_FALSE(c.current().online);
}

TEST_CASE("the default route with the lowest metric over a link that is up decides", "[connectivity]") {
  FakeProcSys fake;
  fake.link("eth0", "down");
  fake.link("wwan0", "up");
  fake.routes({defaultRoute("eth0", 100), defaultRoute("wwan0", 700)});
  LinuxConnectivity c(fake.proc(), fake.sys(), false);
  CHECK(c.current() == ConnectivityState{true, true, "wwan0"});

  std::vector<ConnectivityState> seen;
  auto subscription = c.subscribe([&](const ConnectivityState& s) { seen.push_back(s); });
  fake.link("eth0", "up");
  c.refresh();
  REQUIRE(seen.size() == 1);
  CHECK(seen.back() == ConnectivityState{true, false, "eth0"});

  c.refresh();  // nothing changed: nobody is told
  CHECK(seen.size() == 1);

  fake.routes({});
  c.refresh();
  REQUIRE(seen.size() == 2);
  CHECK_FALSE(seen.back().online);

  subscription.reset();  // unsubscribed listeners hear nothing more
  fake.routes({defaultRoute("eth0", 100)});
  c.refresh();
  CHECK(seen.size() == 2);
  CHECK(c.current().online);
}

TEST_CASE("an IPv6-only default route counts as online", "[connectivity]") {
  FakeProcSys fake;
  fake.link("wlan0", "up");
  fake.ipv6({std::string(32, '0') + " 00 " + std::string(32, '0') +
                 " 00 fe800000000000000000000000000001 00000400 "
                 "00000001 00000000 00000003 wlan0",
             std::string(32, '0') + " 00 " + std::string(32, '0') + " 00 " + std::string(32, '0') +
                 " ffffffff 00000001 00000000 00200200 lo"});
  LinuxConnectivity c(fake.proc(), fake.sys(), false);
  CHECK(c.current() == ConnectivityState{true, false, "wlan0"});
}

TEST_CASE("garbage in the route table is skipped, not fatal", "[connectivity]") {
  FakeProcSys fake;
  fake.link("eth0", "up");
  fake.routes({"eth0 00000000 zz zz 0 0 notanumber 00000000", "short line", defaultRoute("eth0", 5)});
  LinuxConnectivity c(fake.proc(), fake.sys(), false);
  CHECK(c.current().online);
}

TEST_CASE("the watcher on the real host starts and stops cleanly", "[connectivity]") {
  LinuxConnectivity c;  // reads /proc and /sys, watches netlink
  auto s = c.subscribe([](const ConnectivityState&) {});
  (void)c.current();
}

TEST_CASE("fake connectivity tells listeners of changes only", "[connectivity]") {
  FakeConnectivity c({false, false, ""});
  int calls = 0;
  auto sub = c.subscribe([&](const ConnectivityState&) { ++calls; });
  c.set({false, false, ""});
  CHECK(calls == 0);
  c.set({true, true, "wwan0"});
  CHECK(calls == 1);
  CHECK(c.current().metered);
}
