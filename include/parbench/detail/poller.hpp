#pragma once
// How an io_loop sleeps (io_loop.hpp), written once per kernel interface: the poller interface and its epoll
// implementation, the default. detail/uring_poller.hpp has the io_uring one, where the build has liburing.

#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "fd.hpp"

namespace parbench::detail {

// What an io_loop asks of the kernel: one-shot waits on descriptors, each known by a key, and a sleep until one
// is ready or a deadline passes.
class poller {
public:
    using clock = std::chrono::steady_clock;

    poller() = default;
    poller(const poller&) = delete;
    poller& operator=(const poller&) = delete;
    virtual ~poller() = default;

    // Arms a one-shot wait for `events` (EPOLLIN or EPOLLOUT; POLLIN and POLLOUT have the same values) on fd;
    // wait() hands `key` back once fd is ready. Throws std::system_error if the kernel refuses.
    virtual void watch(int fd, std::uint32_t events, std::uint64_t key) = 0;
    // Disarms a wait that watch() armed and wait() has not handed back. Its key may still come back once, from
    // the same wait() that saw it ready; the caller tells such a stale key from a live one.
    virtual void unwatch(int fd, std::uint64_t key) noexcept = 0;
    // Sleeps until a watched descriptor is ready or `deadline` (if any) passes, and appends the ready waits' keys
    // to `ready`. May return with none (a deadline, a signal).
    virtual void wait(std::optional<clock::time_point> deadline, std::vector<std::uint64_t>& ready) = 0;
    // Hands the kernel what watch() and unwatch() queued: a poller that batches them until wait() (io_uring)
    // must not keep a descriptor's wait when the loop stops waiting.
    virtual void flush() noexcept {}
};

// epoll: a descriptor's wait is an EPOLLONESHOT registration, re-armed with EPOLL_CTL_MOD (one system call per
// wait); deadlines share one timerfd, armed for the earliest.
class epoll_poller final : public poller {
public:
    epoll_poller() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC)) {
        if (!epoll_) throw_errno("epoll_create1");
        if (!timer_) throw_errno("timerfd_create");
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = timer_key;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &ev) != 0) throw_errno("epoll_ctl");
    }

    void watch(int fd, std::uint32_t events, std::uint64_t key) override {
        epoll_event ev{};
        ev.events = events | EPOLLONESHOT;
        ev.data.u64 = key;
        if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0 &&
            (errno != ENOENT || ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0))
            throw_errno("epoll_ctl");
    }
    void unwatch(int fd, std::uint64_t) noexcept override {
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    }

    void wait(std::optional<clock::time_point> deadline, std::vector<std::uint64_t>& ready) override {
        if (deadline && deadline != armed_) arm(*deadline);
        epoll_event events[256];
        const int n = ::epoll_wait(epoll_.get(), events, 256, -1);
        if (n < 0) {
            if (errno == EINTR) return;
            throw_errno("epoll_wait");
        }
        for (int i = 0; i < n; ++i) {
            if (events[i].data.u64 != timer_key) {
                ready.push_back(events[i].data.u64);
                continue;
            }
            std::uint64_t expirations;
            (void)::read(timer_.get(), &expirations, sizeof expirations);
            armed_.reset();
        }
    }

private:
    static constexpr std::uint64_t timer_key = ~std::uint64_t{0};

    void arm(clock::time_point t) noexcept {
        itimerspec spec{};
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
        spec.it_value.tv_sec = ns / 1'000'000'000;
        spec.it_value.tv_nsec = ns % 1'000'000'000;
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;  // 0 disarms
        (void)::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
        armed_ = t;
    }

    unique_fd epoll_;
    unique_fd timer_;
    std::optional<clock::time_point> armed_;  // the deadline the timerfd is armed for, until it fires
};

}  // namespace parbench::detail
