#pragma once
// parbench: workload kernels and ways of running them in parallel. Include this, or the one header you need.

#include "chunk.hpp"
#include "error.hpp"
#include "kernel.hpp"
#include "strategy.hpp"
#include "version.hpp"

#include "kernels/count.hpp"
#include "kernels/locked_counter.hpp"
#include "kernels/random_max.hpp"
#include "kernels/sleep_tasks.hpp"
#include "kernels/sum_range.hpp"

#include "strategies/gil_threads.hpp"
#include "strategies/process_pool.hpp"
#include "strategies/processes.hpp"
#include "strategies/sequential.hpp"
#include "strategies/single_thread.hpp"
#include "strategies/thread_pool.hpp"
#include "strategies/thread_pool_condvar.hpp"
#include "strategies/threads.hpp"

#include "peers.hpp"  // openmp, tbb: only where the build has them

namespace parbench {

// Every strategy parbench has, in the order the benchmark matrix runs them (sequential first: the others'
// speedups are against it), followed by the peers this build has. The benchmark matrix (bench/strategies.hpp)
// and the typed tests (test/strategies.hpp) are both made from this list: a new strategy is one entry here.
using all_strategies = with_peers<
    type_list<strategies::sequential, strategies::single_thread, strategies::threads, strategies::thread_pool,
              strategies::thread_pool_condvar, strategies::processes_pipe, strategies::processes_shm,
              strategies::process_pool, strategies::process_pool_executor, strategies::gil_threads>>;
static_assert(all_strategies_in<all_strategies>, "every strategy satisfies parbench::strategy");

// Runs kernel k over [0, n) with a strategy S built for `workers` workers, e.g.
//   parbench::run<parbench::strategies::threads>(parbench::kernels::count{}, 1'000'000, 4);
// Pools are built and torn down around the call; keep an S yourself to reuse one.
template <strategy S, kernel K>
typename K::result run(const K& k, std::uint64_t n, unsigned workers) {
    S strategy(workers);
    return strategy.run(k, n);
}

}  // namespace parbench
