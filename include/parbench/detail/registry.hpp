#pragma once
// Registries of per-kernel functions, keyed by the kernel's type name (typeid(K).name()), for the workers that
// are this program started afresh (spawn) or forked by a fork server: the same program has the same entries,
// filled before main by static initialisation when the strategy's run<K> is instantiated. One registry per
// function type: a started per-run worker serves a request (worker_request.hpp), a pool worker invokes a chunk
// (pool_block.hpp).

#include <string_view>
#include <typeinfo>
#include <vector>

#include "../kernel.hpp"

namespace parbench::detail {

template <class Fn>
struct registered_fn {
    std::string_view key;
    Fn fn;
};

// Every entry of function type Fn this program has.
template <class Fn>
std::vector<registered_fn<Fn>>& registry() {
    static std::vector<registered_fn<Fn>> entries;
    return entries;
}

// The function registered under `key`, or nullptr.
template <class Fn>
Fn find_registered(std::string_view key) noexcept {
    for (const auto& e : registry<Fn>())
        if (e.key == key) return e.fn;
    return nullptr;
}

// Registers F for kernel K once, before main; name it ((void)registered<K, Fn, F>) where K's run is instantiated.
template <kernel K, class Fn, Fn F>
inline const bool registered = (registry<Fn>().push_back({typeid(K).name(), F}), true);

}  // namespace parbench::detail
