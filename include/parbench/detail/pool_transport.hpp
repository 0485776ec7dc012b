#pragma once
// The process pool's transport, the parent's side of the control block (pool_block.hpp): dispatch a run to every
// worker, wait for all of them, read each result. A worker that dies or hangs is found while the parent waits;
// the parent then kills and restarts all of them.
//
// Only how a worker process starts differs between the pools (a Starter, detail/pool_start.hpp): a fork of the
// caller, this program started afresh (spawn), or a fork of the fork server.

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

#include "pool_block.hpp"
#include "shm.hpp"
#include "spin.hpp"
#include "wait.hpp"

namespace parbench::detail {

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
    // Worker i's result, for a worker the parent does not run (i >= in_parent): nullptr if it ran no chunk (a
    // dynamic run may leave a worker none).
    [[nodiscard]] const void* result(unsigned i) const noexcept {
        const worker_slot* s = block_.slot(i);
        return s->ran ? s->result : nullptr;
    }
    // The message of the exception worker i's kernel threw in the last run, or nullopt if it did not throw.
    [[nodiscard]] std::optional<std::string> error(unsigned i) const {
        const worker_slot* s = block_.slot(i);
        if (s->ok) return std::nullopt;
        return std::string(s->message, strnlen(s->message, message_capacity));
    }

    // Starts fn over [0, n) on every worker; the kernel (and any state) must already be in place. `key` names
    // fn for workers that are not forks (registered<K, pool_invoke_fn, fn>); it must outlive the pool (a type
    // name does). `chunks` 0: worker i runs chunk i of W (static); else [0, n) is cut into `chunks` chunks that
    // the workers take from a shared counter (dynamic). The parent then runs its own share (run_in_parent) and
    // waits.
    void dispatch(pool_invoke_fn fn, std::string_view key, std::uint64_t n, std::uint64_t chunks = 0) noexcept {
        control& c = ctl();
        if (c.invoke != fn) {
            c.invoke = fn;
            const std::size_t len = std::min(key.size(), key_capacity - 1);
            std::memcpy(c.key, key.data(), len);
            c.key[len] = '\0';
            ++c.invoke_version;
        }
        c.n = n;
        c.chunks = chunks;
        c.next.store(0, std::memory_order_relaxed);  // published by the generation's bump below
        c.parent_cpu.store(current_cpu(), std::memory_order_relaxed);
        c.remaining.store(workers_ - first_, std::memory_order_relaxed);
        c.generation.fetch_add(1, std::memory_order_seq_cst);
        wake_waiters(c.generation, &c.worker_sleepers);
    }
    // Runs worker i's share (i < in_parent) in this process, as a worker would; false if the kernel threw. `ran`
    // says whether `result` holds a result. `data`: a payload kernel's data area, or nullptr to run on the
    // caller's own arrays.
    bool run_in_parent(unsigned i, void* result, bool& ran, char* message, void* data = nullptr) noexcept {
        return block_.run_share(ctl().invoke, i, result, ran, message, data);
    }

    // The data area that ships a payload kernel's data, at least `bytes` long: a memfd the workers open through
    // /proc, replaced by a larger one (at least twice the size) when a run needs more. It keeps the pages the
    // largest run touched until the pool goes.
    [[nodiscard]] void* data_area(std::size_t bytes) {
        if (!data_ || data_->size() < bytes) {
            const std::size_t size = std::max(bytes, data_ ? 2 * data_->size() : bytes);
            data_.reset();
            data_.emplace(size);
            control& c = ctl();
            c.data_pid = static_cast<std::int32_t>(::getpid());
            c.data_fd = data_->fd();
            ++c.data_version;  // published to the workers by dispatch's generation bump
        }
        return data_->data();
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
    std::optional<memfd_mapping> data_;
    pool_block block_;
    Starter starter_;
    std::chrono::nanoseconds parent_spin_{};
};

}  // namespace parbench::detail
