// overhead/idle/<strategy>/workers:W: the CPU a strategy's workers burn between runs, once their spin budgets are
// spent (idle_cpu_pct, children_measured); thread_pool.spin's never are. Runs the overhead families' strategies
// and the pools that spin while idle (idle_strategies, strategies.hpp); a wrong total is an error, never a figure
// (docs/thread_pool.md).

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "spin_tasks.hpp"
#include "strategies.hpp"

namespace parbench::bench {
namespace {

// Longer than every pool's spin before it parks, ours (thread_pool.hpp, process_pool.hpp) and libgomp's default
// GOMP_SPINCOUNT alike; docs/thread_pool.md gives the budgets.
constexpr auto settle = std::chrono::milliseconds(20);
constexpr auto idle_window = std::chrono::milliseconds(50);

// Per iteration: one run, `settle` to let the workers park, then the CPU the process and its live children use
// while the caller sleeps for `idle_window`. idle_cpu_pct: that CPU as a share of one CPU over the window (100 =
// one CPU busy all the time); it includes the sleeping caller's own wake-up.
// children_measured: the live descendants the clock found (a process pool's workers, processes.forkserver's server;
// never a process of an earlier benchmark: each strategy is built and destroyed here); where /proc lists none,
// their CPU is missing from idle_cpu_pct, and this counter shows it.
template <class S>
void idle(benchmark::State& state, unsigned workers) {
    try {
        S strategy(workers);
        double busy = 0;
        double window = 0;
        std::size_t children = 0;
        const auto ran = detail::checked_loop(
            state, [&] { return strategy.run(spin_tasks{}, workers); }, spin_tasks{}.expected(workers),
            [&] {
                std::this_thread::sleep_for(settle);
                const cpu_clock cpu;  // lists the children outside the window: reading /proc is not free
                const double c0 = cpu.seconds();
                const auto t0 = std::chrono::steady_clock::now();
                std::this_thread::sleep_for(idle_window);
                busy += cpu.seconds() - c0;
                children = cpu.children();
                window += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            });
        if (!ran) return;
        state.counters["idle_cpu_pct"] = 100.0 * busy / window;
        state.counters["children_measured"] = static_cast<double>(children);
        if (workers > hardware_threads()) state.SetLabel("oversubscribed");
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

// At as many workers as CPUs (where pools spin) and far past them (where they must not). The quick profile, a
// smoke run, takes the first alone: every benchmark here sleeps settle + idle_window an iteration, and the
// matrix's oversubscribed points start more workers than CPUs already. A pool that spins while idle
// (thread_pool.spin) takes the first alone too: past the CPUs it does not spin, and is thread_pool.
template <class... S>
void add_all_idle(strategy_list<S...>) {
    const bool quick = current_options().run_profile == profile::quick && !current_options().workers;
    const std::vector<unsigned> many =
        quick ? std::vector<unsigned>{hardware_threads()}
              : std::vector<unsigned>{hardware_threads(), std::max(64u, 4 * hardware_threads())};
    const std::vector<unsigned> one{1};
    const std::vector<unsigned> cpus{hardware_threads()};
    (
        [&] {
            for (const unsigned w : !S::sweeps_workers ? one : detail::spins_while_idle<S> ? cpus : many) {
                const std::string name = "overhead/idle/" + std::string(S::name) + "/workers:" + std::to_string(w);
                register_benchmark(name, [w](benchmark::State& state) { idle<S>(state, w); })->UseRealTime();
            }
        }(),
        ...);
}

}  // namespace

// Order 53: the last of the overhead/ families, after overhead/contention (52).
PARBENCH_FAMILY(53, idle) { add_all_idle(idle_strategies{}); }

}  // namespace parbench::bench
