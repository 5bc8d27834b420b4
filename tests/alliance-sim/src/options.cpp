#include "options.hpp"

#include <algorithm>
#include <charconv>

namespace fieldagent::sim {

namespace {

template <class Int>
Result<Int> parseInt(const std::string& flag, const std::string& text, Int lo, Int hi) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < lo || value > hi) {
    return makeError("usage", flag + " needs an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                                  ", got '" + text + "'");
  }
  return value;
}

Result<double> parseShare(const std::string& flag, const std::string& text) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && v >= 0 && v <= 1) return v;
  } catch (const std::exception&) {
    // Falls through to the usage error below.
  }
  return makeError("usage", flag + " needs a share from 0 to 1, got '" + text + "'");
}

}  // namespace

std::string usageText() {
  return R"(alliance-sim: a stateful reference implementation of the Astea Alliance upstream contract.

Usage: alliance-sim [options]

  --port N              TCP port; 0 (default) picks a free one
  --bind ADDR           address to listen on (default 127.0.0.1)
  --data DIR            keep state in DIR (created if missing; reused on restart).
                        Default: a fresh temp folder, removed at exit
  --prefix PATH         path prefix of the base URL (default /integrations/int_local)
  --seed N              generate N work orders (and their customers, sites, assets,
                        contracts, parts, van stock) from seed value N (default 50).
                        Ignored when DIR already holds data
  --technicians T       technicians to generate (default 5, at least 1)
  --token-ttl SECONDS   session token lifetime (default 3600)
  --upload-url-ttl SECONDS  signed upload/download URL lifetime (default 900)
  --max-chunk-bytes N   largest tus PATCH body accepted (default 4194304)
  --fail-503 SHARE      share (0..1) of requests answered 503 with Retry-After
  --fail-500 SHARE      share of requests answered 500
  --throttle-429 SHARE  share of requests answered 429 with Retry-After
  --drop SHARE          share of requests whose connection is closed mid-response
                        (after the request took effect)
  --retry-after SECONDS Retry-After sent with 429 and 503 (default 1)
  --latency-ms MS       delay added before every response
  --fault-path TEXT     inject faults only into requests whose path contains TEXT
  --fault-seed N        seed of the fault dice (default 1)
  --ignore-query LIST   comma-separated [ext] parameters of GET /work-orders to ignore,
                        as an upstream without them would: technicianId (answers every
                        work order), sort (answers in work-order id order)
  --freeze-clock ISO    freeze the server clock at ISO 8601 time, or "now"
  --clock-shift SECONDS shift the server clock (negative: back)
  --verbose             log every request to stderr
  --die-with-parent     exit when the process that started it dies (tests: no orphans)
  --help                this text

At start it prints one JSON line to stdout: baseUrl, adminUrl, integrationToken, adminToken,
dataDir and users. SIGTERM or SIGINT stops it. See docs/alliance-sim.md.
)";
}

Result<SimOptions> parseOptions(const std::vector<std::string>& args) {
  SimOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      o.help = true;
      continue;
    }
    if (flag == "--die-with-parent") {
      o.dieWithParent = true;
      continue;
    }
    if (flag == "--verbose") {
      o.verbose = true;
      continue;
    }
    if (i + 1 >= args.size())
      return makeError("usage", flag.rfind("--", 0) == 0 ? flag + " needs a value" : "unknown argument '" + flag + "'");
    const std::string& value = args[++i];
    auto intInto = [&](int& target, int lo, int hi) -> Result<void> {
      auto v = parseInt<int>(flag, value, lo, hi);
      if (!v) return v.error();
      target = *v;
      return {};
    };
    auto shareInto = [&](double& target) -> Result<void> {
      auto v = parseShare(flag, value);
      if (!v) return v.error();
      target = *v;
      return {};
    };
    Result<void> r;
    if (flag == "--port") {
      r = intInto(o.port, 0, 65535);
    } else if (flag == "--bind") {
      o.bind = value;
    } else if (flag == "--data") {
      if (value.empty()) return makeError("usage", "--data needs a folder");
      o.sim.dataDir = value;
      o.temporaryData = false;
    } else if (flag == "--prefix") {
      if (value.empty() || value.front() != '/' || value.back() == '/') {
        return makeError("usage", "--prefix must start with '/' and not end with one");
      }
      o.sim.pathPrefix = value;
    } else if (flag == "--seed") {
      auto v = parseInt<std::int64_t>(flag, value, 1, 5'000'000);
      if (!v) return v.error();
      o.sim.workOrders = *v;
    } else if (flag == "--technicians") {
      r = intInto(o.sim.technicians, 1, 10000);
    } else if (flag == "--token-ttl") {
      r = intInto(o.sim.tokenTtlSeconds, 1, 30 * 86400);
    } else if (flag == "--upload-url-ttl") {
      r = intInto(o.sim.uploadUrlTtlSeconds, 1, 30 * 86400);
    } else if (flag == "--max-chunk-bytes") {
      r = intInto(o.sim.maxChunkBytes, 1, 64 << 20);
    } else if (flag == "--fail-503") {
      r = shareInto(o.sim.faults.error503Share);
    } else if (flag == "--fail-500") {
      r = shareInto(o.sim.faults.error500Share);
    } else if (flag == "--throttle-429") {
      r = shareInto(o.sim.faults.throttle429Share);
    } else if (flag == "--drop") {
      r = shareInto(o.sim.faults.dropShare);
    } else if (flag == "--retry-after") {
      r = intInto(o.sim.faults.retryAfterSeconds, 0, 86400);
    } else if (flag == "--latency-ms") {
      r = intInto(o.sim.faults.latencyMs, 0, 600000);
    } else if (flag == "--fault-path") {
      o.sim.faults.pathContains = value;
    } else if (flag == "--fault-seed") {
      auto v = parseInt<std::uint64_t>(flag, value, 0, UINT64_MAX);
      if (!v) return v.error();
      o.sim.faultSeed = *v;
    } else if (flag == "--ignore-query") {
      std::size_t start = 0;
      while (start <= value.size()) {
        const std::size_t comma = std::min(value.find(',', start), value.size());
        const std::string name = value.substr(start, comma - start);
        if (name != "technicianId" && name != "sort") {
          return makeError("usage", "--ignore-query takes technicianId and/or sort, comma-separated; got '" + name + "'");
        }
        o.sim.ignoredWorkOrderQuery.insert(name);
        start = comma + 1;
      }
    } else if (flag == "--freeze-clock") {
      o.freezeClockAt = value;
    } else if (flag == "--clock-shift") {
      r = intInto(o.clockShiftSeconds, -10 * 365 * 86400, 10 * 365 * 86400);
    } else {
      return makeError("usage", "unknown option '" + flag + "' (see --help)");
    }
    if (!r) return r.error();
  }
  if (o.sim.faults.error503Share + o.sim.faults.error500Share + o.sim.faults.throttle429Share + o.sim.faults.dropShare >
      1.0 + 1e-9) {
    return makeError("usage", "the fault shares add up to more than 1");
  }
  return o;
}

}  // namespace fieldagent::sim
