#pragma once
// TCP over loopback, written once: a listening socket on 127.0.0.1, a non-blocking connect to it, and the
// options every connection gets. The echo server (echo_server.hpp) and the socket_tasks kernel use them.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fd.hpp"

namespace parbench::detail {

[[nodiscard]] inline sockaddr_in loopback_address(std::uint16_t port) noexcept {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// A non-blocking socket listening on 127.0.0.1 at a port the kernel picks; port is set to it.
[[nodiscard]] inline unique_fd listen_loopback(std::uint16_t& port) {
    unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s) throw_errno("socket");
    const sockaddr_in a = loopback_address(0);
    if (::bind(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) throw_errno("bind 127.0.0.1");
    if (::listen(s.get(), 65535) != 0) throw_errno("listen");  // the kernel caps it at net.core.somaxconn
    sockaddr_in bound{};
    socklen_t len = sizeof bound;
    if (::getsockname(s.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0) throw_errno("getsockname");
    port = ntohs(bound.sin_port);
    return s;
}

// Small requests answered at once: no Nagle delay. A connection closed with a reset leaves no TIME_WAIT, so a
// benchmark that opens a million connections does not run out of ports.
inline void set_connection_options(int fd) noexcept {
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const linger no_linger{1, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_LINGER, &no_linger, sizeof no_linger);
}

// The error of a connect to 127.0.0.1:port that failed with err, naming `who`.
[[noreturn]] inline void throw_connect_failed(std::uint16_t port, const char* who, int err) {
    throw std::runtime_error(std::string(who) + ": could not connect to the echo server at 127.0.0.1:" +
                             std::to_string(port) + ": " + std::strerror(err));
}

// Starts a non-blocking connect to 127.0.0.1:port. Returns the socket; `pending` says whether the connect is still
// in progress (wait for it to be writable, then call connect_result). Throws std::runtime_error naming `who`
// and the port if the connect fails at once.
[[nodiscard]] inline unique_fd start_connect(std::uint16_t port, bool& pending, const char* who) {
    unique_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s) throw_descriptor_errno("socket");
    set_connection_options(s.get());
    const sockaddr_in a = loopback_address(port);
    pending = false;
    if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        if (errno != EINPROGRESS) throw_connect_failed(port, who, errno);
        pending = true;
    }
    return s;
}

// Once a pending connect's socket is writable: throws as start_connect does if the connect failed.
inline void connect_result(int fd, std::uint16_t port, const char* who) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) throw_connect_failed(port, who, err);
}

}  // namespace parbench::detail
