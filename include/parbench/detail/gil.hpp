#pragma once
// A model of CPython's global interpreter lock (Python/ceval_gil.c, the "new GIL" of 3.2), to read side by side:
//
//   CPython                                  here
//   gil->mutex, gil->cond, gil->locked        mutex_, cond_, locked_
//   gil->switch_mutex, gil->switch_cond       switch_mutex_, switch_cond_   (FORCE_SWITCHING)
//   gil->last_holder, gil->switch_number      last_holder_, switches_
//   gil->interval (sys.setswitchinterval)     interval_, 5 ms by default
//   ceval2->gil_drop_request                  drop_request_
//   take_gil()                                take()
//   drop_gil()                                drop()
//   eval breaker in _PyEval_EvalFrameDefault  eval_breaker(): kernels call it every eval_breaker_interval elements
//   Py_BEGIN/END_ALLOW_THREADS                blocking_scope (sleep_tasks, contended locks) via the hooks
//
// take(): wait on cond_ for at most one interval at a time; a wait that times out with no hand-over in between
// sets drop_request_. The holder sees the request at its next eval breaker and drops the lock; because the
// request is pending, drop() then waits on switch_cond_ until another thread has taken it (forced switching), so
// the dropper cannot simply take it back. What CPython leaves out, so does this: no fairness among waiters, no
// priority; the OS picks which waiter wins.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "../blocking.hpp"

namespace parbench::detail {

inline constexpr std::chrono::microseconds default_switch_interval{5000};  // sys.getswitchinterval() == 0.005

class gil {
public:
    struct stats {
        std::uint64_t switches = 0;       // takes by a thread other than the last holder (hand-overs)
        std::uint64_t drop_requests = 0;  // times a waiter timed out and asked the holder to drop
    };

    explicit gil(std::chrono::microseconds interval = default_switch_interval)
        : interval_(interval.count() < 1 ? std::chrono::microseconds(1) : interval) {}
    gil(const gil&) = delete;
    gil& operator=(const gil&) = delete;

    void take() {
        const auto me = std::this_thread::get_id();
        std::unique_lock lock(mutex_);
        while (locked_) {
            const std::uint64_t seen = switches_;
            const bool timed_out = cond_.wait_for(lock, interval_) == std::cv_status::timeout;
            // Timed out with no hand-over meanwhile: the holder has had a whole interval, ask it to drop.
            if (timed_out && locked_ && switches_ == seen && !drop_request_.exchange(true, std::memory_order_relaxed))
                drop_requests_.fetch_add(1, std::memory_order_relaxed);
        }
        {
            // last_holder_ changes under switch_mutex_ so that a forced dropper cannot miss the change.
            std::lock_guard switching(switch_mutex_);
            locked_ = true;
            if (last_holder_ != me) {
                last_holder_ = me;
                ++switches_;
            }
            switch_cond_.notify_one();
        }
        drop_request_.store(false, std::memory_order_relaxed);
    }

    void drop() {
        const auto me = std::this_thread::get_id();
        {
            std::lock_guard lock(mutex_);
            locked_ = false;
        }
        cond_.notify_one();
        if (drop_request_.load(std::memory_order_relaxed)) {
            // Forced switching: the waiter that asked must get the lock before this thread can take it back.
            std::unique_lock switching(switch_mutex_);
            switch_cond_.wait(switching, [&] { return last_holder_ != me; });
        }
    }

    // The holder's check: hand the lock over if a waiter asked for it, then take it back.
    void eval_breaker() {
        if (!drop_requested()) return;
        drop();
        take();
    }

    // gil_drop_request: a waiter has asked the holder to drop the lock. Only a take() clears it.
    [[nodiscard]] bool drop_requested() const noexcept { return drop_request_.load(std::memory_order_relaxed); }

    [[nodiscard]] stats counters() const {
        std::lock_guard lock(mutex_);
        return {switches_, drop_requests_.load(std::memory_order_relaxed)};
    }
    [[nodiscard]] std::chrono::microseconds interval() const noexcept { return interval_; }

    // A thread's membership of the interpreter: installs the hooks (sleeps and contended locks release the lock,
    // eval breakers may hand it over) and holds the lock from construction to destruction.
    class thread_state {
    public:
        explicit thread_state(gil& g) : hooks_{&release, &acquire, &breaker, &g}, previous_(current_blocking_hooks) {
            g.take();
            current_blocking_hooks = &hooks_;
        }
        ~thread_state() {
            current_blocking_hooks = previous_;
            static_cast<gil*>(hooks_.ctx)->drop();
        }
        thread_state(const thread_state&) = delete;
        thread_state& operator=(const thread_state&) = delete;

    private:
        static void release(void* g) { static_cast<gil*>(g)->drop(); }
        static void acquire(void* g) { static_cast<gil*>(g)->take(); }
        static void breaker(void* g) { static_cast<gil*>(g)->eval_breaker(); }

        blocking_hooks hooks_;
        const blocking_hooks* previous_;
    };

private:
    const std::chrono::microseconds interval_;
    mutable std::mutex mutex_;
    std::condition_variable cond_;
    bool locked_ = false;  // guarded by mutex_
    std::mutex switch_mutex_;
    std::condition_variable switch_cond_;
    std::thread::id last_holder_;  // written under mutex_ and switch_mutex_; read under either
    std::uint64_t switches_ = 0;   // likewise
    std::atomic<bool> drop_request_{false};
    std::atomic<std::uint64_t> drop_requests_{0};
};

}  // namespace parbench::detail
