#pragma once
// The strategies of the benchmark matrix. Adding a strategy to every kernel, worker count and size is one entry
// here (plus its line in test/strategies.hpp for the equality tests).

#include "harness.hpp"
#include "parbench/peers.hpp"
#if defined(PARBENCH_HAS_MPI)
#include "parbench/strategies/mpi.hpp"
#endif

namespace parbench::bench {

namespace s = parbench::strategies;

// with_peers appends openmp and tbb where the build has them.
using all = with_peers<strategy_list<s::sequential, s::single_thread, s::threads, s::thread_pool,
                                     s::thread_pool_condvar, s::processes_pipe, s::processes_shm, s::process_pool,
                                     s::process_pool_executor, s::gil_threads>>;

// The kernel matrix's strategies: `all`, then mpi where the build has MPI. The overhead families that run every
// strategy use `all`: mpi's ranks are not this process's children, and overhead/mpi/ measures its dispatch.
#if defined(PARBENCH_HAS_MPI)
using matrix = parbench::detail::append_peers<all, parbench::detail::type_list<s::mpi>>::type;
#else
using matrix = all;
#endif

}  // namespace parbench::bench
