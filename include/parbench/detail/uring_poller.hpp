#pragma once
// The io_uring poller of an io_loop (detail/poller.hpp), for the event_loop.io_uring strategy. Needs liburing
// (Debian: liburing-dev; link -luring, or parbench::uring in CMake, which the build makes where it finds it).
//
// A descriptor's wait is an IORING_OP_POLL_ADD, one-shot like epoll's; it and the removal of a wait at its
// deadline only go into the submission ring, and wait() hands them to the kernel in the same system call that
// sleeps (io_uring_submit_and_wait_timeout): one system call per wake-up, where epoll pays one epoll_ctl per wait
// besides. The deadline is the call's own timeout, so no timerfd either.

#include <liburing.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "poller.hpp"

namespace parbench::detail {

class uring_poller final : public poller {
public:
    // Submission ring entries; a loop with more waits to hand over at once submits in batches of this size.
    static constexpr unsigned sq_entries = 4096;
    // Completion ring entries: the kernel's most, so that 65,536 waits ready at once all fit.
    static constexpr unsigned cq_entries = 65536;

    // Throws std::system_error naming io_uring where the kernel refuses a ring (too old, or io_uring disabled by
    // kernel.io_uring_disabled or a seccomp filter, as in many containers).
    uring_poller() {
        io_uring_params p{};
        p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;  // no interrupt to run completions: one thread
        p.cq_entries = cq_entries;
        int r = ::io_uring_queue_init_params(sq_entries, &ring_, &p);
        if (r == -EINVAL) {  // before Linux 5.19: no COOP_TASKRUN
            p = io_uring_params{};
            p.flags = IORING_SETUP_CQSIZE;
            p.cq_entries = cq_entries;
            r = ::io_uring_queue_init_params(sq_entries, &ring_, &p);
        }
        if (r < 0) throw_errno("io_uring_queue_init (io_uring)", -r);
        if (!(p.features & IORING_FEAT_EXT_ARG)) {  // before Linux 5.11: the timeout would take a submission
            ::io_uring_queue_exit(&ring_);
            throw_errno("io_uring: the kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11)", ENOSYS);
        }
    }
    ~uring_poller() override { ::io_uring_queue_exit(&ring_); }

    void watch(int fd, std::uint32_t events, std::uint64_t key) override {
        io_uring_sqe* sqe = next_sqe();
        ::io_uring_prep_poll_add(sqe, fd, events);
        ::io_uring_sqe_set_data64(sqe, key);
    }
    void unwatch(int, std::uint64_t key) noexcept override {
        io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
        if (!sqe) {
            (void)::io_uring_submit(&ring_);
            sqe = ::io_uring_get_sqe(&ring_);
        }
        if (!sqe) return;  // cannot happen after a submit; the wait then ends when its descriptor closes
        ::io_uring_prep_poll_remove(sqe, key);
        ::io_uring_sqe_set_data64(sqe, ignored_key);
    }

    void wait(std::optional<clock::time_point> deadline, std::vector<std::uint64_t>& ready) override {
        io_uring_cqe* cqe = nullptr;
        int r;
        if (deadline) {
            const auto ns = std::max<std::int64_t>(
                0, std::chrono::duration_cast<std::chrono::nanoseconds>(*deadline - clock::now()).count());
            __kernel_timespec ts{ns / 1'000'000'000, ns % 1'000'000'000};
            r = ::io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        } else {
            r = ::io_uring_submit_and_wait(&ring_, 1);
        }
        if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY)
            throw_errno("io_uring_submit_and_wait (io_uring)", -r);
        unsigned head;
        unsigned seen = 0;
        io_uring_for_each_cqe(&ring_, head, cqe) {
            ++seen;
            // A removed wait ends with -ECANCELED; its removal's own completion carries ignored_key. Any other
            // error (EBADF) wakes the task, whose next call on the descriptor reports it.
            if (cqe->user_data != ignored_key && cqe->user_data != LIBURING_UDATA_TIMEOUT && cqe->res != -ECANCELED)
                ready.push_back(cqe->user_data);
        }
        ::io_uring_cq_advance(&ring_, seen);
    }
    void flush() noexcept override { (void)::io_uring_submit(&ring_); }

private:
    static constexpr std::uint64_t ignored_key = ~std::uint64_t{0} - 1;

    io_uring_sqe* next_sqe() {
        io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
        if (!sqe) {  // the submission ring is full: hand it over now
            const int r = ::io_uring_submit(&ring_);
            if (r < 0) throw_errno("io_uring_submit (io_uring)", -r);
            sqe = ::io_uring_get_sqe(&ring_);
            if (!sqe) throw_errno("io_uring_get_sqe (io_uring)", EBUSY);
        }
        return sqe;
    }

    io_uring ring_{};
};

}  // namespace parbench::detail
