// overhead/...: the fixed costs the seeds explain their results with, measured directly (docs/overhead.md).
//   overhead/start/{thread,fork,posix_spawn}                     starting and reaping one thread or process
//   overhead/dispatch/<strategy>/workers:W                        one fork-join round trip of W empty tasks
//   overhead/dispatch_work/<strategy>/workers:W/task_us:T         W tasks of T us each: where work pays for it
//   overhead/contention/<variant>/workers:W                       W threads hammering shared state
//   overhead/idle/<strategy>/workers:W                            CPU burnt between runs, once workers have parked
// dispatch, dispatch_work and idle run every strategy in `all`, so a strategy added there is measured here too.
// Each reports its figure as ns_per_op or us_per_op; wrong totals and failed runs are errors, never times.

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "parbench/detail/fork_join.hpp"
#include "parbench/detail/spin.hpp"
#include "strategies.hpp"

extern char** environ;

namespace parbench::bench {
namespace {

using clock_type = std::chrono::steady_clock;
using benchmark::Counter;

double per_iteration(clock_type::duration total, benchmark::State& state) {
    return std::chrono::duration<double>(total).count() / static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
}

// ---- start: one thread or process, started and reaped ----------------------------------------------------

// Reaps pid and throws unless it exited with status 0.
void reap(pid_t pid, const char* what) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw std::system_error(errno, std::generic_category(), "waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(std::string(what) + ": child did not exit 0 (status " + std::to_string(status) + ")");
}

template <class Start>
void start_bench(benchmark::State& state, Start start) {
    try {
        const auto t0 = clock_type::now();
        for (auto _ : state) start();
        state.counters["us_per_op"] = per_iteration(clock_type::now() - t0, state) * 1e6;
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
    }
}

void add_start() {
    benchmark::RegisterBenchmark("overhead/start/thread", [](benchmark::State& state) {
        start_bench(state, [] {
            std::atomic<bool> ran{false};
            std::thread t([&ran] { ran.store(true, std::memory_order_relaxed); });
            t.join();
            if (!ran.load(std::memory_order_relaxed)) throw std::runtime_error("thread did not run");
        });
    })->UseRealTime();
    benchmark::RegisterBenchmark("overhead/start/fork", [](benchmark::State& state) {
        start_bench(state, [] {
            const pid_t pid = fork();
            if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
            if (pid == 0) _exit(0);
            reap(pid, "fork");
        });
    })->UseRealTime();
    benchmark::RegisterBenchmark("overhead/start/posix_spawn", [](benchmark::State& state) {
        start_bench(state, [] {
            static char true_path[] = "/bin/true";
            char* argv[] = {true_path, nullptr};
            pid_t pid = 0;
            if (const int rc = posix_spawn(&pid, true_path, nullptr, nullptr, argv, environ); rc != 0)
                throw std::system_error(rc, std::generic_category(), "posix_spawn /bin/true");
            reap(pid, "posix_spawn /bin/true");
        });
    })->UseRealTime();
}

// ---- dispatch and dispatch_work: fork-join round trips through every strategy -----------------------------

// W chunks of one element each; every element spins for `task` (zero: an empty task). Total: the element count.
struct spin_tasks {
    using result = std::uint64_t;
    static constexpr std::string_view name = "spin_tasks";
    std::chrono::nanoseconds task{0};

    [[nodiscard]] result run(chunk c) const noexcept {
        if (task.count() > 0)
            for (std::uint64_t i = c.begin; i < c.end; ++i) detail::spin_for(task);
        return c.size();
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept { return n; }
};
static_assert(kernel<spin_tasks>);

// One strategy object, one round trip per iteration, each total checked. ideal_s > 0 adds the work counters.
template <class S>
void round_trips(benchmark::State& state, unsigned workers, spin_tasks k, double ideal_s) {
    try {
        S strategy(workers);
        const usage before = usage::now();
        const auto t0 = clock_type::now();
        for (auto _ : state) {
            const auto total = strategy.run(k, workers);
            if (total != workers) {
                detail::fail(state, "wrong total: got " + std::to_string(total) + ", expected " + std::to_string(workers));
                return;
            }
            benchmark::DoNotOptimize(total);
        }
        const double seconds = per_iteration(clock_type::now() - t0, state);
        const usage after = usage::now();
        if (ideal_s > 0) {
            state.counters["us_per_op"] = seconds * 1e6;
            state.counters["ideal_us"] = ideal_s * 1e6;
            state.counters["overhead_us"] = (seconds - ideal_s) * 1e6;
            state.counters["efficiency"] = ideal_s / seconds;
        } else {
            state.counters["ns_per_op"] = seconds * 1e9;
        }
        state.counters["csw_voluntary"] =
            Counter(static_cast<double>(after.voluntary - before.voluntary), Counter::kAvgIterations);
        state.counters["csw_involuntary"] =
            Counter(static_cast<double>(after.involuntary - before.involuntary), Counter::kAvgIterations);
        if (workers > hardware_threads()) state.SetLabel("oversubscribed");
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
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
        benchmark::RegisterBenchmark(name.c_str(), [w](benchmark::State& state) {
            round_trips<S>(state, w, spin_tasks{}, 0.0);
        })->UseRealTime();
    }
    for (const unsigned w : ww) {
        for (const unsigned t : task_us) {
            const std::string name = "overhead/dispatch_work/" + strategy + "/workers:" + std::to_string(w) +
                                     "/task_us:" + std::to_string(t);
            // W tasks of T us on min(W, CPUs) CPUs take ceil(W / CPUs) * T at best.
            const unsigned cpus = std::min(w, hardware_threads());
            const double ideal = static_cast<double>((w + cpus - 1) / cpus) * t * 1e-6;
            benchmark::RegisterBenchmark(name.c_str(), [w, t, ideal](benchmark::State& state) {
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

// ---- idle: the CPU a strategy's workers use between runs, after their spin budgets ----------------------------

// Longer than every pool's spin before it parks: ours spin up to 100 us; libgomp, by default, 300,000 pause
// loops (GOMP_SPINCOUNT), a few milliseconds.
constexpr auto settle = std::chrono::milliseconds(20);
constexpr auto idle_window = std::chrono::milliseconds(50);

// Per iteration: one run, `settle` to let the workers park, then the CPU the process and its live children use
// while the caller sleeps for `idle_window`. idle_cpu_pct: that CPU as a share of one CPU over the window (100 =
// one CPU busy all the time); it includes the sleeping caller's own wake-up, a few microseconds.
// children_measured: the live children the clock found (a process pool's workers); where /proc lists none, their
// CPU is missing from idle_cpu_pct, and this counter shows it.
template <class S>
void idle(benchmark::State& state, unsigned workers) {
    try {
        S strategy(workers);
        double busy = 0;
        double window = 0;
        std::size_t children = 0;
        for (auto _ : state) {
            const auto total = strategy.run(spin_tasks{}, workers);
            if (total != workers) {
                detail::fail(state, "wrong total: got " + std::to_string(total) + ", expected " + std::to_string(workers));
                return;
            }
            std::this_thread::sleep_for(settle);
            const cpu_clock cpu;  // lists the children outside the window: /proc reads cost hundreds of us
            const double c0 = cpu.seconds();
            const auto t0 = clock_type::now();
            std::this_thread::sleep_for(idle_window);
            busy += cpu.seconds() - c0;
            children = cpu.children();
            window += std::chrono::duration<double>(clock_type::now() - t0).count();
        }
        state.counters["idle_cpu_pct"] = 100.0 * busy / window;
        state.counters["children_measured"] = static_cast<double>(children);
        if (workers > hardware_threads()) state.SetLabel("oversubscribed");
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
    }
}

// At as many workers as CPUs (where pools spin) and far past them (where they must not).
template <class... S>
void add_all_idle(strategy_list<S...>) {
    const std::vector<unsigned> many{hardware_threads(), std::max(64u, 4 * hardware_threads())};
    const std::vector<unsigned> one{1};
    (
        [&] {
            for (const unsigned w : S::sweeps_workers ? many : one) {
                const std::string name = "overhead/idle/" + std::string(S::name) + "/workers:" + std::to_string(w);
                benchmark::RegisterBenchmark(name.c_str(), [w](benchmark::State& state) { idle<S>(state, w); })
                    ->UseRealTime();
            }
        }(),
        ...);
}

// ---- contention: W threads (a thread_pool's workers) each doing ops_per_worker operations on shared state ----

constexpr std::uint64_t ops_per_worker = 1 << 14;

// The worker's index, from its chunk: n = W * ops_per_worker cuts into chunks of exactly ops_per_worker.
constexpr std::uint64_t worker_of(chunk c) noexcept { return c.begin / ops_per_worker; }

struct one_atomic_ops {
    using result = std::uint64_t;
    static constexpr std::string_view name = "one_atomic";
    struct shared_state {
        std::atomic<std::uint64_t> counter{0};
    };
    result run(chunk c, shared_state& s) const noexcept {
        for (std::uint64_t i = c.begin; i < c.end; ++i) s.counter.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    result finish(shared_state& s, result) const noexcept { return s.counter.load(); }
    static constexpr result combine(result a, result b) noexcept { return a + b; }
    constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

// Eight counters on one cache line, worker i incrementing counter i % 8: false sharing, no logical sharing.
struct same_line_ops {
    using result = std::uint64_t;
    static constexpr std::string_view name = "same_line";
    struct shared_state {
        alignas(::parbench::detail::cache_line) std::atomic<std::uint64_t> counters[8]{};
    };
    result run(chunk c, shared_state& s) const noexcept {
        auto& mine = s.counters[worker_of(c) % 8];
        for (std::uint64_t i = c.begin; i < c.end; ++i) mine.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    result finish(shared_state& s, result) const noexcept {
        result sum = 0;
        for (const auto& x : s.counters) sum += x.load();
        return sum;
    }
    static constexpr result combine(result a, result b) noexcept { return a + b; }
    constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

// One counter per cache line per worker (64 lines; workers beyond 64 share them).
struct padded_ops {
    using result = std::uint64_t;
    static constexpr std::string_view name = "padded";
    struct shared_state {
        ::parbench::detail::padded<std::atomic<std::uint64_t>> counters[64]{};
    };
    result run(chunk c, shared_state& s) const noexcept {
        auto& mine = s.counters[worker_of(c) % 64].value;
        for (std::uint64_t i = c.begin; i < c.end; ++i) mine.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    result finish(shared_state& s, result) const noexcept {
        result sum = 0;
        for (const auto& x : s.counters) sum += x.value.load();
        return sum;
    }
    static constexpr result combine(result a, result b) noexcept { return a + b; }
    constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

struct mutex_ops {
    using result = std::uint64_t;
    static constexpr std::string_view name = "mutex";
    struct shared_state {
        std::mutex m;
        std::uint64_t counter = 0;
    };
    result run(chunk c, shared_state& s) const {
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            std::lock_guard lock(s.m);
            ++s.counter;
        }
        return 0;
    }
    result finish(shared_state& s, result) const noexcept { return s.counter; }
    static constexpr result combine(result a, result b) noexcept { return a + b; }
    constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

// Copies (and drops) one shared std::shared_ptr: every copy is an atomic increment and decrement of one shared
// reference count, which is what CPython would do on every object access without its GIL (seed 002). The total
// counts the copies, and is wrong if a reference leaked.
struct shared_ptr_ops {
    using result = std::uint64_t;
    static constexpr std::string_view name = "shared_ptr";
    struct shared_state {
        std::shared_ptr<const std::uint64_t> object = std::make_shared<const std::uint64_t>(1);
    };
    result run(chunk c, shared_state& s) const noexcept {
        result sum = 0;
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            std::shared_ptr<const std::uint64_t> copy = s.object;
            benchmark::DoNotOptimize(copy);
            sum += *copy;
        }
        return sum;
    }
    result finish(shared_state& s, result copies) const noexcept { return s.object.use_count() == 1 ? copies : 0; }
    static constexpr result combine(result a, result b) noexcept { return a + b; }
    constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

template <class K>
void contention(benchmark::State& state, unsigned workers) {
    static_assert(stateful_kernel<K>);
    try {
        strategies::thread_pool pool(workers);
        const K k{};
        const std::uint64_t n = workers * ops_per_worker;
        const auto t0 = clock_type::now();
        for (auto _ : state) {
            const auto total = pool.run(k, n);
            if (total != n) {
                detail::fail(state, "wrong total: got " + std::to_string(total) + ", expected " + std::to_string(n));
                return;
            }
        }
        const double seconds = per_iteration(clock_type::now() - t0, state);
        // Each worker's time per operation: flat in W where nothing is shared, rising with W where it is.
        state.counters["ns_per_op"] = seconds / static_cast<double>(ops_per_worker) * 1e9;
        state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
        if (workers > hardware_threads()) state.SetLabel("oversubscribed");
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
    }
}

template <class... K>
void add_contention(const std::vector<unsigned>& workers) {
    (
        [&] {
            for (const unsigned w : workers) {
                const std::string name = "overhead/contention/" + std::string(K::name) + "/workers:" + std::to_string(w);
                benchmark::RegisterBenchmark(name.c_str(), [w](benchmark::State& state) {
                    contention<K>(state, w);
                })->UseRealTime();
            }
        }(),
        ...);
}

}  // namespace

// Order 50: after the kernel matrix and the families that model it, before anything slower.
PARBENCH_FAMILY(50, overhead) {
    const auto& w = workers_in_force();
    add_start();
    // The quick profile sizes dispatch_work to the break-even question alone: all CPUs busy.
    const std::vector<unsigned> hw{hardware_threads()};
    const auto& work_workers =
        current_options().sweep == profile::quick && !current_options().workers ? hw : workers_up_to_cpus();
    add_all_dispatch(all{}, w, work_workers);
    add_contention<one_atomic_ops, same_line_ops, padded_ops, mutex_ops, shared_ptr_ops>(w);
    add_all_idle(all{});
}

}  // namespace parbench::bench
