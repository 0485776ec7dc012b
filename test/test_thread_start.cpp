// A thread that cannot be started: every strategy that starts threads (threads, gil_threads, single_thread,
// thread_pool, thread_pool.condvar) raises a worker_error naming itself, the worker and the cause, after
// stopping and joining the workers it had started: no std::terminate, no thread left behind.
//
// The failure is real, not simulated. In a forked child (the limits below would hurt the rest of the test
// program), new threads get a default stack of 512 MiB (pthread_setattr_default_np: no stack glibc has cached
// from earlier tests is that large, so every thread maps a new one), and RLIMIT_AS allows the address space in
// use plus room for `room` such stacks and half of one more. So exactly `room` threads start; the next
// pthread_create cannot map its stack and returns EAGAIN. Root is not exempt from RLIMIT_AS (it is from
// RLIMIT_NPROC, which is why that limit is not used). The child checks the error and exits with a status the
// parent asserts; what it found is on its stderr. The child starts and joins one thread before the limit: under
// ThreadSanitizer the first thread a process starts also starts the runtime's background thread, which would
// otherwise take one of the rooms (and count as a thread left behind). Neither sanitizer minds the limit itself,
// which is relative to the address space already in use.

#include <gtest/gtest.h>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "leaks.hpp"
#include "parbench/parbench.hpp"

namespace {

using namespace parbench;

constexpr std::size_t stack_size = std::size_t{512} << 20;

// Exit statuses of the child.
enum status : int {
    ok = 0,
    no_error = 10,      // the run or the constructor did not throw
    wrong_type = 11,    // it threw something other than worker_error
    wrong_text = 12,    // the worker_error does not say what it should
    leaked = 13,        // more threads after the failure than before
    not_usable = 14,    // a strategy that starts threads per run failed its next run with the limit lifted
    setup_failed = 15,  // pthread_setattr_default_np, /proc or setrlimit failed
};

// VmSize of this process, in bytes.
std::optional<std::uint64_t> address_space() {
    std::ifstream status("/proc/self/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmSize:", 0) == 0) return std::stoull(line.substr(7)) * 1024;
    return std::nullopt;
}

// Limits the child to the address space in use plus `room` new thread stacks (and half of one for anything
// else, such as a started thread's malloc arena).
bool limit_threads(unsigned room, rlimit& saved) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, stack_size) != 0 ||
        pthread_setattr_default_np(&attr) != 0)
        return false;
    pthread_attr_destroy(&attr);
    const auto in_use = address_space();
    if (!in_use || getrlimit(RLIMIT_AS, &saved) != 0) return false;
    rlimit limit = saved;
    constexpr rlim_t guard_pages = rlim_t{2} * 4096;
    limit.rlim_cur = *in_use + rlim_t{room} * (stack_size + guard_pages) + stack_size / 2;
    return setrlimit(RLIMIT_AS, &limit) == 0;
}

// In a child: limits it to `room` new threads, then build(workers) and, if it built, run(strategy) must throw a
// worker_error with cause start and the errno text for worker `first + room` of `workers` (`first`: the first
// worker that gets a thread of its own). Exits with a status.
template <class S>
[[noreturn]] void child(unsigned workers, unsigned room, unsigned first) {
    test::one_thread_come_and_gone();  // a sanitizer's runtime threads start now, outside the limit
    const std::size_t before = test::threads_now();
    rlimit saved{};
    if (!limit_threads(room, saved)) {
        std::fprintf(stderr, "setup failed: %s\n", std::strerror(errno));
        std::fflush(stderr);
        _exit(setup_failed);
    }
    const unsigned failing = first + room;
    int result = ok;
    std::optional<S> strategy;
    try {
        strategy.emplace(workers);
        (void)strategy->run(kernels::count{}, 100'000);
        result = no_error;
    } catch (const worker_error& e) {
        std::fprintf(stderr, "%s: %s\n", std::string(S::name).c_str(), e.what());
        const std::string expected = "worker " + std::to_string(failing) + " of " + std::to_string(workers) +
                                     " failed: start: " + std::string(S::name) +
                                     ": could not start its thread: " + std::strerror(EAGAIN);
        if (e.what() != expected || e.cause() != failure::start || e.worker() != failing || e.workers() != workers ||
            e.detail() != EAGAIN) {
            std::fprintf(stderr, "expected: %s (detail %d)\n", expected.c_str(), EAGAIN);
            result = wrong_text;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: not a worker_error: %s\n", std::string(S::name).c_str(), e.what());
        result = wrong_type;
    }
    if (result == ok) {
        if (const std::size_t after = test::settled_threads(before); after != before) {
            std::fprintf(stderr, "%zu threads after the failure, %zu before\n", after, before);
            result = leaked;
        }
    }
    // A strategy that failed in run() (threads are started per run) works again once threads can start.
    if (result == ok && strategy) {
        setrlimit(RLIMIT_AS, &saved);
        try {
            if (strategy->run(kernels::count{}, 100'000) != 100'000) result = not_usable;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "the next run failed: %s\n", e.what());
            result = not_usable;
        }
    }
    std::fflush(stderr);
    _exit(result);
}

template <class S>
void expect_start_error(unsigned workers, unsigned room, unsigned first) {
    std::fflush(nullptr);  // nothing buffered is written twice
    const pid_t pid = fork();
    ASSERT_NE(pid, -1) << std::strerror(errno);
    if (pid == 0) child<S>(workers, room, first);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << S::name << ": the child did not exit (std::terminate?), status " << status;
    EXPECT_EQ(WEXITSTATUS(status), ok) << S::name << ": see the child's stderr above (status " << WEXITSTATUS(status)
                                       << ")";
}

// The first thread fails: nothing was started.
TEST(ThreadStart, FirstThreadFails) {
    expect_start_error<strategies::threads>(4, 0, 0);
    expect_start_error<strategies::gil_threads>(4, 0, 0);
    expect_start_error<strategies::single_thread>(1, 0, 0);
    expect_start_error<strategies::thread_pool>(4, 0, 1);  // worker 0 is the caller's thread
    expect_start_error<strategies::thread_pool_condvar>(4, 0, 0);
}

// Two threads start, the third fails: those started are stopped and joined before the error
// leaves the strategy.
TEST(ThreadStart, LaterThreadFailsAndStartedOnesAreJoined) {
    expect_start_error<strategies::threads>(4, 2, 0);
    expect_start_error<strategies::gil_threads>(4, 2, 0);
    expect_start_error<strategies::thread_pool>(4, 2, 1);
    expect_start_error<strategies::thread_pool_condvar>(4, 2, 0);
}

}  // namespace
