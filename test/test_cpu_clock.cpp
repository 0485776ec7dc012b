// The process tree's CPU clock (src/cpu_clock.hpp, cpu_clock::tree_seconds), which gives every benchmark its
// tree_cpu_s and utilisation counters: children that burn a known amount of CPU are counted within 10%, whether
// they are reaped between the two reads (processes started per run), live through both (a pool's workers), reaped
// by a live child (a fork server's workers), or live at the first read and reaped before the second (a pool
// destroyed). Each child burns CPU by its own CPU clock, so the amount is known whatever the machine's load.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "cpu_clock.hpp"
#include "parbench/chunk.hpp"
#include "parbench/strategies/processes_forkserver.hpp"

namespace {

constexpr double burn_s = 0.2;
constexpr int children = 2;

double own_cpu() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Spins until this process has used `seconds` more CPU.
void burn(double seconds) {
    const double until = own_cpu() + seconds;
    while (own_cpu() < until) {}
}

// A child that waits for a byte on `start`, burns, then waits for `stop` to close before it exits.
struct pipes {
    int start[2];
    int stop[2];
    pipes() {
        EXPECT_EQ(::pipe(start), 0);
        EXPECT_EQ(::pipe(stop), 0);
    }
    ~pipes() {
        ::close(start[0]);
        ::close(start[1]);
        ::close(stop[0]);
        if (stop[1] >= 0) ::close(stop[1]);
    }
    void close_stop() {
        ::close(stop[1]);
        stop[1] = -1;
    }
};

pid_t burner(const pipes& p, bool via_grandchild) {
    const pid_t pid = fork();
    if (pid != 0) return pid;
    ::close(p.start[1]);
    ::close(p.stop[1]);
    char byte = 0;
    if (::read(p.start[0], &byte, 1) != 1) ::_exit(1);
    if (via_grandchild) {
        const pid_t grandchild = fork();
        if (grandchild == 0) {
            burn(burn_s);
            ::_exit(0);
        }
        int status = 0;
        ::waitpid(grandchild, &status, 0);
    } else {
        burn(burn_s);
    }
    while (::read(p.stop[0], &byte, 1) > 0) {}
    ::_exit(0);
}

void reap(const std::vector<pid_t>& pids) {
    for (const pid_t pid : pids) {
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

// Starts `children` burners; with `live_at_start` they exist when the clock is built (live children).
// Returns the tree CPU measured between the two reads, less this process's own: the children's. This process's
// polling below is counted too (rightly), and on a loaded machine, where the children take seconds to burn their
// 0.2 s, it alone came to 10% of what they burnt.
double measured(bool live_at_start, bool reap_before_second_read, bool via_grandchild) {
    pipes p;
    std::vector<pid_t> pids;
    if (live_at_start)
        for (int i = 0; i < children; ++i) pids.push_back(burner(p, via_grandchild));
    const parbench::bench::cpu_clock tree;
    const double own_before = own_cpu();
    const double before = tree.tree_seconds();
    if (!live_at_start)
        for (int i = 0; i < children; ++i) pids.push_back(burner(p, via_grandchild));
    const char bytes[children] = {};
    EXPECT_EQ(::write(p.start[1], bytes, children), children);
    if (reap_before_second_read) {
        p.close_stop();
        reap(pids);
    } else {
        // Until each child has burnt (its own clock, read through the tree's), then the read, then the reaping.
        // Not forever where the clock misses them: the test fails below instead.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        const auto theirs = [&] { return tree.tree_seconds() - before - (own_cpu() - own_before); };
        while (theirs() < 0.95 * children * burn_s && std::chrono::steady_clock::now() < give_up) ::usleep(1000);
        ::usleep(50'000);  // a grandchild's reaping reaches cutime when its parent waits
    }
    const double after = tree.tree_seconds();
    const double own = own_cpu() - own_before;
    if (!reap_before_second_read) {
        p.close_stop();
        reap(pids);
    }
    return after - before - own;
}

void expect_counted(double cpu) {
    const double expected = children * burn_s;
    EXPECT_GE(cpu, 0.9 * expected);
    EXPECT_LE(cpu, 1.1 * expected);
}

TEST(TreeCpu, CountsChildrenReapedInBetween) { expect_counted(measured(false, true, false)); }
TEST(TreeCpu, CountsLiveChildren) { expect_counted(measured(true, false, false)); }
TEST(TreeCpu, CountsWhatLiveChildrenReaped) { expect_counted(measured(true, false, true)); }
TEST(TreeCpu, CountsLiveChildrenReapedBeforeTheSecondRead) { expect_counted(measured(true, true, false)); }

// A chunk burns `ms` of its process's CPU: a processes.forkserver worker is a fresh process, so its CPU clock
// holds little else (a fork of the small server, its exit).
struct burn_chunk {
    using result = std::uint64_t;
    static constexpr std::string_view name = "burn_chunk";
    int ms = 0;
    result run(parbench::chunk c) const {
        if (!c.empty()) burn(ms * 1e-3);
        return c.size();
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};

// processes.forkserver's workers are the server's children, reaped by it: counted as the server reports them, to
// the microsecond. Counted through the server's cutime instead, in 10 ms ticks, a window of 2 × 23 ms reads as 40
// or 50 ms, 13% under or 9% over, so that five windows in a row within 10% would be luck (about 1 in 100). What a
// run costs besides the burning (starting and ending the workers: milliseconds under a sanitizer) is measured
// first, with runs that burn nothing, and taken off.
TEST(TreeCpu, CountsWorkersReapedByTheForkServer) {
    parbench::strategies::processes_forkserver strategy(children);
    ASSERT_EQ(strategy.run(burn_chunk{0}, children), static_cast<std::uint64_t>(children));  // the server is up
    const parbench::bench::cpu_clock tree;
    ASSERT_GT(tree.children(), 0u) << "the fork server is a live child";
    const auto window = [&](int ms) {
        const double before = tree.tree_seconds();
        EXPECT_EQ(strategy.run(burn_chunk{ms}, children), static_cast<std::uint64_t>(children));
        return tree.tree_seconds() - before;
    };
    std::vector<double> empty;
    for (int i = 0; i < 5; ++i) empty.push_back(window(0));
    std::sort(empty.begin(), empty.end());
    const double overhead = empty[empty.size() / 2];
    constexpr int ms = 23;
    for (int i = 0; i < 5; ++i) {
        const double cpu = window(ms) - overhead;
        EXPECT_GE(cpu, 0.9 * children * ms * 1e-3) << "window " << i << ", overhead " << overhead;
        EXPECT_LE(cpu, 1.1 * children * ms * 1e-3) << "window " << i << ", overhead " << overhead;
    }
}

TEST(TreeCpu, CountsThreads) {
    const parbench::bench::cpu_clock tree;
    const double before = tree.tree_seconds();
    std::vector<std::thread> threads;
    for (int i = 0; i < children; ++i)
        threads.emplace_back([] {
            timespec ts{};
            const auto thread_cpu = [&ts] {
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
                return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
            };
            const double until = thread_cpu() + burn_s;
            while (thread_cpu() < until) {}
        });
    for (auto& t : threads) t.join();
    expect_counted(tree.tree_seconds() - before);
}

}  // namespace
