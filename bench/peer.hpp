#pragma once
// The other side of overhead/ping_pong and overhead/ipc: a peer runs `int body()` beside the caller, in a thread
// or a forked child, and says how it ended. Shared with test/test_ipc.cpp.
//
// Every wait has a patience: a peer that dies or hangs makes the caller's call return false (then
// peer::why_failed() says why), never a hang. Descriptor channels notice a dead peer by EOF/EPIPE instead, once each
// side has closed the other's ends (the hooks' in_parent / in_child).

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "parbench/detail/child.hpp"
#include "parbench/detail/fd.hpp"
#include "parbench/detail/wait.hpp"

namespace parbench::bench::ipc {

namespace pd = parbench::detail;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// How long either side waits for the other before it gives up.
inline constexpr std::chrono::nanoseconds patience = 5s;

// A write to a pipe whose reader is gone raises SIGPIPE, which ends the process unless it is ignored; ignored, the
// write fails with EPIPE and the channel reports a dead peer. bench_parallel and the tests both run this way.
inline void ignore_sigpipe() noexcept { std::signal(SIGPIPE, SIG_IGN); }

// Exit codes of a peer body.
inline constexpr int peer_ok = 0;
inline constexpr int peer_timeout = 3;
inline constexpr int peer_bad_data = 4;
inline constexpr int peer_io_error = 5;

[[nodiscard]] inline std::string describe_peer_code(int code) {
    switch (code) {
        case peer_timeout: return "peer timed out waiting";
        case peer_bad_data: return "peer received corrupt or out-of-order data";
        case peer_io_error: return "peer hit an I/O error";
        default: return "peer returned " + std::to_string(code);
    }
}

// What a peer's mechanism or channel does around the fork: hooks.in_child() runs first in the child,
// hooks.in_parent() in the parent after the fork. Nothing, for those that need nothing.
struct no_hooks {
    void in_child() noexcept {}
    void in_parent() noexcept {}
};

// Two pipes between a parent and the child it forks: `down` to the child, `up` back. After the fork each side
// closes the ends it does not use, so either side sees EOF (or EPIPE) as soon as the other is gone.
struct duplex_pipes {
    pd::pipe_fds down = pd::make_pipe();
    pd::pipe_fds up = pd::make_pipe();

    void in_child() noexcept {
        down.write.reset();
        up.read.reset();
    }
    void in_parent() noexcept {
        down.read.reset();
        up.write.reset();
    }
};

enum class peer_kind { thread, process };

class peer {
public:
    template <class Hooks, class Body>
    peer(peer_kind kind, Hooks& hooks, Body body) : kind_(kind) {
        if (kind == peer_kind::thread) {
            thread_ = std::thread([this, body]() mutable {
                code_.store(body());
                done_.store(1);
                pd::wake_waiters(done_);
            });
        } else {
            pid_ = pd::fork_child([&hooks, body]() mutable {
                hooks.in_child();
                return body();
            });
            hooks.in_parent();
        }
    }
    peer(const peer&) = delete;
    peer& operator=(const peer&) = delete;
    ~peer() {
        if (thread_.joinable()) thread_.join();  // the body gives up by itself after `patience`
        if (pid_ > 0) pd::kill_and_reap(pid_);
    }

    // Waits up to `timeout` for the body to end. Empty when it returned peer_ok; otherwise why not.
    [[nodiscard]] std::optional<std::string> finish(std::chrono::nanoseconds timeout = patience) {
        if (kind_ == peer_kind::thread) {
            if (pd::wait_while(done_, 0, {.timeout = timeout}) == 0) return "peer thread did not finish";
            thread_.join();
            return outcome(code_.load());
        }
        const auto status = pd::reap_for(pid_, timeout);
        if (!status) {
            pd::kill_and_reap(std::exchange(pid_, -1));
            return "peer process did not finish; killed";
        }
        pid_ = -1;
        if (WIFEXITED(*status)) return outcome(WEXITSTATUS(*status));
        return "peer process ended by " + pd::describe_status(*status);
    }

    // After a failed call: why the peer is gone, or that it is alive but did not answer.
    [[nodiscard]] std::string why_failed() {
        if (auto f = finish(100ms)) return *f;
        return "peer ended cleanly while still needed";
    }

private:
    static std::optional<std::string> outcome(int code) {
        if (code == peer_ok) return std::nullopt;
        return describe_peer_code(code);
    }

    peer_kind kind_;
    std::thread thread_;
    std::atomic<std::uint32_t> done_{0};
    std::atomic<int> code_{0};
    pid_t pid_ = -1;
};

}  // namespace parbench::bench::ipc
