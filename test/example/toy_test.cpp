// The toy kernel and strategy (toy.hpp) through the tests every kernel and strategy of parbench's passes.

#include <gtest/gtest.h>

#include "conformance.hpp"
#include "toy.hpp"

namespace parbench::test {

INSTANTIATE_TYPED_TEST_SUITE_P(toy, strategy_equality, ::testing::Types<toy::async_tasks>, strategy_name);
INSTANTIATE_TYPED_TEST_SUITE_P(toy, strategy_errors, ::testing::Types<toy::async_tasks>, strategy_name);
INSTANTIATE_TYPED_TEST_SUITE_P(toy, kernel_equality, ::testing::Types<toy::squares>, strategy_name);

TEST(toy, the_toy_kernel_on_the_toy_strategy) {
    for (const unsigned w : worker_counts) {
        toy::async_tasks strategy(w);
        expect_totals(strategy, toy::squares{}, w);
    }
}

}  // namespace parbench::test
