#pragma once
// What every in-process strategy does around its workers: one result slot per worker, and the first failure
// kept (as Taskflow's executor does) to be raised in the caller as a worker_error.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <type_traits>

#include "../chunk.hpp"
#include "../error.hpp"
#include "../kernel.hpp"

namespace parbench::detail {

// Keeps the first exception thrown by any worker. Safe to call from many threads.
class first_error {
public:
    void capture(unsigned worker, std::exception_ptr e) noexcept {
        bool expected = false;
        if (claimed_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
            worker_ = worker;
            error_ = std::move(e);
        }
    }
    // Call after all workers have been joined.
    void rethrow_if_any(unsigned workers) const {
        if (!claimed_.load(std::memory_order_acquire)) return;
        throw worker_error(worker_, workers, failure::exception, describe(error_));
    }

private:
    std::atomic<bool> claimed_{false};
    unsigned worker_ = 0;
    std::exception_ptr error_;
};

// Fixed rather than std::hardware_destructive_interference_size, whose value GCC warns may change between
// compiler versions; 64 bytes is the line size of every x86-64 and most AArch64 parts.
inline constexpr std::size_t cache_line = 64;

// A result slot on its own cache line, so workers writing neighbouring results do not share one.
template <class R>
struct alignas(cache_line) padded {
    R value{};
};

// The result slots of one run, one cache line each: inline for the usual few workers, so a pool's run allocates
// nothing; on the heap past that. Left uninitialised: every worker writes its own slot before the caller reads
// any, and zeroing them would pull each worker's line back to the caller first, a transfer per worker per run.
template <class R>
class slot_array {
public:
    static constexpr unsigned inline_slots = 8;
    explicit slot_array(unsigned n) {
        if (n > inline_slots) {
            heap_ = std::make_unique_for_overwrite<raw[]>(n);
            slots_ = heap_.get();
        }
    }
    slot_array(const slot_array&) = delete;
    slot_array& operator=(const slot_array&) = delete;

    static_assert(std::is_trivially_copyable_v<R>);
    struct alignas(cache_line) raw {
        alignas(R) std::byte bytes[sizeof(R)];
        void set(const R& r) noexcept { ::new (bytes) R(r); }
        // Only after set(): R is trivially copyable, so the bytes set() wrote are the object.
        [[nodiscard]] R get() const noexcept { return *std::launder(reinterpret_cast<const R*>(bytes)); }
    };
    [[nodiscard]] raw* data() noexcept { return slots_; }

private:
    raw inline_[inline_slots];
    std::unique_ptr<raw[]> heap_;
    raw* slots_ = inline_;
};

// What every worker of a run reads, on lines of its own, and what the strategies call (the pools keep a pointer
// to it): the kernel, the range, where results and errors go. If it were a lambda capturing the caller's locals
// by reference, each worker would chase pointers into lines the caller writes during the run, a dependent
// cache-line transfer per read (docs/thread_pool.md has what this struct, and thread_pool's copy of it, saved).
template <kernel K>
struct alignas(cache_line) chunk_job {
    using result = typename K::result;
    K kernel;
    std::uint64_t n;
    unsigned workers;
    typename slot_array<result>::raw* slots;  // the slots themselves: one pointer to chase, not two
    state_t<K>* state;
    first_error* errors;

    void operator()(unsigned i) const noexcept {
        try {
            slots[i].set(run_chunk(kernel, chunk_of(n, workers, i), *state));
        } catch (...) {
            errors->capture(i, std::current_exception());
        }
    }
};

// One fork-join run of kernel k over [0, n) cut into `workers` chunks. A strategy supplies how the chunks are
// started (launch(job) must call job(i) exactly once for each i in [0, workers) and return once all calls
// returned); this does the slots, the shared state, the errors and the combine.
template <kernel K, class Launch>
typename K::result fork_join(const K& k, std::uint64_t n, unsigned workers, Launch&& launch) {
    using result = typename K::result;
    check_workers(workers);
    slot_array<result> slots(workers);
    state_t<K> state{};  // small (a counter and its lock); on the stack, so a run allocates nothing
    first_error errors;
    chunk_job<K> job{k, n, workers, slots.data(), &state, &errors};
    launch(job);
    errors.rethrow_if_any(workers);
    result total = job.slots[0].get();
    for (unsigned i = 1; i < workers; ++i) total = K::combine(total, job.slots[i].get());
    return finish(k, state, total);
}

}  // namespace parbench::detail
