#pragma once
// A kernel and a strategy written outside the library, as a user would write them, following docs/extending.md.
// Nothing in include/, bench/ or the rest of test/ knows them: toy_test.cpp runs them through the conformance
// tests and toy_bench.cpp through one benchmark. If the contract changes, this stops compiling.

#include <cstdint>
#include <future>
#include <string_view>
#include <vector>

#include "parbench/parbench.hpp"

namespace toy {

// Kernel: the sum of i * i over [0, n).
struct squares {
    using result = std::uint64_t;                            // trivially copyable, ==, operator<<
    static constexpr std::string_view name = "toy_squares";  // no slashes: it starts every benchmark name

    [[nodiscard]] result run(parbench::chunk c) const noexcept {
        result sum = 0;
        // in_slices: lets gil_threads hand its lock over between slices, as CPython would.
        parbench::in_slices(c, [&](parbench::chunk s) {
            for (std::uint64_t i = s.begin; i < s.end; ++i) {
                parbench::keep(sum);  // one add per element, not a closed form
                sum += i * i;
            }
        });
        return sum;
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept {
        return n == 0 ? 0 : (n - 1) * n * (2 * n - 1) / 6;
    }
};
static_assert(parbench::portable_kernel<squares>);

// Strategy: one std::async task per chunk per run.
class async_tasks : public parbench::worker_count {  // worker_count: the checked constructor and workers()
public:
    static constexpr std::string_view name = "toy.async";
    static constexpr bool sweeps_workers = true;

    using worker_count::worker_count;

    template <parbench::kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        // fork_join: the slots, the shared state, the errors and the combine; this strategy only launches.
        return parbench::fork_join(k, n, workers(), [&](auto& job) {
            std::vector<std::future<void>> tasks;
            tasks.reserve(workers());
            for (unsigned i = 0; i < workers(); ++i)
                tasks.push_back(std::async(std::launch::async, [&job, i] { job(i); }));
            for (auto& t : tasks) t.get();
        });
    }
};
static_assert(parbench::strategy<async_tasks>);

}  // namespace toy
