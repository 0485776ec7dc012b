#pragma once
// thread_pool: persistent workers, started once and reused across runs, with dispatch at the cost of a cache
// line or two (thread_pool.condvar is the textbook mutex + condition-variable pool, for comparison).
//
// A run of W workers starts W-1 pool threads and runs chunk 0 on the calling thread, as OpenMP does. The caller
// publishes the job and bumps an epoch word; a waiting worker sees the bump while it spins, or is woken from a
// futex on that word once it has spun past its budget and parked. Completion is a countdown the caller spins on,
// then parks on the same way. Nothing is allocated and no std::function is built per run. Like a future, a run
// returns the combined value or raises the first worker's exception.
//
// Spinning pays only while the thread that will answer is running on another CPU. So a waiting thread spins for
// at most spin_budget and then parks (an idle pool uses no CPU), parks at once when the thread it waits for last
// ran on its own CPU, and a pool with more workers than the process has CPUs does not spin at all: a spinning
// worker there would take the CPU that the others need. docs/thread_pool.md has the measurements behind this.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include "../detail/spin.hpp"
#include "../detail/wait.hpp"
#include "../strategy.hpp"
#include "../thread_start.hpp"

namespace parbench::strategies {

class thread_pool : public worker_count {
public:
    static constexpr std::string_view name = "thread_pool";
    static constexpr bool sweeps_workers = true;
    // How long a waiting thread spins before it parks: longer than the gap between back-to-back runs, far
    // shorter than anything a user would call idle (docs/thread_pool.md).
    static constexpr std::chrono::microseconds spin_budget{100};

    // What a waiting thread does: spin for spin_budget, then park (thread_pool), or spin for as long as the pool
    // lives and never park (thread_pool.spin, thread_pool_spin.hpp). Either way a pool with more workers than the
    // process has CPUs does not spin.
    enum class idle { park, spin };

    explicit thread_pool(unsigned workers) : thread_pool(workers, idle::park, name) {}
    // A pool that waits as `mode` says, whose threads' start errors name the strategy `strategy`.
    thread_pool(unsigned workers, idle mode, std::string_view strategy)
        : worker_count(workers),
          spin_(workers > detail::available_cpus() ? std::chrono::nanoseconds{0}
                : mode == idle::spin               ? detail::spin_forever
                                                   : std::chrono::nanoseconds{spin_budget}),
          watch_cpus_(mode == idle::park) {
        threads_.reserve(workers - 1);
        try {
            for (unsigned i = 1; i < workers; ++i)
                threads_.push_back(start_thread<std::thread>(strategy, i, workers, [this, i] { work(i); }));
        } catch (...) {  // a worker_error from start_thread: the workers started so far are stopped and joined
            stop();
            throw;
        }
    }
    // Waits for a run in progress, then stops and joins the workers.
    ~thread_pool() noexcept { stop(); }
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        return fork_join(k, n, workers_, [&](auto&& body) { for_each_worker(body); });
    }

    // Calls fn(i) once for every i in [0, workers()): fn(0) on the calling thread, the others on the pool's
    // threads; returns when all calls have returned. Runs from several callers are serialised; a run from inside
    // a run of the same pool is a std::logic_error.
    template <class F>
    void for_each_worker(F& fn) {
        static_assert(std::is_nothrow_invocable_v<F&, unsigned>, "fn runs on pool threads and must not throw");
        if (current_pool == this) throw std::logic_error("parbench: thread_pool::run called from its own worker");
        std::lock_guard run_lock(run_mutex_);
        const in_pool caller(this);
        if (threads_.empty()) return fn(0u);
        publish(fn);
        pending_.store(static_cast<std::uint32_t>(threads_.size()), std::memory_order_relaxed);
        caller_cpu_.store(detail::current_cpu(), std::memory_order_relaxed);
        epoch_.fetch_add(1, std::memory_order_seq_cst);
        detail::wake_waiters(epoch_, &parked_, scope);
        fn(0u);
        wait_for_workers();
    }

private:
    // Points the workers at fn. A small trivially copyable fn (fork_join's chunk_job) is copied into the pool's
    // own job line, and only when its bytes changed: back-to-back runs of one kernel then leave that line shared
    // in every worker's cache instead of pulling it across once per worker per run.
    template <class F>
    void publish(F& fn) noexcept {
        using job_type = std::remove_const_t<F>;
        if constexpr (std::is_trivially_copyable_v<job_type> && sizeof(job_type) <= sizeof(job_bytes_) &&
                      alignof(job_type) <= detail::cache_line) {
            // (Padding may differ between two equal jobs: that costs a rewrite, never a wrong job.)
            if (job_ != &call<job_type> ||
                (!std::is_empty_v<job_type> && std::memcmp(job_bytes_, &fn, sizeof(job_type)) != 0)) {
                std::memcpy(job_bytes_, &fn, sizeof(job_type));
                job_ = &call<job_type>;
                ctx_ = job_bytes_;
            }
        } else {
            job_ = &call<F>;
            ctx_ = const_cast<job_type*>(&fn);
        }
    }
    template <class F>
    static void call(void* ctx, unsigned i) noexcept {
        (*std::launder(static_cast<F*>(ctx)))(i);
    }

    // Marks the thread as inside this pool (a worker, or the caller while it runs chunk 0).
    class in_pool {
    public:
        explicit in_pool(const thread_pool* p) noexcept : saved_(current_pool) { current_pool = p; }
        ~in_pool() { current_pool = saved_; }
        in_pool(const in_pool&) = delete;
        in_pool& operator=(const in_pool&) = delete;

    private:
        const thread_pool* saved_;
    };

    void work(unsigned index) noexcept {
        const in_pool self(this);
        std::uint32_t seen = 0;
        for (;;) {
            worker_cpu_.store(detail::current_cpu(), std::memory_order_relaxed);
            seen = detail::wait_while(
                epoch_, seen, {.scope = scope, .sleepers = &parked_, .spin = spin_, .other_cpu = watched(caller_cpu_)});
            if (stopping_.load(std::memory_order_relaxed)) return;
            job_(ctx_, index);
            // The last one out wakes the caller if it has parked.
            if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1)
                detail::wake_waiters(pending_, &caller_parked_, scope);
        }
    }

    // Spins once for the whole countdown (at most the pool's budget), then parks until it reaches zero.
    void wait_for_workers() noexcept {
        const auto all_done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
        if (detail::spin_until(all_done, spin_, watched(worker_cpu_))) return;
        for (std::uint32_t left; (left = pending_.load(std::memory_order_acquire)) != 0;)
            (void)detail::wait_while(pending_, left, {.scope = scope, .sleepers = &caller_parked_});
    }

    // Where the other party was last seen, for a pool that stops spinning when it is on this CPU; a pool that
    // never parks (idle::spin) spins on regardless, as libgomp's workers do under OMP_WAIT_POLICY=active.
    [[nodiscard]] const std::atomic<int>* watched(const std::atomic<int>& cpu) const noexcept {
        return watch_cpus_ ? &cpu : nullptr;
    }

    void stop() noexcept {
        std::lock_guard run_lock(run_mutex_);
        stopping_.store(true, std::memory_order_relaxed);
        epoch_.fetch_add(1, std::memory_order_seq_cst);
        detail::wake_waiters(epoch_, nullptr, scope);
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }

    static inline thread_local const thread_pool* current_pool = nullptr;
    // Only this process's threads wait on the pool's words.
    static constexpr detail::futex_scope scope = detail::futex_scope::process;

    // What workers read at every run, on one line: the epoch (a futex word), the job and the stop flag.
    alignas(detail::cache_line) std::atomic<std::uint32_t> epoch_{0};
    std::atomic<bool> stopping_{false};
    void (*job_)(void*, unsigned) noexcept = nullptr;
    void* ctx_ = nullptr;
    std::atomic<int> caller_cpu_{-1};  // where the caller last dispatched from
    // The job, when publish() copied it here: rewritten only when it changes.
    alignas(detail::cache_line) std::byte job_bytes_[2 * detail::cache_line];
    // What workers write at the end of every run, on its own line: the countdown (a futex word).
    alignas(detail::cache_line) std::atomic<std::uint32_t> pending_{0};
    std::atomic<std::uint32_t> caller_parked_{0};  // 1 while the caller is parked on pending_
    std::atomic<int> worker_cpu_{-1};              // where a worker last waited (any worker: a hint, not a census)
    // Touched only by workers that park.
    alignas(detail::cache_line) std::atomic<std::uint32_t> parked_{0};
    // workers_ (worker_count's) sits alone on the object's first line, which no run writes.
    alignas(detail::cache_line) std::chrono::nanoseconds spin_;  // read by every worker each time it starts to spin
    bool watch_cpus_;                                            // false: spin on whatever the other party's CPU
    std::vector<std::thread> threads_;
    // Locked and unlocked by every run's caller: on a line of its own, or each run would pull spin_'s line away
    // from the workers and back.
    alignas(detail::cache_line) std::mutex run_mutex_;  // one run at a time
};

}  // namespace parbench::strategies
