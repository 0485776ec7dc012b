#pragma once
// io_loop: one thread that waits on many things at once, the C++ counterpart of asyncio's event loop. Tasks are
// C++20 coroutines (async_task.hpp); a task waits with co_await on a sleep (io_loop::sleep_for) or on a descriptor
// (io_loop::wait_for, with a deadline). Every deadline, sleeps included, is kept in one ordered map; the loop
// sleeps in its poller (detail/poller.hpp) until a descriptor is ready or the earliest deadline: epoll with one
// timerfd by default, io_uring where built (detail/uring_poller.hpp). The event_loop strategies and the echo
// server run on it.

#include <sys/epoll.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "async_task.hpp"
#include "chunk.hpp"
#include "detail/poller.hpp"
#include "kernel.hpp"

namespace parbench {

class io_loop {
public:
    using clock = std::chrono::steady_clock;

    // A loop on epoll (detail/poller.hpp).
    io_loop() : io_loop(std::make_unique<detail::epoll_poller>()) {}
    // A loop on another poller: detail::uring_poller (strategies/event_loop_uring.hpp).
    explicit io_loop(std::unique_ptr<detail::poller> p) : poller_(std::move(p)) {}
    io_loop(const io_loop&) = delete;
    io_loop& operator=(const io_loop&) = delete;

    // Starts t on this loop at the next run(); the caller keeps t and reads its result after run().
    template <class R>
    void spawn(async_task<R>& t) {
        t.h_.promise().live = &live_;
        ++live_;
        ready_.push_back(t.h_);
    }
    // Starts t, which the loop then owns: its frame is freed when it ends (a server's connections).
    template <class R>
    void spawn_detached(async_task<R>&& t) {
        t.h_.promise().detached = true;
        spawn(t);
        t.h_ = {};
    }
    // Runs until every spawned (not detached) task has ended.
    void run() {
        while (live_ > 0) {
            while (!ready_.empty()) {
                std::vector<std::coroutine_handle<>> now;
                now.swap(ready_);
                for (auto h : now) h.resume();
            }
            if (live_ > 0) wait();
        }
        poller_->flush();
    }

    // co_await loop.sleep_for(d): resumes after d.
    struct sleep_awaiter {
        io_loop& loop;
        clock::time_point until;
        bool await_ready() const noexcept { return until <= clock::now(); }
        void await_suspend(std::coroutine_handle<> h) { loop.add_wait(-1, 0, until, h); }
        void await_resume() const noexcept {}
    };
    [[nodiscard]] sleep_awaiter sleep_for(clock::duration d) { return {*this, clock::now() + d}; }

    // co_await loop.wait_for(fd, EPOLLIN or EPOLLOUT, deadline): true once fd is ready, false at the deadline.
    struct fd_awaiter {
        io_loop& loop;
        int fd;
        std::uint32_t events;
        clock::time_point deadline;
        std::uint32_t slot = 0;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { slot = loop.add_wait(fd, events, deadline, h); }
        bool await_resume() noexcept { return loop.release(slot); }
    };
    [[nodiscard]] fd_awaiter wait_for(int fd, std::uint32_t events, clock::time_point deadline) {
        return {*this, fd, events, deadline};
    }

private:
    // One pending wait: a descriptor (or -1 for a sleep), its deadline's place in timers_, and its outcome. A
    // descriptor's wait is known to the poller by its key, the slot with its generation, so that a key that comes
    // back after its wait ended (at its deadline) is told from the slot's next wait.
    struct wait_slot {
        std::coroutine_handle<> h;
        int fd = -1;
        bool ready = false;
        std::uint32_t generation = 0;
        std::multimap<clock::time_point, std::uint32_t>::iterator timer;
    };
    [[nodiscard]] std::uint64_t key_of(std::uint32_t s) const noexcept {
        return (std::uint64_t{slots_[s].generation} << 32) | s;
    }

    std::uint32_t add_wait(int fd, std::uint32_t events, clock::time_point deadline, std::coroutine_handle<> h) {
        std::uint32_t s;
        if (!free_.empty()) {
            s = free_.back();
            free_.pop_back();
        } else {
            s = static_cast<std::uint32_t>(slots_.size());
            slots_.emplace_back();
        }
        wait_slot& w = slots_[s];
        w.h = h;
        w.fd = fd;
        w.ready = false;
        if (fd >= 0) {
            try {
                poller_->watch(fd, events, key_of(s));
            } catch (...) {
                free_.push_back(s);
                throw;
            }
        }
        w.timer = timers_.emplace(deadline, s);
        return s;
    }
    // Frees a finished wait's slot; returns whether its descriptor was ready (false: the deadline came first).
    bool release(std::uint32_t s) noexcept {
        wait_slot& w = slots_[s];
        ++w.generation;
        free_.push_back(s);
        return w.ready;
    }
    // Sleeps until a descriptor is ready or a deadline passes; queues the tasks that can go on.
    void wait() {
        keys_.clear();
        poller_->wait(timers_.empty() ? std::nullopt : std::optional(timers_.begin()->first), keys_);
        for (const std::uint64_t key : keys_) {
            const auto s = static_cast<std::uint32_t>(key);
            if (s >= slots_.size()) continue;
            wait_slot& w = slots_[s];
            if (w.generation != static_cast<std::uint32_t>(key >> 32) || !w.h) continue;  // a stale key
            w.ready = true;
            timers_.erase(w.timer);
            ready_.push_back(std::exchange(w.h, {}));
        }
        const auto now = clock::now();
        while (!timers_.empty() && timers_.begin()->first <= now) {
            const std::uint32_t s = timers_.begin()->second;
            wait_slot& w = slots_[s];
            timers_.erase(timers_.begin());
            if (w.fd >= 0)
                poller_->unwatch(w.fd, key_of(s));
            else
                w.ready = true;
            ready_.push_back(std::exchange(w.h, {}));
            if (w.fd < 0) release(s);
        }
    }

    std::unique_ptr<detail::poller> poller_;
    std::vector<wait_slot> slots_;
    std::vector<std::uint32_t> free_;
    std::multimap<clock::time_point, std::uint32_t> timers_;
    std::vector<std::coroutine_handle<>> ready_;
    std::vector<std::uint64_t> keys_;
    std::size_t live_ = 0;
};

// A kernel with an asynchronous form: k.run_async(c, loop) returns a task that computes what k.run(c) does and
// waits only with co_await on loop (the event_loop strategy runs it; sleep_tasks and socket_tasks have one).
template <class K>
concept async_kernel = plain_kernel<K> && requires(const K& k, chunk c, io_loop& loop) {
    { k.run_async(c, loop) } -> std::same_as<async_task<typename K::result>>;
};

}  // namespace parbench
