#pragma once
// The strategies of the benchmark matrix: every strategy parbench has (parbench::all_strategies, where a new
// strategy is one entry), peers included.

#include "harness.hpp"
#include "parbench/parbench.hpp"
#if defined(PARBENCH_HAS_MPI)
#include "parbench/strategies/mpi.hpp"
#endif

namespace parbench::bench {

using all = rebind_list<all_strategies, strategy_list>;

// The kernel matrix's strategies: `all`, then mpi where the build has MPI. mpi is not in all_strategies: its
// workers are the ranks of an MPI job, which the typed tests (run without mpirun) do not have, and the families
// that run every strategy read this process and its children; overhead/mpi/ measures its dispatch.
#if defined(PARBENCH_HAS_MPI)
using matrix = parbench::detail::append_peers<all, type_list<strategies::mpi>>::type;
#else
using matrix = all;
#endif

}  // namespace parbench::bench
