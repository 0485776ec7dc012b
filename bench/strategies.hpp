#pragma once
// The strategies of the benchmark matrix: every strategy parbench has (parbench::all_strategies, where a new
// strategy is one entry), peers included.

#include <type_traits>

#include "harness.hpp"
#include "parbench/parbench.hpp"
#if defined(PARBENCH_HAS_MPI)
#include "parbench/strategies/mpi.hpp"
#endif

namespace parbench::bench {

namespace strategies_detail {
template <class... L>
struct concat {
    using type = strategy_list<>;
};
template <class... A, class... B, class... R>
struct concat<strategy_list<A...>, strategy_list<B...>, R...> : concat<strategy_list<A..., B...>, R...> {};
template <class... A>
struct concat<strategy_list<A...>> {
    using type = strategy_list<A...>;
};
// The strategies of List that the overhead families run; with Spinning, the pools that spin while idle too.
template <class List, bool Spinning>
struct overhead_only;
template <class... S, bool Spinning>
struct overhead_only<strategy_list<S...>, Spinning>
    : concat<std::conditional_t<detail::started_pool<S> || detail::schedules_dynamically<S> ||
                                    (detail::spins_while_idle<S> && !Spinning),
                                strategy_list<>, strategy_list<S>>...> {};
}  // namespace strategies_detail

using library_strategies = rebind_list<all_strategies, strategy_list>;

// The strategies the overhead families (dispatch, idle, ...) run: every one but the pools whose workers are
// started by spawn or the fork server. Those dispatch exactly as process_pool and process_pool.executor do (one
// transport; only how a worker process starts differs), so overhead/start/pool/ times their start-up instead; nor
// the dynamic-scheduling twins (thread_pool.dynamic, openmp.dynamic), whose pools and dispatch are their twins';
// nor thread_pool.spin, which dispatches as thread_pool does and differs only in what it burns while idle:
// overhead/idle (idle_strategies) measures that.
using overhead_strategies = typename strategies_detail::overhead_only<library_strategies, false>::type;
using idle_strategies = typename strategies_detail::overhead_only<library_strategies, true>::type;

// The kernel matrix's strategies: every one, then mpi where the build has MPI. The started pools run at one
// point per kernel outside the full profile (harness.hpp, started_pool_point).
// mpi is not in all_strategies: its workers are the ranks of an MPI job, which the typed tests (run without
// mpirun) do not have, and the families that run every strategy read this process and its children;
// overhead/mpi/ measures its dispatch.
#if defined(PARBENCH_HAS_MPI)
using matrix_strategies = parbench::detail::append_peers<library_strategies, type_list<strategies::mpi>>::type;
#else
using matrix_strategies = library_strategies;
#endif

}  // namespace parbench::bench
