#pragma once
// The benchmark matrix: add_kernel<Strategies>(kernel, sizes) registers one kernel under every strategy of the
// list Strategies (a strategy_list), every worker count and size of the current profile, with names
// <kernel>/<strategy>/workers:W/n:N/real_time.
// Every run checks its total; a wrong total or a failed worker is a benchmark error, never a time (measure.hpp).
// Including this header gives a family file all it needs: PARBENCH_FAMILY (family.hpp) and measure_with.

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "estimate.hpp"
#include "family.hpp"
#include "interrupt.hpp"
#include "machine.hpp"
#include "measure.hpp"
#include "options.hpp"
#include "parbench/parbench.hpp"
#include "progress.hpp"

namespace parbench::bench {

// Sizes of one kernel, per profile.
struct sizes {
    std::vector<std::uint64_t> quick;
    std::vector<std::uint64_t> default_;
    std::vector<std::uint64_t> full;

    [[nodiscard]] const std::vector<std::uint64_t>& of(profile p) const {
        return p == profile::quick ? quick : p == profile::full ? full : default_;
    }
};

template <class... S>
struct strategy_list {};

// Workers 1, 2, 4, ... up to 2x the hardware threads, plus the hardware thread count (quick: 1, 2, hw, 2hw).
[[nodiscard]] std::vector<unsigned> worker_sweep(profile p, unsigned hw);
// The worker counts this run uses: --parbench_workers, or the sweep.
[[nodiscard]] const std::vector<unsigned>& workers_in_force();
// The same without the profile's oversubscribed counts (more workers than CPUs); --parbench_workers as given.
[[nodiscard]] const std::vector<unsigned>& workers_up_to_cpus();

// Whether the kernel matrix measures a strategy at `workers` and at the i-th of a kernel's `count` sizes. The
// default profile leaves out the points of its own sweep that say nothing new: one worker (the machinery's cost
// without parallelism) and more workers than CPUs except at the smallest and the largest n, and strategies that
// start processes on every run (starts_processes_per_run) except at the smallest n and the two largest, the only
// sizes where their start-up can be paid back. With --parbench_workers, and in the quick and full profiles, every
// point runs.
[[nodiscard]] bool in_sweep(bool starts_processes_per_run, unsigned workers, std::size_t i, std::size_t count);

namespace detail {

// Test knob --parbench_test_wrong_total: the kernel skips its last element, so its total is wrong while every
// strategy runs it for real.
template <plain_kernel K>
struct wrong_total {
    using result = typename K::result;
    static constexpr std::string_view name = K::name;
    K inner;
    std::uint64_t skip;

    [[nodiscard]] result run(chunk c) const {
        if (c.begin <= skip && skip < c.end)
            return K::combine(inner.run({c.begin, skip}), inner.run({skip + 1, c.end}));
        return inner.run(c);
    }
    [[nodiscard]] static result combine(result a, result b) { return K::combine(a, b); }
    [[nodiscard]] result expected(std::uint64_t n) const { return inner.expected(n); }
};

// A strategy whose every run forks the calling process (processes.pipe, processes.shm).
template <class S>
constexpr bool forks_caller = requires {
    requires S::forks_caller;
};

// The anonymous memory this process is held at (fork_parent) while a benchmark that forks it is timed, in bytes:
// --parbench_fork_parent_mib.
[[nodiscard]] inline std::int64_t fork_parent_bytes() {
    return static_cast<std::int64_t>(current_options().fork_parent_mib) << 20;
}
// The counter that says what such a benchmark's forks copied: the parent's anonymous memory as timing began.
inline void report_parent(benchmark::State& state, const fork_parent& parent) {
    state.counters["parent_anon"] = benchmark::Counter(static_cast<double>(parent.size()),
                                                       benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
}

// The CPU a baseline's call `call` of its benchmark runs on, from the machine sample before it: the slowest and
// the fastest CPU in turn (-1: run unpinned, where the sample could not tell CPUs apart). A static split over every
// CPU runs at its slowest CPU's speed: the baseline's repetitions on a slowed CPU meet those runs in the same state
// (tools/parbench/estimate.py), its repetitions on the fastest CPU give its time.
[[nodiscard]] inline int baseline_cpu(const machine_sample& m, unsigned call) noexcept {
    if (m.slowest_cpu < 0 || m.fastest_cpu < 0 || parbench::detail::available_cpus() < 2) return -1;
    return call % 2 == 0 ? m.slowest_cpu : m.fastest_cpu;
}

// The matrix's loop: the strategy is built from the worker count, outside the timing. A kernel whose data the
// caller holds (a payload kernel's bind(n)) gets its arrays for n here, before the strategy, for this benchmark
// alone. A strategy that does not sweep workers (the baseline, sequential, and single_thread) runs on one CPU,
// baseline_cpu(); its `cpu` counter says which.
template <strategy S, kernel K>
void measure_bound(benchmark::State& state, const K& k, std::uint64_t n, unsigned workers, double slowdown,
                   unsigned call) {
    try {
        if (interrupt::stop_if_requested(state)) return;
        std::optional<fork_parent> parent;
        if constexpr (forks_caller<S>) parent.emplace(fork_parent_bytes());
        note_repetition();
        machine_sample machine = machine_sample::now();
        std::optional<scoped_pin> pin;
        if constexpr (!S::sweeps_workers) {
            const int cpu = baseline_cpu(machine, call);
            if (cpu >= 0 && pin.emplace(cpu).pinned()) machine = machine.pinned_to(cpu);
        }
        std::optional<S> strategy = build<S>(workers);
        if (measure_with(state, *strategy, k, n, workers, slowdown, &strategy, std::optional(machine)) && parent)
            report_parent(state, *parent);
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

template <strategy S, kernel K>
void measure(benchmark::State& state, const K& k, std::uint64_t n, unsigned workers, double slowdown, unsigned call) {
    if constexpr (requires { k.bind(n); }) {
        try {
            if (interrupt::stop_if_requested(state)) return;
            const auto data = k.bind(n);
            measure_bound<S>(state, data.kernel(), n, workers, slowdown, call);
            // The output reached the caller's array, in its place: read back once the timed runs are done.
            if constexpr (requires { data.kernel().output_in_place(n); })
                if (!state.error_occurred() && !data.kernel().output_in_place(n))
                    fail(state,
                         std::string(S::name) + ": the caller's output is not what the runs wrote, in its place");
        } catch (const std::exception& e) {
            fail(state, e.what());
        }
    } else {
        measure_bound<S>(state, k, n, workers, slowdown, call);
    }
}

template <strategy S, kernel K>
void add_one(const K& k, std::uint64_t n, unsigned workers) {
    const auto& o = current_options();
    const double slow = o.slow && (o.slow->kernel == K::name || o.slow->kernel == "*") ? o.slow->fraction : 0.0;
    const std::string name = std::string(K::name) + "/" + std::string(S::name) + "/workers:" + std::to_string(workers) +
                             "/n:" + std::to_string(n);
    auto* b = register_benchmark(name, [k, n, workers, slow, calls = 0u](benchmark::State& state) mutable {
        measure<S>(state, k, n, workers, slow, calls++);
    });
    b->UseRealTime()
        ->ComputeStatistics("fastest", estimate::fastest)
        ->ComputeStatistics("fastest_low", estimate::fastest_low)
        ->ComputeStatistics("fastest_high", estimate::fastest_high);
}

// Says once per strategy that W workers and above are not registered, and why.
void note_unavailable(std::string_view strategy, unsigned workers, const std::string& why);

// A strategy with fewer workers than the sweep asks for (mpi: its job's ranks) says so with
// available_workers() and unavailable_reason(); W above that is not registered.
template <class S>
bool available(unsigned workers) {
    if constexpr (requires { S::available_workers(); }) {
        if (workers <= S::available_workers()) return true;
        note_unavailable(S::name, workers, S::unavailable_reason());
        return false;
    } else {
        return true;
    }
}

// A strategy that starts its W worker processes on every run (processes.pipe, .shm, .spawn, .forkserver): one
// built on parbench::per_run_processes, whatever its name.
template <class S>
constexpr bool starts_processes_per_run = std::is_base_of_v<parbench::per_run_processes, S>;

// A process pool whose workers are started by spawn or the fork server (process_pool[.executor].{spawn,forkserver}).
// Once started it dispatches as its fork twin does (overhead/start/pool/ times the start-up, the one difference),
// so the quick and default profiles measure it at one point per kernel: the smallest n, where dispatch is all a
// run costs, at as many workers as CPUs. The full profile and --parbench_workers measure every point.
template <class S>
constexpr bool started_pool = requires {
    requires S::start_method != std::string_view("fork");
};

[[nodiscard]] inline bool started_pool_point(unsigned workers, std::size_t i) {
    const auto& o = current_options();
    return o.workers || o.run_profile == profile::full || (i == 0 && workers == parbench::detail::available_cpus());
}

// A dynamic-scheduling strategy (thread_pool.dynamic, openmp.dynamic) differs from its static twin only where
// items cost different amounts: outside the full profile it runs on the uneven kernels (K::uneven) alone, and the
// overhead families, whose tasks cost the same, leave it out (bench/strategies.hpp).
template <class S>
constexpr bool schedules_dynamically = requires {
    requires S::schedules_dynamically;
};
// A pool whose idle workers spin while it lives (thread_pool.spin): outside the full profile and --parbench_workers
// it runs on the uneven kernels alone (where static halves leave a worker idle, the CPU it burns there is the
// question), at 2 to as many workers as CPUs (one worker has nothing to spin, and past the CPUs it does not spin);
// overhead/idle measures it at as many workers as CPUs and the other overhead families leave it out.
template <class S>
constexpr bool spins_while_idle = requires {
    requires S::spins_while_idle;
};
[[nodiscard]] inline bool spinning_pool_point(unsigned workers) {
    const auto& o = current_options();
    return o.workers || o.run_profile == profile::full ||
           (workers >= 2 && workers <= parbench::detail::available_cpus());
}
template <class K>
constexpr bool uneven_kernel = requires {
    requires K::uneven;
};
// On the uneven kernels, outside the full profile: the static strategies beside their dynamic twins and the
// baseline, not every way of starting a process.
inline constexpr std::string_view uneven_pairs[] = {"sequential",   "threads", "thread_pool",
                                                    "process_pool", "openmp",  "tbb"};
// On a payload kernel, outside the full profile: the baseline, the threads (OpenMP and TBB share the data as they
// do) and every way of moving the data to processes (the pools started by spawn or the fork server ship it as
// their fork twins do, at one point).
inline constexpr std::string_view payload_movers[] = {
    "sequential",           "threads",       "thread_pool",           "gil_threads",
    "processes.pipe",       "processes.shm", "processes.cow",         "processes.spawn",
    "processes.forkserver", "process_pool",  "process_pool.executor", "mpi"};
template <class S, class K>
[[nodiscard]] bool in_profile() {
    if (current_options().run_profile == profile::full) return true;
    if constexpr (payload_kernel<K>)
        return std::find(std::begin(payload_movers), std::end(payload_movers), S::name) != std::end(payload_movers) ||
               started_pool<S>;
    // processes.cow differs from processes.pipe on payload kernels alone.
    if (S::name == std::string_view("processes.cow")) return false;
    if constexpr (spins_while_idle<S>)
        return uneven_kernel<K>;
    else if constexpr (uneven_kernel<K>)
        return schedules_dynamically<S> ||
               std::find(std::begin(uneven_pairs), std::end(uneven_pairs), S::name) != std::end(uneven_pairs);
    else
        return !schedules_dynamically<S>;
}

template <kernel K, strategy... S>
void add_all(const K& k, const sizes& s, strategy_list<S...>) {
    const auto& all_n = s.of(current_options().run_profile);
    for (std::size_t i = 0; i < all_n.size(); ++i) {
        const std::uint64_t n = all_n[i];
        (
            [&] {
                if (!in_profile<S, K>()) return;
                if constexpr (S::sweeps_workers) {
                    for (const unsigned w : workers_in_force())
                        // A payload kernel's sweep of B is about what processes pay per byte: every size.
                        if (in_sweep(starts_processes_per_run<S> && !payload_kernel<K>, w, i, all_n.size()) &&
                            (!started_pool<S> || started_pool_point(w, i)) &&
                            (!spins_while_idle<S> || spinning_pool_point(w)) && available<S>(w))
                            add_one<S>(k, n, w);
                } else if (available<S>(1)) {
                    add_one<S>(k, n, 1);
                }
            }(),
            ...);
    }
}

// Builds every strategy of the list once at the run's largest worker count, runs it on a small count and destroys
// it, ignoring failures (the benchmarks report those). What a strategy's first use leaves in the process for good
// (a runtime's allocator library loaded, malloc arenas, glibc's cache of thread stacks) is then there before the
// first benchmark, whichever benchmarks run, instead of arriving in the middle of a run.
template <strategy... S>
void warm_up(strategy_list<S...>) {
    const auto& w = workers_in_force();
    const unsigned most = w.empty() ? 1 : *std::max_element(w.begin(), w.end());
    (
        [&] {
            const unsigned workers = S::sweeps_workers ? most : 1;
            if (!available<S>(workers)) return;
            try {
                auto strategy = build<S>(workers);
                (void)strategy->run(kernels::count{}, workers);
            } catch (const std::exception&) {}
        }(),
        ...);
}

}  // namespace detail

// Registers kernel k under every strategy in Strategies at every size of the current profile.
template <class Strategies, kernel K>
requires all_strategies_in<Strategies>
void add_kernel(const K& k, const sizes& s) {
    const auto& o = current_options();
    if (o.wrong_total && *o.wrong_total == K::name) {
        if constexpr (plain_kernel<K> && !payload_kernel<K>) {
            for (const std::uint64_t n : s.of(o.run_profile))
                detail::add_all(detail::wrong_total<K>{k, n == 0 ? 0 : n - 1}, sizes{{n}, {n}, {n}}, Strategies{});
            return;
        } else {
            throw std::invalid_argument(
                "--parbench_test_wrong_total supports kernels without shared state or payload only");
        }
    }
    detail::add_all(k, s, Strategies{});
}

}  // namespace parbench::bench
