#pragma once
// single_thread: one spawned std::thread does all the work while the caller waits (seed 000's "single thread"):
// sequential plus the cost of starting and joining one thread.

#include <cstdint>
#include <string_view>
#include <thread>

#include "../detail/fork_join.hpp"

namespace parbench::strategies {

struct single_thread {
    static constexpr std::string_view name = "single_thread";
    static constexpr bool sweeps_workers = false;

    explicit single_thread(unsigned workers = 1) : workers_(workers) { detail::check_workers(workers); }

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        return detail::fork_join(k, n, workers_, [&](auto&& body) {
            std::thread([&] {
                for (unsigned i = 0; i < workers_; ++i) body(i);
            }).join();
        });
    }
    [[nodiscard]] unsigned workers() const noexcept { return workers_; }

private:
    unsigned workers_;
};

}  // namespace parbench::strategies
