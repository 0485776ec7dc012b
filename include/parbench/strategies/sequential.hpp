#pragma once
// sequential: every chunk runs on the caller's thread, one after the other. The baseline of every speedup.

#include <cstdint>
#include <string_view>

#include "../strategy.hpp"

namespace parbench::strategies {

struct sequential : worker_count {
    static constexpr std::string_view name = "sequential";
    static constexpr bool sweeps_workers = false;  // benchmarks run it with one worker only

    // `workers` only sets how many chunks the range is cut into, which lets tests check combine().
    explicit sequential(unsigned workers = 1) : worker_count(workers) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        return fork_join(k, n, workers_, [&](auto&& body) {
            for (unsigned i = 0; i < workers_; ++i) body(i);
        });
    }
};

}  // namespace parbench::strategies
