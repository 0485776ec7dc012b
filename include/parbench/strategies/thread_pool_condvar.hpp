#pragma once
// thread_pool.condvar: the textbook pool, kept so that what thread_pool's spin-then-park dispatch buys stays
// measured. Persistent workers, started once and reused across runs; a run hands worker i chunk i under one
// mutex, wakes them all through a condition variable and sleeps on another until the last one is done. Like a
// future, it returns the combined value or raises the first worker's exception.

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <vector>

#include "../strategy.hpp"
#include "../thread_start.hpp"

namespace parbench::strategies {

class thread_pool_condvar : public worker_count {
public:
    static constexpr std::string_view name = "thread_pool.condvar";
    static constexpr bool sweeps_workers = true;

    explicit thread_pool_condvar(unsigned workers) : worker_count(workers) {
        threads_.reserve(workers);
        try {
            for (unsigned i = 0; i < workers; ++i)
                threads_.push_back(start_thread<std::thread>(name, i, workers, [this, i] { work(i); }));
        } catch (...) {  // a worker_error from start_thread: the workers started so far are stopped and joined
            stop();
            throw;
        }
    }
    // Waits for a run in progress (run() does not return before its workers finish), then joins the workers.
    ~thread_pool_condvar() noexcept { stop(); }
    thread_pool_condvar(const thread_pool_condvar&) = delete;
    thread_pool_condvar& operator=(const thread_pool_condvar&) = delete;

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        return fork_join(k, n, workers_, [&](auto&& body) { for_each_worker(body); });
    }

    // Calls fn(i) once on worker i for every i in [0, workers()) and returns when all calls have returned.
    // fn must not throw (fork_join catches inside it). Runs from several callers are serialised.
    template <class F>
    void for_each_worker(F& fn) {
        if (current_pool == this)
            throw std::logic_error("parbench: thread_pool.condvar::run called from its own worker");
        std::lock_guard run_lock(run_mutex_);
        {
            std::lock_guard lock(mutex_);
            job_ = [](void* ctx, unsigned i) { (*static_cast<F*>(ctx))(i); };
            ctx_ = &fn;
            remaining_ = workers_;
            ++generation_;
        }
        start_.notify_all();
        std::unique_lock lock(mutex_);
        done_.wait(lock, [this] { return remaining_ == 0; });
    }

private:
    void work(unsigned index) {
        current_pool = this;
        std::uint64_t seen = 0;
        for (;;) {
            void (*job)(void*, unsigned) = nullptr;
            void* ctx = nullptr;
            {
                std::unique_lock lock(mutex_);
                start_.wait(lock, [&] { return stopping_ || generation_ != seen; });
                if (stopping_) return;
                seen = generation_;
                job = job_;
                ctx = ctx_;
            }
            job(ctx, index);
            bool last = false;
            {
                std::lock_guard lock(mutex_);
                last = --remaining_ == 0;
            }
            if (last) done_.notify_one();
        }
    }

    void stop() noexcept {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        start_.notify_all();
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

    static inline thread_local const thread_pool_condvar* current_pool = nullptr;

    std::vector<std::thread> threads_;
    std::mutex run_mutex_;  // one run at a time
    std::mutex mutex_;      // guards everything below
    std::condition_variable start_;
    std::condition_variable done_;
    std::uint64_t generation_ = 0;
    unsigned remaining_ = 0;
    bool stopping_ = false;
    void (*job_)(void*, unsigned) = nullptr;
    void* ctx_ = nullptr;
};

}  // namespace parbench::strategies
