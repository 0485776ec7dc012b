// The sockets/ and scale/ families: I/O-bound work on real descriptors (seed 004, docs/seeds.md).
// - socket_tasks.delay_<D>us/<strategy>/workers:W/n:N: n requests to an echo server on loopback that answers after
//   D (0 and 1 ms), under the strategies that wait in different ways: threads, a pool, processes, the modelled
//   interpreter lock and the event loop.
// - scale: sleep_tasks and socket_tasks.delay_1000us at n = 1,000 (default profile) and 100, 1,000 and 10,000
//   (full): threads with one thread per task (where the machine cannot start them, the benchmark's error names
//   the limit), event_loop and event_loop.io_uring with every task in flight, thread_pool with 4 workers (full:
//   also the sweep's largest W). thread_pool x4 sleeps 2.5 s a run at n = 10,000, so the default profile leaves
//   that n out: `--parbench_profile=full --benchmark_filter='/n:10000/'` runs it alone (docs/event_loop.md).
// - socket_tasks.keepalive.delay_1000us, in scale beside socket_tasks.delay_1000us: the same requests on
//   connections kept across runs (socket_tasks::keep_alive, as a client with a connection pool), opened by one
//   untimed run before the timed ones, so a request costs its send, wait and receive and no connect or close.
// event_loop.io_uring is there where the build has liburing and the kernel gives this process an io_uring; else
// bench_parallel says once why it is left out. Each benchmark starts its own echo server and stops it when it
// ends (echo_server.hpp).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"
#if defined(PARBENCH_HAS_URING)
#include "parbench/strategies/event_loop_uring.hpp"
#endif

namespace parbench::bench {
namespace {

template <class S, class K>
void add_io(const std::string& kernel_name, const K& k, std::chrono::microseconds delay, std::uint64_t n,
            unsigned workers) {
    if (!detail::available<S>(workers)) return;
    const std::string name =
        kernel_name + "/" + std::string(S::name) + "/workers:" + std::to_string(workers) + "/n:" + std::to_string(n);
    auto* b = register_benchmark(name, [k, delay, n, workers](benchmark::State& state) {
        try {
            if constexpr (std::is_same_v<K, kernels::socket_tasks>) {
                const echo_server server(delay);
                K with_port = k;
                with_port.port = server.port();
                S strategy(workers);
                // Kept connections are opened once, by a run that is checked but not timed.
                if (k.keep_alive && strategy.run(with_port, n) != with_port.expected(n))
                    return fail(state, "wrong total in the run that opens the kept connections");
                (void)measure_with(state, strategy, with_port, n, workers);
            } else {
                S strategy(workers);
                (void)measure_with(state, strategy, k, n, workers);
            }
        } catch (const std::exception& e) {
            fail(state, e.what());
        }
    });
    b->UseRealTime()
        ->ComputeStatistics("fastest", estimate::fastest)
        ->ComputeStatistics("fastest_low", estimate::fastest_low)
        ->ComputeStatistics("fastest_high", estimate::fastest_high);
}

std::string socket_name(std::chrono::microseconds delay, bool keep_alive = false) {
    return std::string(keep_alive ? "socket_tasks.keepalive" : "socket_tasks") + ".delay_" +
           std::to_string(delay.count()) + "us";
}

template <class... S>
void add_sockets(strategy_list<S...>, std::chrono::microseconds delay, std::uint64_t n) {
    (
        [&] {
            if constexpr (S::sweeps_workers) {
                for (const unsigned w : workers_in_force())
                    add_io<S>(socket_name(delay), kernels::socket_tasks{}, delay, n, w);
            } else {
                add_io<S>(socket_name(delay), kernels::socket_tasks{}, delay, n, 1);
            }
        }(),
        ...);
}

// The event loops: event_loop, and event_loop.io_uring where built.
#if defined(PARBENCH_HAS_URING)
using event_loops = strategy_list<strategies::event_loop, strategies::event_loop_uring>;
#else
using event_loops = strategy_list<strategies::event_loop>;
#endif

using socket_strategies = strategy_list<strategies::sequential, strategies::threads, strategies::thread_pool,
                                        strategies::processes_pipe, strategies::process_pool, strategies::gil_threads>;

// Kernel k at n with every task in flight under each event loop.
template <class K, class... L>
void add_loops(strategy_list<L...>, const std::string& kernel_name, const K& k, std::chrono::microseconds delay,
               std::uint64_t n, unsigned workers) {
    (add_io<L>(kernel_name, k, delay, n, workers), ...);
}

}  // namespace

PARBENCH_FAMILY(45, sockets) {
    const auto p = current_options().run_profile;
    const std::vector<std::uint64_t> sizes = p == profile::quick      ? std::vector<std::uint64_t>{8}
                                             : p == profile::default_ ? std::vector<std::uint64_t>{64}
                                                                      : std::vector<std::uint64_t>{8, 64, 256};
    for (const auto delay : {std::chrono::microseconds(0), std::chrono::microseconds(1000)})
        for (const std::uint64_t n : sizes) {
            add_sockets(socket_strategies{}, delay, n);
            add_sockets(event_loops{}, delay, n);
        }
}

PARBENCH_FAMILY(46, scale) {
    const auto p = current_options().run_profile;
    if (p == profile::quick) return;
    const std::vector<std::uint64_t> sizes =
        p == profile::full ? std::vector<std::uint64_t>{100, 1000, 10000} : std::vector<std::uint64_t>{1000};
    std::vector<unsigned> pool_workers{4};
    const unsigned widest = *std::max_element(workers_in_force().begin(), workers_in_force().end());
    if (p == profile::full && widest > 4) pool_workers.push_back(widest);
    const auto delay = std::chrono::microseconds(1000);
    const kernels::sleep_tasks sleep{delay};
    for (const std::uint64_t n : sizes) {
        const auto all = static_cast<unsigned>(std::min<std::uint64_t>(n, max_workers));
        add_io<strategies::threads>("sleep_tasks", sleep, delay, n, all);
        add_loops(event_loops{}, "sleep_tasks", sleep, delay, n, all);
        for (const bool keep_alive : {false, true}) {
            const kernels::socket_tasks sockets{.keep_alive = keep_alive};
            const std::string name = socket_name(delay, keep_alive);
            add_io<strategies::threads>(name, sockets, delay, n, all);
            add_loops(event_loops{}, name, sockets, delay, n, all);
        }
        for (const unsigned w : pool_workers) {
            add_io<strategies::thread_pool>("sleep_tasks", sleep, delay, n, w);
            for (const bool keep_alive : {false, true})
                add_io<strategies::thread_pool>(socket_name(delay, keep_alive),
                                                kernels::socket_tasks{.keep_alive = keep_alive}, delay, n, w);
        }
    }
}

}  // namespace parbench::bench
