#pragma once
// The local API's route table (routes.cpp): method + path pattern -> handler, tried in order.
#include <optional>
#include <string>
#include <vector>

#include "api/reply.hpp"
#include "api/request.hpp"

namespace fieldagent::agent::api {

using Handler = Reply (*)(Request&);

struct Route {
  const char* method;   // "*" for any
  const char* pattern;  // "/work-orders/{id}/checklist/{itemId}"; a last "**" takes what is left
  Handler handler;
};

const std::vector<Route>& routes();

struct Matched {
  const Route* route = nullptr;
  RouteMatch match;
};

// The first route for `method` whose pattern matches `segments` (the path split at '/', empty
// parts dropped). The table ends with a catch-all, so there always is one.
Matched findRoute(const std::string& method, const std::vector<std::string>& segments);

// `path` split at '/', empty parts dropped: "//work-orders/" is ["work-orders"].
std::vector<std::string> splitPath(const std::string& path);

}  // namespace fieldagent::agent::api
