#pragma once
// What every part of the store shares: the one database (connection and lock) and the store's
// clock, entropy, keys and quota. Private to storage/; the parts only hold a reference to it.
namespace fieldagent::storage {

class Store;

namespace detail {
struct StoreCore;
}  // namespace detail

}  // namespace fieldagent::storage
