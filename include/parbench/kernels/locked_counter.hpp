#pragma once
// locked_counter: n increments of one shared counter (seed 000 in docs/seeds.md), with the lock placed four ways:
//   coarse  - one lock held for the whole chunk, as the seed does (workers serialise completely);
//   fine    - the lock taken and released around every increment;
//   atomic  - one lock-free fetch_add per increment, no lock;
//   sharded - a private count per worker, added to the shared counter once.
// The shared state is built to live in a MAP_SHARED mapping as well as on the heap: a robust process-shared
// mutex and lock-free atomics.

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string_view>

#include "../blocking.hpp"
#include "../chunk.hpp"
#include "../detail/robust_mutex.hpp"
#include "../keep.hpp"

namespace parbench::kernels {

enum class lock_placement { coarse, fine, atomic, sharded };

struct locked_counter_state {
    detail::robust_mutex mutex;
    std::uint64_t locked_count = 0;              // guarded by mutex
    std::atomic<std::uint64_t> atomic_count{0};  // lock-free
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
                  "the counter must be lock-free to be shared between processes");
};

template <lock_placement P>
struct locked_counter {
    using result = std::uint64_t;
    using shared_state = locked_counter_state;
    static constexpr std::string_view name = P == lock_placement::coarse   ? "locked_counter.coarse"
                                             : P == lock_placement::fine   ? "locked_counter.fine"
                                             : P == lock_placement::atomic ? "locked_counter.atomic"
                                                                           : "locked_counter.sharded";

    // Increments the shared counter once per element; the per-chunk result is unused (0).
    result run(chunk c, shared_state& s) const {
        // Under an interpreter lock the loops check the eval breaker between slices, and a contended lock is
        // waited for with the interpreter lock released (lock_blocking), as CPython's Lock.acquire does.
        if constexpr (P == lock_placement::coarse) {
            lock_blocking(s.mutex);
            std::lock_guard lock(s.mutex, std::adopt_lock);
            in_slices(c, [&](chunk part) {
                for (std::uint64_t i = part.begin; i < part.end; ++i) {
                    keep(s.locked_count);
                    ++s.locked_count;
                }
            });
        } else if constexpr (P == lock_placement::fine) {
            in_slices(c, [&](chunk part) {
                for (std::uint64_t i = part.begin; i < part.end; ++i) {
                    lock_blocking(s.mutex);
                    std::lock_guard lock(s.mutex, std::adopt_lock);
                    ++s.locked_count;
                }
            });
        } else if constexpr (P == lock_placement::atomic) {
            in_slices(c, [&](chunk part) {
                for (std::uint64_t i = part.begin; i < part.end; ++i)
                    s.atomic_count.fetch_add(1, std::memory_order_relaxed);
            });
        } else {
            std::uint64_t mine = 0;
            in_slices(c, [&](chunk part) {
                for (std::uint64_t i = part.begin; i < part.end; ++i) {
                    keep(mine);
                    ++mine;
                }
            });
            s.atomic_count.fetch_add(mine, std::memory_order_relaxed);
        }
        return 0;
    }
    [[nodiscard]] static constexpr result combine(result a, result b) noexcept { return a + b; }
    // Called after every worker has finished (a happens-before edge the strategy provides).
    [[nodiscard]] result finish(shared_state& s, result combined) const {
        std::lock_guard lock(s.mutex);
        return combined + s.locked_count + s.atomic_count.load(std::memory_order_relaxed);
    }
    [[nodiscard]] constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

using locked_counter_coarse = locked_counter<lock_placement::coarse>;
using locked_counter_fine = locked_counter<lock_placement::fine>;
using locked_counter_atomic = locked_counter<lock_placement::atomic>;
using locked_counter_sharded = locked_counter<lock_placement::sharded>;

}  // namespace parbench::kernels
