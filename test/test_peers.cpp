// The peer strategies, openmp and tbb, where the build has them: their totals in the situations that are theirs
// alone (a smaller OpenMP team than asked for, TBB's cap on threads), and with_peers' list arithmetic. The
// equality and error suites cover them like every other strategy (test/conformance.hpp).

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "leaks.hpp"
#include "parbench/parbench.hpp"
#include "parbench/peers.hpp"

#if defined(PARBENCH_HAS_OPENMP)
#include <omp.h>
#endif

namespace k = parbench::kernels;

namespace {

template <class... S>
struct list {};
struct a {};
struct b {};

#if defined(PARBENCH_HAS_OPENMP) && defined(PARBENCH_HAS_TBB)
static_assert(std::is_same_v<parbench::with_peers<list<a, b>>,
                             list<a, b, parbench::strategies::openmp, parbench::strategies::openmp_dynamic,
                                  parbench::strategies::tbb>>);
#elif defined(PARBENCH_HAS_OPENMP)
static_assert(std::is_same_v<parbench::with_peers<list<a, b>>,
                             list<a, b, parbench::strategies::openmp, parbench::strategies::openmp_dynamic>>);
#elif defined(PARBENCH_HAS_TBB)
static_assert(std::is_same_v<parbench::with_peers<list<a, b>>, list<a, b, parbench::strategies::tbb>>);
#else
static_assert(std::is_same_v<parbench::with_peers<list<a, b>>, list<a, b>>);
#endif

TEST(peers, description_names_what_was_built) {
    const std::string d = parbench::peers_description();
#if defined(PARBENCH_HAS_OPENMP)
    EXPECT_NE(d.find("openmp (OpenMP "), std::string::npos) << d;
#endif
#if defined(PARBENCH_HAS_TBB)
    EXPECT_NE(d.find("tbb (oneTBB "), std::string::npos) << d;
#endif
#if !defined(PARBENCH_HAS_OPENMP) && !defined(PARBENCH_HAS_TBB)
    EXPECT_EQ(d, "none");
#endif
}

// Every kernel's total for 1, 2, 5 and `most` workers, over n of 0, 1, the worker count and a large odd one.
template <class S>
[[maybe_unused]] void expect_totals(unsigned most) {
    for (const unsigned w : {1u, 2u, 5u, most}) {
        S s(w);
        for (const std::uint64_t n : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{w}, std::uint64_t{100'003}}) {
            EXPECT_EQ(s.run(k::count{}, n), n) << "w=" << w << " n=" << n;
            EXPECT_EQ(s.run(k::sum_range{}, n), k::sum_range{}.expected(n)) << "w=" << w << " n=" << n;
            EXPECT_EQ(s.run(k::locked_counter_fine{}, n), n) << "w=" << w << " n=" << n;
        }
    }
}

using parbench::test::settled_threads;
using parbench::test::threads_now;

// A destroyed peer leaves no threads behind: the runtime's workers go with the strategy, so that whatever runs
// next (the next benchmark) starts from the same process, however many workers the peer had.
template <class S>
[[maybe_unused]] void expect_no_threads_left(unsigned workers, bool starts_threads) {
    const std::size_t before = threads_now();
    for (int round = 0; round < 3; ++round) {
        {
            S s(workers);
            for (int r = 0; r < 20; ++r) ASSERT_EQ(s.run(k::count{}, 1000), 1000u);
            if (starts_threads) {
                EXPECT_GT(threads_now(), before) << "round " << round;
            }
        }
        EXPECT_LE(settled_threads(before), before) << "round " << round;
    }
}

#if defined(PARBENCH_HAS_OPENMP)
TEST(peers_openmp, totals_for_many_workers) { expect_totals<parbench::strategies::openmp>(32); }

// Nested inside a parallel region (nesting is off by default) the team has one thread: every chunk still runs.
TEST(peers_openmp, a_smaller_team_than_asked_still_runs_every_chunk) {
    std::vector<std::uint64_t> totals(2);
#pragma omp parallel for num_threads(2)
    for (int t = 0; t < 2; ++t)
        totals[static_cast<std::size_t>(t)] = parbench::strategies::openmp(8).run(k::count{}, 1000);
    EXPECT_EQ(totals[0], 1000u);
    EXPECT_EQ(totals[1], 1000u);
}

// The same for openmp.dynamic, whose threads add their chunks to the slot of their thread number.
TEST(peers_openmp, dynamic_with_a_smaller_team_still_runs_every_chunk) {
    std::vector<std::uint64_t> totals(2);
#pragma omp parallel for num_threads(2)
    for (int t = 0; t < 2; ++t)
        totals[static_cast<std::size_t>(t)] = parbench::strategies::openmp_dynamic(8).run(k::uneven_triangular{}, 1000);
    EXPECT_EQ(totals[0], k::uneven_triangular{}.expected(1000));
    EXPECT_EQ(totals[1], k::uneven_triangular{}.expected(1000));
}

TEST(peers_openmp, from_several_caller_threads) {
    std::vector<std::uint64_t> totals(3);
    {
        std::vector<std::jthread> callers;
        for (std::size_t t = 0; t < totals.size(); ++t)
            callers.emplace_back([&totals, t] {
                parbench::strategies::openmp s(4);
                for (int r = 0; r < 50; ++r) totals[t] += s.run(k::count{}, 100);
            });
    }
    for (const auto total : totals) EXPECT_EQ(total, 5000u);
}

// OpenMP gives a team the threads asked for (num_threads), whatever the CPUs.
TEST(peers_openmp, destroying_it_ends_its_team) {
    expect_no_threads_left<parbench::strategies::openmp>(4, true);
    expect_no_threads_left<parbench::strategies::openmp>(64, true);
}
#endif

#if defined(PARBENCH_HAS_TBB)
TEST(peers_tbb, totals_for_many_workers) { expect_totals<parbench::strategies::tbb>(64); }

TEST(peers_tbb, one_arena_reused_across_runs) {
    parbench::strategies::tbb s(4);
    std::uint64_t total = 0;
    for (int r = 0; r < 2000; ++r) total += s.run(k::count{}, 64);
    EXPECT_EQ(total, 2000u * 64u);
}

// Building it brings TBB's workers up, before any run: a run does not pay their start (the benchmarks build the
// strategy outside the timing). TBB starts workers only where there is more than one CPU.
TEST(peers_tbb, building_it_starts_the_workers) {
    if (parbench::detail::available_cpus() < 2) GTEST_SKIP() << "one CPU: TBB starts no workers";
    const std::size_t before = threads_now();
    const parbench::strategies::tbb s(2);
    EXPECT_EQ(threads_now(), before + 1);
}

// TBB starts workers only where there is more than one CPU.
TEST(peers_tbb, destroying_it_ends_the_workers) {
    const bool starts = parbench::detail::available_cpus() > 1;
    expect_no_threads_left<parbench::strategies::tbb>(4, starts);
    expect_no_threads_left<parbench::strategies::tbb>(64, starts);
}

// While TBB is in use elsewhere (another strategy's arena), destroying one strategy leaves that one working.
TEST(peers_tbb, destroying_one_leaves_another_working) {
    std::optional<parbench::strategies::tbb> first(std::in_place, 2);
    std::optional<parbench::strategies::tbb> second(std::in_place, 2);
    EXPECT_EQ(first->run(k::count{}, 1000), 1000u);
    EXPECT_EQ(second->run(k::count{}, 1000), 1000u);
    first.reset();
    for (int r = 0; r < 100; ++r) ASSERT_EQ(second->run(k::sum_range{}, 100), 4950u);
    second.reset();
    first.emplace(2);
    EXPECT_EQ(first->run(k::count{}, 1000), 1000u);
}
#endif

}  // namespace
