// The event_loop strategy, the io_loop under it, the socket_tasks kernel and its echo server: totals with many
// tasks in flight, the server's faults as named errors within a bounded time, and no descriptor, thread or
// process left behind after many runs. (Every kernel's total under event_loop: the conformance suites.)

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "parbench/parbench.hpp"

namespace parbench::test {
namespace {

using namespace std::chrono_literals;

std::size_t entries(const char* dir) {
    std::size_t n = 0;
    if (DIR* d = ::opendir(dir)) {
        while (const dirent* e = ::readdir(d))
            if (e->d_name[0] != '.') ++n;
        ::closedir(d);
    }
    return n;
}
// This process's children, from /proc (each thread's list).
std::size_t children() {
    std::size_t n = 0;
    DIR* d = ::opendir("/proc/self/task");
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/children");
        std::string pid;
        while (f >> pid) ++n;
    }
    ::closedir(d);
    return n;
}

TEST(event_loop, a_thousand_sleeps_in_flight_give_the_total) {
    strategies::event_loop loop(1000);
    const kernels::sleep_tasks k{1ms};
    EXPECT_EQ(loop.run(k, 1000), k.expected(1000));
    EXPECT_EQ(loop.run(k, 2500), k.expected(2500));  // 2 or 3 sleeps per task
}

TEST(event_loop, a_thousand_requests_in_flight_give_the_total) {
    const echo_server server(1ms);
    strategies::event_loop loop(1000);
    const kernels::socket_tasks k{server.port()};
    EXPECT_EQ(loop.run(k, 1000), k.expected(1000));
}

// A run against a broken server: the named error, raised as a worker_error of the strategy.
template <class S>
std::string error_of(const kernels::socket_tasks& k, unsigned workers, std::uint64_t n) {
    S strategy(workers);
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
class server_faults : public ::testing::Test {};
using fault_strategies = ::testing::Types<strategies::event_loop, strategies::thread_pool, strategies::threads,
                                          strategies::processes_pipe, strategies::gil_threads>;
TYPED_TEST_SUITE(server_faults, fault_strategies);

TYPED_TEST(server_faults, a_refused_connection_is_named) {
    std::uint16_t port = 0;
    { const detail::unique_fd closed = detail::listen_loopback(port); }  // nobody listens there any more
    const std::string what = error_of<TypeParam>(kernels::socket_tasks{port, 2000ms}, 4, 40);
    EXPECT_NE(what.find("could not connect to the echo server at 127.0.0.1:" + std::to_string(port)), std::string::npos)
        << what;
    EXPECT_NE(what.find("Connection refused"), std::string::npos) << what;
}

TYPED_TEST(server_faults, a_server_that_stops_answering_is_named_at_the_deadline) {
    const echo_server server({}, echo_server::mode::mute);
    const std::string what = error_of<TypeParam>(kernels::socket_tasks{server.port(), 200ms}, 4, 40);
    EXPECT_NE(what.find("did not answer within 200 ms"), std::string::npos) << what;
}

TYPED_TEST(server_faults, a_server_that_dies_is_named) {
    echo_server server(50ms);
    // Kill the server while the requests wait for their answers.
    std::jthread killer([&] {
        std::this_thread::sleep_for(20ms);
        server.stop();
    });
    const std::string what = error_of<TypeParam>(kernels::socket_tasks{server.port(), 5000ms}, 4, 400);
    EXPECT_NE(what.find("the echo server at 127.0.0.1:" + std::to_string(server.port())), std::string::npos) << what;
    const bool named = what.find("closed the connection") != std::string::npos ||
                       what.find("broke the connection") != std::string::npos ||
                       what.find("could not connect") != std::string::npos;
    EXPECT_TRUE(named) << what;
}

TEST(event_loop, a_thousand_runs_leave_no_descriptor_thread_or_process) {
    strategies::event_loop loop(8);  // its epoll and timerfd, and the pool's threads, are there from the start
    strategies::thread_pool pool(4);
    const std::size_t fds = entries("/proc/self/fd"), threads = entries("/proc/self/task"), kids = children();
    for (int run = 0; run < 1000; ++run) {
        const echo_server server;
        const kernels::socket_tasks k{server.port()};
        ASSERT_EQ(loop.run(k, 16), k.expected(16));
        ASSERT_EQ(pool.run(k, 16), k.expected(16));
        ASSERT_EQ(loop.run(kernels::sleep_tasks{1us}, 16), kernels::sleep_tasks{}.expected(16));
    }
    EXPECT_EQ(entries("/proc/self/fd"), fds);
    EXPECT_EQ(entries("/proc/self/task"), threads);
    EXPECT_EQ(children(), kids);
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
