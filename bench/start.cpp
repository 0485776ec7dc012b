// overhead/start/{thread,fork,posix_spawn}: starting and reaping one thread or process, us_per_op. A thread that
// did not run, or a child that did not exit 0, is an error, never a time (docs/overhead.md).

#include <spawn.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <exception>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "harness.hpp"
#include "parbench/detail/child.hpp"

extern char** environ;

namespace parbench::bench {
namespace {

// Reaps pid and throws unless it exited with status 0.
void reap_ok(pid_t pid, const char* what) {
    const int status = parbench::detail::reap(pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(std::string(what) + ": child did not exit 0 (status " + std::to_string(status) + ")");
}

template <class Start>
void start_bench(benchmark::State& state, Start start) {
    try {
        const auto t0 = std::chrono::steady_clock::now();
        for (auto _ : state) start();
        state.counters["us_per_op"] = detail::per_iteration(state, std::chrono::steady_clock::now() - t0) * 1e6;
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
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
        start_bench(state, [] {
            const pid_t pid = fork();
            if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
            if (pid == 0) _exit(0);
            reap_ok(pid, "fork");
        });
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
}

}  // namespace parbench::bench
