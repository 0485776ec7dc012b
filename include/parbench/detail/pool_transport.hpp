#pragma once
// The process pool's transport: a control block in a MAP_SHARED mapping that the parent and its forked workers
// share, and the workers' loop. A run copies the kernel (trivially copyable bytes) into the block and bumps a
// generation word; each worker runs its chunk, writes its result to its own slot and counts down. Both sides wait
// with wait_while on a shared futex word, so a pool whose processes fit the CPUs dispatches without a system call.
// A worker that dies or hangs is found while the parent waits; the parent then kills and re-forks all of them.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>

#include "../chunk.hpp"
#include "../error.hpp"
#include "../kernel.hpp"
#include "child.hpp"
#include "fork_join.hpp"
#include "shm.hpp"
#include "spin.hpp"
#include "wait.hpp"

namespace parbench::detail {

// The pool's one seam: dispatch() a task to every worker, wait() for all of them, read each result.
class pool_transport {
public:
    static constexpr std::size_t kernel_capacity = max_kernel_size;
    static constexpr std::size_t result_capacity = max_result_size;
    static constexpr std::size_t state_capacity = max_state_size;
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
        // parent must all fit. The budgets were chosen by measurement: docs/processes.md.
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
        wake_waiters(c.generation, &c.worker_sleepers);
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
            left = wait_while(c.remaining, left, {.sleepers = &c.parent_sleepers, .timeout = slice});
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
            seen = wait_while(c.generation, seen,
                              {.sleepers = &c.worker_sleepers, .spin = worker_spin_, .other_cpu = &c.parent_cpu});
            if (c.stopping.load(std::memory_order_acquire)) return 0;
            s.ok = c.invoke(c.kernel, chunk_of(c.n, workers_, i), c.state, s.result, s.message);
            s.done.store(seen, std::memory_order_release);
            if (c.remaining.fetch_sub(1, std::memory_order_seq_cst) == 1) wake_waiters(c.remaining, &c.parent_sleepers);
        }
    }

    void stop() noexcept {
        control& c = ctl();
        c.stopping.store(1, std::memory_order_release);
        c.generation.fetch_add(1, std::memory_order_seq_cst);
        wake_waiters(c.generation);
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
