// The event_loop strategies (event_loop, and event_loop.io_uring where built), the io_loop under them, the
// socket_tasks kernel and its echo server: totals with many tasks in flight, the server's faults and the end of
// descriptors as named errors within a bounded time, and no descriptor, thread or process left behind after many
// runs; with keep_alive, connections kept across runs by the connection pool, its faults named the same way and
// forked workers leaving the parent's kept connections alone. (Every kernel's total under event_loop: the
// conformance suites, here for event_loop.io_uring.)
// event_loop.io_uring's tests skip, saying why, where the build has no liburing or the kernel refuses io_uring.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "conformance.hpp"
#include "leaks.hpp"
#include "parbench/parbench.hpp"
#if defined(PARBENCH_HAS_URING)
#include "parbench/strategies/event_loop_uring.hpp"
#endif

namespace parbench::test {

// Why strategy S cannot run here (event_loop.io_uring without an io_uring), or empty.
template <class S>
std::string unavailable() {
    if constexpr (requires { S::unavailable_reason(); })
        return S::unavailable_reason();
    else
        return {};
}

#if defined(PARBENCH_HAS_URING)
// Every kernel's total and the error tests under event_loop.io_uring (conformance.hpp), skipped without io_uring.
template <>
class strategy_equality<strategies::event_loop_uring> : public ::testing::Test {
protected:
    void SetUp() override {
        if (const std::string why = unavailable<strategies::event_loop_uring>(); !why.empty()) GTEST_SKIP() << why;
    }
};
template <>
class strategy_errors<strategies::event_loop_uring> : public strategy_equality<strategies::event_loop_uring> {};
using uring_strategies = ::testing::Types<strategies::event_loop_uring>;
INSTANTIATE_TYPED_TEST_SUITE_P(uring, strategy_equality, uring_strategies, strategy_name);
INSTANTIATE_TYPED_TEST_SUITE_P(uring, strategy_errors, uring_strategies, strategy_name);
using event_loops = ::testing::Types<strategies::event_loop, strategies::event_loop_uring>;
#else
TEST(event_loop_uring, is_built_where_liburing_is_found) {
    GTEST_SKIP() << "event_loop.io_uring is not built: CMake found no liburing (Debian: liburing-dev), or "
                    "PARBENCH_WITH_URING is OFF";
}
using event_loops = ::testing::Types<strategies::event_loop>;
#endif

namespace {

using namespace std::chrono_literals;

// A typed test over strategies, skipped (saying why) for one this process cannot run.
template <class S>
class runnable : public ::testing::Test {
protected:
    void SetUp() override {
        if (const std::string why = unavailable<S>(); !why.empty()) GTEST_SKIP() << S::name << ": " << why;
    }
};
template <class S>
class loops : public runnable<S> {};
TYPED_TEST_SUITE(loops, event_loops, strategy_name);

TYPED_TEST(loops, a_thousand_sleeps_in_flight_give_the_total) {
    TypeParam loop(1000);
    const kernels::sleep_tasks k{1ms};
    EXPECT_EQ(loop.run(k, 1000), k.expected(1000));
    EXPECT_EQ(loop.run(k, 2500), k.expected(2500));  // 2 or 3 sleeps per task
    TypeParam all(10000);                            // past the old cap on workers, 4096
    EXPECT_EQ(all.run(k, 10000), k.expected(10000));
}

TYPED_TEST(loops, a_thousand_requests_in_flight_give_the_total) {
    (void)detail::raise_descriptor_limit();  // 1,000 sockets: more than Debian's default soft limit allows
    const echo_server server(1ms);
    TypeParam loop(1000);
    const kernels::socket_tasks k{server.port()};
    EXPECT_EQ(loop.run(k, 1000), k.expected(1000));
}

// A run against a broken server: the named error, raised as a worker_error of the strategy.
template <class S>
std::string error_of(S& strategy, const kernels::socket_tasks& k, std::uint64_t n) {
    try {
        (void)strategy.run(k, n);
    } catch (const worker_error& e) {
        EXPECT_EQ(e.cause(), failure::exception) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no error";
    return {};
}
template <class S>
std::string error_of(const kernels::socket_tasks& k, unsigned workers, std::uint64_t n) {
    S strategy(workers);
    return error_of(strategy, k, n);
}

template <class S>
class server_faults : public runnable<S> {};
using fault_strategies =
    ::testing::Types<strategies::event_loop,
#if defined(PARBENCH_HAS_URING)
                     strategies::event_loop_uring,
#endif
                     strategies::thread_pool, strategies::threads, strategies::processes_pipe, strategies::gil_threads>;
TYPED_TEST_SUITE(server_faults, fault_strategies, strategy_name);

// Each fault with fresh connections and with kept ones (keep_alive): the same named error.
TYPED_TEST(server_faults, a_refused_connection_is_named) {
    std::uint16_t port = 0;
    { const detail::unique_fd closed = detail::listen_loopback(port); }  // nobody listens there any more
    for (const bool keep_alive : {false, true}) {
        const std::string what = error_of<TypeParam>(kernels::socket_tasks{port, 2000ms, keep_alive}, 4, 40);
        EXPECT_NE(what.find("could not connect to the echo server at 127.0.0.1:" + std::to_string(port)),
                  std::string::npos)
            << what;
        EXPECT_NE(what.find("Connection refused"), std::string::npos) << what;
    }
}

TYPED_TEST(server_faults, a_server_that_stops_answering_is_named_at_the_deadline) {
    const echo_server server({}, echo_server::mode::mute);
    for (const bool keep_alive : {false, true}) {
        const std::string what = error_of<TypeParam>(kernels::socket_tasks{server.port(), 200ms, keep_alive}, 4, 40);
        EXPECT_NE(what.find("did not answer within 200 ms"), std::string::npos) << what;
    }
    EXPECT_EQ(detail::connection_pool::instance().idle(server.port()), 0u) << "a connection that failed was kept";
}

// Whether `what` names the server at port as gone: closed, reset, or refusing a new connection.
void expect_named_as_gone(const std::string& what, std::uint16_t port) {
    EXPECT_NE(what.find("the echo server at 127.0.0.1:" + std::to_string(port)), std::string::npos) << what;
    const bool named = what.find("closed the connection") != std::string::npos ||
                       what.find("broke the connection") != std::string::npos ||
                       what.find("could not be sent a request") != std::string::npos ||
                       what.find("could not connect") != std::string::npos;
    EXPECT_TRUE(named) << what;
}

TYPED_TEST(server_faults, a_server_that_dies_is_named) {
    for (const bool keep_alive : {false, true}) {
        echo_server server(50ms);
        // Kill the server while the requests wait for their answers.
        std::jthread killer([&] {
            std::this_thread::sleep_for(20ms);
            server.stop();
        });
        expect_named_as_gone(error_of<TypeParam>(kernels::socket_tasks{server.port(), 5000ms, keep_alive}, 4, 400),
                             server.port());
    }
}

// The kept-connection faults: a server that dies, or stops answering, between two runs. The first run fills the
// pool (a forked worker fills its own); the second meets the fault on kept connections and names it, and the
// pool keeps none of the connections that failed.
TYPED_TEST(server_faults, a_kept_connection_whose_server_died_is_named) {
    echo_server server;
    const kernels::socket_tasks k{server.port(), 2000ms, true};
    TypeParam strategy(4);
    ASSERT_EQ(strategy.run(k, 40), k.expected(40));
    ASSERT_EQ(::kill(server.pid(), SIGKILL), 0) << std::strerror(errno);
    siginfo_t info{};  // dead, its connections reset, and left for stop() to reap
    ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(server.pid()), &info, WEXITED | WNOWAIT), 0) << std::strerror(errno);
    expect_named_as_gone(error_of(strategy, k, 40), server.port());
    EXPECT_EQ(detail::connection_pool::instance().idle(server.port()), 0u) << "a connection that failed was kept";
}

TYPED_TEST(server_faults, a_kept_connection_whose_server_stopped_answering_is_named_at_the_deadline) {
    echo_server server;
    const kernels::socket_tasks fill{server.port(), 5000ms, true};  // a slowed machine's stall is not the fault
    const kernels::socket_tasks k{server.port(), 200ms, true};
    TypeParam strategy(4);
    ASSERT_EQ(strategy.run(fill, 40), fill.expected(40));                 // the kept connections, which k then uses
    ASSERT_EQ(::kill(server.pid(), SIGSTOP), 0) << std::strerror(errno);  // alive, connected, silent
    const std::string what = error_of(strategy, k, 40);
    EXPECT_NE(what.find("did not answer within 200 ms"), std::string::npos) << what;
    EXPECT_EQ(detail::connection_pool::instance().idle(server.port()), 0u) << "a connection that failed was kept";
    ASSERT_EQ(::kill(server.pid(), SIGCONT), 0) << std::strerror(errno);
}

TYPED_TEST(loops, a_thousand_runs_leave_no_descriptor_thread_or_process) {
    TypeParam loop(8);  // its epoll and timerfd (or its ring), and the pool's threads, are there from the start
    strategies::thread_pool pool(4);
    const std::size_t fds = open_fds(), threads = threads_now(), kids = children_of(::getpid()).size();
    for (int run = 0; run < 1000; ++run) {
        const echo_server server;
        const kernels::socket_tasks k{server.port()};
        ASSERT_EQ(loop.run(k, 16), k.expected(16));
        ASSERT_EQ(pool.run(k, 16), k.expected(16));
        ASSERT_EQ(loop.run(kernels::sleep_tasks{1us}, 16), kernels::sleep_tasks{}.expected(16));
    }
    EXPECT_EQ(open_fds(), fds);
    EXPECT_EQ(settled_threads(threads), threads);
    EXPECT_EQ(children_of(::getpid()).size(), kids);
}

// Kept connections: a run takes its connections from the pool and gives them back, so many runs against one
// server hold as many connections as the first did; stopping the server closes them.
TYPED_TEST(loops, kept_connections_are_reused_by_a_thousand_runs_and_closed_with_their_server) {
    TypeParam loop(8);
    strategies::thread_pool pool(4);
    const std::size_t fds = open_fds(), threads = threads_now(), kids = children_of(::getpid()).size();
    std::size_t kept = 0;
    {
        echo_server server;
        const kernels::socket_tasks k{.port = server.port(), .keep_alive = true};
        auto& cache = detail::connection_pool::instance();
        ASSERT_EQ(loop.run(k, 16), k.expected(16));
        ASSERT_EQ(cache.idle(server.port()), 8u);  // one a task
        ASSERT_EQ(pool.run(k, 16), k.expected(16));
        ASSERT_EQ(cache.idle(server.port()), 8u);  // the pool's 4 chunks took 4 of them and gave them back
        kept = open_fds();
        for (int run = 0; run < 1000; ++run) {
            ASSERT_EQ(loop.run(k, 16), k.expected(16));
            ASSERT_EQ(pool.run(k, 16), k.expected(16));
        }
        EXPECT_EQ(open_fds(), kept);
        EXPECT_EQ(cache.idle(server.port()), 8u);
        server.stop();
        EXPECT_EQ(cache.idle(server.port()), 0u);
    }
    EXPECT_EQ(open_fds(), fds);
    EXPECT_EQ(settled_threads(threads), threads);
    EXPECT_EQ(children_of(::getpid()).size(), kids);
}

// This process's soft limit on descriptors, lowered to leave `room` free ones, and restored at the end of scope.
class descriptor_room {
public:
    explicit descriptor_room(rlim_t room) {
        ok_ = ::getrlimit(RLIMIT_NOFILE, &saved_) == 0;
        rlimit low = saved_;
        low.rlim_cur = open_fds() + room;
        ok_ = ok_ && low.rlim_cur < saved_.rlim_cur && ::setrlimit(RLIMIT_NOFILE, &low) == 0;
    }
    ~descriptor_room() { (void)::setrlimit(RLIMIT_NOFILE, &saved_); }
    [[nodiscard]] bool ok() const noexcept { return ok_; }

private:
    rlimit saved_{};
    bool ok_ = false;
};

// More tasks in flight than the process may open descriptors: the error says so and names the limit, under the
// loop and under a pool's blocking threads. (The pool's threads start and the loop runs once before the limit: a
// sanitizer checking an object's vtable the first time needs a pipe, and would report the vtable invalid when it
// gets none.)
TYPED_TEST(loops, running_out_of_descriptors_is_named) {
    const echo_server server(50ms);  // the pool's connections are all open at once
    const kernels::socket_tasks k{server.port()};
    TypeParam loop(64);
    ASSERT_EQ(loop.run(k, 64), k.expected(64));
    strategies::thread_pool pool(64);
    const descriptor_room room(16);
    ASSERT_TRUE(room.ok()) << std::strerror(errno);
    for (const std::string& what : {error_of(loop, k, 64), error_of(pool, k, 64)}) {
        EXPECT_NE(what.find("socket: out of descriptors (this process may open "), std::string::npos) << what;
        EXPECT_NE(what.find("RLIMIT_NOFILE"), std::string::npos) << what;
    }
}

// The echo server out of descriptors: it says so on stderr and exits, and every client fails with a named error
// at once rather than at its deadline. In a forked child, whose hard limit it lowers for good: the server holds the
// child's 40 extra descriptors as it starts, so it runs out while the client still has room.
TEST(echo_server, running_out_of_descriptors_ends_it_with_a_named_error) {
    enum status : int { ok = 0, setup_failed = 10, no_error = 11, wrong_error = 12, no_line = 13 };
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    ASSERT_NE(pid, -1) << std::strerror(errno);
    if (pid == 0) {
        int result = ok;
        const detail::unique_fd original_stderr(::dup(STDERR_FILENO));
        std::FILE* log = std::tmpfile();
        rlimit l{};
        if (!original_stderr || !log || ::getrlimit(RLIMIT_NOFILE, &l) != 0) detail::leave(setup_failed);
        l.rlim_cur = l.rlim_max = std::min<rlim_t>(l.rlim_max, open_fds() + 64);
        if (::setrlimit(RLIMIT_NOFILE, &l) != 0 || ::dup2(::fileno(log), STDERR_FILENO) < 0)
            detail::leave(setup_failed);
        std::vector<detail::unique_fd> held;
        for (int i = 0; i < 40; ++i) held.emplace_back(::open("/dev/null", O_RDONLY));
        std::string what;
        {
            const echo_server server;
            held.clear();
            strategies::event_loop loop(48);
            what = error_of(loop, kernels::socket_tasks{server.port()}, 48);
            const bool named =
                what.find("the echo server at 127.0.0.1:" + std::to_string(server.port())) != std::string::npos &&
                what.find("did not answer") == std::string::npos;
            if (!named) result = what.empty() ? no_error : wrong_error;
        }
        std::fflush(log);
        std::string line(4096, '\0');
        line.resize(
            static_cast<std::size_t>(std::max<ssize_t>(0, ::pread(::fileno(log), line.data(), line.size(), 0))));
        if (result == ok &&
            line.find("parbench: echo_server: out of descriptors at accept (RLIMIT_NOFILE ") == std::string::npos)
            result = no_line;
        (void)::dup2(original_stderr.get(), STDERR_FILENO);
        std::fprintf(stderr, "client: %s\nserver's stderr: %s\n", what.c_str(), line.c_str());
        std::fflush(stderr);
        detail::leave(result);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), ok) << "see the child's stderr above";
}

// Forked and started workers with kept connections: each process keeps its own, so a forked worker never uses
// the parent's (the parent's runs before and after give the total and keep the same connections), and 1,000 runs
// leave no descriptor, mapping or process behind (leaks.hpp) while the server lives.
template <class S>
class kept_in_workers : public ::testing::Test {};
using worker_strategies =
    ::testing::Types<strategies::processes_pipe, strategies::process_pool, strategies::process_pool_dynamic_fine,
                     strategies::processes_forkserver, strategies::process_pool_spawn>;
TYPED_TEST_SUITE(kept_in_workers, worker_strategies, strategy_name);

TYPED_TEST(kept_in_workers, the_parents_kept_connections_stay_the_parents) {
    const echo_server server;
    const kernels::socket_tasks k{.port = server.port(), .keep_alive = true};
    auto& cache = detail::connection_pool::instance();
    // The loop's 4 tasks all take a connection before any gives one back (a pool's threads may not: a chunk that
    // ends before another starts hands it its connection), so the parent keeps exactly 4.
    strategies::event_loop loop(4);
    ASSERT_EQ(loop.run(k, 40), k.expected(40));
    ASSERT_EQ(cache.idle(server.port()), 4u);
    const std::size_t fds = open_fds();
    {
        TypeParam workers(4);
        for (int run = 0; run < 3; ++run) ASSERT_EQ(workers.run(k, 40), k.expected(40));
        ASSERT_EQ(loop.run(k, 40), k.expected(40));  // the parent's connections, still whole
    }
    EXPECT_EQ(cache.idle(server.port()), 4u);
    EXPECT_EQ(open_fds(), fds);
}

// leaks.hpp's leak test, with the echo server the one child allowed to outlive the strategy.
TYPED_TEST(kept_in_workers, a_thousand_runs_leak_nothing) {
    const echo_server server;
    const kernels::socket_tasks k{.port = server.port(), .keep_alive = true};
    const auto runs = [&](TypeParam& strategy, int count) {
        for (int run = 0; run < count; ++run) ASSERT_EQ(strategy.run(k, 16), k.expected(16));
    };
    expect_runs_leak_nothing<TypeParam>(runs, 2, 100, 1000, {server.pid()});
}

TEST(io_loop, a_descriptor_wait_ends_at_its_deadline) {
    io_loop loop;
    const detail::pipe_fds p = detail::make_pipe();
    auto waiter = [](io_loop& l, int fd) -> async_task<int> {
        co_return (co_await l.wait_for(fd, EPOLLIN, io_loop::clock::now() + 5ms)) ? 1 : 0;
    }(loop, p.read.get());
    loop.spawn(waiter);
    loop.run();
    EXPECT_EQ(waiter.get(), 0);
}

}  // namespace
}  // namespace parbench::test
