#include "api/reply.hpp"

namespace fieldagent::agent::api {

Reply error(ErrorCode code, const std::string& message) {
  return {code.httpStatus(), {{"error", code}, {"message", message.empty() ? std::string(code.meaning()) : message}}};
}

Reply fromError(const Error& e) { return error(e.code, e.message); }

}  // namespace fieldagent::agent::api
