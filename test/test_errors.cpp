// Failures: a throwing kernel surfaces as worker_error naming the worker and carrying the message, in every
// strategy; invalid arguments are rejected with a message that says what is allowed.

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "strategies.hpp"

namespace {

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
static_assert(parbench::kernel<throwing>);

template <class S>
class errors : public ::testing::Test {};
TYPED_TEST_SUITE(errors, parbench::test::all_strategies, parbench::test::strategy_name);

TYPED_TEST(errors, a_throwing_kernel_becomes_a_worker_error) {
    TypeParam strategy(4);
    // n = 400 in 4 chunks of 100: element 250 is in chunk 2.
    try {
        (void)strategy.run(throwing{250}, 400);
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_EQ(e.worker(), 2u);
        EXPECT_EQ(e.workers(), 4u);
        EXPECT_EQ(e.cause(), parbench::failure::exception);
        EXPECT_NE(std::string(e.what()).find("boom at 250"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("worker 2 of 4"), std::string::npos) << e.what();
    }
    // The strategy is still usable after a failed run.
    EXPECT_EQ(strategy.run(throwing{1000}, 400), 400u);
}

TYPED_TEST(errors, every_chunk_throwing_still_raises_one_error) {
    TypeParam strategy(3);
    struct all_throw : throwing {
        result run(parbench::chunk) const { throw std::runtime_error("all fail"); }
    };
    EXPECT_THROW((void)strategy.run(all_throw{}, 30), parbench::worker_error);
}

TYPED_TEST(errors, zero_workers_is_invalid) {
    try {
        TypeParam strategy(0);
        FAIL() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("between 1 and 4096"), std::string::npos) << e.what();
    }
}

TYPED_TEST(errors, absurd_worker_counts_are_invalid) {
    EXPECT_THROW(TypeParam(parbench::max_workers + 1), std::invalid_argument);
    EXPECT_THROW(TypeParam(static_cast<unsigned>(-1)), std::invalid_argument);
}

TEST(errors_free_run, run_helper_builds_and_runs_a_strategy) {
    EXPECT_EQ(parbench::run<parbench::strategies::threads>(parbench::kernels::count{}, 1000, 3), 1000u);
    EXPECT_THROW((void)parbench::run<parbench::strategies::thread_pool>(parbench::kernels::count{}, 10, 0),
                 std::invalid_argument);
}

}  // namespace
