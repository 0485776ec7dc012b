#pragma once
// echo_server: the peer of the socket_tasks kernel. A child process listening on 127.0.0.1 only, at a port the
// kernel picks, that answers every request with its own bytes after a delay; each connection waits on its own,
// so a thousand delayed requests take one delay, not a thousand. It runs on an io_loop (io_loop.hpp). It starts
// with the object and is killed and reaped by its destructor, leaving no process or descriptor behind; it also
// dies with the process that started it. Stopping it closes the connections that this process's connection_pool
// keeps to it (socket_tasks with keep_alive).

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "detail/child.hpp"
#include "detail/connection_pool.hpp"
#include "detail/fd.hpp"
#include "detail/loopback.hpp"
#include "io_loop.hpp"

namespace parbench {

class echo_server {
public:
    // echo: answer after `delay`; mute: read requests and never answer (a server that stopped answering).
    enum class mode { echo, mute };

    explicit echo_server(std::chrono::microseconds delay = {}, mode m = mode::echo) {
        detail::unique_fd listener = detail::listen_loopback(port_);
        // Linux gives every accepted connection the listener's options: set once here, not per connection.
        detail::set_connection_options(listener.get());
        pid_ = detail::fork_child([&] {
            (void)detail::raise_descriptor_limit();  // one descriptor per connection
            io_loop loop;
            auto acceptor = accept_all(loop, listener.get(), delay, m);
            loop.spawn(acceptor);
            loop.run();
            return 0;
        });
    }
    ~echo_server() { stop(); }
    echo_server(const echo_server&) = delete;
    echo_server& operator=(const echo_server&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    // Kills the server (SIGKILL) and reaps it; its connections are reset, and this process's idle ones to it
    // (connection_pool) closed. Idempotent.
    void stop() noexcept {
        if (pid_ < 0) return;
        detail::kill_and_reap(pid_);
        pid_ = -1;
        detail::connection_pool::instance().close(port_);
    }

private:
    static constexpr std::chrono::hours forever{24};
    static constexpr int exit_out_of_descriptors = 74;

    static async_task<int> accept_all(io_loop& loop, int listener, std::chrono::microseconds delay, mode m) {
        for (;;) {
            (void)co_await loop.wait_for(listener, EPOLLIN, io_loop::clock::now() + forever);
            for (;;) {
                const int c = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (c < 0 && (errno == EMFILE || errno == ENFILE)) out_of_descriptors();
                if (c < 0) break;  // EAGAIN: all accepted; anything else: try again at the next wake-up
                loop.spawn_detached(serve(loop, detail::unique_fd(c), delay, m));
            }
        }
    }
    // Out of descriptors, the listener would wake the server for ever: it says so on stderr and exits, which
    // resets the connections waiting to be accepted, so the clients fail at once instead of at their deadline.
    [[noreturn]] static void out_of_descriptors() noexcept {
        const int err = errno;
        char line[160];
        const int len = std::snprintf(
            line, sizeof line, "parbench: echo_server: out of descriptors at accept (RLIMIT_NOFILE %llu): %s\n",
            static_cast<unsigned long long>(detail::raise_descriptor_limit()), std::strerror(err));
        if (len > 0) (void)!::write(STDERR_FILENO, line, std::min<std::size_t>(sizeof line - 1, std::size_t(len)));
        detail::leave(exit_out_of_descriptors);
    }
    static async_task<int> serve(io_loop& loop, detail::unique_fd c, std::chrono::microseconds delay, mode m) {
        char buffer[4096];
        for (;;) {
            if (!co_await loop.wait_for(c.get(), EPOLLIN, io_loop::clock::now() + forever)) continue;
            const ssize_t r = ::recv(c.get(), buffer, sizeof buffer, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) co_return 0;  // closed or reset by the client
            if (m == mode::mute) continue;
            if (delay.count() > 0) co_await loop.sleep_for(delay);
            if (!detail::write_full(c.get(), buffer, static_cast<std::size_t>(r))) co_return 0;
        }
    }

    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace parbench
