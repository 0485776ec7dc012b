#pragma once
// threads: one std::thread per worker per run, each running one chunk; the caller joins them all.

#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "../strategy.hpp"
#include "../thread_start.hpp"

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
            // If a thread cannot be started, the jthreads already running finish their chunks and are joined
            // by their destructors, and the worker_error naming that worker reaches the caller.
            for (unsigned i = 0; i < workers_; ++i)
                pool.push_back(start_thread<std::jthread>(name, i, workers_, [&body, i] { body(i); }));
        });
    }
};

}  // namespace parbench::strategies
