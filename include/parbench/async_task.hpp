#pragma once
// async_task: a coroutine that an io_loop runs (io_loop.hpp), the C++ counterpart of an asyncio task.

#include <coroutine>
#include <cstddef>
#include <exception>
#include <stdexcept>
#include <utility>

namespace parbench {

class io_loop;

// A coroutine that returns R (trivially copyable) or throws. It starts when an io_loop is given it (spawn) and
// keeps its result until the task is destroyed.
template <class R>
class async_task {
public:
    struct promise_type {
        R value{};
        std::exception_ptr error;
        std::size_t* live = nullptr;  // the running loop's count of tasks not yet ended
        bool detached = false;
        bool done = false;

        async_task get_return_object() noexcept { return async_task(handle::from_promise(*this)); }
        std::suspend_always initial_suspend() noexcept { return {}; }
        struct final_awaiter {
            bool await_ready() noexcept { return false; }
            void await_suspend(std::coroutine_handle<promise_type> h) noexcept {
                promise_type& p = h.promise();
                p.done = true;
                if (p.live) --*p.live;
                if (p.detached) h.destroy();
            }
            void await_resume() noexcept {}
        };
        final_awaiter final_suspend() noexcept { return {}; }
        void return_value(R v) noexcept { value = std::move(v); }
        void unhandled_exception() noexcept { error = std::current_exception(); }
    };
    using handle = std::coroutine_handle<promise_type>;

    async_task() noexcept = default;
    async_task(async_task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
    async_task& operator=(async_task&& o) noexcept {
        if (this != &o) {
            if (h_) h_.destroy();
            h_ = std::exchange(o.h_, {});
        }
        return *this;
    }
    ~async_task() {
        if (h_) h_.destroy();
    }

    // After the loop ran it to its end: its value, or its exception rethrown.
    R get() const {
        if (h_.promise().error) std::rethrow_exception(h_.promise().error);
        return h_.promise().value;
    }
    [[nodiscard]] bool done() const noexcept { return h_ && h_.promise().done; }

    // Runs the task on the calling thread, without a loop, and returns what get() returns: for a task whose every
    // co_await completes at once (its awaiters block instead of suspending), e.g. a kernel's asynchronous form
    // driven by a blocking strategy. Throws std::logic_error if the task suspends all the same.
    R run_in_place() {
        h_.resume();
        if (!h_.promise().done) throw std::logic_error("parbench: an async_task run in place suspended");
        return get();
    }

private:
    friend class parbench::io_loop;
    explicit async_task(handle h) noexcept : h_(h) {}
    handle h_;
};

}  // namespace parbench
