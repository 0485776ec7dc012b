// The kernels on their own: oracles, edge cases and the promise that totals do not depend on the cut.

#include <gtest/gtest.h>

#include <cstdint>

#include "parbench/parbench.hpp"

namespace k = parbench::kernels;
using parbench::chunk;

TEST(kernels, count_counts_every_element) {
    EXPECT_EQ(k::count{}.run({0, 0}), 0u);
    EXPECT_EQ(k::count{}.run({5, 1005}), 1000u);
    EXPECT_EQ(k::count{}.expected(123), 123u);
}

TEST(kernels, sum_range_loop_matches_closed_form) {
    const k::sum_range s;
    for (std::uint64_t n : {0ull, 1ull, 2ull, 3ull, 1000ull, 65537ull}) EXPECT_EQ(s.run({0, n}), s.expected(n)) << n;
    EXPECT_EQ(s.expected(4), 6u);
}

TEST(kernels, sum_range_is_exact_up_to_2_pow_32) {
    const std::uint64_t n = std::uint64_t{1} << 32;
    // (2^32)(2^32 - 1)/2 = 2^63 - 2^31, below 2^64: no wrap.
    EXPECT_EQ(k::sum_range{}.expected(n), (std::uint64_t{1} << 63) - (std::uint64_t{1} << 31));
}

TEST(kernels, sum_range_wraps_modulo_2_pow_64_beyond) {
    const k::sum_range s;
    // A chunk far out, checked against the oracle's difference: both wrap the same way.
    const std::uint64_t a = (std::uint64_t{1} << 40) + 17;
    const std::uint64_t b = a + 5000;
    EXPECT_EQ(s.run({a, b}), s.expected(b) - s.expected(a));
    const std::uint64_t big = std::uint64_t{1} << 33;  // n(n-1)/2 = 2^65 - 2^32: wraps to -2^32 mod 2^64
    EXPECT_EQ(s.expected(big), std::uint64_t{0} - (std::uint64_t{1} << 32));
}

TEST(kernels, random_max_does_not_depend_on_the_cut) {
    const k::random_max r{42};
    const double whole = r.run({0, 10000});
    EXPECT_EQ(whole, r.expected(10000));
    EXPECT_EQ(k::random_max::combine(r.run({0, 3333}), r.run({3333, 10000})), whole);
    EXPECT_GT(whole, 0.99);
    EXPECT_LT(whole, 1.0);
    EXPECT_EQ(r.run({7, 7}), 0.0);
    EXPECT_NE(k::random_max{1}.expected(1000), k::random_max{2}.expected(1000)) << "the key changes the stream";
}

TEST(kernels, locked_counter_placements_all_reach_the_count) {
    auto check = [](auto kernel) {
        typename decltype(kernel)::shared_state s;
        auto r = kernel.run({0, 500}, s);
        r = decltype(kernel)::combine(r, kernel.run({500, 1234}, s));
        EXPECT_EQ(kernel.finish(s, r), 1234u) << decltype(kernel)::name;
    };
    check(k::locked_counter_coarse{});
    check(k::locked_counter_fine{});
    check(k::locked_counter_atomic{});
    check(k::locked_counter_sharded{});
}

TEST(kernels, sleep_tasks_sleep_and_return_their_values) {
    const k::sleep_tasks t{std::chrono::microseconds(2000)};
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(t.run({0, 3}), 1u + 2u + 3u);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::microseconds(6000));
    EXPECT_EQ(t.expected(3), 6u);
}

TEST(kernels, satisfy_the_concept) {
    static_assert(parbench::plain_kernel<k::count>);
    static_assert(parbench::plain_kernel<k::sum_range>);
    static_assert(parbench::plain_kernel<k::random_max>);
    static_assert(parbench::plain_kernel<k::sleep_tasks>);
    static_assert(parbench::stateful_kernel<k::locked_counter_coarse>);
    static_assert(parbench::stateful_kernel<k::locked_counter_sharded>);
    SUCCEED();
}
