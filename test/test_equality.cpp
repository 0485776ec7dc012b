// Every strategy computes every kernel's expected total, for every worker count and size the issue names,
// oversubscribed (64 workers on a 2-core machine) included.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <vector>

#include "strategies.hpp"

namespace k = parbench::kernels;

namespace {

constexpr unsigned worker_counts[] = {1, 2, 3, 4, 7, 16, 64};

std::vector<std::uint64_t> sizes_for(unsigned w, std::uint64_t cap) {
    std::vector<std::uint64_t> n = {0, 1, w - 1u, w, w + 1u, 1000, (std::uint64_t{1} << 20) + 3};
    for (auto& x : n) x = std::min(x, cap);
    return n;
}

template <class S, class K>
void expect_totals(S& strategy, const K& kernel, unsigned w, std::uint64_t cap = UINT64_MAX) {
    for (const std::uint64_t n : sizes_for(w, cap)) {
        SCOPED_TRACE(std::string(K::name) + " n=" + std::to_string(n) + " workers=" + std::to_string(w));
        EXPECT_EQ(strategy.run(kernel, n), kernel.expected(n));
    }
}

template <class S>
class equality : public ::testing::Test {};
TYPED_TEST_SUITE(equality, parbench::test::all_strategies, parbench::test::strategy_name);

// Every kernel at every size on one strategy object of w workers.
template <class S>
void expect_all_kernels(unsigned w) {
    S strategy(w);  // one object per worker count, reused across kernels and sizes (pools too)
    expect_totals(strategy, k::count{}, w);
    expect_totals(strategy, k::sum_range{}, w);
    expect_totals(strategy, k::random_max{7}, w);
    expect_totals(strategy, k::locked_counter_coarse{}, w);
    expect_totals(strategy, k::locked_counter_fine{}, w);
    expect_totals(strategy, k::locked_counter_atomic{}, w);
    expect_totals(strategy, k::locked_counter_sharded{}, w);
    // I/O-bound: a tiny sleep, and a few hundred tasks at most.
    expect_totals(strategy, k::sleep_tasks{std::chrono::microseconds(1)}, w, 300);
}

// Split by worker count so that strategies which fork a process per worker per run stay within a test's timeout.
TYPED_TEST(equality, every_kernel_every_worker_count_every_size) {
    for (const unsigned w : worker_counts)
        if (w < 64) expect_all_kernels<TypeParam>(w);
}
TYPED_TEST(equality, every_kernel_every_size_64_workers) {
    static_assert(worker_counts[std::size(worker_counts) - 1] == 64);
    expect_all_kernels<TypeParam>(64);
}

}  // namespace
