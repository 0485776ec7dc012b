#pragma once
// processes.forkserver: each run has a fork server (detail/forkserver.hpp) fork one worker per chunk, like
// multiprocessing's "forkserver" start method, the default on Linux since Python 3.14. The server is small and
// single-threaded, so what a fork copies does not grow with the program. Requests go over a Unix socket, results
// come back through pipes, shared state lives in a memfd. A program that uses it calls parbench::worker_main
// first in main.
//
// The server is started when the strategy is built and lives as long as the processes.forkserver objects alive
// with it, which share it; the last one destroyed stops and reaps it (detail/forkserver_client.hpp says why).
// Build and run the strategy on threads that outlive it: the server dies with the thread that started it
// (PR_SET_PDEATHSIG). A dead
// server fails the run that finds it with an error naming it ("forkserver (pid N) died: signal 9 (Killed)");
// the next run starts a new one.

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <vector>

#include "../detail/forkserver_client.hpp"
#include "../detail/start_per_run.hpp"

namespace parbench::detail {

// Starts each worker through the fork server; holds the server for the whole run.
class forkserver_launcher {
public:
    static constexpr std::string_view name = "processes.forkserver";

    // The strategy's share of the server: held from construction to destruction. A server that does not say it
    // is ready within the worker deadline fails the construction, named with its state (a stopped one hangs).
    using context = std::shared_ptr<forkserver_client>;
    static context make_context(std::chrono::milliseconds deadline) { return forkserver_client::acquire(deadline); }

    // Starts a new server if the last one died; it must be ready before the run's deadline.
    forkserver_launcher(const context& server, unsigned workers, std::chrono::steady_clock::time_point deadline)
        : client_(*server), lock_(client_.mutex()), deadline_(deadline), workers_(workers), status_(workers, unknown) {
        client_.ensure_running(
            std::max(std::chrono::milliseconds(0),
                     std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now())));
    }
    ~forkserver_launcher() { kill_all(); }
    forkserver_launcher(const forkserver_launcher&) = delete;
    forkserver_launcher& operator=(const forkserver_launcher&) = delete;

    // Sends the request and returns: the server's answers are taken in wait_all, so the requests of a run go out
    // back to back and the workers start together.
    void start(unsigned i, const worker_request& r, int result_fd, int state_fd) {
        if (!client_.request(r, result_fd, state_fd)) server_gone(i);
        ++requested_;
    }

    std::optional<child_group::ended> wait_all(std::chrono::steady_clock::time_point deadline) {
        for (;;) {
            for (unsigned i = 0; i < workers_; ++i)
                if (status_[i] != unknown && status_[i] != 0) {
                    kill_all();
                    return child_group::ended{i, status_[i], {}};
                }
            if (ended_ == requested_) return std::nullopt;
            if (!next(first_running(), deadline)) {
                // The server's pid and state: its workers' pids are not reported, and a stopped server hangs all.
                child_group::ended e{first_running(), -1, "forked by forkserver " + describe_process(client_.pid())};
                kill_all();
                return e;
            }
        }
    }

private:
    static constexpr int unknown = -1;

    // The first worker that was asked for and has not ended (it may not have started yet).
    unsigned first_running() const noexcept {
        for (unsigned i = 0; i < requested_; ++i)
            if (status_[i] == unknown) return i;
        return 0;
    }

    // Takes the server's next message; false on timeout. Throws if the server is gone (naming worker i).
    bool next(unsigned i, std::chrono::steady_clock::time_point deadline) {
        server_message m;
        switch (client_.next(m, deadline)) {
            case forkserver_client::wait_result::timeout: return false;
            case forkserver_client::wait_result::gone: server_gone(i);
            case forkserver_client::wait_result::message: break;
        }
        if (m.id >= requested_) server_gone(i);
        if (m.kind == server_message::fork_failed) {
            ++ended_;  // never started: nothing to wait for
            throw_errno("fork (forkserver)", m.status);
        }
        count_reaped(m);
        if (m.kind == server_message::exited && status_[m.id] == unknown) {
            status_[m.id] = m.status;
            ++ended_;
        }
        return true;
    }

    // Kills the run's workers that are still running and waits for the server to report them. The server takes
    // requests in order, so the kill reaches every worker asked for before it.
    void kill_all() noexcept {
        if (ended_ == requested_ || dead_) return;
        if (proc_state(client_.pid()) == "stopped" || !client_.kill_workers()) {  // a stopped one never answers
            (void)client_.bury();
            return;
        }
        const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (ended_ < requested_) {
            try {
                if (!next(first_running(), limit)) break;
            } catch (...) {  // a fork that failed is accounted for; a server gone is dead_
                if (dead_) return;
            }
        }
        if (ended_ < requested_) (void)client_.bury();  // workers die with their server
        ended_ = requested_;
    }

    [[noreturn]] void server_gone(unsigned i) {
        dead_ = true;
        ended_ = requested_;
        throw worker_error(i, workers_, failure::lost, client_.bury());
    }

    forkserver_client& client_;
    std::unique_lock<std::mutex> lock_;
    std::chrono::steady_clock::time_point deadline_;
    unsigned workers_;
    std::vector<int> status_;
    unsigned requested_ = 0;  // requests sent this run
    unsigned ended_ = 0;      // of those: exited, or never started
    bool dead_ = false;
};

}  // namespace parbench::detail

namespace parbench::strategies {

struct processes_forkserver : detail::start_per_run<detail::forkserver_launcher> {
    using start_per_run::start_per_run;
};

}  // namespace parbench::strategies
