#pragma once
// How a process pool's workers start, one Starter per start method: a fork of the caller (fork_start), this
// program started afresh in its "pool" worker mode (spawn_start), or a fork of the fork server (forkserver_start).
// A Starter starts worker i on the pool's control block (start, then started once all are asked for), reports
// the first worker that ended (wait_any), stops them once told to (stop) and kills them (kill_all); after
// kill_all every worker has been reaped. Worker numbers in its answers are in start order (0: the pool's first
// worker process).

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "child.hpp"
#include "forkserver_client.hpp"
#include "pool_transport.hpp"
#include "spawn.hpp"

namespace parbench::detail {

// Workers that are this process's children (forked or spawned): a child_group watches, reaps and kills them.
class child_workers {
public:
    static void started() noexcept {}
    std::optional<pool_worker_end> wait_any(std::chrono::milliseconds timeout) {
        if (const auto e = children_.wait_any(timeout)) return pool_worker_end{e->index, e->status, {}};
        return std::nullopt;
    }
    void stop(std::chrono::nanoseconds timeout) noexcept {
        try {
            (void)children_.wait_all(timeout);
        } catch (...) {}
        children_.kill_all();
    }
    void kill_all() noexcept { children_.kill_all(); }
    [[nodiscard]] pid_t pid(std::size_t i) const noexcept { return children_.pid(i); }

protected:
    child_group children_;
};

// Forks of the caller: they call the kernel through the parent's function pointer.
struct fork_start : child_workers {
    static constexpr bool forked = true;
    static constexpr std::string_view start_method = "fork";
    static constexpr std::string_view pool_name = "process_pool";
    static constexpr std::string_view executor_name = "process_pool.executor";
    void start(pool_block& block, int /*block_fd*/, unsigned i) {
        children_.fork([&block, i] { return block.work(i, true); });
    }
};

// Fresh copies of this program (spawn_self, mode "pool"), given the control block at descriptor 3 and their
// worker number as an argument; still this process's children.
struct spawn_start : child_workers {
    static constexpr bool forked = false;
    static constexpr std::string_view start_method = "spawn";
    static constexpr std::string_view pool_name = "process_pool.spawn";
    static constexpr std::string_view executor_name = "process_pool.executor.spawn";
    void start(pool_block& /*block*/, int block_fd, unsigned i) {
        children_.adopt(spawn_self("pool", {block_fd}, {}, {std::to_string(i)}));
    }
};

// Forks of the fork server (forkserver_client::acquire: the one processes.forkserver objects alive at the same
// time use too). The pool has a connection of its own to the server, so the answers about its workers (their
// pids as they start, their wait statuses as they end) never mix with anyone else's, and a kill asks the server
// to kill this pool's workers only. The workers are the server's children: the server reaps them and sends
// their status, which the pool waits for, so no worker outlives a kill_all unreaped.
class forkserver_start {
public:
    static constexpr bool forked = false;
    static constexpr std::string_view start_method = "forkserver";
    static constexpr std::string_view pool_name = "process_pool.forkserver";
    static constexpr std::string_view executor_name = "process_pool.executor.forkserver";

    forkserver_start() : client_(forkserver_client::acquire()) {}
    ~forkserver_start() { kill_all(); }
    forkserver_start(const forkserver_start&) = delete;
    forkserver_start& operator=(const forkserver_start&) = delete;

    // Asks for worker i; the answer is taken in started(), so the requests go out back to back.
    void start(pool_block& /*block*/, int block_fd, unsigned i) {
        if (!conn_) {
            const std::lock_guard lock(client_->mutex());
            conn_ = client_->connect();
            server_ = client_->pid();
            if (!conn_) throw std::runtime_error("parbench: " + bury());
        }
        const pool_worker_request r{.id = static_cast<std::uint32_t>(pids_.size()), .worker = i};
        pids_.push_back(asked);
        if (!send_with_fds(conn_.get(), &r, sizeof r, block_fd)) throw std::runtime_error("parbench: " + bury());
    }
    // Waits for every worker's pid. Throws if a fork failed or the server is gone.
    void started() {
        const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::find(pids_.begin(), pids_.end(), asked) != pids_.end()) {
            server_message m;
            switch (next_message(conn_.get(), m, limit)) {
                case wait_result::timeout: throw std::runtime_error("parbench: the fork server did not answer");
                case wait_result::gone: throw std::runtime_error("parbench: " + bury());
                case wait_result::message: take(m); break;
            }
        }
    }

    std::optional<pool_worker_end> wait_any(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (ended_.empty() && conn_) {
            server_message m;
            switch (next_message(conn_.get(), m, deadline)) {
                case wait_result::timeout: return std::nullopt;
                case wait_result::gone: {
                    const auto first = static_cast<std::size_t>(
                        std::find_if(pids_.begin(), pids_.end(), [](pid_t p) { return p != ended; }) - pids_.begin());
                    return pool_worker_end{first < pids_.size() ? first : 0, -1, bury()};
                }
                case wait_result::message: try { take(m);
                    } catch (...) {  // a failed fork is not asked for here
                    }
                    break;
            }
        }
        if (ended_.empty()) return std::nullopt;
        pool_worker_end e = ended_.front();
        ended_.pop_front();
        return e;
    }

    void stop(std::chrono::nanoseconds timeout) noexcept {
        collect(std::chrono::steady_clock::now() + timeout);
        kill_all();
    }

    // Has the server kill this pool's workers and waits until it has reaped them all.
    void kill_all() noexcept {
        if (conn_ && running()) {
            if (proc_state(server_) != "stopped" && send_kill_workers(conn_.get()))  // a stopped one never answers
                collect(std::chrono::steady_clock::now() + std::chrono::seconds(10));
            if (running()) (void)bury();  // a server that cannot kill them takes them with it
        }
        pids_.clear();
        ended_.clear();
    }

    [[nodiscard]] pid_t pid(std::size_t i) const noexcept { return pids_[i] > 0 ? pids_[i] : -1; }

private:
    static constexpr pid_t asked = 0;   // asked for, not yet answered
    static constexpr pid_t ended = -1;  // exited (or never started)

    [[nodiscard]] bool running() const noexcept {
        return std::any_of(pids_.begin(), pids_.end(), [](pid_t p) { return p != ended; });
    }

    // Records one answer; throws std::system_error for a fork that failed.
    void take(const server_message& m) {
        if (m.id >= pids_.size()) return;
        switch (m.kind) {
            case server_message::started:
                if (pids_[m.id] == asked) pids_[m.id] = m.pid;
                break;
            case server_message::exited:
                count_reaped(m);
                if (pids_[m.id] != ended) ended_.push_back({m.id, m.status, {}});
                pids_[m.id] = ended;
                break;
            case server_message::fork_failed: pids_[m.id] = ended; throw_errno("fork (forkserver)", m.status);
            default: break;
        }
    }

    // Takes answers until every worker has exited or `deadline` passes.
    void collect(std::chrono::steady_clock::time_point deadline) noexcept {
        while (conn_ && running()) {
            server_message m;
            if (next_message(conn_.get(), m, deadline) != wait_result::message) return;
            try {
                take(m);
            } catch (...) {}
        }
    }

    // The server is gone (its workers die with it): reaps it unless a newer one replaced it already, and says
    // how it ended. The next start() connects to a new one.
    std::string bury() noexcept {
        conn_.reset();
        std::fill(pids_.begin(), pids_.end(), ended);
        const std::lock_guard lock(client_->mutex());
        if (client_->pid() == server_ && server_ > 0) return client_->bury();
        return "forkserver (pid " + std::to_string(server_) + ") died";
    }

    std::shared_ptr<forkserver_client> client_;
    unique_fd conn_;                     // this pool's own connection to the server
    pid_t server_ = -1;                  // the server conn_ is connected to
    std::vector<pid_t> pids_;            // per worker, in start order: its pid, asked or ended
    std::deque<pool_worker_end> ended_;  // workers that ended, not yet reported by wait_any
};

}  // namespace parbench::detail
