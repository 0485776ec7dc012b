// The toy kernel under sequential (the baseline of speedup) and the toy strategy, as a family of its own in a
// program of its own: parbench's harness (parbench_harness) plus this file.

#include "harness.hpp"
#include "toy.hpp"

namespace parbench::bench {

PARBENCH_FAMILY(0, toy) {
    add_kernel<strategy_list<strategies::sequential, toy::async_tasks>>(toy::squares{}, {{1024}, {1 << 16}, {1 << 20}});
}

}  // namespace parbench::bench
