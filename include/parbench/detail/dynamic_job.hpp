#pragma once
// Dynamic scheduling for the in-process strategies (thread_pool.dynamic, openmp.dynamic, tbb): [0, n) is cut into
// more chunks than workers, and each worker takes the next chunk from a shared counter until none is left, so
// that a worker whose chunks were cheap takes more of them (tbb's partitioner cuts and hands out ranges itself).
// fork_join (fork_join.hpp) gives each worker one fixed chunk instead.

#include <atomic>
#include <cstdint>
#include <exception>

#include "../chunk.hpp"
#include "../kernel.hpp"
#include "fork_join.hpp"

namespace parbench::detail {

// A worker's running result: `has` is false until it ran a chunk (a worker may run none).
template <class R>
struct maybe_result {
    R value{};
    bool has = false;
};

// What every worker of a dynamic run reads: the kernel, the chunks, the shared counter and where results go.
template <kernel K>
struct alignas(cache_line) dynamic_job {
    using result = typename K::result;
    K kernel;
    std::uint64_t n;
    std::uint64_t chunks;
    typename slot_array<maybe_result<result>>::raw* slots;
    state_t<K>* state;
    first_error* errors;
    std::atomic<std::uint64_t>* next;

    // Adds chunk c's result to worker w's slot. Only w's thread calls it for w.
    void run_into(unsigned w, std::uint64_t c) const noexcept { run_range_into(w, chunk_of(n, chunks, c)); }
    // The same for any range of [0, n), for a scheduler that cuts the range itself (tbb's partitioner).
    void run_range_into(unsigned w, chunk range) const noexcept {
        try {
            const result r = run_chunk(kernel, range, *state);
            maybe_result<result> mine = slots[w].get();
            mine.value = mine.has ? K::combine(mine.value, r) : r;
            mine.has = true;
            slots[w].set(mine);
        } catch (...) {
            errors->capture(w, std::current_exception());
        }
    }
    // Worker w's part: the next chunk while any is left.
    void operator()(unsigned w) const noexcept {
        for (std::uint64_t c; (c = next->fetch_add(1, std::memory_order_relaxed)) < chunks;) run_into(w, c);
    }
};

// The chunk count for `per_worker` chunks per worker: never more than n, never fewer than one.
[[nodiscard]] constexpr std::uint64_t dynamic_chunks(std::uint64_t n, unsigned workers, unsigned per_worker) noexcept {
    const std::uint64_t want = std::uint64_t{workers} * per_worker;
    return n == 0 ? 1 : (want < n ? want : n);
}

// One dynamic run of kernel k over [0, n) in `chunks` chunks on `workers` workers: launch(job) must call job(w)
// for every w in [0, workers) (or job.run_into(w, c) for every chunk c, w being the calling worker) and return
// once all calls returned. As fork_join: the slots, the shared state, the first error and the combine.
template <kernel K, class Launch>
typename K::result dynamic_fork_join(const K& k, std::uint64_t n, unsigned workers, std::uint64_t chunks,
                                     Launch&& launch) {
    using result = typename K::result;
    check_workers(workers);
    slot_array<maybe_result<result>> slots(workers);
    for (unsigned w = 0; w < workers; ++w) slots.data()[w].set({});
    state_t<K> state{};
    first_error errors;
    alignas(cache_line) std::atomic<std::uint64_t> next{0};
    const dynamic_job<K> job{k, n, chunks, slots.data(), &state, &errors, &next};
    launch(job);
    errors.rethrow_if_any(workers);
    maybe_result<result> total{};
    for (unsigned w = 0; w < workers; ++w) {
        const maybe_result<result> r = slots.data()[w].get();
        if (!r.has) continue;
        total.value = total.has ? K::combine(total.value, r.value) : r.value;
        total.has = true;
    }
    return finish(k, state, total.value);
}

}  // namespace parbench::detail
