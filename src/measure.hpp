#pragma once
// Measuring one benchmark, written once for the kernel matrix and every family: the checked loop (every run's
// total against the kernel's oracle), the standard counters (page faults, context switches, peak RSS and the
// machine sample of disturbance.hpp), the CPU of the whole process tree and the error path. A family that builds its
// own strategy measures with measure_with(state, strategy, kernel, n, workers); a run that goes wrong calls fail(state,
// why): the benchmark is an error, never a time, and bench_parallel exits 1.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

#include "disturbance.hpp"
#include "interrupt.hpp"
#include "machine.hpp"
#include "parbench/parbench.hpp"

namespace parbench::bench {

void note_error();
[[nodiscard]] bool any_error();

// Ends this benchmark with the error `why` (no time is reported for it) and makes bench_parallel exit 1.
void fail(benchmark::State& state, const std::string& why);

// How long a strategy built now waits on its worker processes before it counts one as hung:
// --parbench_worker_deadline, else worker_deadline_scale x the slowest run so far, at least
// default_worker_deadline_floor_s.
[[nodiscard]] std::chrono::milliseconds worker_deadline();

// S for `workers`, with worker_deadline() where S waits on worker processes.
template <strategy S>
std::optional<S> build(unsigned workers) {
    if constexpr (std::is_constructible_v<S, unsigned, std::chrono::milliseconds>)
        return std::optional<S>(std::in_place, workers, worker_deadline());
    else
        return std::optional<S>(std::in_place, workers);
}

namespace detail {

template <class R>
std::string show(const R& r) {
    std::ostringstream out;
    out.precision(17);
    out << r;
    return out.str();
}

void spin_for(std::chrono::nanoseconds d) noexcept;
// Counts a benchmark's seconds per run towards worker_deadline()'s scale.
void note_run_seconds(double seconds) noexcept;
void set_counters(benchmark::State& state, std::uint64_t n, unsigned workers, const usage& before,
                  const machine_sample& machine_before, std::int64_t self_peak_kib);
// tree_cpu_s: the CPU seconds of the whole process tree per run (cpu_clock::tree_seconds); utilisation: that
// over the wall time per run times W (1 = W CPUs busy for the whole run).
void set_cpu_counters(benchmark::State& state, double cpu_seconds, double wall_seconds, unsigned workers);

}  // namespace detail

// A strategy whose workers are not in this process tree (mpi: the other ranks are children of Open MPI's daemons,
// on other hosts too): the tree's CPU would be rank 0's alone, a utilisation of about 1/W that the estimator would
// read as CPUs taken by another program, so it records neither tree_cpu_s nor utilisation.
template <class S>
constexpr bool workers_outside_tree = requires {
    requires S::workers_outside_tree;
};

namespace detail {

// Seconds per iteration of a timed loop that took `elapsed` in all.
[[nodiscard]] inline double per_iteration(const benchmark::State& state, std::chrono::steady_clock::duration elapsed) {
    const auto iterations = state.iterations() > 0 ? state.iterations() : 1;
    return std::chrono::duration<double>(elapsed).count() / static_cast<double>(iterations);
}

struct no_op {
    void operator()() const noexcept {}
};

// The checked loop, written once for the matrix and every family: per iteration one run() (a strategy's run),
// whose total must equal `expected`, then after_each(). Returns the seconds per iteration, or nullopt once a
// total was wrong or the run was interrupted (either already reported as the benchmark's error).
template <class Run, class R, class After = no_op>
std::optional<double> checked_loop(benchmark::State& state, Run run, const R& expected, After after_each = {}) {
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        if (interrupt::stop_if_requested(state)) return std::nullopt;
        const auto total = run();
        if (!(total == expected)) {
            fail(state, "wrong total: got " + show(total) + ", expected " + show(expected));
            return std::nullopt;
        }
        benchmark::DoNotOptimize(total);
        after_each();
    }
    return per_iteration(state, std::chrono::steady_clock::now() - t0);
}

}  // namespace detail

// The measured loop over a strategy built outside it: one run per iteration, each total checked, then the
// counters, the process tree's CPU among them. False when the run errored (already reported). Families with
// their own strategy arguments call this.
// With `owner` (the optional that holds `strategy`), the strategy is destroyed before the final rusage, so a
// pool's worker processes, reaped in its destructor, count in RUSAGE_CHILDREN. `machine`: the machine sample taken
// before the strategy was built (its own workers, still starting, would count as other processes ready to run);
// without it one is taken here.
template <strategy S, kernel K>
bool measure_with(benchmark::State& state, S& strategy, const K& k, std::uint64_t n, unsigned workers,
                  double slowdown = 0, std::optional<S>* owner = nullptr,
                  const std::optional<machine_sample>& machine_before = std::nullopt) {
    using clock = std::chrono::steady_clock;
    try {
        const auto expected = k.expected(n);
        reset_peak_rss();
        const machine_sample machine = machine_before ? *machine_before : machine_sample::now();
        const cpu_clock tree;  // lists a pool's live workers before timing: reading /proc is not free
        const usage before = usage::now();
        const double cpu0 = tree.tree_seconds();
        const auto t0 = clock::now();
        benchmark::IterationCount done = 0;
        const auto seconds = detail::checked_loop(
            state, [&] { return strategy.run(k, n); }, expected,
            [&] {
                // The slowdown knob spins once per batch, at its last iteration, for the fraction of the batch so
                // far: a clock read per iteration would add its own cost, a large share of a sub-microsecond run.
                if (slowdown > 0 && ++done == state.max_iterations)
                    detail::spin_for(
                        std::chrono::duration_cast<std::chrono::nanoseconds>((clock::now() - t0) * slowdown));
            });
        if (!seconds) return false;
        detail::note_run_seconds(*seconds);
        const double cpu = tree.tree_seconds() - cpu0;
        const std::int64_t self_peak = peak_rss_kib();
        if (owner != nullptr) owner->reset();
        detail::set_counters(state, n, workers, before, machine, self_peak);
        if constexpr (!workers_outside_tree<S>)
            detail::set_cpu_counters(
                state, cpu / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1)), *seconds,
                workers);
        return true;
    } catch (const std::exception& e) {
        fail(state, e.what());
        return false;
    }
}

}  // namespace parbench::bench
