// The toy kernel under sequential (the baseline of speedup) and the toy strategy, as a family of its own in a
// program of its own: parbench's harness (parbench_harness) plus this file. The second benchmark is registered by
// hand, as a family with arguments of its own is: register_benchmark, measure_with and fail (docs/extending.md).

#include <exception>

#include "harness.hpp"
#include "toy.hpp"

namespace parbench::bench {

PARBENCH_FAMILY(0, toy) {
    add_kernel<strategy_list<strategies::sequential, toy::async_tasks>>(toy::squares{}, {{1024}, {1 << 16}, {1 << 20}});
    // One strategy built once, outside the timing, and measured by hand at n = 65536 with 2 workers.
    register_benchmark("toy_by_hand/toy.async/workers:2", [](benchmark::State& state) {
        try {
            toy::async_tasks strategy(2);
            measure_with(state, strategy, toy::squares{}, 1 << 16, 2);
        } catch (const std::exception& e) {
            fail(state, e.what());
        }
    })->UseRealTime();
}

}  // namespace parbench::bench
