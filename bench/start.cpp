// overhead/start/...: starting and reaping one thread or process, us_per_op. A thread that did not run, or a child
// that did not exit 0, is an error, never a time (docs/overhead.md). docs/processes.md says what each of Python's
// start methods pays for:
//   overhead/start/{thread,fork,posix_spawn}  a thread, a fork of this process, posix_spawn of /bin/true
//   overhead/start/spawn_self                 a fresh copy of bench_parallel in its worker mode runs a one-element
//                                             count: exec, dynamic linking, static initialisation, request, result
//   overhead/start/forkserver                 the same one-element count, forked by a fork server that runs
//                                             already (it starts with the strategy, outside the timing)
//   overhead/start/fork/parent_mib:M          fork + _exit + wait with M MiB more touched in this process first
//   overhead/start/pool/{fork,spawn,forkserver}/workers:W
//                                             a process_pool.executor of W workers started that way built, run
//                                             once on a one-element count and destroyed: its start-up and
//                                             shutdown, the only part that differs between the start methods (a
//                                             fork server, as in Python, runs already, outside the timing)
// The start methods also report parent_rss, this process's resident bytes as the timing starts. What forks this
// process while timed (fork, parent_mib:M, pool/fork) forks it at a defined size (--parbench_fork_parent_mib,
// fork_parent) and reports parent_anon, the anonymous memory a fork copies the page tables of.

#include <spawn.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "parbench/detail/child.hpp"
#include "parbench/detail/forkserver_client.hpp"
#include "parbench/kernels/count.hpp"
#include "parbench/strategies/process_pool.hpp"
#include "parbench/strategies/processes_forkserver.hpp"
#include "parbench/strategies/processes_spawn.hpp"

extern char** environ;

namespace parbench::bench {
namespace {

// Reaps pid and throws unless it exited with status 0.
void reap_ok(pid_t pid, const char* what) {
    const int status = parbench::detail::reap(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(std::string(what) + ": child did not exit 0 (" +
                                 parbench::detail::describe_status(status) + ")");
}

void fork_and_reap() {
    const pid_t pid = fork();
    if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid == 0) _exit(0);
    reap_ok(pid, "fork");
}

enum class rss { leave_out, report };

template <class Start>
void start_bench(benchmark::State& state, Start start, rss parent_rss = rss::leave_out) {
    try {
        if (parent_rss == rss::report)
            state.counters["parent_rss"] = benchmark::Counter(
                static_cast<double>(resident_bytes()), benchmark::Counter::kDefaults, benchmark::Counter::kIs1024);
        const auto t0 = std::chrono::steady_clock::now();
        for (auto _ : state) start();
        state.counters["us_per_op"] = detail::per_iteration(state, std::chrono::steady_clock::now() - t0) * 1e6;
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

// One run of a one-element count on a one-worker strategy S: one worker started and reaped.
template <class S>
void one_worker(benchmark::State& state) {
    try {
        const S strategy(1);
        start_bench(
            state,
            [&] {
                if (strategy.run(kernels::count{}, 1) != 1) throw std::runtime_error("wrong total from the worker");
            },
            rss::report);
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

// A pool of `workers` built, run once on a one-element count and destroyed, per iteration. The fork server, which
// Python too starts once per program, is started (and held) outside the timing; a fork pool forks this process,
// held at the defined size (fork_parent).
template <class Pool>
void pool_start(benchmark::State& state, unsigned workers) {
    try {
        std::shared_ptr<parbench::detail::forkserver_client> server;
        if constexpr (Pool::start_method == std::string_view("forkserver"))
            server = parbench::detail::forkserver_client::acquire();
        std::optional<fork_parent> parent;
        if constexpr (Pool::start_method == std::string_view("fork")) parent.emplace(detail::fork_parent_bytes());
        start_bench(
            state,
            [workers] {
                Pool pool(workers);
                if (pool.run(kernels::count{}, 1) != 1) throw std::runtime_error("wrong total from the pool");
            },
            rss::report);
        if (parent) detail::report_parent(state, *parent);
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

// fork + _exit + wait from the defined parent (fork_parent), with `mib` MiB more touched first.
void fork_with_parent(benchmark::State& state, std::size_t mib) {
    try {
        const fork_parent parent(detail::fork_parent_bytes());
        const touched_memory more(mib << 20);
        start_bench(state, fork_and_reap, rss::report);
        detail::report_parent(state, parent);
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

}  // namespace

// Order 50: after the kernel matrix and the families that model it, before anything slower.
PARBENCH_FAMILY(50, start) {
    register_benchmark("overhead/start/thread", [](benchmark::State& state) {
        start_bench(state, [] {
            std::atomic<bool> ran{false};
            std::thread t([&ran] { ran.store(true, std::memory_order_relaxed); });
            t.join();
            if (!ran.load(std::memory_order_relaxed)) throw std::runtime_error("thread did not run");
        });
    })->UseRealTime();
    register_benchmark("overhead/start/fork", [](benchmark::State& state) {
        fork_with_parent(state, 0);
    })->UseRealTime();
    register_benchmark("overhead/start/posix_spawn", [](benchmark::State& state) {
        start_bench(state, [] {
            static char true_path[] = "/bin/true";
            char* argv[] = {true_path, nullptr};
            pid_t pid = 0;
            if (const int rc = posix_spawn(&pid, true_path, nullptr, nullptr, argv, environ); rc != 0)
                throw std::system_error(rc, std::generic_category(), "posix_spawn /bin/true");
            reap_ok(pid, "posix_spawn /bin/true");
        });
    })->UseRealTime();
    register_benchmark("overhead/start/spawn_self", one_worker<strategies::processes_spawn>)->UseRealTime();
    register_benchmark("overhead/start/forkserver", one_worker<strategies::processes_forkserver>)->UseRealTime();
    constexpr unsigned pool_workers = 2;
    const std::string pool_suffix = "/workers:" + std::to_string(pool_workers);
    register_benchmark("overhead/start/pool/fork" + pool_suffix, [](benchmark::State& state) {
        pool_start<strategies::process_pool_executor>(state, pool_workers);
    })->UseRealTime();
    register_benchmark("overhead/start/pool/spawn" + pool_suffix, [](benchmark::State& state) {
        pool_start<strategies::process_pool_executor_spawn>(state, pool_workers);
    })->UseRealTime();
    register_benchmark("overhead/start/pool/forkserver" + pool_suffix, [](benchmark::State& state) {
        pool_start<strategies::process_pool_executor_forkserver>(state, pool_workers);
    })->UseRealTime();
    // The quick profile, a smoke run, leaves out 1024 MiB, which every repetition touches anew.
    const std::vector<std::size_t> parent_mibs = current_options().run_profile == profile::quick
                                                     ? std::vector<std::size_t>{64}
                                                     : std::vector<std::size_t>{64, 1024};
    for (const std::size_t mib : parent_mibs)
        register_benchmark("overhead/start/fork/parent_mib:" + std::to_string(mib), [mib](benchmark::State& state) {
            fork_with_parent(state, mib);
        })->UseRealTime();
}

}  // namespace parbench::bench
