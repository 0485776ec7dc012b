#pragma once
// The mechanisms of overhead/ping_pong, and pinning to one CPU. ping() is one round trip from the caller to the
// peer and back; serve() is the peer's loop until stop(). Shared with test/test_ipc.cpp.

#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "parbench/detail/fd.hpp"
#include "parbench/detail/shm.hpp"
#include "parbench/detail/wait.hpp"
#include "peer.hpp"

namespace parbench::bench::ipc {

// Pins the calling thread (and so the threads and children it starts) to one CPU for a scope.
class pin_scope {
public:
    // Pins to the first CPU this thread may run on; ok() says whether it worked.
    pin_scope() {
        if (sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
        for (std::size_t c = 0; c < CPU_SETSIZE; ++c) {
            if (!CPU_ISSET(c, &saved_)) continue;
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            if (sched_setaffinity(0, sizeof one, &one) == 0) cpu_ = static_cast<int>(c);
            return;
        }
    }
    ~pin_scope() {
        if (cpu_ >= 0) (void)sched_setaffinity(0, sizeof saved_, &saved_);
    }
    pin_scope(const pin_scope&) = delete;
    pin_scope& operator=(const pin_scope&) = delete;

    [[nodiscard]] bool ok() const noexcept { return cpu_ >= 0; }
    [[nodiscard]] int cpu() const noexcept { return cpu_; }

    // Whether this machine lets us pin at all (containers may forbid sched_setaffinity).
    [[nodiscard]] static bool allowed() {
        const pin_scope probe;
        return probe.ok();
    }

private:
    cpu_set_t saved_{};
    int cpu_ = -1;
};

// A mutex, a condition variable and whose turn it is. Threads only.
class condvar_ping_pong : public no_hooks {
public:
    bool ping() {
        {
            const std::lock_guard lock(m_);
            turn_ = peer_turn;
        }
        cv_.notify_one();
        std::unique_lock lock(m_);
        return cv_.wait_for(lock, patience, [&] { return turn_ == caller_turn; });
    }
    int serve() {
        std::unique_lock lock(m_);
        for (;;) {
            if (!cv_.wait_for(lock, patience, [&] { return turn_ != caller_turn; })) return peer_timeout;
            if (turn_ == stop_turn) return peer_ok;
            turn_ = caller_turn;
            lock.unlock();
            cv_.notify_one();
            lock.lock();
        }
    }
    void stop() {
        {
            const std::lock_guard lock(m_);
            turn_ = stop_turn;
        }
        cv_.notify_one();
    }

private:
    enum turn { caller_turn, peer_turn, stop_turn };
    std::mutex m_;
    std::condition_variable cv_;
    turn turn_ = caller_turn;
};

// One 32-bit word in shared memory whose value says whose turn it is; the waiter parks on it (futex) or spins on
// it. Works between threads and between forked processes alike.
template <bool Spin>
class word_ping_pong : public no_hooks {
public:
    bool ping() {
        set(peer_turn);
        return await_not(peer_turn);
    }
    int serve() {
        for (;;) {
            if (!await_not(caller_turn)) return peer_timeout;
            if (word_->load(std::memory_order_acquire) == stop_turn) return peer_ok;
            set(caller_turn);
        }
    }
    void stop() { set(stop_turn); }

private:
    static constexpr std::uint32_t caller_turn = 0, peer_turn = 1, stop_turn = 2;

    void set(std::uint32_t v) {
        word_->store(v, std::memory_order_release);
        if constexpr (!Spin) pd::wake_waiters(*word_, nullptr, pd::futex_scope::shared, 1);
    }
    // Waits while the word holds `v`: spins all the time (Spin) or parks at once; false after `patience`.
    bool await_not(std::uint32_t v) {
        if constexpr (Spin) return pd::spin_while(*word_, v, patience) != v;
        return pd::wait_while(*word_, v, {.timeout = patience}) != v;
    }

    pd::shared_object<std::atomic<std::uint32_t>> word_{caller_turn};
};
using futex_ping_pong = word_ping_pong<false>;
using spin_ping_pong = word_ping_pong<true>;

// One byte each way over two pipes, as `perf bench sched pipe` does. A dead peer shows as EOF or EPIPE.
class pipe_ping_pong {
public:
    bool ping() {
        const char c = 'p';
        char r = 0;
        return pd::write_full(pipes_.down.write.get(), &c, 1) && pd::read_full(pipes_.up.read.get(), &r, 1) == 1;
    }
    int serve() {
        char c = 0;
        for (;;) {
            const ssize_t r = pd::read_full(pipes_.down.read.get(), &c, 1);
            if (r == 0) return peer_ok;  // the caller closed: stop
            if (r != 1 || !pd::write_full(pipes_.up.write.get(), &c, 1)) return peer_io_error;
        }
    }
    void stop() { pipes_.down.write.reset(); }
    void in_child() { pipes_.in_child(); }
    void in_parent() { pipes_.in_parent(); }

private:
    duplex_pipes pipes_;
};

}  // namespace parbench::bench::ipc
