#pragma once
// The program's side of a fork server (forkserver.hpp).
//
// Lifetime (issue 17): a server lives exactly as long as the processes.forkserver objects that use it. Each object
// holds a shared handle (acquire()); objects alive at the same time share one server, started when the first of
// them is built, and the last one destroyed stops the server and reaps it. The benchmark harness builds a strategy
// per benchmark, so no server outlives the benchmark that used it: the next benchmark starts from a process with
// no children of earlier ones, and overhead/idle's children_measured counts only its own strategy's server. The
// server dies with the thread that started it (PR_SET_PDEATHSIG: the one that built the first object, or whose
// run replaced a dead server), and when the socket closes, so it never outlives the program. A server found dead fails
// the run that found it (an error naming it) and the next run starts a new one. A run holds the client's lock from its
// first request to its last status.

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>

#include "child.hpp"
#include "forkserver.hpp"
#include "hung.hpp"
#include "spawn.hpp"

namespace parbench::detail {

enum class wait_result { message, timeout, gone };

// Waits until `deadline` for the server's next message on connection `sock`.
inline wait_result next_message(int sock, server_message& m, std::chrono::steady_clock::time_point deadline) noexcept {
    for (;;) {
        const auto left =
            std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        pollfd p{sock, POLLIN, 0};
        const int rc = ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 1 << 30)));
        if (rc < 0 && errno == EINTR) continue;
        if (rc == 0) return wait_result::timeout;
        const ssize_t got = rc < 0 ? -1 : ::recv(sock, &m, sizeof m, 0);
        if (got < 0 && errno == EINTR) continue;
        return got == static_cast<ssize_t>(sizeof m) ? wait_result::message : wait_result::gone;
    }
}

// Asks the server to kill every worker still running that connection `sock` asked for. False if it is gone.
[[nodiscard]] inline bool send_kill_workers(int sock) noexcept {
    const std::uint32_t magic = kill_workers_magic;
    return send_with_fds(sock, &magic, sizeof magic);
}

class forkserver_client {
public:
    using wait_result = detail::wait_result;

    // The server of this process's live processes.forkserver objects, started (and its client made) if none
    // runs, waiting at most `start_wait` for it to be ready (ensure_running). A process forked from a client's
    // process gets a server of its own: the inherited socket is its parent's conversation.
    [[nodiscard]] static std::shared_ptr<forkserver_client> acquire(
        std::chrono::milliseconds start_wait = default_start_wait) {
        const std::lock_guard lock(registry_mutex());
        std::shared_ptr<forkserver_client> client = registry().lock();
        if (!client || client->owner_ != ::getpid()) {
            client = std::shared_ptr<forkserver_client>(new forkserver_client());
            registry() = client;
        }
        const std::lock_guard run(client->mutex_);
        client->ensure_running(start_wait);
        return client;
    }
    // The pid of this process's running server, or -1 while no processes.forkserver object holds one.
    [[nodiscard]] static pid_t running_pid() {
        const std::lock_guard lock(registry_mutex());
        const std::shared_ptr<forkserver_client> client = registry().lock();
        return client ? client->pid() : -1;
    }

    // Closes the socket, so the server kills its workers and exits, and reaps it.
    ~forkserver_client() { stop(); }
    forkserver_client(const forkserver_client&) = delete;
    forkserver_client& operator=(const forkserver_client&) = delete;

    [[nodiscard]] std::mutex& mutex() noexcept { return mutex_; }
    // The server's pid, or -1 while none runs for this process.
    [[nodiscard]] pid_t pid() const noexcept { return owner_ == ::getpid() ? pid_ : -1; }

    // How long ensure_running waits by default: processes.forkserver passes its worker deadline instead.
    static constexpr std::chrono::milliseconds default_start_wait = std::chrono::minutes(1);

    // Starts the server unless one is running (after bury()), and waits until it is ready to fork: its exec,
    // dynamic linking and static initialisation are over before this returns. Call with mutex() held. Throws
    // std::runtime_error naming the server if it dies first, or if it stays silent for `wait`: then with its pid
    // and state ("forkserver (pid 42, stopped) did not start within 2000 ms"), and killed.
    void ensure_running(std::chrono::milliseconds wait = default_start_wait) {
        if (pid_ > 0) return;
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
        unique_fd mine(sv[0]);
        const unique_fd theirs(sv[1]);
        pid_ = spawn_self("forkserver", {theirs.get()}, {lean_fork_env});
        sock_ = std::move(mine);
        server_message m;
        const auto got = next(m, std::chrono::steady_clock::now() + wait);
        if (got == wait_result::timeout) {
            const std::string server = "forkserver (" + describe_process(pid_) + ")";  // before bury() kills it
            (void)bury();
            throw std::runtime_error(server + " did not start within " + std::to_string(wait.count()) + " ms");
        }
        if (got != wait_result::message || m.kind != server_message::ready)
            throw std::runtime_error(bury() + " before it was ready");
    }

    // Asks for a worker running r with its result and state descriptors. False if the server is gone.
    [[nodiscard]] bool request(const worker_request& r, int result_fd, int state_fd) noexcept {
        return send_with_fds(sock_.get(), &r, sizeof r, result_fd, state_fd);
    }
    // Asks the server to kill every worker it still runs for this connection. False if the server is gone.
    [[nodiscard]] bool kill_workers() noexcept { return send_kill_workers(sock_.get()); }

    // Waits until `deadline` for the server's next message on this connection.
    wait_result next(server_message& m, std::chrono::steady_clock::time_point deadline) noexcept {
        return next_message(sock_.get(), m, deadline);
    }

    // A connection of its own to the running server (starting it if none runs), for a process pool: its
    // workers' answers never mix with this connection's, and its workers are killed when it closes. Empty if the
    // server is gone. Call with mutex() held.
    [[nodiscard]] unique_fd connect() {
        ensure_running();
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) throw_errno("socketpair");
        unique_fd mine(sv[0]);
        const unique_fd theirs(sv[1]);
        const std::uint32_t magic = connect_magic;
        if (!send_with_fds(sock_.get(), &magic, sizeof magic, theirs.get())) return {};
        return mine;
    }

    // After the server was found gone: reaps it and says how it ended, e.g. "forkserver (pid 42) died: signal 9
    // (Killed)". The next ensure_running() starts a new one.
    [[nodiscard]] std::string bury() noexcept {
        const pid_t pid = pid_;
        std::string how = "forkserver (pid " + std::to_string(pid) + ") died";
        sock_.reset();
        pid_ = -1;
        if (pid > 0) {
            int status = 0;
            ::kill(pid, SIGKILL);  // a server that closed its socket but lives on is no use either
            if (child_detail::wait_eintr(pid, &status, 0) == pid) how += ": " + describe_status(status);
        }
        return how;
    }

private:
    forkserver_client() = default;

    static std::mutex& registry_mutex() {
        static std::mutex m;
        return m;
    }
    static std::weak_ptr<forkserver_client>& registry() {
        static std::weak_ptr<forkserver_client> live;
        return live;
    }

    void stop() noexcept {
        if (pid_ <= 0 || owner_ != ::getpid()) return;
        sock_.reset();  // EOF: the server kills its workers and exits
        try {
            if (!reap_for(pid_, std::chrono::seconds(1))) kill_and_reap(pid_);
        } catch (...) {
            kill_and_reap(pid_);
        }
        pid_ = -1;
    }

    std::mutex mutex_;
    unique_fd sock_;
    pid_t pid_ = -1;
    pid_t owner_ = ::getpid();
};

}  // namespace parbench::detail
