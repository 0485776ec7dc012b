// Worker processes under faults: a worker killed by a signal, one that exits non-zero, a kernel that throws in a
// child and one that hangs past the deadline each become a worker_error within a second, with every other child
// killed and reaped; the pool keeps serving; 1,000 runs leak no child, descriptor or mapping; workers die with
// their parent; signals that interrupt the parent's waits change nothing.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "leaks.hpp"
#include "parbench/detail/child.hpp"
#include "parbench/detail/fd.hpp"
#include "parbench/detail/forkserver_client.hpp"
#include "parbench/detail/shm.hpp"
#include "strategies.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace d = parbench::detail;

enum class fault { none, signal, exit_code, exception, hang, report_pid_and_hang };

// The test's own process: process_pool runs chunk 0 here, in the caller.
const pid_t test_process = ::getpid();

// A kernel whose chunk holding element `bad` commits `what` at once, while every other chunk sleeps `others`
// first: a run can only end quickly if the strategy kills the survivors. A chunk that runs in the test's own
// process (process_pool's caller share) does not sleep: it is not a survivor anyone could kill.
struct faulty {
    using result = std::uint64_t;
    static constexpr std::string_view name = "faulty";
    fault what = fault::none;
    std::uint64_t bad = 0;
    std::chrono::milliseconds others{0};
    int fd = -1;  // report_pid_and_hang: each worker writes its pid to this descriptor of process `caller`
    pid_t caller = test_process;  // travels with the kernel: a started worker has its own test_process

    result run(parbench::chunk c) const {
        const bool mine = c.begin <= bad && bad < c.end;
        if (what == fault::report_pid_and_hang) {
            const pid_t self = ::getpid();
            // Through /proc, so workers that did not inherit the descriptor (spawn, forkserver) reach it too.
            const std::string path = "/proc/" + std::to_string(caller) + "/fd/" + std::to_string(fd);
            const d::unique_fd out(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
            if (!out || !d::write_full(out.get(), &self, sizeof self)) throw std::runtime_error("cannot report pid");
            for (;;) ::pause();
        }
        if (!mine) {
            if (::getpid() != caller) std::this_thread::sleep_for(others);
            return c.size();
        }
        switch (what) {
            case fault::signal: ::raise(SIGKILL); break;
            case fault::exit_code: d::leave(3);
            case fault::exception: throw std::runtime_error("kernel failed at " + std::to_string(bad));
            case fault::hang:
                for (;;) ::pause();
            default: break;
        }
        return c.size();
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};
static_assert(parbench::kernel<faulty>);

using parbench::test::children_of;
using parbench::test::nothing_left;

// True when this process has no child left, running or zombie, but the fork server of a live
// processes.forkserver object, which itself has none.
bool no_children() {
    const pid_t server = d::forkserver_client::running_pid();
    if (server > 0 && !children_of(server).empty()) return false;
    for (const pid_t c : children_of(::getpid()))
        if (c != server) return false;
    return true;
}

template <class S>
class processes : public ::testing::Test {};
namespace ps = parbench::strategies;
using process_strategies = ::testing::Types<ps::processes_pipe, ps::processes_shm, ps::process_pool,
                                            ps::process_pool_executor, ps::processes_spawn, ps::processes_forkserver,
                                            ps::process_pool_spawn, ps::process_pool_executor_spawn,
                                            ps::process_pool_forkserver, ps::process_pool_executor_forkserver>;
TYPED_TEST_SUITE(processes, process_strategies, parbench::test::strategy_name);

// Runs a kernel that faults in chunk 2 of 4 while the other chunks sleep 20 s; returns the error.
template <class S>
parbench::worker_error fault_in_worker_2(S& strategy, fault what) {
    const auto t0 = clock_type::now();
    try {
        (void)strategy.run(faulty{what, 250, 20s}, 400);
    } catch (const parbench::worker_error& e) {
        EXPECT_LT(clock_type::now() - t0, 5s) << "the error took too long: survivors were not killed";
        EXPECT_EQ(e.worker(), 2u) << e.what();
        EXPECT_EQ(e.workers(), 4u) << e.what();
        EXPECT_TRUE(no_children()) << "a worker was left behind";
        return e;
    }
    ADD_FAILURE() << "no worker_error";
    return {0, 0, parbench::failure::lost, "none"};
}

TYPED_TEST(processes, a_worker_killed_by_a_signal_is_a_worker_error) {
    TypeParam strategy(4);
    const auto e = fault_in_worker_2(strategy, fault::signal);
    EXPECT_EQ(e.cause(), parbench::failure::signal);
    EXPECT_EQ(e.detail(), SIGKILL);
    EXPECT_NE(std::string(e.what()).find("worker 2 of 4 failed: signal: 9 (Killed)"), std::string::npos) << e.what();
    EXPECT_EQ(strategy.run(parbench::kernels::count{}, 1000), 1000u) << "the strategy must keep serving";
}

TYPED_TEST(processes, a_worker_that_exits_non_zero_is_a_worker_error) {
    TypeParam strategy(4);
    const auto e = fault_in_worker_2(strategy, fault::exit_code);
    EXPECT_EQ(e.cause(), parbench::failure::exit_code);
    EXPECT_EQ(e.detail(), 3);
    EXPECT_NE(std::string(e.what()).find("worker 2 of 4 failed: exit code: 3"), std::string::npos) << e.what();
    EXPECT_EQ(strategy.run(parbench::kernels::sum_range{}, 1000), 499500u);
}

TYPED_TEST(processes, a_kernel_that_throws_in_a_child_sends_its_message) {
    TypeParam strategy(4);
    // The pool waits for the other chunks of the run (its workers survive an exception), so they sleep briefly.
    try {
        (void)strategy.run(faulty{fault::exception, 250, 10ms}, 400);
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_EQ(e.cause(), parbench::failure::exception);
        EXPECT_EQ(e.worker(), 2u);
        EXPECT_NE(std::string(e.what()).find("worker 2 of 4 failed: exception: kernel failed at 250"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_EQ(strategy.run(parbench::kernels::count{}, 1000), 1000u);
}

// The hang test's deadline. A fresh copy of the program (exec, dynamic linking, static initialisation) takes
// hundreds of milliseconds to start three under a sanitizer on a loaded machine, and that start can fall inside
// the deadline: a run's for processes.spawn, and for the spawn pools the first run's, whose workers the
// constructor started without waiting for them. So the strategies that spawn get more.
template <class S>
constexpr std::chrono::milliseconds hang_deadline =
    std::is_same_v<S, parbench::strategies::processes_spawn> ||
            std::is_same_v<S, parbench::strategies::process_pool_spawn> ||
            std::is_same_v<S, parbench::strategies::process_pool_executor_spawn>
        ? 1000ms
        : 200ms;

TYPED_TEST(processes, a_worker_that_hangs_past_the_deadline_is_a_timeout) {
    constexpr auto deadline = hang_deadline<TypeParam>;
    TypeParam strategy(3, deadline);
    const auto t0 = clock_type::now();
    try {
        (void)strategy.run(faulty{fault::hang, 5, 0ms}, 9);  // worker 1 hangs, 0 and 2 finish at once
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        const auto took = clock_type::now() - t0;
        EXPECT_GE(took, deadline);
        EXPECT_LT(took, deadline + 1000ms);
        EXPECT_EQ(e.cause(), parbench::failure::timeout);
        EXPECT_EQ(e.worker(), 1u) << e.what();
        EXPECT_EQ(e.detail(), deadline.count());
        const std::string message = "timeout: no result within " + std::to_string(deadline.count()) + " ms";
        EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("pid "), std::string::npos) << "names the hung process: " << e.what();
    }
    EXPECT_TRUE(no_children());
    EXPECT_EQ(strategy.run(parbench::kernels::count{}, 1000), 1000u);
}

TYPED_TEST(processes, every_locked_counter_totals_n_in_shared_memory) {
    TypeParam strategy(3);
    namespace k = parbench::kernels;
    EXPECT_EQ(strategy.run(k::locked_counter_coarse{}, 30'001), 30'001u);
    EXPECT_EQ(strategy.run(k::locked_counter_fine{}, 30'001), 30'001u);
    EXPECT_EQ(strategy.run(k::locked_counter_atomic{}, 30'001), 30'001u);
    EXPECT_EQ(strategy.run(k::locked_counter_sharded{}, 30'001), 30'001u);
}

// The runs of the leak test: mostly good ones, with failing ones mixed in (the error paths must not leak).
template <class S>
void mixed_runs(S& strategy, int runs) {
    for (int i = 0; i < runs; ++i) {
        if (i % 100 == 99) {
            EXPECT_THROW((void)strategy.run(faulty{fault::signal, 1, 0ms}, 2), parbench::worker_error);
            EXPECT_THROW((void)strategy.run(faulty{fault::exception, 0, 0ms}, 2), parbench::worker_error);
        } else {
            ASSERT_EQ(strategy.run(parbench::kernels::locked_counter_fine{}, 10), 10u);
        }
    }
}

TYPED_TEST(processes, a_thousand_runs_leak_no_child_descriptor_or_mapping) {
    parbench::test::expect_runs_leak_nothing<TypeParam>([](TypeParam& s, int runs) { mixed_runs(s, runs); });
}

TYPED_TEST(processes, workers_die_with_a_parent_killed_by_sigkill) {
    // This process adopts its orphaned grandchildren, so it can reap them and see how they ended.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    struct restore {
        ~restore() { ::prctl(PR_SET_CHILD_SUBREAPER, 0); }
    } restore_subreaper;
    auto pids = d::make_pipe();
    const int fd = pids.write.get();
    const pid_t parent = d::fork_child([fd] {
        TypeParam strategy(2);
        (void)strategy.run(faulty{fault::report_pid_and_hang, 0, 0ms, fd, ::getpid()}, 2);
        return 0;
    });
    pids.write.reset();
    pid_t workers[2] = {};
    ASSERT_EQ(d::read_full(pids.read.get(), workers, sizeof workers), static_cast<ssize_t>(sizeof workers));
    ::kill(parent, SIGKILL);
    const int parent_status = d::reap(parent);
    EXPECT_TRUE(WIFSIGNALED(parent_status)) << d::describe_status(parent_status);
    int children = 0;
    for (const pid_t w : workers) {
        if (w == parent) continue;  // process_pool's worker 0 is the parent itself
        ++children;
        // A pidfd sees any process end, whoever its parent is (a fork server's workers are the server's). A
        // worker that has ended and was reaped already (by its server, before the server died) has no pid left
        // to open: ESRCH.
        const d::unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, w, 0)));
        if (!pidfd) {
            EXPECT_EQ(errno, ESRCH) << "pidfd_open of worker " << w;
            continue;
        }
        pollfd p{pidfd.get(), POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 1000), 1) << "worker " << w << " outlived its parent";
    }
    EXPECT_GE(children, 1);
    // Reap every orphan this subreaper inherited (workers, a fork server); a worker reaped here died of SIGKILL.
    const pid_t own_server = d::forkserver_client::running_pid();
    const auto until = clock_type::now() + 3s;
    for (auto left = children_of(::getpid()); clock_type::now() < until; left = children_of(::getpid())) {
        std::erase(left, own_server);
        if (left.empty()) break;
        for (const pid_t c : left) {
            const auto status = d::reap_for(c, 1s);
            ASSERT_TRUE(status.has_value()) << "process " << c << " outlived its parent";
            if (std::find(std::begin(workers), std::end(workers), c) != std::end(workers)) {
                EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL) << d::describe_status(*status);
            }
        }
    }
    EXPECT_TRUE(no_children());
}

// A signal without SA_RESTART every 200 us interrupts the parent's poll, read, futex and waitpid calls.
TYPED_TEST(processes, signals_interrupting_the_parent_change_no_result) {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    ASSERT_EQ(::sigaction(SIGALRM, &sa, nullptr), 0);
    itimerval every{{0, 200}, {0, 200}};
    ASSERT_EQ(::setitimer(ITIMER_REAL, &every, nullptr), 0);
    {
        TypeParam strategy(3);
        for (int i = 0; i < 100; ++i)
            ASSERT_EQ(strategy.run(parbench::kernels::sleep_tasks{std::chrono::microseconds(300)}, 6), 21u);
    }
    itimerval off{};
    ::setitimer(ITIMER_REAL, &off, nullptr);
    sa.sa_handler = SIG_DFL;
    ::sigaction(SIGALRM, &sa, nullptr);
}

using forkserver = parbench::strategies::processes_forkserver;

// The fork server lives as long as the processes.forkserver objects that use it: objects alive together share
// one, and the last one destroyed stops and reaps it, so no server outlives the benchmark that built it.
TEST(forkserver, lives_as_long_as_the_strategies_that_use_it) {
    ASSERT_TRUE(nothing_left());
    {
        std::optional<forkserver> first(std::in_place, 2);
        const pid_t server = d::forkserver_client::running_pid();
        ASSERT_GT(server, 0) << "the server starts with the strategy, outside its runs";
        EXPECT_EQ(children_of(::getpid()), std::vector<pid_t>{server});
        forkserver second(3);
        EXPECT_EQ(d::forkserver_client::running_pid(), server) << "objects alive together share one server";
        first.reset();
        EXPECT_EQ(second.run(parbench::kernels::count{}, 100), 100u);
        EXPECT_EQ(d::forkserver_client::running_pid(), server);
    }
    EXPECT_TRUE(nothing_left()) << "the last object destroyed stops and reaps the server";
    const forkserver again(2);
    EXPECT_GT(d::forkserver_client::running_pid(), 0) << "a new object starts a new server";
}

// A program whose main never called parbench::worker_main would run its own main in each started worker (a test
// program: every test again), so both strategies refuse to start anything there.
TEST(forkserver, a_program_without_worker_main_is_refused_before_anything_starts) {
    d::worker_main_ran = false;
    EXPECT_THROW(forkserver{2}, std::logic_error);
    const parbench::strategies::processes_spawn spawn(2);
    try {
        (void)spawn.run(parbench::kernels::count{}, 10);
        ADD_FAILURE() << "no exception";
    } catch (const std::logic_error& e) {
        EXPECT_NE(std::string(e.what()).find("parbench::worker_main"), std::string::npos) << e.what();
    }
    d::worker_main_ran = true;
    EXPECT_TRUE(nothing_left());
}

// Kills the live strategies' server with SIGKILL and waits until it has died (without reaping it).
pid_t kill_server() {
    const pid_t server = d::forkserver_client::running_pid();
    EXPECT_GT(server, 0);
    EXPECT_EQ(::kill(server, SIGKILL), 0);
    siginfo_t info{};
    EXPECT_EQ(::waitid(P_PID, static_cast<id_t>(server), &info, WEXITED | WNOWAIT), 0);
    return server;
}

// Runs k over 400 on s (processes.forkserver or a pool of the server's workers), which must fail within a second
// with the error naming the dead server, and leave no child behind.
void expect_server_died(auto& s, pid_t server, parbench::kernel auto k) {
    const auto t0 = clock_type::now();
    try {
        (void)s.run(k, 400);
        ADD_FAILURE() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_LT(clock_type::now() - t0, 1s);
        EXPECT_EQ(e.cause(), parbench::failure::lost) << e.what();
        const std::string named = "forkserver (pid " + std::to_string(server) + ") died: signal 9 (Killed)";
        EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
    EXPECT_TRUE(no_children());
}

TEST(forkserver, a_server_dead_between_runs_is_an_error_naming_it_then_a_new_one_serves) {
    forkserver strategy(2);
    ASSERT_EQ(strategy.run(parbench::kernels::count{}, 10), 10u);
    const pid_t server = kill_server();
    expect_server_died(strategy, server, parbench::kernels::count{});
    EXPECT_EQ(strategy.run(parbench::kernels::count{}, 1000), 1000u);
    EXPECT_GT(d::forkserver_client::running_pid(), 0);
    EXPECT_NE(d::forkserver_client::running_pid(), server);
}

TEST(forkserver, a_server_killed_mid_run_fails_that_run_at_once_then_a_new_one_serves) {
    forkserver strategy(4);
    const pid_t server = d::forkserver_client::running_pid();
    std::jthread killer([server] {
        std::this_thread::sleep_for(200ms);
        ::kill(server, SIGKILL);  // the run reaps it: no waiting here
    });
    expect_server_died(strategy, server, faulty{fault::none, 0, 20s});  // chunks 1-3 sleep 20 s
    killer.join();
    EXPECT_EQ(strategy.run(parbench::kernels::sum_range{}, 1000), 499500u);
}

// A pool of the fork server's workers shares the server with processes.forkserver objects alive with it, over a
// connection of its own: a per-run worker's fault (whose run then kills its workers) leaves the pool's alone.
TEST(forkserver, a_pool_and_per_run_workers_share_the_server_without_touching_each_other) {
    ps::process_pool_executor_forkserver pool(2);
    const forkserver per_run(4);
    const pid_t server = d::forkserver_client::running_pid();
    ASSERT_GT(server, 0);
    EXPECT_EQ(children_of(::getpid()), std::vector<pid_t>{server}) << "one server for both";
    const pid_t workers[2] = {pool.pid(0), pool.pid(1)};
    EXPECT_EQ(children_of(server).size(), 2u);
    EXPECT_THROW((void)per_run.run(faulty{fault::signal, 250, 20s}, 400), parbench::worker_error);
    auto left = children_of(server);
    std::sort(left.begin(), left.end());
    auto pool_workers = std::vector<pid_t>{workers[0], workers[1]};
    std::sort(pool_workers.begin(), pool_workers.end());
    EXPECT_EQ(left, pool_workers) << "the per-run workers are gone, the pool's are not";
    EXPECT_EQ(pool.pid(0), workers[0]);
    EXPECT_EQ(pool.pid(1), workers[1]);
    EXPECT_EQ(pool.run(parbench::kernels::sum_range{}, 1000), 499500u);
    EXPECT_EQ(per_run.run(parbench::kernels::count{}, 1000), 1000u);
    EXPECT_EQ(pool.run(parbench::kernels::locked_counter_fine{}, 1000), 1000u);
}

// The fork server's death takes a pool's workers with it: the run that finds it fails naming the server, and the
// next run starts fresh workers from a new one.
TEST(forkserver, a_pools_server_dead_between_runs_fails_one_run_then_a_new_one_serves) {
    ps::process_pool_executor_forkserver pool(2);
    ASSERT_EQ(pool.run(parbench::kernels::count{}, 10), 10u);
    const pid_t server = kill_server();
    expect_server_died(pool, server, parbench::kernels::count{});
    EXPECT_EQ(pool.run(parbench::kernels::sum_range{}, 1000), 499500u);
    EXPECT_GT(d::forkserver_client::running_pid(), 0);
    EXPECT_NE(d::forkserver_client::running_pid(), server);
}

template <class S>
class pools : public ::testing::Test {};
using pool_strategies = ::testing::Types<ps::process_pool, ps::process_pool_executor, ps::process_pool_spawn,
                                         ps::process_pool_executor_spawn, ps::process_pool_forkserver,
                                         ps::process_pool_executor_forkserver, ps::process_pool_dynamic>;
TYPED_TEST_SUITE(pools, pool_strategies, parbench::test::strategy_name);

TYPED_TEST(pools, a_worker_killed_while_idle_fails_one_run_then_the_pool_serves_again) {
    TypeParam pool(2);
    EXPECT_EQ(pool.run(parbench::kernels::count{}, 100), 100u);
    const pid_t victim = pool.pid(1);
    ASSERT_GT(victim, 0);
    ASSERT_NE(victim, ::getpid());
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    try {
        (void)pool.run(parbench::kernels::count{}, 100);
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_EQ(e.worker(), 1u);
        EXPECT_EQ(e.cause(), parbench::failure::signal);
        EXPECT_EQ(e.detail(), SIGKILL);
    }
    for (int i = 0; i < 10; ++i) EXPECT_EQ(pool.run(parbench::kernels::count{}, 100), 100u);
    EXPECT_NE(pool.pid(1), victim);
}

TYPED_TEST(pools, workers_are_reused_across_runs) {
    TypeParam pool(3);
    const pid_t first[3] = {pool.pid(0), pool.pid(1), pool.pid(2)};
    for (int i = 0; i < 100; ++i) EXPECT_EQ(pool.run(parbench::kernels::sum_range{}, 100), 4950u);
    for (unsigned i = 0; i < 3; ++i) EXPECT_EQ(pool.pid(i), first[i]) << "worker " << i;
}

// With n == workers (chunk i is element i): a mask with bit i set when chunk i ran in the test's own process.
struct where_chunks_run {
    using result = std::uint64_t;
    static constexpr std::string_view name = "where_chunks_run";
    result run(parbench::chunk c) const { return ::getpid() == test_process ? std::uint64_t{1} << c.begin : 0; }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t) const { return 0; }
};

TEST(process_pool, the_caller_runs_chunk_0_and_children_the_rest) {
    parbench::strategies::process_pool pool(3);
    EXPECT_EQ(pool.pid(0), ::getpid());
    EXPECT_NE(pool.pid(1), ::getpid());
    EXPECT_NE(pool.pid(2), ::getpid());
    EXPECT_NE(pool.pid(1), pool.pid(2));
    EXPECT_EQ(pool.run(where_chunks_run{}, 3), 1u);  // chunk 0 ran here, chunks 1 and 2 elsewhere
    parbench::strategies::process_pool_executor executor(3);
    for (unsigned i = 0; i < 3; ++i) EXPECT_NE(executor.pid(i), ::getpid());
    EXPECT_EQ(executor.run(where_chunks_run{}, 3), 0u);  // every chunk ran in a child
}

TEST(process_pool, a_kernel_that_throws_in_the_callers_share_is_worker_0s_error) {
    parbench::strategies::process_pool pool(3);
    try {
        (void)pool.run(faulty{fault::exception, 0, 0ms}, 9);
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_EQ(e.cause(), parbench::failure::exception);
        EXPECT_EQ(e.worker(), 0u);
        EXPECT_NE(std::string(e.what()).find("worker 0 of 3 failed: exception: kernel failed at 0"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(pool.run(parbench::kernels::count{}, 1000), 1000u);
    EXPECT_FALSE(no_children()) << "the pool's children must survive an exception";
}

TEST(process_pool, one_worker_is_the_caller_alone) {
    parbench::strategies::process_pool pool(1);
    EXPECT_EQ(pool.pid(0), ::getpid());
    EXPECT_TRUE(no_children());
    EXPECT_EQ(pool.run(parbench::kernels::sum_range{}, 1000), 499500u);
    EXPECT_EQ(pool.run(parbench::kernels::locked_counter_fine{}, 1000), 1000u);
}

// Per chunk: 1 in the low half when it ran in the test's own process, 1 in the high half when in a child; each
// chunk sleeps, so that no process can take every chunk before the others wake.
struct count_where {
    using result = std::uint64_t;
    static constexpr std::string_view name = "count_where";
    result run(parbench::chunk c) const {
        std::this_thread::sleep_for(1ms);
        return c.empty() ? 0 : ::getpid() == test_process ? 1 : std::uint64_t{1} << 32;
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t) const { return 0; }
};

TEST(process_pool_dynamic, the_caller_and_the_children_share_16_chunks_per_worker) {
    ps::process_pool_dynamic pool(3);
    const std::uint64_t where = pool.run(count_where{}, 1000);
    const std::uint64_t here = where & 0xffff'ffff;
    const std::uint64_t there = where >> 32;
    EXPECT_EQ(here + there, 48u) << "3 workers × 16 chunks, each run once";
    EXPECT_GT(here, 0u) << "the caller takes chunks too";
    EXPECT_GT(there, 0u) << "the children take chunks";
    // Fewer items than chunks: one chunk per item, and workers left without one add nothing.
    const std::uint64_t two = pool.run(count_where{}, 2);
    EXPECT_EQ((two & 0xffff'ffff) + (two >> 32), 2u);
}

// Every chunk a child takes kills it; the caller's take 10 ms, so the children take some.
struct fatal_in_children {
    using result = std::uint64_t;
    static constexpr std::string_view name = "fatal_in_children";
    pid_t caller = test_process;
    result run(parbench::chunk c) const {
        if (::getpid() != caller) ::raise(SIGKILL);
        std::this_thread::sleep_for(10ms);
        return c.size();
    }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};

TEST(process_pool_dynamic, a_worker_that_dies_on_a_chunk_is_a_named_error_and_the_pool_recovers) {
    ps::process_pool_dynamic_coarse pool(3);
    try {
        (void)pool.run(fatal_in_children{}, 120);
        FAIL() << "no exception";
    } catch (const parbench::worker_error& e) {
        EXPECT_GE(e.worker(), 1u) << e.what();
        EXPECT_LT(e.worker(), 3u) << e.what();
        EXPECT_EQ(e.cause(), parbench::failure::signal) << e.what();
        EXPECT_EQ(e.detail(), SIGKILL);
        const std::string named = "worker " + std::to_string(e.worker()) + " of 3 failed: signal: 9";
        EXPECT_NE(std::string(e.what()).find(named), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.run(parbench::kernels::uneven_triangular{}, 2000),
              parbench::kernels::uneven_triangular{}.expected(2000));
}

TEST(child, leave_does_not_flush_the_parents_stdio) {
    auto out = d::make_pipe();
    const int fd = out.write.get();
    const pid_t p = d::fork_child([fd] {
        // A child of a child: its parent has unflushed output, then forks a grandchild that leaves.
        ::dup2(fd, STDOUT_FILENO);
        std::fputs("once", stdout);
        const pid_t g = d::fork_child([] { return 0; });
        (void)d::reap(g);
        std::fflush(stdout);
        return 0;
    });
    out.write.reset();
    EXPECT_EQ(d::reap(p), 0);
    char buf[64] = {};
    const auto got = d::read_full(out.read.get(), buf, sizeof buf - 1);
    EXPECT_EQ(std::string(buf, static_cast<std::size_t>(got)), "once");
}

// A child forked while the pages are kept from it does not have them mapped (mincore says ENOMEM, where a read
// would be SIGSEGV), and has the pages the range shares with other data, at its ends, with their bytes; once the
// guard is gone, children have every page again.
TEST(child, pages_kept_from_children_are_not_mapped_in_them_until_the_guard_ends) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const d::private_mapping memory(4 * page);
    auto* bytes = static_cast<volatile char*>(memory.data());
    for (std::size_t i = 0; i < 4 * page; ++i) bytes[i] = static_cast<char>(i % 7 + 1);
    // In a child: 0 if byte `at` is mapped and holds what the parent wrote, 2 if its page is not mapped.
    const auto reads = [&](std::size_t at) {
        return d::reap(d::fork_child([&, at] {
            unsigned char resident = 0;
            if (::mincore(static_cast<char*>(memory.data()) + at / page * page, page, &resident) != 0)
                return errno == ENOMEM ? 2 : 3;
            return bytes[at] == static_cast<char>(at % 7 + 1) ? 0 : 1;
        }));
    };
    const std::string unmapped = "exit code 2";
    {
        // From the middle of page 0 to the middle of page 3: pages 1 and 2 are whole.
        const d::kept_from_children kept(static_cast<char*>(memory.data()) + page / 2, 3 * page);
        EXPECT_EQ(kept.bytes(), 2 * page);
        EXPECT_EQ(d::describe_status(reads(page)), unmapped);
        EXPECT_EQ(d::describe_status(reads(3 * page - 1)), unmapped);
        EXPECT_EQ(reads(page / 2), 0);
        EXPECT_EQ(reads(3 * page), 0);
        // The parent itself keeps them.
        EXPECT_EQ(bytes[page + 3], static_cast<char>((page + 3) % 7 + 1));
    }
    EXPECT_EQ(reads(page), 0);
    EXPECT_EQ(reads(3 * page - 1), 0);
    const d::kept_from_children none(static_cast<char*>(memory.data()) + 1, page);
    EXPECT_EQ(none.bytes(), 0u);
    EXPECT_TRUE(no_children());
}

TEST(child, statuses_in_words) {
    EXPECT_EQ(d::describe_status(d::reap(d::fork_child([] { return 3; }))), "exit code 3");
    EXPECT_EQ(d::describe_status(d::reap(d::fork_child([]() -> int { throw std::runtime_error("x"); }))),
              "exit code " + std::to_string(d::exit_uncaught));
    const pid_t sleeper = d::fork_child([] {
        ::pause();
        return 0;
    });
    EXPECT_FALSE(d::reap_for(sleeper, 20ms).has_value());
    ::kill(sleeper, SIGKILL);
    const auto status = d::reap_for(sleeper, 1s);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(d::describe_status(*status), "signal 9 (Killed)");
    EXPECT_TRUE(no_children());
}

}  // namespace
