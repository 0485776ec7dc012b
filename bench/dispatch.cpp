// overhead/dispatch/<strategy>/workers:W: one fork-join round trip of W empty tasks, ns_per_op.
// overhead/dispatch_work/<strategy>/workers:W/task_us:T: W tasks of T us each, where work pays for the round trip:
// us_per_op, ideal_us, overhead_us, efficiency. Both run every strategy in `all` (strategies.hpp), so a strategy
// added there is measured here too; a wrong total is an error, never a time (docs/overhead.md).

#include <algorithm>
#include <chrono>
#include <exception>
#include <string>
#include <vector>

#include "harness.hpp"
#include "spin_tasks.hpp"
#include "strategies.hpp"

namespace parbench::bench {
namespace {

// One strategy object, one round trip per iteration, each total checked. ideal_s > 0 adds the work counters.
template <class S>
void round_trips(benchmark::State& state, unsigned workers, spin_tasks k, double ideal_s) {
    using benchmark::Counter;
    try {
        S strategy(workers);
        const usage before = usage::now();
        const auto seconds = detail::checked_loop(
            state, [&] { return strategy.run(k, workers); }, k.expected(workers));
        if (!seconds) return;
        const usage after = usage::now();
        if (ideal_s > 0) {
            state.counters["us_per_op"] = *seconds * 1e6;
            state.counters["ideal_us"] = ideal_s * 1e6;
            state.counters["overhead_us"] = (*seconds - ideal_s) * 1e6;
            state.counters["efficiency"] = ideal_s / *seconds;
        } else {
            state.counters["ns_per_op"] = *seconds * 1e9;
        }
        state.counters["csw_voluntary"] =
            Counter(static_cast<double>(after.voluntary - before.voluntary), Counter::kAvgIterations);
        state.counters["csw_involuntary"] =
            Counter(static_cast<double>(after.involuntary - before.involuntary), Counter::kAvgIterations);
        if (workers > hardware_threads()) state.SetLabel("oversubscribed");
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

constexpr unsigned task_us[] = {1, 5, 20, 100};

template <class S>
void add_dispatch(const std::vector<unsigned>& dispatch_workers, const std::vector<unsigned>& work_workers) {
    const std::vector<unsigned> one{1};
    const auto& dw = S::sweeps_workers ? dispatch_workers : one;
    const auto& ww = S::sweeps_workers ? work_workers : one;
    const std::string strategy(S::name);
    for (const unsigned w : dw) {
        const std::string name = "overhead/dispatch/" + strategy + "/workers:" + std::to_string(w);
        register_benchmark(name, [w](benchmark::State& state) {
            round_trips<S>(state, w, spin_tasks{}, 0.0);
        })->UseRealTime();
    }
    for (const unsigned w : ww) {
        for (const unsigned t : task_us) {
            const std::string name = "overhead/dispatch_work/" + strategy + "/workers:" + std::to_string(w) +
                                     "/task_us:" + std::to_string(t);
            // W tasks of T us on min(W, CPUs) CPUs take ceil(W / CPUs) * T at best.
            const unsigned cpus = std::min(w, hardware_threads());
            const unsigned rounds = (w + cpus - 1) / cpus;  // ceil(W / CPUs)
            const double ideal = static_cast<double>(rounds) * t * 1e-6;
            register_benchmark(name, [w, t, ideal](benchmark::State& state) {
                round_trips<S>(state, w, spin_tasks{std::chrono::microseconds(t)}, ideal);
            })->UseRealTime();
        }
    }
}

template <class... S>
void add_all_dispatch(strategy_list<S...>, const std::vector<unsigned>& dispatch_workers,
                      const std::vector<unsigned>& work_workers) {
    (add_dispatch<S>(dispatch_workers, work_workers), ...);
}

}  // namespace

// Order 51: after overhead/start (50).
PARBENCH_FAMILY(51, dispatch) {
    // The quick profile sizes dispatch_work to the break-even question alone: all CPUs busy.
    const std::vector<unsigned> hw{hardware_threads()};
    const bool quick = current_options().run_profile == profile::quick && !current_options().workers;
    const auto& work_workers = quick ? hw : workers_up_to_cpus();
    add_all_dispatch(overhead_strategies{}, workers_in_force(), work_workers);
}

}  // namespace parbench::bench
