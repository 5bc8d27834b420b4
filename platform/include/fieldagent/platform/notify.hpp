#pragma once
// systemd's sd_notify protocol without libsystemd: one datagram to $NOTIFY_SOCKET ("READY=1",
// "WATCHDOG=1", "STOPPING=1"). Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
#include <chrono>
#include <optional>
#include <string>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::platform {

// Errors: "io" when the socket is named but the datagram cannot be sent.
Result<void> notifyServiceManager(const std::string& state);

// $WATCHDOG_USEC when the watchdog is on for this process ($WATCHDOG_PID unset or ours).
std::optional<std::chrono::microseconds> watchdogInterval();

}  // namespace fieldagent::platform
