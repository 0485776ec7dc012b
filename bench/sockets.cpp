// The sockets/ and scale/ families: I/O-bound work on real descriptors (seed 004, docs/seeds.md).
// - socket_tasks.delay_<D>us/<strategy>/workers:W/n:N: n requests to an echo server on loopback that answers after
//   D (0 and 1 ms), under the strategies that wait in different ways: threads, a pool, processes, the modelled
//   interpreter lock and the event loop.
// - scale: sleep_tasks and socket_tasks.delay_1000us at 1,000 to 10,000 tasks: threads with one thread per task
//   (up to parbench::max_workers, past which the strategy says no), thread_pool with 4 workers (full: the sweep) and
//   event_loop with every task in flight (up to max_workers). The default profile measures n = 1,000 only.
// Each benchmark starts its own echo server and stops it when it ends (echo_server.hpp).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"

namespace parbench::bench {
namespace {

template <class S, class K>
void add_io(const std::string& kernel_name, const K& k, std::chrono::microseconds delay, std::uint64_t n,
            unsigned workers) {
    const std::string name =
        kernel_name + "/" + std::string(S::name) + "/workers:" + std::to_string(workers) + "/n:" + std::to_string(n);
    auto* b = register_benchmark(name, [k, delay, n, workers](benchmark::State& state) {
        try {
            if constexpr (std::is_same_v<K, kernels::socket_tasks>) {
                const echo_server server(delay);
                K with_port = k;
                with_port.port = server.port();
                S strategy(workers);
                (void)measure_with(state, strategy, with_port, n, workers);
            } else {
                S strategy(workers);
                (void)measure_with(state, strategy, k, n, workers);
            }
        } catch (const std::exception& e) {
            fail(state, e.what());
        }
    });
    b->UseRealTime();
}

std::string socket_name(std::chrono::microseconds delay) {
    return "socket_tasks.delay_" + std::to_string(delay.count()) + "us";
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

using socket_strategies =
    strategy_list<strategies::sequential, strategies::threads, strategies::thread_pool, strategies::processes_pipe,
                  strategies::process_pool, strategies::gil_threads, strategies::event_loop>;

}  // namespace

PARBENCH_FAMILY(45, sockets) {
    const auto p = current_options().run_profile;
    const std::vector<std::uint64_t> sizes = p == profile::quick      ? std::vector<std::uint64_t>{8}
                                             : p == profile::default_ ? std::vector<std::uint64_t>{64}
                                                                      : std::vector<std::uint64_t>{8, 64, 256};
    for (const auto delay : {std::chrono::microseconds(0), std::chrono::microseconds(1000)})
        for (const std::uint64_t n : sizes) add_sockets(socket_strategies{}, delay, n);
}

PARBENCH_FAMILY(46, scale) {
    const auto p = current_options().run_profile;
    if (p == profile::quick) return;
    const std::vector<std::uint64_t> sizes =
        p == profile::full ? std::vector<std::uint64_t>{100, 1000, 4096, 10000} : std::vector<std::uint64_t>{1000};
    const auto delay = std::chrono::microseconds(1000);
    const kernels::sleep_tasks sleep{delay};
    for (const std::uint64_t n : sizes) {
        const auto all = static_cast<unsigned>(std::min<std::uint64_t>(n, max_workers));
        add_io<strategies::threads>("sleep_tasks", sleep, delay, n, all);
        add_io<strategies::event_loop>("sleep_tasks", sleep, delay, n, all);
        add_io<strategies::threads>(socket_name(delay), kernels::socket_tasks{}, delay, n, all);
        add_io<strategies::event_loop>(socket_name(delay), kernels::socket_tasks{}, delay, n, all);
        for (const unsigned w : p == profile::full ? workers_in_force() : std::vector<unsigned>{4}) {
            add_io<strategies::thread_pool>("sleep_tasks", sleep, delay, n, w);
            add_io<strategies::thread_pool>(socket_name(delay), kernels::socket_tasks{}, delay, n, w);
        }
    }
}

}  // namespace parbench::bench
