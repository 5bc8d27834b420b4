#pragma once
// `CHECK(e.code == "not_found")` in a test. Catch2 compares the two sides inside its own
// templates, where the literal is a reference parameter and no longer a constant expression, so
// ErrorCode's consteval constructor cannot take it there. This comparison reads the name at run
// time instead, and a name that is not in the table (a typo in the test) throws, which fails the
// assertion with the name, rather than comparing false.
#include <cstddef>
#include <stdexcept>
#include <string>

#include "fieldagent/platform/error_code.hpp"

namespace fieldagent {

template <std::size_t N>
bool operator==(const ErrorCode& code, const char (&name)[N]) {
  const auto named = ErrorCode::parse(name);
  if (!named) throw std::invalid_argument(std::string("'") + name + "' is not an error code (error_code.hpp)");
  return code == *named;
}

}  // namespace fieldagent
