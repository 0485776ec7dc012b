#pragma once
// Measuring one benchmark, written once for the kernel matrix and every family: the checked loop (every run's
// total against the kernel's oracle), the standard counters (page faults, context switches, peak RSS and the
// machine sample of disturbance.hpp), the CPU of the whole process tree and the error path. A family that builds its
// own strategy measures with measure_with(state, strategy, kernel, n, workers); a run that goes wrong calls fail(state,
// why): the benchmark is an error, never a time, and bench_parallel exits 1. A strategy with workers of its own
// whose runs are short gets one untimed, checked run before its timed loop (warm_up_below_s).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

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

// Runs shorter than this, of a strategy with W >= 2, follow one untimed run of the same benchmark (counter
// `warmed`). A virtual CPU left idle for a while (the benchmark before slept, or waited on children) may have lost
// its host core to another guest, and a worker woken onto it waits until the host gives the core back: the first
// run after such a pause carries that wait, a delay of the machine and not of the strategy, and on a run of a few
// milliseconds it can be as large as the run (docs/notebook/real_workloads.md, "A worker's first run after the
// CPUs idled"). A longer run carries it in proportion; there a warm-up run would cost more than it corrects.
inline constexpr double warm_up_below_s = 0.020;

namespace detail {

// This benchmark's seconds per run at its previous call, 0 before its first. Google Benchmark calls a benchmark
// more than once: to size its iterations, then once per repetition. Keyed by strategy, kernel, n and W; read and
// written by the thread that runs the benchmarks only.
template <class S, class K>
double& last_run_seconds(std::uint64_t n, unsigned workers) {
    static std::map<std::pair<std::uint64_t, unsigned>, double> seconds;
    return seconds[{n, workers}];
}

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
// `runs`: the runs between `before` and now, the timed ones and an untimed warm-up: faults and context switches are
// given per run of them.
void set_counters(benchmark::State& state, std::uint64_t n, unsigned workers, const usage& before,
                  const machine_sample& machine_before, std::int64_t self_peak_kib, double runs);
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

// One run() whose total must equal `expected`; false, reported as the benchmark's error, where it does not.
template <class Run, class R>
bool checked_run(benchmark::State& state, Run& run, const R& expected) {
    const auto total = run();
    if (!(total == expected)) {
        fail(state, "wrong total: got " + show(total) + ", expected " + show(expected));
        return false;
    }
    benchmark::DoNotOptimize(total);
    return true;
}

// The checked loop, written once for the matrix and every family: per iteration one run() (a strategy's run),
// whose total must equal `expected`, then after_each(). Returns the seconds per iteration, or nullopt once a
// total was wrong or the run was interrupted (either already reported as the benchmark's error).
template <class Run, class R, class After = no_op>
std::optional<double> checked_loop(benchmark::State& state, Run run, const R& expected, After after_each = {}) {
    const auto t0 = std::chrono::steady_clock::now();
    for (auto _ : state) {
        if (interrupt::stop_if_requested(state)) return std::nullopt;
        if (!checked_run(state, run, expected)) return std::nullopt;
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
        double& last_run = detail::last_run_seconds<S, K>(n, workers);
        const bool warm_up = S::sweeps_workers && workers >= 2 && last_run > 0 && last_run < warm_up_below_s;
        auto one_run = [&] { return strategy.run(k, n); };
        reset_peak_rss();
        const machine_sample machine = machine_before ? *machine_before : machine_sample::now();
        const cpu_clock tree;  // lists a pool's live workers before timing: reading /proc is not free
        const usage before = usage::now();
        const double cpu0 = tree.tree_seconds();
        // The warm-up runs last before the timed loop, so that the workers it woke are still awake; the counters
        // below cover it as one more run.
        const auto warm0 = clock::now();
        if (warm_up && !detail::checked_run(state, one_run, expected)) return false;
        const auto t0 = clock::now();
        benchmark::IterationCount done = 0;
        const auto seconds = detail::checked_loop(state, one_run, expected, [&] {
            // The slowdown knob spins once per batch, at its last iteration, for the fraction of the batch so
            // far: a clock read per iteration would add its own cost, a large share of a sub-microsecond run.
            if (slowdown > 0 && ++done == state.max_iterations)
                detail::spin_for(std::chrono::duration_cast<std::chrono::nanoseconds>((clock::now() - t0) * slowdown));
        });
        if (!seconds) return false;
        last_run = *seconds;
        detail::note_run_seconds(*seconds);
        const double cpu = tree.tree_seconds() - cpu0;
        const std::int64_t self_peak = peak_rss_kib();
        if (owner != nullptr) owner->reset();
        const double timed = static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
        const double runs = timed + (warm_up ? 1.0 : 0.0);
        const double warm_seconds = std::chrono::duration<double>(t0 - warm0).count();
        detail::set_counters(state, n, workers, before, machine, self_peak, runs);
        state.counters["warmed"] = warm_up ? 1.0 : 0.0;
        if constexpr (!workers_outside_tree<S>)
            detail::set_cpu_counters(state, cpu / runs, (warm_seconds + *seconds * timed) / runs, workers);
        return true;
    } catch (const std::exception& e) {
        fail(state, e.what());
        return false;
    }
}

}  // namespace parbench::bench
