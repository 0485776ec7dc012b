#pragma once
// parbench: workload kernels and ways of running them in parallel. Include this, or the one header you need.

#include "chunk.hpp"
#include "error.hpp"
#include "kernel.hpp"
#include "version.hpp"
#include "worker_main.hpp"

#include "kernels/count.hpp"
#include "kernels/locked_counter.hpp"
#include "kernels/random_max.hpp"
#include "kernels/sleep_tasks.hpp"
#include "kernels/sum_range.hpp"

#include "strategies/gil_threads.hpp"
#include "strategies/process_pool.hpp"
#include "strategies/processes.hpp"
#include "strategies/processes_forkserver.hpp"
#include "strategies/processes_spawn.hpp"
#include "strategies/sequential.hpp"
#include "strategies/single_thread.hpp"
#include "strategies/thread_pool.hpp"
#include "strategies/thread_pool_condvar.hpp"
#include "strategies/threads.hpp"

#include "peers.hpp"  // openmp, tbb: only where the build has them

namespace parbench {

// Runs kernel k over [0, n) with a strategy S built for `workers` workers, e.g.
//   parbench::run<parbench::strategies::threads>(parbench::kernels::count{}, 1'000'000, 4);
// Pools are built and torn down around the call; keep an S yourself to reuse one.
template <class S, kernel K>
typename K::result run(const K& k, std::uint64_t n, unsigned workers) {
    S strategy(workers);
    return strategy.run(k, n);
}

}  // namespace parbench
