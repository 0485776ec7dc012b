#pragma once
// The strategies of the benchmark matrix. Adding a strategy to every kernel, worker count and size is one entry
// here (plus its line in test/strategies.hpp for the equality tests).

#include "harness.hpp"
#include "parbench/peers.hpp"

namespace parbench::bench {

namespace s = parbench::strategies;

// with_peers appends openmp and tbb where the build has them.
using all = with_peers<strategy_list<s::sequential, s::single_thread, s::threads, s::thread_pool,
                                     s::thread_pool_condvar, s::processes_pipe, s::processes_shm, s::processes_spawn,
                                     s::processes_forkserver, s::process_pool,
                                     s::process_pool_executor, s::gil_threads>>;

}  // namespace parbench::bench
