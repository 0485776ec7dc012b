#pragma once
// socket_tasks: n requests to an echo server on loopback (echo_server.hpp), each task waiting for its answer on
// a real descriptor (seed 004 in docs/seeds.md, with I/O in place of a sleep). A chunk opens one connection and
// sends its requests one after another: 8 bytes holding i + 1, answered by the same 8 bytes. The total is the sum
// of the answers. Every wait has a deadline, so a server that dies, refuses or stops answering is an error that
// names it, never a hang.
// With keep_alive (the benchmarks' socket_tasks.keepalive.delay_<D>us) a chunk takes an idle connection from this
// process's connection_pool (detail/connection_pool.hpp) and gives it back after its last answer, as a client
// with a connection pool does: from the second run on, a request costs its send, its wait and its receive, and
// no connect or close. A kept connection that the server has since closed is an error naming the server, as a
// fresh one's would be; the pool keeps no connection that failed.

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../detail/connection_pool.hpp"
#include "../detail/loopback.hpp"
#include "../io_loop.hpp"

namespace parbench::kernels {

struct socket_tasks {
    using result = std::uint64_t;
    static constexpr std::string_view name = "socket_tasks";

    std::uint16_t port = 0;                   // the echo server's port on 127.0.0.1
    std::chrono::milliseconds timeout{5000};  // the longest wait for a connect or an answer
    bool keep_alive = false;                  // connections kept in the connection_pool across chunks and runs

    // Blocking: the thread waits in poll at each step.
    [[nodiscard]] result run(chunk c) const { return requests(c, blocking_waits{this}).run_in_place(); }
    // On an io_loop: the task gives the thread away at every wait.
    [[nodiscard]] async_task<result> run_async(chunk c, io_loop& loop) const {
        return requests(c, loop_waits{this, &loop});
    }

    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept { return n * (n + 1) / 2; }

private:
    static constexpr const char* who = "socket_tasks";

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error(std::string(who) + ": the echo server at 127.0.0.1:" + std::to_string(port) + " " +
                                 what);
    }
    [[noreturn]] void no_answer() const { fail("did not answer within " + std::to_string(timeout.count()) + " ms"); }

    // The chunk's requests, written once for both forms: co_await waits(fd, EPOLLIN or EPOLLOUT) is true once fd
    // is ready, false at the deadline. loop_waits suspends the task on the loop; blocking_waits blocks in poll
    // and completes at once, so that run() runs the same coroutine in place.
    template <class Waits>
    async_task<result> requests(chunk c, Waits waits) const {
        if (c.empty()) co_return 0;
        bool connecting = false;
        detail::unique_fd s = keep_alive ? detail::connection_pool::instance().take(port) : detail::unique_fd();
        if (!s) s = detail::start_connect(port, connecting, who);
        result sum = 0;
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            // The first request goes out without waiting for the connect: on loopback the handshake is done by
            // the time connect returns, and a socket still connecting refuses the send (then the task waits until
            // it is writable) or names the connect's error. Each answer is waited for before it is read: the
            // server has yet to answer, so a read first would almost always be a system call that finds nothing.
            if (!send(s.get(), i + 1, connecting)) {
                if (!co_await waits(s.get(), EPOLLOUT)) no_answer();
                detail::connect_result(s.get(), port, who);
                (void)send(s.get(), i + 1, false);
            }
            connecting = false;
            std::uint64_t answer = 0;
            std::size_t got = 0;
            do {
                if (!co_await waits(s.get(), EPOLLIN)) no_answer();
            } while (!receive(s.get(), answer, got));
            sum += check(i + 1, answer);
        }
        // Only here, every answer read, may the connection serve another chunk; on any error it closes with s.
        if (keep_alive) detail::connection_pool::instance().give_back(port, std::move(s));
        co_return sum;
    }
    struct loop_waits {
        const socket_tasks* k;
        io_loop* loop;
        io_loop::fd_awaiter operator()(int fd, std::uint32_t events) const {
            return loop->wait_for(fd, events, io_loop::clock::now() + k->timeout);
        }
    };
    struct blocking_waits {
        const socket_tasks* k;
        struct done {
            bool ready;
            bool await_ready() const noexcept { return true; }
            void await_suspend(std::coroutine_handle<>) const noexcept {}
            bool await_resume() const noexcept { return ready; }
        };
        static_assert(EPOLLIN == POLLIN && EPOLLOUT == POLLOUT);
        done operator()(int fd, std::uint32_t events) const {
            pollfd p{fd, static_cast<short>(events), 0};
            int r;
            {
                blocking_scope blocking;
                do r = ::poll(&p, 1, static_cast<int>(k->timeout.count()));
                while (r < 0 && errno == EINTR);
            }
            if (r < 0) detail::throw_errno("poll");
            return {r > 0};
        }
    };
    // Sends one request: 8 bytes into an empty socket buffer, all or an error, never a part. While the connect
    // may still be under way (`connecting`), returns false if the socket cannot send yet, and names an error as
    // the connect's; otherwise returns true.
    bool send(int fd, std::uint64_t request, bool connecting) const {
        ssize_t w;
        do w = ::send(fd, &request, sizeof request, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w == static_cast<ssize_t>(sizeof request)) return true;
        if (connecting && w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
            detail::throw_connect_failed(port, who, errno);
        }
        fail(std::string("could not be sent a request: ") + (w < 0 ? std::strerror(errno) : "short write"));
    }
    // Reads what has arrived of the 8-byte answer; true once it is whole.
    bool receive(int fd, std::uint64_t& answer, std::size_t& got) const {
        for (;;) {
            const ssize_t r = ::recv(fd, reinterpret_cast<char*>(&answer) + got, sizeof answer - got, 0);
            if (r > 0) {
                got += static_cast<std::size_t>(r);
                if (got == sizeof answer) return true;
                continue;
            }
            if (r == 0) fail("closed the connection before it answered");
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
            fail(std::string("broke the connection: ") + std::strerror(errno));
        }
    }
    std::uint64_t check(std::uint64_t request, std::uint64_t answer) const {
        if (answer != request) fail("answered " + std::to_string(answer) + " to request " + std::to_string(request));
        return answer;
    }
};

}  // namespace parbench::kernels
