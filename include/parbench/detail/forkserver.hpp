#pragma once
// A fork server, as Python's "forkserver" start method has: one small, single-threaded process, itself started
// afresh (spawn_self), that forks each worker on request. A worker forked from it copies its few pages, however
// large the program that asked has grown. Requests (a worker_request with its result and state descriptors
// attached) go over a Unix socket; the server answers "exited" with the worker's wait status when it ends (or
// "fork_failed" at once), and kills its workers on request. It exits, killing its workers, when its client's end closes (the last
// strategy object using it was destroyed, or the program ended) and when the thread that started it exits
// (PR_SET_PDEATHSIG, set by worker_main).

#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <poll.h>
#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <vector>

#include "child.hpp"
#include "lean_fork.hpp"
#include "worker_request.hpp"

namespace parbench::detail {

// What the server says.
struct server_message {
    enum kind_t : std::uint32_t { ready = 1, exited = 2, fork_failed = 3 };
    std::uint32_t kind = 0;
    std::uint32_t id = 0;
    std::int32_t pid = -1;
    std::int32_t status = 0;  // exited: the raw wait status; fork_failed: errno
};

// The client's other request: kill every worker still running.
inline constexpr std::uint32_t kill_workers_magic = 0x7062'6b6c;

// Sends one datagram, with up to two descriptors attached (negative ones are left out). False if the peer is gone.
inline bool send_with_fds(int sock, const void* data, std::size_t size, int fd0 = -1, int fd1 = -1) noexcept {
    iovec iov{const_cast<void*>(data), size};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
    const int fds[2] = {fd0, fd1};
    const std::size_t count = (fd0 >= 0 ? 1U : 0U) + (fd1 >= 0 ? 1U : 0U);
    if (count > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(count * sizeof(int));
        std::memcpy(CMSG_DATA(c), fd0 >= 0 ? fds : fds + 1, count * sizeof(int));
    }
    for (;;) {
        const ssize_t w = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (w == static_cast<ssize_t>(size)) return true;
        if (w < 0 && errno == EINTR) continue;
        return false;
    }
}

// The server's loop, in the process spawn_self started with mode "forkserver" and the socket at descriptor 3.
[[noreturn]] inline void forkserver_main(int sock) noexcept {
    ::signal(SIGINT, SIG_IGN);  // a terminal's Ctrl-C is its client's to handle
    lean_fork_setup();
    const pid_t self = ::getpid();
    // "ready": its client waits for it, so the server's start-up is over before any run.
    const server_message ready{server_message::ready, 0, self, 0};
    if (!send_with_fds(sock, &ready, sizeof ready)) leave(0);  // its client is gone already
    struct live {
        pid_t pid;
        std::uint32_t id;
    };
    std::vector<live> workers;
    std::vector<pollfd> polls;  // [0] the socket, then one pidfd per worker
    polls.push_back({sock, POLLIN, 0});
    const auto quit = [&]() noexcept {
        for (const auto& w : workers) ::kill(w.pid, SIGKILL);  // whoever inherits them reaps them
        leave(0);
    };
    for (;;) {
        if (::poll(polls.data(), polls.size(), -1) < 0 && errno != EINTR) quit();
        if (polls[0].revents != 0) {
            worker_request r;
            iovec iov{&r, sizeof r};
            msghdr msg{};
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
            msg.msg_control = control;
            msg.msg_controllen = sizeof control;
            const ssize_t got = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
            if (got == 0 || (got < 0 && errno != EINTR)) quit();  // the client is gone
            int fds[2] = {-1, -1};
            for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                    std::memcpy(fds, CMSG_DATA(c), std::min<std::size_t>(sizeof fds, c->cmsg_len - CMSG_LEN(0)));
            if (got >= static_cast<ssize_t>(sizeof(std::uint32_t)) && r.magic == kill_workers_magic) {
                for (const auto& w : workers) ::kill(w.pid, SIGKILL);
            } else if (got == static_cast<ssize_t>(sizeof r)) {
                const pid_t pid = lean_fork();
                if (pid == 0) {
                    ::signal(SIGINT, SIG_DFL);
                    ::close(sock);  // so the server sees its client go even while this worker hangs
                    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != self) leave(exit_orphaned);
                    leave(serve_request(r, fds[0], fds[1]));
                }
                // A started worker is only reported when it exits; a fork that failed is reported now.
                server_message m{server_message::fork_failed, r.id, -1, errno};
                bool tracked = false;
                if (pid > 0) {
                    const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
                    if (pidfd < 0) {
                        m.status = errno;
                        kill_and_reap(pid);
                    } else {
                        workers.push_back({pid, r.id});
                        polls.push_back({pidfd, POLLIN, 0});
                        tracked = true;
                    }
                }
                if (!tracked && !send_with_fds(sock, &m, sizeof m)) quit();
            }
            for (const int fd : fds)
                if (fd >= 0) ::close(fd);
        }
        for (std::size_t i = 1; i < polls.size();) {
            int status = 0;
            if (polls[i].revents == 0 || ::waitpid(workers[i - 1].pid, &status, WNOHANG) != workers[i - 1].pid) {
                ++i;
                continue;
            }
            const server_message m{server_message::exited, workers[i - 1].id, workers[i - 1].pid, status};
            ::close(polls[i].fd);
            polls.erase(polls.begin() + static_cast<std::ptrdiff_t>(i));
            workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(i - 1));
            if (!send_with_fds(sock, &m, sizeof m)) quit();
        }
    }
}

}  // namespace parbench::detail
