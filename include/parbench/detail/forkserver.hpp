#pragma once
// A fork server, as Python's "forkserver" start method has: one small, single-threaded process, itself started
// afresh (spawn_self), that forks each worker on request. A worker forked from it copies its few pages, however
// large the program that asked has grown. Requests (a worker_request with its result and state descriptors
// attached) go over a Unix socket; the server answers "exited" with the worker's wait status when it ends (or
// "fork_failed" at once), and kills its workers on request. A process pool gets a connection of its own and asks
// for its workers one by one, each answered at once with "started" and the worker's pid. It exits, killing its
// workers, when its client's end closes (the last strategy object using it was destroyed, or the program ended)
// and when the thread that started it exits (PR_SET_PDEATHSIG, set by worker_main).

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <poll.h>
#include <sys/prctl.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "child.hpp"
#include "lean_fork.hpp"
#include "pool_block.hpp"
#include "worker_request.hpp"

namespace parbench::detail {

// What the server says.
struct server_message {
    enum kind_t : std::uint32_t { ready = 1, exited = 2, fork_failed = 3, started = 4 };
    std::uint32_t kind = 0;
    std::uint32_t id = 0;
    std::int32_t pid = -1;
    std::int32_t status = 0;  // exited: the raw wait status; fork_failed: errno
    std::int64_t cpu_us = 0;  // exited: the worker's user + system CPU, from the server's wait4
};

// The CPU of every worker a fork server reaped and reported to this process, in microseconds. The workers are the
// server's children, so this process's RUSAGE_CHILDREN never has them, and the server's own cutime (/proc) counts
// them in 10 ms clock ticks; the benchmarks' tree CPU counter adds this instead (src/cpu_clock.hpp).
inline std::atomic<std::int64_t>& forkserver_reaped_cpu_us() noexcept {
    static std::atomic<std::int64_t> total{0};
    return total;
}
// Adds an "exited" message's CPU to forkserver_reaped_cpu_us; the client's side calls it once per such message.
inline void count_reaped(const server_message& m) noexcept {
    if (m.kind == server_message::exited) forkserver_reaped_cpu_us().fetch_add(m.cpu_us, std::memory_order_relaxed);
}

// The client's other requests, told apart by their first word (a worker_request's is its magic_value):
// kill every worker this connection asked for and that still runs;
inline constexpr std::uint32_t kill_workers_magic = 0x7062'6b6c;
// take the attached socket as one more connection (a process pool's own: its messages never mix with others');
inline constexpr std::uint32_t connect_magic = 0x7062'636e;
// fork a process pool's worker `worker` on the attached control block (pool_block.hpp), answered at once
// with "started" and its pid (or "fork_failed"), and "exited" when it ends.
struct pool_worker_request {
    static constexpr std::uint32_t magic_value = 0x7062'706c;
    std::uint32_t magic = magic_value;
    std::uint32_t id = 0;      // echoed in the answers
    std::uint32_t worker = 0;  // the worker's number in the pool
};

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

// The server's loop, in the process spawn_self started with mode "forkserver" and the socket at descriptor 3:
// the program's own connection, with which the server ends. Other connections (connect_magic) each see only the
// workers they asked for; one that closes has its workers killed.
[[noreturn]] inline void forkserver_main(int sock) noexcept {
    ::signal(SIGINT, SIG_IGN);  // a terminal's Ctrl-C is its client's to handle
    lean_fork_setup();
    const pid_t self = ::getpid();
    // "ready": its client waits for it, so the server's start-up is over before any run.
    const server_message ready{server_message::ready, 0, self, 0};
    if (!send_with_fds(sock, &ready, sizeof ready)) leave(0);  // its client is gone already
    struct live {
        pid_t pid;
        int pidfd;
        std::uint32_t id;
        int conn;  // the connection that asked for it; -1 once that one is gone
    };
    std::vector<live> workers;
    std::vector<int> conns{sock};  // [0] the program's own
    std::vector<pollfd> polls;     // the connections, then one pidfd per worker
    std::vector<int> gone;         // connections to drop after this round
    const auto quit = [&]() noexcept {
        for (const auto& w : workers) ::kill(w.pid, SIGKILL);  // whoever inherits them reaps them
        leave(0);
    };
    const auto kill_of = [&](int conn) noexcept {
        for (const auto& w : workers)
            if (w.conn == conn) ::kill(w.pid, SIGKILL);
    };
    // Forks a worker that runs `body` and tracks it for `conn`; the answer for a fork that failed (or nothing).
    const auto fork_worker = [&](int conn, std::uint32_t id, auto body) noexcept -> std::optional<server_message> {
        const pid_t pid = lean_fork();
        if (pid == 0) {
            ::signal(SIGINT, SIG_DFL);
            for (const int c : conns) ::close(c);  // so the server sees a client go even while this worker hangs
            if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != self) leave(exit_orphaned);
            leave(body());
        }
        server_message m{server_message::fork_failed, id, -1, errno};
        if (pid < 0) return m;
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (pidfd < 0) {
            m.status = errno;
            kill_and_reap(pid);
            return m;
        }
        workers.push_back({pid, pidfd, id, conn});
        return std::nullopt;
    };
    // Takes one request from `conn`; false if the connection is gone.
    const auto serve = [&](int conn) noexcept -> bool {
        worker_request r;
        iovec iov{&r, sizeof r};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        alignas(cmsghdr) char control[CMSG_SPACE(2 * sizeof(int))] = {};
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        const ssize_t got = ::recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
        if (got < 0 && errno == EINTR) return true;
        if (got <= 0) return false;
        int fds[2] = {-1, -1};
        for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                std::memcpy(fds, CMSG_DATA(c), std::min<std::size_t>(sizeof fds, c->cmsg_len - CMSG_LEN(0)));
        bool ok = true;
        std::optional<server_message> answer;
        if (got >= static_cast<ssize_t>(sizeof(std::uint32_t)) && r.magic == kill_workers_magic) {
            kill_of(conn);
        } else if (got >= static_cast<ssize_t>(sizeof(std::uint32_t)) && r.magic == connect_magic && fds[0] >= 0) {
            conns.push_back(std::exchange(fds[0], -1));
        } else if (got == static_cast<ssize_t>(sizeof(pool_worker_request)) &&
                   r.magic == pool_worker_request::magic_value) {
            pool_worker_request p;
            std::memcpy(static_cast<void*>(&p), &r, sizeof p);
            const int block = fds[0];
            answer = fork_worker(conn, p.id, [&] { return serve_pool_worker(block, p.worker); });
            // A pool asks for a worker's pid; a per-run worker is only reported when it exits.
            if (!answer) answer = server_message{server_message::started, p.id, workers.back().pid, 0};
        } else if (got == static_cast<ssize_t>(sizeof r)) {
            answer = fork_worker(conn, r.id, [&] { return serve_request(r, fds[0], fds[1]); });
        }
        if (answer) ok = send_with_fds(conn, &*answer, sizeof *answer);
        for (const int fd : fds)
            if (fd >= 0) ::close(fd);
        return ok;
    };
    for (;;) {
        polls.clear();
        for (const int c : conns) polls.push_back({c, POLLIN, 0});
        for (const auto& w : workers) polls.push_back({w.pidfd, POLLIN, 0});
        if (::poll(polls.data(), polls.size(), -1) < 0) {
            if (errno == EINTR) continue;
            quit();
        }
        const std::size_t nc = conns.size();
        // Workers that ended: reaped, and reported to the connection that asked for them.
        std::size_t w = 0;
        for (std::size_t j = nc; j < polls.size(); ++j) {
            int status = 0;
            rusage usage{};
            if (polls[j].revents == 0 || ::wait4(workers[w].pid, &status, WNOHANG, &usage) != workers[w].pid) {
                ++w;
                continue;
            }
            const live ended = workers[w];
            workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(w));
            ::close(ended.pidfd);
            const std::int64_t cpu_us = std::int64_t{usage.ru_utime.tv_sec + usage.ru_stime.tv_sec} * 1'000'000 +
                                        usage.ru_utime.tv_usec + usage.ru_stime.tv_usec;
            const server_message m{server_message::exited, ended.id, ended.pid, status, cpu_us};
            if (ended.conn >= 0 && !send_with_fds(ended.conn, &m, sizeof m)) gone.push_back(ended.conn);
        }
        for (std::size_t c = 0; c < nc; ++c)
            if (polls[c].revents != 0 && !serve(polls[c].fd)) gone.push_back(polls[c].fd);
        for (const int conn : gone) {
            if (conn == sock) quit();  // the program is gone
            const auto at = std::find(conns.begin(), conns.end(), conn);
            if (at == conns.end()) continue;
            kill_of(conn);  // reaped later; no one to report them to
            for (auto& x : workers)
                if (x.conn == conn) x.conn = -1;
            conns.erase(at);
            ::close(conn);
        }
        gone.clear();
    }
}

}  // namespace parbench::detail
