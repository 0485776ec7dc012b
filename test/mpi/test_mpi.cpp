// The mpi strategy under mpirun (ctest runs this with 2 and 4 ranks): every kernel's total at every worker count
// the job allows, every chunk on its own rank, and the errors. Rank 0 runs the tests; the other ranks serve.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "parbench/mpi_session.hpp"
#include "parbench/parbench.hpp"
#include "parbench/strategies/mpi.hpp"

namespace k = parbench::kernels;
using parbench::strategies::mpi;

namespace {

unsigned ranks() { return mpi::available_workers(); }

std::vector<std::uint64_t> sizes_for(unsigned w, std::uint64_t cap) {
    std::vector<std::uint64_t> n = {0, 1, w - 1u, w, w + 1u, 1000, (std::uint64_t{1} << 20) + 3};
    for (auto& x : n) x = std::min(x, cap);
    return n;
}

template <class K>
void expect_totals(mpi& strategy, const K& kernel, unsigned w, std::uint64_t cap = UINT64_MAX) {
    for (const std::uint64_t n : sizes_for(w, cap)) {
        SCOPED_TRACE(std::string(K::name) + " n=" + std::to_string(n) + " workers=" + std::to_string(w));
        EXPECT_EQ(strategy.run(kernel, n), kernel.expected(n));
    }
}

TEST(mpi_equality, every_kernel_every_worker_count_the_job_allows) {
    ASSERT_GE(ranks(), 2u) << "run under mpirun -np 2 or more";
    for (unsigned w = 1; w <= ranks(); ++w) {
        mpi strategy(w);
        expect_totals(strategy, k::count{}, w);
        expect_totals(strategy, k::sum_range{}, w);
        expect_totals(strategy, k::random_max{7}, w);
        expect_totals(strategy, k::locked_counter_coarse{}, w);
        expect_totals(strategy, k::locked_counter_sharded{}, w);
        // One lock or one remote atomic per element: a lock round trip each, so smaller sizes.
        expect_totals(strategy, k::locked_counter_fine{}, w, 20'000);
        expect_totals(strategy, k::locked_counter_atomic{}, w, 20'000);
        expect_totals(strategy, k::sleep_tasks{std::chrono::microseconds(1)}, w, 300);
        // Data rank 0 holds: scattered to the ranks, the output gathered back (fresh arrays for every n).
        for (const std::uint64_t n : sizes_for(w, UINT64_MAX)) {
            SCOPED_TRACE("payload n=" + std::to_string(n) + " workers=" + std::to_string(w));
            const auto data = k::payload{.units = 4}.bind(n);
            EXPECT_EQ(strategy.run(data.kernel(), n), data.kernel().expected(n));
        }
    }
}

// Chunk i of n = W elements runs on rank i: the result is the set of ranks that ran a chunk.
struct rank_mask {
    using result = std::uint64_t;
    static constexpr std::string_view name = "rank_mask";
    [[nodiscard]] result run(parbench::chunk c) const {
        return c.empty() ? 0 : std::uint64_t{1} << parbench::detail::mpi::world().rank;
    }
    [[nodiscard]] static result combine(result a, result b) { return a | b; }
    [[nodiscard]] result expected(std::uint64_t n) const { return (std::uint64_t{1} << n) - 1; }
};

TEST(mpi_equality, each_chunk_runs_on_its_own_rank) {
    for (unsigned w = 1; w <= std::min(ranks(), 63u); ++w) {
        mpi strategy(w);
        EXPECT_EQ(strategy.run(rank_mask{}, w), rank_mask{}.expected(w)) << "workers=" << w;
    }
}

// Throws from the chunk that holds element `bad`.
struct throwing {
    using result = std::uint64_t;
    static constexpr std::string_view name = "throwing";
    std::uint64_t bad = 0;

    result run(parbench::chunk c) const {
        if (c.begin <= bad && bad < c.end) throw std::runtime_error("boom at " + std::to_string(bad));
        return c.size();
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};

TEST(mpi_errors, a_throwing_kernel_becomes_a_worker_error_naming_the_rank) {
    const unsigned w = ranks();
    mpi strategy(w);
    // n = 100 W in W chunks of 100: element 100 (W - 1) + 50 is in the last chunk, on the last rank.
    const std::uint64_t n = std::uint64_t{100} * w;
    const std::uint64_t bad = n - 50;
    try {
        (void)strategy.run(throwing{bad}, n);
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_EQ(e.worker(), w - 1);
        EXPECT_EQ(e.workers(), w);
        EXPECT_EQ(e.cause(), parbench::failure::exception);
        EXPECT_NE(std::string(e.what()).find("boom at " + std::to_string(bad)), std::string::npos) << e.what();
    }
    // The strategy, and every rank, is still usable after a failed run.
    EXPECT_EQ(strategy.run(throwing{UINT64_MAX}, n), n);
}

TEST(mpi_errors, every_rank_throwing_raises_one_error_for_the_first) {
    struct all_throw : throwing {
        result run(parbench::chunk) const { throw std::runtime_error("all fail"); }
    };
    mpi strategy(ranks());
    for (int round = 0; round < 3; ++round) {  // every rank's message is collected, none left for the next run
        try {
            (void)strategy.run(all_throw{}, 30);
            FAIL() << "no exception";
        } catch (const parbench::worker_error& e) {
            EXPECT_EQ(e.worker(), 0u);
            EXPECT_NE(std::string(e.what()).find("all fail"), std::string::npos) << e.what();
        }
    }
    EXPECT_EQ(strategy.run(k::count{}, 1000), 1000u);
}

TEST(mpi_errors, worker_counts_outside_the_job_are_invalid) {
    try {
        mpi strategy(0);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("between 1 and " + std::to_string(parbench::max_workers)),
                  std::string::npos)
            << e.what();
    }
    EXPECT_THROW(mpi(parbench::max_workers + 1), std::invalid_argument);
    try {
        mpi strategy(ranks() + 1);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("this job has " + std::to_string(ranks())), std::string::npos) << e.what();
    }
}

TEST(mpi_errors, one_strategy_at_a_time) {
    mpi first(1);
    EXPECT_THROW(mpi second(1), std::logic_error);
    EXPECT_EQ(first.run(k::count{}, 10), 10u);
}

}  // namespace

int main(int argc, char** argv) {
    parbench::mpi_session session(argc, argv);
    if (!session.is_root()) return session.serve();
    ::testing::InitGoogleTest(&argc, argv);
    if (!session.active()) {
        std::puts("SKIP: not started by mpirun (ctest runs this as mpirun -np 2 and -np 4)");
        return session.finish(77);
    }
    return session.finish(RUN_ALL_TESTS());
}
