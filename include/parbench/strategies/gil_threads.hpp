#pragma once
// gil_threads: threads as CPython runs them. One std::thread per worker per run, as in `threads`, but every worker
// must hold one interpreter lock (detail/gil.hpp) to run kernel work: it hands the lock over when a waiter has
// waited a switch interval (5 ms, CPython's default), and releases it around blocking calls (sleep_tasks) and
// contended locks. CPU-bound work therefore runs one worker at a time, plus the cost of switching.

#include <chrono>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "../detail/gil.hpp"
#include "../strategy.hpp"
#include "../thread_start.hpp"

namespace parbench::strategies {

class gil_threads : public worker_count {
public:
    static constexpr std::string_view name = "gil_threads";
    static constexpr bool sweeps_workers = true;

    explicit gil_threads(unsigned workers, std::chrono::microseconds switch_interval = detail::default_switch_interval)
        : worker_count(workers), gil_(switch_interval) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        return fork_join(k, n, workers_, [&](auto&& body) {
            std::vector<std::jthread> pool;
            pool.reserve(workers_);
            // As in threads: a thread that cannot be started is a worker_error, the ones started are joined.
            for (unsigned i = 0; i < workers_; ++i)
                pool.push_back(start_thread<std::jthread>(name, i, workers_, [this, &body, i] {
                    detail::gil::thread_state holding(gil_);
                    body(i);
                }));
        });
    }
    // Hand-overs and drop requests since construction, for the gil/... benchmarks.
    [[nodiscard]] detail::gil::stats gil_stats() const { return gil_.counters(); }
    [[nodiscard]] std::chrono::microseconds switch_interval() const noexcept { return gil_.interval(); }

private:
    detail::gil gil_;
};

}  // namespace parbench::strategies
