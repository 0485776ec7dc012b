#pragma once
// event_loop: one thread runs W tasks at once, the C++ counterpart of asyncio.gather over W coroutines. Task i
// runs chunk i. A kernel with an asynchronous form (parbench::async_kernel: sleep_tasks, socket_tasks) gives the
// thread away at every wait, so W waits overlap on an io_loop (epoll, with a timerfd for sleeps and deadlines).
// Any other kernel runs its chunks one after another on the calling thread, as CPU-bound coroutines do under
// asyncio: the report shows that too. event_loop.io_uring (event_loop_uring.hpp) is the same on io_uring.

#include <cstdint>
#include <exception>
#include <memory>
#include <string_view>
#include <vector>

#include "../io_loop.hpp"
#include "../strategy.hpp"

namespace parbench {
namespace detail {

// The event loop strategies, written once: gather on an io_loop whose poller is a Poller.
template <class Poller>
class gather_loop : public worker_count {
public:
    static constexpr bool sweeps_workers = true;

    explicit gather_loop(unsigned workers) : worker_count(workers), loop_(make_loop()) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        if constexpr (async_kernel<K>) {
            return gather(k, n);
        } else {
            return fork_join(k, n, workers_, [this](auto&& job) {
                for (unsigned i = 0; i < workers_; ++i) job(i);
            });
        }
    }

private:
    static std::unique_ptr<io_loop> make_loop() { return std::make_unique<io_loop>(std::make_unique<Poller>()); }

    template <async_kernel K>
    typename K::result gather(const K& k, std::uint64_t n) {
        using result = typename K::result;
        std::vector<async_task<result>> tasks;
        tasks.reserve(workers_);
        first_error errors;
        for (unsigned i = 0; i < workers_; ++i) {
            tasks.push_back(k.run_async(chunk_of(n, workers_, i), *loop_));
            loop_->spawn(tasks.back());
        }
        try {
            loop_->run();
        } catch (...) {  // the loop itself failed (its poller): start afresh, since its waits name frames about to go
            loop_ = make_loop();
            throw;
        }
        result total{};
        bool first = true;
        for (unsigned i = 0; i < workers_; ++i) {
            try {
                const result r = tasks[i].get();
                total = first ? r : K::combine(total, r);
                first = false;
            } catch (...) {
                errors.capture(i, std::current_exception());
            }
        }
        errors.rethrow_if_any(workers_);
        return total;
    }

    std::unique_ptr<io_loop> loop_;
};

}  // namespace detail

namespace strategies {

class event_loop : public detail::gather_loop<detail::epoll_poller> {
public:
    static constexpr std::string_view name = "event_loop";
    using gather_loop::gather_loop;
};

}  // namespace strategies
}  // namespace parbench
