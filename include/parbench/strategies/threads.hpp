#pragma once
// threads: one std::thread per worker per run, each running one chunk; the caller joins them all.

#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "../strategy.hpp"

namespace parbench::strategies {

struct threads : worker_count {
    static constexpr std::string_view name = "threads";
    static constexpr bool sweeps_workers = true;

    using worker_count::worker_count;

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        return fork_join(k, n, workers_, [&](auto&& body) {
            std::vector<std::jthread> pool;
            pool.reserve(workers_);
            // If a thread cannot be started, the jthreads already running are joined by their destructors
            // and the std::system_error reaches the caller.
            for (unsigned i = 0; i < workers_; ++i) pool.emplace_back([&body, i] { body(i); });
        });
    }
};

}  // namespace parbench::strategies
