#pragma once
// The strategies of the benchmark matrix. Adding a strategy to every kernel, worker count and size is one entry
// here (plus its line in test/strategies.hpp for the equality tests).

#include "harness.hpp"

namespace parbench::bench {

namespace s = parbench::strategies;

using all = strategy_list<s::sequential, s::single_thread, s::threads, s::thread_pool, s::thread_pool_condvar>;

}  // namespace parbench::bench
