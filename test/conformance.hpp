#pragma once
// The conformance tests every strategy and every kernel must pass, as type-parameterised gtest suites, so that a
// strategy or kernel defined outside the library runs through the same tests as parbench's own
// (test/example/toy.cpp does; docs/extending.md):
//   INSTANTIATE_TYPED_TEST_SUITE_P(mine, strategy_equality, ::testing::Types<my_strategy>, strategy_name);
//   INSTANTIATE_TYPED_TEST_SUITE_P(mine, strategy_errors, ::testing::Types<my_strategy>, strategy_name);
//   INSTANTIATE_TYPED_TEST_SUITE_P(mine, kernel_equality, ::testing::Types<my_kernel>, strategy_name);
// strategy_equality: every kernel's expected total on the strategy, for every worker count and size below,
// oversubscribed (64 workers, more than the machine has CPUs) included. strategy_errors: a throwing kernel
// surfaces as a worker_error naming the worker and carrying the message; invalid worker counts are rejected with
// a message that says what is allowed. kernel_equality: the kernel's expected total under every strategy parbench has.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "strategies.hpp"

namespace parbench::test {

inline constexpr unsigned worker_counts[] = {1, 2, 3, 4, 7, 16, 64};

inline std::vector<std::uint64_t> sizes_for(unsigned w, std::uint64_t cap) {
    std::vector<std::uint64_t> n = {0, 1, w - 1u, w, w + 1u, 1000, (std::uint64_t{1} << 20) + 3};
    for (auto& x : n) x = std::min(x, cap);
    return n;
}

// The kernel's expected total from the strategy at every size for w workers (up to cap).
template <class S, class K>
void expect_totals(S& strategy, const K& kernel, unsigned w, std::uint64_t cap = UINT64_MAX) {
    for (const std::uint64_t n : sizes_for(w, cap)) {
        SCOPED_TRACE(std::string(S::name) + " " + std::string(K::name) + " n=" + std::to_string(n) +
                     " workers=" + std::to_string(w));
        if constexpr (requires { kernel.bind(n); }) {  // a payload kernel: the caller's arrays for n, fresh
            const auto data = kernel.bind(n);
            EXPECT_EQ(strategy.run(data.kernel(), n), data.kernel().expected(n));
        } else {
            EXPECT_EQ(strategy.run(kernel, n), kernel.expected(n));
        }
    }
}

// Every kernel of parbench's at every size on one strategy object of w workers; socket_tasks talks to `server`,
// the test's own echo server (a child process), which the test stops when it ends: a server kept for the whole
// test process would be a child left behind for every later test that checks that none is.
template <strategy S>
void expect_all_kernels(unsigned w, const echo_server& server) {
    namespace k = kernels;
    S strategy(w);  // one object per worker count, reused across kernels and sizes (pools too)
    expect_totals(strategy, k::count{}, w);
    expect_totals(strategy, k::sum_range{}, w);
    expect_totals(strategy, k::random_max{7}, w);
    expect_totals(strategy, k::locked_counter_coarse{}, w);
    expect_totals(strategy, k::locked_counter_fine{}, w);
    expect_totals(strategy, k::locked_counter_atomic{}, w);
    expect_totals(strategy, k::locked_counter_sharded{}, w);
    // Uneven work: the triangular kernel's cost grows with n squared, so a few thousand items at most.
    expect_totals(strategy, k::uneven_triangular{}, w, 3000);
    expect_totals(strategy, k::uneven_heavy_tail{}, w, 20000);
    // Data the caller holds, moved to the workers and back (4 units of work per element).
    expect_totals(strategy, k::payload{.units = 4}, w);
    // I/O-bound: a tiny sleep, and a few hundred tasks at most.
    expect_totals(strategy, k::sleep_tasks{std::chrono::microseconds(1)}, w, 300);
    expect_totals(strategy, k::socket_tasks{server.port()}, w, 300);
    // Kept connections: the pool's, reused across sizes and worker counts (a forked worker opens its own).
    expect_totals(strategy, k::socket_tasks{.port = server.port(), .keep_alive = true}, w, 300);
}

template <class S>
class strategy_equality : public ::testing::Test {
    static_assert(strategy<S>, "see parbench::strategy (include/parbench/strategy.hpp)");
};
TYPED_TEST_SUITE_P(strategy_equality);

// Split by worker count so that strategies which fork a process per worker per run stay within a test's timeout.
TYPED_TEST_P(strategy_equality, every_kernel_every_worker_count_every_size) {
    const echo_server server;
    for (const unsigned w : worker_counts)
        if (w < 64) expect_all_kernels<TypeParam>(w, server);
}
TYPED_TEST_P(strategy_equality, every_kernel_every_size_64_workers) {
    static_assert(worker_counts[std::size(worker_counts) - 1] == 64);
    const echo_server server;
    expect_all_kernels<TypeParam>(64, server);
}
REGISTER_TYPED_TEST_SUITE_P(strategy_equality, every_kernel_every_worker_count_every_size,
                            every_kernel_every_size_64_workers);

// Throws from the chunk that holds element `bad`.
struct throwing {
    using result = std::uint64_t;
    static constexpr std::string_view name = "throwing";
    std::uint64_t bad = 0;

    result run(chunk c) const {
        if (c.begin <= bad && bad < c.end) throw std::runtime_error("boom at " + std::to_string(bad));
        return c.size();
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};
static_assert(portable_kernel<throwing>);

template <class S>
class strategy_errors : public ::testing::Test {
    static_assert(strategy<S>, "see parbench::strategy (include/parbench/strategy.hpp)");
};
TYPED_TEST_SUITE_P(strategy_errors);
TYPED_TEST_P(strategy_errors, a_throwing_kernel_becomes_a_worker_error) {
    TypeParam strategy(4);
    // n = 400 in 4 chunks of 100: element 250 is in chunk 2.
    try {
        (void)strategy.run(throwing{250}, 400);
        FAIL() << "no exception";
    } catch (const worker_error& e) {
        // Under dynamic scheduling (or tbb's work stealing) any worker may have taken that chunk: the error names
        // the one that did.
        if constexpr (
            requires { requires TypeParam::schedules_dynamically; } || requires { requires TypeParam::steals_work; })
            EXPECT_LT(e.worker(), 4u);
        else
            EXPECT_EQ(e.worker(), 2u);
        EXPECT_EQ(e.workers(), 4u);
        EXPECT_EQ(e.cause(), failure::exception);
        EXPECT_NE(std::string(e.what()).find("boom at 250"), std::string::npos) << e.what();
        const std::string named = "worker " + std::to_string(e.worker()) + " of 4";
        EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
    // The strategy is still usable after a failed run.
    EXPECT_EQ(strategy.run(throwing{1000}, 400), 400u);
}

TYPED_TEST_P(strategy_errors, every_chunk_throwing_still_raises_one_error) {
    TypeParam strategy(3);
    struct all_throw : throwing {
        result run(chunk) const { throw std::runtime_error("all fail"); }
    };
    EXPECT_THROW((void)strategy.run(all_throw{}, 30), worker_error);
}

TYPED_TEST_P(strategy_errors, zero_workers_is_invalid) {
    try {
        TypeParam strategy(0);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("between 1 and " + std::to_string(max_workers)), std::string::npos)
            << e.what();
    }
}

TYPED_TEST_P(strategy_errors, absurd_worker_counts_are_invalid) {
    EXPECT_THROW(TypeParam(max_workers + 1), std::invalid_argument);
    EXPECT_THROW(TypeParam(static_cast<unsigned>(-1)), std::invalid_argument);
}

REGISTER_TYPED_TEST_SUITE_P(strategy_errors, a_throwing_kernel_becomes_a_worker_error,
                            every_chunk_throwing_still_raises_one_error, zero_workers_is_invalid,
                            absurd_worker_counts_are_invalid);

template <class K>
class kernel_equality : public ::testing::Test {
    static_assert(portable_kernel<K>, "see parbench::portable_kernel (include/parbench/kernel.hpp)");
};
TYPED_TEST_SUITE_P(kernel_equality);

// The kernel under strategy S for every worker count below 64.
template <strategy S, class K>
void expect_totals_below_64(const K& kernel) {
    for (const unsigned w : worker_counts) {
        if (w == 64) continue;
        S strategy(w);
        expect_totals(strategy, kernel, w);
    }
}
template <class K, class... S>
void expect_totals_everywhere(const K& kernel, type_list<S...>) {
    (expect_totals_below_64<S>(kernel), ...);
}

// The kernel (value-initialised) under every strategy parbench has, for every worker count below 64.
TYPED_TEST_P(kernel_equality, every_strategy_every_worker_count_every_size) {
    expect_totals_everywhere(TypeParam{}, parbench::all_strategies{});
}
REGISTER_TYPED_TEST_SUITE_P(kernel_equality, every_strategy_every_worker_count_every_size);

}  // namespace parbench::test
