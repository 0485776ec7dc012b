#pragma once
// io_loop: one thread that waits on many things at once, the C++ counterpart of asyncio's event loop. Tasks are
// C++20 coroutines (async_task.hpp); a task waits with co_await on a sleep (io_loop::sleep_for) or on a descriptor
// (io_loop::wait_for, with a deadline). The loop sleeps in epoll_wait: descriptors are registered one-shot, and
// every deadline shares one timerfd, armed for the earliest. The event_loop strategy and the echo server run on it.

#include <sys/epoll.h>
#include <sys/timerfd.h>

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <map>
#include <utility>
#include <vector>

#include "async_task.hpp"
#include "chunk.hpp"
#include "detail/fd.hpp"
#include "kernel.hpp"

namespace parbench {

class io_loop {
public:
    using clock = std::chrono::steady_clock;

    io_loop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) {
        if (!epoll_) detail::throw_errno("epoll_create1");
        if (!timer_) detail::throw_errno("timerfd_create");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = timer_key;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &ev) != 0) detail::throw_errno("epoll_ctl");
    }
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
    static constexpr std::uint64_t timer_key = ~std::uint64_t{0};

    // One pending wait: a descriptor (or -1 for a sleep), its deadline's place in timers_, and its outcome.
    struct wait_slot {
        std::coroutine_handle<> h;
        int fd = -1;
        bool ready = false;
        std::uint32_t generation = 0;
        std::multimap<clock::time_point, std::uint32_t>::iterator timer;
    };

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
            epoll_event ev{};
            ev.events = events | EPOLLONESHOT;
            ev.data.u64 = (std::uint64_t{w.generation} << 32) | s;
            if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0 &&
                (errno != ENOENT || ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)) {
                free_.push_back(s);
                detail::throw_errno("epoll_ctl");
            }
        }
        const bool earliest = timers_.empty() || deadline < timers_.begin()->first;
        w.timer = timers_.emplace(deadline, s);
        if (earliest) arm(deadline);
        return s;
    }
    // Frees a finished wait's slot; returns whether its descriptor was ready (false: the deadline came first).
    bool release(std::uint32_t s) noexcept {
        wait_slot& w = slots_[s];
        ++w.generation;
        free_.push_back(s);
        return w.ready;
    }
    void arm(clock::time_point t) noexcept {
        itimerspec spec{};
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
        spec.it_value.tv_sec = ns / 1'000'000'000;
        spec.it_value.tv_nsec = ns % 1'000'000'000;
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 disarms
        (void)::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
    }
    // Sleeps until a descriptor is ready or a deadline passes; queues the tasks that can go on.
    void wait() {
        epoll_event events[256];
        const int n = ::epoll_wait(epoll_.get(), events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) return;
            detail::throw_errno("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            const std::uint64_t key = events[i].data.u64;
            if (key == timer_key) {
                std::uint64_t expirations;
                (void)::read(timer_.get(), &expirations, sizeof expirations);
                continue;
            }
            wait_slot& w = slots_[static_cast<std::uint32_t>(key)];
            if (w.generation != static_cast<std::uint32_t>(key >> 32) || !w.h) continue;  // a stale event
            w.ready = true;
            timers_.erase(w.timer);
            ready_.push_back(std::exchange(w.h, {}));
        }
        const auto now = clock::now();
        while (!timers_.empty() && timers_.begin()->first <= now) {
            wait_slot& w = slots_[timers_.begin()->second];
            timers_.erase(timers_.begin());
            if (w.fd >= 0)
                (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.fd, nullptr);
            else
                w.ready = true;
            ready_.push_back(std::exchange(w.h, {}));
            if (w.fd < 0) release(static_cast<std::uint32_t>(&w - slots_.data()));
        }
        if (!timers_.empty()) arm(timers_.begin()->first);
    }

    detail::unique_fd epoll_;
    detail::unique_fd timer_;
    std::vector<wait_slot> slots_;
    std::vector<std::uint32_t> free_;
    std::multimap<clock::time_point, std::uint32_t> timers_;
    std::vector<std::coroutine_handle<>> ready_;
    std::size_t live_ = 0;
};

// A kernel with an asynchronous form: k.run_async(c, loop) returns a task that computes what k.run(c) does and
// waits only with co_await on loop (the event_loop strategy runs it; sleep_tasks and socket_tasks have one).
template <class K>
concept async_kernel = plain_kernel<K> && requires(const K& k, chunk c, io_loop& loop) {
    { k.run_async(c, loop) } -> std::same_as<async_task<typename K::result>>;
};

}  // namespace parbench
