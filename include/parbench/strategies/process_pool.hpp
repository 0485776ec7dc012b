#pragma once
// process_pool: worker processes forked once, when the pool is built, and reused across runs. A run copies the
// kernel (trivially copyable bytes) into a MAP_SHARED control block and wakes the workers; each runs its chunk and
// writes its result back into its own slot there. Waiting is spin-then-futex on both sides (futexes work across
// processes on a shared mapping), so a pool whose processes fit the CPUs dispatches without a system call.
//
// Two variants, one class (the caller's part is a compile-time option):
// - process_pool: W workers are W-1 forked processes plus the calling process, which runs chunk 0 while they run
//   theirs, as thread_pool, OpenMP and TBB do. W workers then need W CPUs, not W+1, so on a machine with W CPUs
//   the pool can still spin, and a fork-join costs what a cache line crossing between processes costs.
// - process_pool.executor: W forked processes and a caller that only waits, the shape of Python's
//   ProcessPoolExecutor(W); every chunk runs in a child, so every chunk is isolated and has a deadline.
// A chunk that the caller runs is not isolated: if it crashes, the caller crashes, as with threads; it throws,
// and that is worker 0's error.
//
// Faults: a kernel that throws is a worker_error (exception) and the pool goes on as is. A worker that dies or
// outlives the deadline is a worker_error too (signal, exit code, timeout); all workers are then killed and
// reaped, and fresh ones are forked for the next run. Workers get SIGKILL when the thread that built the pool
// exits (PR_SET_PDEATHSIG), so build the pool on a thread that outlives it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "../detail/child.hpp"
#include "../detail/fork_join.hpp"
#include "../detail/futex.hpp"
#include "../detail/shm.hpp"
#include "../detail/spin.hpp"
#include "processes.hpp"

namespace parbench::detail {

// Spins while `word` equals `old`, for about `budget` (detail::spin_until: it also gives up when the process that
// will change word was last seen on this CPU); returns its last value (old if the budget ran out).
inline std::uint32_t spin_while(const std::atomic<std::uint32_t>& word, std::uint32_t old,
                                std::chrono::nanoseconds budget, const std::atomic<int>* other_cpu = nullptr) noexcept {
    std::uint32_t v = old;
    (void)spin_until([&] { return (v = word.load(std::memory_order_acquire)) != old; }, budget, other_cpu);
    return v;
}

// Spins on `word` while it equals `old` for about `budget`, then parks on the futex until it changes or
// `timeout` (futex_forever: no limit) passes. `sleepers` counts the processes parked on word, so that a waker
// makes the futex_wake system call only when someone sleeps. Returns the new value, or old on timeout.
inline std::uint32_t spin_then_wait(std::atomic<std::uint32_t>& word, std::uint32_t old,
                                    std::atomic<std::uint32_t>& sleepers, std::chrono::nanoseconds budget,
                                    const std::atomic<int>* other_cpu = nullptr,
                                    std::chrono::nanoseconds timeout = futex_forever) noexcept {
    using clock = std::chrono::steady_clock;
    if (const std::uint32_t v = spin_while(word, old, budget, other_cpu); v != old) return v;
    const auto until = clock::now() + timeout;
    for (;;) {
        // seq_cst pairs with the waker's store-then-load of sleepers: one of the two sees the other.
        sleepers.fetch_add(1, std::memory_order_seq_cst);
        if (word.load(std::memory_order_seq_cst) == old) {
            const auto left = timeout.count() < 0 ? futex_forever : std::max(until - clock::now(), clock::duration{});
            futex_wait(word, old, left);
        }
        sleepers.fetch_sub(1, std::memory_order_relaxed);
        const std::uint32_t now = word.load(std::memory_order_acquire);
        if (now != old || (timeout.count() >= 0 && clock::now() >= until)) return now;
    }
}

// The waker's half of spin_then_wait: call after changing word.
inline void wake_sleepers(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers) noexcept {
    if (sleepers.load(std::memory_order_seq_cst) != 0) futex_wake(word);
}

// The pool's transport, its one seam: a control block in a MAP_SHARED mapping that the parent and its forked
// workers share. post() a task, dispatch() it to every worker, wait() for all of them, read each result.
class pool_transport {
public:
    static constexpr std::size_t kernel_capacity = 256;
    static constexpr std::size_t result_capacity = 256;
    static constexpr std::size_t state_capacity = 1024;
    static constexpr std::size_t message_capacity = 240;

    // Runs one chunk in a worker: the kernel and state are in the control block, the result goes to `result`.
    // Returns false if the kernel threw, with its message in `message`.
    using invoke_fn = bool (*)(const void* kernel, chunk c, void* state, void* result, char* message) noexcept;

    // `workers` chunks, of which the parent runs the first `in_parent` (0 or 1) itself; the others each get a
    // forked process. Chunk numbers are worker numbers throughout.
    pool_transport(unsigned workers, unsigned in_parent)
        : workers_(workers), first_(in_parent), map_(bytes(workers - in_parent)) {
        ::new (map_.data()) control();
        for (unsigned i = first_; i < workers_; ++i) ::new (slot(i)) worker_slot();
        const unsigned cpus = available_cpus();
        // Spinning pays only while the process that will answer runs on another CPU: the children and the
        // parent must all fit. On a busy 2-core machine, 2 spinning children and a parent made dispatch 8x slower.
        const bool fits = (workers_ - first_) + 1 <= cpus;
        worker_spin_ = fits ? std::chrono::microseconds(50) : std::chrono::nanoseconds(0);
        parent_spin_ = fits ? std::chrono::microseconds(20) : std::chrono::nanoseconds(0);
        start();
    }
    ~pool_transport() { stop(); }
    pool_transport(const pool_transport&) = delete;
    pool_transport& operator=(const pool_transport&) = delete;

    [[nodiscard]] void* kernel() const noexcept { return ctl().kernel; }
    [[nodiscard]] void* state() const noexcept { return ctl().state; }
    // Worker i's result and error, for a worker the parent does not run (i >= in_parent).
    [[nodiscard]] const void* result(unsigned i) const noexcept { return slot(i)->result; }
    // The message of the exception worker i's kernel threw in the last run, or nullopt if it did not throw.
    [[nodiscard]] std::optional<std::string> error(unsigned i) const {
        const worker_slot* s = slot(i);
        if (s->ok) return std::nullopt;
        return std::string(s->message, strnlen(s->message, message_capacity));
    }

    // Starts fn over [0, n) on every child; the kernel (and any state) must already be in place. The parent then
    // runs its own chunks (run_in_parent) and waits.
    void dispatch(invoke_fn fn, std::uint64_t n) noexcept {
        control& c = ctl();
        c.invoke = fn;
        c.n = n;
        c.parent_cpu.store(current_cpu(), std::memory_order_relaxed);
        c.remaining.store(workers_ - first_, std::memory_order_relaxed);
        c.generation.fetch_add(1, std::memory_order_seq_cst);
        wake_sleepers(c.generation, c.worker_sleepers);
    }
    // Runs worker i's chunk (i < in_parent) in this process, as a child would; false if the kernel threw.
    bool run_in_parent(unsigned i, void* result, char* message) noexcept {
        control& c = ctl();
        return c.invoke(c.kernel, chunk_of(c.n, workers_, i), c.state, result, message);
    }

    struct failed {
        unsigned worker;
        int status;  // raw wait status; -1: the deadline passed
    };
    // Waits until every worker has finished the dispatched task; a dead or hung worker is a failure, after
    // which the workers must be kill()ed and start()ed again.
    std::optional<failed> wait(std::chrono::nanoseconds timeout) {
        using clock = std::chrono::steady_clock;
        control& c = ctl();
        const auto deadline = clock::now() + timeout;
        std::uint32_t left = c.remaining.load(std::memory_order_acquire);
        if (left != 0) left = spin_while(c.remaining, left, parent_spin_, &c.worker_cpu);
        while (left != 0) {
            // Sleep in slices: a worker that dies never decrements, so look at the children in between.
            const auto slice = std::min<clock::duration>(std::chrono::milliseconds(50),
                                                         std::max(deadline - clock::now(), clock::duration{}));
            left = spin_then_wait(c.remaining, left, c.parent_sleepers, std::chrono::nanoseconds(0), nullptr, slice);
            if (left == 0) break;
            if (const auto e = children_.wait_any(std::chrono::milliseconds(0)))
                return failed{first_ + static_cast<unsigned>(e->index), e->status};
            if (clock::now() >= deadline) {
                const std::uint32_t g = c.generation.load(std::memory_order_relaxed);
                unsigned hung = first_;
                while (hung + 1 < workers_ && slot(hung)->done.load(std::memory_order_acquire) == g) ++hung;
                return failed{hung, -1};
            }
            left = c.remaining.load(std::memory_order_acquire);
        }
        return std::nullopt;
    }

    // Kills and reaps every worker (after a failure: one may be stuck, holding the shared state).
    void kill() noexcept { children_.kill_all(); }
    // Forks fresh workers after kill().
    void start() {
        control& c = ctl();
        c.stopping.store(0);
        c.worker_sleepers.store(0);  // a killed worker may have died parked
        c.parent_sleepers.store(0);
        c.remaining.store(0);
        const std::uint32_t g = c.generation.load();
        for (unsigned i = first_; i < workers_; ++i) {
            slot(i)->done.store(g);
            children_.fork([this, i, g] { return work(i, g); });
        }
    }

    // The process that runs worker i: this one for a chunk the parent runs, else a child.
    [[nodiscard]] pid_t pid(unsigned i) const noexcept { return i < first_ ? ::getpid() : children_.pid(i - first_); }

private:
    struct alignas(cache_line) control {
        std::atomic<std::uint32_t> generation{0};  // bumped per dispatch; the workers' futex word
        std::atomic<std::uint32_t> worker_sleepers{0};
        std::atomic<std::uint32_t> stopping{0};
        invoke_fn invoke = nullptr;
        std::uint64_t n = 0;
        std::atomic<int> parent_cpu{-1};  // where the parent last dispatched from
        alignas(cache_line) std::atomic<std::uint32_t> remaining{0};  // children still running; the parent's futex word
        std::atomic<std::uint32_t> parent_sleepers{0};
        std::atomic<int> worker_cpu{-1};  // where a child last waited (any child: a hint, not a census)
        alignas(cache_line) std::byte kernel[kernel_capacity];
        alignas(cache_line) std::byte state[state_capacity];
    };
    struct alignas(cache_line) worker_slot {
        alignas(cache_line) std::byte result[result_capacity];
        std::atomic<std::uint32_t> done{0};  // the generation this worker finished last
        bool ok = true;
        char message[message_capacity] = {};
    };
    static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the control block is shared between processes");

    static std::size_t bytes(unsigned children) noexcept { return sizeof(control) + sizeof(worker_slot) * children; }
    control& ctl() const noexcept { return *static_cast<control*>(map_.data()); }
    // Worker i's slot (i >= first_: the parent's own chunks need none).
    worker_slot* slot(unsigned i) const noexcept {
        return reinterpret_cast<worker_slot*>(static_cast<std::byte*>(map_.data()) + sizeof(control)) + (i - first_);
    }

    // A worker's life: wait for the next generation, run its chunk, report, repeat until stopped.
    int work(unsigned i, std::uint32_t seen) noexcept {
        control& c = ctl();
        worker_slot& s = *slot(i);
        for (;;) {
            c.worker_cpu.store(current_cpu(), std::memory_order_relaxed);
            seen = spin_then_wait(c.generation, seen, c.worker_sleepers, worker_spin_, &c.parent_cpu);
            if (c.stopping.load(std::memory_order_acquire)) return 0;
            s.ok = c.invoke(c.kernel, chunk_of(c.n, workers_, i), c.state, s.result, s.message);
            s.done.store(seen, std::memory_order_release);
            if (c.remaining.fetch_sub(1, std::memory_order_seq_cst) == 1) wake_sleepers(c.remaining, c.parent_sleepers);
        }
    }

    void stop() noexcept {
        control& c = ctl();
        c.stopping.store(1, std::memory_order_release);
        c.generation.fetch_add(1, std::memory_order_seq_cst);
        futex_wake(c.generation);
        try {
            (void)children_.wait_all(std::chrono::seconds(1));
        } catch (...) {
        }
        children_.kill_all();
    }

    unsigned workers_;
    unsigned first_;  // chunks [0, first_) run in the parent
    shared_mapping map_;
    child_group children_;
    std::chrono::nanoseconds worker_spin_{};
    std::chrono::nanoseconds parent_spin_{};
};

// What a worker runs for kernel K.
template <kernel K>
bool invoke_chunk(const void* kernel, chunk c, void* state, void* result, char* message) noexcept {
    using R = typename K::result;
    try {
        const K& k = *std::launder(static_cast<const K*>(kernel));
        auto* s = std::launder(static_cast<state_t<K>*>(state));  // no_state for a plain kernel: never read
        ::new (result) R(run_chunk(k, c, *s));
        return true;
    } catch (...) {
        std::strncpy(message, current_exception_message(), pool_transport::message_capacity - 1);
        message[pool_transport::message_capacity - 1] = '\0';
        return false;
    }
}

}  // namespace parbench::detail

namespace parbench::strategies {

// The two pools differ only in whether the caller runs chunk 0 (see the top of this file).
template <bool CallerRunsAShare>
class basic_process_pool {
public:
    static constexpr std::string_view name = CallerRunsAShare ? "process_pool" : "process_pool.executor";
    static constexpr bool sweeps_workers = true;

    explicit basic_process_pool(unsigned workers, std::chrono::milliseconds deadline = detail::default_deadline)
        : workers_((detail::check_workers(workers), workers)), deadline_(deadline), transport_(workers, in_parent) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        using R = typename K::result;
        using T = detail::pool_transport;
        static_assert(sizeof(K) <= T::kernel_capacity && alignof(K) <= detail::cache_line, "kernel too big");
        static_assert(sizeof(R) <= T::result_capacity && alignof(R) <= detail::cache_line, "result too big");
        static_assert(sizeof(detail::state_t<K>) <= T::state_capacity && alignof(detail::state_t<K>) <= detail::cache_line,
                      "shared state too big");
        std::lock_guard lock(run_mutex_);
        if (broken_) {
            transport_.start();
            broken_ = false;
        }
        ::new (transport_.kernel()) K(k);
        auto* state = ::new (transport_.state()) detail::state_t<K>();
        struct destroy_state {
            detail::state_t<K>* s;
            ~destroy_state() { std::destroy_at(s); }
        } guard{state};

        transport_.dispatch(&detail::invoke_chunk<K>, n);
        // The caller's own share, run while the children run theirs; its result lives here, not in the block.
        alignas(R) std::byte own[sizeof(R)];
        char own_message[T::message_capacity];
        bool own_ok = true;
        if constexpr (CallerRunsAShare) own_ok = transport_.run_in_parent(0, own, own_message);
        if (const auto bad = transport_.wait(deadline_)) {
            transport_.kill();  // before the state goes: a stuck worker may still hold it
            broken_ = true;     // fresh workers are forked before the next run
            if (bad->status < 0)
                throw worker_error(bad->worker, workers_, failure::timeout,
                                   "no result within " + std::to_string(deadline_.count()) + " ms",
                                   static_cast<int>(deadline_.count()));
            throw detail::status_error(bad->worker, workers_, bad->status);
        }
        if (!own_ok) throw worker_error(0, workers_, failure::exception, own_message);
        for (unsigned i = in_parent; i < workers_; ++i)
            if (auto what = transport_.error(i)) throw worker_error(i, workers_, failure::exception, *what);
        R total;
        if constexpr (CallerRunsAShare)
            total = *std::launder(reinterpret_cast<const R*>(own));
        else
            total = result<R>(0);
        for (unsigned i = 1; i < workers_; ++i) total = K::combine(total, result<R>(i));
        return detail::finish(k, *state, total);
    }

    [[nodiscard]] unsigned workers() const noexcept { return workers_; }
    // The pid of the process that runs worker i (tests kill workers with it); the caller's own for process_pool's
    // worker 0.
    [[nodiscard]] pid_t pid(unsigned i) const noexcept { return transport_.pid(i); }

private:
    static constexpr unsigned in_parent = CallerRunsAShare ? 1 : 0;

    template <class R>
    R result(unsigned i) const {
        return *std::launder(static_cast<const R*>(transport_.result(i)));
    }

    unsigned workers_;
    std::chrono::milliseconds deadline_;
    detail::pool_transport transport_;
    std::mutex run_mutex_;  // one run at a time
    bool broken_ = false;
};

// W workers: the caller and W-1 forked processes.
using process_pool = basic_process_pool<true>;
// W forked processes; the caller waits (Python's ProcessPoolExecutor).
using process_pool_executor = basic_process_pool<false>;

}  // namespace parbench::strategies
