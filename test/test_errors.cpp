// The errors every strategy raises are checked for each in conformance.hpp (strategy_errors); here, the helper
// that builds a strategy for one run passes them on.

#include <gtest/gtest.h>

#include <stdexcept>

#include "parbench/parbench.hpp"

namespace {

TEST(errors_free_run, run_helper_builds_and_runs_a_strategy) {
    EXPECT_EQ(parbench::run<parbench::strategies::threads>(parbench::kernels::count{}, 1000, 3), 1000u);
    EXPECT_THROW((void)parbench::run<parbench::strategies::thread_pool>(parbench::kernels::count{}, 10, 0),
                 std::invalid_argument);
}

}  // namespace
