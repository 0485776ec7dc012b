#pragma once
// What a strategy could leak, counted in this process, and the leak test of the strategies that start processes:
// the counts before and after many runs, and no child left once the strategy is gone.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "parbench/detail/forkserver_client.hpp"

namespace parbench::test {

// Descriptors open in this process.
inline std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

// The threads of this process now.
inline std::size_t threads_now() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
}

// Whether `done()` became true within `limit`, asking every millisecond: for what another thread or the kernel
// finishes a moment after the call that started it returned.
template <class Done>
bool wait_until(Done done, std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// The threads of this process once no more than `expected` are left, or after 10 s. A join returns when the
// kernel clears the thread's id, which it does before it takes the thread out of /proc/self/task, so a joined
// thread can stay listed for a moment after its join; a thread nobody joined stays listed for good.
inline std::size_t settled_threads(std::size_t expected) {
    std::size_t n = 0;
    wait_until([&] { return (n = threads_now()) <= expected; }, std::chrono::seconds(10));
    return n;
}

// Starts one thread and joins it, then waits (up to 10 s) until it has left /proc/self/task. Runtimes such as
// TSan's start a helper thread of their own at a process's first thread creation: after this, a count of the
// process's threads includes that helper and nothing transient.
inline void one_thread_come_and_gone() {
    pid_t tid = 0;
    std::thread([&tid] { tid = ::gettid(); }).join();
    const std::string entry = "/proc/self/task/" + std::to_string(tid);
    wait_until([&] { return !std::filesystem::exists(entry); }, std::chrono::seconds(10));
}

// Shared mappings only: those are what the strategies create (results, counters, the pool's control block, the
// payload's data areas). Private mappings come and go with the allocator (ASan's grows its own as the test
// allocates), so counting every line would blame the sanitizer, not us.
inline std::size_t shared_mappings() {
    std::ifstream maps("/proc/self/maps");
    std::size_t n = 0;
    for (std::string line; std::getline(maps, line);) {
        const auto perms = line.find(' ');
        if (perms != std::string::npos && perms + 4 < line.size() && line[perms + 4] == 's') ++n;
    }
    return n;
}

// The children of process `pid`, running or zombie.
inline std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream list(task.path() / "children");
        for (pid_t c = 0; list >> c;) out.push_back(c);
    }
    return out;
}

// True when this process has no child at all, fork server included: what every strategy leaves once destroyed.
inline bool nothing_left() {
    return parbench::detail::forkserver_client::running_pid() < 0 && children_of(::getpid()).empty();
}

// The leak test: `runs(strategy, count)` on a first Strategy(workers), since first use allocates what stays
// allocated (gtest, the allocator's arenas, ASan's); then descriptors and shared mappings are counted, `runs`
// does `counted` runs on a second Strategy(workers), and once that is destroyed no fork server and no child but
// `allowed_children` (a server the test itself started) may be left, and both counts must be as before.
template <class Strategy, class Runs>
void expect_runs_leak_nothing(Runs runs, unsigned workers = 2, int warm = 100, int counted = 1000,
                              const std::vector<pid_t>& allowed_children = {}) {
    {
        Strategy first(workers);
        runs(first, warm);
    }
    if (::testing::Test::HasFatalFailure()) return;
    const std::size_t fds = open_fds();
    const std::size_t maps = shared_mappings();
    {
        Strategy strategy(workers);
        runs(strategy, counted);
    }
    if (::testing::Test::HasFatalFailure()) return;
    EXPECT_LT(parbench::detail::forkserver_client::running_pid(), 0) << "the fork server outlived its strategy";
    EXPECT_EQ(children_of(::getpid()), allowed_children) << "a child outlived its strategy";
    EXPECT_EQ(open_fds(), fds) << "descriptors";
    EXPECT_EQ(shared_mappings(), maps) << "shared mappings";
}

}  // namespace parbench::test
