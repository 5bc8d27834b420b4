#pragma once
// For the child programs the crash tests kill (storage_crash_writer, crash_power_writer,
// crash_agent_driver): how they tell the parent what is durable, and how they give up.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "fieldagent/platform/result.hpp"

namespace fieldagent::testing {

// One write(2) per line, straight into the pipe: nothing sits in a stdio buffer when the
// SIGKILL comes. A parent that stopped reading ends the child (exit 4).
inline void writeLine(const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t n = ::write(1, line.data() + done, line.size() - done);
    if (n <= 0) std::_Exit(4);
    done += static_cast<std::size_t>(n);
  }
}

// An error the child cannot go on after: said on stderr, exit 3.
[[noreturn]] inline void dieWith(const char* program, const std::string& what, const Error& e) {
  std::fprintf(stderr, "%s: %s: %s: %s\n", program, what.c_str(), e.code.str().c_str(), e.message.c_str());
  std::_Exit(3);
}

}  // namespace fieldagent::testing
