#pragma once
// The process pool's transport: a control block in a shared memfd mapping that the parent and its workers share,
// and the workers' loop. A run copies the kernel (trivially copyable bytes) into the block and bumps a generation
// word; each worker runs its chunk, writes its result to its own slot and counts down. Both sides wait with
// wait_while on a shared futex word, so a pool whose processes fit the CPUs dispatches without a system call.
// A worker that dies or hangs is found while the parent waits; the parent then kills and restarts all of them.
//
// Only how a worker process starts differs between the pools (a Starter, detail/pool_start.hpp): a fork of the
// caller, this program started afresh (spawn), or a fork of the fork server. A forked worker calls the kernel
// through the function pointer the parent stored; a worker that is not a copy of the caller finds the same
// function in a registry under the kernel's type name (registry.hpp), which the block carries beside it.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <string>
#include <string_view>

#include "../chunk.hpp"
#include "../error.hpp"
#include "../kernel.hpp"
#include "child.hpp"
#include "fork_join.hpp"
#include "registry.hpp"
#include "shm.hpp"
#include "spin.hpp"
#include "wait.hpp"

namespace parbench::detail {

// Runs one chunk in a worker: the kernel and state are in the control block, the result goes to `result`.
// Returns false if the kernel threw, with its message in `message`.
using pool_invoke_fn = bool (*)(const void* kernel, chunk c, void* state, void* result, char* message) noexcept;

// The control block's layout, as the parent and every worker see it through their own mapping of it, and a
// worker's loop.
class pool_block {
public:
    static constexpr std::size_t kernel_capacity = max_kernel_size;
    static constexpr std::size_t result_capacity = max_result_size;
    static constexpr std::size_t state_capacity = max_state_size;
    static constexpr std::size_t message_capacity = 240;
    static constexpr std::size_t key_capacity = 224;

    struct alignas(cache_line) control {
        std::atomic<std::uint32_t> generation{0};  // bumped per dispatch; the workers' futex word
        std::atomic<std::uint32_t> worker_sleepers{0};
        std::atomic<std::uint32_t> stopping{0};
        pool_invoke_fn invoke = nullptr;   // valid in forked workers only
        std::uint32_t invoke_version = 0;  // bumped when invoke (and key) change
        std::uint64_t n = 0;
        std::atomic<int> parent_cpu{-1};  // where the parent last dispatched from
        std::uint32_t workers = 0;        // chunks in all
        std::uint32_t first = 0;          // chunks [0, first) run in the parent
        std::int64_t worker_spin_ns = 0;
        char key[key_capacity] = {};  // invoke's kernel type name, for workers that are not forks
        alignas(cache_line) std::atomic<std::uint32_t> remaining{0};  // workers still running; the parent's futex word
        std::atomic<std::uint32_t> parent_sleepers{0};
        std::atomic<int> worker_cpu{-1};  // where a worker last waited (any worker: a hint, not a census)
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

    static std::size_t bytes(unsigned worker_processes) noexcept {
        return sizeof(control) + sizeof(worker_slot) * worker_processes;
    }

    explicit pool_block(void* base) noexcept : base_(static_cast<std::byte*>(base)) {}

    control& ctl() const noexcept { return *reinterpret_cast<control*>(base_); }
    // Worker i's slot (i >= first: the parent's own chunks need none).
    worker_slot* slot(unsigned i) const noexcept {
        return reinterpret_cast<worker_slot*>(base_ + sizeof(control)) + (i - ctl().first);
    }

    // A worker's life: wait for the next generation, run its chunk, report, repeat until stopped. A forked
    // worker calls the parent's function pointer; any other looks the function up by the kernel's name.
    int work(unsigned i, bool forked) noexcept {
        control& c = ctl();
        worker_slot& s = *slot(i);
        const std::chrono::nanoseconds spin(c.worker_spin_ns);
        std::uint32_t seen = s.done.load(std::memory_order_relaxed);
        std::uint32_t version = 0;
        pool_invoke_fn invoke = nullptr;
        for (;;) {
            c.worker_cpu.store(current_cpu(), std::memory_order_relaxed);
            seen = wait_while(c.generation, seen,
                              {.sleepers = &c.worker_sleepers, .spin = spin, .other_cpu = &c.parent_cpu});
            if (c.stopping.load(std::memory_order_acquire)) return 0;
            if (forked) {
                invoke = c.invoke;
            } else if (invoke == nullptr || version != c.invoke_version) {
                version = c.invoke_version;
                invoke = find_registered<pool_invoke_fn>(std::string_view(c.key, ::strnlen(c.key, key_capacity)));
            }
            if (invoke != nullptr) {
                s.ok = invoke(c.kernel, chunk_of(c.n, c.workers, i), c.state, s.result, s.message);
            } else {
                s.ok = false;
                std::strncpy(s.message,
                             "the worker's program does not serve this kernel (does its main call "
                             "parbench::worker_main first?)",
                             message_capacity - 1);
            }
            s.done.store(seen, std::memory_order_release);
            if (c.remaining.fetch_sub(1, std::memory_order_seq_cst) == 1) wake_waiters(c.remaining, &c.parent_sleepers);
        }
    }

private:
    std::byte* base_;
};

// In a pool worker that is not a fork of the caller (spawned, or forked by the fork server): maps the control
// block from `fd` and serves as worker i until the pool stops. Returns the exit status.
inline int serve_pool_worker(int fd, unsigned i) noexcept {
    try {
        const shared_mapping map = memfd_mapping::of_fd(fd);
        if (map.size() < pool_block::bytes(0)) return exit_unsent;
        pool_block block(map.data());
        if (i < block.ctl().first || i >= block.ctl().workers ||
            map.size() < pool_block::bytes(block.ctl().workers - block.ctl().first))
            return exit_unsent;
        return block.work(i, false);
    } catch (...) {
        return exit_uncaught;
    }
}

// How a worker ended, as a Starter reports it: a raw wait status, or `lost` (what was lost instead, e.g. the
// fork server) when no status can be had.
struct pool_worker_end {
    std::size_t index;  // in start order: worker first + index
    int status;
    std::string lost;
};

// The pool's one seam: dispatch() a task to every worker, wait() for all of them, read each result. Starter
// starts, watches, stops and kills the worker processes (detail/pool_start.hpp).
template <class Starter>
class pool_transport {
public:
    static constexpr std::size_t kernel_capacity = pool_block::kernel_capacity;
    static constexpr std::size_t result_capacity = pool_block::result_capacity;
    static constexpr std::size_t state_capacity = pool_block::state_capacity;
    static constexpr std::size_t message_capacity = pool_block::message_capacity;
    static constexpr std::size_t key_capacity = pool_block::key_capacity;
    // Whether the workers are forks of the caller (they call the parent's function pointers).
    static constexpr bool forked = Starter::forked;

    // `workers` chunks, of which the parent runs the first `in_parent` (0 or 1) itself; the others each get a
    // worker process. Chunk numbers are worker numbers throughout.
    pool_transport(unsigned workers, unsigned in_parent)
        : workers_(workers), first_(in_parent), map_(pool_block::bytes(workers - in_parent)), block_(map_.data()) {
        control& c = *::new (map_.data()) control();
        c.workers = workers_;
        c.first = first_;
        for (unsigned i = first_; i < workers_; ++i) ::new (block_.slot(i)) worker_slot();
        const unsigned cpus = available_cpus();
        // Spinning pays only while the process that will answer runs on another CPU: the children and the
        // parent must all fit. The budgets were chosen by measurement: docs/processes.md.
        const bool fits = (workers_ - first_) + 1 <= cpus;
        c.worker_spin_ns = fits ? std::chrono::nanoseconds(std::chrono::microseconds(50)).count() : 0;
        parent_spin_ = fits ? std::chrono::microseconds(20) : std::chrono::nanoseconds(0);
        start();
    }
    ~pool_transport() { stop(); }
    pool_transport(const pool_transport&) = delete;
    pool_transport& operator=(const pool_transport&) = delete;

    [[nodiscard]] void* kernel() const noexcept { return ctl().kernel; }
    [[nodiscard]] void* state() const noexcept { return ctl().state; }
    // Worker i's result and error, for a worker the parent does not run (i >= in_parent).
    [[nodiscard]] const void* result(unsigned i) const noexcept { return block_.slot(i)->result; }
    // The message of the exception worker i's kernel threw in the last run, or nullopt if it did not throw.
    [[nodiscard]] std::optional<std::string> error(unsigned i) const {
        const worker_slot* s = block_.slot(i);
        if (s->ok) return std::nullopt;
        return std::string(s->message, strnlen(s->message, message_capacity));
    }

    // Starts fn over [0, n) on every worker; the kernel (and any state) must already be in place. `key` names
    // fn for workers that are not forks (registered<K, pool_invoke_fn, fn>); it must outlive the pool (a type
    // name does). The parent then runs its own chunks (run_in_parent) and waits.
    void dispatch(pool_invoke_fn fn, std::string_view key, std::uint64_t n) noexcept {
        control& c = ctl();
        if (c.invoke != fn) {
            c.invoke = fn;
            const std::size_t len = std::min(key.size(), key_capacity - 1);
            std::memcpy(c.key, key.data(), len);
            c.key[len] = '\0';
            ++c.invoke_version;
        }
        c.n = n;
        c.parent_cpu.store(current_cpu(), std::memory_order_relaxed);
        c.remaining.store(workers_ - first_, std::memory_order_relaxed);
        c.generation.fetch_add(1, std::memory_order_seq_cst);
        wake_waiters(c.generation, &c.worker_sleepers);
    }
    // Runs worker i's chunk (i < in_parent) in this process, as a worker would; false if the kernel threw.
    bool run_in_parent(unsigned i, void* result, char* message) noexcept {
        control& c = ctl();
        return c.invoke(c.kernel, chunk_of(c.n, workers_, i), c.state, result, message);
    }

    struct failed {
        unsigned worker;
        int status;        // raw wait status; -1: the deadline passed, or `lost`
        std::string lost;  // non-empty: what was lost (the fork server), with no status to report
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
            // Sleep in slices: a worker that dies never decrements, so look at the workers in between.
            const auto slice = std::min<clock::duration>(std::chrono::milliseconds(50),
                                                         std::max(deadline - clock::now(), clock::duration{}));
            left = wait_while(c.remaining, left, {.sleepers = &c.parent_sleepers, .timeout = slice});
            if (left == 0) break;
            if (auto e = starter_.wait_any(std::chrono::milliseconds(0)))
                return failed{first_ + static_cast<unsigned>(e->index), e->status, std::move(e->lost)};
            if (clock::now() >= deadline) {
                const std::uint32_t g = c.generation.load(std::memory_order_relaxed);
                unsigned hung = first_;
                while (hung + 1 < workers_ && block_.slot(hung)->done.load(std::memory_order_acquire) == g) ++hung;
                return failed{hung, -1, {}};
            }
            left = c.remaining.load(std::memory_order_acquire);
        }
        return std::nullopt;
    }

    // Kills and reaps every worker (after a failure: one may be stuck, holding the shared state).
    void kill() noexcept { starter_.kill_all(); }
    // Starts fresh workers after kill().
    void start() {
        control& c = ctl();
        c.stopping.store(0);
        c.worker_sleepers.store(0);  // a killed worker may have died parked
        c.parent_sleepers.store(0);
        c.remaining.store(0);
        const std::uint32_t g = c.generation.load();
        try {
            for (unsigned i = first_; i < workers_; ++i) {
                block_.slot(i)->done.store(g);
                starter_.start(block_, map_.fd(), i);
            }
            starter_.started();
        } catch (...) {
            starter_.kill_all();
            throw;
        }
    }

    // The process that runs worker i: this one for a chunk the parent runs, else a worker process.
    [[nodiscard]] pid_t pid(unsigned i) const noexcept { return i < first_ ? ::getpid() : starter_.pid(i - first_); }

private:
    using control = pool_block::control;
    using worker_slot = pool_block::worker_slot;

    control& ctl() const noexcept { return block_.ctl(); }

    void stop() noexcept {
        control& c = ctl();
        c.stopping.store(1, std::memory_order_release);
        c.generation.fetch_add(1, std::memory_order_seq_cst);
        wake_waiters(c.generation);
        starter_.stop(std::chrono::seconds(1));
    }

    unsigned workers_;
    unsigned first_;  // chunks [0, first_) run in the parent
    memfd_mapping map_;
    pool_block block_;
    Starter starter_;
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
        std::strncpy(message, current_exception_message(), pool_block::message_capacity - 1);
        message[pool_block::message_capacity - 1] = '\0';
        return false;
    }
}

// Registers K's invoke_chunk for pool workers that are not forks; name it where a pool's run<K> is instantiated.
template <kernel K>
inline const bool pool_kernel_registered = registered<K, pool_invoke_fn, &invoke_chunk<K>>;

}  // namespace parbench::detail
