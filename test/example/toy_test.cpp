// The toy kernel and strategy (toy.hpp) through the tests every kernel and strategy of parbench's passes.

#include <gtest/gtest.h>

#include "conformance.hpp"
#include "parbench/worker_main.hpp"
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

// kernel_equality runs the toy kernel on every strategy parbench has, processes.spawn and processes.forkserver
// included, which start this program afresh in its hidden worker mode: so main hands such a process over first.
int main(int argc, char** argv) {
    parbench::worker_main(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
