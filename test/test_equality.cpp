// parbench's strategies and kernels through the conformance tests (conformance.hpp).

#include "conformance.hpp"

namespace parbench::test {

INSTANTIATE_TYPED_TEST_SUITE_P(parbench, strategy_equality, all_strategies, strategy_name);
INSTANTIATE_TYPED_TEST_SUITE_P(parbench, strategy_errors, all_strategies, strategy_name);
// parbench's kernels go through strategy_equality above, every one on every strategy; kernel_equality is for a
// kernel of one's own (test/example/toy_test.cpp).
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(kernel_equality);

}  // namespace parbench::test
