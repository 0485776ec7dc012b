#pragma once
// What every in-process strategy does around its workers: one result slot per worker, and the first failure
// kept (as Taskflow's executor does) to be raised in the caller as a worker_error.

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <cstddef>
#include <vector>

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

// The result slots of one run: inline for the usual few workers, so a pool's run allocates nothing; on the
// heap past that.
template <class R>
class slot_array {
public:
    static constexpr unsigned inline_slots = 8;
    explicit slot_array(unsigned n) {
        if (n > inline_slots) {
            heap_ = std::make_unique<padded<R>[]>(n);
            slots_ = heap_.get();
        }
    }
    slot_array(const slot_array&) = delete;
    slot_array& operator=(const slot_array&) = delete;
    R& operator[](unsigned i) noexcept { return slots_[i].value; }

private:
    padded<R> inline_[inline_slots]{};
    std::unique_ptr<padded<R>[]> heap_;
    padded<R>* slots_ = inline_;
};

// One fork-join run of kernel k over [0, n) cut into `workers` chunks. A strategy supplies how the chunks are
// started (launch(body) must call body(i) exactly once for each i in [0, workers) and return once all calls
// returned); this does the slots, the shared state, the errors and the combine.
template <kernel K, class Launch>
typename K::result fork_join(const K& k, std::uint64_t n, unsigned workers, Launch&& launch) {
    using result = typename K::result;
    check_workers(workers);
    slot_array<result> slots(workers);
    state_t<K> state{};  // small (a counter and its lock); on the stack, so a run allocates nothing
    first_error errors;
    launch([&](unsigned i) noexcept {
        try {
            slots[i] = run_chunk(k, chunk_of(n, workers, i), state);
        } catch (...) {
            errors.capture(i, std::current_exception());
        }
    });
    errors.rethrow_if_any(workers);
    result total = slots[0];
    for (unsigned i = 1; i < workers; ++i) total = K::combine(total, slots[i]);
    return finish(k, state, total);
}

}  // namespace parbench::detail
