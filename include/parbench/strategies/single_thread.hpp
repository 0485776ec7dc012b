#pragma once
// single_thread: one spawned std::thread does all the work while the caller waits (seed 000's "single thread",
// docs/seeds.md): sequential plus the cost of starting and joining one thread.

#include <cstdint>
#include <string_view>
#include <thread>

#include "../strategy.hpp"
#include "../thread_start.hpp"

namespace parbench::strategies {

struct single_thread : worker_count {
    static constexpr std::string_view name = "single_thread";
    static constexpr bool sweeps_workers = false;

    explicit single_thread(unsigned workers = 1) : worker_count(workers) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        return fork_join(k, n, workers_, [&](auto&& body) {
            // Its one thread runs every worker's chunk: if it cannot be started, the error names worker 0.
            start_thread<std::thread>(name, 0, workers_, [&] {
                for (unsigned i = 0; i < workers_; ++i) body(i);
            }).join();
        });
    }
};

}  // namespace parbench::strategies
